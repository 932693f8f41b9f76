"""A classic-pcap record walk with a filter test inlined: records the filter drops are never sliced.

Why: a filtered read of a large capture spends most of its time in the per-record loop; the filter's
window form (rawkit.filter.window: one expression over fields read by the same struct unpack as the
record header) makes a rejected record cost one unpack and a few comparisons. The reader runs the
returned generator (`off = yield from scan(buf, off, end)`) over the records wholly in its buffer and
takes over, record by record, where it stops: at the end of the buffer (or too near it to fetch the
fused fields), or at a record longer than the snap length.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Generator
from typing import Any, Protocol

Scanner = Callable[[Any, int, int], Generator[tuple[bytes, int, int, int], None, int]]


class WindowTest(Protocol):
    """What rawkit.filter's Window provides (the pcap layer imports nothing above it)."""

    fields: tuple[tuple[int, str], ...]
    expression: str
    namespace: dict
    need: int
    uses_wirelen: bool
    rejects: tuple[type[BaseException], ...]


def pcap_scanner(test: WindowTest, match: Callable[[bytes, int], bool], byte_order: str, snapshot: int,
                 linktype: int, nanosecond: bool) -> Scanner:
    """The walk for records of one pcap file: yields (data, linktype, ts_ns, wirelen) of each record
    the test selects (`match` decides records shorter than `test.need`), returns where it stopped."""
    layout = ["8xII" if test.uses_wirelen else "8xI"]
    position = 16 if test.uses_wirelen else 12
    for offset, code in test.fields:
        gap = 16 + offset - position
        layout.append(f"{gap}x{code}" if gap else code)
        position = 16 + offset + struct.calcsize(code)
    names = ["c", "n"] if test.uses_wirelen else ["c"]
    names += [f"f{index}" for index in range(len(test.fields))]
    wirelen = "n" if test.uses_wirelen else "_WIRELEN(b, off + 12)[0]"
    source = f"""
def scan(b, off, end):
    try:
        while True:
            {", ".join(names)}, = _FIELDS(b, off)
            s = off + 16
            t = s + c
            if t > end or c > {snapshot}:
                return off
            if c >= {test.need}:
                try:
                    if not {test.expression}:
                        off = t
                        continue
                except _REJECTS:
                    off = t
                    continue
            elif not _match(b[s:t], {wirelen}):
                off = t
                continue
            sec, frac, _, n = _HEADER(b, off)
            off = t
            yield b[s:t], {linktype}, sec * 1_000_000_000 + frac * {1 if nanosecond else 1000}, n
    except _STRUCT_ERROR:
        return off
"""
    namespace = dict(test.namespace)
    namespace.update(_FIELDS=struct.Struct(byte_order + "".join(layout)).unpack_from,
                     _HEADER=struct.Struct(byte_order + "IIII").unpack_from,
                     _WIRELEN=struct.Struct(byte_order + "I").unpack_from,
                     _REJECTS=test.rejects, _STRUCT_ERROR=struct.error, _match=match)
    exec(compile(source, "<rawkit pcap scan>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["scan"]

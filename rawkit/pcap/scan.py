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


Skipper = Callable[[Any, int, int, list, str], int]


def pcapng_skipper(tests: dict[str, WindowTest], match: Callable[[bytes, int], bool],
                   linktype: int) -> Skipper:
    """For pcapng: `skip(buf, off, end, interfaces, order)` passes over the enhanced packet blocks the
    test drops and returns the offset of the first block it does not drop, which the reader then reads
    as usual (a selected packet, another kind of block, anything unusual or damaged, the end). It drops
    only blocks of interface 0 of a section whose link type is `linktype`; `tests` holds the test for
    each byte order ("<", ">") a section may have."""
    skips = {order: _pcapng_skip(test, match, order, linktype) for order, test in tests.items()}

    def skip(buf: Any, off: int, end: int, interfaces: list, order: str) -> int:
        return skips[order](buf, off, end, interfaces)

    return skip


def _pcapng_skip(test: WindowTest, match: Callable[[bytes, int], bool], byte_order: str,
                 linktype: int) -> Callable[[Any, int, int, list], int]:
    layout = ["IIIxxxxxxxxII"]
    position = 28
    for offset, code in test.fields:
        gap = 28 + offset - position
        layout.append(f"{gap}x{code}" if gap else code)
        position = 28 + offset + struct.calcsize(code)
    names = ["kind", "size", "interface", "c", "n"] + [f"f{index}" for index in range(len(test.fields))]
    source = f"""
def skip(b, off, end, interfaces):
    if not interfaces or interfaces[0][0] != {linktype}:
        return off
    snapshot = interfaces[0][5]
    try:
        while True:
            {", ".join(names)}, = _FIELDS(b, off)
            t = off + size
            if (kind != 6 or interface or t > end or size & 3 or c > size - 32 or c > snapshot
                    or _WORD(b, t - 4)[0] != size):
                return off
            s = off + 28
            if c >= {test.need}:
                try:
                    if {test.expression}:
                        return off
                except _REJECTS:
                    pass
            elif _match(b[s:s + c], n):
                return off
            off = t
    except _STRUCT_ERROR:
        return off
"""
    namespace = dict(test.namespace)
    namespace.update(_FIELDS=struct.Struct(byte_order + "".join(layout)).unpack_from,
                     _WORD=struct.Struct(byte_order + "I").unpack_from,
                     _REJECTS=test.rejects, _STRUCT_ERROR=struct.error, _match=match)
    exec(compile(source, "<rawkit pcapng skip>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["skip"]

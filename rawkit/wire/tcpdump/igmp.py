"""IGMP (RFC 1112, 2236, 3376) as tcpdump prints it: queries v1/v2/v3, reports, leaves."""

from __future__ import annotations

from socket import inet_ntoa
from typing import TYPE_CHECKING

from rawkit.wire.checksum import ones_sum

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

_RECORD_TYPES = {1: "is_in", 2: "is_ex", 3: "to_in", 4: "to_ex", 5: "allow", 6: "block"}


def igmp(p: Printer, data: bytes, off: int, length: int) -> str:
    """The part after 'IP a > b: '; `length` is the IGMP message length by the IP header."""
    if p.quiet:
        return "igmp"
    end = min(off + length, len(data))
    if end - off < 8:
        return " [|igmp]"
    kind, code = data[off], data[off + 1]
    group = data[off + 4 : off + 8]
    if kind == 0x11:
        text = _query(p, data, off, end, length, code, group)
    elif kind == 0x12:
        text = f"igmp v1 report {inet_ntoa(group)}"
    elif kind == 0x16:
        text = f"igmp v2 report {inet_ntoa(group)}"
    elif kind == 0x17:
        text = f"igmp leave {inet_ntoa(group)}"
    elif kind == 0x22:
        records = data[off + 6] << 8 | data[off + 7]
        text = f"igmp v3 report, {records} group record(s)"
        if p.verbose:
            text += _records(p, data, off + 8, records, end)
    elif kind == 0x13:
        text = f"igmp dvmrp [type {code}]"
    else:
        text = f"igmp-{kind}"
    if p.verbose and off + length <= len(data) and ones_sum(data[off : off + length]) != 0xFFFF:
        text += f" bad igmp cksum {data[off + 2] << 8 | data[off + 3]:x}!"
    return text


def _query(p: Printer, data: bytes, off: int, end: int, length: int, code: int, group: bytes) -> str:
    has_group = any(group)
    if length == 8:
        if code == 0:
            return "igmp query v1" + (f" [gaddr {inet_ntoa(group)}]" if has_group else "")
        text = "igmp query v2" + (f" [max resp time {code}]" if code != 100 else "")
        return text + (f" [gaddr {inet_ntoa(group)}]" if has_group else "")
    text = "igmp query v3" + (f" [max resp time {_v3_time(code)}]" if code != 100 else "")
    if not has_group:
        return text
    if end - off < 12:
        return text + " [|igmp]"
    sources = data[off + 10] << 8 | data[off + 11]
    text += f" [gaddr {inet_ntoa(group)}"
    if not sources:
        return text + "]"
    if p.verbose > 1:
        starts = range(off + 12, off + 12 + 4 * sources, 4)
        listed = "".join(f"{inet_ntoa(data[at : at + 4])} " for at in starts if at + 4 <= end)
        return text + f" {{ {listed}}}]"
    return text + f", {sources} source(s)]"


def _v3_time(code: int) -> str:
    """RFC 3376 4.1.1: codes from 128 are a floating-point number of tenths of a second."""
    tenths = code if code < 128 else ((code & 0x0F) | 0x10) << (((code >> 4) & 0x07) + 3)
    if code < 128:
        return f"{tenths / 10:.1f}s"
    seconds = tenths // 10
    return f"{seconds // 60}m{seconds % 60}s" if seconds >= 60 else f"{seconds}s"


def _records(p: Printer, data: bytes, at: int, count: int, end: int) -> str:
    out = []
    for _ in range(count):
        if at + 8 > end:
            return "".join(out) + " [|igmp]"
        kind, aux, sources = data[at], data[at + 1], data[at + 2] << 8 | data[at + 3]
        group = inet_ntoa(data[at + 4 : at + 8])
        mode = _RECORD_TYPES.get(kind, f"[invalid]{kind}")
        if p.verbose > 1:
            listed = "".join(f"{inet_ntoa(data[a : a + 4])} " for a in range(at + 8, at + 8 + 4 * sources, 4)
                             if a + 4 <= end)
            out.append(f" [gaddr {group} {mode} {{ {listed}}}]")
        else:
            out.append(f" [gaddr {group} {mode}, {sources} source(s)]")
        at += 8 + 4 * sources + 4 * aux
    return "".join(out)

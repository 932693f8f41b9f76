"""UDP as tcpdump prints it: ports, length checks, checksum with -v, application by port."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rawkit.wire.checksum import ones_sum
from rawkit.wire.tcpdump.apps import udp_application

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer


def udp(p: Printer, data: bytes, off: int, length: int, src: str, dst: str, pseudo: int | None,
        ipv6: bool, fragment: bool = False) -> str:
    """`src`/`dst` are the addresses followed by '.', or '' when tcpdump shows bare ports;
    `pseudo` is the pseudo-header sum (None: not checkable); a first `fragment` skips the length check."""
    caplen = len(data) - off
    if length < 4 or caplen < 4:
        return f"{src[:-1]} > {dst[:-1]}:  [|udp]"
    sport, dport = data[off] << 8 | data[off + 1], data[off + 2] << 8 | data[off + 3]
    head = f"{src}{sport} > {dst}{dport}: "
    if length < 8:
        return f"{head}truncated-udp {length}"
    if caplen < 8:
        return f"{head} [|udp]"
    udp_len = data[off + 4] << 8 | data[off + 5]
    if udp_len < 8:
        return f"{head}truncated-udplength {udp_len}"
    if udp_len > length and not fragment:
        return f"{head}UDP, bad length {udp_len - 8} > {length - 8}"
    if p.quiet:
        return f"{head}UDP, length {udp_len - 8}"
    app = udp_application(p, sport, dport, data, off + 8, udp_len - 8)
    if app is not None:
        return head + app
    if pseudo is not None and p.verbose > (0 if ipv6 else 1) and off + udp_len <= len(data):
        checksum = data[off + 6] << 8 | data[off + 7]
        if checksum or ipv6:
            total = ones_sum(data[off : off + udp_len], pseudo)
            if total == 0xFFFF:
                head += "[udp sum ok] "
            else:
                expected = ~ones_sum(data[off : off + 6] + data[off + 8 : off + udp_len], pseudo) & 0xFFFF
                head += f"[bad udp cksum 0x{checksum:04x} -> 0x{expected:04x}!] "
    return f"{head}UDP, length {udp_len - 8}"

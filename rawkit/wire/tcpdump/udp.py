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
    `pseudo` is the pseudo-header sum with a zero length (None: not checkable); a first `fragment`
    skips the length check."""
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
    if p.quiet:
        if udp_len > length and not fragment:
            return f"{head}UDP, bad length {udp_len - 8} > {length - 8}"
        return f"{head}UDP, length {udp_len - 8}"
    if pseudo is not None and p.verbose > (0 if ipv6 else 1):
        summed = udp_len if udp_len <= length else length
        if off + summed <= len(data):
            head += _checksum_text(data, off, summed, pseudo + summed, ipv6)
    if udp_len > length and not fragment:
        return f"{head}UDP, bad length {udp_len - 8} > {length - 8}"
    app = udp_application(p, sport, dport, data, off + 8, udp_len - 8)
    if app is not None:
        return head + app
    return f"{head}UDP, length {udp_len - 8}"


def _checksum_text(data: bytes, off: int, length: int, pseudo: int, ipv6: bool) -> str:
    """The checksum over `length` bytes (the UDP length, or the IP payload when that is shorter)."""
    pseudo = (pseudo & 0xFFFF) + (pseudo >> 16)
    checksum = data[off + 6] << 8 | data[off + 7]
    if not checksum and not ipv6:
        return "[no cksum] "
    if ones_sum(data[off : off + length], pseudo) == 0xFFFF:
        return "[udp sum ok] "
    expected = ~ones_sum(data[off : off + 6] + data[off + 8 : off + length], pseudo) & 0xFFFF
    return f"[bad udp cksum 0x{checksum:04x} -> 0x{expected:04x}!] "

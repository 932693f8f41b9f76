"""GRE (RFC 2784/2890) as tcpdump prints it: 'GREv0, length N: <inner packet>'."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

_PROTOCOL_NAMES = {0x0800: "IPv4", 0x86DD: "IPv6", 0x6558: "TEB", 0x0806: "ARP", 0x8847: "MPLS unicast"}
_FLAG_NAMES = ((0x8000, "checksum present"), (0x2000, "key present"), (0x1000, "sequence# present"))


def gre(p: Printer, data: bytes, off: int, length: int) -> str:
    """The part after 'IP a > b: '; `length` is the GRE packet length by the IP header."""
    if len(data) - off < 4:
        return " [|gre]"
    flags = data[off] << 8 | data[off + 1]
    protocol = data[off + 2] << 8 | data[off + 3]
    version = flags & 7
    header = 4 + 4 * sum(1 for bit, _ in _FLAG_NAMES if flags & bit)
    text = f"GREv{version}"
    if p.verbose:
        text += f", Flags [{', '.join(name for bit, name in _FLAG_NAMES if flags & bit) or 'none'}]"
    if p.link_headers:
        text += f", proto {_PROTOCOL_NAMES.get(protocol, 'unknown')} (0x{protocol:04x})"
    text += f", length {length}"
    text += "\n\t" if p.verbose else ": "
    inner = off + header
    if len(data) < inner:
        return text + " [|gre]"
    if protocol == 0x0800:
        from rawkit.wire.tcpdump.ipv4 import ipv4

        return text + ipv4(p, data, inner, length - header)
    if protocol == 0x86DD:
        from rawkit.wire.tcpdump.ipv6 import ipv6

        return text + ipv6(p, data, inner, length - header)
    return text + f"gre-proto-0x{protocol:x}"

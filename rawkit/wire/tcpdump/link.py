"""Link layers as tcpdump prints them: Ethernet (-e: MACs, EtherType, length), 802.1Q/QinQ tags,
Linux cooked SLL/SLL2 (direction, interface), BSD NULL/LOOP and raw IP."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from rawkit.wire.tcpdump.arp import arp
from rawkit.wire.tcpdump.hexdump import undecoded
from rawkit.wire.tcpdump.ipv4 import ipv4
from rawkit.wire.tcpdump.ipv6 import ipv6

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

ETHERTYPE_NAMES = {0x0800: "IPv4", 0x0806: "ARP", 0x86DD: "IPv6", 0x8100: "802.1Q", 0x88A8: "802.1Q-QinQ",
                   0x9100: "802.1Q-9100", 0x8035: "Reverse ARP", 0x88CC: "LLDP", 0x8863: "PPPoE D",
                   0x8864: "PPPoE S", 0x8847: "MPLS unicast", 0x8848: "MPLS multicast", 0x888E: "EAPOL",
                   0x88F7: "PTP", 0x8809: "Slow Protocols", 0x9000: "Loopback", 0x88E5: "MACsec"}
_VLAN_TYPES = frozenset((0x8100, 0x88A8, 0x9100))
_DIRECTIONS = (" In", "  B", "  M", "  P", "Out")
_SLL2_DIRECTIONS = ("In ", "B  ", "M  ", "P  ", "Out")
_AF_NAMES = {2: "IPv4", 24: "IPv6", 28: "IPv6", 30: "IPv6", 7: "ISO"}
_interface_names: dict[int, str] = {}


def _network(p: Printer, data: bytes, off: int, length: int, ethertype: int) -> str | None:
    """The network-layer text with tcpdump's label ('IP ', 'IP6 ', 'ARP, '), or None if unknown."""
    if ethertype == 0x0800:
        return ipv4(p, data, off, length)
    if ethertype == 0x86DD:
        return ipv6(p, data, off, length)
    if ethertype == 0x0806 or ethertype == 0x8035:
        return arp(p, data, off, length)
    if ethertype == 0x88CC:
        return f"LLDP, length {length}"
    return None


def ethernet(p: Printer, data: bytes, wirelen: int) -> str:
    caplen = len(data)
    if caplen < 14:
        return " [|ether]"
    ethertype = data[12] << 8 | data[13]
    macs = f"{data[6:12].hex(':')} > {data[0:6].hex(':')}"
    off = 14
    tags = ""
    while ethertype in _VLAN_TYPES:
        if caplen < off + 4:
            name = ETHERTYPE_NAMES[ethertype]
            return f"{macs}, ethertype {name} (0x{ethertype:04x}), length {wirelen}: [|vlan]"
        tci = data[off] << 8 | data[off + 1]
        inner = data[off + 2] << 8 | data[off + 3]
        dei = ", DEI" if tci & 0x1000 else ""
        tags += (f"vlan {tci & 0xFFF}, p {tci >> 13}{dei}, "
                 f"ethertype {ETHERTYPE_NAMES.get(inner, 'Unknown')} (0x{inner:04x}), ")
        ethertype = inner
        off += 4
    p.network_offset = off
    if ethertype < 0x600:
        return _llc(p, data, off, wirelen, macs, ethertype)
    text = _network(p, data, off, wirelen - off, ethertype)
    outer = data[12] << 8 | data[13]
    if text is None:
        if p.link_headers:
            name = ETHERTYPE_NAMES.get(outer, "Unknown")
            head = f"{macs}, ethertype {name} (0x{outer:04x}), length {wirelen}: "
            return head + tags + undecoded(p.hex, data[off:])
        return (f"{macs}, ethertype {ETHERTYPE_NAMES.get(ethertype, 'Unknown')} (0x{ethertype:04x}), "
                f"length {wirelen}: " + undecoded(p.hex, data[off:]))
    if not p.link_headers:
        return text
    head = f"{macs}, ethertype {ETHERTYPE_NAMES.get(outer, 'Unknown')} (0x{outer:04x}), length {wirelen}: "
    return head + tags + text


def cooked(p: Printer, data: bytes, wirelen: int, version: int) -> str:
    """Linux SLL (16-byte header) and SLL2 (20 bytes, with the interface index)."""
    size = 16 if version == 1 else 20
    if len(data) < size:
        return " [|sll]" if version == 1 else " [|sll2]"
    if version == 1:
        pkttype, halen, protocol = data[0] << 8 | data[1], data[4] << 8 | data[5], data[14] << 8 | data[15]
        address = data[6 : 6 + min(halen, 8)].hex(":")
        prefix = ""
    else:
        protocol, pkttype, halen = data[0] << 8 | data[1], data[10], data[11]
        ifindex = int.from_bytes(data[4:8], "big")
        address = data[12 : 12 + min(halen, 8)].hex(":")
        prefix = f"{interface_name(ifindex):<5} {_SLL2_DIRECTIONS[pkttype] if pkttype < 5 else pkttype} "
    text = _network(p, data, size, wirelen - size, protocol)
    if text is None:
        text = f"ethertype Unknown (0x{protocol:04x}), length {wirelen}: " + undecoded(p.hex, data[size:])
        return prefix + text
    if not p.link_headers:
        return prefix + text
    direction = _DIRECTIONS[pkttype] if pkttype < 5 else f"{pkttype:>3}"
    if version == 1:
        head = f"{direction} {address} "
    else:
        head = f"{prefix}ifindex {ifindex} {address} "
    name = ETHERTYPE_NAMES.get(protocol, "Unknown")
    return f"{head}ethertype {name} (0x{protocol:04x}), length {wirelen}: " + text


def interface_name(ifindex: int) -> str:
    """The name of interface `ifindex` on this host, as tcpdump shows for SLL2 ('?' if none)."""
    name = _interface_names.get(ifindex)
    if name is None:
        try:
            name = socket.if_indextoname(ifindex)
        except (OSError, OverflowError):
            name = "?"
        _interface_names[ifindex] = name
    return name


def loopback(p: Printer, data: bytes, wirelen: int, network_order: bool) -> str:
    if len(data) < 4:
        return " [|null]"
    family = int.from_bytes(data[:4], "big" if network_order else "little")
    if not network_order and family > 0xFFFF:
        family = int.from_bytes(data[:4], "big")
    name = _AF_NAMES.get(family, "Unknown")
    head = f"AF {name} ({family}), length {wirelen}: "
    if name == "IPv4":
        text = ipv4(p, data, 4, wirelen - 4)
    elif name == "IPv6":
        text = ipv6(p, data, 4, wirelen - 4)
    else:
        return head + undecoded(p.hex, data[4:])
    return head + text if p.link_headers else text


def raw_ip(p: Printer, data: bytes, wirelen: int) -> str:
    if not data:
        return " [|ip]"
    version = data[0] >> 4
    text = ipv6(p, data, 0, wirelen) if version == 6 else ipv4(p, data, 0, wirelen)
    return "ip: " + text if p.link_headers else text


def _llc(p: Printer, data: bytes, off: int, wirelen: int, macs: str, size: int) -> str:
    """An 802.3 frame: only LLC/SNAP carrying an EtherType is decoded further."""
    head = f"{macs}, 802.3, length {size}: " if p.link_headers else ""
    if data[off : off + 3] != b"\xaa\xaa\x03" or len(data) < off + 8:
        return f"{macs}, 802.3, length {size}: " + undecoded(p.hex, data[off:])
    oui = int.from_bytes(data[off + 3 : off + 6], "big")
    p.network_offset = off + 8
    ethertype = data[off + 6] << 8 | data[off + 7]
    text = _network(p, data, off + 8, wirelen - off - 8, ethertype) if oui == 0 else None
    if text is None:
        return f"{macs}, 802.3, length {size}: " + undecoded(p.hex, data[off:])
    if not p.link_headers:
        return text
    return (f"{head}LLC, dsap SNAP (0xaa) Individual, ssap SNAP (0xaa) Command, ctrl 0x03: "
            f"oui Ethernet (0x{oui:06x}), ethertype {ETHERTYPE_NAMES.get(ethertype, 'Unknown')} "
            f"(0x{ethertype:04x}), length {size - 8}: " + text)

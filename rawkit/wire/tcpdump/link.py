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


def _type_text(ethertype: int) -> str:
    return f"ethertype {ETHERTYPE_NAMES.get(ethertype, 'Unknown')} (0x{ethertype:04x})"


def _vlan_tags(data: bytes, off: int, ethertype: int, first: str) -> tuple[str, int, int, bool]:
    """Walk 802.1Q/QinQ tags from `off`: (tcpdump -e text, next offset, inner EtherType, complete).
    `first` is the text after the outer EtherType ('', or ', length N: '). tcpdump checks that a
    whole tag is captured before it names the EtherType announcing it."""
    text = ""
    while ethertype in _VLAN_TYPES:
        if len(data) < off + 4:
            return text, off, ethertype, False
        tci = data[off] << 8 | data[off + 1]
        dei = ", DEI" if tci & 0x1000 else ""
        text += f"{_type_text(ethertype)}{first}vlan {tci & 0xFFF}, p {tci >> 13}{dei}, "
        first = ", "
        ethertype = data[off + 2] << 8 | data[off + 3]
        off += 4
    return text, off, ethertype, True


def ethernet(p: Printer, data: bytes, wirelen: int) -> str:
    if len(data) < 14:
        return " [|ether]"
    outer = data[12] << 8 | data[13]
    if not p.link_headers:  # the usual case, first: no MAC addresses to format
        p.network_offset = 14
        if outer == 0x0800:
            return ipv4(p, data, 14, wirelen - 14)
        if outer == 0x86DD:
            return ipv6(p, data, 14, wirelen - 14)
    macs = f"{data[6:12].hex(':')} > {data[0:6].hex(':')}"
    if outer < 0x600:
        p.network_offset = 14
        return _llc(p, data, 14, wirelen, macs, outer)
    off, ethertype, tags = 14, outer, ""
    if outer in _VLAN_TYPES:
        tags, off, ethertype, complete = _vlan_tags(data, 14, outer, f", length {wirelen}: ")
        if not complete:
            return f"{macs}, {tags} [|vlan]" if p.link_headers else " [|vlan]"
        head = f"{macs}, {tags}"
    else:
        head = f"{macs}, "
    p.network_offset = off
    text = _network(p, data, off, wirelen - off, ethertype)
    if text is None:
        if p.link_headers and tags:
            return f"{head}{_type_text(ethertype)}, " + undecoded(p.hex, data[off:])
        if p.quiet:
            return f"{macs}, Unknown Ethertype (0x{ethertype:04x}), length {wirelen}: "
        return f"{macs}, {_type_text(ethertype)}, length {wirelen}: " + undecoded(p.hex, data[off:])
    if not p.link_headers:
        return text
    if tags:
        return f"{head}{_type_text(ethertype)}, {text}"
    return f"{head}{_type_text(ethertype)}, length {wirelen}: {text}"


def cooked(p: Printer, data: bytes, wirelen: int, version: int) -> str:
    """Linux SLL (16-byte header) and SLL2 (20 bytes, with the interface index)."""
    size = 16 if version == 1 else 20
    if len(data) < size:
        return " [|sll]" if version == 1 else " [|sll2]"
    pkttype = data[1] if version == 1 else data[10]
    direction = _DIRECTIONS[pkttype] if pkttype < 5 else f"{pkttype:>3}"
    if version == 1:
        halen, protocol = data[4] << 8 | data[5], data[14] << 8 | data[15]
        address = data[6 : 6 + min(halen, 8)].hex(":")
        prefix = ""
        head = f"{direction} {address} " if address else f"{direction} "
    else:
        protocol, halen = data[0] << 8 | data[1], data[11]
        ifindex = int.from_bytes(data[4:8], "big")
        address = data[12 : 12 + min(halen, 8)].hex(":")
        prefix = f"{interface_name(ifindex):<5} {_SLL2_DIRECTIONS[pkttype] if pkttype < 5 else pkttype} "
        head = f"{prefix}ifindex {ifindex} {address} " if address else f"{prefix}ifindex {ifindex} "
    p.network_offset = off = size
    tags = ""
    ethertype = protocol
    if protocol in _VLAN_TYPES:
        if len(data) < size + 4:
            return prefix + " [|vlan]"
        tci = data[size] << 8 | data[size + 1]
        ethertype = data[size + 2] << 8 | data[size + 3]
        p.network_offset = off = size + 4
        inner_name = ETHERTYPE_NAMES.get(ethertype, "Unknown")
        tags = f"vlan {tci & 0xFFF}, p {tci >> 13}, ethertype {inner_name}, "
    text = _network(p, data, off, wirelen - off, ethertype)
    if text is None:
        return f"{head}{_type_text(protocol)}, length {wirelen}: " + tags + undecoded(p.hex, data[off:])
    if not p.link_headers:
        if tags and not p.quiet:
            return f"{prefix}ethertype {ETHERTYPE_NAMES[ethertype]}, {text}"
        return prefix + text
    return f"{head}{_type_text(protocol)}, length {wirelen}: {tags}{text}"


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

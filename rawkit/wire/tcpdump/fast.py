"""The shape most captured packets have, printed in one function: Ethernet, then IPv4 without
options (not a fragment) or IPv6 without extension headers, then TCP with the ACK flag on a
connection already seen, with no options or Linux's nop,nop,timestamps; or a ping.

Why: `rawkit read` must keep up with tcpdump, and going through the general printers costs three
times as much per packet. Anything else (first packets of a connection, SYNs, -v/-q/-e, other
options, truncation) returns None and takes the general path in ipv4.py/ipv6.py/tcp.py, whose
output this must equal: the differential tests print every frame both ways.
"""

from __future__ import annotations

import struct
from socket import AF_INET6, inet_ntoa, inet_ntop
from typing import TYPE_CHECKING

from rawkit.wire.tcpdump.apps import APPLICATION_PORTS, tcp_application
from rawkit.wire.tcpdump.tcp import FLAGS

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

# from the EtherType: the IPv4 header (no options), then TCP up to the window
_IPV4_TCP = struct.Struct("!HBxH2xHxBxx8sHHIIBBH")
# from the EtherType: the IPv6 header, then TCP up to the window
_IPV6_TCP = struct.Struct("!HIHBx32sHHIIBBH")
_TIMESTAMPS = struct.Struct("!III")
_NOP_NOP_TS = 0x0101080A
_ECHO_NAMES = {0x0800: "ICMP echo request", 0x0000: "ICMP echo reply"}  # type << 8 | code
_ECHO6_NAMES = {0x8000: "ICMP6, echo request", 0x8100: "ICMP6, echo reply"}


def ethernet_tcp(p: Printer, data: bytes, wirelen: int) -> str | None:
    """The line for a frame of the usual shape (see the module docstring), else None."""
    size = len(data)
    if size < 54:
        return None
    if data[12] == 0x08 and data[13] == 0x00:
        first, total, frag, proto, addresses, sport, dport, seq, ack, offset_byte, flags, window = (
            _IPV4_TCP.unpack_from(data, 12)[1:])
        if first != 0x45 or frag & 0x3FFF or total > wirelen - 14:
            return None
        if proto != 6:
            return _echo(p, addresses, sport, seq, total - 20) if proto == 1 else None
        tcp_at, length = 34, total - 20
    elif data[12] == 0x86 and data[13] == 0xDD and size >= 74:
        word, length, next_header, addresses, sport, dport, seq, ack, offset_byte, flags, window = (
            _IPV6_TCP.unpack_from(data, 12)[1:])
        if word >> 28 != 6 or length + 40 > wirelen - 14:
            return None
        if next_header != 6:
            return _echo(p, addresses, sport, seq, length) if next_header == 58 else None
        tcp_at = 54
    else:
        return None
    header_len = (offset_byte >> 4) * 4
    if not flags & 0x10 or flags & 0x22 or header_len > length:  # no ACK, or SYN/URG: general path
        return None
    if header_len == 20:
        options = ""
    elif header_len == 32 and size >= tcp_at + 32:
        kinds, tsval, tsecr = _TIMESTAMPS.unpack_from(data, tcp_at + 20)
        if kinds != _NOP_NOP_TS:
            return None
        options = f", options [nop,nop,TS val {tsval} ecr {tsecr}]"
    else:
        return None
    key = (addresses, sport << 16 | dport)
    if not p.absolute:
        bases = p.tcp_seqs.get(key)
        if bases is None:
            return None  # the connection's first ACK: the general path records its bases
        seq = (seq - bases[0]) & 0xFFFFFFFF
        ack = (ack - bases[1]) & 0xFFFFFFFF
    head = p.line_heads.get(key)
    if head is None:
        head = _remember_head(p, key, addresses, sport, dport)
    payload_len = length - header_len
    if payload_len > 0:
        line = (f"{head}{FLAGS[flags]}], seq {seq}:{(seq + payload_len) & 0xFFFFFFFF}, ack {ack}, "
                f"win {window}{options}, length {payload_len}")
        if sport in APPLICATION_PORTS or dport in APPLICATION_PORTS:
            return line + tcp_application(p, sport, dport, data, tcp_at + header_len, payload_len)
        return line
    if flags & 0x05:  # FIN or RST
        return f"{head}{FLAGS[flags]}], seq {seq}, ack {ack}, win {window}{options}, length 0"
    return f"{head}{FLAGS[flags]}], ack {ack}, win {window}{options}, length 0"


def _remember_head(p: Printer, key: tuple[bytes, int], addresses: bytes, sport: int, dport: int) -> str:
    """'IP a.1 > b.2: Flags [' for one direction of a connection, kept for its later segments."""
    if len(addresses) == 8:
        label, src, dst = "IP", inet_ntoa(addresses[:4]), inet_ntoa(addresses[4:])
    else:
        label, src, dst = "IP6", inet_ntop(AF_INET6, addresses[:16]), inet_ntop(AF_INET6, addresses[16:])
    if len(p.line_heads) >= 65536:
        p.line_heads.clear()
    head = p.line_heads[key] = f"{label} {src}.{sport} > {dst}.{dport}: Flags ["
    return head


def _echo(p: Printer, addresses: bytes, type_code: int, ident_seq: int, length: int) -> str | None:
    """ICMP or ICMPv6 echo request/reply (a ping), read through the TCP fields' positions: type and
    code where the source port is, identifier and sequence where the sequence number is."""
    if len(addresses) == 8:
        name = _ECHO_NAMES.get(type_code)
        label = "IP "
    else:
        name = _ECHO6_NAMES.get(type_code)
        label = "IP6 "
    if name is None:
        return None
    names = p.address_names.get(addresses)
    if names is None:
        if label == "IP ":
            names = p.remember_names(addresses, inet_ntoa(addresses[:4]), inet_ntoa(addresses[4:]))
        else:
            names = p.remember_names(addresses, inet_ntop(AF_INET6, addresses[:16]),
                                     inet_ntop(AF_INET6, addresses[16:]))
    return (f"{label}{names[0]} > {names[1]}: {name}, id {ident_seq >> 16}, seq {ident_seq & 0xFFFF}, "
            f"length {length}")

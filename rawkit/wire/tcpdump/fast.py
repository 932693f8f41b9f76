"""The shapes most captured packets have, printed in one function: Ethernet, then IPv4 without
options (not a fragment) or IPv6 without extension headers, then TCP with the ACK flag on a
connection already seen, with no options or Linux's nop,nop,timestamps; UDP; or a ping.

Why: `rawkit read` must keep up with tcpdump, and going through the general printers costs three
times as much per packet. One unpack reads the IP and TCP headers and the timestamps option; the
start of each line ('IP a.1 > b.2: Flags [') and the application printer of each flow direction
are worked out once. Anything else (first packets of a connection, SYNs, -v/-q/-e, other options,
truncation) returns None and takes the general path in ipv4.py/ipv6.py/tcp.py/udp.py, whose output
this must equal: the differential tests print every frame both ways.
"""

from __future__ import annotations

import struct
from socket import AF_INET6, inet_ntoa, inet_ntop
from typing import TYPE_CHECKING, Any

from rawkit.wire.tcpdump.apps import Handler, http_summary, tcp_printer, tcp_text, udp_printer
from rawkit.wire.tcpdump.tcp import FLAGS

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

# From the end of the Ethernet header: the IPv4 header (no options) or the IPv6 header, then TCP
# up to the window (for UDP: ports, length and checksum land in sport, dport and seq), then the
# 12 bytes where Linux puts nop,nop,timestamps (the _SHORT forms stop before them: small frames)
_IPV4 = "!BxH2xHxBxx8sHHIIBBH2x2x"
_IPV6 = "!IHBx32sHHIIBBH2x2x"
_IPV4_LONG = struct.Struct(_IPV4 + "III").unpack_from
_IPV4_SHORT = struct.Struct(_IPV4).unpack_from
_IPV6_LONG = struct.Struct(_IPV6 + "III").unpack_from
_IPV6_SHORT = struct.Struct(_IPV6).unpack_from
_NOP_NOP_TS = 0x0101080A
_ECHO_NAMES = {0x0800: "ICMP echo request", 0x0000: "ICMP echo reply"}  # type << 8 | code
_ECHO6_NAMES = {0x8000: "ICMP6, echo request", 0x8100: "ICMP6, echo reply"}
_MAX_FLOWS = 65536  # per-direction cache entries; past that the cache starts afresh

Flow = tuple[str, Handler | None]  # a UDP flow direction: line start, application printer
# a TCP one: also the sequence bases its numbers are relative to (0, 0 with -S); tcp.py drops an
# entry when it sets new bases
TcpFlow = tuple[str, Handler | None, int, int]


def ethernet_line(p: Printer, stamp: str, data: bytes, wirelen: int) -> str | None:
    """`stamp` and the line for an Ethernet frame of the usual shape (module docstring), else None."""
    size = len(data)
    if data[12] == 0x08 and data[13] == 0x00:
        if size >= 66:
            first, total, frag, proto, addresses, sport, dport, seq, ack, offset_byte, flags, window, kinds, \
                tsval, tsecr = _IPV4_LONG(data, 14)
        elif size >= 54:
            first, total, frag, proto, addresses, sport, dport, seq, ack, offset_byte, flags, window = (
                _IPV4_SHORT(data, 14))
            kinds = tsval = tsecr = 0
        else:
            return None
        if first != 0x45 or frag & 0x3FFF or total > wirelen - 14:
            return None
        length = total - 20
        tcp_at, icmp = 34, 1
    elif data[12] == 0x86 and data[13] == 0xDD:
        if size >= 86:
            word, length, proto, addresses, sport, dport, seq, ack, offset_byte, flags, window, kinds, \
                tsval, tsecr = _IPV6_LONG(data, 14)
        elif size >= 74:
            word, length, proto, addresses, sport, dport, seq, ack, offset_byte, flags, window = (
                _IPV6_SHORT(data, 14))
            kinds = tsval = tsecr = 0
        else:
            return None
        if word >> 28 != 6 or length + 40 > wirelen - 14:
            return None
        tcp_at, icmp = 54, 58
    else:
        return None
    if proto != 6:
        if proto == 17:
            return _udp(p, stamp, data, addresses, sport, dport, seq >> 16, length, tcp_at + 8)
        if proto == icmp:
            return _echo(p, stamp, addresses, sport, seq, length)
        return None
    header_len = (offset_byte >> 4) * 4
    if not flags & 0x10 or flags & 0x22 or header_len > length:  # no ACK, or SYN/URG: general path
        return None
    if header_len == 32 and kinds == _NOP_NOP_TS:
        options = f", options [nop,nop,TS val {tsval} ecr {tsecr}]"
    elif header_len == 20:
        options = ""
    else:
        return None
    key = (addresses, sport << 16 | dport)
    flow = p.tcp_flows.get(key)
    if flow is None:
        bases = (0, 0) if p.absolute else p.tcp_seqs.get(key)
        if bases is None:
            return None  # the connection's first ACK: the general path records its bases
        flow = _remember(p.tcp_flows, key, addresses, sport, dport, "Flags [", tcp_printer(sport, dport),
                         *bases)
    head, application, seq_base, ack_base = flow
    seq = (seq - seq_base) & 0xFFFFFFFF
    ack = (ack - ack_base) & 0xFFFFFFFF
    payload_len = length - header_len
    if payload_len > 0:
        line = (f"{stamp}{head}{FLAGS[flags]}], seq {seq}:{(seq + payload_len) & 0xFFFFFFFF}, ack {ack}, "
                f"win {window}{options}, length {payload_len}")
        if application is None:
            return line
        at = tcp_at + header_len
        if application is http_summary and at < size and not 0x21 <= data[at] <= 0x7E:
            return line + ": HTTP"  # binary data on an HTTP port: most segments of a transfer
        return line + tcp_text(application, p, data, at, payload_len)
    if flags & 0x05:  # FIN or RST
        return f"{stamp}{head}{FLAGS[flags]}], seq {seq}, ack {ack}, win {window}{options}, length 0"
    return f"{stamp}{head}{FLAGS[flags]}], ack {ack}, win {window}{options}, length 0"


def _udp(p: Printer, stamp: str, data: bytes, addresses: bytes, sport: int, dport: int, udp_len: int,
         length: int, at: int) -> str | None:
    """A UDP datagram whose length fits the IP packet's; `at` is where its payload starts."""
    if length < 8 or udp_len < 8 or udp_len > length:
        return None
    key = (addresses, sport << 16 | dport)
    flow = p.udp_flows.get(key)
    if flow is None:
        flow = _remember(p.udp_flows, key, addresses, sport, dport, "", udp_printer(sport, dport))
    head, application = flow
    if application is not None:
        text = application(data[at : at + udp_len - 8], p.verbose, udp_len - 8)
        if text is not None:
            return f"{stamp}{head}{text}"
    return f"{stamp}{head}UDP, length {udp_len - 8}"


def _remember(flows: dict[tuple[bytes, int], Any], key: tuple[bytes, int], addresses: bytes, sport: int,
              dport: int, tail: str, application: Handler | None, *more: int) -> Any:
    """'IP a.1 > b.2: ' + `tail` for one direction of a flow, its application printer, and `more`."""
    if len(addresses) == 8:
        label, src, dst = "IP", inet_ntoa(addresses[:4]), inet_ntoa(addresses[4:])
    else:
        label, src, dst = "IP6", inet_ntop(AF_INET6, addresses[:16]), inet_ntop(AF_INET6, addresses[16:])
    if len(flows) >= _MAX_FLOWS:
        flows.clear()
    flow = flows[key] = (f"{label} {src}.{sport} > {dst}.{dport}: {tail}", application, *more)
    return flow


def _echo(p: Printer, stamp: str, addresses: bytes, type_code: int, ident_seq: int,
          length: int) -> str | None:
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
    return (f"{stamp}{label}{names[0]} > {names[1]}: {name}, id {ident_seq >> 16}, seq {ident_seq & 0xFFFF}, "
            f"length {length}")

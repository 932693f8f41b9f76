"""Which headers tshark counts in its conversation tables when frames are damaged.

tshark adds a frame to the IP, TCP or UDP table only if its dissector got that far without an
exception; rawkit's decoder is more forgiving (it keeps what it can). These checks draw the same
line, so conversation counts agree with tshark on malformed captures too. On sound traffic each is
one or two comparisons.
"""

from __future__ import annotations

from collections.abc import Callable

from rawkit.analyze.defrag import ip_offset
from rawkit.wire import LinkType, Packet, decode
from rawkit.wire.ipv4 import IPv4View
from rawkit.wire.ipv6 import EXTENSION_HEADERS
from rawkit.wire.udp import UDPView

_ROUTE_OPTIONS = (7, 131, 137)  # record route, loose and strict source route: need a pointer byte
_TIMESTAMP_OPTION = 68  # needs pointer and flags bytes
_SACK = 5
_COMMON_TCP_OPTIONS = b"\x01\x01\x08\x0a"  # NOP NOP Timestamp, on nearly every Linux segment


def _options_parse(options: bytes, too_short: Callable[[int, int], bool]) -> bool:
    """IPv4 and TCP options share one layout (end 0, no-op 1, else kind and length). False where
    tshark's dissector for a kind would read past an option too short for its fields
    (`too_short(kind, length)`); a length that breaks the layout is reported by tshark, not thrown."""
    index, end = 0, len(options)
    while index < end:
        kind = options[index]
        if kind == 0:
            return True
        if kind == 1:
            index += 1
            continue
        if index + 1 >= end:
            return True
        length = options[index + 1]
        if length < 2 or index + length > end:
            return True
        if too_short(kind, length):
            return False
        index += length
    return True


def _ipv4_option_too_short(kind: int, length: int) -> bool:
    return (kind in _ROUTE_OPTIONS and length < 3) or (kind == _TIMESTAMP_OPTION and length < 4)


def _tcp_option_too_short(kind: int, length: int) -> bool:
    return kind == _SACK and (length - 2) % 8 != 0


def _ipv4_options_parse(options: bytes) -> bool:
    return _options_parse(options, _ipv4_option_too_short)


def ip_counted(pkt: Packet, ip) -> bool:
    """Whether tshark's IP table counts this header."""
    if type(ip) is IPv4View:
        header_len = ip.header_len
        if header_len == 20:
            return ip.len >= 20
        start = ip_offset(pkt)
        if header_len < 20 or ip.len < header_len:
            return False
        if start is not None and start + header_len > len(pkt.data):
            return False
        return _ipv4_options_parse(ip.options_bytes)
    # IPv6: counted once the extension headers parse, even if the payload is short
    if not ip.ext and (pkt.tcp is not None or pkt.udp is not None or pkt.icmp6 is not None):
        return True
    for problem in pkt.errors:
        if problem.startswith("ipv6:") and not ("payload length" in problem
                                                and ip.nh not in EXTENSION_HEADERS):
            return False
    return True


def tcp_counted(pkt: Packet, tcp) -> bool:
    """A TCP header tshark dissects: data offset of 5 words or more, inside the segment, options that
    its dissectors can read, and an IPv4 header whose options parsed."""
    header_len = tcp.header_len
    ip = pkt.ip
    if type(ip) is IPv4View and ip.header_len > 20 and not _ipv4_options_parse(ip.options_bytes):
        return False
    if header_len == 20:
        return True
    if header_len < 20:
        return False
    start = ip.upper_off if type(ip) is not IPv4View else (ip_offset(pkt) or 0) + ip.header_len
    if start + header_len > tcp.end:
        return False
    options = tcp.options_bytes
    if len(options) == 12 and options[:4] == _COMMON_TCP_OPTIONS:
        return True
    return _options_parse(options, _tcp_option_too_short)


def udp_counted(pkt: Packet, udp) -> bool:
    ip = pkt.ip
    if type(ip) is IPv4View and ip.header_len > 20 and not _ipv4_options_parse(ip.options_bytes):
        return False
    return udp.len >= 8


def relabelled_ip(pkt: Packet) -> Packet | None:
    """An IPv6 packet behind an IPv4 EtherType (tshark follows the version nibble), as raw IP."""
    if pkt.ethertype != 0x0800:
        return None
    start = ip_offset(pkt)
    data = pkt.data
    if start is None or len(data) <= start or data[start] >> 4 != 6:
        return None
    return decode(data[start:], LinkType.RAW, pkt.ts_ns, pkt.wirelen - start)


def short_udp(pkt: Packet) -> UDPView | None:
    """The UDP header of a datagram whose IP length claims more than the frame holds (rawkit's
    decoder stops at the IP layer there; tshark still dissects the UDP header)."""
    ip = pkt.ip
    if type(ip) is IPv4View:
        if ip.proto != 17 or ip.is_fragment or ip.header_len < 20:
            return None
        start = (ip_offset(pkt) or 0) + ip.header_len
        end = (ip_offset(pkt) or 0) + ip.len
    else:
        if ip.nh != 17:
            return None
        start = ip.upper_off
        end = start + ip.plen
    if start + 8 > len(pkt.data) or end <= len(pkt.data):
        return None
    return UDPView(pkt.data, start, end, ip)

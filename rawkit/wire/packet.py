"""`decode()`: bytes + link type -> `Packet`, whose layers are zero-copy views.

Nothing is parsed until a layer is first touched; then one pass walks the headers, checking
each length once, and records views and offsets. Field values are read from the bytes only when
asked for. Decoding never raises: whatever fails is noted in `errors` (layer, reason, offset) and
the walk stops there, the rest of the bytes left in `payload`.
"""

from __future__ import annotations

import struct
from functools import partial

from rawkit.wire import icmpv6 as _icmpv6
from rawkit.wire import ipv4 as _ipv4
from rawkit.wire import ipv6 as _ipv6
from rawkit.wire import tcp_options
from rawkit.wire.addresses import cached_ip4_text, cached_ip6_text, ip4_int_text, ip6_text
from rawkit.wire.arp import ArpView
from rawkit.wire.constants import LinkType
from rawkit.wire.ethernet import EthernetView
from rawkit.wire.icmp import ICMPView
from rawkit.wire.icmpv6 import ICMPv6View
from rawkit.wire.ipv4 import IPv4View
from rawkit.wire.ipv6 import EXTENSION_HEADERS, ExtensionView, IPv6View, extension_length
from rawkit.wire.linux_sll import SLL2_LEN, SLL_LEN, SLLView
from rawkit.wire.loopback import LoopbackView, ethertype_for
from rawkit.wire.tcp import TCPView
from rawkit.wire.udp import UDPView
from rawkit.wire.vlan import TAG_TYPES, VlanView

# Layer state a dissection fills in (absent layers are None)
_STATE = ("eth", "sll", "loopback", "vlans", "arp", "ip", "ip4", "ip6", "tcp", "udp", "icmp", "icmp6",
          "ethertype", "payload_off", "payload_end", "_problems")
_QUOTED_WIRELEN = 1 << 30  # an ICMP error quotes a datagram cut short; treat it as snapped, not lying


class _PacketSlots:
    __slots__ = ("data", "linktype", "ts_ns", "wirelen", "interface", "comments", "epb_flags",
                 *_STATE, "_errors")


class Packet(_PacketSlots):
    """One frame and its capture metadata. Layer attributes are None when absent.

    Speed matters here (millions of packets), hence a trick: a new Packet's layer attributes are
    properties that dissect on first touch; dissection switches the object to a subclass where they
    are plain slots again, so every later read costs what a slot read costs.
    """

    __slots__ = ()

    def __init__(self, data: bytes, linktype: int = LinkType.ETHERNET, ts_ns: int = 0,
                 wirelen: int | None = None) -> None:
        self.data = data
        self.linktype = linktype
        self.ts_ns = ts_ns
        self.wirelen = len(data) if wirelen is None else wirelen
        self.interface = None
        self.comments = ()
        self.epb_flags = None

    @property
    def ts(self) -> float:
        return self.ts_ns / 1e9

    @property
    def caplen(self) -> int:
        return len(self.data)

    @property
    def payload(self) -> bytes:
        """The innermost payload: application bytes, or what follows the last decoded header."""
        return self.data[self.payload_off : self.payload_end]

    @property
    def errors(self) -> list[str]:
        """[] when clean; else 'layer: reason at byte N' strings, structural first, then options."""
        try:
            return self._errors
        except AttributeError:
            pass
        self._errors = errors = list(self._problems)
        errors.extend(_option_problems(self))
        return errors

    @property
    def direction(self) -> str | None:
        """'in' / 'out' from a pcapng EPB flags option or a cooked header, else None."""
        if self.epb_flags is not None:
            return {1: "in", 2: "out"}.get(self.epb_flags & 3)
        if self.sll is not None:
            return "out" if self.sll.pkttype == 4 else "in"
        return None

    def summary(self) -> str:
        """The line `tcpdump -nn -S` prints for this packet, without the timestamp."""
        from rawkit.wire.tcpdump import summary

        return summary(self)

    def __repr__(self) -> str:
        layers = [name for name in ("eth", "sll", "arp", "ip4", "ip6", "tcp", "udp", "icmp", "icmp6")
                  if getattr(self, name) is not None]
        return f"<Packet {len(self.data)} bytes {'/'.join(layers) or 'undecoded'}>"


class _Decoded(Packet):
    """The class of a dissected packet: every layer attribute is a plain slot again."""

    __slots__ = ()


for _name in _STATE:
    setattr(_Decoded, _name, _PacketSlots.__dict__[_name])


class _Fresh(Packet):
    """The class `decode` makes: a Packet whose construction runs no Python __init__ (a class call
    into Python costs about as much again as the stores `decode` does itself)."""

    __slots__ = ()
    __init__ = object.__init__


def decode(data: bytes, linktype: int = LinkType.ETHERNET, ts_ns: int = 0,
           wirelen: int | None = None) -> Packet:
    """Wrap bytes as a lazily decoded `Packet` (as `Packet(...)` does). Never raises."""
    pkt = _Fresh()
    pkt.data = data
    pkt.linktype = linktype
    pkt.ts_ns = ts_ns
    pkt.wirelen = len(data) if wirelen is None else wirelen
    pkt.interface = None
    pkt.comments = ()
    pkt.epb_flags = None
    return pkt


class _Fast(_Decoded):
    """The class the fast path gives Ethernet / IPv4 or IPv6 / transport frames: the layers such a
    frame never has are class attributes, and the Ethernet view is made only if asked for. One class
    for all of them (the others' layers stored as None): the interpreter caches an attribute read
    or write for one type at each place in the code, and readers touch these on every packet."""

    __slots__ = ()
    vlans = _problems = ()
    sll = loopback = arp = None
    eth = property(lambda self: EthernetView(self.data, 0))


# EtherType, then IPv4 version/IHL, total length, flags+fragment offset, protocol (the fast path's
# checks) and the addresses (as ints: the IPv4 view's text cache is keyed by them)
_ETHER_IPV4 = struct.Struct("!12xHBxH2xHxBxxII").unpack_from
_IPV6 = struct.Struct("!18xHBx16s16s").unpack_from  # payload length, next header, addresses
_TCP_FIXED = struct.Struct("!HHIIHHHH").unpack_from  # as TCPView's
_UDP_FIXED = struct.Struct("!HHHH").unpack_from  # as UDPView's
_new = object.__new__
_FAST4 = frozenset((6, 17, 1))  # the transports the fast path takes over IPv4, and over IPv6
_FAST6 = frozenset((6, 17, 58))


def decode_quoted(data: bytes) -> Packet:
    """The datagram inside an ICMP error: raw IP, usually cut after 8 bytes of transport header."""
    return Packet(bytes(data), LinkType.RAW, 0, _QUOTED_WIRELEN)


def _dissect(name: str, pkt: Packet) -> object:
    """Dissect `pkt` on the first read of a layer attribute, and return that attribute."""
    data = pkt.data
    if type(data) is not bytes:
        pkt.data = data = bytes(data)
    size = len(data)
    # Fast path for the commonest frames: Ethernet / IPv4 without options or fragmentation, or IPv6
    # without extension headers / TCP, UDP, ICMP or ICMPv6, wholly captured and consistent. Anything
    # else, or any doubt, takes the general walk; tests check both give the same result.
    # It fills the IP and TCP/UDP views' slots itself, as their __init__ would, from the values its
    # unpacks already hold (TCP/UDP fields unpacked straight into the view).
    if pkt.linktype == 1 and size >= 42:
        ethertype, first, total, fragment, proto, src, dst = _ETHER_IPV4(data)
        if ethertype == 0x0800:
            end = 14 + total
            if first != 0x45 or fragment & 0x3FFF or end < 42 or end > size or proto not in _FAST4:
                return _walk_then_read(pkt, data, size, name)
            # from here a check that fails still takes the walk, which sets every layer again
            pkt.__class__ = _Fast
            pkt.ethertype = 0x0800
            pkt.ip = pkt.ip4 = ip = _new(IPv4View)
            pkt.ip6 = None
            ip.header_len = 20
            ip.src = cached_ip4_text(src) or ip4_int_text(src)
            ip.dst = cached_ip4_text(dst) or ip4_int_text(dst)
            off = 34
        elif ethertype == 0x86DD and size >= 62 and first >> 4 == 6:
            length, proto, src, dst = _IPV6(data)
            end = 54 + length
            if end < 62 or end > size or proto not in _FAST6:
                return _walk_then_read(pkt, data, size, name)
            pkt.__class__ = _Fast
            pkt.ethertype = 0x86DD
            pkt.ip = pkt.ip6 = ip = _new(IPv6View)
            pkt.ip4 = None
            ip.ext = ()
            ip.proto = proto
            ip.upper_off = 54
            ip.src = cached_ip6_text(src) or ip6_text(src)
            ip.dst = cached_ip6_text(dst) or ip6_text(dst)
            off = 54
        else:
            return _walk_then_read(pkt, data, size, name)
        ip._buf = data
        ip._off = 14
        if proto == 6:
            if end - off < 20:
                return _walk_then_read(pkt, data, size, name)
            pkt.tcp = tcp = _new(TCPView)
            (tcp.sport, tcp.dport, tcp.seq, tcp.ack, offset_flags, tcp.window, tcp.checksum,
             tcp.urgptr) = _TCP_FIXED(data, off)
            tcp.header_len = header_len = offset_flags >> 12 << 2
            if header_len < 20 or header_len > end - off:
                return _walk_then_read(pkt, data, size, name)
            tcp.flags = offset_flags & 0x1FF
            tcp._buf = data
            tcp._off = off
            tcp.end = end
            tcp.ip = ip
            pkt.udp = pkt.icmp = pkt.icmp6 = None
            pkt.payload_off = off + header_len
        elif proto == 17:
            pkt.udp = udp = _new(UDPView)
            udp.sport, udp.dport, length, udp.checksum = _UDP_FIXED(data, off)
            if length < 8 or length > end - off:
                return _walk_then_read(pkt, data, size, name)
            udp.len = length
            udp._buf = data
            udp._off = off
            udp.end = end
            udp.ip = ip
            pkt.tcp = pkt.icmp = pkt.icmp6 = None
            pkt.payload_off = off + 8
            end = off + length
        elif proto == 1:
            pkt.icmp = ICMPView(data, off, end, ip)
            pkt.tcp = pkt.udp = pkt.icmp6 = None
            pkt.payload_off = off + 8
        else:
            kind = data[off]
            if end - off < _icmpv6.ND_OPTIONS_AT.get(kind, 8):
                return _walk_then_read(pkt, data, size, name)
            pkt.icmp6 = ICMPv6View(data, off, end, ip)
            pkt.tcp = pkt.udp = pkt.icmp = None
            pkt.payload_off = end if kind in _icmpv6.ND_OPTIONS_AT else off + 8
        pkt.payload_end = end
        return ip if name == "ip" else getattr(pkt, name)
    return _walk_then_read(pkt, data, size, name)


def _walk_then_read(pkt: Packet, data: bytes, size: int, name: str) -> object:
    _walk(pkt, data, size)
    return getattr(pkt, name)


# A new Packet's layer attributes: the getter is _dissect itself with the name bound (a partial
# rather than a wrapper function: one Python call less per packet)
for _name in _STATE:
    setattr(Packet, _name, property(partial(_dissect, _name)))


def _walk(pkt: Packet, data: bytes, size: int) -> None:
    """The general dissection: every link type and protocol, every check."""
    pkt.__class__ = _Decoded
    pkt.eth = pkt.sll = pkt.loopback = pkt.arp = pkt.ip = pkt.ip4 = pkt.ip6 = None
    pkt.tcp = pkt.udp = pkt.icmp = pkt.icmp6 = None
    pkt.vlans = pkt._problems = ()
    problems: list[str] = []
    if pkt.linktype == 1 and size >= 14:
        pkt.eth = EthernetView(data, 0)
        ethertype = data[12] << 8 | data[13]
        off = 14
    else:
        off, ethertype = _link(pkt, data, size, problems)
    if ethertype in TAG_TYPES:
        off, ethertype = _vlans(pkt, data, off, ethertype, size, problems)
    pkt.ethertype = ethertype
    pkt.payload_off = off
    pkt.payload_end = size
    if ethertype == 0x0800:
        l3 = _ip4(pkt, data, off, size, problems)
        if l3 is not None:
            _transport(pkt, data, size, l3, pkt.ip4, problems)
    elif ethertype == 0x86DD:
        l3 = _ip6(pkt, data, off, size, problems)
        if l3 is not None:
            _transport(pkt, data, size, l3, pkt.ip6, problems)
    elif ethertype == 0x0806 or ethertype == 0x8035:
        _arp(pkt, data, off, size, problems)
    if problems:
        pkt._problems = problems


def _transport(pkt: Packet, data: bytes, size: int, l3: tuple[int | None, int, int], ip: object,
               problems: list[str]) -> None:
    """Decode TCP/UDP/ICMP/ICMPv6 at the offset the IP layer found."""
    proto, off, end = l3
    avail = end if end < size else size
    pkt.payload_off = off
    pkt.payload_end = avail
    if proto == 6:
        if avail - off < 20:
            problems.append(f"tcp: truncated header ({avail - off} of 20 bytes) at byte {off}")
            return
        tcp = pkt.tcp = TCPView(data, off, end, ip)
        header_len = tcp.header_len
        if header_len < 20:
            problems.append(f"tcp: bad data offset {header_len // 4} at byte {off}")
            pkt.payload_off = off + 20
        elif off + header_len > avail:
            if off + header_len > end or size >= pkt.wirelen:
                problems.append(f"tcp: data offset {header_len // 4} runs past the segment at byte {off}")
            pkt.payload_off = off + 20 if off + header_len > end else avail
        else:
            pkt.payload_off = off + header_len
        return
    if proto == 17:
        if avail - off < 8:
            problems.append(f"udp: truncated header ({avail - off} of 8 bytes) at byte {off}")
            return
        udp = pkt.udp = UDPView(data, off, end, ip)
        length = udp.len
        if length < 8:
            problems.append(f"udp: bad length {length} at byte {off}")
        elif length > end - off:
            if not ip.is_fragment:  # a first fragment holds only the start of the datagram
                problems.append(f"udp: length {length} exceeds the {end - off} bytes the IP header gives")
        elif off + length < avail:
            pkt.payload_end = off + length
        pkt.payload_off = off + 8
        return
    if proto == 1:
        if avail - off < 8:
            problems.append(f"icmp: truncated header ({avail - off} of 8 bytes) at byte {off}")
            return
        pkt.icmp = ICMPView(data, off, end, ip)
        pkt.payload_off = off + 8
        return
    if proto == 58:
        if avail - off < 4:
            problems.append(f"icmp6: truncated header ({avail - off} of 4 bytes) at byte {off}")
            return
        pkt.icmp6 = ICMPv6View(data, off, end, ip)
        kind = data[off]
        fixed = _icmpv6.ND_OPTIONS_AT.get(kind, 8)
        if avail - off < fixed and (kind >= 128 or kind in _icmpv6.ERROR_TYPES):
            if size >= pkt.wirelen or end - off < fixed:
                problems.append(f"icmp6: truncated message ({avail - off} of {fixed} bytes) at byte {off}")
            return
        start = end if kind in _icmpv6.ND_OPTIONS_AT else off + fixed
        pkt.payload_off = start if start < avail else avail
        return
    return


def _vlans(pkt: Packet, data: bytes, off: int, ethertype: int, size: int,
           problems: list[str]) -> tuple[int, int | None]:
    """802.1Q/802.1ad tags after a link header (Ethernet, or a cooked header announcing one)."""
    tags = []
    while ethertype in TAG_TYPES:
        if off + 4 > size:
            problems.append(f"vlan: truncated tag at byte {off}")
            ethertype = None
            break
        tags.append(VlanView(data, off, ethertype))
        ethertype = data[off + 2] << 8 | data[off + 3]
        off += 4
    pkt.vlans = tuple(tags)
    return off, ethertype


def _link(pkt: Packet, data: bytes, size: int, problems: list[str]) -> tuple[int, int | None]:
    """Every link header but a whole Ethernet one: return the L3 offset and EtherType (None: nothing
    more to decode)."""
    linktype = pkt.linktype
    if linktype == 1:
        problems.append(f"eth: truncated header ({size} of 14 bytes) at byte 0")
        return 0, None
    if linktype == 101 or linktype == 228 or linktype == 229 or linktype == 12 or linktype == 14:
        if size == 0:
            problems.append("ip: empty packet at byte 0")
            return 0, None
        version = data[0] >> 4
        if version == 4:
            return 0, 0x0800
        if version == 6:
            return 0, 0x86DD
        problems.append(f"ip: unknown IP version {version} at byte 0")
        return 0, None
    if linktype == 113 or linktype == 276:
        need = SLL_LEN if linktype == 113 else SLL2_LEN
        if size < need:
            problems.append(f"sll: truncated header ({size} of {need} bytes) at byte 0")
            return 0, None
        sll = pkt.sll = SLLView(data, 0, 1 if linktype == 113 else 2)
        return need, sll.protocol
    if linktype == 0 or linktype == 108:
        if size < 4:
            problems.append(f"loopback: truncated header ({size} of 4 bytes) at byte 0")
            return 0, None
        loop = pkt.loopback = LoopbackView(data, 0, linktype == 108)
        ethertype = ethertype_for(loop.family)
        if ethertype is None:
            problems.append(f"loopback: unknown address family {loop.family} at byte 0")
            return 4, None
        return 4, ethertype
    problems.append(f"link: unsupported link type {linktype}")
    return 0, None


def _ip4(pkt: Packet, data: bytes, off: int, size: int,
         problems: list[str]) -> tuple[int | None, int, int] | None:
    if size - off < 20:
        problems.append(f"ipv4: truncated header ({size - off} of 20 bytes) at byte {off}")
        return None
    first = data[off]
    header_len = (first & 0x0F) * 4
    if first >> 4 != 4:
        problems.append(f"ipv4: version {first >> 4} in an IPv4 header at byte {off}")
        return None
    ip = pkt.ip = pkt.ip4 = IPv4View(data, off)
    pkt.payload_off = off + 20
    if header_len < 20:
        problems.append(f"ipv4: bad header length {header_len} at byte {off}")
        return None
    if off + header_len > size:
        problems.append(f"ipv4: options run past the captured data at byte {off}")
        return None
    total = data[off + 2] << 8 | data[off + 3]
    if total < header_len:
        problems.append(f"ipv4: total length {total} shorter than the header at byte {off}")
        pkt.payload_off = off + header_len
        return None
    end = off + total
    if end > size and end > pkt.wirelen:
        problems.append(f"ipv4: total length {total} exceeds the {size - off} bytes present at byte {off}")
        pkt.payload_off = off + header_len
        return None
    proto = data[off + 9]
    if (data[off + 6] & 0x1F or data[off + 7]) and ip.frag:
        proto = None  # a later fragment: no transport header in it
    return proto, off + header_len, end


def _ip6(pkt: Packet, data: bytes, off: int, size: int,
         problems: list[str]) -> tuple[int | None, int, int] | None:
    if size - off < 40:
        problems.append(f"ipv6: truncated header ({size - off} of 40 bytes) at byte {off}")
        return None
    if data[off] >> 4 != 6:
        problems.append(f"ipv6: version {data[off] >> 4} in an IPv6 header at byte {off}")
        return None
    start = off
    end = off + 40 + (data[off + 4] << 8 | data[off + 5])
    if end > size and end > pkt.wirelen:
        problems.append(f"ipv6: payload length {end - off - 40} exceeds the {size - off - 40} bytes present "
                        f"at byte {off}")
        pkt.ip = pkt.ip6 = IPv6View(data, start, (), data[off + 6], off + 40)
        pkt.payload_off = off + 40
        return None
    nh = data[off + 6]
    off += 40
    avail = min(end, size)
    chain: list[ExtensionView] = []
    later_fragment = False
    while nh in EXTENSION_HEADERS:
        name = _ipv6.EXT_NAMES[nh]
        if off + 8 > avail:
            problems.append(f"ipv6: truncated {name} header at byte {off}")
            pkt.ip = pkt.ip6 = IPv6View(data, start, tuple(chain), nh, off)
            pkt.payload_off = off
            return None
        length = extension_length(data, off, nh)
        if off + length > avail:
            problems.append(f"ipv6: {name} header length {length} runs past the packet at byte {off}")
            pkt.ip = pkt.ip6 = IPv6View(data, start, tuple(chain), nh, off)
            pkt.payload_off = off
            return None
        chain.append(ExtensionView(data, off, nh, length))
        if nh == 50:  # ESP: the rest is encrypted
            off += length
            break
        if nh == 44 and (data[off + 2] << 8 | data[off + 3]) >> 3:
            later_fragment = True
        nh = data[off]
        off += length
    pkt.ip = pkt.ip6 = IPv6View(data, start, tuple(chain), nh, off)
    return (None if later_fragment else nh), off, end


def _arp(pkt: Packet, data: bytes, off: int, size: int, problems: list[str]) -> None:
    need = ArpView.needed(data, off, size)
    if size - off < need:
        problems.append(f"arp: truncated message ({size - off} of {need} bytes) at byte {off}")
        return
    pkt.arp = ArpView(data, off)
    pkt.payload_off = pkt.payload_end = off + need


def _option_problems(pkt: Packet) -> list[str]:
    """Option-level malformations, found only when `errors` is read (keeps decoding lazy)."""
    found = []
    ip4, ip6, tcp, icmp6 = pkt.ip4, pkt.ip6, pkt.tcp, pkt.icmp6
    if ip4 is not None and ip4.header_len > 20:
        reason = _ipv4.parse_options(ip4.options_bytes)[1]
        if reason:
            found.append(f"ipv4: {reason}")
    if ip6 is not None:
        for header in ip6.ext:
            if header.kind in (0, 60):
                reason = _ipv6.parse_tlv_options(header.data)[1]
                if reason:
                    found.append(f"ipv6: {header.name} {reason}")
    if tcp is not None and tcp.header_len > 20:
        reason = tcp_options.parse(tcp.options_bytes)[1]
        if reason:
            found.append(f"tcp: {reason}")
    if icmp6 is not None and icmp6.type in _icmpv6.ND_OPTIONS_AT:
        reason = _icmpv6.parse_nd_options(icmp6.options_bytes)[1]
        if reason:
            found.append(f"icmp6: {reason}")
    return found

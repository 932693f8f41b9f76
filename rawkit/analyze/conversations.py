"""Conversations (Ethernet, IPv4, IPv6, TCP, UDP) as `tshark -z conv,*` counts them, with TCP health.

Counting rules that match tshark: bytes are frame lengths on the wire; endpoint a is whoever sent
the conversation's first packet; TCP and UDP see IP datagrams after defragmentation (a fragmented
datagram counts once, at the frame that completed it); a SYN with a new initial sequence number on a
4-tuple already seen starts a new TCP stream (port reuse), numbered in order of appearance like
`tcp.stream`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rawkit.analyze.defrag import Defragmenter
from rawkit.analyze.dissectable import ip_counted, relabelled_ip, short_udp, tcp_counted, udp_counted
from rawkit.analyze.tcp_health import TcpHealth
from rawkit.wire import Packet
from rawkit.wire.addresses import ip4_text, ip6_text
from rawkit.wire.ipv4 import IPv4View

PROTOCOLS = ("eth", "ip", "ipv6", "tcp", "udp")
_SYN, _ACK = 0x02, 0x10
_SOURCE_ROUTES = (131, 137)  # loose and strict source route options


class Conversation:
    """Both endpoints and what went each way. `stream` is tshark's tcp.stream/udp.stream index."""

    __slots__ = ("proto", "a", "a_port", "b", "b_port", "packets_ab", "bytes_ab", "packets_ba", "bytes_ba",
                 "first_ns", "last_ns", "stream", "health", "base_seq", "_a_key")

    def __init__(self, proto: str, a_key: object, a: object, a_port: int | None, b: object,
                 b_port: int | None, ts_ns: int, stream: int | None = None) -> None:
        self.proto = proto
        self._a_key = a_key
        self.a, self.a_port, self.b, self.b_port = a, a_port, b, b_port
        self.packets_ab = self.bytes_ab = self.packets_ba = self.bytes_ba = 0
        self.first_ns = self.last_ns = ts_ns
        self.stream = stream
        self.health: TcpHealth | None = None
        self.base_seq: list[int | None] = [None, None]  # tshark's base sequence number each way (a->b, b->a)

    def orient(self, src: bytes, sport: int | None, dst: bytes, dport: int | None) -> bool:
        """Whether a packet from (src, sport) goes a->b. Until a packet is counted, endpoint a may
        still change: a stream opened by a quoted header belongs to whoever is counted first."""
        forward = (src, sport) == self._a_key
        if not forward and not (self.packets_ab or self.packets_ba):
            self._a_key = (src, sport)
            self.a, self.a_port, self.b, self.b_port = src, sport, dst, dport
            self.base_seq.reverse()
            return True
        return forward

    def count(self, forward: bool, size: int, ts_ns: int) -> None:
        if not (self.packets_ab or self.packets_ba):
            self.first_ns = self.last_ns = ts_ns
        if forward:
            self.packets_ab += 1
            self.bytes_ab += size
        else:
            self.packets_ba += 1
            self.bytes_ba += size
        if ts_ns > self.last_ns:
            self.last_ns = ts_ns
        elif ts_ns < self.first_ns:
            self.first_ns = ts_ns

    def record(self, origin_ns: int) -> dict:
        """A flat dict (one JSON line / CSV row); times in seconds, start relative to `origin_ns`."""
        row = {"proto": self.proto, "a": _address_text(self.a), "a_port": self.a_port,
               "b": _address_text(self.b), "b_port": self.b_port, "packets_ab": self.packets_ab,
               "bytes_ab": self.bytes_ab, "packets_ba": self.packets_ba, "bytes_ba": self.bytes_ba,
               "packets": self.packets_ab + self.packets_ba, "bytes": self.bytes_ab + self.bytes_ba,
               "start": (self.first_ns - origin_ns) / 1e9, "duration": (self.last_ns - self.first_ns) / 1e9,
               "first_ts": self.first_ns / 1e9, "stream": self.stream}
        if self.health is not None:
            row.update(self.health.as_dict())
        return row


def _address_text(raw: object) -> str:
    if isinstance(raw, bytes):
        if len(raw) == 4:
            return ip4_text(raw)
        if len(raw) == 16:
            return ip6_text(raw)
        return ":".join(f"{byte:02x}" for byte in raw)
    return str(raw)


class ConversationTable:
    """Accumulates conversations from packets in capture order; `add(pkt)` for each."""

    def __init__(self, protocols: Iterable[str] = PROTOCOLS, health: bool = True,
                 defragmenter: Defragmenter | None = None) -> None:
        wanted = set(protocols)
        unknown = wanted - set(PROTOCOLS)
        if unknown:
            raise ValueError(f"unknown conversation type {sorted(unknown)[0]!r} "
                             f"(known: {', '.join(PROTOCOLS)})")
        self.want_eth, self.want_ip = "eth" in wanted, bool(wanted & {"ip", "ipv6"})
        self.want_tcp, self.want_udp = "tcp" in wanted, "udp" in wanted
        self.wanted = wanted
        self.health = health
        self.defragmenter = defragmenter or Defragmenter()
        self.eth: dict[tuple, Conversation] = {}
        self.ip: dict[tuple, Conversation] = {}
        self.tcp: dict[tuple, Conversation] = {}  # key -> the newest stream on that 4-tuple
        self.udp: dict[tuple, Conversation] = {}
        self.tcp_streams: list[Conversation] = []
        self.origin_ns: int | None = None

    def add(self, pkt: Packet) -> tuple[Conversation, bool, Packet] | None:
        """Count one frame; for a TCP segment return (its stream, whether it goes a->b, the datagram
        it completed — the frame itself unless it was the last IP fragment)."""
        ts_ns, size = pkt.ts_ns, pkt.wirelen
        if self.origin_ns is None:
            self.origin_ns = ts_ns
        if self.want_eth and pkt.linktype == 1:
            data = pkt.data
            if len(data) >= 14:  # what makes the decoder see an Ethernet header
                src = data[6:12]
                _pair(self.eth, "eth", src, data[:6], ts_ns).count_from(src, size, ts_ns)
        ip = pkt.ip
        if ip is None:
            pkt = relabelled_ip(pkt)
            ip = None if pkt is None else pkt.ip
            if ip is None:
                return None
        datagram = self.defragmenter.feed(pkt) if ip.is_fragment else pkt
        if self.want_ip:
            proto = "ip" if pkt.ip4 is not None else "ipv6"
            # tshark counts every IPv4 fragment, but an IPv6 one only when it completes the datagram
            if proto in self.wanted and (datagram is not None or proto == "ip") and ip_counted(pkt, ip):
                src = ip.src_bytes
                _pair(self.ip, proto, src, _destination(ip), ts_ns).count_from(src, size, ts_ns)
        if datagram is None or not (self.want_tcp or self.want_udp):
            return None
        tcp = datagram.tcp
        if tcp is not None:
            if self.want_tcp and tcp_counted(datagram, tcp):
                return self._tcp(datagram, tcp, size, ts_ns, True)
            return None
        udp = datagram.udp
        if udp is None:
            udp = short_udp(datagram)
        if udp is not None:
            if self.want_udp and udp_counted(datagram, udp):
                self._udp(datagram, udp, size, ts_ns, True)
            return None
        error = datagram.icmp or datagram.icmp6
        if error is not None and error.is_error:
            self._quoted(error.quoted, ts_ns)
        return None

    def _quoted(self, quoted: Packet, ts_ns: int) -> None:
        """A TCP or UDP header quoted whole in an ICMP error takes a stream number, as in tshark,
        though its bytes count nowhere."""
        if quoted.ip is None:
            return
        tcp, udp = quoted.tcp, quoted.udp
        if tcp is not None and self.want_tcp and len(quoted.data) >= quoted.payload_off >= 20:
            self._tcp(quoted, tcp, 0, ts_ns, False)
        elif udp is not None and self.want_udp:
            self._udp(quoted, udp, 0, ts_ns, False)

    def _udp(self, pkt: Packet, udp, size: int, ts_ns: int, counted: bool) -> None:
        ip = pkt.ip
        src, sport, dst, dport = ip.src_bytes, udp.sport, _destination(ip), udp.dport
        key = _key(src, sport, dst, dport)
        conv = self.udp.get(key)
        if conv is None:
            conv = self.udp[key] = Conversation("udp", (src, sport), src, sport, dst, dport, ts_ns,
                                                len(self.udp))
        if counted:
            conv.count(conv.orient(src, sport, dst, dport), size, ts_ns)

    def _tcp(self, pkt: Packet, tcp, size: int, ts_ns: int,
             counted: bool) -> tuple[Conversation, bool, Packet]:
        ip = pkt.ip
        src, sport, dst, dport = ip.src_bytes, tcp.sport, _destination(ip), tcp.dport
        key = _key(src, sport, dst, dport)
        flags, seq = tcp.flags, tcp.seq
        conv = self.tcp.get(key)
        if conv is not None and flags & (_SYN | _ACK) == _SYN:
            first_seq = conv.base_seq[0 if (src, sport) == conv._a_key else 1]
            if first_seq is not None and first_seq != seq:
                conv = None  # port reuse: a new connection on the same 4-tuple
        if conv is None:
            conv = self.tcp[key] = Conversation("tcp", (src, sport), src, sport, dst, dport, ts_ns,
                                                len(self.tcp_streams))
            self.tcp_streams.append(conv)
            if self.health:
                conv.health = TcpHealth()
        forward = conv.orient(src, sport, dst, dport) if counted else (src, sport) == conv._a_key
        direction = 0 if forward else 1
        if conv.base_seq[direction] is None:
            # tshark's base sequence number: the SYN's, else one before the first segment's
            conv.base_seq[direction] = seq if flags & _SYN else (seq - 1) % (1 << 32)
        if counted:
            conv.count(forward, size, ts_ns)
            if conv.health is not None:
                conv.health.update(forward, seq, tcp.ack, flags, tcp.window, tcp.payload_len, ts_ns)
        return conv, forward, pkt

    def conversations(self) -> Iterator[Conversation]:
        """Every conversation, grouped by protocol in PROTOCOLS order, each in order of appearance."""
        yield from self.eth.values() if "eth" in self.wanted else ()
        for conv in self.ip.values():
            if conv.proto in self.wanted:
                yield conv
        yield from self.tcp_streams
        yield from self.udp.values()

    def records(self) -> Iterator[dict]:
        """Records of the conversations with packets (not streams only ever seen quoted)."""
        origin = self.origin_ns or 0
        for conv in self.conversations():
            if conv.packets_ab or conv.packets_ba:
                yield conv.record(origin)


def _destination(ip) -> bytes:
    """The final destination: for IPv4 with a source route option, the route's last address (as
    tshark counts it), else the header's destination."""
    if type(ip) is IPv4View and ip.header_len > 20:
        for kind, data in ip.options:
            if kind in _SOURCE_ROUTES and len(data) >= 5:
                return data[1 + (len(data) - 1) // 4 * 4 - 4 : 1 + (len(data) - 1) // 4 * 4]
    return ip.dst_bytes


def _key(src: bytes, sport: int, dst: bytes, dport: int) -> tuple:
    return (src, sport, dst, dport) if (src, sport) <= (dst, dport) else (dst, dport, src, sport)


class _Pair(Conversation):
    """A conversation keyed by an address pair (Ethernet, IP)."""

    __slots__ = ()

    def count_from(self, src: bytes, size: int, ts_ns: int) -> None:
        self.count(src == self._a_key, size, ts_ns)


def _pair(table: dict, proto: str, src: bytes, dst: bytes, ts_ns: int) -> _Pair:
    key = (src, dst) if src <= dst else (dst, src)
    conv = table.get(key)
    if conv is None:
        conv = table[key] = _Pair(proto, src, src, None, dst, None, ts_ns)
    return conv

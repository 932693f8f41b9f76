"""UDP for the stack, sans-IO: datagram build and check (RFC 768, RFC 8200 8.1), the bound ports with
their receive queues, ICMP port-unreachable answers for closed ports (rate-limited as Linux does) and
ICMP errors turned into a connected socket's pending errno.

Why no I/O here: the stack (rawkit.stack.stack) hands in what arrived with `now` and sends what comes
back; the socket class (rawkit.stack.udp_socket) adds blocking and the Python socket face. Addresses are
packed bytes (4 or 16 long) throughout; the address length picks the family.
"""

from __future__ import annotations

import errno
import struct
from collections import deque
from typing import NamedTuple

from rawkit.wire.checksum import internet_checksum, ones_sum, pseudo_header_sum

PROTO_UDP = 17
PROTO_ICMP, PROTO_ICMPV6 = 1, 58
HEADER = struct.Struct("!HHHH")
MAX_PAYLOAD = {4: 65535 - 20 - 8, 16: 65535 - 8}   # 65507 / 65527, as Linux's EMSGSIZE limits
DEFAULT_RCVBUF = 212992          # net.core.rmem_default
MIN_RCVBUF = 2304                # SOCK_MIN_RCVBUF on 64-bit Linux
DATAGRAM_OVERHEAD = 768          # charged per queued datagram besides its payload, like an skb's truesize
EPHEMERAL_PORTS = range(32768, 61000)
ICMP_QUOTE_LIMIT = {4: 576, 16: 1280}   # longest error packet (RFC 1812 4.3.2.3, RFC 4443 2.4)
ICMP_UNREACHABLE, ICMP_PORT_UNREACHABLE = 3, 3
ICMPV6_UNREACHABLE, ICMPV6_PORT_UNREACHABLE, ICMPV6_PARAMETER_PROBLEM = 1, 4, 4
RATE_PER_PEER, BURST_PER_PEER = 1.0, 6        # net.ipv4.icmp_ratelimit = 1000 ms, XRLIM_BURST_FACTOR 6
RATE_GLOBAL, BURST_GLOBAL = 1000.0, 50        # net.ipv4.icmp_msgs_per_sec / icmp_msgs_burst
PEERS_REMEMBERED = 4096

# ICMP errors Linux reports on a connected UDP socket (the "fatal" ones of icmp_err_convert and
# icmpv6_err_convert); the others (time exceeded, fragmentation needed, ...) are not reported.
_ICMP_ERRNO = {0: errno.ENETUNREACH, 1: errno.EHOSTUNREACH, 2: errno.ENOPROTOOPT, 3: errno.ECONNREFUSED,
               6: errno.ENETUNREACH, 7: errno.EHOSTDOWN, 8: errno.ENONET, 9: errno.ENETUNREACH,
               10: errno.EHOSTUNREACH, 13: errno.EHOSTUNREACH, 14: errno.EHOSTUNREACH, 15: errno.EHOSTUNREACH}
_ICMPV6_ERRNO = {0: errno.ENETUNREACH, 1: errno.EACCES, 2: errno.EHOSTUNREACH, 3: errno.EHOSTUNREACH,
                 4: errno.ECONNREFUSED, 5: errno.EACCES, 6: errno.EACCES}

Address = tuple[bytes, int]     # packed IP, port


class Datagram(NamedTuple):
    sport: int
    dport: int
    payload: bytes


def build_datagram(source: bytes, destination: bytes, sport: int, dport: int, payload: bytes) -> bytes:
    """A UDP header with length and checksum (a computed 0 is sent as 0xFFFF) in front of `payload`."""
    length = HEADER.size + len(payload)
    checksum = internet_checksum(HEADER.pack(sport, dport, length, 0) + payload,
                                 pseudo_header_sum(source, destination, PROTO_UDP, length))
    return HEADER.pack(sport, dport, length, checksum or 0xFFFF) + payload


def parse_datagram(source: bytes, destination: bytes, data: bytes, checked: bool = False) -> Datagram | None:
    """The datagram in an IP payload, or None when it must be dropped: shorter than its length field,
    a length under 8, a wrong checksum, or no checksum over IPv6 (mandatory there). Bytes after the
    length field's end are padding and cut off. `checked`: the kernel vouched for the checksum (a
    local sender's is left unfinished on an offloading link, so it must not be summed again)."""
    if len(data) < HEADER.size:
        return None
    sport, dport, length, checksum = HEADER.unpack_from(data)
    if length < HEADER.size or length > len(data):
        return None
    data = data[:length]
    if checksum == 0:
        if len(source) == 16:
            return None
    elif not checked and ones_sum(data, pseudo_header_sum(source, destination, PROTO_UDP, length)) != 0xFFFF:
        return None
    return Datagram(sport, dport, data[HEADER.size:])


def port_unreachable(ip_packet: bytes, source: bytes, destination: bytes) -> tuple[int, bytes]:
    """(IP protocol, message) of the ICMP or ICMPv6 port unreachable that answers `ip_packet` (the
    whole IP packet as it arrived), sent from `source` (ours) to `destination`; it quotes as much of
    the packet as fits the family's error-size limit."""
    family = len(source)
    header = 20 if family == 4 else 40
    quote = ip_packet[:ICMP_QUOTE_LIMIT[family] - header - 8]
    if family == 4:
        message = bytes((ICMP_UNREACHABLE, ICMP_PORT_UNREACHABLE, 0, 0, 0, 0, 0, 0)) + quote
        checksum = internet_checksum(message)
        return PROTO_ICMP, message[:2] + checksum.to_bytes(2, "big") + message[4:]
    message = bytes((ICMPV6_UNREACHABLE, ICMPV6_PORT_UNREACHABLE, 0, 0, 0, 0, 0, 0)) + quote
    checksum = internet_checksum(message, pseudo_header_sum(source, destination, PROTO_ICMPV6, len(message)))
    return PROTO_ICMPV6, message[:2] + checksum.to_bytes(2, "big") + message[4:]


class IcmpReport(NamedTuple):
    """What an ICMP error says about one of our UDP datagrams: the errno for a connected socket, and
    the quoted datagram's ports and destination (our peer)."""

    code: int
    local_port: int
    peer: Address


def read_icmp_error(family: int, message: bytes) -> IcmpReport | None:
    """The report in a checksum-verified ICMP (`family` 4) or ICMPv6 (16) message, or None when it is
    no error Linux reports to a UDP socket or does not quote a UDP datagram of that family."""
    if len(message) < 8:
        return None
    kind, code = message[0], message[1]
    if family == 4:
        code_errno = _ICMP_ERRNO.get(code) if kind == ICMP_UNREACHABLE else None
        if kind == 12:                                      # parameter problem
            code_errno = errno.EPROTO
    elif kind == ICMPV6_UNREACHABLE:
        code_errno = _ICMPV6_ERRNO.get(code)
    else:
        code_errno = errno.EPROTO if kind == ICMPV6_PARAMETER_PROBLEM else None
    if code_errno is None:
        return None
    quoted = message[8:]
    if family == 4:
        if len(quoted) < 20 or quoted[0] >> 4 != 4 or quoted[9] != PROTO_UDP:
            return None
        header, peer = (quoted[0] & 0x0F) * 4, quoted[16:20]
    else:
        if len(quoted) < 40 or quoted[0] >> 4 != 6 or quoted[6] != PROTO_UDP:
            return None
        header, peer = 40, quoted[24:40]
    if len(quoted) < header + 4:
        return None
    sport, dport = struct.unpack_from("!HH", quoted, header)
    return IcmpReport(code_errno, sport, (peer, dport))


class TokenBucket:
    """`rate` tokens a second up to `burst`; each allowed message spends one."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = float(burst), now

    def refill(self, now: float) -> bool:
        """Add the tokens earned since the last call; True when one can be spent."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens >= 1

    def allow(self, now: float) -> bool:
        if not self.refill(now):
            return False
        self.tokens -= 1
        return True


class RateLimit:
    """Linux's two limits on ICMP errors: per destination (one a second after a burst of six) and
    overall (a thousand a second after fifty)."""

    def __init__(self, per_peer: tuple[float, int] = (RATE_PER_PEER, BURST_PER_PEER),
                 overall: tuple[float, int] = (RATE_GLOBAL, BURST_GLOBAL)) -> None:
        self.per_peer = per_peer
        self.overall = overall
        self._global: TokenBucket | None = None
        self._peers: dict[bytes, TokenBucket] = {}

    def allow(self, peer: bytes, now: float) -> bool:
        if self._global is None:
            self._global = TokenBucket(*self.overall, now)
        bucket = self._peers.get(peer)
        if bucket is None:
            if len(self._peers) >= PEERS_REMEMBERED:     # many strangers (a scan): start over
                self._peers.clear()
            bucket = self._peers[peer] = TokenBucket(*self.per_peer, now)
        if not (self._global.refill(now) and bucket.refill(now)):
            return False                     # a message refused by one limit spends from neither
        self._global.tokens -= 1
        bucket.tokens -= 1
        return True


class Endpoint:
    """One bound UDP port: its receive queue bounded like SO_RCVBUF, the connected peer (only its
    datagrams are delivered), and the pending error a later call reports once."""

    def __init__(self, family: int, port: int) -> None:
        self.family = family
        self.port = port
        self.peer: Address | None = None
        self.queue: deque[tuple[bytes, Address]] = deque()
        self.queued = 0                   # bytes charged to the receive buffer
        self.rcvbuf = DEFAULT_RCVBUF
        self.drops = 0                    # datagrams dropped because the buffer was full
        self.error = 0                    # pending errno (0: none)

    def accepts(self, source: Address) -> bool:
        return self.peer is None or self.peer == source

    def deliver(self, payload: bytes, source: Address) -> bool:
        """Queue a datagram unless the buffer is over its size (Linux admits one while it is not)."""
        if self.queued > self.rcvbuf:
            self.drops += 1
            return False
        self.queue.append((payload, source))
        self.queued += len(payload) + DATAGRAM_OVERHEAD
        return True

    def take(self) -> tuple[bytes, Address]:
        payload, source = self.queue.popleft()
        self.queued -= len(payload) + DATAGRAM_OVERHEAD
        return payload, source

    def take_error(self) -> int:
        code, self.error = self.error, 0
        return code


class UdpHost:
    """Every bound UDP port of one stack, by (address length, port); answers datagrams to closed ports
    with a rate-limited port unreachable."""

    def __init__(self, rate_limit: RateLimit | None = None) -> None:
        self.ports: dict[tuple[int, int], Endpoint] = {}
        self.rate_limit = rate_limit if rate_limit is not None else RateLimit()
        self._next_ephemeral = EPHEMERAL_PORTS.start

    def bind(self, family: int, port: int) -> Endpoint:
        """A new endpoint on `port` (0: a free ephemeral one). EADDRINUSE when taken."""
        if port == 0:
            port = self._free_port(family)
        if (family, port) in self.ports:
            raise OSError(errno.EADDRINUSE, "Address already in use")
        endpoint = self.ports[(family, port)] = Endpoint(family, port)
        return endpoint

    def release(self, endpoint: Endpoint) -> None:
        if self.ports.get((endpoint.family, endpoint.port)) is endpoint:
            del self.ports[(endpoint.family, endpoint.port)]

    def _free_port(self, family: int) -> int:
        span = len(EPHEMERAL_PORTS)
        for _ in range(span):
            port = self._next_ephemeral
            self._next_ephemeral = EPHEMERAL_PORTS.start + (port + 1 - EPHEMERAL_PORTS.start) % span
            if (family, port) not in self.ports:
                return port
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")   # as Linux's autobind

    def receive(self, source: bytes, destination: bytes, ip_packet: bytes, payload: bytes,
                now: float, checked: bool = False) -> tuple[int, bytes] | None:
        """Handle `payload`, the UDP part of `ip_packet` (to our `destination`; the packet may carry
        link padding after it; `checked` as for parse_datagram). Returns the (protocol, ICMP message)
        to send back to `source`, or None."""
        datagram = parse_datagram(source, destination, payload, checked)
        if datagram is None:
            return None
        endpoint = self.ports.get((len(source), datagram.dport))
        if endpoint is None:
            if self.rate_limit.allow(source, now):
                header = (ip_packet[0] & 0x0F) * 4 if len(source) == 4 else 40
                return port_unreachable(ip_packet[:header + len(payload)], destination, source)
            return None
        sender = (source, datagram.sport)
        if endpoint.accepts(sender):
            endpoint.deliver(datagram.payload, sender)
        return None

    def icmp_error(self, family: int, message: bytes) -> Endpoint | None:
        """Record a reported ICMP error on the connected endpoint it concerns; that endpoint, or None."""
        report = read_icmp_error(family, message)
        if report is None:
            return None
        endpoint = self.ports.get((family, report.local_port))
        if endpoint is None or endpoint.peer != report.peer:
            return None
        endpoint.error = report.code
        return endpoint

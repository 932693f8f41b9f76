"""UDP probes (`rawkit ping --udp PORT`, `rawkit trace --udp`): an ICMP port unreachable from the
target is an answer ("closed"), so is any UDP datagram back ("open"); other ICMP errors are errors.

The probe number is carried by a port: the source port for ping (the destination port stays the
one asked for), the destination port for traceroute (33434, 33435, ... as traceroute does).
"""

from __future__ import annotations

import random
import socket
import time

from rawkit.link.rawsock import ProbeSocket, open_probe_pair, set_ttl, source_address
from rawkit.link.rxstamp import Received, receive
from rawkit.stack.icmp_errors import parse_error
from rawkit.stack.outcome import Outcome
from rawkit.wire import UDP, IPv4, IPv6
from rawkit.wire.addresses import ip4_bytes, ip6_bytes

PORT_SPAN = 1024  # source ports used in turn by ping probes


class UdpProbe:
    """UDP datagrams of `size` data bytes to one destination; `vary` says which port numbers the
    probes: "sport" (ping) or "dport" (traceroute, starting at `port`)."""

    def __init__(self, destination: str, family: int, port: int, *, size: int = 56, ttl: int | None = None,
                 device: str | None = None, source: str | None = None, vary: str = "sport") -> None:
        self.destination = destination
        self.family = family
        self.port = port
        self.vary = vary
        self.timing = True
        self.ipv6 = family == socket.AF_INET6
        self.source = source_address(family, destination, device=device, source=source)
        self._ip_layer = IPv6 if self.ipv6 else IPv4
        self._destination_bytes = (ip6_bytes if self.ipv6 else ip4_bytes)(destination)
        self._payload = bytes(0x40 + i % 32 for i in range(size))
        self.base_port = random.randrange(33000, 60000 - PORT_SPAN) if vary == "sport" else port
        self.fixed_sport = random.randrange(33000, 60000)
        self.sent_ns = [0] * (1 << 16)
        self.last_index = 0
        self.udp, self.icmp = open_probe_pair(family, socket.IPPROTO_UDP, device=device, ttl=ttl)
        self._sockets: list[ProbeSocket] = [self.udp, self.icmp]

    def sockets(self) -> list[socket.socket]:
        return [probe_socket.socket for probe_socket in self._sockets]

    def close(self) -> None:
        for probe_socket in self._sockets:
            probe_socket.close()

    def set_ttl(self, ttl: int) -> None:
        set_ttl(self.udp.socket, ttl)

    def ports(self, index: int) -> tuple[int, int]:
        """(source port, destination port) of probe `index`."""
        if self.vary == "sport":
            return self.base_port + index % PORT_SPAN, self.port
        return self.fixed_sport, (self.base_port + index - 1) & 0xFFFF

    def _index(self, sport: int, dport: int) -> int | None:
        """The latest probe sent with these ports."""
        if self.vary == "sport":
            if dport != self.port or not 0 <= sport - self.base_port < PORT_SPAN:
                return None
            index = self.last_index - ((self.last_index - (sport - self.base_port)) % PORT_SPAN)
        else:
            if sport != self.fixed_sport:
                return None
            index = (dport - self.base_port) % (1 << 16) + 1
        return index if 1 <= index <= self.last_index else None

    def send(self, index: int) -> int:
        sport, dport = self.ports(index)
        header_len = 40 if self.ipv6 else 20
        datagram = bytes(self._ip_layer(src=self.source, dst=self.destination) / UDP(sport=sport, dport=dport)
                         / self._payload)[header_len:]
        now_ns = time.time_ns()
        self.udp.socket.sendto(datagram, (self.destination, 0))
        self.last_index = index
        self.sent_ns[index & 0xFFFF] = now_ns
        return now_ns

    def receive(self, sock: socket.socket) -> list[Outcome]:
        outcomes = []
        while (received := receive(sock)) is not None:
            outcome = self._answer(received) if sock is self.udp.socket else self._error(received)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def _answer(self, received: Received) -> Outcome | None:
        data = received.data
        offset = 0 if self.ipv6 else (data[0] & 0x0F) * 4
        if len(data) < offset + 8:
            return None
        if self.ipv6:
            if ip6_bytes(received.address.split("%")[0]) != self._destination_bytes:
                return None
        elif data[12:16] != self._destination_bytes:
            return None
        udp = data[offset:]
        index = self._index(udp[2] << 8 | udp[3], udp[0] << 8 | udp[1])
        if index is None:
            return None
        ttl = received.ttl if self.ipv6 else data[8]
        return Outcome(index, "reply", self.destination, received.ts_ns, size=len(udp), ttl=ttl, state="open",
                       ipv6=self.ipv6)

    def _error(self, received: Received) -> Outcome | None:
        error = parse_error(received, self.family)
        if error is None:
            return None
        proto, udp = error.quoted_transport
        if proto != socket.IPPROTO_UDP or len(udp) < 8 or error.quoted_destination != self._destination_bytes:
            return None
        index = self._index(udp[0] << 8 | udp[1], udp[2] << 8 | udp[3])
        if index is None:
            return None
        port_unreachable = (error.icmp_type, error.icmp_code) == ((1, 4) if self.ipv6 else (3, 3))
        closed = port_unreachable and error.source.split("%")[0] == self.destination
        return Outcome(index, "reply" if closed else "error", error.source, error.ts_ns,
                       icmp_type=error.icmp_type, icmp_code=error.icmp_code, info=error.info,
                       state="closed" if closed else "", ttl=error.ttl, ipv6=self.ipv6)

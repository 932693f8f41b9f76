"""TCP SYN probes (`rawkit ping --tcp PORT`, `rawkit trace --tcp PORT`), as hping3 -S sends them:
a SYN-ACK means open, a RST closed; the half-open connection is then reset. The probe number
rides in the initial sequence number, so each answer's ACK (or a quoting ICMP error) says which
probe it belongs to.

The source port is reserved by binding an ordinary TCP socket that never listens: no other program
can take it, and the kernel answers the SYN-ACK with its own RST, as it does for hping3.
"""

from __future__ import annotations

import random
import socket
import time

from rawkit.link.rawsock import ProbeSocket, open_probe_pair, set_ttl, source_address
from rawkit.link.rxstamp import receive
from rawkit.stack.icmp_errors import parse_error
from rawkit.stack.outcome import Outcome
from rawkit.wire import TCP, IPv4, IPv6
from rawkit.wire.addresses import ip4_bytes, ip6_bytes

SYN_OPTIONS = (("MSS", 1460), ("SAckOK", b""), ("Timestamp", (0, 0)), ("NOP", None), ("WScale", 7))
SYN = 0x02
RST = 0x04
ACK = 0x10
SEQ_MASK = 0xFFFFFFFF


class SynProbe:
    """SYN probes to one destination port; answers and ICMP errors matched to the probe number."""

    def __init__(self, destination: str, family: int, port: int, *, ttl: int | None = None,
                 device: str | None = None, source: str | None = None) -> None:
        self.destination = destination
        self.family = family
        self.port = port
        self.timing = True
        self.source = source_address(family, destination, device=device, source=source)
        self.ipv6 = family == socket.AF_INET6
        self._ip_layer = IPv6 if self.ipv6 else IPv4
        self._destination_bytes = (ip6_bytes if self.ipv6 else ip4_bytes)(destination)
        self.sent_ns = [0] * (1 << 16)
        self.last_index = 0
        self._isn = random.getrandbits(32)
        self._reservation = socket.socket(family, socket.SOCK_STREAM)
        self._sockets: list[ProbeSocket] = []
        try:
            self._reservation.bind((self.source, 0))
            self.sport = self._reservation.getsockname()[1]
            self.tcp, self.icmp = open_probe_pair(family, socket.IPPROTO_TCP, device=device, ttl=ttl)
            self._sockets += (self.tcp, self.icmp)
        except BaseException:
            self.close()
            raise

    def sockets(self) -> list[socket.socket]:
        return [probe_socket.socket for probe_socket in self._sockets]

    def close(self) -> None:
        for probe_socket in self._sockets:
            probe_socket.close()
        self._reservation.close()

    def set_ttl(self, ttl: int) -> None:
        set_ttl(self.tcp.socket, ttl)

    def _segment(self, seq: int, flags: str, ack: int = 0, options: tuple = ()) -> bytes:
        ip = self._ip_layer(src=self.source, dst=self.destination)
        header_len = 40 if self.ipv6 else 20
        window = 64240 if flags == "S" else 0
        return bytes(ip / TCP(sport=self.sport, dport=self.port, seq=seq, ack=ack, flags=flags, window=window,
                              options=options))[header_len:]

    def send(self, index: int) -> int:
        segment = self._segment((self._isn + index) & SEQ_MASK, "S", options=SYN_OPTIONS)
        now_ns = time.time_ns()
        self.tcp.socket.sendto(segment, (self.destination, 0))
        self.last_index = index
        self.sent_ns[index & 0xFFFF] = now_ns
        return now_ns

    def _index(self, ack_or_seq: int, offset: int) -> int | None:
        index = (ack_or_seq - offset - self._isn) & SEQ_MASK
        return index if 1 <= index <= self.last_index else None

    def receive(self, sock: socket.socket) -> list[Outcome]:
        outcomes = []
        while (received := receive(sock)) is not None:
            outcome = self._answer(received) if sock is self.tcp.socket else self._error(received)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def _answer(self, received) -> Outcome | None:
        data = received.data
        offset = 0 if self.ipv6 else (data[0] & 0x0F) * 4
        if len(data) < offset + 20:
            return None
        if not self.ipv6 and data[12:16] != self._destination_bytes:
            return None
        if self.ipv6 and ip6_bytes(received.address.split("%")[0]) != self._destination_bytes:
            return None
        tcp = data[offset:]
        sport, dport = tcp[0] << 8 | tcp[1], tcp[2] << 8 | tcp[3]
        flags = tcp[13]
        if sport != self.port or dport != self.sport or not flags & (RST | ACK):
            return None
        index = self._index(int.from_bytes(tcp[8:12], "big"), 1)
        if index is None:
            return None
        is_open = flags & (SYN | ACK) == SYN | ACK
        if is_open:  # reset the half-open connection ourselves too, whatever the kernel does
            reset = self._segment(int.from_bytes(tcp[8:12], "big"), "R")
            try:
                self.tcp.socket.sendto(reset, (self.destination, 0))
            except OSError:
                pass
        ttl = received.ttl if self.ipv6 else data[8]
        return Outcome(index, "reply", self.destination, received.ts_ns, size=len(tcp), ttl=ttl,
                       state="open" if is_open else "closed", ipv6=self.ipv6)

    def _error(self, received) -> Outcome | None:
        error = parse_error(received, self.family)
        if error is None:
            return None
        proto, tcp = error.quoted_transport
        if proto != socket.IPPROTO_TCP or len(tcp) < 8 or error.quoted_destination != self._destination_bytes:
            return None
        if (tcp[0] << 8 | tcp[1]) != self.sport or (tcp[2] << 8 | tcp[3]) != self.port:
            return None
        index = self._index(int.from_bytes(tcp[4:8], "big"), 0)
        if index is None:
            return None
        return Outcome(index, "error", error.source, error.ts_ns, icmp_type=error.icmp_type,
                       icmp_code=error.icmp_code, info=error.info, ipv6=self.ipv6)

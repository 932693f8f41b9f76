"""ICMP / ICMPv6 echo probes to one destination: requests laid out as iputils ping lays them out (a
timeval, then a fill pattern), replies matched by identifier and sequence number, echoed data
checked byte for byte, ICMP errors matched through the request they quote.

Why the hand-written reply parsing: flood ping handles tens of thousands of replies a second, so
the echo-reply path reads the few bytes it needs directly; errors (rare) go through the wire layer's
views of the quoted datagram.
"""

from __future__ import annotations

import os
import socket
import struct
import time

from rawkit.link.rawsock import ProbeSocket, bind_device, open_icmp, set_ttl
from rawkit.link.rxstamp import Received, receive, receive_error
from rawkit.stack.icmp_errors import ICMP_ERRORS, ICMPV6_ERRORS, parse_error
from rawkit.stack.outcome import Outcome
from rawkit.wire import ICMP, ICMPv6
from rawkit.wire.addresses import ip4_bytes, ip6_bytes
from rawkit.wire.checksum import ones_sum

TIMEVAL = struct.Struct("=qq")  # what iputils puts first in the data: the send time
ECHO_REQUEST = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY = {socket.AF_INET: 0, socket.AF_INET6: 129}
SEQ_SPACE = 1 << 16


def fill_data(size: int, pattern: bytes | None) -> bytes:
    """The echo data iputils sends: its byte i is pattern[i % len] (-p) or i & 0xff."""
    if pattern:
        return (pattern * (size // len(pattern) + 1))[:size]
    return bytes(i & 0xFF for i in range(size))


class EchoProbe:
    """Echo requests and their replies for one destination (one socket, raw or ping socket)."""

    def __init__(self, destination: str, family: int, *, size: int = 56, pattern: bytes | None = None,
                 ttl: int | None = None, device: str | None = None, source: str | None = None,
                 ident: int | None = None) -> None:
        self.destination = destination
        self.family = family
        self.probe_socket: ProbeSocket = open_icmp(family)
        sock = self.probe_socket.socket
        try:
            if device:
                bind_device(sock, device)
            if source:
                sock.bind((source, 0))
            if ttl is not None:
                set_ttl(sock, ttl)
            if family == socket.AF_INET:
                # without this a raw socket gets IP_MTU_DISCOVER "want": echo requests then carry DF
                sock.setsockopt(socket.IPPROTO_IP, 10, 0)  # IP_MTU_DISCOVER = IP_PMTUDISC_DONT
        except OSError:
            self.close()
            raise
        self.raw = self.probe_socket.kind == "raw"
        self.ident = (os.getpid() if ident is None else ident) & 0xFFFF
        self.timing = size >= TIMEVAL.size
        self.data = fill_data(size, pattern)
        self.last_index = 0
        self.sent_ns = [0] * SEQ_SPACE
        self._destination_bytes = (ip6_bytes if family == socket.AF_INET6 else ip4_bytes)(destination)
        self._request_type = ECHO_REQUEST[family]
        self._message = self._template()
        self._sendto = sock.sendto
        self._address = (destination, 0)
        # the kernel fills the checksum of ICMPv6 and of ping sockets; raw ICMP needs ours
        self._sum_checksum = self.raw and family == socket.AF_INET
        self._ip_header = self._sum_checksum  # raw IPv4 sockets deliver the IP header too
        self._reply_type = ECHO_REPLY[family]
        self._error_types = ICMPV6_ERRORS if family == socket.AF_INET6 else ICMP_ERRORS
        self._check_from = TIMEVAL.size if self.timing else 0
        self._expected_tail = self.data[self._check_from :]
        # the checksum of everything but the sequence number and the timeval, summed once
        tail = self.data[TIMEVAL.size :] if self.timing else self.data
        self._fixed_sum = ones_sum(bytes((self._request_type, 0)) + self.ident.to_bytes(2, "big") + tail)

    def sockets(self) -> list[socket.socket]:
        return [self.probe_socket.socket]

    def close(self) -> None:
        self.probe_socket.close()

    def set_ttl(self, ttl: int) -> None:
        set_ttl(self.probe_socket.socket, ttl)

    def _template(self) -> bytearray:
        """The request with sequence number, timeval and checksum still zero."""
        kind = ICMPv6 if self.family == socket.AF_INET6 else ICMP
        return bytearray(bytes(kind(type=self._request_type, id=self.ident, seq=0, checksum=0) / self.data))

    def send(self, index: int) -> int:
        """Send probe `index`; return its send time (CLOCK_REALTIME ns). OSError as sendto raises it.
        Only the sequence number, timeval and checksum change per probe, so little happens between
        reading the clock and the sendto."""
        message = self._message
        seq = index & 0xFFFF
        message[6] = seq >> 8
        message[7] = seq & 0xFF
        now_ns = time.time_ns()
        if self.timing:
            TIMEVAL.pack_into(message, 8, now_ns // 1_000_000_000, now_ns // 1000 % 1_000_000)
        if self._sum_checksum:
            # ones' complement sum = the number mod 0xFFFF (see wire.checksum), done inline: hot path
            total = self._fixed_sum + seq + (int.from_bytes(message[8:24], "big") if self.timing else 0)
            checksum = ~(total % 0xFFFF or 0xFFFF) & 0xFFFF
            message[2] = checksum >> 8
            message[3] = checksum & 0xFF
        self._sendto(message, self._address)
        self.last_index = index
        self.sent_ns[seq] = now_ns
        return now_ns

    def receive(self, sock: socket.socket) -> list[Outcome]:
        """Outcomes from one datagram waiting on `sock` (poll reports the socket again while more wait,
        which spares a failing recvmsg per packet in flood mode), plus queued errors of a ping socket."""
        received = receive(sock)
        outcome = self.parse(received) if received is not None else None
        if self.raw:
            return [] if outcome is None else [outcome]
        outcomes = [] if outcome is None else [outcome]
        while (queued := receive_error(sock)) is not None:  # a ping socket's ICMP errors
            if len(queued.data) >= 8 and queued.offender:
                index = self._index(queued.data[6] << 8 | queued.data[7])
                if index:
                    outcomes.append(Outcome(index, "error", queued.offender, queued.ts_ns,
                                            icmp_type=queued.icmp_type, icmp_code=queued.icmp_code,
                                            info=queued.info, ipv6=self.family == socket.AF_INET6))
        return outcomes

    def _index(self, seq: int) -> int | None:
        """The probe index a 16-bit sequence number stands for (the latest one sent with it)."""
        index = self.last_index - ((self.last_index - seq) & 0xFFFF)
        return index if index >= 1 else None

    def parse(self, received: Received) -> Outcome | None:
        data = received.data
        offset = (data[0] & 0x0F) * 4 if self._ip_header else 0
        if len(data) < offset + 8:
            return None
        kind = data[offset]
        if kind == self._reply_type:
            if self.raw and (data[offset + 4] << 8 | data[offset + 5]) != self.ident:
                return None
            index = self._index(data[offset + 6] << 8 | data[offset + 7])
            if index is None:
                return None
            ttl = data[8] if offset else received.ttl
            payload = data[offset + 8 :]
            intact = payload[self._check_from :] == self._expected_tail
            corrupted = None if intact else self._corruption(payload)
            return Outcome(index, "reply", received.address, received.ts_ns, len(data) - offset, ttl,
                           bad_byte=corrupted, data=payload, ipv6=self.family == socket.AF_INET6)
        if self.raw and kind in self._error_types:
            return self._error(received)
        return None

    def _error(self, received: Received) -> Outcome | None:
        """An ICMP error that quotes one of our echo requests."""
        error = parse_error(received, self.family)
        if error is None:
            return None
        quoted = error.quoted
        inner = quoted.icmp6 if self.family == socket.AF_INET6 else quoted.icmp
        if inner is None or error.quoted_destination != self._destination_bytes:
            return None
        if inner.type != self._request_type or inner.id != self.ident:
            return None
        index = self._index(inner.seq)
        if index is None:
            return None
        return Outcome(index, "error", error.source, error.ts_ns, icmp_type=error.icmp_type,
                       icmp_code=error.icmp_code, info=error.info, ipv6=self.family == socket.AF_INET6)

    def _corruption(self, payload: bytes) -> tuple[int, int, int] | None:
        """(offset, expected, got) of the first echoed byte that differs from what we sent."""
        start = TIMEVAL.size if self.timing else 0
        if payload[start:] == self.data[start : len(payload)]:
            return None
        for offset in range(start, min(len(payload), len(self.data))):
            if payload[offset] != self.data[offset]:
                return offset, self.data[offset], payload[offset]
        return None


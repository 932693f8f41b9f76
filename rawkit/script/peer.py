"""`Peer`: play one end of a TCP conversation segment by segment against any host of a lab, with exact
expectations — a custom handshake, a retransmission check, a firewall probe — from plain Python/pytest.

    from rawkit.script import Peer, syn, syn_ack, ack, data, fin, rst

    with Peer("p0", ip="198.18.0.1", target="198.18.0.2", target_port=8000) as peer:
        peer.send(syn(mss=1460, wscale=7, sack_ok=True, ts=True))
        peer.expect(syn_ack(ack=1, mss=1460, sack_ok=True), within=1.0)
        peer.send(ack())
        peer.send(data(b"hello"))
        peer.expect(ack(ack=6))

The peer owns `ip` on the interface (it answers ARP / neighbour solicitations for it, so the
target can reply; the kernel of its own namespace must not carry that address) and reads frames
with an AF_PACKET socket in the namespace of the thread that creates it. Numbers are relative as in
packetdrill: what the peer sends counts from `peer.isn`, what the target sends from `peer.target_isn`
(learned from the target's SYN or SYN-ACK; 0 until then, so numbers are absolute before it). Fields
left out are filled in when sending (next sequence number, the ACK of everything seen, our
window and timestamp clock) and not checked when expecting.

Timing: `within` and `after` count from the last step (the last frame the peer sent or matched,
by kernel timestamps), like packetdrill's `+` times. A frame that already waits is still judged by
its arrival time. `expect` is strict: the next segment of the connection must match (other traffic is
listed in the failure message but skipped); `strict=False` skips non-matching segments instead.
Failures raise `PeerError` (an AssertionError) with the expectation, what arrived, and the frames seen.
"""

from __future__ import annotations

import collections
import ipaddress
import os
import random
import select
import threading
import time
from typing import Any

from rawkit.link import rxstamp
from rawkit.link.rawsock import SO_TIMESTAMPNS
from rawkit.script.peer_segment import (
    ANY,
    MASK,
    Relative,
    Segment,
    ack,
    data,
    fin,
    mismatches,
    rst,
    sequence_space,
    syn,
    syn_ack,
)
from rawkit.stack.ip_link import (
    ETH_P_ARP,
    ETH_P_IPV6,
    EthernetLink,
    parse_ipv6,
    solicited_node_bytes,
)
from rawkit.stack.neighbour_discovery import (
    NEIGHBOR_ADVERTISEMENT,
    NEIGHBOR_SOLICITATION,
    PROTO_ICMPV6,
    NeighbourDiscovery,
)
from rawkit.stack.neighbours import MAX_REQUESTS, RETRY_INTERVAL, Neighbours
from rawkit.tcp import seq as seqmath
from rawkit.wire.checksum import internet_checksum, pseudo_header_sum
from rawkit.wire.ethernet import Ether
from rawkit.wire.ipv4 import FLAG_DF, IPv4
from rawkit.wire.ipv6 import IPv6
from rawkit.wire.layer import Chain
from rawkit.wire.packet import Packet, decode
from rawkit.wire.tcp import TCP

__all__ = ["ANY", "Peer", "PeerError", "Segment", "ack", "data", "fin", "rst", "syn", "syn_ack"]

EPHEMERAL_PORTS = (32768, 60999)
DEFAULT_WINDOW = 65535
HISTORY = 24                  # frames listed in a failure message
_SOCKET_TIMESTAMPS = 1
_NS = 1_000_000_000
_SOL_SOCKET = 1


class PeerError(AssertionError):
    """An expectation did not hold (or the target could not be reached); the message says how."""


def _seconds(ns: int) -> str:
    return f"{ns / _NS:+.6f} s"


class Peer:
    """One TCP endpoint at `ip` on `iface` talking to `target` (see the module docstring).
    `port` is ours (random ephemeral if None); `target_port` is learned from the first segment the
    target sends to `port` if None (the peer as server); `gateway` is the on-link next hop for an
    off-link target; `isn` our initial sequence number (random if None)."""

    def __init__(self, iface: str, ip: str, target: str, *, target_port: int | None = None,
                 port: int | None = None, gateway: str | None = None, isn: int | None = None,
                 window: int = DEFAULT_WINDOW) -> None:
        self.ip = ipaddress.ip_interface(ip).ip
        self.target = ipaddress.ip_address(target)
        if self.ip.version != self.target.version:
            raise ValueError(f"peer address {self.ip} and target {self.target} are of different families")
        self.next_hop = ipaddress.ip_address(gateway) if gateway else self.target
        self.port = port if port is not None else random.randint(*EPHEMERAL_PORTS)
        self.target_port = target_port
        self.isn = isn if isn is not None else random.getrandbits(32)
        self.target_isn: int | None = None
        self.snd_nxt = 0              # relative to isn: the next sequence number we send
        self.rcv_nxt = 0              # relative to target_isn: what we acknowledge
        self.window = window
        self.ts_recent = 0            # the target's last TSval, echoed in our TSecr
        self._ts_offset = random.getrandbits(32)
        six = self.ip.version == 6
        self._link = EthernetLink(iface, None if six else self.ip, self.ip if six else None)
        self.mac = self._link.mac
        self._link.sock.setsockopt(_SOL_SOCKET, SO_TIMESTAMPNS, _SOCKET_TIMESTAMPS)
        self._nd = NeighbourDiscovery(self.ip.packed, self.mac) if six else None
        self._table: Neighbours = self._nd or Neighbours(self.ip.packed, self.mac)
        self._nd_destinations = (self.ip.packed, solicited_node_bytes(self.ip.packed)) if six else ()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._inbox: collections.deque[Packet] = collections.deque()
        self._seen: collections.deque[Packet] = collections.deque(maxlen=HISTORY)
        self._failure: BaseException | None = None
        self._stopping = False
        self._last_ns = time.time_ns()
        self._wakeup = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._reader = threading.Thread(target=self._read_frames, name=f"rawkit-peer-{iface}", daemon=True)
        self._reader.start()

    # ------------------------------------------------------------------ steps
    def send(self, segment: Segment | Chain | bytes) -> Packet:
        """Send `segment` (fields left out filled in), or a whole Ethernet frame given as bytes or a
        wire Chain (sent as is). Returns the frame sent, decoded."""
        if isinstance(segment, Segment):
            frame = self._frame(segment)
        else:
            frame = bytes(segment)
        now = time.time_ns()              # before the send: a reply cannot come earlier
        self._link.sock.send(frame)
        sent = decode(frame, ts_ns=now)
        if sent.tcp is not None and isinstance(segment, Segment):
            end = (sent.tcp.seq - self.isn + sequence_space(sent)) & MASK
            if seqmath.gt(end, self.snd_nxt):
                self.snd_nxt = end
        self._last_ns = now
        self._seen.clear()
        return sent

    def expect(self, segment: Segment | None = None, *, within: float = 1.0, after: float | None = None,
               strict: bool = True) -> Packet:
        """Wait for the target's next segment on this connection and check it against `segment`
        (None: any segment). Returns the matching frame, decoded; raises PeerError otherwise."""
        start = self._last_ns
        deadline = start + int(within * _NS)
        earliest = start + int(after * _NS) if after is not None else None
        wanted = f"{segment.describe() if segment else 'any segment'} within {within:g} s" + \
            (f", not before {after:g} s" if after is not None else "")
        skipped: list[str] = []
        while True:
            pkt = self._next_frame(deadline)
            if pkt is None or pkt.ts_ns > deadline:
                self._put_back(pkt)                     # it belongs to the next step
                self._fail(f"expected {wanted}: nothing matching arrived", start, skipped)
            candidate = self._candidate(pkt)
            if candidate is None:
                continue
            target_isn, relative = candidate
            problems = mismatches(segment, pkt, relative) if segment is not None else []
            if earliest is not None and pkt.ts_ns < earliest:
                problems.append(f"time: arrived after {(pkt.ts_ns - start) / _NS:.4f} s, "
                                f"expected no earlier than {after:g} s")
            if not problems:
                self._accept(pkt, target_isn)
                return pkt
            report = (f"got at {_seconds(pkt.ts_ns - start)}: {pkt.summary()}\n"
                      f"  relative: {relative.describe(pkt)}\n" + "".join(f"  - {p}\n" for p in problems))
            if strict:
                self._fail(f"expected {wanted}\n{report.rstrip()}", start, [])
            skipped.append(report)

    def expect_nothing(self, for_: float = 0.5) -> None:
        """Check that the target sends nothing on this connection for `for_` seconds from now
        (frames already waiting count too)."""
        start = time.time_ns()
        deadline = start + int(for_ * _NS)
        while True:
            pkt = self._next_frame(deadline)
            if pkt is None or pkt.ts_ns > deadline:
                self._put_back(pkt)
                return
            candidate = self._candidate(pkt)
            if candidate is not None:
                self._fail(f"expected nothing for {for_:g} s, got at {_seconds(pkt.ts_ns - start)}: "
                           f"{pkt.summary()}\n  relative: {candidate[1].describe(pkt)}", start, [])

    def connect(self, within: float = 1.0, **syn_options: Any) -> Packet:
        """The usual three-way handshake as the client: SYN (with `syn_options`), SYN-ACK, ACK.
        Returns the SYN-ACK."""
        self.send(syn(**syn_options))
        reply = self.expect(syn_ack(ack=1), within=within)
        stamped = syn_options.get("ts") and reply.tcp.option("Timestamp") is not None
        self.send(ack(ts=True if stamped else None))
        return reply

    def relative(self, pkt: Packet) -> Relative:
        """A target's segment with its numbers made relative (seq to the target's ISN)."""
        return Relative.of(pkt, self.target_isn or 0, self.isn)

    def close(self) -> None:
        """Stop reading and release the socket. Sends nothing: the target keeps its state."""
        if self._stopping:
            return
        self._stopping = True
        os.eventfd_write(self._wakeup, 1)
        self._reader.join(5.0)
        self._link.close()
        os.close(self._wakeup)

    def __enter__(self) -> Peer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ matching
    def _candidate(self, pkt: Packet) -> tuple[int, Relative] | None:
        """For a segment of our connection: the target ISN it implies and its relative numbers."""
        tcp, ip = pkt.tcp, pkt.ip
        if tcp is None or ip is None or tcp.dport != self.port or ipaddress.ip_address(ip.src) != self.target:
            return None
        if self.target_port is not None and tcp.sport != self.target_port:
            return None
        target_isn = self.target_isn
        if target_isn is None:
            target_isn = tcp.seq if tcp.syn else 0
        return target_isn, Relative.of(pkt, target_isn, self.isn)

    def _accept(self, pkt: Packet, target_isn: int) -> None:
        tcp = pkt.tcp
        if self.target_isn is None and tcp.syn:
            self.target_isn = target_isn
        if self.target_port is None:
            self.target_port = tcp.sport
        end = (tcp.seq - target_isn + sequence_space(pkt)) & MASK
        if seqmath.gt(end, self.rcv_nxt):
            self.rcv_nxt = end
        stamp = tcp.option("Timestamp")
        if stamp is not None:
            self.ts_recent = stamp[0]
        self._last_ns = pkt.ts_ns
        self._seen.clear()

    def _fail(self, message: str, start: int, skipped: list[str]) -> None:
        lines = [f"Peer {self._endpoint(self.ip, self.port)} <-> "
                 f"{self._endpoint(self.target, self.target_port)}: {message}"]
        if skipped:
            lines.append("segments skipped (strict=False):")
            lines += ["  " + report.rstrip().replace("\n", "\n  ") for report in skipped]
        if self._seen:
            lines.append("frames seen since the last step:")
            lines += [f"  {_seconds(pkt.ts_ns - start)} {pkt.summary()}" for pkt in self._seen]
        else:
            lines.append("no frames seen since the last step")
        raise PeerError("\n".join(lines))

    @staticmethod
    def _endpoint(address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int | None) -> str:
        return f"{address}.{port if port is not None else '*'}"

    def _next_frame(self, deadline_ns: int) -> Packet | None:
        """The oldest waiting frame, waiting for one until `deadline_ns` (a frame waiting already is
        returned even after the deadline: its timestamp decides)."""
        with self._arrived:
            while not self._inbox:
                if self._failure is not None:
                    raise PeerError(f"the peer's reader failed: {self._failure}")
                remaining = (deadline_ns - time.time_ns()) / _NS
                if remaining <= 0 or self._stopping:
                    return None
                self._arrived.wait(remaining)
            pkt = self._inbox.popleft()
        self._seen.append(pkt)
        return pkt

    def _put_back(self, pkt: Packet | None) -> None:
        if pkt is not None:
            with self._arrived:
                self._inbox.appendleft(pkt)
            self._seen.pop()

    # ------------------------------------------------------------------ building
    def _frame(self, segment: Segment) -> bytes:
        if self.target_port is None:
            raise PeerError("target_port is not known yet: give it to Peer() or expect the target's "
                            "SYN first")
        target_isn = self.target_isn or 0
        bits = segment.bits
        seq = segment.seq if segment.seq is not None else self.snd_nxt
        if segment.ack is not None:
            ack_number = (segment.ack + target_isn) & MASK
        else:
            ack_number = (self.rcv_nxt + target_isn) & MASK if bits & 0x10 else 0
        payload = segment.payload
        if payload is ANY:
            raise ValueError("a segment to send needs a payload (bytes or a length), not ANY")
        body = bytes(payload) if isinstance(payload, int) else payload
        tcp = TCP(sport=self.port, dport=self.target_port, seq=(seq + self.isn) & MASK, ack=ack_number,
                  flags=bits, window=segment.win if segment.win is not None else self.window,
                  options=self._options(segment, target_isn))
        if self.ip.version == 4:
            ip = IPv4(src=str(self.ip), dst=str(self.target), flags=FLAG_DF, id=random.getrandbits(16))
        else:
            ip = IPv6(src=str(self.ip), dst=str(self.target))
        return bytes(Ether(dst=self._resolve(), src=self.mac) / ip / tcp / body)

    def _options(self, segment: Segment, target_isn: int) -> list[tuple[str, Any]]:
        """The option list to send: `options` as given, else Linux's layout of the named ones."""
        if segment.options is not None:
            return list(segment.options)
        for name in ("mss", "wscale", "sack_ok", "ts", "sack"):
            if getattr(segment, name) is ANY:
                raise ValueError(f"a segment to send needs a value for {name}, not ANY")
        options: list[tuple[str, Any]] = []
        if segment.mss not in (None, False):
            options.append(("MSS", segment.mss))
        stamp = None
        if isinstance(segment.ts, tuple):
            stamp = ("Timestamp", segment.ts)
        elif segment.ts:
            clock = (time.monotonic_ns() // 1_000_000 + self._ts_offset) & MASK
            stamp = ("Timestamp", (clock, self.ts_recent))
        if segment.sack_ok:
            options += [("SAckOK", b""), stamp] if stamp else [("NOP", None), ("NOP", None), ("SAckOK", b"")]
        elif stamp:
            options += [("NOP", None), ("NOP", None), stamp]
        if segment.wscale not in (None, False):
            options += [("NOP", None), ("WScale", segment.wscale)]
        if isinstance(segment.sack, tuple) and segment.sack:
            blocks = tuple(((left + target_isn) & MASK, (right + target_isn) & MASK)
                           for left, right in segment.sack)
            options += [("NOP", None), ("NOP", None), ("SAck", blocks)]
        return options

    def _resolve(self) -> bytes:
        """The next hop's MAC: known, or asked for (3 tries, 1 s apart) and waited for."""
        address = self.next_hop.packed
        with self._arrived:
            for _ in range(MAX_REQUESTS):
                mac = self._table.lookup(address, time.monotonic())
                if mac is not None:
                    return mac
                self._link.send_frame(*self._table.solicitation(address))
                deadline = time.monotonic() + RETRY_INTERVAL
                while self._table.lookup(address, time.monotonic()) is None and not self._stopping:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._arrived.wait(remaining)
            mac = self._table.lookup(address, time.monotonic())
        if mac is None:
            kind = "neighbour advertisement" if self.ip.version == 6 else "ARP reply"
            raise PeerError(f"no {kind} from {self.next_hop} after {MAX_REQUESTS} requests")
        return mac

    # ------------------------------------------------------------------ the reader thread
    def _read_frames(self) -> None:
        """Answer ARP / neighbour solicitations at once (the target may ask at any time), queue
        everything else addressed to us for `expect`."""
        poller = select.poll()
        poller.register(self._link.fileno(), select.POLLIN)
        poller.register(self._wakeup, select.POLLIN)
        try:
            while not self._stopping:
                poller.poll()
                while not self._stopping:
                    received = rxstamp.receive(self._link.sock)
                    if received is None:
                        break
                    self._on_frame(received.data, received.ts_ns)
        except BaseException as error:     # surfaced by the next expect
            with self._arrived:
                self._failure = error
                self._arrived.notify_all()

    def _on_frame(self, frame: bytes, ts_ns: int) -> None:
        if len(frame) < 14:
            return
        ethertype = int.from_bytes(frame[12:14], "big")
        with self._arrived:
            if ethertype == ETH_P_ARP:
                if self.ip.version == 4:
                    self._send_frames(self._table.handle_arp(frame[14:], time.monotonic()))
                    self._arrived.notify_all()
                return
            if ethertype == ETH_P_IPV6 and self._neighbour_discovery(frame):
                self._arrived.notify_all()
                return
            self._inbox.append(decode(frame, ts_ns=ts_ns))
            self._arrived.notify_all()

    def _neighbour_discovery(self, frame: bytes) -> bool:
        """Handle `frame` if it is a neighbour solicitation or advertisement; True if it was."""
        packet = parse_ipv6(frame[14:], self._nd_destinations)
        if self._nd is None or packet is None:
            return False
        message = packet.payload
        if packet.proto != PROTO_ICMPV6 or len(message) < 8 or \
                message[0] not in (NEIGHBOR_SOLICITATION, NEIGHBOR_ADVERTISEMENT):
            return packet.dst != self.ip.packed      # other traffic to the solicited-node group: not ours
        pseudo = pseudo_header_sum(packet.src, packet.dst, PROTO_ICMPV6, len(message))
        if internet_checksum(message, pseudo) == 0:
            self._send_frames(self._nd.handle_nd(packet, time.monotonic()))
        return True

    def _send_frames(self, frames: list[tuple[bytes, int, bytes]]) -> None:
        for mac, ethertype, payload in frames:
            self._link.send_frame(mac, ethertype, payload)

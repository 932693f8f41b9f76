"""ARP for the stack's own IPv4 address: answer requests for it, resolve peers' MACs, hold the packets
waiting for an answer (bounded) and give up after a few unanswered requests, as a kernel would.

Sans-IO like the TCP engine: `handle_arp(payload, now)` and `resolve(ip, packet, now)` return frames to
send as (destination MAC, ethertype, payload); `poll(now)` retries and expires; the stack does the I/O.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from rawkit.stack.ip_link import BROADCAST, ETH_P_ARP, ETH_P_IP

_ARP = struct.Struct("!HHBBH6s4s6s4s")
ARP_REQUEST, ARP_REPLY = 1, 2
HTYPE_ETHERNET = 1
RETRY_INTERVAL = 1.0        # Linux retrans_time_ms
MAX_REQUESTS = 3            # Linux mcast_solicit
MAX_QUEUED = 64             # packets held per unresolved neighbour (Linux unres_qlen_bytes, roughly)
REACHABLE_TIME = 300.0      # a learned entry is re-resolved after this long

Frame = tuple[bytes, int, bytes]   # destination MAC, ethertype, payload


@dataclass
class _Pending:
    queued: list[bytes] = field(default_factory=list)
    requests: int = 0
    next_request: float = 0.0


class Neighbours:
    """The ARP side of one address (`ip`, `mac` as bytes). `failed` collects IPs that never answered.
    Subclasses for other resolution protocols (IPv6 ND) replace `solicitation` and `ethertype`."""

    ethertype = ETH_P_IP
    answers = True           # False when the kernel owns the address and answers for it

    def __init__(self, ip: bytes, mac: bytes) -> None:
        self.ip = ip
        self.mac = mac
        self.cache: dict[bytes, tuple[bytes, float]] = {}
        self._pending: dict[bytes, _Pending] = {}
        self.failed: list[bytes] = []

    def lookup(self, ip: bytes, now: float) -> bytes | None:
        entry = self.cache.get(ip)
        if entry is None or entry[1] < now:
            return None
        return entry[0]

    def handle_arp(self, payload: bytes, now: float) -> list[Frame]:
        """Learn from any ARP naming us as target; answer requests for our address; release queued
        packets whose neighbour just became known."""
        if len(payload) < _ARP.size:
            return []
        fields = _ARP.unpack_from(payload)
        htype, ptype, hlen, plen, op, sender_mac, sender_ip, _target_mac, target_ip = fields
        if htype != HTYPE_ETHERNET or ptype != ETH_P_IP or hlen != 6 or plen != 4 or target_ip != self.ip:
            return []
        out = self.learn(sender_ip, sender_mac, now) if sender_ip != b"\0\0\0\0" else []
        if op == ARP_REQUEST and self.answers:
            reply = _ARP.pack(HTYPE_ETHERNET, ETH_P_IP, 6, 4, ARP_REPLY, self.mac, self.ip,
                              sender_mac, sender_ip)
            out.insert(0, (sender_mac, ETH_P_ARP, reply))
        return out

    def learn(self, ip: bytes, mac: bytes, now: float) -> list[Frame]:
        """Remember `ip` at `mac`; returns the packets that were waiting for it."""
        self.cache[ip] = (mac, now + REACHABLE_TIME)
        pending = self._pending.pop(ip, None)
        return [] if pending is None else [(mac, self.ethertype, packet) for packet in pending.queued]

    def resolve(self, ip: bytes, packet: bytes, now: float) -> list[Frame]:
        """Frames that carry `packet` to `ip`: the packet itself when the MAC is known, else an ARP
        request the first time (the packet waits, the oldest dropped beyond MAX_QUEUED)."""
        mac = self.lookup(ip, now)
        if mac is not None:
            return [(mac, self.ethertype, packet)]
        pending = self._pending.setdefault(ip, _Pending())
        pending.queued.append(packet)
        del pending.queued[:-MAX_QUEUED]
        if pending.requests == 0:
            return self._request(ip, pending, now)
        return []

    def _request(self, ip: bytes, pending: _Pending, now: float) -> list[Frame]:
        pending.requests += 1
        pending.next_request = now + RETRY_INTERVAL
        return [self.solicitation(ip)]

    def solicitation(self, ip: bytes) -> Frame:
        """The broadcast "who has `ip`" request."""
        return BROADCAST, ETH_P_ARP, _ARP.pack(HTYPE_ETHERNET, ETH_P_IP, 6, 4, ARP_REQUEST, self.mac, self.ip,
                                               bytes(6), ip)

    def poll(self, now: float) -> list[Frame]:
        """Retry unanswered requests; after MAX_REQUESTS drop the queued packets, note the IP in `failed`."""
        if not self._pending:               # the usual case, on every step of the stack
            return []
        out: list[Frame] = []
        for ip, pending in list(self._pending.items()):
            if pending.next_request > now:
                continue
            if pending.requests >= MAX_REQUESTS:
                del self._pending[ip]
                self.failed.append(ip)
            else:
                out += self._request(ip, pending, now)
        return out

    def next_deadline(self) -> float | None:
        return min((p.next_request for p in self._pending.values()), default=None)

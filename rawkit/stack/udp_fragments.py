"""IP fragmentation for UDP datagrams larger than the link MTU, sans-IO: split on send (IPv4 fragments
without DF, RFC 791; IPv6 Fragment headers, RFC 8200 4.5) and reassembly on receive.

Why only UDP: TCP segments always fit the MTU (MSS) and carry DF, and a reassembled ping would need a
fragmented reply; UDP datagrams up to 65507 bytes are what Linux sends and accepts, so rawkit's UDP
must too. Reassembly follows Linux's limits: 30 s per datagram (net.ipv4.ipfrag_time), at most
4 MiB held (ipfrag_high_thresh); overlapping fragments discard the datagram (RFC 5722).
"""

from __future__ import annotations

import os
import struct

from rawkit.stack.ip_link import IPPacket
from rawkit.wire.checksum import internet_checksum, ones_sum

PROTO_UDP = 17
PROTO_FRAGMENT = 44
MORE_FRAGMENTS = 0x2000
REASSEMBLY_TIMEOUT = 30.0
MEMORY_LIMIT = 4 << 20
MAX_DATAGRAMS = 1024
MAX_IP_PAYLOAD = 65535            # an IPv6 payload length, or an IPv4 total length with its header
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
_IPV6 = struct.Struct("!IHBB16s16s")
_FRAGMENT6 = struct.Struct("!BBHI")
DEFAULT_TTL = 64

Key = tuple[int, bytes, bytes, int, int]     # family, source, destination, protocol, identification


def ipv4_fragments(source: bytes, destination: bytes, proto: int, payload: bytes, mtu: int,
                   ident: int) -> list[bytes]:
    """Whole IPv4 packets (20-byte headers, DF clear) carrying `payload` in pieces that fit `mtu`."""
    step = (mtu - 20) // 8 * 8
    packets = []
    for offset in range(0, len(payload), step):
        piece = payload[offset:offset + step]
        flags = (offset // 8) | (MORE_FRAGMENTS if offset + step < len(payload) else 0)
        header = _IPV4.pack(0x45, 0, 20 + len(piece), ident, flags, DEFAULT_TTL, proto, 0, source,
                            destination)
        checksum = internet_checksum(header)
        packets.append(header[:10] + checksum.to_bytes(2, "big") + header[12:] + piece)
    return packets


def ipv6_fragments(source: bytes, destination: bytes, next_header: int, payload: bytes, mtu: int,
                   ident: int) -> list[bytes]:
    """Whole IPv6 packets, each with a Fragment header, carrying `payload` in pieces that fit `mtu`."""
    step = (mtu - 40 - _FRAGMENT6.size) // 8 * 8
    packets = []
    for offset in range(0, len(payload), step):
        piece = payload[offset:offset + step]
        more = 1 if offset + step < len(payload) else 0
        fragment = _FRAGMENT6.pack(next_header, 0, offset | more, ident)
        header = _IPV6.pack(6 << 28, _FRAGMENT6.size + len(piece), PROTO_FRAGMENT, DEFAULT_TTL, source,
                            destination)
        packets.append(header + fragment + piece)
    return packets


def new_ident(family: int) -> int:
    """A fresh identification: random, so datagrams of separate runs never mix at the peer."""
    return int.from_bytes(os.urandom(2 if family == 4 else 4), "big")


class _Pending:
    """The fragments of one datagram so far."""

    __slots__ = ("pieces", "end", "size", "deadline", "header")

    def __init__(self, deadline: float) -> None:
        self.pieces: dict[int, bytes] = {}
        self.end: int | None = None          # known once the last fragment (no "more") arrived
        self.size = 0
        self.deadline = deadline
        self.header = b""                    # IPv4: the first fragment's header, for ICMP quoting

    def add(self, offset: int, piece: bytes, more: bool) -> int | None:
        """Take a fragment: the bytes it added (0 for an exact duplicate), or None when the datagram
        is now invalid (overlap, conflicting end)."""
        stop = offset + len(piece)
        if self.pieces.get(offset) == piece:
            return 0
        if any(offset < start + len(held) and start < stop for start, held in self.pieces.items()):
            return None
        end = stop if not more else self.end
        if (not more and self.end is not None and self.end != stop) or \
                (end is not None and any(start + len(held) > end for start, held in self.pieces.items())) or \
                (self.end is not None and stop > self.end):
            return None
        self.end = end
        self.pieces[offset] = piece
        self.size += len(piece)
        return len(piece)

    def whole(self) -> bytes | None:
        if self.end is None or self.size != self.end:
            return None                      # no overlaps, so equal sizes mean no holes
        return b"".join(self.pieces[start] for start in sorted(self.pieces))


class Reassembly:
    """Fragments of UDP datagrams to us, per (family, source, destination, protocol, identification)."""

    def __init__(self, timeout: float = REASSEMBLY_TIMEOUT, memory_limit: int = MEMORY_LIMIT) -> None:
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.pending: dict[Key, _Pending] = {}
        self.held = 0

    def _expire(self, now: float) -> None:
        for key in [key for key, entry in self.pending.items() if entry.deadline <= now]:
            self._drop(key)

    def _drop(self, key: Key) -> None:
        entry = self.pending.pop(key, None)
        if entry is not None:
            self.held -= entry.size

    def _add(self, key: Key, offset: int, piece: bytes, more: bool, now: float) -> _Pending | None:
        """The entry, complete or not, or None when the fragment was refused."""
        self._expire(now)
        if more and len(piece) % 8:
            return None                      # every fragment but the last is a multiple of 8 long
        entry = self.pending.get(key)
        if entry is None:
            if len(self.pending) >= MAX_DATAGRAMS or self.held + len(piece) > self.memory_limit:
                return None
            entry = self.pending[key] = _Pending(now + self.timeout)
        added = entry.add(offset, piece, more) if self.held + len(piece) <= self.memory_limit else None
        if added is None:
            self._drop(key)
            return None
        self.held += added
        return entry

    def add_ipv4(self, data: bytes, ours: bytes, now: float) -> tuple[IPPacket, bytes] | None:
        """Take `data` (an IP packet after the Ethernet header) if it is a valid UDP fragment to `ours`;
        when it completes its datagram: (the whole packet, its bytes with one unfragmented header)."""
        if len(data) < 20:
            return None
        version_ihl, _tos, total, ident, fragment, _ttl, proto, _sum, src, dst = _IPV4.unpack_from(data)
        header_len = (version_ihl & 0x0F) * 4
        if version_ihl >> 4 != 4 or header_len < 20 or not header_len <= total <= len(data) or dst != ours \
                or proto != PROTO_UDP or not fragment & 0x3FFF or ones_sum(data[:header_len]) != 0xFFFF:
            return None
        offset, more = (fragment & 0x1FFF) * 8, bool(fragment & MORE_FRAGMENTS)
        piece = data[header_len:total]
        if offset + len(piece) + header_len > MAX_IP_PAYLOAD:
            return None
        key = (4, src, dst, proto, ident)
        entry = self._add(key, offset, piece, more, now)
        if entry is None:
            return None
        if offset == 0:
            entry.header = data[:header_len]
        payload = entry.whole()
        if payload is None:
            return None
        self._drop(key)
        header = entry.header
        rebuilt = header[:2] + (len(header) + len(payload)).to_bytes(2, "big") + header[4:6] + b"\0\0" + \
            header[8:10] + b"\0\0" + header[12:]
        rebuilt = rebuilt[:10] + internet_checksum(rebuilt).to_bytes(2, "big") + rebuilt[12:]
        return IPPacket(src, dst, proto, payload), rebuilt + payload

    def add_ipv6(self, packet: IPPacket, now: float) -> tuple[IPPacket, bytes] | None:
        """Take an IPv6 packet to us whose next header is a Fragment header (the stack parsed it);
        when it completes a UDP datagram: (the whole packet, its bytes under a plain IPv6 header)."""
        data = packet.payload
        if len(data) < _FRAGMENT6.size:
            return None
        next_header, _reserved, offset_more, ident = _FRAGMENT6.unpack_from(data)
        if next_header != PROTO_UDP:
            return None
        offset, more = offset_more & 0xFFF8, bool(offset_more & 1)
        piece = data[_FRAGMENT6.size:]
        if offset + len(piece) > MAX_IP_PAYLOAD:
            return None
        if offset == 0 and not more:              # an atomic fragment (RFC 6946): whole already
            payload = piece
        else:
            key = (16, packet.src, packet.dst, next_header, ident)
            entry = self._add(key, offset, piece, more, now)
            payload = entry.whole() if entry is not None else None
            if payload is None:
                return None
            self._drop(key)
        header = _IPV6.pack(6 << 28, len(payload), next_header, packet.hop_limit, packet.src, packet.dst)
        return IPPacket(packet.src, packet.dst, next_header, payload, packet.hop_limit), header + payload

"""IPv4 and IPv6 defragmentation, so that TCP/UDP analysis sees whole datagrams (as tshark does).

A fragment is held until its datagram is complete; the datagram then comes out as a new raw-IP
`Packet` stamped with the completing frame's time. Memory stays bounded: datagrams older than a
timeout (capture time) or beyond a count are dropped, and no datagram may exceed 65535 bytes.
"""

from __future__ import annotations

import struct

from rawkit.wire import LinkType, Packet, decode
from rawkit.wire.checksum import internet_checksum

OVERLAP_POLICIES = ("first", "last", "drop")
_MAX_DATAGRAM = 65535
_LINK_HEADER = {LinkType.ETHERNET: 14, LinkType.RAW: 0, LinkType.IPV4: 0, LinkType.IPV6: 0, 12: 0, 14: 0,
                LinkType.LINUX_SLL: 16, LinkType.LINUX_SLL2: 20, LinkType.NULL: 4, LinkType.LOOP: 4}


def ip_offset(pkt: Packet) -> int | None:
    """Where the IP header starts in the frame, from the link type (None: unknown link)."""
    base = _LINK_HEADER.get(pkt.linktype)
    if base is None:
        return None
    return base + 4 * len(pkt.vlans) if pkt.linktype == LinkType.ETHERNET else base


class _Pending:
    """One datagram being rebuilt: header bytes, pieces by offset, total length once known."""

    __slots__ = ("header", "pieces", "total", "first_ns", "overlapped")

    def __init__(self, first_ns: int) -> None:
        self.header: bytes | None = None
        self.pieces: dict[int, bytes] = {}
        self.total: int | None = None
        self.first_ns = first_ns
        self.overlapped = False

    def add(self, offset: int, data: bytes, policy: str) -> None:
        end = offset + len(data)
        for start, piece in self.pieces.items():
            if start < end and offset < start + len(piece):
                self.overlapped = True
                break
        if self.overlapped and policy == "first":
            # keep bytes already held: store only the parts of `data` that cover nothing yet
            for start, stop in _uncovered(offset, end, self.pieces):
                self.pieces[start] = data[start - offset : stop - offset]
            return
        if self.overlapped and policy == "last":
            self._trim_under(offset, end)
        self.pieces[offset] = data

    def _trim_under(self, offset: int, end: int) -> None:
        for start in list(self.pieces):
            piece = self.pieces.pop(start)
            stop = start + len(piece)
            if start < offset:
                self.pieces[start] = piece[: offset - start]
            if stop > end:
                self.pieces[end] = piece[end - start :]
            if stop <= offset or start >= end:
                self.pieces[start] = piece

    def assemble(self) -> bytes | None:
        """The whole payload, or None while a hole remains."""
        if self.total is None or self.header is None:
            return None
        position, parts = 0, []
        for start in sorted(self.pieces):
            piece = self.pieces[start]
            if start > position:
                return None
            if start + len(piece) > position:
                parts.append(piece[position - start :])
                position = start + len(piece)
        if position < self.total:
            return None
        return b"".join(parts)[: self.total]


def _uncovered(offset: int, end: int, pieces: dict[int, bytes]) -> list[tuple[int, int]]:
    gaps, position = [], offset
    for start in sorted(pieces):
        stop = start + len(pieces[start])
        if stop <= position or start >= end:
            continue
        if start > position:
            gaps.append((position, start))
        position = max(position, stop)
    if position < end:
        gaps.append((position, end))
    return gaps


class Defragmenter:
    """Feed every packet; get back the packet itself (not a fragment), a rebuilt datagram (last
    fragment arrived), or None (fragment held).

    `policy` says whose bytes win where fragments overlap: "first" (bytes seen first, as Wireshark),
    "last" (later fragments overwrite), or "drop" (discard the datagram, RFC 5722's rule for IPv6).
    At most `max_pending` datagrams wait (each under 64 KiB, so 64 MiB by default); the oldest go
    first, and any left `timeout_s` of capture time.
    """

    def __init__(self, policy: str = "first", timeout_s: float = 60.0, max_pending: int = 1024) -> None:
        if policy not in OVERLAP_POLICIES:
            raise ValueError(f"overlap policy must be one of {', '.join(OVERLAP_POLICIES)}")
        self.policy = policy
        self.timeout_ns = int(timeout_s * 1e9)
        self.max_pending = max_pending
        self.pending: dict[tuple, _Pending] = {}
        self.dropped = 0

    def feed(self, pkt: Packet) -> Packet | None:
        ip4 = pkt.ip4
        if ip4 is not None:
            if not ip4.is_fragment:
                return pkt
            return self._fragment4(pkt, ip4)
        ip6 = pkt.ip6
        if ip6 is not None and ip6.ext and ip6.fragment is not None:
            return self._fragment6(pkt, ip6)
        return pkt

    def _entry(self, key: tuple, now_ns: int) -> _Pending:
        entry = self.pending.get(key)
        if entry is not None and now_ns - entry.first_ns > self.timeout_ns:
            del self.pending[key]
            self.dropped += 1
            entry = None
        if entry is None:
            if len(self.pending) >= self.max_pending:
                self._expire(now_ns)
            entry = self.pending[key] = _Pending(now_ns)
        return entry

    def _expire(self, now_ns: int) -> None:
        """Drop timed-out datagrams; if none are, drop the oldest (bounded memory)."""
        stale = [key for key, entry in self.pending.items() if now_ns - entry.first_ns > self.timeout_ns]
        for key in stale or [next(iter(self.pending))]:
            del self.pending[key]
            self.dropped += 1

    def _fragment4(self, pkt: Packet, ip4) -> Packet | None:
        start = ip_offset(pkt)
        if start is None:
            return pkt
        data = pkt.data
        header_end = start + ip4.header_len
        payload = data[header_end : start + ip4.len]
        offset = ip4.frag_offset
        if offset + len(payload) > _MAX_DATAGRAM - ip4.header_len:
            return None
        key = (4, ip4.src_bytes, ip4.dst_bytes, ip4.proto, ip4.id)
        entry = self._entry(key, pkt.ts_ns)
        entry.add(offset, payload, self.policy)
        if offset == 0:
            entry.header = data[start:header_end]
        if not ip4.mf:
            entry.total = offset + len(payload)
        return self._finish(key, entry, pkt, _rebuild4)

    def _fragment6(self, pkt: Packet, ip6) -> Packet | None:
        fragment = ip6.fragment
        start = ip6.upper_off - 40 - ip6.ext_len
        data = pkt.data
        index = ip6.ext.index(fragment)
        fragment_at = start + 40 + sum(header.length for header in ip6.ext[:index])
        payload = data[fragment_at + 8 : start + 40 + ip6.plen]
        offset = fragment.offset * 8
        if offset + len(payload) > _MAX_DATAGRAM:
            return None
        key = (6, ip6.src_bytes, ip6.dst_bytes, fragment.id)
        entry = self._entry(key, pkt.ts_ns)
        entry.add(offset, payload, self.policy)
        if offset == 0:
            # unfragmentable part, with the header before the fragment header now naming what it held
            head = bytearray(data[start:fragment_at])
            head[6 if index == 0 else fragment_at - start - ip6.ext[index - 1].length] = data[fragment_at]
            entry.header = bytes(head)
        if not fragment.m:
            entry.total = offset + len(payload)
        return self._finish(key, entry, pkt, _rebuild6)

    def _finish(self, key: tuple, entry: _Pending, pkt: Packet, rebuild) -> Packet | None:
        if entry.overlapped and self.policy == "drop":
            del self.pending[key]
            self.dropped += 1
            return None
        payload = entry.assemble()
        if payload is None:
            return None
        del self.pending[key]
        datagram = rebuild(entry.header, payload)
        return decode(datagram, LinkType.RAW, pkt.ts_ns, len(datagram))


def _rebuild4(header: bytes, payload: bytes) -> bytes:
    fixed = bytearray(header)
    struct.pack_into("!H", fixed, 2, len(header) + len(payload))
    fixed[6:8] = fixed[10:12] = b"\x00\x00"
    fixed[10:12] = internet_checksum(bytes(fixed)).to_bytes(2, "big")
    return bytes(fixed) + payload


def _rebuild6(header: bytes, payload: bytes) -> bytes:
    fixed = bytearray(header)
    struct.pack_into("!H", fixed, 4, len(header) - 40 + len(payload))
    return bytes(fixed) + payload

"""TCP byte-stream reassembly for one connection, both directions, as `tshark -z follow,tcp` does it.

Bytes come out in sequence order, each at most once: a retransmission adds nothing, an overlap adds
only the bytes beyond what was already delivered (first copy wins), a segment from the future waits
until the hole before it fills. The SYN fixes where a direction starts (else its first segment
does); nothing past the FIN is delivered. Held-back segments are bounded in bytes.

A hole the capture missed for good shows when the peer acknowledges past it: the reassembler then
gives a `Gap` (how many bytes are missing) and carries on with what it held, as tshark does.
"""

from __future__ import annotations

_MOD = 1 << 32
_HALF = 1 << 31
_SYN, _FIN = 0x02, 0x01
MAX_HELD_BYTES = 16 << 20


class Gap(int):
    """A chunk standing for this many bytes that the peer acknowledged but the capture lacks."""


def _distance(a: int, b: int) -> int:
    """a - b in sequence space, as a signed number."""
    diff = (a - b) % _MOD
    return diff - _MOD if diff >= _HALF else diff


class _Side:
    __slots__ = ("next_seq", "held", "held_bytes", "fin_seq", "delivered")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.held: dict[int, bytes] = {}
        self.held_bytes = 0
        self.fin_seq: int | None = None
        self.delivered = 0


class TcpReassembler:
    """`feed(forward, seq, flags, payload)` returns the chunks that became deliverable, in order, for
    that direction (forward: from endpoint a)."""

    def __init__(self) -> None:
        self.sides = (_Side(), _Side())

    def acked(self, forward: bool, ack: int) -> list[bytes | Gap]:
        """The peer of direction `forward` acknowledged up to `ack`: if that passes a hole, declare
        the hole missing and deliver what was held after it. Call before feeding the ACK's segment."""
        side = self.sides[0 if forward else 1]
        if side.next_seq is None:
            return []
        target = ack
        if side.fin_seq is not None and _distance(target, side.fin_seq) > 0:
            target = side.fin_seq  # the FIN's own sequence number is no missing byte
        for seq in side.held:
            if 0 < _distance(seq, side.next_seq) < _distance(target, side.next_seq):
                target = seq
        missing = _distance(target, side.next_seq)
        if missing <= 0:
            return []
        chunks: list[bytes | Gap] = [Gap(missing)]
        side.next_seq = target % _MOD
        self._drain(side, chunks)
        return chunks

    def feed(self, forward: bool, seq: int, flags: int, payload: bytes) -> list[bytes | Gap]:
        side = self.sides[0 if forward else 1]
        if flags & _SYN:
            seq = (seq + 1) % _MOD  # the SYN takes one sequence number; data on it follows
            if side.next_seq is None:
                side.next_seq = seq
        if flags & _FIN and side.fin_seq is None:
            side.fin_seq = (seq + len(payload)) % _MOD
        if not payload:
            return []
        if side.next_seq is None:
            side.next_seq = seq
        if side.fin_seq is not None:
            room = _distance(side.fin_seq, seq)
            if room <= 0:
                return []
            payload = payload[:room]
        chunks: list[bytes] = []
        ahead = _distance(seq, side.next_seq)
        if ahead > 0:
            self._hold(side, seq, payload)
            return chunks
        self._take(side, ahead, payload, chunks)
        self._drain(side, chunks)
        return chunks

    @staticmethod
    def _hold(side: _Side, seq: int, payload: bytes) -> None:
        known = side.held.get(seq)
        if known is not None and len(known) >= len(payload):
            return
        if side.held_bytes + len(payload) > MAX_HELD_BYTES:
            return
        side.held_bytes += len(payload) - (len(known) if known else 0)
        side.held[seq] = payload

    @staticmethod
    def _take(side: _Side, ahead: int, payload: bytes, chunks: list[bytes]) -> None:
        """Deliver what `payload` (starting `ahead` <= 0 bytes from next_seq) adds beyond next_seq."""
        fresh = payload[-ahead:] if ahead else payload
        if fresh:
            chunks.append(fresh)
            side.next_seq = (side.next_seq + len(fresh)) % _MOD
            side.delivered += len(fresh)

    def _drain(self, side: _Side, chunks: list[bytes]) -> None:
        while side.held:
            ready = [seq for seq in side.held if _distance(seq, side.next_seq) <= 0]
            if not ready:
                return
            for seq in sorted(ready, key=lambda held_seq: _distance(held_seq, side.next_seq)):
                payload = side.held.pop(seq)
                side.held_bytes -= len(payload)
                ahead = _distance(seq, side.next_seq)
                if ahead + len(payload) > 0:
                    self._take(side, ahead, payload, chunks)

"""Per-connection TCP health: handshake RTT, retransmissions, out-of-order segments, duplicate ACKs,
zero windows, resets and the state the connection ended in.

The rules follow Wireshark's TCP analysis closely enough to agree on ordinary captures: a segment
that starts below the highest sequence number seen is a retransmission, unless it fills a hole
within one handshake RTT (3 ms when unknown) of the segment that opened it, then it is out of order.
"""

from __future__ import annotations

_FIN, _SYN, _RST, _ACK = 0x01, 0x02, 0x04, 0x10
_MOD = 1 << 32
_HALF = 1 << 31
_DEFAULT_REORDER_NS = 3_000_000
_MAX_HOLES = 32


def seq_after(a: int, b: int) -> bool:
    """a > b in sequence space (mod 2^32)."""
    return 0 < (a - b) % _MOD < _HALF


class _Direction:
    __slots__ = ("max_end", "advanced_ns", "last_ack", "last_window", "holes", "fin")

    def __init__(self) -> None:
        self.max_end: int | None = None
        self.advanced_ns = 0
        self.last_ack: int | None = None
        self.last_window: int | None = None
        self.holes: list[tuple[int, int]] = []
        self.fin = False


class TcpHealth:
    """Fed every segment of one connection, with `forward` True for segments from endpoint a."""

    __slots__ = ("syn_ns", "synack_ns", "handshake_rtt_ns", "retransmissions", "out_of_order", "dup_acks",
                 "zero_windows", "resets", "_dirs", "_data_seen")

    def __init__(self) -> None:
        self.syn_ns: int | None = None
        self.synack_ns: int | None = None
        self.handshake_rtt_ns: int | None = None
        self.retransmissions = self.out_of_order = self.dup_acks = self.zero_windows = self.resets = 0
        self._dirs = (_Direction(), _Direction())
        self._data_seen = False

    def update(self, forward: bool, seq: int, ack: int, flags: int, window: int, payload_len: int,
               ts_ns: int) -> None:
        mine, theirs = (self._dirs[0], self._dirs[1]) if forward else (self._dirs[1], self._dirs[0])
        if flags & _RST:
            self.resets += 1
        if flags & _SYN:
            if flags & _ACK:
                if self.synack_ns is None:
                    self.synack_ns = ts_ns
            elif self.syn_ns is None:
                self.syn_ns = ts_ns
        elif flags & _ACK and self.handshake_rtt_ns is None and self.syn_ns is not None:
            # as Wireshark's initial RTT: SYN to the first ACK after it that is not a SYN (the third
            # packet of the handshake, or the RST that refuses it)
            self.handshake_rtt_ns = ts_ns - self.syn_ns
        if flags & _FIN:
            mine.fin = True
        if payload_len:
            self._data_seen = True
        length = payload_len + (flags & _SYN and 1) + (flags & _FIN and 1)
        if length:
            self._sequence(mine, seq, (seq + length) % _MOD, ts_ns)
        elif flags & _ACK and not flags & (_RST | _SYN | _FIN):
            if (ack == mine.last_ack and window == mine.last_window and theirs.max_end is not None
                    and theirs.max_end != ack):
                self.dup_acks += 1
        if window == 0 and not flags & (_RST | _SYN | _FIN):
            self.zero_windows += 1
        if flags & _ACK:
            mine.last_ack = ack
            mine.last_window = window

    def _sequence(self, mine: _Direction, seq: int, end: int, ts_ns: int) -> None:
        if mine.max_end is None:
            mine.max_end, mine.advanced_ns = end, ts_ns
            return
        if seq_after(mine.max_end, seq):
            reorder_ns = self.handshake_rtt_ns or _DEFAULT_REORDER_NS
            if _fills_hole(mine.holes, seq, end) and ts_ns - mine.advanced_ns < reorder_ns:
                self.out_of_order += 1
            else:
                self.retransmissions += 1
        elif seq_after(seq, mine.max_end) and len(mine.holes) < _MAX_HOLES:
            mine.holes.append((mine.max_end, seq))
        if seq_after(end, mine.max_end):
            mine.max_end, mine.advanced_ns = end, ts_ns

    def state(self) -> str:
        """How the connection ended: reset, closed, half-closed, established, syn-received, syn-sent,
        or mid-stream (no handshake seen)."""
        if self.resets:
            return "reset"
        fins = self._dirs[0].fin + self._dirs[1].fin
        if fins == 2:
            return "closed"
        if fins == 1:
            return "half-closed"
        if self.synack_ns is not None and (self.handshake_rtt_ns is not None or self._data_seen):
            return "established"
        if self.synack_ns is not None:
            return "syn-received"
        if self.syn_ns is not None:
            return "syn-sent"
        return "mid-stream"

    def as_dict(self) -> dict:
        rtt = self.handshake_rtt_ns
        return {"handshake_rtt": None if rtt is None else rtt / 1e9, "retransmissions": self.retransmissions,
                "out_of_order": self.out_of_order, "dup_acks": self.dup_acks,
                "zero_windows": self.zero_windows, "resets": self.resets, "state": self.state()}


def _fills_hole(holes: list[tuple[int, int]], seq: int, end: int) -> bool:
    """Whether [seq, end) covers bytes of a recorded hole; shrink or remove the holes it fills."""
    for index, (start, stop) in enumerate(holes):
        if seq_after(stop, seq) and seq_after(end, start):
            remaining = [piece for piece in ((start, seq), (end, stop)) if seq_after(piece[1], piece[0])]
            holes[index : index + 1] = remaining
            return True
    return False

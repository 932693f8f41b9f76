"""The sender's SACK scoreboard for loss recovery (RFC 6675), with D-SACK (RFC 2883) recognised.

The peer's SACK blocks say which bytes above SND.UNA it holds. From them the scoreboard answers the
three questions of RFC 6675: which bytes are lost (IsLost: enough data SACKed above them), how much
is still in the network (SetPipe), and what to send next (NextSeg rules 1 and 3). Ranges are kept as
absolute sequence numbers and compared as offsets from SND.UNA, so wrap-around costs nothing.
"""

from __future__ import annotations

from rawkit.tcp import seq

DUPTHRESH = 3
MAX_RANGES = 64       # the peer reports at most 4 blocks per ACK; this bounds a lying or reneging one


class Scoreboard:
    __slots__ = ("ranges", "high_rxt", "dsacks", "dupthresh", "resent", "relost")

    def __init__(self) -> None:
        self.ranges: list[tuple[int, int]] = []   # SACKed [left, right), disjoint, in sequence order
        self.high_rxt = 0                         # end of the highest byte retransmitted in this recovery
        self.dsacks = 0                           # duplicate-SACK reports seen (RFC 2883), ignored
        self.dupthresh = DUPTHRESH                # raised when reordering is seen (undo.py)
        self.resent: list[tuple[int, int, int]] = []   # retransmitted [start, end) and SND.MAX then
        self.relost: list[tuple[int, int]] = []        # retransmissions found lost, to send again

    def update(self, blocks: tuple[tuple[int, int], ...], ack: int, snd_una: int, snd_max: int) -> int:
        """Fold in an ACK's SACK blocks; returns how many bytes were newly SACKed. A first block at
        or below the cumulative ACK, or inside the second block, is a D-SACK: it reports a duplicate
        arrival, not new data, so it is counted and otherwise left alone."""
        if blocks and (seq.le(blocks[0][1], ack) or (len(blocks) > 1 and seq.ge(blocks[0][0], blocks[1][0])
                                                     and seq.le(blocks[0][1], blocks[1][1]))):
            self.dsacks += 1
            blocks = blocks[1:]
        self.advance(snd_una)
        before = self.sacked_below(snd_una, seq.distance(snd_max, snd_una))
        outstanding = seq.distance(snd_max, snd_una)
        spans = [(self._offset(left, snd_una), self._offset(right, snd_una)) for left, right in self.ranges]
        for left, right in blocks:
            start, end = max(seq.delta(left, snd_una), 0), min(seq.delta(right, snd_una), outstanding)
            if start < end:
                spans.append((start, end))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        self.ranges = [(seq.add(snd_una, start), seq.add(snd_una, end))
                       for start, end in merged[-MAX_RANGES:]]
        return self.sacked_below(snd_una, outstanding) - before

    def advance(self, snd_una: int) -> None:
        """The cumulative ACK moved: forget what it covers."""
        kept = []
        for left, right in self.ranges:
            if seq.gt(right, snd_una):
                kept.append((left if seq.gt(left, snd_una) else snd_una, right))
        self.ranges = kept
        if seq.lt(self.high_rxt, snd_una):
            self.high_rxt = snd_una
        if self.resent and seq.le(self.resent[0][1], snd_una):
            self.resent = [mark for mark in self.resent if seq.gt(mark[1], snd_una)]
        if self.relost and seq.le(self.relost[0][1], snd_una):
            self.relost = [hole for hole in self.relost if seq.gt(hole[1], snd_una)]

    def clear(self, snd_una: int) -> None:
        """After a timeout SACK information is not trusted any more (the receiver may renege)."""
        self.ranges = []
        self.high_rxt = snd_una
        self.resent = []
        self.relost = []

    def find_lost_retransmissions(self, snd_una: int, mss: int) -> None:
        """A retransmission is lost when more than (DupThresh - 1) * MSS of data sent after it was
        SACKed while it was not (Linux's lost-retransmit rule, RACK's idea without per-segment times):
        without this only the RTO would resend it. Found ones move to `relost`."""
        if not self.ranges:
            return
        top, kept = self.ranges[-1][1], []
        for start, end, sent_max in self.resent:
            if seq.le(end, snd_una):
                continue
            after = self.sacked_below(snd_una, self._offset(top, snd_una)) \
                - self.sacked_below(snd_una, self._offset(sent_max, snd_una))
            if after <= (self.dupthresh - 1) * mss:
                kept.append((start, end, sent_max))
            elif not any(seq.le(left, start) and seq.ge(right, end) for left, right in self.ranges):
                self.relost.append((start, end))
        self.resent = kept

    # ---------------------------------------------------------------- RFC 6675 section 4
    def sacked_below(self, snd_una: int, offset: int) -> int:
        """SACKed bytes between SND.UNA and SND.UNA + offset."""
        total = 0
        for left, right in self.ranges:
            start, end = self._offset(left, snd_una), min(self._offset(right, snd_una), offset)
            if end > start:
                total += end - start
        return total

    def lost_edge(self, snd_una: int, mss: int) -> int:
        """Offset from SND.UNA below which every un-SACKed byte IsLost: above it lie DupThresh
        SACKed ranges or more than (DupThresh - 1) * MSS SACKed bytes. 0: nothing is lost."""
        above = count = 0
        for left, right in reversed(self.ranges):
            above += seq.distance(right, left)
            count += 1
            if above > (self.dupthresh - 1) * mss or count >= self.dupthresh:
                return self._offset(left, snd_una)
        return 0

    def early_retransmit(self, snd_una: int, snd_max: int, mss: int) -> bool:
        """RFC 5827 (SACK form): with fewer than DupThresh + 1 segments outstanding and nothing new to
        send, DupThresh SACKed segments can never come; oseg - 1 of them mark the first hole lost."""
        outstanding = -(-seq.distance(snd_max, snd_una) // mss)
        if not self.ranges or not 2 <= outstanding <= self.dupthresh:
            return False
        return -(-self.sacked_below(snd_una, seq.distance(snd_max, snd_una)) // mss) >= outstanding - 1

    def pipe(self, snd_una: int, snd_max: int, mss: int) -> int:
        """SetPipe: un-SACKed bytes not yet lost, plus those retransmitted (each may be in flight)."""
        outstanding = seq.distance(snd_max, snd_una)
        edge = self.lost_edge(snd_una, mss)
        lost = edge - self.sacked_below(snd_una, edge)
        rxt = max(seq.delta(self.high_rxt, snd_una), 0)
        retransmitted = rxt - self.sacked_below(snd_una, rxt)
        return outstanding - self.sacked_below(snd_una, outstanding) - lost + retransmitted

    def next_hole(self, snd_una: int, snd_max: int, mss: int, *, lost_only: bool) -> tuple[int, int] | None:
        """NextSeg: (sequence, length) of the first un-SACKed bytes past HighRxt that are lost (rule 1),
        or, with lost_only False, that merely have SACKed data above them (rule 3). None: nothing."""
        if not self.ranges:
            return None
        limit = self.lost_edge(snd_una, mss) if lost_only else self._offset(self.ranges[-1][0], snd_una)
        point = max(seq.delta(self.high_rxt, snd_una), 0)
        for left, right in self.ranges:
            start, end = self._offset(left, snd_una), self._offset(right, snd_una)
            if point < start:
                hole_end = min(start, limit)
                if point < hole_end:
                    return seq.add(snd_una, point), min(mss, hole_end - point)
                return None
            point = max(point, end)
        return None

    @staticmethod
    def _offset(number: int, snd_una: int) -> int:
        return seq.distance(number, snd_una)

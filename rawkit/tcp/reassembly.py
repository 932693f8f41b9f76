"""The out-of-order queue: data that arrived beyond RCV.NXT, merged into ranges, bounded in count
and in bytes.

When a bound is hit the data farthest from RCV.NXT goes first (Linux prunes its out-of-order queue
from the tail too): the bytes next to the hole are the ones a retransmission will soon make
deliverable, while the far ones are cheapest for the peer to send again. Dropping them is always
safe: nothing out of order has been acknowledged (SACK is advisory, RFC 2018), the sender resends.

It also remembers which ranges changed most recently, because RFC 2018 wants the first SACK block
to report the block holding the latest segment and the others to repeat recent blocks.
"""

from __future__ import annotations

from bisect import bisect_left

from rawkit.tcp import seq


class Reassembly:
    __slots__ = ("ranges", "max_ranges", "max_bytes", "buffered", "dropped", "_recent")

    def __init__(self, max_ranges: int, max_bytes: int = 1 << 30) -> None:
        self.ranges: list[tuple[int, bytearray]] = []   # (start seq, data), in sequence order, disjoint
        self.max_ranges = max_ranges
        self.max_bytes = max_bytes
        self.buffered = 0                               # bytes held
        self.dropped = 0                                # bytes refused or pruned to stay in bounds
        self._recent: list[int] = []                    # sequence numbers of recent arrivals, newest first

    def __len__(self) -> int:
        return len(self.ranges)

    def add(self, start: int, data: bytes, rcv_nxt: int) -> int:
        """Store `data` at `start` (after rcv_nxt); returns how many of its bytes are now held."""
        offsets = [seq.distance(s, rcv_nxt) for s, _ in self.ranges]
        offset, end = seq.distance(start, rcv_nxt), seq.distance(start, rcv_nxt) + len(data)
        index = bisect_left(offsets, offset)
        if index and offsets[index - 1] + len(self.ranges[index - 1][1]) >= offset:
            index -= 1                                  # touches or overlaps the range before it
        merged_offset, merged = offset, bytearray(data)
        last, replaced = index, 0
        while last < len(self.ranges) and offsets[last] <= end:
            existing_offset, existing = offsets[last], self.ranges[last][1]
            replaced += len(existing)
            if existing_offset < merged_offset:         # keep what we had, append the new tail
                existing += merged[existing_offset + len(existing) - merged_offset:]
                merged_offset, merged = existing_offset, existing
            elif existing_offset + len(existing) > merged_offset + len(merged):
                merged += existing[merged_offset + len(merged) - existing_offset:]
            last += 1
        self.buffered += len(merged) - replaced
        self.ranges[index:last] = [(seq.add(rcv_nxt, merged_offset), merged)]
        self._recent = [start] + [s for s in self._recent if s != start][:7]
        return len(data) - self._prune(start, len(data), rcv_nxt)

    def _prune(self, start: int, length: int, rcv_nxt: int) -> int:
        """Trim from the far end until both bounds hold; returns how many bytes of the newly added
        segment [start, start + length) were among those trimmed."""
        new_end = seq.distance(start, rcv_nxt) + length
        lost_new = 0
        while self.ranges and (self.buffered > self.max_bytes or len(self.ranges) > self.max_ranges):
            range_start, data = self.ranges[-1]
            offset = seq.distance(range_start, rcv_nxt)
            excess = self.buffered - self.max_bytes if len(self.ranges) <= self.max_ranges else len(data)
            cut = min(excess, len(data))
            keep = len(data) - cut
            lost_new += max(0, min(new_end, offset + len(data)) - max(new_end - length, offset + keep))
            if keep:
                del data[keep:]
            else:
                self.ranges.pop()
            self.buffered -= cut
            self.dropped += cut
        return lost_new

    def pop_ready(self, rcv_nxt: int) -> bytes:
        """Remove and return the bytes that now continue the stream at rcv_nxt."""
        out = bytearray()
        while self.ranges:
            start, data = self.ranges[0]
            ahead = seq.delta(start, seq.add(rcv_nxt, len(out)))
            if ahead > 0:
                break
            self.ranges.pop(0)
            self.buffered -= len(data)
            if -ahead < len(data):
                out += data[-ahead:]
        return bytes(out)

    def sack_blocks(self, limit: int) -> tuple[tuple[int, int], ...]:
        """Up to `limit` (left, right) blocks, the one holding the newest arrival first."""
        blocks: list[tuple[int, int]] = []
        for point in self._recent:
            for start, data in self.ranges:
                block = (start, seq.add(start, len(data)))
                if seq.in_window(point, start, len(data)) and block not in blocks:
                    blocks.append(block)
                    break
        for start, data in self.ranges:
            block = (start, seq.add(start, len(data)))
            if block not in blocks:
                blocks.append(block)
        return tuple(blocks[:limit])

    def clear(self) -> None:
        self.ranges.clear()
        self._recent.clear()
        self.buffered = 0

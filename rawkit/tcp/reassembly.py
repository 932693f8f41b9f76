"""The out-of-order queue: data that arrived beyond RCV.NXT, merged into ranges, bounded in count.

It also remembers which ranges changed most recently, because RFC 2018 wants the first SACK block
to report the block holding the latest segment and the others to repeat recent blocks.
"""

from __future__ import annotations

from rawkit.tcp import seq


class Reassembly:
    __slots__ = ("ranges", "max_ranges", "_recent")

    def __init__(self, max_ranges: int) -> None:
        self.ranges: list[tuple[int, bytes]] = []   # (start seq, data), in sequence order, disjoint
        self.max_ranges = max_ranges
        self._recent: list[int] = []                # sequence numbers of recent arrivals, newest first

    def __len__(self) -> int:
        return len(self.ranges)

    @property
    def buffered(self) -> int:
        return sum(len(data) for _, data in self.ranges)

    def add(self, start: int, data: bytes, rcv_nxt: int) -> bool:
        """Store `data` at `start` (after rcv_nxt). False when it would exceed the range bound."""
        items = sorted([(seq.distance(s, rcv_nxt), d) for s, d in self.ranges]
                       + [(seq.distance(start, rcv_nxt), bytes(data))], key=lambda item: item[0])
        merged: list[tuple[int, bytes]] = []
        for offset, chunk in items:
            if merged and offset <= merged[-1][0] + len(merged[-1][1]):
                last_offset, last = merged[-1]
                end = last_offset + len(last)
                if offset + len(chunk) > end:
                    merged[-1] = (last_offset, last + chunk[end - offset:])
            else:
                merged.append((offset, chunk))
        if len(merged) > self.max_ranges:
            return False
        self.ranges = [(seq.add(rcv_nxt, offset), chunk) for offset, chunk in merged]
        self._recent = [start] + [s for s in self._recent if s != start][:7]
        return True

    def pop_ready(self, rcv_nxt: int) -> bytes:
        """Remove and return the bytes that now continue the stream at rcv_nxt."""
        out = b""
        while self.ranges:
            start, data = self.ranges[0]
            ahead = seq.delta(start, seq.add(rcv_nxt, len(out)))
            if ahead > 0:
                break
            self.ranges.pop(0)
            if -ahead < len(data):
                out += data[-ahead:]
        return out

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

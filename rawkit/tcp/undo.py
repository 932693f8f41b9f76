"""Spurious retransmissions found with timestamps and undone (Eifel: RFC 3522 detection, RFC 4015
response), and the reordering degree they reveal.

A reordered segment looks lost to the duplicate-ACK and SACK rules, and a late ACK looks like a
timeout; each costs a window reduction that nothing justified. With timestamps the first ACK that
moves SND.UNA after a retransmission tells which copy arrived: the receiver echoes the TSval of the
segment that filled the hole, so an echo older than our first retransmission means the original got
there. Then the reduction is undone and, for a fast recovery, the reordering distance seen becomes
the new duplicate threshold (as Linux's tp->reordering), so the same reordering is not taken for a
loss again.
"""

from __future__ import annotations

from rawkit.tcp import seq

MAX_REORDERING = 300          # Linux's tcp_max_reordering: bound on the adaptive threshold (segments)


class LossEpisode:
    """One loss response awaiting its verdict: when we first retransmitted and from where."""

    __slots__ = ("tsval", "head", "timeout")

    def __init__(self, tsval: int, head: int, timeout: bool) -> None:
        self.tsval = tsval            # our TSval on the first retransmission of the episode
        self.head = head              # SND.UNA when it began
        self.timeout = timeout        # an RTO (else a fast recovery) took part

    def spurious(self, tsecr: int | None) -> bool:
        """RFC 3522 3.2: the ACK echoes a timestamp older than the retransmission's."""
        return tsecr is not None and tsecr != 0 and seq.lt(tsecr, self.tsval)


def reordering_degree(ranges: list[tuple[int, int]], head: int, mss: int) -> int:
    """Segments the peer SACKed above `head` before `head` itself arrived: how far it was reordered."""
    if not ranges:
        return 0
    return min(seq.distance(ranges[-1][1], head) // max(mss, 1), MAX_REORDERING)

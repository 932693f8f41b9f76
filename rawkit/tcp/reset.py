"""The reply to a segment that reaches no connection (RFC 9293 section 3.10.7.1, state CLOSED)."""

from __future__ import annotations

from rawkit.tcp import seq
from rawkit.tcp.segment import ACK, RST, Segment


def reset_for(segment: Segment) -> Segment | None:
    """The RST a closed port sends back, or None when the segment is itself a RST.

    With an ACK the reset borrows the peer's ACK number as its sequence number; without one it
    acknowledges everything the offending segment occupied, so the peer accepts it."""
    if segment.rst:
        return None
    if segment.has_ack:
        return Segment(segment.dport, segment.sport, segment.ack, 0, RST)
    return Segment(segment.dport, segment.sport, 0, seq.add(segment.seq, segment.seq_len), RST | ACK)

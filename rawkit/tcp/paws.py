"""PAWS, protection against wrapped sequence numbers (RFC 7323 section 5).

On a fast path the 32-bit sequence space wraps within a segment lifetime, so an old duplicate can
look in-window. Its timestamp gives it away: older than TS.Recent, the newest timestamp we took from
the peer. TS.Recent itself expires after 24 days of silence (5.5), because the peer's timestamp clock
(at least 1 ms per tick) may have wrapped meanwhile and every honest segment would then look old.
"""

from __future__ import annotations

from rawkit.tcp import seq

TS_RECENT_LIFETIME = 24 * 24 * 3600.0      # seconds: the "24-day rule"


def is_old_duplicate(tsval: int, ts_recent: int | None, ts_recent_at: float, now: float) -> bool:
    """PAWS rule R1: TSval is before TS.Recent and TS.Recent is still valid."""
    return ts_recent is not None and now - ts_recent_at < TS_RECENT_LIFETIME and seq.lt(tsval, ts_recent)

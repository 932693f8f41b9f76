"""Retransmission timeout estimation (RFC 6298): SRTT/RTTVAR smoothing with clamping."""

from __future__ import annotations

CLOCK_GRANULARITY = 0.001   # seconds; the G of RFC 6298 (timestamps tick in milliseconds)


class RttEstimator:
    """Keeps SRTT and RTTVAR; `rto` is the base timeout before exponential backoff."""

    __slots__ = ("srtt", "rttvar", "rto", "min_rto", "max_rto")

    def __init__(self, initial_rto: float, min_rto: float, max_rto: float) -> None:
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.rto = initial_rto
        self.min_rto = min_rto
        self.max_rto = max_rto

    def sample(self, rtt: float) -> None:
        """Fold in one measurement (never from a retransmitted segment: Karn's rule is the caller's)."""
        rtt = max(rtt, 0.0)
        if self.srtt is None:
            self.srtt = rtt
            self.rttvar = rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        self.rto = min(max(self.srtt + max(CLOCK_GRANULARITY, 4 * self.rttvar), self.min_rto), self.max_rto)

"""CUBIC congestion avoidance (RFC 9438), Linux's default controller.

After a loss the window follows a cubic curve of the time since that loss: steep far below the
window where the loss happened (W_max), flat near it, probing faster again beyond it. So the growth
depends on time, not on how fast ACKs come back, and long fat paths refill their window quickly.
A Reno estimate runs beside it so CUBIC is never slower than Reno would be on short paths.
Windows are counted in segments (floats) here, as in the RFC; the caller speaks bytes.
"""

from __future__ import annotations

C = 0.4                                  # RFC 9438 4.2: aggressiveness of the curve
BETA = 0.7                               # RFC 9438 4.6: multiplicative decrease
ALPHA = 3 * (1 - BETA) / (1 + BETA)      # RFC 9438 4.3: Reno-friendly additive increase


def cubic_window(elapsed: float, k: float, w_max: float) -> float:
    """W_cubic(t) = C * (t - K)^3 + W_max (RFC 9438 eq. 1), in segments."""
    return C * (elapsed - k) ** 3 + w_max


def time_to_origin(w_max: float, cwnd_epoch: float) -> float:
    """K = cbrt((W_max - cwnd_epoch) / C) (RFC 9438 eq. 2): seconds until the curve is back at W_max."""
    return ((w_max - cwnd_epoch) / C) ** (1 / 3) if w_max > cwnd_epoch else 0.0


class Cubic:
    """The controller's memory between losses: W_max, the epoch start, K and the Reno estimate."""

    name = "cubic"
    __slots__ = ("w_max", "cwnd_prior", "k", "epoch_start", "w_est", "_carry")

    def __init__(self) -> None:
        self.w_max = 0.0                 # window (segments) just before the last reduction
        self.cwnd_prior = 0.0
        self.k = 0.0
        self.epoch_start: float | None = None   # start of this congestion-avoidance stage
        self.w_est = 0.0                 # what Reno would have by now (segments)
        self._carry = 0.0                # sub-byte growth not yet added to the integer window

    def on_loss(self, cwnd: int, flight: int, mss: int, now: float) -> int:
        """A congestion event: remember W_max (with fast convergence, 4.7) and return ssthresh
        = cwnd * beta (4.6; cwnd rather than flight size, as Linux: robust when app-limited)."""
        segments = cwnd / mss
        self.w_max = segments * (1 + BETA) / 2 if segments < self.w_max else segments
        self.cwnd_prior = segments
        self.epoch_start = None
        return max(int(cwnd * BETA), 2 * mss)

    def grow(self, cwnd: int, acked: int, mss: int, now: float, srtt: float | None) -> int:
        """The window after `acked` bytes were newly acknowledged in congestion avoidance (4.2-4.5)."""
        segments = cwnd / mss
        if self.epoch_start is None:
            self.epoch_start = now
            self.w_est = segments
            self._carry = 0.0
            if self.w_max <= segments:   # no loss yet, or already past it: the curve starts here
                self.w_max = segments
            self.k = time_to_origin(self.w_max, segments)
        acked_segments = acked / mss
        alpha = ALPHA if self.w_est < self.cwnd_prior else 1.0
        self.w_est += alpha * acked_segments / segments
        elapsed = now - self.epoch_start
        if cubic_window(elapsed, self.k, self.w_max) < self.w_est:
            window = self.w_est                                   # Reno-friendly region (4.3)
        else:
            target = cubic_window(elapsed + (srtt or 0.0), self.k, self.w_max)
            target = min(max(target, segments), 1.5 * segments)   # concave/convex regions (4.4, 4.5)
            window = segments + (target - segments) / segments * acked_segments
        exact = window * mss + self._carry
        grown = max(int(exact), cwnd)
        self._carry = max(exact - grown, 0.0)
        return grown

    def restart(self) -> None:
        """Idle restart or timeout: the next congestion-avoidance stage starts a new epoch."""
        self.epoch_start = None

"""Congestion control: slow start and congestion avoidance (RFC 5681) and fast recovery. Byte-counted;
the connection feeds it ACK facts and asks whether to retransmit.

Two things vary independently. How the window grows in congestion avoidance and how far it falls
at a loss is the *controller*: Reno (here) or CUBIC (cubic.py), chosen by name as TCP_CONGESTION
does. How fast recovery runs depends on what the peer tells us: NewReno (RFC 6582, window inflation
and partial ACKs) with cumulative ACKs only, RFC 6675 (cwnd = ssthresh, the pipe estimate and the
SACK scoreboard decide what goes) once SACK is negotiated.
"""

from __future__ import annotations

import copy

from rawkit.tcp import seq
from rawkit.tcp.cubic import Cubic

MAX_WINDOW = 1 << 30
DUPTHRESH = 3


class Reno:
    """RFC 5681: one MSS more per window of ACKs; half the flight size at a loss (eq. 4)."""

    name = "reno"
    __slots__ = ()

    def on_loss(self, cwnd: int, flight: int, mss: int, now: float) -> int:
        return max(flight // 2, 2 * mss)

    def grow(self, cwnd: int, acked: int, mss: int, now: float, srtt: float | None) -> int:
        return cwnd + max(1, mss * mss // cwnd)

    def restart(self) -> None:
        """Reno keeps no memory between losses."""


CONTROLLERS: dict[str, type[Reno] | type[Cubic]] = {"cubic": Cubic, "reno": Reno}


class Congestion:
    __slots__ = ("mss", "cwnd", "ssthresh", "dupacks", "in_recovery", "recover", "controller", "sack",
                 "dupthresh", "prior")

    def __init__(self, mss: int, initial_segments: int, controller: str = "cubic") -> None:
        self.mss = mss
        self.cwnd = initial_window(mss, initial_segments)
        self.ssthresh = MAX_WINDOW
        self.dupacks = 0
        self.in_recovery = False
        self.recover: int | None = None
        self.controller: Reno | Cubic = CONTROLLERS[controller]()
        self.sack = False                    # RFC 6675 recovery: set once SACK is negotiated
        self.dupthresh = DUPTHRESH           # raised when reordering is seen (undo.py)
        self.prior: tuple[int, int, Reno | Cubic] | None = None   # state before the pending reduction

    def use(self, controller: str) -> None:
        """Switch controller (TCP_CONGESTION on an open connection): the window is kept."""
        if controller != self.controller.name:
            self.controller = CONTROLLERS[controller]()

    def set_mss(self, mss: int, initial_segments: int) -> None:
        """Once the handshake fixes the segment size, restate the initial window in it."""
        self.mss = mss
        self.cwnd = initial_window(mss, initial_segments)

    def on_duplicate_ack(self, snd_una: int, snd_max: int, flight: int, now: float = 0.0) -> bool:
        """Count a duplicate ACK; True when it is the third one and a fast retransmit is due."""
        self.dupacks += 1
        if self.in_recovery:
            if not self.sack:
                self.cwnd += self.mss        # NewReno: each dup ACK means a segment left the network
            return False
        if self.dupacks != self.dupthresh:
            return False
        return self.enter_recovery(snd_una, snd_max, flight, now)

    def enter_recovery(self, snd_una: int, snd_max: int, flight: int, now: float) -> bool:
        """Start fast recovery unless still inside the last one's window (RFC 6582 step 2, RFC 6675
        section 5: only when the cumulative ACK passed the previous recovery point; with SACK, as
        Linux, also when it reached it: the SACK blocks then speak of data sent after that loss)."""
        if self.in_recovery or (self.recover is not None and (
                seq.gt(self.recover, snd_una) if self.sack else not seq.lt(self.recover, snd_una))):
            return False
        self._save()
        self.ssthresh = self.controller.on_loss(self.cwnd, flight, self.mss, now)
        self.recover = snd_max
        self.cwnd = self.ssthresh if self.sack else self.ssthresh + self.dupthresh * self.mss
        self.in_recovery = True
        return True

    def on_new_ack(self, ack: int, acked: int, flight_after: int, now: float = 0.0,
                   srtt: float | None = None, cwnd_limited: bool = True) -> bool:
        """Grow or deflate the window for `acked` new bytes; True on a partial ACK during recovery
        (NewReno: retransmit the next hole; SACK: the scoreboard says what)."""
        self.dupacks = 0
        if self.in_recovery:
            if self.recover is None or seq.ge(ack, self.recover):
                self.in_recovery = False
                self.cwnd = self.ssthresh if self.sack else \
                    min(self.ssthresh, max(flight_after, self.mss) + self.mss)
                return False
            if not self.sack:
                self.cwnd = max(self.cwnd - acked, 0) + (self.mss if acked >= self.mss else 0)
                self.cwnd = max(self.cwnd, self.mss)
            return True
        if self.cwnd < self.ssthresh:     # as Linux's tcp_slow_start: every acked byte (no RFC 3465 L),
            if cwnd_limited:              # while the window was used (at least half of it in flight)
                self.cwnd = min(self.cwnd + acked, max(self.ssthresh, self.cwnd + self.mss))
        else:
            self.cwnd = self.controller.grow(self.cwnd, acked, self.mss, now, srtt)
        self.cwnd = min(self.cwnd, MAX_WINDOW)
        return False

    def restart_after_idle(self, initial_segments: int) -> None:
        """RFC 5681 4.1: after an idle period longer than the RTO the old window says nothing about
        the path any more; start again from at most the initial window."""
        self.cwnd = min(self.cwnd, initial_window(self.mss, initial_segments))
        self.controller.restart()

    def on_timeout(self, flight: int, snd_max: int, now: float = 0.0) -> None:
        """RTO: one segment of window, ssthresh from the controller, forget recovery (RFC 5681 eq. 4,
        RFC 6582 sec. 4, RFC 9438 4.8)."""
        self._save()
        self.ssthresh = self.controller.on_loss(self.cwnd, flight, self.mss, now)
        self.controller.restart()
        self.cwnd = self.mss
        self.in_recovery = False
        self.recover = snd_max
        self.dupacks = 0

    def _save(self) -> None:
        """Remember the state before the first reduction of a loss episode, for `undo`."""
        if self.prior is None:
            self.prior = (self.cwnd, self.ssthresh, copy.copy(self.controller))

    def undo(self) -> None:
        """The reduction was spurious (undo.py): back to the window and controller memory it had
        before (RFC 4015 3.2; Linux's tcp_undo_cwnd), recovery over."""
        if self.prior is not None:
            cwnd, ssthresh, self.controller = self.prior
            self.cwnd = max(self.cwnd, cwnd)
            self.ssthresh = max(self.ssthresh, ssthresh)
            self.prior = None
        self.in_recovery = False
        self.recover = None
        self.dupacks = 0


def initial_window(mss: int, segments: int) -> int:
    """RFC 6928 style: `segments` MSS, but never below two segments' worth."""
    return max(segments * mss, 2 * mss)

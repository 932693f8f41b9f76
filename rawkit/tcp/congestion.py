"""Congestion control: slow start and congestion avoidance (RFC 5681) with NewReno fast recovery
(RFC 6582). Byte-counted; the connection feeds it ACK facts and asks whether to retransmit."""

from __future__ import annotations

from rawkit.tcp import seq

MAX_WINDOW = 1 << 30


class NewReno:
    __slots__ = ("mss", "cwnd", "ssthresh", "dupacks", "in_recovery", "recover")

    def __init__(self, mss: int, initial_segments: int) -> None:
        self.mss = mss
        self.cwnd = initial_window(mss, initial_segments)
        self.ssthresh = MAX_WINDOW
        self.dupacks = 0
        self.in_recovery = False
        self.recover: int | None = None

    def set_mss(self, mss: int, initial_segments: int) -> None:
        """Once the handshake fixes the segment size, restate the initial window in it."""
        self.mss = mss
        self.cwnd = initial_window(mss, initial_segments)

    def on_duplicate_ack(self, snd_una: int, snd_max: int, flight: int) -> bool:
        """Count a duplicate ACK; True when it is the third one and a fast retransmit is due."""
        self.dupacks += 1
        if self.in_recovery:
            self.cwnd += self.mss            # each dup ACK means a segment left the network
            return False
        if self.dupacks != 3:
            return False
        if self.recover is not None and not seq.lt(self.recover, snd_una):
            return False                     # RFC 6582 step 2: still inside the last recovery's window
        self.ssthresh = max(flight // 2, 2 * self.mss)
        self.recover = snd_max
        self.cwnd = self.ssthresh + 3 * self.mss
        self.in_recovery = True
        return True

    def on_new_ack(self, ack: int, acked: int, flight_after: int) -> bool:
        """Grow or deflate the window for `acked` new bytes; True on a NewReno partial ACK (retransmit
        the next hole)."""
        self.dupacks = 0
        if self.in_recovery:
            if self.recover is None or seq.ge(ack, self.recover):
                self.cwnd = min(self.ssthresh, max(flight_after, self.mss) + self.mss)
                self.in_recovery = False
                return False
            self.cwnd = max(self.cwnd - acked, 0) + (self.mss if acked >= self.mss else 0)
            self.cwnd = max(self.cwnd, self.mss)
            return True
        if self.cwnd < self.ssthresh:
            self.cwnd += min(acked, self.mss)
        else:
            self.cwnd += max(1, self.mss * self.mss // self.cwnd)
        self.cwnd = min(self.cwnd, MAX_WINDOW)
        return False

    def restart_after_idle(self, initial_segments: int) -> None:
        """RFC 5681 4.1: after an idle period longer than the RTO the old window says nothing about
        the path any more; start again from at most the initial window."""
        self.cwnd = min(self.cwnd, initial_window(self.mss, initial_segments))

    def on_timeout(self, flight: int, snd_max: int) -> None:
        """RTO: one segment of window, halve ssthresh, forget recovery (RFC 5681 eq. 4, RFC 6582 sec. 4)."""
        self.ssthresh = max(flight // 2, 2 * self.mss)
        self.cwnd = self.mss
        self.in_recovery = False
        self.recover = snd_max
        self.dupacks = 0


def initial_window(mss: int, segments: int) -> int:
    """RFC 6928 style: `segments` MSS, but never below two segments' worth."""
    return max(segments * mss, 2 * mss)

"""Challenge ACKs (RFC 5961): how a blind attacker's in-window RST or SYN is turned into a question.

Instead of acting on a RST that is in the window but not exactly at RCV.NXT, or on a SYN in a
synchronized state, the connection sends an ACK carrying its real RCV.NXT: a genuine peer that lost
its state answers with an exact RST, an attacker never sees it. The number of such ACKs is bounded
(section 7) so a flood of forged segments cannot turn us into an ACK amplifier; Linux's knob for this
is tcp_challenge_ack_limit. The bound is per connection, so it reveals nothing about other flows
(the side channel of CVE-2016-5696).
"""

from __future__ import annotations


class ChallengeLimit:
    """At most `limit` challenge ACKs in each one-second slot."""

    __slots__ = ("_slot", "_count", "sent", "suppressed")

    def __init__(self) -> None:
        self._slot = -1
        self._count = 0
        self.sent = 0
        self.suppressed = 0

    def allow(self, now: float, limit: int) -> bool:
        slot = int(now)
        if slot != self._slot:
            self._slot, self._count = slot, 0
        if self._count >= limit:
            self.suppressed += 1
            return False
        self._count += 1
        self.sent += 1
        return True

"""When each script event is due, and whether something happened in time: packetdrill's clock rules.

Why its own module: the rules are subtle and easy to test without any network.
- Event times are microseconds from the script's start (the first event is at 0).
- A relative time (`+.1`) counts from when the previous event really happened, so delays do not pile
  up: after an outbound packet, the time it left; after an inbound packet following another inbound
  packet, that packet's scheduled time (a burst keeps its spacing); after anything else, when the event
  ended in packetdrill, which takes microseconds per system call. This runner takes a few hundred (a
  Python thread hands each call to the target), so it counts from the previous event's scheduled time,
  but never from more than a quarter of the tolerance ago: its overhead neither piles up over a run of
  `+0` calls (kernel timestamps would drift from the script's times) nor makes it fall behind.
- `*` means any time; `a~b` a window; a blocking call `+0...0.2` starts at `+0` and must return at the
  end time, which is relative to the same base as the start when the start is relative.
- Tolerance: the larger of `tolerance_usecs` and `tolerance_percent` of the time since the previous
  event (timers in Linux may be late by up to 12.5%).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from rawkit.script.nodes import Timing

TICKS_TO_WATCH = 2
TICK_OFFSET = 0.00025


@dataclass
class Due:
    """An event's resolved schedule, in microseconds since the script's start."""

    start: int | None  # None: any time (`*`)
    end: int | None = None  # window end (`~`) or blocking call return (`...`)
    window: bool = False
    relative_base: int = 0  # what relative times counted from, for messages

    def describe(self) -> str:
        if self.start is None:
            return "any time"
        if self.window and self.end is not None:
            return f"{seconds(self.start)}~{seconds(self.end)} sec"
        return f"{seconds(self.start)} sec"


def seconds(usecs: int | float) -> str:
    return f"{usecs / 1e6:.6f}"


class Clock:
    """The run's clock: `now()` is microseconds since `start()`; schedules events."""

    def __init__(self, tolerance_usecs: int = 4000, tolerance_percent: float = 12.5) -> None:
        self.tolerance_usecs = tolerance_usecs
        self.tolerance_percent = tolerance_percent
        self.origin = 0.0
        self.last_due: int | None = None  # the previous event's scheduled start
        self.last_inbound = False
        self.anchor: int | None = None  # when the previous outbound packet really left

    def start(self) -> None:
        """Start the clock a quarter millisecond after a kernel tick, as packetdrill does: kernel
        timers fire on ticks (every 4 ms at HZ=250), so events scheduled on whole milliseconds from a
        tick-aligned start meet the timers at the same phase in every run."""
        last = os.times().elapsed  # times(2): moves on a tick (in 10 ms steps)
        ticks, edge = 0, time.monotonic()
        give_up = edge + 0.1
        while ticks < TICKS_TO_WATCH and time.monotonic() < give_up:
            now = os.times().elapsed
            if now != last:
                ticks, last, edge = ticks + 1, now, time.monotonic()
        self.origin = edge + TICK_OFFSET

    def now(self) -> int:
        return int((time.monotonic() - self.origin) * 1e6)

    def at(self, monotonic: float) -> int:
        """A time.monotonic() value as script microseconds."""
        return int((monotonic - self.origin) * 1e6)

    def monotonic(self, usecs: int) -> float:
        return self.origin + usecs / 1e6

    def schedule(self, timing: Timing, *, inbound: bool = False) -> Due:
        """Resolve one event's time column (call when the runner reaches the event)."""
        if timing.start is None:
            due = Due(None)
        else:
            if not timing.start.relative:
                base = 0
            elif self.last_inbound and inbound and self.last_due is not None:
                base = self.last_due
            elif self.anchor is not None:
                base = self.anchor
            elif self.last_due is not None:
                base = max(self.last_due, self.now() - self.tolerance_usecs // 4)
            else:
                base = self.now()
            start = base + timing.start.usecs
            end = None
            if timing.end is not None:
                end_base = base if (timing.end.relative or timing.start.relative) else 0
                end = end_base + timing.end.usecs
            due = Due(start, end, timing.separator == "~", base)
        return due

    def tolerance(self, due: Due, previous: int | None) -> int:
        """Allowed deviation for `due`, given the previous event's scheduled time."""
        allowed = self.tolerance_usecs
        if previous is not None and due.start is not None:
            allowed = max(allowed, int(self.tolerance_percent / 100.0 * (due.start - previous)))
        return allowed

    def finished(self, due: Due, *, inbound: bool = False, sent_at: int | None = None) -> None:
        """Record that the event scheduled at `due` has run (anchors later relative times). For an
        outbound packet, `sent_at` (its kernel timestamp) is the base of the next relative time: what
        packetdrill, which wakes as the packet leaves, uses; this runner may notice it a little later."""
        if due.start is not None:
            self.last_due = due.start
        else:
            self.last_due = self.now()
        self.last_inbound = inbound
        self.anchor = sent_at

    def check(self, due: Due, actual: int, what: str, previous: int | None) -> str | None:
        """None if `actual` fits `due`, else packetdrill's "timing error" sentence."""
        if due.start is None:
            return None
        allowed = self.tolerance(due, previous)
        if due.window and due.end is not None:
            if due.start - allowed <= actual <= due.end + allowed:
                return None
            return (f"timing error: expected {what} in time range {seconds(due.start)}~"
                    f"{seconds(due.end)} sec but happened at {seconds(actual)} sec")
        if abs(actual - due.start) <= allowed:
            return None
        return (f"timing error: expected {what} at {seconds(due.start)} sec but happened at "
                f"{seconds(actual)} sec; tolerance {seconds(allowed)} sec")

    def check_return(self, due: Due, actual: int, previous: int | None) -> str | None:
        """For a blocking call: did it return at the `...` end time?"""
        if due.end is None:
            return None
        allowed = self.tolerance(Due(due.end), previous)
        if abs(actual - due.end) <= allowed:
            return None
        return (f"timing error: expected system call return at {seconds(due.end)} sec but happened at "
                f"{seconds(actual)} sec; tolerance {seconds(allowed)} sec")

    def sleep_until(self, usecs: int, deadline: float) -> None:
        """Sleep until script time `usecs` (but not past the monotonic `deadline`)."""
        remaining = min(self.monotonic(usecs), deadline) - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)  # no spinning: it would hold the GIL the frame reader needs

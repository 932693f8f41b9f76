"""tcpdump's timestamp styles: default (local time of day), -t, -tt, -ttt, -tttt, -ttttt."""

from __future__ import annotations

import time

DEFAULT, NONE, EPOCH, DELTA, DATE, SINCE_FIRST = range(6)
# "000".."999": a microsecond count printed as two of these costs a third of f"{n:06d}"
DIGITS = tuple(f"{number:03d}" for number in range(1000))


class Clock:
    """Formats capture timestamps (ns) the way one tcpdump -t option does; remembers the previous
    and first packet for the delta styles, and caches the last second's local-time text."""

    __slots__ = ("style", "nano", "_first", "_previous", "_cached_second", "_cached_text", "_unit")

    def __init__(self, style: int = DEFAULT, nano: bool = False) -> None:
        self.style = style
        self.nano = nano
        self._unit = 1 if nano else 1000
        self._first: int | None = None
        self._previous: int | None = None
        self._cached_second = -1
        self._cached_text = ""

    def _fraction(self, ns: int) -> str:
        return f"{ns:09d}" if self.nano else f"{ns // 1000:06d}"

    def text(self, ts_ns: int) -> str:
        """The prefix for one packet, trailing space included ('' for -t)."""
        style = self.style
        if style == NONE:
            return ""
        seconds, ns = divmod(ts_ns, 1_000_000_000)
        if style == DEFAULT or style == DATE:
            if seconds != self._cached_second:
                pattern = "%H:%M:%S" if style == DEFAULT else "%Y-%m-%d %H:%M:%S"
                self._cached_text = time.strftime(pattern, time.localtime(seconds))
                self._cached_second = seconds
            if self._unit == 1000:
                usec = ns // 1000
                return f"{self._cached_text}.{DIGITS[usec // 1000]}{DIGITS[usec % 1000]} "
            return f"{self._cached_text}.{ns:09d} "
        if style == EPOCH:
            return f"{seconds}.{self._fraction(ns)} "
        # tcpdump rounds each stamp down to its precision first, then subtracts; a zero stamp
        # (a pcapng simple packet block has none) never becomes the reference
        stamp = ts_ns - ts_ns % self._unit
        if style == DELTA:
            reference = self._previous or stamp
            self._previous = stamp
        else:
            if not self._first:
                self._first = stamp
            reference = self._first or stamp
        return self._delta(stamp - reference)

    def _delta(self, elapsed_ns: int) -> str:
        sign = "-" if elapsed_ns < 0 else " "
        seconds, ns = divmod(abs(elapsed_ns), 1_000_000_000)
        hours, rest = divmod(seconds, 3600)
        return f"{sign}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{self._fraction(ns)} "

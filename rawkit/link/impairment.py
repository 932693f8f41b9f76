"""What an impairment relay does to each frame, without any I/O: loss, duplication, reordering,
delay and a rate limit, decided by a seeded RNG and kept in a time-ordered queue.

Why sans-IO: the decisions (which frame is dropped, when each leaves) are the part worth testing
exactly, with explicit times and a seed; rawkit.link.relay only moves bytes between two sockets.

    scheduler = Scheduler(Impairment(loss=0.05, reorder=0.02, delay=0.010, seed=1))
    scheduler.offer(0, frame, now)        # direction 0 (left to right) or 1 (right to left)
    for direction, frame in scheduler.due(now): ...   # frames whose time has come, oldest first
    scheduler.next_deadline()             # when to call due() again (None: nothing queued)

Reordering delays a frame by `reorder_delay` on top of the normal delay, so frames behind it
overtake it; it never waits for a later frame (which could stall a quiet flow forever).
"""

from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass

DIRECTIONS = 2


@dataclass(frozen=True)
class Impairment:
    """The relay's settings. Probabilities are per frame and independent; times are seconds; `rate` is
    the bottleneck in bits per second (None: unlimited); `queue_limit` bounds the frames held per
    direction (in the delay line or waiting for the rate), beyond which new frames are dropped."""

    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    reorder_delay: float = 0.004
    delay: float = 0.0
    rate: float | None = None
    queue_limit: int = 10_000
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"impairment: {name} must be a probability between 0 and 1")
        if self.delay < 0 or self.reorder_delay < 0:
            raise ValueError("impairment: delays cannot be negative")
        if self.rate is not None and self.rate <= 0:
            raise ValueError("impairment: rate must be positive (bits per second)")
        if self.queue_limit < 1:
            raise ValueError("impairment: queue_limit must be at least 1")


@dataclass(slots=True)
class Counters:
    """What the relay did in one direction."""

    received: int = 0      # frames offered
    forwarded: int = 0     # frames handed out by due() (duplicates included)
    lost: int = 0          # dropped on purpose (loss)
    duplicated: int = 0    # extra copies made
    reordered: int = 0     # frames held back by reorder_delay
    overflowed: int = 0    # dropped because the queue was full
    passed: int = 0        # control frames (address resolution) forwarded unimpaired but delayed

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__slots__}


class Scheduler:
    """The relay's queue for both directions. `offer` decides a frame's fate; `due` releases frames."""

    def __init__(self, impairment: Impairment) -> None:
        self.impairment = impairment
        self.counters = tuple(Counters() for _ in range(DIRECTIONS))
        self._rng = random.Random(impairment.seed)
        self._heap: list[tuple[float, int, int, bytes]] = []   # (leaves at, arrival order, direction, frame)
        self._order = itertools.count()
        self._busy_until = [0.0] * DIRECTIONS
        self._queued = [0] * DIRECTIONS

    def offer(self, direction: int, frame: bytes, now: float, *, impair: bool = True) -> None:
        """A frame arrived at `now` travelling in `direction`. With `impair` False it is only delayed
        (and rate limited): the relay uses that for ARP and neighbour discovery."""
        counters = self.counters[direction]
        counters.received += 1
        settings = self.impairment
        if not impair:
            counters.passed += 1
            self._enqueue(direction, frame, now, 0.0)
            return
        random_value = self._rng.random
        # every frame draws the same three numbers, so one decision never shifts the others' sequence
        lose, copy, hold = random_value(), random_value(), random_value()
        if lose < settings.loss:
            counters.lost += 1
            return
        extra = 0.0
        if hold < settings.reorder:
            counters.reordered += 1
            extra = settings.reorder_delay
        if not self._enqueue(direction, frame, now, extra):
            return
        if copy < settings.duplicate:
            counters.duplicated += 1
            self._enqueue(direction, frame, now, extra)

    def _enqueue(self, direction: int, frame: bytes, now: float, extra: float) -> bool:
        settings = self.impairment
        if self._queued[direction] >= settings.queue_limit:
            self.counters[direction].overflowed += 1
            return False
        leaves = now
        if settings.rate is not None:        # serialised behind the frames already on the bottleneck
            leaves = max(now, self._busy_until[direction]) + len(frame) * 8 / settings.rate
            self._busy_until[direction] = leaves
        heapq.heappush(self._heap, (leaves + settings.delay + extra, next(self._order), direction, frame))
        self._queued[direction] += 1
        return True

    def due(self, now: float) -> list[tuple[int, bytes]]:
        """Frames whose departure time is at or before `now`, in departure order."""
        heap = self._heap
        out = []
        while heap and heap[0][0] <= now:
            _at, _order, direction, frame = heapq.heappop(heap)
            self._queued[direction] -= 1
            self.counters[direction].forwarded += 1
            out.append((direction, frame))
        return out

    def next_deadline(self) -> float | None:
        """When the next queued frame leaves; None when the queue is empty."""
        return self._heap[0][0] if self._heap else None

    def queued(self, direction: int) -> int:
        return self._queued[direction]

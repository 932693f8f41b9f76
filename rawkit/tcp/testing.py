"""In-memory harness: two engines joined by controllable channels, with explicit time.

Used by the engine's tests and handy for the stack's: nothing here touches a network or a clock.
Segments cross the channel as bytes (`to_bytes` then `Segment.parse`) so the codec is exercised too.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

from rawkit.tcp.connection import Connection
from rawkit.tcp.events import Event
from rawkit.tcp.listener import Listener
from rawkit.tcp.segment import Segment
from rawkit.tcp.settings import Settings
from rawkit.tcp.states import State

CLIENT = ("198.18.0.1", 40000)
SERVER = ("198.18.0.2", 8080)

# A rule sees each segment entering the channel and returns None to drop it, the extra delay, or a
# tuple of extra delays to deliver several copies (duplication).
Rule = Callable[[Segment], float | tuple[float, ...] | None]


class Channel:
    """One direction of a link: fixed delay, optional per-segment rule (loss, reordering)."""

    def __init__(self, delay: float = 0.0, rule: Rule | None = None) -> None:
        self.delay = delay
        self.rule = rule
        self._queue: list[tuple[float, int, bytes]] = []
        self._order = itertools.count()
        self.sent: list[tuple[float, Segment]] = []      # everything offered, with its send time
        self.dropped: list[Segment] = []

    def push(self, segment: Segment, now: float) -> None:
        self.sent.append((now, segment))
        extra = self.rule(segment) if self.rule is not None else 0.0
        if extra is None:
            self.dropped.append(segment)
            return
        wire = segment.to_bytes()
        for delay in extra if isinstance(extra, tuple) else (extra,):
            heapq.heappush(self._queue, (now + self.delay + delay, next(self._order), wire))

    def due(self, now: float) -> list[Segment]:
        out = []
        while self._queue and self._queue[0][0] <= now:
            out.append(Segment.parse(heapq.heappop(self._queue)[2]))
        return out

    def next_time(self) -> float | None:
        return self._queue[0][0] if self._queue else None


def drop_nth(*indexes: int, match: Callable[[Segment], bool] = lambda s: bool(s.payload)) -> Rule:
    """A rule dropping the n-th (0-based) segments that satisfy `match` (default: carrying data)."""
    wanted = set(indexes)
    counter = itertools.count()

    def rule(segment: Segment) -> float | None:
        if match(segment) and next(counter) in wanted:
            return None
        return 0.0
    return rule


@dataclass
class Side:
    """One end with its application: bytes it still wants to send and what it has read."""

    connection: Connection | None = None
    outbox: bytearray = field(default_factory=bytearray)
    inbox: bytearray = field(default_factory=bytearray)
    events: list[Event] = field(default_factory=list)
    auto_read: bool = True


class Pair:
    """A client Connection and a server Listener joined by two Channels, driven by `run`."""

    def __init__(self, client_settings: Settings | None = None, server_settings: Settings | None = None,
                 delay: float = 0.0, start: float = 1000.0, backlog: int = 8) -> None:
        self.now = start
        self.listener = Listener(SERVER[1], backlog=backlog, settings=server_settings or Settings(),
                                 secret=b"server secret")
        self.client = Side(Connection(CLIENT, SERVER, client_settings or Settings(), secret=b"client secret"))
        self.server = Side()
        self.to_server = Channel(delay)
        self.to_client = Channel(delay)
        self.accepted: list[Connection] = []
        self.auto_accept = True

    @property
    def c(self) -> Connection:
        return self.client.connection

    @property
    def s(self) -> Connection:
        if self.server.connection is None:
            raise RuntimeError("no server connection yet: the listener has not seen the SYN")
        return self.server.connection

    def connect(self) -> None:
        self.c.connect(self.now)

    def handshake(self) -> None:
        self.connect()
        self.run(until=lambda: self.server.connection is not None and self.c.state is State.ESTABLISHED
                 and self.s.state is State.ESTABLISHED, limit=5.0)

    # ------------------------------------------------------------------ driving
    def exchange(self) -> None:
        """Everything that happens at `now`: polls, deliveries, application reads/writes."""
        for _ in range(10_000):
            moved = False
            for side, channel in ((self.client, self.to_server), (self.server, self.to_client)):
                connection = side.connection
                if connection is None:
                    continue
                if side.outbox and connection.send_space and not connection.fin_queued \
                        and connection.state in (State.ESTABLISHED, State.CLOSE_WAIT):
                    taken = connection.send(bytes(side.outbox[:connection.send_space]), self.now)
                    del side.outbox[:taken]
                for segment in connection.poll(self.now):
                    channel.push(segment, self.now)
                    moved = True
                side.events += connection.events()
                if side.auto_read and connection.readable:
                    side.inbox += connection.read()
            for segment in self.to_server.due(self.now):
                moved = True
                self._deliver_to_server(segment)
            for segment in self.to_client.due(self.now):
                moved = True
                self.client.events += self.c.receive(segment, self.now)
            if not moved:
                return
        raise RuntimeError("exchange did not settle (segment storm)")

    def _deliver_to_server(self, segment: Segment) -> None:
        connection = self.server.connection
        if connection is not None and connection.state is not State.CLOSED:
            self.server.events += connection.receive(segment, self.now)
            return
        result = self.listener.receive(segment, self.now, SERVER, CLIENT)
        for reply in result.replies:
            self.to_client.push(reply, self.now)
        if result.connection is not None:
            self.server.connection = result.connection

    def next_time(self) -> float | None:
        times = [self.to_server.next_time(), self.to_client.next_time(), self.c.next_deadline()]
        if self.server.connection is not None:
            times.append(self.s.next_deadline())
        times = [t for t in times if t is not None]
        return min(times) if times else None

    def run(self, duration: float | None = None, until: Callable[[], bool] | None = None,
            limit: float = 3600.0) -> bool:
        """Advance time event by event. Stops when `until()` holds (returns True), after `duration`,
        when nothing is left to happen, or at `limit` seconds of simulated time (returns False)."""
        end = self.now + (duration if duration is not None else limit)
        while True:
            self.exchange()
            if until is not None and until():
                return True
            upcoming = self.next_time()
            if upcoming is None or upcoming > end:
                if duration is not None:
                    self.now = end
                    self.exchange()
                return until is None or until()
            self.now = max(self.now, upcoming)

    def advance(self, seconds: float) -> None:
        self.run(duration=seconds)

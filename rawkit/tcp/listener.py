"""A listening port: turns SYNs into connections, with a bounded backlog (accept queue).

Like Linux, a SYN that finds the accept queue full (or too many half-open connections) is dropped
silently, so the client retries it later; a stray ACK to the port is answered with a RST.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rawkit.tcp.connection import Connection
from rawkit.tcp.isn import Endpoint
from rawkit.tcp.reset import reset_for
from rawkit.tcp.segment import Segment
from rawkit.tcp.settings import Settings
from rawkit.tcp.states import State


@dataclass(slots=True)
class ListenResult:
    """What a segment to a listener produced: a new connection to register (it sends its own SYN-ACK
    from `poll`) and/or replies to send now (a RST)."""

    connection: Connection | None = None
    replies: list[Segment] = field(default_factory=list)


class Listener:
    __slots__ = ("port", "backlog", "syn_backlog", "settings", "secret", "_pending", "dropped_syns", "state")

    def __init__(self, port: int, backlog: int = 128, settings: Settings | None = None, secret: bytes = b"",
                 syn_backlog: int = 256) -> None:
        self.port = port
        self.backlog = backlog
        self.syn_backlog = syn_backlog
        self.settings = settings if settings is not None else Settings()
        self.secret = secret
        self._pending: list[Connection] = []     # half-open and ready-but-not-accepted, oldest first
        self.dropped_syns = 0
        self.state = State.LISTEN

    def receive(self, segment: Segment, now: float, local: Endpoint, remote: Endpoint) -> ListenResult:
        """A segment for our port that matched no connection (RFC 9293 3.10.7.2, state LISTEN)."""
        if segment.rst or self.state is not State.LISTEN:
            return ListenResult()
        if segment.has_ack:
            reply = reset_for(segment)
            return ListenResult(replies=[reply] if reply else [])
        if not segment.syn:
            return ListenResult()
        self._prune()
        half_open = sum(1 for c in self._pending if c.state is State.SYN_RECEIVED)
        if self.ready >= self.backlog or half_open >= self.syn_backlog:
            self.dropped_syns += 1
            return ListenResult()
        connection = Connection.from_syn(segment, now, local, remote, self.settings.copy(), self.secret)
        self._pending.append(connection)
        return ListenResult(connection=connection)

    @property
    def ready(self) -> int:
        """Connections that completed the handshake and wait for `accept`."""
        return sum(1 for c in self._pending if c.state not in (State.SYN_RECEIVED, State.CLOSED))

    def accept(self) -> Connection | None:
        """The oldest connection that finished its handshake, or None (EAGAIN)."""
        self._prune()
        for connection in self._pending:
            if connection.state is not State.SYN_RECEIVED:
                self._pending.remove(connection)
                return connection
        return None

    def close(self, now: float) -> list[Connection]:
        """Stop listening; every connection not yet accepted is aborted (RST) and returned so the
        stack can `poll` their resets out."""
        self.state = State.CLOSED
        pending, self._pending = self._pending, []
        for connection in pending:
            connection.abort(now)
        return pending

    def _prune(self) -> None:
        self._pending = [c for c in self._pending if c.state is not State.CLOSED]

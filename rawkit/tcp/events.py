"""Events a connection reports to its user (the stack/sockets layer)."""

from __future__ import annotations

from dataclasses import dataclass


class Event:
    """Base class of everything `Connection.receive` and `Connection.events` return."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Connected(Event):
    """The handshake completed: the connection is ESTABLISHED."""


@dataclass(frozen=True, slots=True)
class DataReceived(Event):
    """`length` new in-order bytes are ready for `read`."""

    length: int


@dataclass(frozen=True, slots=True)
class PeerClosed(Event):
    """The peer's FIN arrived in order: `read` returns b"" once the buffer is drained (EOF)."""


@dataclass(frozen=True, slots=True)
class Reset(Event):
    """An acceptable RST arrived: ECONNREFUSED when `refused` (during the handshake), else ECONNRESET."""

    refused: bool = False


@dataclass(frozen=True, slots=True)
class TimedOut(Event):
    """Retransmissions, SYN retries or keepalive probes ran out (ETIMEDOUT). `reason` says which."""

    reason: str


@dataclass(frozen=True, slots=True)
class Closed(Event):
    """The connection reached CLOSED: the stack may forget it once `poll` has nothing left to send."""

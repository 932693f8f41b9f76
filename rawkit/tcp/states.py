"""TCP states (RFC 9293 figure 5) and every transition between them, in one table.

The connection code names a trigger; `next_state` looks it up. A trigger the current state cannot
take is a bug in the caller (or the engine), reported as a LocalProtocolError naming both.
"""

from __future__ import annotations

from enum import Enum


class State(Enum):
    # members are singletons compared by identity: hash them by identity too, in C, instead of
    # Enum's hash of the name (a Python call on every table and frozenset lookup of the hot path)
    __hash__ = object.__hash__

    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"


class Trigger(Enum):
    """What moves a connection: user calls, segment arrivals, timers."""

    __hash__ = object.__hash__                # as State's

    CONNECT = "connect"                     # user: active open, SYN queued
    RECV_SYN = "receive SYN"                # SYN without ACK: passive open (Listener) / simultaneous open
    RECV_SYN_ACK = "receive SYN-ACK"        # our SYN acknowledged with the peer's SYN
    RECV_ACK_OF_SYN = "receive ACK of SYN"
    RECV_FIN = "receive FIN"
    RECV_ACK_OF_FIN = "receive ACK of FIN"
    RECV_RST = "receive RST"
    SHUTDOWN_WRITE = "shutdown write"       # user: close our direction, FIN queued
    ABORT = "abort"                         # user: RST (or linger 0 close)
    TIMEOUT = "timeout"                     # retransmissions / keepalive exhausted
    TIME_WAIT_EXPIRED = "TIME-WAIT expired"
    FIN_WAIT_2_EXPIRED = "FIN-WAIT-2 expired"


class LocalProtocolError(Exception):
    """An operation the connection's state does not allow (e.g. send after shutdown_write)."""

    def __init__(self, state: State, trigger: Trigger | str) -> None:
        self.state = state
        self.trigger = trigger
        name = trigger.value if isinstance(trigger, Trigger) else trigger
        super().__init__(f"cannot {name} in state {state.value}")


S, T = State, Trigger

TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (S.CLOSED, T.CONNECT): S.SYN_SENT,
    (S.LISTEN, T.RECV_SYN): S.SYN_RECEIVED,            # a Listener creating a connection
    (S.SYN_SENT, T.RECV_SYN_ACK): S.ESTABLISHED,
    (S.SYN_SENT, T.RECV_SYN): S.SYN_RECEIVED,          # simultaneous open
    (S.SYN_SENT, T.SHUTDOWN_WRITE): S.CLOSED,          # close before the handshake: nothing to say
    (S.SYN_RECEIVED, T.RECV_ACK_OF_SYN): S.ESTABLISHED,
    (S.ESTABLISHED, T.SHUTDOWN_WRITE): S.FIN_WAIT_1,   # (from SYN-RECEIVED too, once established)
    (S.ESTABLISHED, T.RECV_FIN): S.CLOSE_WAIT,
    (S.FIN_WAIT_1, T.RECV_ACK_OF_FIN): S.FIN_WAIT_2,
    (S.FIN_WAIT_1, T.RECV_FIN): S.CLOSING,             # simultaneous close
    (S.FIN_WAIT_2, T.RECV_FIN): S.TIME_WAIT,
    (S.FIN_WAIT_2, T.FIN_WAIT_2_EXPIRED): S.CLOSED,
    (S.CLOSE_WAIT, T.SHUTDOWN_WRITE): S.LAST_ACK,
    (S.CLOSING, T.RECV_ACK_OF_FIN): S.TIME_WAIT,
    (S.LAST_ACK, T.RECV_ACK_OF_FIN): S.CLOSED,
    (S.TIME_WAIT, T.TIME_WAIT_EXPIRED): S.CLOSED,
}
_OPEN = (S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING,
         S.LAST_ACK, S.TIME_WAIT)
_RETRANSMITTING = (S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.FIN_WAIT_1, S.CLOSE_WAIT, S.CLOSING,
                   S.LAST_ACK)
for _state in _OPEN:
    TRANSITIONS[(_state, T.RECV_RST)] = S.CLOSED
    TRANSITIONS[(_state, T.ABORT)] = S.CLOSED
for _state in _RETRANSMITTING:
    TRANSITIONS[(_state, T.TIMEOUT)] = S.CLOSED

SYNCHRONIZED = frozenset({S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2, S.CLOSE_WAIT, S.CLOSING, S.LAST_ACK,
                          S.TIME_WAIT})
CAN_SEND = frozenset({S.SYN_SENT, S.SYN_RECEIVED, S.ESTABLISHED, S.CLOSE_WAIT})
CAN_RECEIVE_DATA = frozenset({S.ESTABLISHED, S.FIN_WAIT_1, S.FIN_WAIT_2})


def next_state(state: State, trigger: Trigger) -> State:
    """The state `trigger` leads to from `state`; LocalProtocolError when the table has no entry."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise LocalProtocolError(state, trigger) from None

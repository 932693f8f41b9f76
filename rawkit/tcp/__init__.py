"""Sans-IO TCP engine (RFC 9293 and friends): segments and time in, segments and events out.

Imports only `rawkit.wire`. The stack (rawkit.stack) runs connections over links and builds the
sockets API on top; see `Connection` for the calling convention.
"""

from rawkit.tcp.connection import Connection
from rawkit.tcp.events import Closed, Connected, DataReceived, Event, PeerClosed, Reset, TimedOut
from rawkit.tcp.isn import initial_sequence
from rawkit.tcp.listener import Listener, ListenResult
from rawkit.tcp.reset import reset_for
from rawkit.tcp.segment import Segment, SegmentError, address_sum
from rawkit.tcp.settings import Settings
from rawkit.tcp.states import LocalProtocolError, State

__all__ = [
    "Closed", "Connected", "Connection", "DataReceived", "Event", "ListenResult", "Listener",
    "LocalProtocolError", "PeerClosed", "Reset", "Segment", "SegmentError", "Settings", "State", "TimedOut",
    "address_sum", "initial_sequence", "reset_for",
]

"""Sans-IO TCP engine (RFC 9293 and friends): segments and time in, segments and events out.

Imports only `rawkit.wire`. Time is always float seconds passed in as `now`. How a stack drives it:

    conn = Connection(local=(ip, port), remote=(ip, port), settings=Settings(...), secret=key)
    conn.connect(now)                        # or: Listener(port).receive(seg, now, local, remote)
    events = conn.receive(Segment.parse(tcp_bytes), now)    # after checking the IP/TCP checksum
    for seg in conn.poll(now): send(seg.to_bytes(address_sum(src, dst)))
    events += conn.events()                  # what timers and user calls produced
    wake up at conn.next_deadline() (None: no timer) and poll again

Call `poll` after every `receive` and user call. A connection in State.CLOSED whose `poll` returns
nothing can be forgotten; segments for unknown 4-tuples get `reset_for(segment)`.
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

"""The sending side's header prediction (Connection._take_pure_ack): an ACK alone that it takes must
leave the connection exactly as the full receive path leaves it, and the ACKs it must not take
(window change, duplicate, beyond SND.MAX, out of sequence, old timestamp, SACK blocks) go the full way."""

from __future__ import annotations

import copy
import enum

import pytest

from rawkit.tcp import Segment, Settings
from rawkit.tcp.segment import ACK
from rawkit.tcp.testing import Pair

IN_FLIGHT = 5000


def sending(**settings) -> Pair:
    """An established pair whose client has IN_FLIGHT bytes sent and not yet acknowledged."""
    pair = Pair(Settings(**settings), Settings())
    pair.handshake()
    pair.s.send(b"hello", pair.now)      # the client learns the server's scaled window (a SYN's is unscaled)
    pair.run(duration=1.0)
    pair.c.read()
    pair.c.send(b"x" * IN_FLIGHT, pair.now)
    assert sum(len(segment.payload) for segment in pair.c.poll(pair.now)) == IN_FLIGHT
    return pair


def ack_from_server(pair: Pair, acked: int, *, window_change: int = 0, seq_offset: int = 0,
                    tsval_delta: int = 1, sack: bool = False) -> Segment:
    client = pair.c
    timestamp = None
    if client.ts_ok:
        timestamp = ((client.ts_recent + tsval_delta) & 0xFFFFFFFF, client._tsval(pair.now))
    blocks = (((client.snd_una + 2000) & 0xFFFFFFFF, (client.snd_una + 3000) & 0xFFFFFFFF),) if sack else ()
    window = (client.snd_wnd >> client.snd_wscale) + window_change
    return Segment(client.remote[1], client.local[1], (client.rcv_nxt + seq_offset) & 0xFFFFFFFF,
                   (client.snd_una + acked) & 0xFFFFFFFF, ACK, window, timestamp=timestamp,
                   sack_blocks=blocks)


def snapshot(value: object) -> object:
    """Everything a connection holds, its parts' attributes included, as comparable values."""
    if isinstance(value, (int, float, str, bytes, bool, type(None), enum.Enum)):
        return value
    if isinstance(value, (list, tuple)):
        return [snapshot(item) for item in value]
    if isinstance(value, bytearray):
        return bytes(value)
    if isinstance(value, dict):
        return {key: snapshot(item) for key, item in value.items()}
    names = list(getattr(value, "__dict__", {}))
    names += [name for cls in type(value).__mro__ for name in getattr(cls, "__slots__", ())
              if hasattr(value, name)]
    return type(value).__name__, {name: snapshot(getattr(value, name)) for name in names}


CASES = {                 # name: (ack_from_server arguments, taken by the fast path)
    "part of the flight": ({"acked": 1448}, True),
    "all of the flight": ({"acked": IN_FLIGHT}, True),
    "window changed": ({"acked": 1448, "window_change": -1}, False),
    "duplicate": ({"acked": 0}, False),
    "beyond SND.MAX": ({"acked": IN_FLIGHT + 1}, False),
    "out of sequence": ({"acked": 1448, "seq_offset": 10}, False),
    "old timestamp": ({"acked": 1448, "tsval_delta": -5}, False),
    "SACK blocks": ({"acked": 1448, "sack": True}, False),
}


@pytest.mark.parametrize("settings", [{}, {"timestamps": False}, {"sack": False},
                                      {"congestion_control": "reno"}])
@pytest.mark.parametrize("case", list(CASES))
def test_a_pure_ack_ends_as_the_full_path_leaves_it(settings, case):
    pair = sending(**settings)
    arguments, taken = CASES[case]
    segment = ack_from_server(pair, **arguments)
    if not pair.c.ts_ok and case == "old timestamp":
        taken = True                       # no timestamps: nothing to be old
    full, fast = copy.deepcopy(pair.c), copy.deepcopy(pair.c)
    full._receive_synchronized(segment, pair.now)
    assert copy.deepcopy(pair.c)._take_pure_ack(segment, pair.now) is taken
    fast.receive(segment, pair.now)
    assert snapshot(fast) == snapshot(full)

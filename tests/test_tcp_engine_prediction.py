"""Header prediction (Connection.receive_predicted), the stack's bulk-receive fast path: for every
segment it takes, the connection must end up exactly as the full `receive` leaves it; every segment
it declines must leave the connection untouched."""

from __future__ import annotations

import copy

import pytest

from rawkit.tcp import Segment, Settings, State
from rawkit.tcp.segment import ACK, FIN, PSH
from rawkit.tcp.testing import Pair

FIELDS = ("state", "rcv_nxt", "rcv_adv", "ts_recent", "snd_una", "snd_wnd", "snd_wl1", "snd_wl2", "_ack_now",
          "_delack_at", "_unacked_bytes", "_rcv_mss", "_last_heard")


def established(**settings) -> Pair:
    pair = Pair(Settings(**settings), Settings())
    pair.handshake()
    pair.s.send(b"hello", pair.now)      # the client learns the server's scaled window (a SYN's is unscaled)
    pair.run(duration=1.0)
    return pair


def data_from_server(pair: Pair, payload: bytes, *, offset: int = 0, flags: int = ACK | PSH,
                     tsval_delta: int = 1, window_delta: int = 0) -> Segment:
    """The segment the server would send next (built by hand to vary one field at a time)."""
    client, server = pair.c, pair.s
    timestamp = None
    if client.ts_ok:
        timestamp = ((client.ts_recent + tsval_delta) & 0xFFFFFFFF, client._tsval(pair.now))
    window = (client.snd_wnd >> client.snd_wscale) + window_delta
    return Segment(server.local[1], server.remote[1], (client.rcv_nxt + offset) & 0xFFFFFFFF, client.snd_una,
                   flags, window, payload, timestamp=timestamp)


def state_of(connection) -> dict:
    state = {name: getattr(connection, name) for name in FIELDS}
    state["buffered"] = connection.peek()
    state["events"] = list(connection._events)
    return state


def both_ways(pair: Pair, segment: Segment, now: float):
    """(predicted?, connection after receive_predicted, connection after receive); the events of both
    are compared (the predicted ones wait for `events()`, as timers' do)."""
    full, fast = pair.c, copy.deepcopy(pair.c)
    taken = fast.receive_predicted(segment.seq, segment.ack, segment.window, segment.timestamp,
                                   segment.payload, now)
    assert full.receive(segment, now) == fast.events()
    return taken, fast, full


@pytest.mark.parametrize("settings", [{}, {"timestamps": False}, {"delayed_ack": 0.0}, {"sack": False}])
def test_in_order_data_ends_in_the_same_state_as_the_full_path(settings):
    pair = established(**settings)
    for index, size in enumerate((1, 100, 1448, 1448, 7, 1448)):
        now = pair.now + 0.001 * index
        taken, fast, full = both_ways(pair, data_from_server(pair, bytes([index]) * size), now)
        assert taken
        assert state_of(fast) == state_of(full)
        assert fast.poll(now) == full.poll(now)               # the same ACK (or none)


@pytest.mark.parametrize("change", [
    {"offset": 1448},                       # out of order: the full path queues it and sends a dup ACK
    {"offset": -100},                       # partly old
    {"window_delta": 1},                    # window update
    {"tsval_delta": -5},                    # PAWS: older timestamp than ts_recent
    {"flags": ACK | FIN},                   # control flag (the stack never passes one; still refused)
])
def test_unusual_segments_are_declined_untouched(change):
    pair = established()
    pair.c.receive(data_from_server(pair, b"x" * 100), pair.now)   # something received before
    flags = change.pop("flags", ACK)
    segment = data_from_server(pair, b"y" * 500, **change)
    before = copy.deepcopy(pair.c)
    taken = pair.c.receive_predicted(segment.seq, segment.ack, segment.window, segment.timestamp,
                                     segment.payload, pair.now) if not flags & FIN else False
    assert not taken
    assert state_of(pair.c) == state_of(before)


def test_declined_when_our_data_is_in_flight_or_the_buffer_is_full_or_closing():
    pair = established(receive_buffer_size=1000)
    pair.c.send(b"z" * 10, pair.now)
    pair.c.poll(pair.now)                               # our bytes in flight: the ACK field matters
    segment = data_from_server(pair, b"a" * 10)
    assert not pair.c.receive_predicted(segment.seq, segment.ack, segment.window, segment.timestamp,
                                        segment.payload, pair.now)

    pair = established(receive_buffer_size=1000)
    segment = data_from_server(pair, b"b" * 1001)       # more than the window
    assert not pair.c.receive_predicted(segment.seq, segment.ack, segment.window, segment.timestamp,
                                        segment.payload, pair.now)

    pair = established()
    pair.c.shutdown_write(pair.now)
    assert pair.c.state is State.FIN_WAIT_1
    segment = data_from_server(pair, b"c" * 10)
    assert not pair.c.receive_predicted(segment.seq, segment.ack, segment.window, segment.timestamp,
                                        segment.payload, pair.now)

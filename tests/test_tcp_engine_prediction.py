"""Header prediction (Connection.prediction / receive_run), the engine's side of the stack's
bulk-receive fast path: a run of segments that prediction allows must leave the connection as the
full `receive` of each segment does (except that the ACK decision is made once for the run), and
prediction must be off wherever a segment needs the full path."""

from __future__ import annotations

import copy

import pytest

from rawkit.tcp import Segment, Settings, State
from rawkit.tcp.events import DataReceived
from rawkit.tcp.segment import ACK, PSH
from rawkit.tcp.testing import Pair

FIELDS = ("state", "rcv_nxt", "rcv_adv", "ts_recent", "snd_una", "snd_wnd", "snd_wl1", "snd_wl2",
          "_delack_at", "_rcv_mss", "_last_heard", "readable")


def established(**settings) -> Pair:
    pair = Pair(Settings(**settings), Settings())
    pair.handshake()
    pair.s.send(b"hello", pair.now)      # the client learns the server's scaled window (a SYN's is unscaled)
    pair.run(duration=1.0)
    pair.c.read()
    return pair


def data_from_server(pair: Pair, payload: bytes, *, offset: int = 0, tsval_delta: int = 1) -> Segment:
    """The segment the server would send next, `offset` bytes beyond the client's RCV.NXT."""
    client, server = pair.c, pair.s
    timestamp = None
    if client.ts_ok:
        timestamp = ((client.ts_recent + tsval_delta) & 0xFFFFFFFF, client._tsval(pair.now))
    return Segment(server.local[1], server.remote[1], (client.rcv_nxt + offset) & 0xFFFFFFFF, client.snd_una,
                   ACK | PSH, client.snd_wnd >> client.snd_wscale, payload, timestamp=timestamp)


def state_of(connection) -> dict:
    state = {name: getattr(connection, name) for name in FIELDS}
    state["buffered"] = connection.peek()
    return state


@pytest.mark.parametrize("settings", [{}, {"timestamps": False}, {"delayed_ack": 0.0}, {"sack": False}])
@pytest.mark.parametrize("sizes", [(1,), (1448,), (100, 1448, 1448, 7), (1448,) * 40])
def test_a_run_ends_in_the_same_state_as_the_full_path(settings, sizes):
    pair = established(**settings)
    full, fast = pair.c, copy.deepcopy(pair.c)
    expected = fast.prediction()
    assert expected is not None
    rcv_nxt, ack, window, ts_recent, space = expected
    assert (rcv_nxt, ack, space) == (fast.rcv_nxt, fast.snd_una, fast.settings.receive_buffer_size)
    assert window << fast.snd_wscale == fast.snd_wnd
    assert ts_recent == (fast.ts_recent if fast.ts_ok else -1)
    segments, offset = [], 0
    for index, size in enumerate(sizes):
        segments.append(data_from_server(pair, bytes([index]) * size, offset=offset))
        offset += size
    now = pair.now + 0.001
    events = []
    for segment in segments:
        events += full.receive(segment, now)
    fast.receive_run([segment.payload for segment in segments],
                     segments[0].timestamp[0] if fast.ts_ok else None, now)
    assert state_of(fast) == state_of(full)
    assert fast.events() == [DataReceived(sum(sizes))]
    assert sum(event.length for event in events) == sum(sizes)
    acks_fast, acks_full = fast.poll(now), full.poll(now)
    assert len(acks_fast) <= 1                     # one ACK (or none yet) for the whole run
    if acks_fast and acks_full:
        assert acks_fast[-1] == acks_full[-1]       # and it is the ACK the full path ends with


def test_a_run_after_a_delayed_ack_keeps_ts_recent():
    """RFC 7323 4.3: TS.Recent comes from a segment starting at Last.ACK.sent; after a segment left
    unacknowledged (delayed ACK), the next run starts beyond it and must not move TS.Recent."""
    pair = established()
    full, fast = pair.c, copy.deepcopy(pair.c)
    first = data_from_server(pair, b"a" * 100)
    full.receive(first, pair.now)
    fast.receive_run([first.payload], first.timestamp[0], pair.now)
    assert fast.ts_recent == full.ts_recent == first.timestamp[0]
    assert fast.last_ack_sent != fast.rcv_nxt            # the ACK waits for the timer
    second = data_from_server(pair, b"b" * 100, tsval_delta=5)
    full.receive(second, pair.now)
    fast.receive_run([second.payload], second.timestamp[0], pair.now)
    assert fast.ts_recent == full.ts_recent == first.timestamp[0]


def test_prediction_is_off_where_the_full_path_is_needed():
    pair = established(receive_buffer_size=1000)
    pair.c.send(b"z" * 10, pair.now)
    pair.c.poll(pair.now)
    assert pair.c.prediction() is None                  # our bytes in flight: the ACK field matters

    pair = established()
    pair.c.receive(data_from_server(pair, b"x" * 100, offset=1448), pair.now)
    assert pair.c.out_of_order_bytes == 100
    assert pair.c.prediction() is None                  # a hole: the next segment may fill it

    pair = established()
    pair.c.shutdown_write(pair.now)
    assert pair.c.state is State.FIN_WAIT_1
    assert pair.c.prediction() is None

    pair = established()
    pair.c.close(pair.now)
    assert pair.c.prediction() is None


def test_prediction_reports_the_space_left_and_an_unmatchable_window():
    pair = established(receive_buffer_size=4000)
    pair.c.receive(data_from_server(pair, b"x" * 1000), pair.now)
    assert pair.c.prediction()[4] == 3000
    pair.c.snd_wnd += 1 if pair.c.snd_wscale else 0
    if pair.c.snd_wscale:
        assert pair.c.prediction()[2] == -1             # no 16-bit field scales to this window

"""Every entry of the state table is taken by some scenario (RST, abort, timeout in each state, the
opening and closing paths), plus the corner cases of the state machine: a FIN queued during
SYN-RECEIVED, a FIN and the ACK of ours in one segment, PAWS, challenge ACKs for in-window SYNs."""

from __future__ import annotations

import pytest
from test_tcp_engine_close import reach

import rawkit.tcp.connection as connection_module
from rawkit.tcp import Connection, Listener, Segment, Settings, State
from rawkit.tcp import seq as seqmath
from rawkit.tcp.segment import ACK, FIN, RST, SYN
from rawkit.tcp.states import TRANSITIONS, Trigger
from rawkit.tcp.testing import Pair

BLOCK = staticmethod(lambda segment: None)
RST_STATES = [State.SYN_SENT, State.SYN_RECEIVED, State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2,
              State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK, State.TIME_WAIT]


@pytest.fixture
def taken(monkeypatch):
    """Records every (state, trigger) the connection code looks up."""
    seen: set = set()
    original = connection_module.next_state

    def recording(state, trigger):
        seen.add((state, trigger))
        return original(state, trigger)
    monkeypatch.setattr(connection_module, "next_state", recording)
    return seen


def time_out(state: State) -> None:
    pair, connection = reach(state)
    connection.settings.max_retries = 1
    connection.settings.syn_retries = connection.settings.synack_retries = 1
    pair.to_server.rule = pair.to_client.rule = BLOCK
    if state in (State.ESTABLISHED, State.CLOSE_WAIT):
        connection.send(b"lost", pair.now)
    pair.run(until=lambda: connection.state is State.CLOSED, limit=60)
    assert connection.state is State.CLOSED


def test_every_transition_in_the_table_is_taken(taken):
    for state in RST_STATES:
        pair, connection = reach(state)
        rst_seq = 0 if state is State.SYN_SENT else connection.rcv_nxt
        connection.receive(Segment(connection.remote[1], connection.local[1], rst_seq, connection.snd_nxt,
                                   RST | (ACK if state is State.SYN_SENT else 0)), pair.now)
        pair, connection = reach(state)
        connection.abort(pair.now)
    for state in (s for s, trigger in TRANSITIONS if trigger is Trigger.TIMEOUT):
        time_out(state)
    # the ordinary paths: close first, close second, both at once, orphaned FIN-WAIT-2, early close
    pair, _ = reach(State.TIME_WAIT)
    pair.run(until=lambda: pair.c.state is State.CLOSED and pair.s.state is State.CLOSED)
    pair, server = reach(State.CLOSE_WAIT)
    server.shutdown_write(pair.now)
    pair.run(until=lambda: server.state is State.CLOSED)
    pair, _ = reach(State.CLOSING)
    pair.to_server.rule = None
    pair.run(until=lambda: pair.c.state is State.TIME_WAIT)
    pair = Pair(client_settings=Settings(fin_wait2_timeout=1.0))
    pair.handshake()
    pair.c.close(pair.now)
    pair.run(until=lambda: pair.c.state is State.CLOSED)
    connection = Connection(("a", 1), ("b", 2))
    connection.connect(0.0)
    connection.shutdown_write(0.0)
    a, b = Connection(("a", 1), ("b", 2)), Connection(("b", 2), ("a", 1))
    a.connect(0.0)
    b.connect(0.0)
    a.receive(b.poll(0.0)[0], 0.0)
    missing = set(TRANSITIONS) - taken
    assert missing == set()


def test_fin_queued_in_syn_received_goes_out_after_the_handshake():
    listener = Listener(80)
    server = listener.receive(Segment(1234, 80, 100, 0, SYN, 65535, mss=1460), 0.0,
                              ("10.0.0.2", 80), ("10.0.0.1", 1234)).connection
    synack, = server.poll(0.0)
    server.send(b"early", 0.0)
    server.shutdown_write(0.0)
    assert server.state is State.SYN_RECEIVED and server.poll(0.0) == []
    server.receive(Segment(1234, 80, 101, seqmath.add(synack.seq, 1), ACK, 65535), 0.1)
    assert server.state is State.FIN_WAIT_1
    data, = server.poll(0.1)
    assert data.payload == b"early" and data.flags & FIN and data.seq == seqmath.add(synack.seq, 1)


def test_fin_with_ack_of_our_fin_goes_straight_to_time_wait():
    pair = Pair(delay=0.01)
    pair.handshake()
    pair.c.shutdown_write(pair.now)
    fin, = pair.c.poll(pair.now)
    pair.s.receive(fin, pair.now)
    pair.s.shutdown_write(pair.now)
    both = [s for s in pair.s.poll(pair.now) if s.fin]
    assert both and both[-1].ack == seqmath.add(fin.seq, 1)
    pair.c.receive(both[-1], pair.now)
    assert pair.c.state is State.TIME_WAIT


def test_paws_drops_old_timestamps_with_an_ack():
    pair = Pair(delay=0.01)
    pair.handshake()
    recent = pair.s.ts_recent
    old = Segment(pair.c.local[1], pair.c.remote[1], pair.s.rcv_nxt, pair.s.snd_una, ACK | FIN, 1000,
                  b"stale", timestamp=(seqmath.add(recent, -10), 0))
    assert pair.s.receive(old, pair.now) == []
    ack, = pair.s.poll(pair.now)
    assert ack.flags == ACK and ack.ack == pair.s.rcv_nxt and pair.s.state is State.ESTABLISHED
    assert pair.s.readable == 0


def test_syn_in_established_gets_a_challenge_ack():
    pair = Pair(delay=0.01)
    pair.handshake()
    syn = Segment(pair.c.local[1], pair.c.remote[1], pair.s.rcv_nxt, 0, SYN, 1000)
    assert pair.s.receive(syn, pair.now) == []
    ack, = pair.s.poll(pair.now)
    assert ack.flags == ACK and ack.ack == pair.s.rcv_nxt and pair.s.state is State.ESTABLISHED


def test_segment_to_a_closed_connection_gets_a_reset():
    pair = Pair(delay=0.01)
    pair.handshake()
    pair.c.abort(pair.now)
    pair.c.poll(pair.now)
    data = Segment(pair.c.remote[1], pair.c.local[1], 5, 77, ACK, 1000, b"late")
    pair.c.receive(data, pair.now)
    rst, = pair.c.poll(pair.now)
    assert rst.flags == RST and rst.seq == 77


def test_time_wait_tells_whether_a_new_syn_may_reuse_the_four_tuple():
    pair = Pair(delay=0.01)
    pair.handshake()
    pair.c.shutdown_write(pair.now)
    pair.s.shutdown_write(pair.now)
    pair.run(until=lambda: pair.s.state is State.TIME_WAIT)
    waiting = pair.s
    newer_ts = (seqmath.add(waiting.ts_recent, 1000), 0)
    fresh = Segment(pair.c.local[1], pair.c.remote[1], seqmath.add(waiting.rcv_nxt, 10), 0, SYN, 65535,
                    timestamp=newer_ts)
    assert waiting.allows_new_connection(fresh)
    stale = Segment(fresh.sport, fresh.dport, fresh.seq, 0, SYN, 65535,
                    timestamp=(seqmath.add(waiting.ts_recent, -1), 0))
    assert not waiting.allows_new_connection(stale)
    untimed = Connection(("a", 1), ("b", 2), Settings(timestamps=False))
    assert not untimed.allows_new_connection(fresh)                      # not in TIME-WAIT
    assert not waiting.allows_new_connection(Segment(1, 2, 3, 4, SYN | ACK, timestamp=newer_ts))
    # the engine itself answers any SYN in TIME-WAIT with an ACK and stays put
    assert waiting.receive(fresh, pair.now) == []
    ack, = waiting.poll(pair.now)
    assert ack.flags == ACK and waiting.state is State.TIME_WAIT


def test_time_wait_reuse_by_sequence_number_without_timestamps():
    plain = Settings(timestamps=False)
    pair = Pair(client_settings=plain, server_settings=plain.copy(), delay=0.01)
    pair.handshake()
    pair.c.shutdown_write(pair.now)
    pair.s.shutdown_write(pair.now)
    pair.run(until=lambda: pair.s.state is State.TIME_WAIT)
    ahead = Segment(pair.c.local[1], pair.c.remote[1], seqmath.add(pair.s.rcv_nxt, 1), 0, SYN, 65535)
    behind = Segment(ahead.sport, ahead.dport, seqmath.add(pair.s.rcv_nxt, -5), 0, SYN, 65535)
    assert pair.s.allows_new_connection(ahead) and not pair.s.allows_new_connection(behind)

"""Property tests: random segments and user calls never crash the engine or break its invariants,
and random loss/reordering/duplication never corrupts the byte stream."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from test_tcp_engine_close import reach

from rawkit.tcp import Listener, LocalProtocolError, Segment, Settings, State
from rawkit.tcp import seq as seqmath
from rawkit.tcp.testing import Pair

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    phases=[Phase.explicit, Phase.generate, Phase.shrink])


# a segment relative to the connection's own sequence numbers, so many land in or near the window
SEGMENT = st.tuples(
    st.integers(-3000, 9000),                 # seq offset from rcv_nxt
    st.integers(-3000, 3000),                 # ack offset from snd_una
    st.integers(0, 0x1FF),                    # flags
    st.integers(0, 65535),                    # window
    st.integers(0, 2000),                     # payload length
    st.booleans(),                            # timestamp option
    st.lists(st.tuples(st.integers(-2000, 9000), st.integers(0, 3000)), max_size=3),   # SACK blocks
)
ACTION = st.one_of(
    st.tuples(st.just("segment"), SEGMENT),
    st.tuples(st.just("send"), st.integers(0, 8000)),
    st.tuples(st.just("read"), st.integers(0, 4000)),
    st.tuples(st.just("wait"), st.floats(0, 30)),
    st.tuples(st.just("user"), st.sampled_from(["shutdown_write", "close", "abort"])),
)


@PROPERTY
@given(st.lists(SEGMENT, max_size=30))
def test_random_segments_to_a_listener(segments):
    listener = Listener(80, backlog=2, syn_backlog=3)
    for index, (seq_offset, ack_offset, flags, window, length, stamped, _) in enumerate(segments):
        segment = Segment(1000 + index % 4, 80, seqmath.add(5000, seq_offset), seqmath.add(9000, ack_offset),
                          flags, window, bytes(length), timestamp=(index, 0) if stamped else None)
        result = listener.receive(segment, float(index), ("10.0.0.2", 80), ("10.0.0.1", segment.sport))
        if result.connection is not None:
            assert segment.syn and not segment.has_ack and not segment.rst
            check_output(result.connection, result.connection.poll(float(index)))
        for reply in result.replies:                  # a RST, or a SYN cookie once the SYN queue is full
            assert not segment.rst
            assert reply.rst or (segment.syn and reply.syn and reply.ack == seqmath.add(segment.seq, 1))
    assert sum(1 for c in listener._pending if c.state is State.SYN_RECEIVED) <= 3


def check_invariants(connection) -> None:
    assert seqmath.le(connection.snd_una, connection.snd_nxt)
    assert seqmath.le(connection.snd_nxt, connection.snd_max)
    assert connection.unacknowledged <= connection.settings.send_buffer_size
    assert connection.readable + connection.out_of_order_bytes <= connection.settings.receive_buffer_size
    assert len(connection._ooo) <= connection.settings.max_out_of_order
    assert connection.congestion.cwnd >= connection.congestion.mss
    if connection.state is State.CLOSED:
        assert connection.next_deadline() is None


def check_output(connection, segments) -> None:
    for segment in segments:
        assert 0 <= segment.window <= 0xFFFF
        assert len(segment.payload) <= max(connection.send_mss, 1)
        assert Segment.parse(segment.to_bytes()) == segment


STARTS = [State.SYN_SENT, State.SYN_RECEIVED, State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2,
          State.CLOSE_WAIT, State.CLOSING, State.LAST_ACK, State.TIME_WAIT]


@PROPERTY
@given(st.sampled_from(STARTS), st.lists(ACTION, max_size=40), st.booleans())
def test_random_segments_and_calls_keep_invariants(start, actions, small_buffers):
    pair, connection = reach(start)
    if small_buffers:
        connection.settings.send_buffer_size = 5000
        connection.settings.keepalive = True
        connection.settings.keepalive_idle = 5.0
    now = pair.now
    for kind, argument in actions:
        if kind == "segment":
            seq_offset, ack_offset, flags, window, length, stamped, sacks = argument
            segment = Segment(connection.remote[1], connection.local[1],
                              seqmath.add(connection.rcv_nxt, seq_offset),
                              seqmath.add(connection.snd_una, ack_offset), flags, window, bytes(length),
                              timestamp=(int(now * 1000) & seqmath.MASK, 0) if stamped else None,
                              sack_blocks=tuple((seqmath.add(connection.snd_una, left),
                                                 seqmath.add(connection.snd_una, left + size))
                                                for left, size in sacks))
            connection.receive(segment, now)
        elif kind == "send":
            try:
                assert connection.send(bytes(argument), now) <= argument
            except LocalProtocolError:
                assert connection.state not in (State.ESTABLISHED, State.CLOSE_WAIT) or connection.fin_queued
        elif kind == "read":
            assert len(connection.read(argument)) <= argument
        elif kind == "wait":
            now += argument
        else:
            try:
                getattr(connection, argument)(now)
            except LocalProtocolError:
                assert connection.state is State.CLOSED
        window_edge = seqmath.add(connection.snd_una, connection.snd_wnd)
        edge = window_edge if seqmath.gt(window_edge, connection.snd_max) else connection.snd_max
        out = connection.poll(now)
        check_output(connection, out)
        for segment in out:                  # new data only inside the offered window
            if segment.payload and not segment.rst:
                assert seqmath.le(seqmath.add(segment.seq, len(segment.payload)), edge)
        connection.events()
        check_invariants(connection)


@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.08), st.floats(0.0, 0.1), st.floats(0.0, 0.05))
@example(seed=4_294_967_294, loss=0.05181911070174727, reorder=0.016588758424090914, duplicate=1e-05)
def test_lossy_reordering_duplicating_channel_never_corrupts_the_stream(seed, loss, reorder, duplicate):
    rng = random.Random(seed)
    pair = Pair(client_settings=Settings(receive_buffer_size=20000), server_settings=Settings(
        receive_buffer_size=30000), delay=0.002)

    def rule(segment):
        roll = rng.random()
        if roll < loss:
            return None
        delay = rng.uniform(0, 0.01) if rng.random() < reorder else 0.0
        return (delay, delay + 0.001) if roll < loss + duplicate else delay
    pair.handshake()
    pair.to_server.rule = pair.to_client.rule = rule
    upload, download = rng.randbytes(60_000), rng.randbytes(25_000)
    pair.client.outbox += upload
    pair.server.outbox += download
    done = pair.run(until=lambda: len(pair.server.inbox) == len(upload)
                    and len(pair.client.inbox) == len(download), limit=300)
    assert done and bytes(pair.server.inbox) == upload and bytes(pair.client.inbox) == download
    pair.c.shutdown_write(pair.now)
    pair.s.shutdown_write(pair.now)
    assert pair.run(until=lambda: pair.c.state in (State.TIME_WAIT, State.CLOSED)
                    and pair.s.state in (State.TIME_WAIT, State.CLOSED), limit=300)


SETTINGS = st.builds(
    Settings, receive_buffer_size=st.sampled_from([2000, 5000, 65535, 300000]),
    send_buffer_size=st.sampled_from([3000, 20000, 262144]), nodelay=st.booleans(), timestamps=st.booleans(),
    sack=st.booleans(), window_scaling=st.booleans(), delayed_ack=st.sampled_from([0, 0.04, 0.2]),
    mss=st.sampled_from([536, 1000, 1460, 9000]), keepalive=st.booleans(),
    keepalive_idle=st.sampled_from([1.0, 10.0]), keepalive_interval=st.just(0.5))


@settings(max_examples=15, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(SETTINGS, SETTINGS, st.integers(0, 2**32 - 1), st.sampled_from(["shutdown_write", "close"]))
def test_any_settings_and_slow_readers_deliver_and_close(client_settings, server_settings, seed, closer):
    """Mismatched options, tiny buffers, jumbo MSS, keepalive, an application reading at random
    moments in random amounts, 10% loss with reordering: everything arrives, both sides close."""
    rng = random.Random(seed)
    pair = Pair(client_settings=client_settings, server_settings=server_settings,
                delay=rng.uniform(0.001, 0.05))

    def rule(segment):
        if rng.random() < 0.1:
            return None
        return rng.uniform(0, 0.05) if rng.random() < 0.2 else 0.0
    pair.to_server.rule = pair.to_client.rule = rule
    pair.client.auto_read = pair.server.auto_read = False
    pair.connect()
    upload, download = rng.randbytes(rng.randint(0, 40000)), rng.randbytes(rng.randint(0, 20000))
    pair.client.outbox += upload
    pair.server.outbox += download
    for _ in range(20000):
        pair.run(duration=rng.choice([0.001, 0.01, 0.1, 1.0]))
        for side in (pair.client, pair.server):
            if side.connection is not None and rng.random() < 0.7:
                side.inbox += side.connection.read(rng.choice([10, 1000, 100000]))
        if pair.server.connection is not None and len(pair.server.inbox) == len(upload) \
                and len(pair.client.inbox) == len(download):
            break
    assert bytes(pair.server.inbox) == upload and bytes(pair.client.inbox) == download
    for connection in (pair.c, pair.s):
        getattr(connection, closer)(pair.now)
    pair.client.auto_read = pair.server.auto_read = True
    assert pair.run(until=lambda: pair.c.state in (State.TIME_WAIT, State.CLOSED)
                    and pair.s.state in (State.TIME_WAIT, State.CLOSED), limit=30000)

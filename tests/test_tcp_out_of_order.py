"""Bounded memory for out-of-order data: the reassembly queue never holds more than its byte and
range bounds, drops the data farthest from RCV.NXT first, and a transfer through a tiny queue still
arrives intact because the sender resends what was dropped (nothing out of order was acknowledged)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rawkit.tcp import Segment, Settings, State
from rawkit.tcp import seq as seqmath
from rawkit.tcp.reassembly import Reassembly
from rawkit.tcp.segment import ACK
from rawkit.tcp.testing import CLIENT, SERVER, Pair, drop_nth

STREAM = bytes(random.Random(1).getrandbits(8) for _ in range(5000))
pieces = st.lists(st.tuples(st.integers(1, 4000), st.integers(1, 400)), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(pieces, st.integers(0, seqmath.MASK), st.integers(1, 6), st.integers(50, 3000))
def test_queue_holds_true_bytes_within_bounds_nearest_first(adds, rcv_nxt, max_ranges, max_bytes):
    queue = Reassembly(max_ranges, max_bytes)
    added: set[int] = set()

    def held_now() -> set[int]:
        return {seqmath.distance(start, rcv_nxt) + i for start, data in queue.ranges
                for i in range(len(data))}
    for offset, length in adds:
        chunk = STREAM[offset:offset + length]
        before = held_now() | set(range(offset, offset + len(chunk)))
        queue.add(seqmath.add(rcv_nxt, offset), chunk, rcv_nxt)
        added.update(range(offset, offset + len(chunk)))
        assert len(queue) <= max_ranges and queue.buffered <= max_bytes
        after = held_now()
        if after and before - after:                    # what this add pruned lies beyond what stays
            assert max(after) < min(before - after)
    held: set[int] = set()
    previous_end = 0
    for start, data in queue.ranges:
        offset = seqmath.distance(start, rcv_nxt)
        assert offset > previous_end                        # disjoint, ordered, never touching
        assert bytes(data) == STREAM[offset:offset + len(data)]
        held.update(range(offset, offset + len(data)))
        previous_end = offset + len(data)
    assert queue.buffered == len(held)
    assert held <= added


@settings(max_examples=100, deadline=None)
@given(pieces, st.integers(0, seqmath.MASK))
def test_pop_ready_continues_the_stream(adds, rcv_nxt):
    queue = Reassembly(64, 1 << 20)
    for offset, length in adds:
        queue.add(seqmath.add(rcv_nxt, offset), STREAM[offset:offset + length], rcv_nxt)
    assert queue.pop_ready(rcv_nxt) == b""                  # offset 0 never arrived: a hole at RCV.NXT
    first = seqmath.distance(queue.ranges[0][0], rcv_nxt)
    ready = queue.pop_ready(seqmath.add(rcv_nxt, first))
    assert ready == STREAM[first:first + len(ready)] and ready


def test_flood_of_scattered_segments_stays_bounded():
    pair = Pair(server_settings=Settings(max_out_of_order=16, max_out_of_order_bytes=20_000), delay=0.01)
    pair.handshake()
    server = pair.s
    generator = random.Random(3)
    base = server.rcv_nxt
    for _ in range(5000):                                   # in-window segments, none at RCV.NXT
        offset = generator.randrange(1, server.settings.receive_buffer_size - 100)
        segment = Segment(CLIENT[1], SERVER[1], seqmath.add(base, offset), server.snd_nxt, ACK,
                          1000, bytes(generator.randrange(1, 100)))
        server.receive(segment, pair.now)
        assert len(server._ooo) <= 16 and server.out_of_order_bytes <= 20_000
        server.poll(pair.now)
    assert server.state is State.ESTABLISHED and server.rcv_nxt == base


def test_transfer_through_a_tiny_queue_arrives_intact():
    pair = Pair(client_settings=Settings(nodelay=True, initial_window=40),
                server_settings=Settings(max_out_of_order_bytes=5 * 1448), delay=0.02)
    pair.handshake()
    pair.to_server.rule = drop_nth(0, 20)
    data = bytes(random.Random(5).getrandbits(8) for _ in range(100_000))
    pair.client.outbox += data
    assert pair.run(until=lambda: len(pair.server.inbox) == len(data), limit=60)
    assert bytes(pair.server.inbox) == data
    assert pair.s._ooo.dropped > 0                          # the bound did bite


def test_send_buffer_never_grows_past_its_size_when_the_peer_stops_reading():
    pair = Pair(client_settings=Settings(send_buffer_size=50_000), delay=0.01)
    pair.handshake()
    pair.server.auto_read = False                          # the peer's window closes
    pair.client.outbox += bytes(1_000_000)
    pair.run(duration=3.0)
    assert pair.c.unacknowledged <= 50_000 and pair.c.send_space == 50_000 - pair.c.unacknowledged
    assert len(pair.client.outbox) > 800_000                # the rest waits in the application
    assert pair.c.send(b"more", pair.now) == min(4, pair.c.send_space)

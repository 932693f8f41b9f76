"""Moving data: both directions, bulk with loss and reordering, SACK blocks for out-of-order data,
Nagle, delayed ACKs, zero windows and probes, window scaling, timestamps."""

from __future__ import annotations

import hashlib
import random

from rawkit.tcp import DataReceived, Segment, Settings, State
from rawkit.tcp import seq as seqmath
from rawkit.tcp.segment import ACK
from rawkit.tcp.testing import Pair, drop_nth


def data_segments(channel):
    return [(t, s) for t, s in channel.sent if s.payload]


def test_small_messages_both_ways():
    pair = Pair(delay=0.01)
    pair.handshake()
    pair.client.outbox += b"GET / HTTP/1.0\r\n\r\n"
    pair.run(until=lambda: len(pair.server.inbox) == 18)
    pair.server.outbox += b"HTTP/1.0 200 OK\r\n\r\nhello"
    pair.run(until=lambda: len(pair.client.inbox) == 24)
    assert bytes(pair.server.inbox) == b"GET / HTTP/1.0\r\n\r\n"
    assert bytes(pair.client.inbox) == b"HTTP/1.0 200 OK\r\n\r\nhello"
    assert DataReceived(18) in pair.server.events and DataReceived(24) in pair.client.events
    pair.client.auto_read = False
    pair.server.outbox += b"peekaboo"
    pair.run(until=lambda: pair.c.readable == 8)
    assert pair.c.peek(4) == b"peek" and pair.c.readable == 8 and pair.c.read(4) == b"peek"
    assert pair.c.read() == b"aboo" and pair.c.read() == b"" and not pair.c.eof


def test_bulk_both_ways_with_loss_and_reordering_keeps_every_byte():
    rng = random.Random(7)

    def lossy(segment):
        roll = rng.random()
        if roll < 0.01:
            return None
        return 0.003 if roll < 0.03 else 0.0            # 2% arrive 3 ms late: reordered
    pair = Pair(delay=0.005)
    pair.handshake()
    pair.to_server.rule = lossy
    pair.to_client.rule = lossy
    upload = rng.randbytes(3_000_000)
    download = rng.randbytes(1_000_000)
    pair.client.outbox += upload
    pair.server.outbox += download
    assert pair.run(until=lambda: len(pair.server.inbox) == len(upload)
                    and len(pair.client.inbox) == len(download), limit=600)
    assert hashlib.sha256(pair.server.inbox).digest() == hashlib.sha256(upload).digest()
    assert hashlib.sha256(pair.client.inbox).digest() == hashlib.sha256(download).digest()
    assert pair.to_server.dropped and pair.to_client.dropped
    pair.run(duration=1)
    assert seqmath.le(pair.c.snd_una, pair.c.snd_nxt) and pair.c.snd_una == pair.c.snd_max


def test_out_of_order_segments_produce_sack_blocks():
    pair = Pair(client_settings=Settings(nodelay=True), delay=0.01)
    pair.handshake()
    pair.to_server.rule = drop_nth(1)                  # lose the second data segment
    mss = pair.c.send_mss
    pair.client.outbox += bytes(5 * mss)
    pair.run(until=lambda: len(pair.server.inbox) == 5 * mss)
    sent = [s for _, s in data_segments(pair.to_server)]
    hole = sent[1]
    dupacks = [s for _, s in pair.to_client.sent if s.sack_blocks]
    assert [s.ack for s in dupacks] == [hole.seq] * 3
    after_hole = seqmath.add(hole.seq, mss)
    expected = [((after_hole, seqmath.add(after_hole, k * mss)),) for k in (1, 2, 3)]
    assert [s.sack_blocks for s in dupacks] == expected
    # once the hole is filled the ACK jumps over everything and SACK blocks stop
    last_ack = pair.to_client.sent[-1][1]
    assert last_ack.ack == seqmath.add(hole.seq, 4 * mss) and last_ack.sack_blocks == ()


def test_sack_first_block_reports_newest_arrival():
    pair = Pair(client_settings=Settings(nodelay=True), delay=0.01)
    pair.handshake()
    pair.to_server.rule = drop_nth(0, 2, 4)             # holes before blocks 1 and 3 and after
    mss = pair.c.send_mss
    pair.client.outbox += bytes(5 * mss)
    pair.run(until=lambda: any(len(s.sack_blocks) == 2 for _, s in pair.to_client.sent))
    sent = [s for _, s in data_segments(pair.to_server)]
    two = next(s for _, s in pair.to_client.sent if len(s.sack_blocks) == 2)
    assert two.sack_blocks == ((sent[3].seq, seqmath.add(sent[3].seq, mss)),
                               (sent[1].seq, seqmath.add(sent[1].seq, mss)))
    pair.run(until=lambda: len(pair.server.inbox) == 5 * mss)
    assert bytes(pair.server.inbox) == bytes(5 * mss)


def test_nagle_coalesces_small_writes_and_nodelay_does_not():
    for nodelay, expected_sizes in ((False, [1, 9]), (True, [1] * 10)):
        pair = Pair(client_settings=Settings(nodelay=nodelay), delay=0.05)
        pair.handshake()
        for _ in range(10):
            pair.c.send(b"x", pair.now)
            pair.exchange()
        pair.run(until=lambda p=pair: len(p.server.inbox) == 10)
        assert [len(s.payload) for _, s in data_segments(pair.to_server)] == expected_sizes


def test_delayed_ack_waits_40ms_for_one_segment_and_acks_every_second_full_one():
    pair = Pair(delay=0.01)
    pair.handshake()
    pair.client.outbox += b"ping"              # the first data: quick-ACK mode (Linux) answers at once
    pair.run(until=lambda: len(pair.to_client.sent) > 2)
    (data_time, _), = data_segments(pair.to_server)
    assert round(pair.to_client.sent[-1][0] - (data_time + 0.01), 6) == 0
    pair.server.outbox += b"pong"              # a reply at once: interactive, so ACKs are delayed now
    pair.run(until=lambda: pair.c.snd_una == pair.c.snd_nxt and pair.s.snd_una == pair.s.snd_nxt)
    pair.client.outbox += b"ping"
    before = len(pair.to_client.sent)
    pair.run(until=lambda: len(pair.to_client.sent) > before)
    data_time = data_segments(pair.to_server)[-1][0]
    ack_time, ack = pair.to_client.sent[-1]
    assert round(ack_time - (data_time + 0.01), 6) == 0.04 and ack.ack == pair.c.snd_nxt
    # two full-sized segments: the second is acknowledged at once
    before = len(pair.to_client.sent)
    pair.client.outbox += bytes(2 * pair.c.send_mss)
    pair.run(until=lambda: len(pair.to_client.sent) > before)
    segments = data_segments(pair.to_server)
    ack_time, ack = pair.to_client.sent[before]
    assert round(ack_time - (segments[-1][0] + 0.01), 6) == 0 and ack.ack == pair.c.snd_nxt


def test_delayed_ack_disabled_acks_every_segment():
    pair = Pair(server_settings=Settings(delayed_ack=0), delay=0.01)
    pair.handshake()
    pair.client.outbox += b"ping"
    pair.run(until=lambda: len(pair.to_client.sent) > 2)
    (data_time, _), = data_segments(pair.to_server)
    assert round(pair.to_client.sent[-1][0] - data_time, 6) == 0.01


def test_zero_window_probes_back_off_and_window_reopens():
    pair = Pair(server_settings=Settings(receive_buffer_size=8192), delay=0.01)
    pair.handshake()
    pair.server.auto_read = False
    payload = random.Random(1).randbytes(20000)
    pair.client.outbox += payload
    pair.run(until=lambda: pair.s.readable == 8192)
    pair.run(duration=10)
    zero_window = [s for _, s in pair.to_client.sent if s.window == 0]
    assert zero_window and pair.c.snd_wnd == 0
    probes = [t for t, s in pair.to_server.sent if not s.payload and s.seq == seqmath.add(pair.c.snd_una, -1)]
    gaps = [round(b - a, 3) for a, b in zip(probes, probes[1:], strict=False)]
    assert len(probes) >= 4
    assert all(later == 2 * earlier for earlier, later in zip(gaps, gaps[1:], strict=False))
    assert pair.c.state is State.ESTABLISHED and pair.s.readable == 8192   # nothing beyond the window
    pair.server.auto_read = True
    assert pair.run(until=lambda: len(pair.server.inbox) == len(payload), limit=120)
    assert bytes(pair.server.inbox) == payload


def test_window_scaling_math():
    big = Settings(receive_buffer_size=1 << 20)           # 1 MiB needs a shift of 5 to fit 16 bits
    pair = Pair(server_settings=big, delay=0.01)
    pair.handshake()
    synack = next(s for _, s in pair.to_client.sent if s.syn)
    assert synack.wscale == 5 and synack.window == 0xFFFF   # a SYN's window is never scaled
    assert pair.c.snd_wscale == 5 and pair.s.rcv_wscale == 5
    pair.server.auto_read = False
    pair.client.outbox += bytes(100_000)
    pair.run(until=lambda: pair.s.readable == 100_000)
    pair.run(duration=1)
    last = pair.to_client.sent[-1][1]
    assert last.window == ((1 << 20) - 100_000) >> 5
    assert pair.c.snd_wnd == last.window << 5


def test_timestamps_echo_and_rtt_estimate():
    pair = Pair(delay=0.05)
    pair.handshake()
    pair.client.outbox += bytes(200_000)
    pair.run(until=lambda: len(pair.server.inbox) == 200_000)
    assert abs(pair.c.rtt.srtt - 0.1) < 0.002 and pair.c.rtt.rto >= 0.2
    # every segment echoes the newest TSval its sender had accepted
    for channel_from, channel_to in ((pair.to_server, pair.to_client), (pair.to_client, pair.to_server)):
        for sent_at, segment in channel_from.sent[1:]:
            echoed = segment.timestamp[1]
            seen = [s.timestamp[0] for t, s in channel_to.sent if t + 0.05 <= sent_at]
            assert echoed in seen
    tsvals = [s.timestamp[0] for _, s in pair.to_server.sent]
    assert all(seqmath.le(a, b) for a, b in zip(tsvals, tsvals[1:], strict=False))


def test_receive_buffer_is_bounded_by_its_size():
    pair = Pair(server_settings=Settings(receive_buffer_size=4096), delay=0.01)
    pair.handshake()
    pair.server.auto_read = False
    pair.to_server.rule = drop_nth(0)
    pair.client.outbox += bytes(50_000)
    pair.run(duration=5)
    assert pair.s.readable <= 4096 and pair.s.out_of_order_bytes + pair.s.readable <= 4096


def test_send_buffer_is_bounded_and_send_returns_accepted_bytes():
    pair = Pair(client_settings=Settings(send_buffer_size=10_000))
    pair.handshake()
    assert pair.c.send(bytes(25_000), pair.now) == 10_000
    assert pair.c.send(b"more", pair.now) == 0 and pair.c.send_space == 0


def test_transfer_across_sequence_wrap(monkeypatch):
    import rawkit.tcp.connection as connection_module
    monkeypatch.setattr(connection_module, "initial_sequence", lambda *args: seqmath.MASK - 3000)
    pair = Pair(delay=0.01)
    pair.handshake()
    pair.to_server.rule = drop_nth(1, 4)               # losses right around the wrap
    payload = random.Random(3).randbytes(200_000)
    pair.client.outbox += payload
    pair.server.outbox += payload[:50_000]
    assert pair.run(until=lambda: len(pair.server.inbox) == len(payload)
                    and len(pair.client.inbox) == 50_000, limit=30)
    assert bytes(pair.server.inbox) == payload and bytes(pair.client.inbox) == payload[:50_000]
    pair.run(duration=0.1)
    assert seqmath.gt(pair.c.snd_una, pair.c.iss) and pair.c.snd_una < pair.c.iss    # really wrapped
    assert pair.c.snd_una == pair.c.snd_max and pair.s.snd_una == pair.s.snd_max


def test_fin_arriving_before_a_hole_is_held_until_the_hole_fills():
    pair = Pair(client_settings=Settings(nodelay=True), delay=0.01)
    pair.handshake()
    pair.to_server.rule = drop_nth(0)
    pair.client.outbox += b"first"
    pair.exchange()
    pair.c.send(b"second", pair.now)
    pair.c.shutdown_write(pair.now)
    pair.run(duration=0.015)
    assert pair.s.state is State.ESTABLISHED and not pair.s.fin_received     # FIN out of order
    pair.run(until=lambda: pair.s.state is State.CLOSE_WAIT)
    assert bytes(pair.server.inbox) == b"firstsecond" and pair.s.eof


def test_unanswered_zero_window_probes_time_out():
    from rawkit.tcp import TimedOut
    pair = Pair(server_settings=Settings(receive_buffer_size=4096), client_settings=Settings(max_retries=3),
                delay=0.01)
    pair.handshake()
    pair.server.auto_read = False
    pair.client.outbox += bytes(10_000)
    pair.run(until=lambda: pair.c.snd_wnd == 0 and pair.c.snd_una == pair.c.snd_max)
    pair.to_client.rule = lambda segment: None          # the receiver vanishes while closed
    pair.run(until=lambda: pair.c.state is State.CLOSED, limit=120)
    assert TimedOut("zero-window probes unanswered") in pair.client.events


def test_one_byte_window_probe_into_a_zero_window_is_acked_not_accepted():
    pair = Pair(server_settings=Settings(receive_buffer_size=4096), delay=0.01)
    pair.handshake()
    pair.server.auto_read = False
    pair.client.outbox += bytes(4096)
    pair.run(until=lambda: pair.s.readable == 4096)
    pair.run(duration=0.1)
    server = pair.s
    probe = Segment(pair.c.local[1], pair.c.remote[1], server.rcv_nxt, server.snd_nxt, ACK, 1000, b"x")
    assert server.receive(probe, pair.now) == []
    reply, = server.poll(pair.now)
    assert reply.flags == ACK and reply.ack == probe.seq and reply.window == 0 and server.readable == 4096

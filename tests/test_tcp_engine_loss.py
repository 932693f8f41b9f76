"""Loss recovery: retransmission timeout with exponential backoff (RFC 6298), giving up after the
retry limit, fast retransmit on three duplicate ACKs (RFC 5681) and NewReno partial ACKs (RFC 6582)."""

from __future__ import annotations

from rawkit.tcp import Closed, Segment, Settings, State, TimedOut
from rawkit.tcp import seq as seqmath
from rawkit.tcp.segment import ACK
from rawkit.tcp.testing import Pair, drop_nth


def sends_of(channel, sequence):
    return [t for t, s in channel.sent if s.payload and s.seq == sequence]


def test_rto_retransmits_with_exponential_backoff():
    pair = Pair(client_settings=Settings(timestamps=False), delay=0.01)
    pair.handshake()
    assert pair.c.rtt.rto == 0.2                        # 20 ms RTT, clamped to Linux's 200 ms floor
    pair.to_server.rule = drop_nth(0, 1, 2, 3)
    pair.client.outbox += b"lost four times"
    pair.run(until=lambda: len(pair.server.inbox) == 15, limit=30)
    first = pair.to_server.sent[-1][1]
    times = sends_of(pair.to_server, first.seq)
    gaps = [round(b - a, 6) for a, b in zip(times, times[1:], strict=False)]
    assert gaps == [0.2, 0.4, 0.8, 1.6]
    pair.run(duration=0.1)
    # Karn: the ACK of a retransmission gives no RTT sample, so the backed-off RTO stays ...
    assert pair.c.retries == 0 and pair.c.backoff == 4
    pair.client.outbox += b"fresh"
    pair.run(until=lambda: len(pair.server.inbox) == 20)
    pair.run(duration=0.1)
    assert pair.c.backoff == 0                            # ... until a fresh segment is timed
    assert pair.c.congestion.cwnd <= 2 * pair.c.send_mss     # loss window after RTO, then slow start


def test_rto_resets_congestion_window_and_goes_back():
    pair = Pair(client_settings=Settings(congestion_control="reno"), delay=0.01)
    pair.handshake()
    mss = pair.c.send_mss
    pair.to_server.rule = drop_nth(0)
    pair.client.outbox += bytes(mss)                    # one segment: no duplicate ACK can come
    pair.run(until=lambda: pair.c.congestion.cwnd == mss or len(pair.server.inbox) == mss, limit=5)
    assert pair.c.congestion.cwnd == mss and pair.c.congestion.ssthresh == 2 * mss
    pair.run(until=lambda: len(pair.server.inbox) == mss, limit=5)
    assert bytes(pair.server.inbox) == bytes(mss)


def test_early_retransmit_when_too_few_segments_for_three_duplicate_acks():
    pair = Pair(delay=0.01)
    pair.handshake()
    mss = pair.c.send_mss
    pair.to_server.rule = drop_nth(0)
    pair.client.outbox += bytes(2 * mss)                # RFC 5827: one SACKed segment marks the first lost
    start = pair.now
    pair.run(until=lambda: len(pair.server.inbox) == 2 * mss, limit=5)
    assert pair.now - start < 0.1 and pair.c.loss_episodes == 1 and pair.c.congestion.cwnd < 10 * mss


def test_gives_up_after_max_retries():
    pair = Pair(client_settings=Settings(max_retries=3, timestamps=False), delay=0.01)
    pair.handshake()
    pair.to_server.rule = lambda segment: None if segment.payload else 0.0
    pair.client.outbox += b"doomed"
    start = pair.now
    pair.run(until=lambda: pair.c.state is State.CLOSED, limit=60)
    times = [round(t - start, 6) for t, s in pair.to_server.sent if s.payload]
    assert times == [0, 0.2, 0.6, 1.4] and round(pair.now - start, 6) == 3.0
    assert pair.client.events[-2:] == [TimedOut("retransmissions"), Closed()]
    assert pair.c.error == TimedOut("retransmissions")


def test_fast_retransmit_on_third_duplicate_ack():
    pair = Pair(client_settings=Settings(nodelay=True, congestion_control="reno", sack=False), delay=0.05)
    pair.handshake()
    mss = pair.c.send_mss
    pair.to_server.rule = drop_nth(2)
    pair.client.outbox += bytes(8 * mss)
    pair.run(until=lambda: pair.c.congestion.in_recovery, limit=5)
    flight = 6 * mss                                    # two of the eight were acknowledged
    assert pair.c.congestion.ssthresh == flight // 2
    # ssthresh + 3 MSS at the third dup ACK, + 1 MSS for each further one (they arrive together here)
    assert pair.c.congestion.dupacks >= 3
    assert pair.c.congestion.cwnd == flight // 2 + pair.c.congestion.dupacks * mss
    lost = [s for _, s in pair.to_server.sent if s.payload][2]
    dupacks = [t for t, s in pair.to_client.sent if s.ack == lost.seq and not s.payload]
    original, retransmit = sends_of(pair.to_server, lost.seq)
    assert round(retransmit - (dupacks[2] + 0.05), 6) == 0   # the third dup ACK's arrival, not an RTO
    pair.run(until=lambda: len(pair.server.inbox) == 8 * mss, limit=5)
    pair.run(duration=0.2)
    assert not pair.c.congestion.in_recovery and pair.c.snd_una == pair.c.snd_max
    assert pair.c.congestion.cwnd <= pair.c.congestion.ssthresh + mss


def test_newreno_partial_ack_retransmits_next_hole_without_timeout():
    pair = Pair(client_settings=Settings(nodelay=True, timestamps=False, sack=False), delay=0.05)
    pair.handshake()
    mss = pair.c.send_mss
    pair.to_server.rule = drop_nth(2, 5)
    pair.client.outbox += bytes(10 * mss)
    pair.run(until=lambda: len(pair.server.inbox) == 10 * mss, limit=10)
    data = [s for _, s in pair.to_server.sent if s.payload]
    first_hole, second_hole = data[2], data[5]
    _, first_retransmit = sends_of(pair.to_server, first_hole.seq)
    _, second_retransmit = sends_of(pair.to_server, second_hole.seq)
    partial = next(t for t, s in pair.to_client.sent if s.ack == second_hole.seq)
    assert round(second_retransmit - (partial + 0.05), 6) == 0   # right on the partial ACK's arrival
    assert second_retransmit - first_retransmit < pair.c.rtt.rto + 0.11
    assert pair.c.congestion.recover == seqmath.add(data[0].seq, 10 * mss)
    assert pair.c.backoff == 0 and pair.c.retries == 0          # no timeout fired


def test_duplicate_acks_inside_old_recovery_do_not_retrigger():
    pair = Pair(client_settings=Settings(nodelay=True), delay=0.05)
    pair.handshake()
    mss = pair.c.send_mss
    pair.to_server.rule = drop_nth(2)
    pair.client.outbox += bytes(8 * mss)
    pair.run(until=lambda: len(pair.server.inbox) == 8 * mss, limit=5)
    lost = [s for _, s in pair.to_server.sent if s.payload][2]
    assert len(sends_of(pair.to_server, lost.seq)) == 2         # retransmitted exactly once


def test_congestion_window_restarts_after_idle_longer_than_rto():
    for restart, expect_reset in ((True, True), (False, False)):
        pair = Pair(client_settings=Settings(slow_start_after_idle=restart), delay=0.01)
        pair.handshake()
        pair.client.outbox += bytes(300_000)
        pair.run(until=lambda p=pair: len(p.server.inbox) == 300_000)
        pair.run(duration=0.1)
        grown = pair.c.congestion.cwnd
        assert grown > 20 * pair.c.send_mss
        pair.run(duration=5.0)                               # idle for far longer than the RTO
        pair.c.send(bytes(1000), pair.now)
        pair.exchange()
        initial = 10 * pair.c.send_mss
        assert pair.c.congestion.cwnd == (initial if expect_reset else grown)


def test_pure_acks_carry_snd_max_after_going_back():
    """Regression: with snd_nxt rewound by an RTO, ACKs sent at snd_nxt fell behind the peer's
    RCV.NXT, were unacceptable there, and two such peers ACKed each other forever."""
    pair = Pair(client_settings=Settings(nodelay=True), server_settings=Settings(nodelay=True), delay=0.01)
    pair.handshake()
    pair.to_server.rule = pair.to_client.rule = lambda segment: 0.0 if segment.payload else None
    pair.client.outbox += bytes(3 * pair.c.send_mss)
    pair.server.outbox += bytes(3 * pair.s.send_mss)
    pair.run(until=lambda: pair.c.retries and pair.s.retries, limit=5)    # data arrived, ACKs lost
    assert seqmath.lt(pair.c.snd_nxt, pair.c.snd_max) and seqmath.lt(pair.s.snd_nxt, pair.s.snd_max)
    pair.to_server.rule = pair.to_client.rule = None
    before = len(pair.to_server.sent) + len(pair.to_client.sent)
    assert pair.run(until=lambda: pair.c.snd_una == pair.c.snd_max and pair.s.snd_una == pair.s.snd_max,
                    limit=5)
    assert len(pair.to_server.sent) + len(pair.to_client.sent) - before < 20
    assert all(s.seq == pair.c.snd_max for _, s in pair.to_server.sent[before:] if not s.payload)


def test_rto_sends_the_head_even_into_a_zero_window():
    """Regression (found by a stress run): a stale zero-window ACK arriving after the window update
    left data in flight, RTOs that sent nothing, and a TimedOut. Like Linux, the head goes anyway."""
    pair = Pair(client_settings=Settings(nodelay=True), delay=0.01)
    pair.handshake()
    mss = pair.c.send_mss
    pair.to_client.rule = lambda segment: None
    pair.client.outbox += bytes(3 * mss)
    pair.run(duration=0.05)                                  # delivered; the server's ACKs are lost
    acked = seqmath.add(pair.c.snd_una, mss)
    pair.c.receive(Segment(pair.s.local[1], pair.s.remote[1], pair.s.snd_nxt, acked, ACK, 0), pair.now)
    assert pair.c.snd_wnd == 0 and seqmath.lt(pair.c.snd_una, pair.c.snd_max)
    pair.to_client.rule = None
    assert pair.run(until=lambda: len(pair.server.inbox) == 3 * mss and pair.c.snd_una == pair.c.snd_max,
                    limit=5)
    assert pair.c.state is State.ESTABLISHED


def test_rto_into_a_zero_window_resends_only_bytes_sent_before():
    pair = Pair(client_settings=Settings(nodelay=True), delay=0.01)
    pair.handshake()
    pair.to_client.rule = lambda segment: None
    pair.client.outbox += bytes(3 * pair.c.send_mss)
    pair.run(duration=0.05)
    in_flight_end = pair.c.snd_max
    acked = seqmath.add(in_flight_end, -100)
    pair.c.receive(Segment(pair.s.local[1], pair.s.remote[1], pair.s.snd_nxt, acked, ACK, 0), pair.now)
    assert pair.c.send(bytes(5000), pair.now) == 5000                 # queued behind a closed window
    sent_before = len(pair.to_server.sent)
    pair.run(until=lambda: len(pair.to_server.sent) > sent_before, limit=5)
    head = pair.to_server.sent[sent_before][1]
    assert head.seq == seqmath.add(in_flight_end, -100) and len(head.payload) == 100


def test_head_retransmission_never_runs_past_what_was_sent():
    """Regression (stress run): a NewReno partial ACK retransmitted a full MSS from SND.UNA even
    when less than that was outstanding, sending never-sent bytes into a closed window."""
    pair = Pair(client_settings=Settings(nodelay=True, timestamps=False, window_scaling=False, sack=False),
                delay=0.01)
    pair.handshake()
    client, mss = pair.c, pair.c.send_mss
    pair.to_client.rule = pair.to_server.rule = lambda segment: None
    client.send(bytes(3 * mss + 20), pair.now)
    client.poll(pair.now)
    una, tail_end = client.snd_una, client.snd_max
    window = client.snd_wnd >> client.snd_wscale

    def ack(number: int, advertised: int) -> Segment:
        return Segment(pair.s.local[1], pair.s.remote[1], client.rcv_nxt, number, ACK, advertised)
    for _ in range(3):
        client.receive(ack(una, window), pair.now)
    fast, = client.poll(pair.now)
    assert fast.seq == una and len(fast.payload) == mss and client.congestion.in_recovery
    client.send(bytes(10_000), pair.now)                  # more data queued behind the recovery
    client.receive(ack(seqmath.add(una, 3 * mss), 0), pair.now)   # partial ACK, window now closed
    out = [s for s in client.poll(pair.now) if s.payload]
    assert out and out[0].seq == seqmath.add(una, 3 * mss) and len(out[0].payload) == 20
    assert all(seqmath.le(seqmath.add(s.seq, len(s.payload)), tail_end) for s in out)


def test_pure_ack_sequence_stays_inside_a_closed_peer_window():
    """Like Linux's tcp_acceptable_seq: with data in flight past a window the peer has closed,
    an ACK carries the window's edge, which a zero-window receiver accepts (seq == RCV.NXT)."""
    pair = Pair(client_settings=Settings(nodelay=True, delayed_ack=0), delay=0.01)
    pair.handshake()
    client = pair.c
    pair.to_client.rule = pair.to_server.rule = lambda segment: None
    client.send(bytes(3000), pair.now)
    client.poll(pair.now)
    edge = seqmath.add(client.snd_una, 1000)
    closing = Segment(pair.s.local[1], pair.s.remote[1], client.rcv_nxt, edge, ACK, 0, b"data")
    client.receive(closing, pair.now)
    ack, = [s for s in client.poll(pair.now) if not s.payload]
    assert ack.seq == edge and seqmath.lt(edge, client.snd_max)

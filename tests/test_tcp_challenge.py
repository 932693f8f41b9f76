"""RFC 5961: a blind attacker's RST or SYN does not kill a connection. An in-window RST not exactly at
RCV.NXT and any SYN in a synchronized state get a (rate-limited) challenge ACK instead; a genuine peer
that lost its state answers that ACK with an exact RST and the connection ends as it should."""

from __future__ import annotations

from rawkit.tcp import Reset, Segment, Settings, State
from rawkit.tcp import seq as seqmath
from rawkit.tcp.challenge import ChallengeLimit
from rawkit.tcp.segment import ACK, RST, SYN
from rawkit.tcp.testing import CLIENT, SERVER, Pair


def established(**client: object) -> Pair:
    pair = Pair(client_settings=Settings(**client), delay=0.01)
    pair.handshake()
    pair.run(duration=0.1)
    return pair


def forged(pair: Pair, flags: int, offset: int) -> Segment:
    """A segment from the server's address and port, `offset` bytes past the client's RCV.NXT."""
    return Segment(SERVER[1], CLIENT[1], seqmath.add(pair.c.rcv_nxt, offset), 0, flags, 0)


def still_works(pair: Pair) -> bool:
    pair.client.outbox += b"ping"
    return pair.run(until=lambda: bytes(pair.server.inbox).endswith(b"ping"), limit=5) \
        and pair.c.state is State.ESTABLISHED


def test_in_window_rst_gets_a_challenge_ack_and_the_connection_survives():
    pair = established()
    events = pair.c.receive(forged(pair, RST, 1000), pair.now)
    assert not events and pair.c.state is State.ESTABLISHED
    challenge, = pair.c.poll(pair.now)
    assert challenge.flags == ACK and challenge.ack == pair.c.rcv_nxt and not challenge.payload
    assert pair.c.challenges.sent == 1
    assert still_works(pair)


def test_rst_exactly_at_rcv_nxt_resets():
    pair = established()
    assert Reset() in pair.c.receive(forged(pair, RST, 0), pair.now)
    assert pair.c.state is State.CLOSED


def test_rst_outside_the_window_is_dropped_silently():
    pair = established()
    window = pair.c.settings.receive_buffer_size
    assert not pair.c.receive(forged(pair, RST, window + 10), pair.now)
    assert not pair.c.poll(pair.now) and pair.c.challenges.sent == 0
    assert pair.c.state is State.ESTABLISHED


def test_syn_in_established_gets_a_challenge_ack():
    pair = established()
    for offset in (0, 5000, -5000):                  # wherever its sequence number lies
        pair.c.receive(forged(pair, SYN, offset), pair.now)
        challenge, = pair.c.poll(pair.now)
        assert challenge.flags == ACK and challenge.ack == pair.c.rcv_nxt
    assert still_works(pair)


def test_challenge_acks_are_rate_limited_per_second():
    pair = established(challenge_ack_limit=100)
    sent = 0
    for index in range(5000):                        # 5000 blind RSTs within one second
        now = pair.now + index * 0.0001
        pair.c.receive(forged(pair, RST, 1 + index % 60000), now)
        sent += len(pair.c.poll(now))
    assert sent == pair.c.challenges.sent <= 100 + 1   # the burst may straddle two one-second slots
    assert pair.c.challenges.suppressed == 5000 - sent
    assert pair.c.state is State.ESTABLISHED
    later = pair.now + 2.0
    pair.c.receive(forged(pair, RST, 1), later)        # a new second brings new allowance
    assert len(pair.c.poll(later)) == 1


def test_limit_counts_one_second_slots():
    limit = ChallengeLimit()
    assert [limit.allow(10.1 + i * 0.1, 3) for i in range(5)] == [True, True, True, False, False]
    assert limit.allow(11.0, 3) and limit.sent == 4 and limit.suppressed == 2


def test_peer_that_lost_its_state_answers_the_challenge_and_resets_us():
    """The server's last data segment is lost, then it aborts: its RST carries a sequence number past
    our RCV.NXT. We challenge; the server (no connection any more) answers our ACK with an exact RST."""
    pair = established()
    pair.to_client.rule = lambda segment: None if segment.payload else 0.0
    pair.s.send(b"lost", pair.now)
    pair.run(duration=0.001)
    pair.to_client.rule = None
    pair.s.abort(pair.now)
    assert pair.run(until=lambda: pair.c.state is State.CLOSED, limit=2)
    assert pair.c.challenges.sent == 1 and Reset() in pair.client.events
    resets = [s for _, s in pair.to_client.sent if s.rst]
    assert len(resets) == 2 and resets[1].seq == pair.c.rcv_nxt


def test_ack_older_than_the_window_is_challenged_and_its_data_dropped():
    pair = established()
    pair.server.outbox += b"x" * 100
    pair.run(until=lambda: len(pair.client.inbox) == 100)
    pair.client.outbox += b"y" * 3000
    pair.run(until=lambda: len(pair.server.inbox) == 3000)
    pair.run(duration=0.1)
    stale_ack = seqmath.add(pair.c.snd_una, -(pair.c.max_snd_wnd + 1))
    segment = Segment(SERVER[1], CLIENT[1], pair.c.rcv_nxt, stale_ack, ACK, 1000, b"data")
    before = pair.c.rcv_nxt
    pair.c.receive(segment, pair.now)
    challenge, = pair.c.poll(pair.now)
    assert pair.c.rcv_nxt == before and challenge.ack == before and pair.c.challenges.sent == 1

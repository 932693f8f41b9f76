"""Engine behaviours chosen to match Linux where the RFCs leave room (sans-IO)."""

from __future__ import annotations

from rawkit.stack.pmtu import fatal_unreachable
from rawkit.tcp import Listener, Segment, Settings, State, TimedOut
from rawkit.tcp.congestion import Congestion
from rawkit.tcp.segment import ACK, PSH, RST, SYN
from rawkit.tcp.seq import add as seq_add
from rawkit.tcp.testing import CLIENT, SERVER, Pair

MSS = 1000


def test_slow_start_grows_by_every_acked_byte_as_linux():
    """Linux's tcp_slow_start adds all newly acked segments (no RFC 3465 per-ACK limit): one ACK
    for a full initial window of 10 doubles it."""
    control = Congestion(MSS, 10, "reno")
    control.on_new_ack(ack=10 * MSS, acked=10 * MSS, flight_after=0)
    assert control.cwnd == 20 * MSS


def test_slow_start_stops_at_ssthresh():
    control = Congestion(MSS, 10, "reno")
    control.ssthresh = 14 * MSS
    control.on_new_ack(ack=10 * MSS, acked=10 * MSS, flight_after=0)
    assert control.cwnd == 14 * MSS


def _first_burst(settings: Settings, write: int) -> list[Segment]:
    """The data segments the client sends at once after one write of `write` bytes."""
    pair = Pair(client_settings=settings, delay=0.05)
    pair.handshake()
    pair.c.send(bytes(write), pair.now)
    return [segment for segment in pair.c.poll(pair.now) if segment.payload]


def test_a_burst_cut_by_cwnd_ends_with_psh():
    """Linux marks the last segment of every burst it sends, also when cwnd cuts the write."""
    burst = _first_burst(Settings(), 30 * 1448)
    assert len(burst) == 10
    assert [bool(segment.flags & PSH) for segment in burst] == [False] * 9 + [True]


def test_a_tail_held_by_nagle_leaves_the_full_segments_without_psh():
    pair = Pair(delay=0.05)
    pair.handshake()
    pair.c.send(bytes(1448 + 100), pair.now)          # the 100-byte tail goes: no small segment out
    assert [len(segment.payload) for segment in pair.c.poll(pair.now)] == [1448, 100]
    pair.c.send(bytes(2 * 1448 + 100), pair.now)      # now Nagle (Minshall) holds this tail
    burst = pair.c.poll(pair.now)
    assert [len(segment.payload) for segment in burst] == [1448] * 2
    assert not any(segment.flags & PSH for segment in burst)


def test_a_whole_write_ends_with_psh():
    burst = _first_burst(Settings(), 3 * 1448)
    assert [bool(segment.flags & PSH) for segment in burst] == [False, False, True]


def _deliver(pair: Pair, data: int) -> list[Segment]:
    """The client sends `data` bytes; the server takes them; what the server sends at once."""
    pair.c.send(bytes(data), pair.now)
    sent = pair.c.poll(pair.now)
    assert sum(len(segment.payload) for segment in sent) == data
    for segment in sent:
        pair.s.receive(Segment.parse(segment.to_bytes()), pair.now)
    return _to_client(pair, pair.s.poll(pair.now))


def _to_client(pair: Pair, segments: list[Segment]) -> list[Segment]:
    for segment in segments:
        pair.c.receive(Segment.parse(segment.to_bytes()), pair.now)
    return segments


def test_first_data_is_acknowledged_at_once_quick_ack_mode():
    """Linux ACKs the first data of a connection at once instead of after the 40 ms timer."""
    pair = Pair(delay=0.05)
    pair.handshake()
    replies = _deliver(pair, 100)
    assert [(segment.flagstr, len(segment.payload)) for segment in replies] == [(".", 0)]


def test_quick_ack_mode_ends_when_the_exchange_is_interactive():
    pair = Pair(delay=0.05)
    pair.handshake()
    assert _deliver(pair, 100)                          # quick ACK
    pair.s.send(b"reply", pair.now)                     # answered at once: interactive (pingpong)
    assert _to_client(pair, pair.s.poll(pair.now))
    pair.now += 0.01
    assert _deliver(pair, 100) == []                    # now the delayed-ACK timer decides
    pair.now += pair.s.settings.delayed_ack
    assert [(segment.flagstr, len(segment.payload)) for segment in _to_client(pair, pair.s.poll(pair.now))] \
        == [(".", 0)]


def test_quick_ack_mode_lasts_sixteen_segments():
    pair = Pair(client_settings=Settings(nodelay=True), delay=0.05)
    pair.handshake()
    answered = []
    for _ in range(20):
        answered.append(bool(_deliver(pair, 100)))
        pair.now += 0.001
    assert answered == [True] * 16 + [False] * 4


def test_fatal_icmp_error_drops_a_half_open_connection_silently():
    """Linux (tcp_req_err) removes the request quietly; the peer's next ACK then meets the listener,
    which answers with RST."""
    listener = Listener(SERVER[1], settings=Settings())
    syn = Segment(CLIENT[1], SERVER[1], 1000, 0, SYN, 65535, mss=1460)
    connection = listener.receive(syn, 1.0, SERVER, CLIENT).connection
    syn_ack, = connection.poll(1.0)
    assert not connection.unreachable(seq_add(syn_ack.seq, 1))       # quotes another sequence
    assert connection.unreachable(syn_ack.seq)
    assert connection.state is State.CLOSED and connection.poll(1.1) == []
    ack = Segment(CLIENT[1], SERVER[1], 1001, seq_add(syn_ack.seq, 1), ACK, 65535)
    reset, = listener.receive(ack, 1.2, SERVER, CLIENT).replies
    assert reset.flags & RST and reset.seq == ack.ack


def test_an_established_connection_ignores_unreachable():
    pair = Pair()
    pair.handshake()
    assert not pair.s.unreachable(pair.s.iss)
    assert pair.s.state is State.ESTABLISHED


def test_which_icmp_errors_are_fatal_for_a_half_open_connection():
    tcp = (8080).to_bytes(2, "big") + (40000).to_bytes(2, "big") + (1234).to_bytes(4, "big")
    ipv4 = bytes((0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0)) + bytes((198, 18, 0, 1)) + bytes((198, 18, 0, 2))
    quoted = ipv4 + tcp
    assert fatal_unreachable(4, bytes((3, 1, 0, 0, 0, 0, 0, 0)) + quoted) == (bytes((198, 18, 0, 2)), 40000,
                                                                             8080, 1234)
    assert fatal_unreachable(4, bytes((11, 0, 0, 0, 0, 0, 0, 0)) + quoted) is not None
    assert fatal_unreachable(4, bytes((3, 3, 0, 0, 0, 0, 0, 0)) + quoted) is None      # port: soft
    assert fatal_unreachable(4, bytes((3, 4, 0, 0, 0, 0, 5, 220)) + quoted) is None    # PMTU
    ipv6 = bytes((0x60, 0, 0, 0, 0, 20, 6, 64)) + bytes(15) + b"\x01" + bytes(15) + b"\x02"
    assert fatal_unreachable(16, bytes((1, 4, 0, 0, 0, 0, 0, 0)) + ipv6 + tcp) is not None
    assert fatal_unreachable(16, bytes((1, 3, 0, 0, 0, 0, 0, 0)) + ipv6 + tcp) is None  # address: soft


def test_last_data_received_counts_from_the_handshake_then_from_data():
    """What tcpi_last_data_recv reads: Linux starts it when the connection is established."""
    pair = Pair(delay=0.05)
    pair.handshake()
    established = pair.c.last_data_received
    assert established is not None and pair.now - 0.1 <= established <= pair.now
    pair.now += 1.0
    _deliver(pair, 100)
    assert pair.s.last_data_received == pair.now


def test_user_timeout_ends_retransmissions_when_it_runs_out():
    """TCP_USER_TIMEOUT: data unacknowledged for that long ends the connection (the last timer is
    cut short to fire at the deadline), long before tcp_retries2 would."""
    pair = Pair(client_settings=Settings(user_timeout=3.0))
    pair.handshake()
    pair.to_server.rule = lambda segment: None              # the network eats everything now
    sent_at = pair.now
    pair.client.outbox += b"x" * 100
    assert pair.run(until=lambda: pair.c.state is State.CLOSED, limit=60)
    assert round(pair.now - sent_at, 6) == 3.0
    assert TimedOut("retransmissions") in pair.client.events


def test_slow_start_does_not_grow_an_unused_window():
    """Linux grows cwnd in slow start only while at least half of it was in flight
    (tcp_is_cwnd_limited): five segments acknowledged leave IW10 at 10, nine make it grow."""
    for written, grown in ((5, 10), (9, 19)):
        pair = Pair(client_settings=Settings(nodelay=True), delay=0.05)
        pair.handshake()
        mss = pair.c.send_mss
        pair.client.outbox += bytes(written * mss)
        assert pair.run(until=lambda p=pair: p.c.snd_una == p.c.snd_max and not p.client.outbox, limit=5)
        assert pair.c.congestion.cwnd == grown * mss

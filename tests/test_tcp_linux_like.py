"""Engine behaviours chosen to match Linux where the RFCs leave room (sans-IO)."""

from __future__ import annotations

from rawkit.tcp import Segment, Settings
from rawkit.tcp.congestion import Congestion
from rawkit.tcp.segment import PSH
from rawkit.tcp.testing import Pair

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

"""PAWS (RFC 7323 section 5): an old duplicate whose sequence number looks in-window is recognised
by its timestamp, dropped and answered with an ACK; RSTs are exempt; TS.Recent expires after 24 days."""

from __future__ import annotations

from dataclasses import replace

from rawkit.tcp import Reset, Settings, State
from rawkit.tcp import seq as seqmath
from rawkit.tcp.paws import TS_RECENT_LIFETIME, is_old_duplicate
from rawkit.tcp.segment import RST
from rawkit.tcp.testing import Pair


def established(timestamps: bool = True) -> Pair:
    settings = Settings(timestamps=timestamps)
    pair = Pair(client_settings=settings, server_settings=settings.copy(), delay=0.01)
    pair.handshake()
    pair.server.outbox += b"first"
    pair.run(until=lambda: bytes(pair.client.inbox) == b"first")
    pair.run(duration=1.0)
    pair.server.outbox += b"second"                                     # a second later: TS.Recent moves on
    pair.run(until=lambda: bytes(pair.client.inbox) == b"firstsecond")
    pair.run(duration=0.1)                                              # the delayed ACK goes out
    return pair


def replayed_in_window(pair: Pair):
    """The server's first data segment again, its sequence number moved to the client's RCV.NXT as if
    the sequence space had wrapped: only the timestamp tells it apart."""
    old = next(s for _, s in pair.to_client.sent if s.payload == b"first")
    return replace(old, seq=pair.c.rcv_nxt, payload=b"stale")


def test_rule_r1():
    assert is_old_duplicate(99, 100, 0.0, 10.0)
    assert not is_old_duplicate(100, 100, 0.0, 10.0) and not is_old_duplicate(101, 100, 0.0, 10.0)
    assert is_old_duplicate(seqmath.MASK, 5, 0.0, 10.0)                  # compared modulo 2**32
    assert not is_old_duplicate(99, None, 0.0, 10.0)
    assert not is_old_duplicate(99, 100, 0.0, TS_RECENT_LIFETIME)        # TS.Recent expired


def test_old_duplicate_is_dropped_and_acknowledged():
    pair = established()
    stale = replayed_in_window(pair)
    assert seqmath.lt(stale.timestamp[0], pair.c.ts_recent)
    before = pair.c.rcv_nxt
    pair.c.receive(stale, pair.now)
    acks = pair.c.poll(pair.now)
    assert pair.c.rcv_nxt == before and not pair.c.readable              # the data was not taken
    assert [(s.ack, s.payload) for s in acks] == [(before, b"")]         # one ACK says where we are


def test_without_timestamps_the_same_segment_is_taken():
    """The contrast: what PAWS protects against."""
    pair = established(timestamps=False)
    old = next(s for _, s in pair.to_client.sent if s.payload == b"first")
    pair.c.receive(replace(old, seq=pair.c.rcv_nxt, payload=b"stale"), pair.now)
    assert pair.c.read() == b"stale"


def test_ts_recent_expires_after_24_days_of_silence():
    pair = established()
    stale = replayed_in_window(pair)
    pair.now += TS_RECENT_LIFETIME + 1                                   # idle (no keepalive) for 24 days
    pair.c.receive(stale, pair.now)
    assert pair.c.read() == b"stale"
    assert pair.c.ts_recent == stale.timestamp[0]                        # and TS.Recent starts over


def test_rst_with_an_old_timestamp_still_resets():
    pair = established()
    stale = replayed_in_window(pair)
    events = pair.c.receive(replace(stale, payload=b"", flags=RST), pair.now)
    assert Reset() in events and pair.c.state is State.CLOSED


def test_duplicated_segments_in_a_transfer_do_no_harm():
    pair = established()
    pair.to_client.rule = lambda segment: (0.0, 0.3) if segment.payload else 0.0   # every one twice, late
    data = bytes(range(256)) * 400
    pair.server.outbox += data
    assert pair.run(until=lambda: len(pair.client.inbox) == 11 + len(data), limit=10)
    pair.run(duration=1.0)
    assert bytes(pair.client.inbox) == b"firstsecond" + data

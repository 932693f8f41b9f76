"""Spurious retransmissions undone (Eifel with timestamps), the reordering threshold they raise, and RTT
samples that must not count the wait for a timeout (RFC 7323 4, RFC 6298)."""

from __future__ import annotations

import itertools

from rawkit.tcp.settings import Settings
from rawkit.tcp.testing import Pair
from rawkit.tcp.undo import LossEpisode, reordering_degree


def bulk_pair(**settings: object) -> Pair:
    both = dict(send_buffer_size=1 << 20, receive_buffer_size=1 << 20, **settings)
    pair = Pair(Settings(**both), Settings(**both), delay=0.01)
    pair.handshake()
    return pair


def test_episode_is_spurious_only_when_the_echo_predates_the_retransmission():
    episode = LossEpisode(tsval=5000, head=100, timeout=False)
    assert episode.spurious(4999) and not episode.spurious(5000) and not episode.spurious(6000)
    assert not episode.spurious(None) and not episode.spurious(0)
    assert LossEpisode(tsval=3, head=0, timeout=False).spurious(0xFFFFFFF0)     # across the wrap


def test_reordering_degree_counts_segments_sacked_above_the_head():
    assert reordering_degree([], 1000, 100) == 0
    assert reordering_degree([(1100, 1500), (1600, 1900)], 1000, 100) == 9
    assert reordering_degree([(0xFFFFFF00, 0x100)], 0xFFFFFE00, 0x100) == 3


def test_rtt_sample_ignores_an_echo_from_before_the_timeout():
    pair = bulk_pair()
    pair.client.outbox += bytes(50_000)
    pair.run(until=lambda: len(pair.server.inbox) == 50_000)
    pair.run(duration=0.5)
    assert pair.c.rtt.srtt < 0.05
    blackout = pair.now + 1.5                            # every ACK lost for 1.5 s: the client times out
    pair.to_client.rule = lambda segment: None if pair.now < blackout else 0.0
    pair.client.outbox += bytes(5000)
    pair.run(until=lambda: len(pair.server.inbox) == 55_000 and pair.c.snd_una == pair.c.snd_max, limit=20)
    assert pair.c.retries == 0 and pair.c.loss_episodes >= 1
    # the server acknowledges the duplicate retransmission echoing the TSval of the first send,
    # 3 s old: a sample from it would make the RTO several seconds
    assert pair.c.rtt.srtt < 0.05 and pair.c.rtt.rto < 0.5


def test_spurious_timeout_is_undone():
    pair = bulk_pair(slow_start_after_idle=False)
    pair.client.outbox += bytes(200_000)
    pair.run(until=lambda: len(pair.server.inbox) == 200_000)
    pair.run(duration=0.5)
    before = pair.c.congestion.cwnd
    blackout = pair.now + 0.5
    pair.to_client.rule = lambda segment: None if pair.now < blackout else 0.0
    pair.client.outbox += bytes(5000)
    pair.run(until=lambda: pair.c.snd_una == pair.c.snd_max and len(pair.server.inbox) == 205_000, limit=20)
    assert pair.c.undone_episodes == 1 and pair.c.congestion.cwnd >= before


def test_reordered_segment_recovery_is_undone_and_raises_the_threshold():
    pair = bulk_pair()
    counter = itertools.count()
    late = 60                                            # the 60th data segment arrives 5 ms late
    pair.to_server.rule = lambda segment: 0.005 if segment.payload and next(counter) == late else 0.0
    pair.client.outbox += bytes(1_000_000)
    pair.run(until=lambda: len(pair.server.inbox) == 1_000_000, limit=30)
    assert pair.c.loss_episodes == 1 and pair.c.undone_episodes == 1
    assert pair.c.congestion.dupthresh == pair.c.scoreboard.dupthresh > 3
    assert pair.c.congestion.ssthresh > 1 << 29          # no reduction left behind: still in slow start


def test_genuine_loss_is_not_undone():
    pair = bulk_pair()
    counter = itertools.count()
    pair.to_server.rule = lambda segment: None if segment.payload and next(counter) == 60 else 0.0
    pair.client.outbox += bytes(1_000_000)
    pair.run(until=lambda: len(pair.server.inbox) == 1_000_000, limit=30)
    assert pair.c.loss_episodes == 1 and pair.c.undone_episodes == 0 and pair.c.congestion.dupthresh == 3
    assert pair.c.congestion.ssthresh < 1 << 29


def test_without_timestamps_nothing_is_undone():
    pair = bulk_pair(timestamps=False)
    counter = itertools.count()
    pair.to_server.rule = lambda segment: 0.005 if segment.payload and next(counter) == 60 else 0.0
    pair.client.outbox += bytes(1_000_000)
    pair.run(until=lambda: len(pair.server.inbox) == 1_000_000, limit=30)
    assert pair.c.loss_episodes == 1 and pair.c.undone_episodes == 0 and pair.c.congestion.prior is None


def test_lost_retransmission_is_sent_again_without_a_timeout():
    pair = bulk_pair()
    counter = itertools.count()
    doomed: list[int] = []

    def rule(segment):
        if segment.payload and next(counter) == 60:
            doomed.append(segment.seq)
        if doomed and segment.seq == doomed[0] and len(doomed) < 3:
            doomed.append(segment.seq)                   # the original and its first retransmission
            return None
        return 0.0
    pair.to_server.rule = rule
    pair.client.outbox += bytes(1_000_000)
    pair.run(until=lambda: len(pair.server.inbox) == 1_000_000, limit=30)
    resent = [segment for _, segment in pair.to_server.sent if segment.seq == doomed[0] and segment.payload]
    assert len(resent) == 3 and pair.c.loss_episodes == 1      # no RTO: the SACKs above told


def test_threshold_falls_back_after_a_real_loss():
    pair = bulk_pair()
    counter = itertools.count()

    def rule(segment):
        index = next(counter) if segment.payload else -1
        return 0.005 if index == 60 else None if index == 400 else 0.0
    pair.to_server.rule = rule
    pair.client.outbox += bytes(2_000_000)
    pair.run(until=lambda: pair.c.undone_episodes == 1, limit=30)
    raised = pair.c.congestion.dupthresh
    pair.run(until=lambda: len(pair.server.inbox) == 2_000_000, limit=30)
    assert raised > 3 and pair.c.loss_episodes == 2 and pair.c.undone_episodes == 1
    assert pair.c.congestion.dupthresh == pair.c.scoreboard.dupthresh == max(raised // 2, 3)

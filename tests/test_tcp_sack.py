"""SACK-based loss recovery (RFC 6675) next to NewReno: the scoreboard's rules (IsLost, SetPipe,
NextSeg) on their own, D-SACK recognised and ignored, and whole connections repairing several holes
in one round trip where NewReno needs one round trip per hole."""

from __future__ import annotations

from rawkit.tcp import Segment, Settings
from rawkit.tcp import seq as seqmath
from rawkit.tcp.sack import Scoreboard
from rawkit.tcp.segment import ACK
from rawkit.tcp.testing import Pair, drop_nth

MSS = 1000


def board_with(una: int, *blocks: tuple[int, int], snd_max_offset: int = 20 * MSS) -> Scoreboard:
    board = Scoreboard()
    board.high_rxt = una
    absolute = tuple((seqmath.add(una, left), seqmath.add(una, right)) for left, right in blocks)
    board.update(absolute, una, una, seqmath.add(una, snd_max_offset))
    return board


def test_scoreboard_merges_and_clips_blocks_across_wraparound():
    una = seqmath.MASK - 1500                                # the sequence space wraps inside the window
    board = board_with(una, (2 * MSS, 3 * MSS), (3 * MSS, 4 * MSS), (6 * MSS, 7 * MSS), (19 * MSS, 25 * MSS))
    offsets = [(seqmath.distance(left, una), seqmath.distance(right, una)) for left, right in board.ranges]
    assert offsets == [(2 * MSS, 4 * MSS), (6 * MSS, 7 * MSS), (19 * MSS, 20 * MSS)]   # clipped at snd_max
    board.advance(seqmath.add(una, 3 * MSS))
    assert [seqmath.distance(left, una) for left, _ in board.ranges] == [3 * MSS, 6 * MSS, 19 * MSS]


def test_is_lost_needs_dupthresh_ranges_or_more_than_two_segments_above():
    una = 5000
    assert board_with(una, (MSS, 3 * MSS)).lost_edge(una, MSS) == 0                 # 2 MSS above: not yet
    assert board_with(una, (MSS, 3 * MSS + 1)).lost_edge(una, MSS) == MSS           # more than 2 MSS
    three = board_with(una, (MSS, MSS + 10), (2 * MSS, 2 * MSS + 10), (3 * MSS, 3 * MSS + 10))
    assert three.lost_edge(una, MSS) == MSS                                         # three ranges
    # only holes with enough SACKed above them are lost: the hole at 5-6 MSS has 1 MSS above
    board = board_with(una, (MSS, 4 * MSS), (5 * MSS, 6 * MSS))
    assert board.lost_edge(una, MSS) == MSS


def test_pipe_counts_unsacked_not_lost_plus_retransmitted():
    una = 0
    board = board_with(una, (MSS, 4 * MSS), snd_max_offset=10 * MSS)
    # outstanding 10, SACKed 3, lost 1 (the first MSS): pipe 6
    assert board.pipe(una, 10 * MSS, MSS) == 6 * MSS
    board.high_rxt = MSS                                                            # the lost one resent
    assert board.pipe(una, 10 * MSS, MSS) == 7 * MSS


def test_next_segment_rules():
    una, end = 0, 10 * MSS
    board = board_with(una, (MSS, 2 * MSS), (3 * MSS, 4 * MSS), (5 * MSS, 6 * MSS), (7 * MSS, 8 * MSS),
                       snd_max_offset=end)
    assert board.lost_edge(una, MSS) == 3 * MSS                   # 3 ranges above 3 MSS, only 2 above 5
    assert board.next_hole(una, end, MSS, lost_only=True) == (0, MSS)             # rule 1: first hole
    board.high_rxt = MSS
    assert board.next_hole(una, end, MSS, lost_only=True) == (2 * MSS, MSS)       # then the next
    board.high_rxt = 3 * MSS
    assert board.next_hole(una, end, MSS, lost_only=True) is None                 # 4-5 is not lost yet
    assert board.next_hole(una, end, MSS, lost_only=False) == (4 * MSS, MSS)      # rule 3 may send it
    board.high_rxt = 5 * MSS
    assert board.next_hole(una, end, MSS, lost_only=False) == (6 * MSS, MSS)
    board.high_rxt = 7 * MSS
    assert board.next_hole(una, end, MSS, lost_only=False) is None                # nothing SACKed above


def test_dsack_blocks_are_recognised_and_ignored():
    una, board = 10_000, Scoreboard()
    assert board.update(((8000, 9000),), una, una, una + 10 * MSS) == 0             # below the ACK
    inside = ((una + 2 * MSS, una + 3 * MSS), (una + MSS, una + 4 * MSS))
    assert board.update(inside, una, una, una + 10 * MSS) == 3 * MSS                 # first inside second
    assert board.dsacks == 2
    assert board.ranges == [(una + MSS, una + 4 * MSS)]


def send_with_holes(sack: bool, holes: tuple[int, ...], segments: int = 40) -> Pair:
    settings = Settings(nodelay=True, sack=sack, initial_window=segments)
    pair = Pair(client_settings=settings, delay=0.05)
    pair.handshake()
    pair.to_server.rule = drop_nth(*holes)
    pair.client.outbox += bytes(segments * pair.c.send_mss)
    assert pair.run(until=lambda: len(pair.server.inbox) == segments * pair.c.send_mss, limit=30)
    return pair


def retransmission_times(pair: Pair, holes: tuple[int, ...]) -> list[float]:
    data = [s for _, s in pair.to_server.sent if s.payload]
    times = []
    for index in holes:
        sends = [t for t, s in pair.to_server.sent if s.payload and s.seq == data[index].seq]
        assert len(sends) == 2, f"segment {index} sent {len(sends)} times"
        times.append(sends[1])
    return times


def test_sack_recovery_repairs_three_holes_in_one_round_trip():
    holes = (5, 15, 25)
    pair = send_with_holes(True, holes)
    assert pair.c.sack_ok and pair.c.congestion.sack
    times = retransmission_times(pair, holes)
    assert max(times) - min(times) < 0.1                         # all three inside one RTT (100 ms)
    assert pair.c.retries == 0 and pair.c.backoff == 0           # no timeout
    assert pair.to_client.sent[-1][1].ack == pair.c.snd_max
    assert bytes(pair.server.inbox) == bytes(40 * pair.c.send_mss)
    # the peer's ACKs carried SACK blocks, and no byte was resent that the peer had SACKed
    assert any(s.sack_blocks for _, s in pair.to_client.sent)
    resent = sum(len(s.payload) for _, s in pair.to_server.sent if s.payload) - 40 * pair.c.send_mss
    assert resent == 3 * pair.c.send_mss


def test_newreno_needs_a_round_trip_per_hole():
    holes = (5, 15, 25)
    pair = send_with_holes(False, holes)
    assert not pair.c.congestion.sack
    times = retransmission_times(pair, holes)
    assert min(times[1] - times[0], times[2] - times[1]) > 0.099    # one partial ACK per RTT


def test_recovery_starts_when_is_lost_before_three_duplicate_acks():
    pair = Pair(client_settings=Settings(nodelay=True, initial_window=20), delay=0.05)
    pair.handshake()
    client, mss = pair.c, pair.c.send_mss
    pair.to_server.rule = pair.to_client.rule = lambda segment: None
    client.send(bytes(10 * mss), pair.now)
    client.poll(pair.now)
    una = client.snd_una
    window = client.snd_wnd >> client.snd_wscale
    sack = ((seqmath.add(una, mss), seqmath.add(una, 5 * mss)),)     # one ACK SACKing four segments
    client.receive(Segment(8080, 40000, client.rcv_nxt, una, ACK, window, sack_blocks=sack), pair.now)
    assert client.congestion.in_recovery and client.congestion.dupacks < 3
    out = [s for s in client.poll(pair.now) if s.payload]
    assert out[0].seq == una and len(out[0].payload) == mss


def test_dsack_does_not_start_recovery_or_shrink_the_window():
    pair = Pair(client_settings=Settings(nodelay=True), delay=0.05)
    pair.handshake()
    client, mss = pair.c, pair.c.send_mss
    pair.to_server.rule = pair.to_client.rule = lambda segment: None
    client.send(bytes(4 * mss), pair.now)
    client.poll(pair.now)
    una, cwnd = client.snd_una, client.congestion.cwnd
    window = client.snd_wnd >> client.snd_wscale
    dsack = ((seqmath.add(una, -mss), una),)                        # "you sent me this twice"
    for _ in range(3):
        client.receive(Segment(8080, 40000, client.rcv_nxt, una, ACK, window, sack_blocks=dsack), pair.now)
        window += 1                                                 # window updates: not duplicate ACKs
    assert client.scoreboard.dsacks == 3 and not client.scoreboard.ranges
    assert not client.congestion.in_recovery and client.congestion.cwnd == cwnd
    assert not [s for s in client.poll(pair.now) if s.payload]


def test_sack_recovery_survives_random_loss_and_reordering():
    import random

    generator = random.Random(7)

    def impair(segment: Segment) -> float | None:
        if segment.payload and generator.random() < 0.05:
            return None
        return generator.choice((0.0, 0.0, 0.0, 0.004))

    pair = Pair(client_settings=Settings(nodelay=True), server_settings=Settings(nodelay=True), delay=0.01)
    pair.handshake()
    pair.to_server.rule = pair.to_client.rule = impair
    payload = bytes(generator.getrandbits(8) for _ in range(400_000))
    pair.client.outbox += payload
    pair.server.outbox += payload[::-1]
    size = len(payload)
    assert pair.run(until=lambda: len(pair.server.inbox) == size == len(pair.client.inbox), limit=120)
    assert bytes(pair.server.inbox) == payload and bytes(pair.client.inbox) == payload[::-1]

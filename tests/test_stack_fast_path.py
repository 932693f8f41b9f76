"""The stack's bulk-receive fast path (Stack._take_frames): frames fed through it must leave a
connection exactly as the general path (checksum, Segment.parse, Connection.receive) leaves a twin
fed every frame, and exactly the frames the fast path cannot take must reach the general path, in
order. No network: a bare Stack holds just the fast path's state."""

from __future__ import annotations

import copy

import pytest

import rawkit
from rawkit.stack import stack as stack_module
from rawkit.stack.stack import Stack, packed
from rawkit.tcp import Segment, Settings, address_sum
from rawkit.tcp.segment import ACK, FIN, PSH
from rawkit.tcp.testing import Pair
from rawkit.wire.checksum import ones_sum, pseudo_header_sum

ADDRESSES = {4: ("198.18.0.2", "198.18.0.1"), 6: ("fd00:18::2", "fd00:18::1")}


def established(**settings) -> Pair:
    pair = Pair(Settings(receive_buffer_size=1 << 20, **settings), Settings())
    pair.handshake()
    pair.s.send(b"hello", pair.now)
    pair.run(duration=1.0)
    pair.c.read()
    return pair


def frame_of(segment: Segment, family: int, corrupt: bool = False) -> bytes:
    """`segment` from the server to the client as an Ethernet frame (checksums right unless `corrupt`)."""
    server, client = ADDRESSES[family]
    tcp = bytearray(segment.to_bytes(address_sum(packed(server), packed(client))))
    if corrupt:
        tcp[-1] ^= 0x40
    ip = rawkit.IPv4(src=server, dst=client, proto=6) if family == 4 else \
        rawkit.IPv6(src=server, dst=client, nh=6)
    ether = rawkit.Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02")
    return bytes(ether / ip / rawkit.Raw(load=bytes(tcp)))


def general_path(connection, frame: bytes, now: float) -> None:
    """What the stack's general path does with a frame for a known connection."""
    packet = rawkit.decode(frame)
    ip, data = packet.ip, frame[packet.tcp._off:packet.tcp.end]
    source, destination = packed(ip.src), packed(ip.dst)
    segment = Segment.parse(data)
    if ones_sum(data, pseudo_header_sum(source, destination, 6, len(data))) == 0xFFFF \
            and (segment.dport, segment.sport) == (connection.local[1], connection.remote[1]):
        connection.receive(segment, now)


def bare_stack(pair: Pair, family: int) -> tuple[Stack, list[bytes]]:
    """A Stack with only what _take_frames uses, for pair.c; the general path records and applies."""
    server, client = ADDRESSES[family]
    stack = Stack.__new__(Stack)
    stack._address_bytes = packed(client) if family == 4 else b""
    stack._address6_bytes = packed(client) if family == 6 else b""
    stack._receive_sums = {}
    stack._predicted = {}
    stack.connections = {(packed(server), pair.s.local[1], pair.c.local[1]): pair.c}
    general: list[bytes] = []

    def on_frame(frame: bytes, now: float) -> None:
        general.append(frame)
        general_path(pair.c, frame, now)
    stack._on_frame = on_frame
    return stack, general


class Server:
    """Builds the server's next segments by hand, one field varied at a time."""

    def __init__(self, pair: Pair) -> None:
        self.pair, self.seq, self.tsval = pair, pair.c.rcv_nxt, pair.c.ts_recent or 0

    def data(self, size: int, *, skip: int = 0, window_delta: int = 0, flags: int = ACK | PSH,
             tsval_delta: int = 1, advance: bool = True) -> Segment:
        client = self.pair.c
        self.tsval = (self.tsval + tsval_delta) & 0xFFFFFFFF
        timestamp = (self.tsval, client._tsval(self.pair.now)) if client.ts_ok else None
        segment = Segment(self.pair.s.local[1], client.local[1], (self.seq + skip) & 0xFFFFFFFF,
                          client.snd_una, flags, (client.snd_wnd >> client.snd_wscale) + window_delta,
                          bytes([size & 0xFF]) * size, timestamp=timestamp)
        if advance:
            self.seq = (self.seq + size + (1 if flags & FIN else 0)) & 0xFFFFFFFF
        return segment


def run_both(pair: Pair, family: int, batches: list[list[bytes]]) -> list[bytes]:
    twin = copy.deepcopy(pair.c)
    stack, general = bare_stack(pair, family)
    now = pair.now + 0.001
    for batch in batches:
        stack._take_frames(batch, now)
        for frame in batch:
            general_path(twin, frame, now)
        for connection in stack._predicted:
            connection.poll(now)
        stack._predicted.clear()
        twin.poll(now)
    for name in ("state", "rcv_nxt", "ts_recent", "snd_wl1", "snd_wnd", "_rcv_mss", "readable"):
        assert getattr(pair.c, name) == getattr(twin, name), name
    assert pair.c.read() == twin.read()
    return general


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("settings", [{}, {"timestamps": False}])
def test_in_order_data_takes_the_fast_path_including_odd_lengths(family, settings):
    pair = established(**settings)
    server = Server(pair)
    frames = [frame_of(server.data(size), family) for size in (1448, 9, 1447, 1448, 13, 1448)]
    general = run_both(pair, family, [frames[:4], frames[4:]])
    assert general == []


@pytest.mark.parametrize("family", [4, 6])
def test_frames_the_fast_path_cannot_take_reach_the_general_path_in_order(family):
    pair = established()
    server = Server(pair)
    first = [frame_of(server.data(1448), family) for _ in range(3)]
    corrupt = frame_of(server.data(1448, advance=False), family, corrupt=True)
    hole = frame_of(server.data(1448, skip=1448, advance=False), family)
    resent = frame_of(server.data(1448), family)     # what the corrupt frame carried: fills the hole
    server.seq = (server.seq + 1448) & 0xFFFFFFFF    # past the bytes the held frame brought
    window = frame_of(server.data(100, window_delta=-1), family)      # a window change
    same_window = frame_of(server.data(100, window_delta=-1), family)  # predicted again
    old_timestamp = frame_of(server.data(100, tsval_delta=-10, advance=False), family)   # PAWS drops it
    with_fin = frame_of(server.data(100, flags=ACK | FIN, tsval_delta=11), family)
    batch = first + [corrupt, hole, resent, window, same_window, old_timestamp, with_fin]
    general = run_both(pair, family, [batch])
    # a held hole turns prediction off until it is filled, so `resent` goes the full way too
    assert general == [corrupt, hole, resent, window, old_timestamp, with_fin]
    assert pair.c.fin_received


def test_a_frame_for_an_unknown_connection_or_a_pure_ack_takes_the_general_path():
    pair = established()
    server = Server(pair)
    stranger = server.data(100, advance=False)
    stranger.sport += 1
    pure_ack = server.data(0)
    frames = [frame_of(stranger, 4), frame_of(pure_ack, 4), frame_of(server.data(200), 4)]
    general = run_both(pair, 4, [frames])
    assert general == frames[:2]


def test_a_long_batch_is_acknowledged_every_ack_every_segments_not_only_at_its_end():
    pair = established()
    server = Server(pair)
    start, every = pair.c.rcv_nxt, stack_module.ACK_EVERY_SEGMENTS
    stack, general = bare_stack(pair, 4)
    acks: list[int] = []

    def flush(connection, now: float) -> None:
        acks.extend(segment.ack for segment in connection.poll(now) if not segment.payload)
    stack.flush = flush
    stack._take_frames([frame_of(server.data(500), 4) for _ in range(2 * every + 10)], pair.now)
    assert general == []
    assert acks == [(start + every * 500) & 0xFFFFFFFF, (start + 2 * every * 500) & 0xFFFFFFFF]
    assert list(stack._predicted) == [pair.c]         # the rest waits for the batch's end
    assert pair.c.rcv_nxt == (start + (2 * every + 10) * 500) & 0xFFFFFFFF

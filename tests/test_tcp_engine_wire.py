"""The engine's small pieces: sequence arithmetic, the Segment codec (checked against scapy and the
wire layer), RFC 6528 ISNs, the closed-port reset, and the state table's errors."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import rawkit
from rawkit.tcp import Segment, SegmentError, address_sum, initial_sequence, reset_for
from rawkit.tcp import seq as seqmath
from rawkit.tcp.connection import window_scale_for
from rawkit.tcp.segment import ACK, FIN, PSH, RST, SYN
from rawkit.tcp.states import TRANSITIONS, LocalProtocolError, State, Trigger, next_state
from rawkit.wire.tcp import TCPView

scapy = pytest.importorskip("scapy.all")

SRC, DST = "198.18.0.1", "198.18.0.2"
SEQ = st.integers(0, seqmath.MASK)
FAST = settings(max_examples=150, deadline=None, phases=[Phase.explicit, Phase.generate, Phase.shrink])


# ---------------------------------------------------------------- sequence arithmetic
def test_sequence_comparisons_across_wrap():
    top = seqmath.MASK
    assert seqmath.lt(top, 0) and seqmath.gt(0, top) and seqmath.add(top, 1) == 0
    assert seqmath.distance(5, top) == 6 and seqmath.delta(top, 5) == -6
    assert seqmath.in_window(2, top - 1, 10) and not seqmath.in_window(top - 2, top - 1, 10)
    assert seqmath.le(7, 7) and seqmath.ge(7, 7) and not seqmath.lt(7, 7)


@given(SEQ, st.integers(1, seqmath.HALF - 1))
def test_sequence_order_is_consistent(a, step):
    b = seqmath.add(a, step)
    assert seqmath.lt(a, b) and not seqmath.lt(b, a) and seqmath.gt(b, a)
    assert seqmath.distance(b, a) == step and seqmath.delta(b, a) == step and seqmath.delta(a, b) == -step
    assert seqmath.in_window(a, a, step) and not seqmath.in_window(b, a, step)


# ---------------------------------------------------------------- segment codec
SEGMENTS = st.builds(
    Segment,
    sport=st.integers(0, 65535), dport=st.integers(0, 65535), seq=SEQ, ack=SEQ,
    flags=st.integers(0, 0x1FF), window=st.integers(0, 65535), payload=st.binary(max_size=64),
    mss=st.none() | st.integers(0, 65535), wscale=st.none() | st.integers(0, 14),
    sack_permitted=st.booleans(),
    sack_blocks=st.lists(st.tuples(SEQ, SEQ), max_size=2).map(tuple),
    timestamp=st.none() | st.tuples(SEQ, SEQ), urgptr=st.integers(0, 65535),
)


def scapy_options(segment: Segment) -> list:
    """scapy spells SACK blocks as one flat tuple of edges."""
    return [(name, tuple(edge for block in value for edge in block) if name == "SAck" else value)
            for name, value in segment.options_list()]


@FAST
@given(SEGMENTS)
def test_segment_bytes_match_scapy_and_round_trip(segment):
    pseudo = address_sum(ipaddress.ip_address(SRC).packed, ipaddress.ip_address(DST).packed)
    ours = segment.to_bytes(pseudo)
    theirs = bytes(scapy.IP(src=SRC, dst=DST) / scapy.TCP(
        sport=segment.sport, dport=segment.dport, seq=segment.seq, ack=segment.ack, flags=segment.flags,
        window=segment.window, urgptr=segment.urgptr, options=scapy_options(segment)) / segment.payload)[20:]
    assert ours == theirs
    assert Segment.parse(ours) == segment


@FAST
@given(SEGMENTS)
def test_segment_builder_matches_fast_path(segment):
    frame = bytes(rawkit.IPv4(src=SRC, dst=DST) / segment.builder() / segment.payload)
    pseudo = address_sum(ipaddress.ip_address(SRC).packed, ipaddress.ip_address(DST).packed)
    assert frame[20:] == segment.to_bytes(pseudo)
    packet = rawkit.decode(bytes(rawkit.Ether() / rawkit.IPv4(src=SRC, dst=DST) / segment.builder()
                                 / segment.payload))
    assert packet.tcp.checksum_ok
    assert Segment.from_view(packet.tcp, packet.payload) == segment


def test_parse_fields_from_scapy_built_segment():
    raw = bytes(scapy.TCP(sport=40000, dport=80, seq=1, ack=2, flags="PA", window=501,
                          options=[("NOP", None), ("NOP", None), ("Timestamp", (10, 20)),
                                   ("NOP", None), ("NOP", None), ("SAck", (100, 200))]) / b"data")
    segment = Segment.parse(raw)
    assert (segment.sport, segment.dport, segment.seq, segment.ack) == (40000, 80, 1, 2)
    assert segment.flags == PSH | ACK and segment.window == 501 and segment.payload == b"data"
    assert segment.timestamp == (10, 20) and segment.sack_blocks == ((100, 200),)
    assert segment.seq_len == 4 and Segment(1, 2, 0, flags=SYN | FIN, payload=b"ab").seq_len == 4


@pytest.mark.parametrize("raw, message", [
    (b"\x00" * 19, "shorter than a header"),
    (bytes(12) + b"\x40" + bytes(7), "bad data offset 16"),
    (bytes(12) + b"\xf0" + bytes(7), "bad data offset 60"),
])
def test_parse_rejects_malformed(raw, message):
    with pytest.raises(SegmentError, match=message):
        Segment.parse(raw)


LINUX_LAYOUTS = (bytes.fromhex("0101080a") + bytes(8),                                # NOP NOP TS
                 bytes.fromhex("020405b40402080a") + bytes(8) + bytes.fromhex("01030307"))   # a SYN's


@FAST
@given(st.sampled_from(LINUX_LAYOUTS),
       st.lists(st.tuples(st.integers(0, 19), st.integers(0, 255)), max_size=3), st.binary(max_size=8))
def test_parse_shortcuts_give_what_the_option_codec_gives(layout, changes, payload):
    """Segment.parse reads Linux's two usual option layouts directly; the same Segment must come out
    as through the wire view and the option codec, also for bytes that only nearly match one."""
    options = bytearray(layout)
    for index, value in changes:
        options[index % len(options)] = value
    header = struct.pack("!HHIIBBHHH", 40000, 80, 1, 2, (20 + len(options)) << 2, ACK, 501, 0, 0)
    raw = header + options + payload
    assert Segment.parse(raw) == Segment.from_view(TCPView(raw, 0, len(raw)), raw[20 + len(options):])


def test_unknown_options_are_kept():
    raw = bytes(scapy.TCP(options=[("MSS", 1000), (34, b"\x01\x02")]))
    segment = Segment.parse(raw)
    assert segment.mss == 1000 and segment.extra_options == ((34, b"\x01\x02"),)


# ---------------------------------------------------------------- ISN, reset, window scale
def test_isn_is_keyed_per_four_tuple_and_ticks_every_four_microseconds():
    local, remote = (SRC, 40000), (DST, 80)
    base = initial_sequence(b"k", local, remote, 100.0)
    assert initial_sequence(b"k", local, remote, 100.0) == base
    assert seqmath.distance(initial_sequence(b"k", local, remote, 101.0), base) == 250_000
    assert initial_sequence(b"k", local, (DST, 81), 100.0) != base
    assert initial_sequence(b"other", local, remote, 100.0) != base


def test_reset_for_segments_without_connection():
    with_ack = reset_for(Segment(1234, 80, 10, 555, ACK | PSH, payload=b"abc"))
    assert (with_ack.sport, with_ack.dport, with_ack.seq, with_ack.flags) == (80, 1234, 555, RST)
    syn = reset_for(Segment(1234, 80, seqmath.MASK, 0, SYN))
    assert syn.seq == 0 and syn.ack == 0 and syn.flags == RST | ACK           # wraps past 2**32
    fin_data = reset_for(Segment(1234, 80, 100, 0, FIN, payload=b"xy"))
    assert fin_data.ack == 103
    assert reset_for(Segment(1234, 80, 1, 2, RST | ACK)) is None


def test_window_scale_covers_buffer():
    assert [window_scale_for(size) for size in (65535, 65536, 131072, 1 << 20, 1 << 30, 1 << 40)] == \
        [0, 1, 2, 5, 14, 14]


# ---------------------------------------------------------------- state table
def test_every_missing_transition_is_a_local_protocol_error():
    for state in State:
        for trigger in Trigger:
            if (state, trigger) in TRANSITIONS:
                assert next_state(state, trigger) is TRANSITIONS[(state, trigger)]
                continue
            with pytest.raises(LocalProtocolError) as caught:
                next_state(state, trigger)
            assert caught.value.state is state and caught.value.trigger is trigger
            assert state.value in str(caught.value) and trigger.value in str(caught.value)


def test_table_reaches_every_state():
    assert set(TRANSITIONS.values()) | {State.CLOSED, State.LISTEN} == set(State)   # LISTEN: Listener


@FAST
@given(SEGMENTS)
def test_fast_path_checksum_over_ipv6_matches_scapy(segment):
    src, dst = "fd00:18::1", "fd00:18::2"
    pseudo = address_sum(ipaddress.ip_address(src).packed, ipaddress.ip_address(dst).packed)
    theirs = bytes(scapy.IPv6(src=src, dst=dst) / scapy.TCP(
        sport=segment.sport, dport=segment.dport, seq=segment.seq, ack=segment.ack, flags=segment.flags,
        window=segment.window, urgptr=segment.urgptr, options=scapy_options(segment)) / segment.payload)[40:]
    assert segment.to_bytes(pseudo) == theirs


@pytest.mark.parametrize("field, value, message", [
    ("mss", 20, "mss must be"), ("receive_buffer_size", 0, "receive_buffer_size"),
    ("window_scale", 15, "window_scale"), ("min_rto", 0, "min_rto"), ("linger", -1, "linger"),
    ("keepalive_count", 0, "keepalive"), ("time_wait", -1, "timeouts"), ("max_retries", -1, "retries"),
])
def test_settings_reject_unworkable_values(field, value, message):
    from rawkit.tcp import Settings
    with pytest.raises(ValueError, match=f"tcp settings: {message}"):
        Settings(**{field: value})

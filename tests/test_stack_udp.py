"""rawkit.stack.udp without a network: datagram build/check (scapy and rawkit's decoder as oracles),
port-unreachable messages and their reading back, ICMP error mapping, the rate limit, the receive
buffer bound, port binding and connected filtering."""

from __future__ import annotations

import errno
import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rawkit
from rawkit.stack.udp import (
    BURST_GLOBAL,
    BURST_PER_PEER,
    DATAGRAM_OVERHEAD,
    PROTO_ICMP,
    PROTO_ICMPV6,
    Datagram,
    Endpoint,
    RateLimit,
    TokenBucket,
    UdpHost,
    build_datagram,
    parse_datagram,
    port_unreachable,
    read_icmp_error,
)
from rawkit.wire.checksum import ones_sum, pseudo_header_sum

V4 = (bytes((198, 18, 0, 10)), bytes((198, 18, 0, 2)))
V6 = (bytes.fromhex("fd000018" + "0" * 22 + "10"), bytes.fromhex("fd000018" + "0" * 22 + "02"))
ports = st.integers(0, 0xFFFF)
families = st.sampled_from([V4, V6])


def ip_packet(source: bytes, destination: bytes, data: bytes) -> bytes:
    """The datagram under an IP header built by rawkit's builder."""
    ip = rawkit.IPv4(src=_text(source), dst=_text(destination), proto=17) if len(source) == 4 else \
        rawkit.IPv6(src=_text(source), dst=_text(destination), nh=17)
    return bytes(ip / rawkit.Raw(load=data))


def _text(address: bytes) -> str:
    return str(ipaddress.ip_address(address))


@given(families, ports, ports, st.binary(max_size=2000))
def test_build_then_parse_round_trips(addresses, sport, dport, payload):
    source, destination = addresses
    data = build_datagram(source, destination, sport, dport, payload)
    assert parse_datagram(source, destination, data) == Datagram(sport, dport, payload)
    assert struct.unpack_from("!H", data, 6)[0] != 0      # never "no checksum"


@settings(deadline=None, max_examples=50)     # the first example imports scapy
@given(families, ports, ports, st.binary(max_size=300))
def test_builder_agrees_with_scapy(addresses, sport, dport, payload):
    scapy_all = pytest.importorskip("scapy.all")
    source, destination = addresses
    layer = scapy_all.IP if len(source) == 4 else scapy_all.IPv6
    udp = scapy_all.UDP(sport=sport, dport=dport)
    packet = layer(src=_text(source), dst=_text(destination)) / udp / payload
    expected = bytes(packet)[20 if len(source) == 4 else 40:]
    assert build_datagram(source, destination, sport, dport, payload) == expected


@given(families, st.binary(min_size=1, max_size=200), st.data())
def test_any_single_bit_flip_is_dropped(addresses, payload, data):
    source, destination = addresses
    datagram = bytearray(build_datagram(source, destination, 1000, 2000, payload))
    bit = data.draw(st.integers(0, len(datagram) * 8 - 1))
    datagram[bit // 8] ^= 1 << (bit % 8)
    if len(source) == 4 and datagram[6:8] == b"\0\0":
        return                                  # the flip made "no checksum", legal over IPv4
    parsed = parse_datagram(source, destination, bytes(datagram))
    length_changed = 32 <= bit < 48
    assert parsed is None or (length_changed and parsed.payload != payload)


def test_zero_checksum_means_none_over_ipv4_and_is_dropped_over_ipv6():
    for (source, destination), expected in ((V4, Datagram(1, 2, b"abc")), (V6, None)):
        datagram = struct.pack("!HHHH", 1, 2, 11, 0) + b"abc"
        assert parse_datagram(source, destination, datagram) == expected


def test_length_field_rules():
    source, destination = V4
    good = build_datagram(source, destination, 1, 2, b"hello")
    assert parse_datagram(source, destination, good + b"\0" * 10).payload == b"hello"   # link padding
    assert parse_datagram(source, destination, good[:-1]) is None                     # cut short
    assert parse_datagram(source, destination, good[:7]) is None
    short = good[:4] + struct.pack("!H", 7) + good[6:]
    assert parse_datagram(source, destination, short) is None


@pytest.mark.parametrize("addresses", [V4, V6], ids=["ipv4", "ipv6"])
def test_port_unreachable_is_valid_and_reads_back_as_econnrefused(addresses):
    peer, ours = addresses[1], addresses[0]
    datagram = build_datagram(peer, ours, 5555, 9, b"x" * 3000)
    packet = ip_packet(peer, ours, datagram)
    proto, message = port_unreachable(packet, ours, peer)
    limit = 576 - 20 if len(ours) == 4 else 1280 - 40
    assert len(message) == limit
    if proto == PROTO_ICMP:
        assert message[:2] == b"\x03\x03" and ones_sum(message) == 0xFFFF
    else:
        assert proto == PROTO_ICMPV6 and message[:2] == b"\x01\x04"
        assert ones_sum(message, pseudo_header_sum(ours, peer, PROTO_ICMPV6, len(message))) == 0xFFFF
    assert message[8:] == packet[:len(message) - 8]
    # the sender of the datagram reads the error: its local port 5555, its peer (ours, 9)
    report = read_icmp_error(len(ours), message)
    assert report == (errno.ECONNREFUSED, 5555, (ours, 9))


def test_port_unreachable_decodes_with_rawkit():
    peer, ours = V4[1], V4[0]
    packet = ip_packet(peer, ours, build_datagram(peer, ours, 5555, 9, b"probe"))
    proto, message = port_unreachable(packet, ours, peer)
    frame = bytes(rawkit.IPv4(src=_text(ours), dst=_text(peer), proto=proto) / rawkit.Raw(load=message))
    decoded = rawkit.decode(frame, linktype=rawkit.LINKTYPE_RAW)
    assert decoded.icmp.type == 3 and decoded.icmp.code == 3
    assert not decoded.errors


def _error_message(kind: int, code: int, family: int, proto: int = 17) -> bytes:
    ours, peer = (V4 if family == 4 else V6)
    quoted = build_datagram(ours, peer, 4000, 53, b"q")
    if family == 4:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(quoted), 1, 0, 64, proto, 0, ours, peer)
    else:
        header = struct.pack("!IHBB16s16s", 6 << 28, len(quoted), proto, 64, ours, peer)
    return bytes((kind, code, 0, 0, 0, 0, 0, 0)) + header + quoted


@pytest.mark.parametrize(("family", "kind", "code", "expected"), [
    (4, 3, 3, errno.ECONNREFUSED), (4, 3, 1, errno.EHOSTUNREACH), (4, 3, 0, errno.ENETUNREACH),
    (4, 3, 13, errno.EHOSTUNREACH), (4, 12, 0, errno.EPROTO),
    (4, 3, 4, None), (4, 11, 0, None), (4, 4, 0, None), (4, 3, 11, None),           # not fatal: not reported
    (16, 1, 4, errno.ECONNREFUSED), (16, 1, 3, errno.EHOSTUNREACH), (16, 1, 1, errno.EACCES),
    (16, 1, 0, errno.ENETUNREACH), (16, 4, 0, errno.EPROTO),
    (16, 2, 0, None), (16, 3, 0, None),
])
def test_icmp_errors_map_to_linux_errnos(family, kind, code, expected):
    report = read_icmp_error(family, _error_message(kind, code, family))
    assert (report.code if report else None) == expected


def test_icmp_error_quoting_tcp_or_cut_short_is_ignored():
    assert read_icmp_error(4, _error_message(3, 3, 4, proto=6)) is None
    assert read_icmp_error(16, _error_message(1, 4, 16, proto=6)) is None
    assert read_icmp_error(4, _error_message(3, 3, 4)[:8 + 20 + 3]) is None
    assert read_icmp_error(4, b"\x03\x03\0") is None


def test_token_bucket_and_rate_limit():
    bucket = TokenBucket(1.0, 6, now=0.0)
    assert [bucket.allow(0.0) for _ in range(7)] == [True] * 6 + [False]
    assert not bucket.allow(0.5) and bucket.allow(1.0) and not bucket.allow(1.1)
    limit = RateLimit()
    allowed = sum(limit.allow(b"a", 0.0) for _ in range(20))
    assert allowed == BURST_PER_PEER
    allowed = sum(limit.allow(bytes([n % 250, n // 250]), 0.0) for n in range(500))  # many peers
    assert allowed == BURST_GLOBAL - BURST_PER_PEER
    assert limit.allow(b"b", 0.001) and not limit.allow(b"c", 0.001)      # the global rate: 1 per ms


def test_receive_buffer_admits_while_not_over_then_drops():
    endpoint = Endpoint(4, 5000)
    endpoint.rcvbuf = 4000
    accepted = [endpoint.deliver(b"x" * 1000, (V4[1], 1)) for _ in range(5)]
    per = 1000 + DATAGRAM_OVERHEAD
    expected = 4000 // per + 1                # Linux admits one more while the total is not over
    assert accepted == [True] * expected + [False] * (5 - expected)
    assert endpoint.drops == 5 - expected
    endpoint.take()
    assert endpoint.queued == (expected - 1) * per
    assert endpoint.deliver(b"y", (V4[1], 1))


def test_bind_ports_and_ephemeral():
    host = UdpHost()
    first = host.bind(4, 5000)
    with pytest.raises(OSError) as raised:
        host.bind(4, 5000)
    assert raised.value.errno == errno.EADDRINUSE
    assert host.bind(16, 5000).port == 5000               # families have separate port spaces
    ephemeral = {host.bind(4, 0).port for _ in range(100)}
    assert len(ephemeral) == 100 and all(32768 <= port < 61000 for port in ephemeral)
    host.release(first)
    assert host.bind(4, 5000).port == 5000


def test_host_delivers_filters_and_answers_closed_ports():
    ours, peer = V4
    host = UdpHost()
    endpoint = host.bind(4, 7000)

    def arrive(sport: int, dport: int, payload: bytes, now: float = 0.0):
        datagram = build_datagram(peer, ours, sport, dport, payload)
        return host.receive(peer, ours, ip_packet(peer, ours, datagram) + b"\0" * 6, datagram, now)

    assert arrive(1111, 7000, b"one") is None
    endpoint.peer = (peer, 2222)                           # connected: only (peer, 2222) gets through
    arrive(1111, 7000, b"filtered")
    arrive(2222, 7000, b"two")
    assert [endpoint.take()[0] for _ in range(len(endpoint.queue))] == [b"one", b"two"]
    reply = arrive(1111, 9, b"closed")
    assert reply is not None and reply[0] == PROTO_ICMP
    assert read_icmp_error(4, reply[1]) == (errno.ECONNREFUSED, 1111, (ours, 9))
    assert reply[1][8:].endswith(b"closed")                # the link padding is not quoted
    replies = [arrive(1111, 9, b"closed", now=0.0) for _ in range(10)]
    assert sum(r is not None for r in replies) == BURST_PER_PEER - 1     # rate-limited
    corrupt = bytearray(build_datagram(peer, ours, 1111, 9, b"bad"))
    corrupt[-1] ^= 1
    assert host.receive(peer, ours, ip_packet(peer, ours, bytes(corrupt)), bytes(corrupt), 100.0) is None


def test_icmp_error_reaches_only_the_connected_socket_of_that_peer():
    ours, peer = V4
    host = UdpHost()
    connected, unconnected = host.bind(4, 4000), host.bind(4, 4001)
    message = _error_message(3, 3, 4)                       # quotes ours:4000 -> peer:53
    assert host.icmp_error(4, message) is None              # not connected yet: Linux ignores it
    connected.peer = (peer, 54)
    assert host.icmp_error(4, message) is None              # connected elsewhere
    connected.peer = (peer, 53)
    assert host.icmp_error(4, message) is connected
    assert connected.take_error() == errno.ECONNREFUSED and connected.take_error() == 0
    assert unconnected.error == 0

"""rawkit.stack.udp_fragments without a network: fragments of both families reassemble in any order
(with duplicates), and the limits hold: overlaps discard, 30 s expiry, memory bound, only UDP, only
to us. The kernel lab test (test_stack_udp_lab) checks the same code against Linux both ways."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from rawkit.stack.ip_link import IPPacket, parse_ipv4, parse_ipv6
from rawkit.stack.udp import build_datagram, parse_datagram
from rawkit.stack.udp_fragments import (
    PROTO_FRAGMENT,
    PROTO_UDP,
    Reassembly,
    ipv4_fragments,
    ipv6_fragments,
)
from rawkit.wire.checksum import ones_sum

V4 = (bytes((198, 18, 0, 2)), bytes((198, 18, 0, 10)))
V6 = (bytes.fromhex("fd000018" + "0" * 22 + "02"), bytes.fromhex("fd000018" + "0" * 22 + "10"))


def fragments(family: int, payload: bytes, mtu: int, ident: int = 7, proto: int = PROTO_UDP) -> list[bytes]:
    source, destination = V4 if family == 4 else V6
    build = ipv4_fragments if family == 4 else ipv6_fragments
    return build(source, destination, proto, payload, mtu, ident)


def feed(reassembly: Reassembly, family: int, packet: bytes, now: float = 0.0):
    if family == 4:
        return reassembly.add_ipv4(packet, V4[1], now)
    parsed = parse_ipv6(packet, (V6[1],))
    assert parsed is not None and parsed.proto == PROTO_FRAGMENT
    return reassembly.add_ipv6(parsed, now)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([4, 6]), st.integers(1, 65507), st.sampled_from([1280, 1500, 9000]), st.randoms(),
       st.booleans())
def test_fragments_reassemble_in_any_order(family, size, mtu, random, duplicate):
    source, destination = V4 if family == 4 else V6
    payload = build_datagram(source, destination, 5000, 6000, random.randbytes(size))
    packets = fragments(family, payload, mtu)
    assert all(len(packet) <= mtu for packet in packets)
    assert len(packets) == max(1, -(-len(payload) // ((mtu - (20 if family == 4 else 48)) // 8 * 8)))
    if family == 4 and len(packets) == 1:
        assert parse_ipv4(packets[0], destination).payload == payload      # fits: a plain packet
        return
    if duplicate:
        packets.append(random.choice(packets))
    random.shuffle(packets)
    reassembly = Reassembly()
    results = [feed(reassembly, family, packet) for packet in packets]
    whole = [result for result in results if result is not None]
    if duplicate and results[-1] is not None and len(packets) > 1:
        whole = whole[:1]        # the duplicate came last: it starts a new datagram that never ends
    assert len(whole) == 1
    packet, ip_bytes = whole[0]
    assert (packet.src, packet.dst, packet.proto, packet.payload) == (source, destination, PROTO_UDP, payload)
    reparsed = parse_ipv4(ip_bytes, destination) if family == 4 else parse_ipv6(ip_bytes, (destination,))
    assert reparsed is not None and reparsed.payload == payload and reparsed.proto == PROTO_UDP
    assert parse_datagram(source, destination, packet.payload).payload == payload[8:]


def test_ipv4_fragment_headers():
    packets = fragments(4, bytes(3000), 1500, ident=0x1234)
    fields = [struct.unpack_from("!HHH", packet, 2) for packet in packets]
    assert fields == [(1500, 0x1234, 0x2000), (1500, 0x1234, 0x2000 | 185), (60, 0x1234, 370)]
    assert all(ones_sum(packet[:20]) == 0xFFFF for packet in packets)     # header checksums


def test_ipv6_fragment_headers():
    packets = fragments(6, bytes(3000), 1500, ident=0xABCDEF01)
    headers = [struct.unpack_from("!BBHI", packet, 40) for packet in packets]
    assert headers == [(PROTO_UDP, 0, 0 | 1, 0xABCDEF01), (PROTO_UDP, 0, 1448 | 1, 0xABCDEF01),
                       (PROTO_UDP, 0, 2896, 0xABCDEF01)]
    assert [struct.unpack_from("!H", packet, 4)[0] for packet in packets] == [1456, 1456, 112]


def test_overlapping_fragments_discard_the_datagram():
    packets = fragments(4, bytes(range(256)) * 12, 1500)
    reassembly = Reassembly()
    assert feed(reassembly, 4, packets[0]) is None
    forged = bytearray(packets[1])                          # offset 1480 -> 1472: overlaps the first
    struct.pack_into("!H", forged, 6, 0x2000 | 184)
    struct.pack_into("!H", forged, 10, 0)
    struct.pack_into("!H", forged, 10, (~ones_sum(forged[:20])) & 0xFFFF)
    assert feed(reassembly, 4, bytes(forged)) is None
    assert reassembly.pending == {} and reassembly.held == 0
    assert [feed(reassembly, 4, packet) for packet in packets[1:]] == [None, None]   # the rest: no whole


def test_expiry_and_memory_limit():
    packets = fragments(6, bytes(5000), 1500)
    reassembly = Reassembly()
    assert feed(reassembly, 6, packets[0], now=0.0) is None
    assert reassembly.held == 1448
    assert feed(reassembly, 6, packets[1], now=31.0) is None          # the first expired meanwhile
    assert reassembly.held == 1448 and len(reassembly.pending) == 1
    small = Reassembly(memory_limit=2000)
    assert feed(small, 6, packets[0]) is None and feed(small, 6, packets[1]) is None
    assert small.held == 0 and small.pending == {}                   # over the limit: dropped


def test_only_udp_to_us_and_well_formed():
    reassembly = Reassembly()
    tcp = fragments(4, bytes(3000), 1500, proto=6)
    assert feed(reassembly, 4, tcp[0]) is None and reassembly.pending == {}
    assert reassembly.add_ipv4(fragments(4, bytes(3000), 1500)[0], V4[0], 0.0) is None   # not to us
    odd = bytearray(fragments(4, bytes(3000), 1500)[0])     # a first fragment 1 byte short of 8n
    struct.pack_into("!H", odd, 2, 1499)
    struct.pack_into("!H", odd, 10, 0)
    struct.pack_into("!H", odd, 10, (~ones_sum(odd[:20])) & 0xFFFF)
    assert reassembly.add_ipv4(bytes(odd[:1499]), V4[1], 0.0) is None and reassembly.pending == {}
    tcp6 = fragments(6, bytes(3000), 1500, proto=6)
    assert feed(reassembly, 6, tcp6[0]) is None and reassembly.pending == {}


def test_atomic_ipv6_fragment_is_whole_at_once():
    datagram = build_datagram(V6[0], V6[1], 1, 2, b"atomic")
    fragment = struct.pack("!BBHI", PROTO_UDP, 0, 0, 99) + datagram
    packet = IPPacket(V6[0], V6[1], PROTO_FRAGMENT, fragment, 64)
    whole = Reassembly().add_ipv6(packet, 0.0)
    assert whole is not None and whole[0].payload == datagram and whole[0].proto == PROTO_UDP

"""The stack's frame-level parsers and ND messages: scapy as the oracle for what ND builds, and
hypothesis for arbitrary bytes (never an exception, never a packet that is not ours)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rawkit.stack.ip_link import (
    ETH_P_IPV6,
    EthernetLink,
    IPPacket,
    parse_ipv4,
    parse_ipv6,
    solicited_node_bytes,
)
from rawkit.stack.neighbour_discovery import PROTO_ICMPV6, NeighbourDiscovery, icmpv6_message
from rawkit.stack.neighbours import Neighbours

inet6 = pytest.importorskip("scapy.layers.inet6")

OURS = ipaddress.IPv6Address("fd00:18::10").packed
PEER = ipaddress.IPv6Address("fd00:18::2").packed
OUR_MAC, PEER_MAC = bytes.fromhex("020000000010"), bytes.fromhex("020000000002")


def test_solicitation_matches_scapy():
    mac, ethertype, packet = NeighbourDiscovery(OURS, OUR_MAC).solicitation(PEER)
    assert (mac, ethertype) == (bytes.fromhex("3333ff000002"), ETH_P_IPV6)
    decoded = inet6.IPv6(packet)
    assert decoded.dst == "ff02::1:ff00:2" and decoded.hlim == 255
    solicitation = decoded[inet6.ICMPv6ND_NS]
    assert solicitation.tgt == "fd00:18::2"
    assert decoded[inet6.ICMPv6NDOptSrcLLAddr].lladdr == OUR_MAC.hex(":")
    del solicitation.cksum                                   # scapy recomputes it: same bytes
    assert bytes(decoded) == packet


def test_solicitation_for_us_is_advertised_and_queue_released():
    table = NeighbourDiscovery(OURS, OUR_MAC)
    assert table.resolve(PEER, b"waiting", now=0.0)            # our own solicitation goes out
    group = solicited_node_bytes(OURS)
    option = inet6.ICMPv6NDOptSrcLLAddr(lladdr=PEER_MAC.hex(":"))
    message = bytes(inet6.ICMPv6ND_NS(tgt="fd00:18::10") / option)
    message = icmpv6_message(PEER, group, message[:2] + b"\0\0" + message[4:])
    frames = table.handle_nd(IPPacket(PEER, group, PROTO_ICMPV6, message, 255), now=0.1)
    (mac, _, advert), released = frames
    assert mac == PEER_MAC and released == (PEER_MAC, ETH_P_IPV6, b"waiting")
    decoded = inet6.IPv6(advert)
    assert decoded.src == "fd00:18::10" and decoded.dst == "fd00:18::2" and decoded.hlim == 255
    assert decoded[inet6.ICMPv6ND_NA].tgt == "fd00:18::10" and decoded[inet6.ICMPv6ND_NA].S == 1
    assert decoded[inet6.ICMPv6NDOptDstLLAddr].lladdr == OUR_MAC.hex(":")
    routed = IPPacket(PEER, group, PROTO_ICMPV6, message, 64)
    assert table.handle_nd(routed, now=0.2) == []           # hop limit below 255: ignored


def test_ipv6_packet_builder_matches_scapy():
    packet = EthernetLink.ipv6_packet(OURS, PEER, 6, b"payload")
    decoded = inet6.IPv6(packet)
    assert (decoded.src, decoded.dst, decoded.nh, decoded.plen) == ("fd00:18::10", "fd00:18::2", 6, 7)
    parsed = parse_ipv6(packet + b"trailer", (PEER,))
    assert parsed is not None and parsed.payload == b"payload" and parsed.src == OURS


@given(st.binary(max_size=120))
def test_parsers_take_any_bytes(data):
    ours4 = bytes([198, 18, 0, 10])
    packet = parse_ipv4(data, ours4)
    assert packet is None or (packet.dst == ours4 and len(packet.payload) <= len(data))
    packet = parse_ipv6(data, (OURS,))
    assert packet is None or packet.dst == OURS
    Neighbours(ours4, OUR_MAC).handle_arp(data, 0.0)
    NeighbourDiscovery(OURS, OUR_MAC).handle_nd(IPPacket(PEER, OURS, PROTO_ICMPV6, data, 255), 0.0)

"""rawkit.stack.neighbours (sans-IO ARP): answers, resolution, retries, give-up; checked against scapy's
ARP decoder as the oracle for the frames it builds."""

from __future__ import annotations

import pytest

from rawkit.stack.ip_link import BROADCAST, ETH_P_ARP, ETH_P_IP
from rawkit.stack.neighbours import MAX_QUEUED, MAX_REQUESTS, RETRY_INTERVAL, Neighbours

scapy_l2 = pytest.importorskip("scapy.layers.l2")

OUR_IP, OUR_MAC = bytes([198, 18, 0, 10]), bytes.fromhex("020000000010")
PEER_IP, PEER_MAC = bytes([198, 18, 0, 2]), bytes.fromhex("020000000002")


def arp(op: int, sender_mac: bytes, sender_ip: bytes, target_ip: bytes) -> bytes:
    return bytes(scapy_l2.ARP(op=op, hwsrc=sender_mac.hex(":"), psrc=".".join(map(str, sender_ip)),
                              hwdst="00:00:00:00:00:00", pdst=".".join(map(str, target_ip))))


def test_request_for_our_address_is_answered_and_learned():
    table = Neighbours(OUR_IP, OUR_MAC)
    frames = table.handle_arp(arp(1, PEER_MAC, PEER_IP, OUR_IP), now=0.0)
    assert len(frames) == 1
    mac, ethertype, payload = frames[0]
    assert (mac, ethertype) == (PEER_MAC, ETH_P_ARP)
    reply = scapy_l2.ARP(payload)
    assert (reply.op, reply.psrc, reply.hwsrc) == (2, "198.18.0.10", OUR_MAC.hex(":"))
    assert (reply.pdst, reply.hwdst) == ("198.18.0.2", PEER_MAC.hex(":"))
    assert table.lookup(PEER_IP, 1.0) == PEER_MAC


def test_request_for_another_address_is_ignored():
    table = Neighbours(OUR_IP, OUR_MAC)
    assert table.handle_arp(arp(1, PEER_MAC, PEER_IP, bytes([198, 18, 0, 11])), now=0.0) == []
    assert table.handle_arp(b"\x00\x01", now=0.0) == []
    assert table.lookup(PEER_IP, 0.0) is None


def test_resolution_queues_then_releases_packets():
    table = Neighbours(OUR_IP, OUR_MAC)
    frames = table.resolve(PEER_IP, b"first", now=0.0)
    assert len(frames) == 1 and frames[0][:2] == (BROADCAST, ETH_P_ARP)
    request = scapy_l2.ARP(frames[0][2])
    assert (request.op, request.pdst, request.psrc) == (1, "198.18.0.2", "198.18.0.10")
    assert table.resolve(PEER_IP, b"second", now=0.1) == []          # one request in flight
    released = table.handle_arp(arp(2, PEER_MAC, PEER_IP, OUR_IP), now=0.2)
    assert released == [(PEER_MAC, ETH_P_IP, b"first"), (PEER_MAC, ETH_P_IP, b"second")]
    assert table.resolve(PEER_IP, b"third", now=0.3) == [(PEER_MAC, ETH_P_IP, b"third")]


def test_unanswered_resolution_retries_then_fails():
    table = Neighbours(OUR_IP, OUR_MAC)
    requests = len(table.resolve(PEER_IP, b"x", now=0.0))
    now = 0.0
    while table.next_deadline() is not None:
        now = table.next_deadline()
        requests += len(table.poll(now))
    assert requests == MAX_REQUESTS
    assert now == pytest.approx(MAX_REQUESTS * RETRY_INTERVAL)
    assert table.failed == [PEER_IP]


def test_queue_is_bounded():
    table = Neighbours(OUR_IP, OUR_MAC)
    for index in range(MAX_QUEUED * 2):
        table.resolve(PEER_IP, index.to_bytes(4, "big"), now=0.0)
    released = table.handle_arp(arp(2, PEER_MAC, PEER_IP, OUR_IP), now=0.1)
    assert len(released) == MAX_QUEUED
    assert released[0][2] == MAX_QUEUED.to_bytes(4, "big")      # the oldest were dropped

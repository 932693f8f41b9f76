#!/usr/bin/env python3
"""Generate the crafted edge-case captures in captures/crafted/, byte for byte the same every run.

Why: real traffic rarely carries every TCP option kind, IPv6 extension chains, ICMP errors of each
type or frames broken at every layer; decoders, filters and the tcpdump-identical printer need all
of them, in every link type rawkit reads. Frames are built with rawkit's own builders and timestamps
are fixed, so `tests/test_captures.py` can regenerate the files and compare them with the committed
ones. Files:

    ethernet.pcap     Ethernet: VLAN/QinQ, ARP, IPv4 options and fragments, IPv6 extension headers,
                      every TCP option kind, UDP, every ICMP and ICMPv6 type (quoted datagrams, ND)
    raw.pcap          LINKTYPE_RAW (101): bare IPv4 and IPv6 datagrams
    linux-sll.pcap    LINKTYPE_LINUX_SLL (113): every packet type, ARP, IPv4, IPv6
    linux-sll2.pcap   LINKTYPE_LINUX_SLL2 (276), as `tcpdump -i any` writes
    null.pcap         LINKTYPE_NULL (0): host-order (little-endian) address family 2, 24, 28, 30
    loop.pcap         LINKTYPE_LOOP (108): network-order address family
    malformed.pcap    Ethernet frames cut short or lying at every layer (lengths, offsets, options,
                      checksums): decoders must report them, never crash

    python3 tools/gen_captures.py [--output-dir captures/crafted]
"""

from __future__ import annotations

import argparse
import struct
import sys
from pathlib import Path

from rawkit import (
    ARP,
    ICMP,
    TCP,
    UDP,
    CookedLinux,
    CookedLinuxV2,
    Dot1AD,
    Dot1Q,
    Ether,
    ICMPv6,
    IPv4,
    IPv6,
    IPv6DestOpts,
    IPv6Fragment,
    IPv6HopByHop,
    IPv6Routing,
    LinkType,
    Loopback,
)
from rawkit.pcap import PcapWriter

START_NS = 1_700_000_000 * 1_000_000_000  # 2023-11-14 22:13:20 UTC
STEP_NS = 1_000_000  # one frame per millisecond
SNAPLEN = 262144

MAC_A, MAC_B, MAC_ROUTER = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:fe"
V4_A, V4_B, V4_ROUTER, V4_FAR = "198.18.0.1", "198.18.0.2", "198.18.0.254", "198.19.0.7"
V6_A, V6_B, V6_FAR = "fd00:18::1", "fd00:18::2", "fd00:18:1::7"
LL_A, LL_B, LL_ROUTER = "fe80::1", "fe80::2", "fe80::fe"
SOLICITED_B = "ff02::1:ff00:2"
PORT_A, PORT_B = 40000, 8000
UDP_PORT = 9999

# a frame is its bytes, or (bytes, wire length) when the capture cut it short
Frame = bytes | tuple[bytes, int]


def payload(size: int, seed: int = 0) -> bytes:
    return bytes((seed + index) & 0xFF for index in range(size))


def ether(chain, src: str = MAC_A, dst: str = MAC_B) -> bytes:
    return bytes(Ether(dst=dst, src=src) / chain)


def to_a(chain, src: str = MAC_B) -> bytes:
    """A frame towards host A (from B unless another source MAC is given)."""
    return ether(chain, src=src, dst=MAC_A)


def padded(frame: bytes) -> bytes:
    """Ethernet minimum size (60 bytes without FCS), as a NIC pads short frames."""
    return frame + b"\x00" * max(0, 60 - len(frame))


def quoted(datagram, size: int = 28) -> bytes:
    """What an ICMP error carries: the start of the offending datagram."""
    return bytes(datagram)[:size]


def v4(src: str = V4_A, dst: str = V4_B, **fields) -> IPv4:
    return IPv4(src=src, dst=dst, **fields)


def v6(src: str = V6_A, dst: str = V6_B, **fields) -> IPv6:
    return IPv6(src=src, dst=dst, **fields)


# -- TCP ----------------------------------------------------------------------------------------------
def tcp_segments(forward, backward) -> list:
    """A connection's life plus every option kind: EOL, NOP, MSS, WScale, SAckOK, SAck (1 to 4
    blocks), Timestamp, MD5, Fast Open, unknown kinds; every flag combination worth printing.
    `forward` and `backward` are the IP headers of the two directions."""
    return [
        forward / TCP(sport=PORT_A, dport=PORT_B, seq=1000, flags="S", window=64240,
                      options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (100, 0)), ("NOP", None),
                               ("WScale", 7)]),
        backward / TCP(sport=PORT_B, dport=PORT_A, seq=5000, ack=1001, flags="SA", window=65160,
                       options=[("MSS", 1460), ("NOP", None), ("NOP", None), ("SAckOK", b""), ("NOP", None),
                                ("WScale", 9)]),
        forward / TCP(sport=PORT_A, dport=PORT_B, seq=1001, ack=5001, flags="A", window=502),
        forward / TCP(sport=PORT_A, dport=PORT_B, seq=1001, ack=5001, flags="PA", window=502) / payload(100),
        backward / TCP(sport=PORT_B, dport=PORT_A, seq=5001, ack=1101, flags="A", window=509,
                       options=[("NOP", None), ("NOP", None), ("SAck", ((1201, 1301),))]),
        backward / TCP(sport=PORT_B, dport=PORT_A, seq=5001, ack=1101, flags="A", window=509,
                       options=[("NOP", None), ("NOP", None),
                                ("SAck", ((1201, 1301), (1401, 1501), (1601, 1701), (1801, 1901)))]),
        backward / TCP(sport=PORT_B, dport=PORT_A, seq=5001, ack=1101, flags="A", window=509,
                       options=[("NOP", None), ("NOP", None), ("Timestamp", (4294967295, 123456789)),
                                ("NOP", None), ("NOP", None), ("SAck", ((1201, 1301), (1401, 1501)))]),
        forward / TCP(sport=PORT_A, dport=179, seq=7, flags="S", options=[("MD5", payload(16, 0xA0))]),
        forward / TCP(sport=PORT_A, dport=PORT_B, seq=1101, ack=5001, flags="A",
                      options=[(253, b"\x12\x34\x56\x78"), (99, b""), ("NOP", None), ("EOL", None)]),
        forward / TCP(sport=PORT_A, dport=PORT_B, seq=1101, flags="S",
                      options=[("MSS", 1220), (34, payload(8))]),
        forward / TCP(sport=PORT_A, dport=PORT_B, seq=1101, ack=5001, flags="FPAU", urgptr=3) / b"urg",
        forward / TCP(sport=PORT_A, dport=PORT_B, seq=1104, flags="SEC", window=1024),
        backward / TCP(sport=PORT_B, dport=PORT_A, seq=5001, ack=1105, flags="RA", window=0),
        backward / TCP(sport=PORT_B, dport=PORT_A, seq=0, flags=0),
        backward / TCP(sport=PORT_B, dport=PORT_A, seq=0, flags="FSRPAUEC"),
    ]


def tcp_frames(forward, backward) -> list[bytes]:
    return [ether(segment) if segment.layers[0] is forward else to_a(segment)
            for segment in tcp_segments(forward, backward)]


# -- IPv4 ---------------------------------------------------------------------------------------------
def ipv4_frames() -> list[bytes]:
    udp_probe = v4(id=0x3001, ttl=1) / UDP(sport=40001, dport=33434) / payload(32)
    tcp_probe = v4(dst=V4_FAR, id=0x3002) / TCP(sport=40002, dport=PORT_B, seq=99, flags="S")
    fragmented = bytes(UDP(sport=40003, dport=UDP_PORT) / payload(3000, 7))
    from_router = {"src": MAC_ROUTER}
    frames = tcp_frames(v4(id=0x1001, flags="DF"), v4(V4_B, V4_A, id=0x2001, flags="DF"))
    frames += [
        ether(v4() / UDP(sport=PORT_A, dport=UDP_PORT) / b"hello udp"),
        ether(v4() / UDP(sport=PORT_A, dport=UDP_PORT, checksum=0) / b"no checksum"),
        padded(ether(v4() / UDP(sport=PORT_A, dport=UDP_PORT))),
        # options: record route, timestamp, loose source route, router alert, NOP/unknown/EOL
        ether(v4(options=[(7, b"\x04" + bytes(8))]) / ICMP(id=1, seq=1) / payload(8)),
        ether(v4(options=[(68, b"\x05\x00" + struct.pack("!I", 1000))]) / ICMP(id=1, seq=2)),
        ether(v4(options=[(131, b"\x04" + bytes((198, 18, 0, 254, 198, 19, 0, 7)))])
              / UDP(sport=PORT_A, dport=UDP_PORT)),
        ether(v4(ttl=1, options=[(148, b"\x00\x00")]) / UDP(sport=PORT_A, dport=UDP_PORT)),
        ether(v4(options=[(1, b""), (1, b""), (30, b"\xab\xcd"), (0, b"")]) / ICMP(id=1, seq=3)),
        # one 3008-byte UDP datagram in three fragments: first, middle, last
        ether(v4(id=0x4001, flags="MF", frag=0, proto=17) / fragmented[:1480]),
        ether(v4(id=0x4001, flags="MF", frag=185, proto=17) / fragmented[1480:2960]),
        ether(v4(id=0x4001, frag=370, proto=17) / fragmented[2960:]),
        ether(v4(id=0x4002, flags="DF", tos=0xB8) / UDP(sport=PORT_A, dport=UDP_PORT) / b"EF"),
        ether(v4(tos=0x03) / UDP(sport=PORT_A, dport=UDP_PORT) / b"CE"),
        ether(v4(proto=47) / b"\x00\x00\x08\x00"),  # GRE, nothing inside
        # ICMP: echo, timestamp, every error type with the datagram it quotes
        ether(v4() / ICMP(type=8, id=0x1234, seq=1) / payload(56)),
        to_a(v4(V4_B, V4_A) / ICMP(type=0, id=0x1234, seq=1) / payload(56)),
        ether(v4() / ICMP(type=13, id=7, seq=1) / struct.pack("!III", 36_000_000, 0, 0)),
        to_a(v4(V4_B, V4_A) / ICMP(type=14, id=7, seq=1)
             / struct.pack("!III", 36_000_000, 36_000_005, 36_000_006)),
        to_a(v4(V4_B, V4_A) / ICMP(type=3, code=3) / quoted(udp_probe)),
        to_a(v4(V4_ROUTER, V4_A) / ICMP(type=3, code=1) / quoted(tcp_probe), **from_router),
        to_a(v4(V4_ROUTER, V4_A) / ICMP(type=3, code=4, mtu=1400)
             / quoted(v4(dst=V4_FAR, id=9, flags="DF") / TCP(sport=40002, dport=PORT_B, flags="PA")
                      / payload(1460)), **from_router),
        to_a(v4(V4_ROUTER, V4_A) / ICMP(type=3, code=13) / quoted(tcp_probe, 48), **from_router),
        to_a(v4(V4_ROUTER, V4_A) / ICMP(type=5, code=1, gateway="198.18.0.253") / quoted(tcp_probe),
             **from_router),
        to_a(v4(V4_ROUTER, V4_A) / ICMP(type=11, code=0) / quoted(udp_probe), **from_router),
        to_a(v4(V4_B, V4_A) / ICMP(type=11, code=1)
             / quoted(v4(id=0x4001, flags="MF", proto=17) / fragmented[:8])),
        to_a(v4(V4_ROUTER, V4_A) / ICMP(type=12, code=0, pointer=20)
             / quoted(v4(dst=V4_FAR, options=[(30, b"\xab\xcd")]) / UDP(sport=PORT_A, dport=UDP_PORT), 32),
             **from_router),
    ]
    return frames


# -- IPv6 ---------------------------------------------------------------------------------------------
def ipv6_frames() -> list[bytes]:
    probe = v6(dst=V6_FAR, hlim=1) / UDP(sport=40001, dport=33434) / payload(32)
    fragmented = bytes(UDP(sport=40003, dport=UDP_PORT) / payload(3000, 9))
    router_mac = {"src": MAC_ROUTER}
    frames = tcp_frames(v6(), v6(V6_B, V6_A))
    frames += [
        ether(v6() / UDP(sport=PORT_A, dport=UDP_PORT) / b"hello udp over ipv6"),
        ether(v6(tc=0xB8, fl=0x12345) / UDP(sport=PORT_A, dport=UDP_PORT) / b"traffic class, flow label"),
        # extension headers, alone and chained
        ether(v6() / IPv6HopByHop(options=[(5, b"\x00\x00")]) / UDP(sport=PORT_A, dport=UDP_PORT) / b"hbh"),
        ether(v6() / IPv6DestOpts(options=[(0x1E, b"\x01\x02\x03"), (0, b"")])
              / UDP(sport=PORT_A, dport=UDP_PORT)),
        ether(v6(dst=V6_FAR) / IPv6Routing(type=0, addresses=["fd00:18::fe", V6_FAR], segleft=2)
              / ICMPv6(type=128, id=5, seq=1) / payload(8)),
        ether(v6() / IPv6HopByHop(options=[(5, b"\x00\x00")]) / IPv6DestOpts(options=[(0x1E, b"\xaa")])
              / IPv6Routing(type=0, addresses=[V6_B], segleft=0) / IPv6Fragment(offset=0, m=0, id=0x77)
              / IPv6DestOpts(options=[(0xC2, b"\x00\x01\x00\x00")])
              / TCP(sport=PORT_A, dport=PORT_B, flags="S")),
        ether(v6() / IPv6Fragment(offset=0, m=1, id=0xABCDEF01, nh=17) / fragmented[:1448]),
        ether(v6() / IPv6Fragment(offset=181, m=1, id=0xABCDEF01, nh=17) / fragmented[1448:2896]),
        ether(v6() / IPv6Fragment(offset=362, m=0, id=0xABCDEF01, nh=17) / fragmented[2896:]),
        ether(v6(nh=59) / b""),  # no next header
        # ICMPv6: echo, every error type with the quoted packet
        ether(v6() / ICMPv6(type=128, id=0x4321, seq=1) / payload(56)),
        to_a(v6(V6_B, V6_A) / ICMPv6(type=129, id=0x4321, seq=1) / payload(56)),
        to_a(v6(V6_B, V6_A) / ICMPv6(type=1, code=4) / quoted(probe, 80)),
        to_a(v6(V6_B, V6_A) / ICMPv6(type=1, code=1) / quoted(probe, 48)),
        to_a(v6("fd00:18::fe", V6_A) / ICMPv6(type=2, mtu=1280)
             / quoted(v6(dst=V6_FAR) / TCP(sport=40002, dport=PORT_B, flags="PA") / payload(1400), 1232),
             **router_mac),
        to_a(v6("fd00:18::fe", V6_A) / ICMPv6(type=3, code=0) / quoted(probe, 80), **router_mac),
        to_a(v6(V6_B, V6_A) / ICMPv6(type=4, code=1, pointer=40) / quoted(v6(nh=0x8F) / bytes(8), 48)),
        # neighbour discovery, hop limit 255 as the RFC wants
        ether(v6(LL_A, "ff02::2", hlim=255) / ICMPv6(type=133, options=[("src_lladdr", MAC_A)]),
              dst="33:33:00:00:00:02"),
        ether(v6(LL_ROUTER, "ff02::1", hlim=255)
              / ICMPv6(type=134, cur_hop_limit=64, flags=0xC0, router_lifetime=1800, reachable_time=30000,
                       retrans_timer=1000,
                       options=[("src_lladdr", MAC_ROUTER), ("mtu", 1500),
                                ("prefix_info", (64, 0xC0, 86400, 14400, "fd00:18::"))]),
              src=MAC_ROUTER, dst="33:33:00:00:00:01"),
        ether(v6(V6_A, SOLICITED_B, hlim=255)
              / ICMPv6(type=135, target=V6_B, options=[("src_lladdr", MAC_A)]),
              dst="33:33:ff:00:00:02"),
        to_a(v6(V6_B, V6_A, hlim=255) / ICMPv6(type=136, flags=0x60, target=V6_B,
                                              options=[("tgt_lladdr", MAC_B)])),
        to_a(v6("::", SOLICITED_B, hlim=255) / ICMPv6(type=135, target=V6_B)),  # duplicate address detection
        to_a(v6(LL_ROUTER, V6_A, hlim=255)
             / ICMPv6(type=137, target=LL_B, dst=V6_FAR,
                      options=[("tgt_lladdr", MAC_B), ("redirected", quoted(probe, 48))]), **router_mac),
    ]
    return frames


# -- Ethernet and below IP ----------------------------------------------------------------------------
def link_frames() -> list[bytes]:
    return [
        ether(ARP(op=1, hwsrc=MAC_A, psrc=V4_A, pdst=V4_B), dst="ff:ff:ff:ff:ff:ff"),
        to_a(ARP(op=2, hwsrc=MAC_B, psrc=V4_B, hwdst=MAC_A, pdst=V4_A)),
        padded(ether(ARP(op=1, hwsrc=MAC_A, psrc=V4_A, pdst=V4_A), dst="ff:ff:ff:ff:ff:ff")),  # gratuitous
        ether(Dot1Q(vid=100, pcp=3) / v4() / UDP(sport=PORT_A, dport=UDP_PORT) / b"vlan 100"),
        ether(Dot1Q(vid=100) / ARP(op=1, hwsrc=MAC_A, psrc=V4_A, pdst=V4_B), dst="ff:ff:ff:ff:ff:ff"),
        ether(Dot1AD(vid=200, dei=1) / Dot1Q(vid=100) / v6() / ICMPv6(type=128, id=1, seq=1) / b"qinq"),
        ether(Dot1Q(vid=0, pcp=5) / v4() / ICMP(id=2, seq=1)),  # priority tag
        ether(v4() / UDP(sport=PORT_A, dport=UDP_PORT) / b"broadcast", dst="ff:ff:ff:ff:ff:ff"),
        bytes(Ether(dst="ff:ff:ff:ff:ff:ff", src=MAC_A, type=0x88B5) / payload(46)),  # experimental EtherType
    ]


def ethernet_capture() -> list[Frame]:
    return link_frames() + ipv4_frames() + ipv6_frames()


# -- other link types ---------------------------------------------------------------------------------
def ip_datagrams() -> list:
    """A few datagrams of each family, for the link types that carry bare IP."""
    return [
        v4() / ICMP(type=8, id=1, seq=1) / payload(16),
        v4(V4_B, V4_A) / ICMP(type=0, id=1, seq=1) / payload(16),
        v4(flags="DF") / TCP(sport=PORT_A, dport=PORT_B, seq=1, flags="S", options=[("MSS", 1460)]),
        v4(V4_B, V4_A) / TCP(sport=PORT_B, dport=PORT_A, seq=9, ack=2, flags="SA", options=[("MSS", 1460)]),
        v4() / UDP(sport=PORT_A, dport=UDP_PORT) / b"udp",
        v6() / ICMPv6(type=128, id=2, seq=1) / payload(16),
        v6(V6_B, V6_A) / ICMPv6(type=129, id=2, seq=1) / payload(16),
        v6() / TCP(sport=PORT_A, dport=PORT_B, seq=1, flags="S"),
        v6() / IPv6Fragment(offset=0, m=1, id=3) / UDP(sport=PORT_A, dport=UDP_PORT) / payload(16),
    ]


def raw_capture() -> list[Frame]:
    return [bytes(datagram) for datagram in ip_datagrams()]


def sll_capture(version: int) -> list[Frame]:
    """Cooked headers: host, broadcast, multicast, other host and outgoing packet types."""
    def cooked(pkttype: int, addr: str, ifindex: int = 2):
        if version == 1:
            return CookedLinux(pkttype=pkttype, addr=addr)
        return CookedLinuxV2(pkttype=pkttype, addr=addr, ifindex=ifindex)

    frames = [bytes(cooked(4 if index % 2 == 0 else 0, MAC_A if index % 2 == 0 else MAC_B) / datagram)
              for index, datagram in enumerate(ip_datagrams())]
    frames += [
        bytes(cooked(1, MAC_A) / ARP(op=1, hwsrc=MAC_A, psrc=V4_A, pdst=V4_B)),
        bytes(cooked(0, MAC_B) / ARP(op=2, hwsrc=MAC_B, psrc=V4_B, hwdst=MAC_A, pdst=V4_A)),
        bytes(cooked(2, MAC_ROUTER) / v6(LL_ROUTER, "ff02::1", hlim=255)
              / ICMPv6(type=134, options=[("src_lladdr", MAC_ROUTER)])),
        bytes(cooked(3, MAC_ROUTER, 3) / v4(V4_ROUTER, V4_FAR) / UDP(sport=PORT_A, dport=UDP_PORT)),
        bytes(cooked(4, "", 1) / v4("127.0.0.1", "127.0.0.1") / UDP(sport=PORT_A, dport=UDP_PORT) / b"lo"),
        bytes(cooked(0, MAC_B) / Dot1Q(vid=7) / v4() / UDP(sport=PORT_A, dport=UDP_PORT)),
    ]
    return frames


def loopback_capture(network_order: bool) -> list[Frame]:
    frames = []
    families = (2, 24, 28, 30)
    for index, datagram in enumerate(ip_datagrams()):
        family = 2 if datagram.layers[0].version == 4 else families[1 + index % 3]
        frames.append(bytes(Loopback(family=family, network_order=network_order) / datagram))
    return frames


# -- malformed ----------------------------------------------------------------------------------------
def malformed_capture() -> list[Frame]:
    """Each frame is broken in one way, named in its comment."""
    tcp_frame = ether(v4(id=0x1001) / TCP(sport=PORT_A, dport=PORT_B, seq=1, flags="S",
                                          options=[("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0))]))
    udp_frame = ether(v4() / UDP(sport=PORT_A, dport=UDP_PORT) / payload(20))
    ipv6_frame = ether(v6() / IPv6HopByHop(options=[(5, b"\x00\x00"), (0x1E, payload(8))])
                       / UDP(sport=PORT_A, dport=UDP_PORT) / payload(20))
    icmp_error = to_a(v4(V4_B, V4_A) / ICMP(type=3, code=3)
                      / quoted(v4() / UDP(sport=40001, dport=33434) / payload(8)))
    long_segment = ether(v4(id=5) / TCP(sport=PORT_A, dport=PORT_B, seq=1, ack=1, flags="PA") / payload(1460))
    frames: list[Frame] = [
        b"",  # empty record
        tcp_frame[:1],
        tcp_frame[:10],  # Ethernet header cut
        ether(Dot1Q(vid=100) / v4())[:16],  # VLAN tag cut
        ether(Dot1AD(vid=200) / Dot1Q(vid=100) / v4())[:20],  # inner VLAN tag cut
        ether(ARP(op=1, hwsrc=MAC_A, psrc=V4_A, pdst=V4_B))[:14 + 20],  # ARP addresses cut
        ether(ARP(op=1, hwlen=200, hwsrc=MAC_A, psrc=V4_A, pdst=V4_B)),  # ARP sizes lie
        tcp_frame[:14 + 12],  # IPv4 header cut
        ether(v4(options=[(7, b"\x04" + bytes(12))]) / UDP())[:14 + 28],  # IPv4 options cut
        ether(v4(ihl=3) / UDP(sport=PORT_A, dport=UDP_PORT)),  # IHL below 5
        ether(v4(ihl=15) / UDP(sport=PORT_A, dport=UDP_PORT)),  # IHL past the datagram
        ether(v4(version=5) / UDP(sport=PORT_A, dport=UDP_PORT)),  # wrong version
        # an IPv6 packet under EtherType IPv4
        bytes(Ether(dst=MAC_B, src=MAC_A, type=0x0800) / v6() / UDP(sport=PORT_A, dport=UDP_PORT)),
        ether(v4(len=400) / UDP(sport=PORT_A, dport=UDP_PORT) / b"short"),  # IP total length too big
        ether(v4(len=12) / UDP(sport=PORT_A, dport=UDP_PORT) / b"x"),  # IP total length below the header
        padded(ether(v4(len=26) / UDP(sport=PORT_A, dport=UDP_PORT, len=8))),  # total length cuts UDP
        ether(v4(options=[(7, b"")]) / UDP(sport=PORT_A, dport=UDP_PORT)),  # IPv4 option, length 2, no data
        ether(v4(options=b"\x07\x00\x00\x00") / UDP(sport=PORT_A, dport=UDP_PORT)),  # IPv4 option length 0
        ether(v4(options=b"\x44\x28\x05\x00") / UDP(sport=PORT_A, dport=UDP_PORT)),  # IPv4 option overruns
        tcp_frame[:14 + 20 + 10],  # TCP header cut
        tcp_frame[:14 + 20 + 24],  # TCP options cut
        ether(v4() / TCP(sport=PORT_A, dport=PORT_B, dataofs=15)),  # data offset past the end
        ether(v4() / TCP(sport=PORT_A, dport=PORT_B, dataofs=3) / payload(8)),  # data offset below 5
        ether(v4() / TCP(sport=PORT_A, dport=PORT_B, options=b"\x02\x00\x05\xb4")),  # TCP option length 0
        ether(v4() / TCP(sport=PORT_A, dport=PORT_B, options=b"\x08\x0a\x00\x00")),  # TCP option overruns
        ether(v4() / TCP(sport=PORT_A, dport=PORT_B, options=b"\x01\x01\x01\x02")),  # option without length
        ether(v4() / TCP(sport=PORT_A, dport=PORT_B, options=b"\x02\x03\x05\x00")),  # MSS of the wrong size
        # a SAck option with a 4-byte block
        ether(v4() / TCP(sport=PORT_A, dport=PORT_B, options=b"\x05\x06\x00\x00\x00\x01\x00\x00")),
        udp_frame[:14 + 20 + 4],  # UDP header cut
        ether(v4() / UDP(sport=PORT_A, dport=UDP_PORT, len=200) / b"short"),  # UDP length too big
        ether(v4() / UDP(sport=PORT_A, dport=UDP_PORT, len=4) / b"four"),  # UDP length below 8
        ether(v4() / UDP(sport=PORT_A, dport=UDP_PORT, len=10) / b"longer than it says"),  # UDP length short
        ether(v4(checksum=0xBEEF) / UDP(sport=PORT_A, dport=UDP_PORT) / b"bad ip checksum"),
        ether(v4() / TCP(sport=PORT_A, dport=PORT_B, checksum=0xBEEF) / b"bad tcp checksum"),
        ether(v4() / UDP(sport=PORT_A, dport=UDP_PORT, checksum=0xBEEF) / b"bad udp checksum"),
        ether(v4() / ICMP(type=8, id=1, seq=1, checksum=0xBEEF) / b"bad icmp checksum"),
        ether(v6() / ICMPv6(type=128, id=1, seq=1, checksum=0xBEEF) / b"bad icmpv6 checksum"),
        ether(v6() / UDP(sport=PORT_A, dport=UDP_PORT, checksum=0) / b"zero udp checksum over ipv6"),
        ether(v4() / ICMP(type=8))[:14 + 20 + 3],  # ICMP header cut
        icmp_error[:14 + 20 + 8 + 12],  # quoted datagram cut inside its IP header
        ether(v4(V4_B, V4_A) / ICMP(type=3, code=3) / quoted(v4(ihl=2) / UDP(), 28)),  # quoted IHL bad
        ipv6_frame[:14 + 30],  # IPv6 header cut
        ipv6_frame[:14 + 40 + 8],  # hop-by-hop header cut
        ether(v6(plen=500) / UDP(sport=PORT_A, dport=UDP_PORT) / b"short"),  # payload length too big
        ether(v6(plen=4) / UDP(sport=PORT_A, dport=UDP_PORT) / b"x"),  # payload length cuts UDP
        ether(v6() / IPv6Fragment(nh=17, offset=0, m=1, id=1))[:14 + 40 + 5],  # fragment header cut
        ether(v6() / IPv6HopByHop(options=b"\x05\x09\x00\x00")),  # hop-by-hop option overruns
        ether(v6(hlim=255) / ICMPv6(type=135, target=V6_B, options=b"\x01\x00\x02\x00\x00\x00\x00\x01")),
        ether(v6(hlim=255) / ICMPv6(type=136, target=V6_B, options=b"\x02\x02\x02\x00\x00\x00\x00\x02")),
        ether(v6() / ICMPv6(type=128))[:14 + 40 + 2],  # ICMPv6 header cut
        (long_segment[:54], len(long_segment)),  # snapped at 54 bytes, as `-s 54` records
        (long_segment[:14 + 20 + 8], len(long_segment)),  # snapped inside the TCP header
        (ipv6_frame[:14 + 44], len(ipv6_frame)),  # snapped inside the hop-by-hop header
    ]
    return frames


CAPTURES = {
    "ethernet.pcap": (LinkType.ETHERNET, ethernet_capture),
    "raw.pcap": (LinkType.RAW, raw_capture),
    "linux-sll.pcap": (LinkType.LINUX_SLL, lambda: sll_capture(1)),
    "linux-sll2.pcap": (LinkType.LINUX_SLL2, lambda: sll_capture(2)),
    "null.pcap": (LinkType.NULL, lambda: loopback_capture(False)),
    "loop.pcap": (LinkType.LOOP, lambda: loopback_capture(True)),
    "malformed.pcap": (LinkType.ETHERNET, malformed_capture),
}


def write_capture(path: Path, linktype: int, frames: list[Frame]) -> None:
    with PcapWriter(path, linktype=linktype, snaplen=SNAPLEN, nanosecond=False) as writer:
        for index, frame in enumerate(frames):
            data, wirelen = frame if isinstance(frame, tuple) else (frame, None)
            writer.write(data, ts_ns=START_NS + index * STEP_NS, wirelen=wirelen)


def generate(output_dir: Path) -> list[Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (linktype, make) in CAPTURES.items():
        path = output_dir / name
        write_capture(path, linktype, make())
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path,
                        default=Path(__file__).resolve().parent.parent / "captures" / "crafted")
    args = parser.parse_args(argv)
    for path in generate(args.output_dir):
        print(f"{path}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

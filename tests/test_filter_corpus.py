"""Frames and captures for the filter tests: a varied mix built with rawkit's own builders, written
as pcap files per link type, plus a tiny pcap reader/writer (so these tests do not wait for
rawkit.pcap). Imported by the other test_filter* modules; holds no tests itself."""

from __future__ import annotations

import gzip
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from rawkit import (
    ARP,
    ICMP,
    RARP,
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
    Loopback,
    Raw,
)

A, B, C = "198.18.0.1", "198.18.0.2", "198.19.7.9"
A6, B6 = "fd00:18::1", "fd00:18::2"
MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"
Record = tuple[bytes, int]  # (captured bytes, length on the wire)


def network_packets() -> list[tuple[bytes, int]]:
    """(network-layer packet, EtherType) pairs covering what the filter language can test."""
    packets = []

    def add(chain, ethertype: int = 0x0800) -> None:
        packets.append((bytes(chain), ethertype))

    flag_sets = ("S", "SA", "A", "PA", "FA", "R", "RA", "U", "E", "C", "SEC", "FPU")
    for index, flags in enumerate(flag_sets):
        sport, dport = (1234 + index, (80, 443, 22, 8080, 53, 7000)[index % 6])
        add(IPv4(src=A, dst=B, id=index) / TCP(sport=sport, dport=dport, flags=flags) / (b"x" * index))
        add(IPv4(src=B, dst=A, ttl=3) / TCP(sport=dport, dport=sport, flags=flags))
    add(IPv4(src=A, dst=C, options=[(7, b"\x04" + b"\x00" * 8)]) / TCP(sport=40000, dport=80, flags="S"))
    router_alert = [(148, b"\x00\x00")]
    add(IPv4(src="10.1.2.3", dst="10.200.0.1", options=router_alert) / UDP(sport=5353, dport=53) / b"q")
    add(IPv4(src=A, dst=B, flags="MF", id=77) / UDP(sport=999, dport=53) / (b"f" * 40))
    add(IPv4(src=A, dst=B, frag=5, id=77, proto=17) / (b"\x00\x35\x00\x35" + b"g" * 20))
    add(IPv4(src=A, dst=B, frag=3, id=78, proto=6) / (b"\x00\x50\x00\x50" + b"h" * 30))
    add(IPv4(src=A, dst=B, proto=132) / (b"\x0b\xb8\x00\x50" + b"\x00" * 12))
    add(IPv4(src=C, dst=A) / UDP(sport=53, dport=33000) / (b"r" * 60))
    add(IPv4(src=A, dst=B) / UDP(sport=20, dport=21) / b"")
    add(IPv4(src="127.0.0.1", dst="127.0.0.1") / TCP(sport=5000, dport=6000, flags="PA") / b"local")
    add(IPv4(src="1.2.3.4", dst="10.0.0.9") / UDP(sport=9, dport=15) / b"")
    for icmp_type, code in ((8, 0), (0, 0), (3, 3), (11, 0), (5, 1), (13, 0)):
        add(IPv4(src=A, dst=B) / ICMP(type=icmp_type, code=code, id=7, seq=icmp_type) / b"ping")
    add(IPv4(src=A, dst="224.0.0.1", proto=2) / b"\x11\x64\xee\x9b\x00\x00\x00\x00")
    add(IPv4(src=A, dst="255.255.255.255") / UDP(sport=68, dport=67) / (b"\x00" * 30))
    add(IPv4(src=A, dst="0.0.0.0") / UDP(sport=1, dport=2))
    add(IPv4(src=A, dst="239.1.2.3") / UDP(sport=5000, dport=5001) / b"m")
    add(IPv4(src=A, dst=B, proto=89) / (b"\x02" * 24))
    add(IPv4(src=A, dst=B, ihl=4, proto=6) / TCP(sport=1, dport=2))
    add(IPv4(src=A, dst=B, len=2000) / TCP(sport=3, dport=4))
    # IPv6, with and without extension headers
    add(IPv6(src=A6, dst=B6) / TCP(sport=1111, dport=80, flags="S"), 0x86DD)
    add(IPv6(src=B6, dst=A6) / TCP(sport=80, dport=1111, flags="SA") / b"x", 0x86DD)
    add(IPv6(src=A6, dst=B6, tc=0x5A) / TCP(sport=22, dport=5555, flags="PA") / b"ssh", 0x86DD)
    add(IPv6(src=A6, dst=B6) / UDP(sport=5353, dport=53) / b"dns", 0x86DD)
    add(IPv6(src="fd00:18:0:1::7", dst="fd00:19::1") / UDP(sport=443, dport=443) / b"quic", 0x86DD)
    add(IPv6(src="::1", dst="::1") / TCP(sport=6000, dport=5000, flags="A"), 0x86DD)
    add(IPv6(src=A6, dst=B6) / ICMPv6(type=128, id=1, seq=1) / b"ping6", 0x86DD)
    add(IPv6(src=B6, dst=A6) / ICMPv6(type=129, id=1, seq=1) / b"ping6", 0x86DD)
    add(IPv6(src=A6, dst="ff02::1:ff00:2", hlim=255) / ICMPv6(type=135, target=B6), 0x86DD)
    add(IPv6(src=B6, dst=A6, hlim=255) / ICMPv6(type=136, target=B6, flags=0x60), 0x86DD)
    add(IPv6(src="fe80::1", dst="ff02::1", hlim=255) / ICMPv6(type=134), 0x86DD)
    add(IPv6(src=A6, dst=B6) / ICMPv6(type=1, code=4) / (b"\x00" * 48), 0x86DD)
    add(IPv6(src=A6, dst="ff02::16") / IPv6HopByHop(options=[(5, b"\x00\x00")]) / ICMPv6(type=143), 0x86DD)
    add(IPv6(src=A6, dst=B6) / IPv6Fragment(id=9, m=1) / TCP(sport=7, dport=80) / b"frag", 0x86DD)
    add(IPv6(src=A6, dst=B6) / IPv6Fragment(id=9, offset=4) / UDP(sport=53, dport=53), 0x86DD)
    add(IPv6(src=A6, dst=B6) / IPv6Fragment(id=10) / ICMPv6(type=128), 0x86DD)
    padding = [(1, b"\x00\x00\x00\x00")]
    add(IPv6(src=A6, dst=B6) / IPv6DestOpts(options=padding) / UDP(sport=9, dport=9), 0x86DD)
    add(IPv6(src=A6, dst=B6) / IPv6Routing(addresses=("fd00:18::9",)) / TCP(sport=8, dport=443), 0x86DD)
    add(IPv6(src=A6, dst=B6, nh=132) / (b"\x0b\xb8\x00\x50" + b"\x00" * 12), 0x86DD)
    add(IPv6(src=A6, dst=B6) / IPv4(src=A, dst=B) / UDP(sport=1, dport=2), 0x86DD)
    # ARP and RARP
    add(ARP(op=1, hwsrc=MAC_A, psrc=A, pdst=B), 0x0806)
    add(ARP(op=2, hwsrc=MAC_B, psrc=B, hwdst=MAC_A, pdst=A), 0x0806)
    add(ARP(op=1, hwsrc=MAC_A, psrc="10.1.2.3", pdst="10.1.2.4"), 0x0806)
    add(RARP(op=3, hwsrc=MAC_A, hwdst=MAC_A), 0x8035)
    return packets


LLC_PAYLOADS = [  # 802.2 LLC and SNAP payloads: ISO, IP SAP, NetBEUI, IPX (LLC, SNAP, raw), AppleTalk, AARP
    b"\xfe\xfe\x03" + bytes(30), b"\x06\x06\x03" + bytes(30), b"\xf0\xf0\x03" + bytes(30),
    b"\xe0\xe0\x03" + bytes(30), b"\xaa\xaa\x03\x00\x00\x00\x81\x37" + bytes(30), b"\xff\xff" + bytes(30),
    b"\xaa\xaa\x03\x08\x00\x07\x80\x9b" + bytes(30), b"\xaa\xaa\x03\x00\x00\x00\x80\xf3" + bytes(30),
    b"\x06\x07\x03" + bytes(30),
]


def ethernet_frames() -> list[Record]:
    frames: list[Record] = []
    packets = network_packets()
    for index, (packet, ethertype) in enumerate(packets):
        destination = (MAC_B, BROADCAST_MAC, "01:00:5e:00:00:01", "33:33:00:00:00:01")[index % 4]
        frames.append(_whole(bytes(Ether(dst=destination, src=MAC_A, type=ethertype) / Raw(load=packet))))
    picks = packets[::5]
    for index, (packet, ethertype) in enumerate(picks):
        tag = Dot1Q(vid=(10, 20, 4095, 0)[index % 4], pcp=index % 8, type=ethertype)
        frames.append(_whole(bytes(Ether(dst=MAC_B, src=MAC_A) / tag / Raw(load=packet))))
    for index, (packet, ethertype) in enumerate(packets[1::7]):
        outer = Dot1AD(vid=100 + index, type=0x8100)
        inner = Dot1Q(vid=10 + index % 3, type=ethertype)
        frames.append(_whole(bytes(Ether(dst=MAC_A, src=MAC_B) / outer / inner / Raw(load=packet))))
    old_qinq = Ether(dst=MAC_A, src=MAC_B, type=0x9100) / Dot1Q(vid=5, type=0x0800) / Raw(load=packets[0][0])
    frames.append(_whole(bytes(old_qinq)))
    # 802.3 length field + LLC (spanning tree) and an unknown EtherType
    stp = bytes(Ether(dst="01:80:c2:00:00:00", src=MAC_A, type=38)) + b"\x42\x42\x03" + bytes(35)
    frames.append(_whole(stp))
    frames.append(_whole(bytes(Ether(dst=MAC_B, src=MAC_A, type=100)) + b"\x64\x64\x03" + bytes(40)))
    frames.append(_whole(bytes(Ether(dst=MAC_B, src=MAC_A, type=0x88CC)) + bytes(30)))
    for payload in LLC_PAYLOADS:
        frames.append(_whole(bytes(Ether(dst=MAC_B, src=MAC_A, type=len(payload))) + payload))
    for ethertype in (0x8137, 0x809B, 0x80F3):
        frames.append(_whole(bytes(Ether(dst=MAC_B, src=MAC_A, type=ethertype)) + bytes(30)))
    # truncated by the snapshot length, and runts
    for packet, ethertype in packets[:40:4]:
        frame = bytes(Ether(dst=MAC_B, src=MAC_A, type=ethertype) / Raw(load=packet))
        frames.append((frame[:38], len(frame)))
        frames.append((frame[:54], len(frame)))
    frames.append((bytes.fromhex("ffffffffffff02"), 60))
    frames.append((bytes.fromhex("0200000000 0b 0200000000 0a 08"), 14))
    return frames


def cooked_frames(version: int) -> list[Record]:
    frames = []
    for index, (packet, ethertype) in enumerate(network_packets()):
        if version == 1:
            header = CookedLinux(pkttype=index % 5, addr=MAC_A, protocol=ethertype)
        else:
            header = CookedLinuxV2(pkttype=index % 5, addr=MAC_A, protocol=ethertype, ifindex=index)
        frames.append(_whole(bytes(header / Raw(load=packet))))
    frames.append(_whole(bytes(CookedLinux(protocol=4) if version == 1 else CookedLinuxV2(protocol=4))
                         + b"\x42\x42\x03" + bytes(20)))
    others = [(1, b"\xff\xff" + bytes(30)), (0x8137, bytes(30)), (0x809B, bytes(30))]
    for protocol, payload in [(4, payload) for payload in LLC_PAYLOADS] + others:
        header = CookedLinux(protocol=protocol) if version == 1 else CookedLinuxV2(protocol=protocol)
        frames.append(_whole(bytes(header) + payload))
    return frames


def single_protocol_frames(ethertype: int) -> list[Record]:
    """LINKTYPE_IPV4 / LINKTYPE_IPV6 captures: bare packets of one IP version."""
    return [_whole(packet) for packet, carried in network_packets() if carried == ethertype]


def raw_frames() -> list[Record]:
    frames = [_whole(packet) for packet, ethertype in network_packets() if ethertype in (0x0800, 0x86DD)]
    frames.append((frames[0][0][:20], len(frames[0][0])))
    return frames


def loopback_frames(network_order: bool) -> list[Record]:
    frames = []
    for index, (packet, ethertype) in enumerate(network_packets()):
        if ethertype == 0x0800:
            family = 2
        elif ethertype == 0x86DD:
            family = (24, 28, 30, 10)[index % 4]
        else:
            continue
        frames.append(_whole(bytes(Loopback(family=family, network_order=network_order) / Raw(load=packet))))
    return frames


def _whole(frame: bytes) -> Record:
    return frame, len(frame)


GENERATED = {
    "ethernet": (1, ethernet_frames),
    "raw": (101, raw_frames),
    "sll": (113, lambda: cooked_frames(1)),
    "sll2": (276, lambda: cooked_frames(2)),
    "null": (0, lambda: loopback_frames(False)),
    "loop": (108, lambda: loopback_frames(True)),
    "ipv4": (228, lambda: single_protocol_frames(0x0800)),
    "ipv6": (229, lambda: single_protocol_frames(0x86DD)),
}


def write_pcap(path: Path, linktype: int, records: list[Record]) -> None:
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for index, (data, wirelen) in enumerate(records):
            out.write(struct.pack("<IIII", 1_700_000_000 + index, index, len(data), wirelen) + data)


def read_pcap(data: bytes) -> tuple[int, list[Record]]:
    """(linktype, records) of a classic pcap held in memory (either byte order, usec or nsec)."""
    magic = data[:4]
    order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack_from(order + "I", data, 20)[0] & 0x0FFFFFFF
    records = []
    offset = 24
    while offset + 16 <= len(data):
        _, _, caplen, wirelen = struct.unpack_from(order + "IIII", data, offset)
        offset += 16
        records.append((data[offset : offset + caplen], wirelen))
        offset += caplen
    return linktype, records


def read_capture(path: Path, limit: int) -> tuple[int, list[Record]] | None:
    """Up to `limit` records of a pcap or pcapng file (first interface's link type), or None."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error):
            return None
    if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        if len(raw) < 24:
            return None
        linktype, records = read_pcap(raw)
        return linktype, records[:limit]
    if raw[:4] != b"\x0a\x0d\x0d\x0a":
        return None
    try:
        return _read_pcapng(raw, limit)
    except struct.error:  # a damaged block: the rawkit.pcap tests cover those files
        return None


def _read_pcapng(raw: bytes, limit: int) -> tuple[int, list[Record]] | None:
    interfaces: list[int] = []
    records: list[Record] = []
    order = "<"
    for kind, body in _pcapng_blocks(raw):
        if kind == 0x0A0D0D0A:
            order = "<" if body[:4] == b"\x4d\x3c\x2b\x1a" else ">"
            interfaces = []
        elif kind == 1:
            interfaces.append(struct.unpack_from(order + "H", body, 0)[0])
        elif kind == 6 and len(records) < limit:
            interface, _, _, caplen, wirelen = struct.unpack_from(order + "IIIII", body, 0)
            if interface == 0:
                records.append((body[20 : 20 + caplen], wirelen))
        elif kind == 3 and len(records) < limit:
            wirelen = struct.unpack_from(order + "I", body, 0)[0]
            records.append((body[4 : 4 + wirelen], wirelen))
    return (interfaces[0], records) if interfaces else None


def _pcapng_blocks(raw: bytes) -> Iterator[tuple[int, bytes]]:
    offset = 0
    order = "<"
    while offset + 12 <= len(raw):
        kind = struct.unpack_from("<I", raw, offset)[0]
        if kind == 0x0A0D0D0A:
            order = "<" if raw[offset + 8 : offset + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        length = struct.unpack_from(order + "I", raw, offset + 4)[0]
        if length < 12 or offset + length > len(raw):
            return
        yield struct.unpack_from(order + "I", raw, offset)[0], raw[offset + 8 : offset + length - 4]
        offset += length

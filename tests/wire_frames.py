"""Frames for the wire-layer tests: a seeded corpus over every link type and protocol feature rawkit
decodes (built with rawkit's builders and with scapy), plus small pcap read/write helpers.

The corpus stands in for the bundled captures while they are being made, and stays as an extra
test afterwards: it reaches corners (bad checksums, odd options, every link type) on purpose.
"""

from __future__ import annotations

import gzip
import random
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import rawkit
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
    Padding,
)


class Frame(NamedTuple):
    data: bytes
    linktype: int
    wirelen: int


LINK_TYPES = (0, 1, 12, 101, 108, 113, 228, 229, 276)


def _rand_ip4(rng: random.Random) -> str:
    return f"198.{rng.choice((18, 19))}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _rand_ip6(rng: random.Random) -> str:
    return f"fd00:18::{rng.randrange(1, 0xFFFF):x}:{rng.randrange(0xFFFF):x}"


def _rand_mac(rng: random.Random) -> str:
    return "02:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(5))


def _tcp_options(rng: random.Random) -> list:
    choices = [
        ("MSS", rng.randrange(65536)), ("WScale", rng.randrange(15)), ("SAckOK", b""),
        ("Timestamp", (rng.getrandbits(32), rng.getrandbits(32))), ("NOP", None),
        ("SAck", tuple((rng.getrandbits(32), rng.getrandbits(32)) for _ in range(rng.randrange(1, 4)))),
    ]
    options = rng.sample(choices, rng.randrange(0, len(choices) + 1))
    size = len(rawkit.wire.tcp_options.encode(options))
    while size > 40:
        options.pop()
        size = len(rawkit.wire.tcp_options.encode(options))
    return options


def _transport4(rng: random.Random, src: str, dst: str):
    """A TCP, UDP or ICMP layer (with payload) to carry over IPv4."""
    kind = rng.randrange(10)
    payload = rng.randbytes(rng.choice((0, 0, 1, 7, 64, 300)))
    if kind < 5:
        flags = rng.choice(("S", "SA", "A", "PA", "FA", "R", "RA", "SEC", "AU", "FPU", "N", "SAE", ""))
        checksum = rng.randrange(65536) if rng.random() < 0.1 else None
        return TCP(sport=rng.randrange(65536), dport=rng.randrange(65536), seq=rng.getrandbits(32),
                   ack=rng.getrandbits(32), flags=flags, window=rng.randrange(65536),
                   urgptr=rng.randrange(65536) if "U" in flags else 0, options=_tcp_options(rng),
                   checksum=checksum) / payload
    if kind < 8:
        checksum = rng.choice((None,) * 8 + (0, rng.randrange(1, 65536)))
        return UDP(sport=rng.randrange(65536), dport=rng.randrange(65536), checksum=checksum) / payload
    if kind == 8:
        kind = rng.choice((0, 8, 13, 14))
        checksum = rng.randrange(65536) if rng.random() < 0.1 else None
        body = payload if kind in (0, 8) else rng.randbytes(12)
        return ICMP(type=kind, id=rng.randrange(65536), seq=rng.randrange(65536), checksum=checksum) / body
    # an ICMP error quoting a datagram (whole, or cut after 8 bytes of transport header)
    inner = IPv4(src=dst, dst=src, ttl=rng.randrange(1, 255), id=rng.randrange(65536)) / (
        UDP(sport=rng.randrange(65536), dport=rng.randrange(65536)) / rng.randbytes(12) if rng.random() < 0.5
        else TCP(sport=rng.randrange(65536), dport=rng.randrange(65536), seq=rng.getrandbits(32), flags="S"))
    quoted = bytes(inner)
    if rng.random() < 0.6:
        quoted = quoted[:28]
    error = rng.choice(((3, rng.randrange(16)), (11, rng.randrange(2)), (12, 0), (5, 1), (4, 0)))
    return ICMP(type=error[0], code=error[1], gateway=_rand_ip4(rng), mtu=rng.randrange(68, 1500),
                pointer=rng.randrange(20)) / quoted


def _ip4(rng: random.Random):
    src, dst = _rand_ip4(rng), _rand_ip4(rng)
    options = b""
    if rng.random() < 0.1:
        options = rng.choice((
            [(148, b"\x00\x00")],  # router alert
            [(7, bytes([4]) + bytes(8))],  # record route, room for two
            [(1, b""), (68, bytes([5, 0]) + bytes(8))],  # NOP, timestamp
        ))
    header = IPv4(src=src, dst=dst, ttl=rng.randrange(256), id=rng.randrange(65536), tos=rng.randrange(256),
                  flags=rng.choice((0, 2, 2, 2)), options=options,
                  checksum=rng.randrange(65536) if rng.random() < 0.05 else None)
    if rng.random() < 0.08:  # fragments: a first one (MF) or a later one
        header.flags = 1 if rng.random() < 0.5 else rng.choice((0, 1))
        header.frag = 0 if header.flags == 1 and rng.random() < 0.5 else rng.randrange(1, 8191)
        return header / TCP(sport=rng.randrange(65536), dport=80) / rng.randbytes(40)
    return header / _transport4(rng, src, dst)


def _ip6(rng: random.Random):
    src, dst = _rand_ip6(rng), _rand_ip6(rng)
    header = IPv6(src=src, dst=dst, hlim=rng.randrange(256), tc=rng.randrange(256), fl=rng.getrandbits(20))
    chain = header
    if rng.random() < 0.3:
        chosen = rng.sample(("hbh", "dst", "rt", "frag"), rng.randrange(1, 3))
        for ext in sorted(chosen, key=lambda name: name != "hbh"):  # hop-by-hop must come first (RFC 8200)
            if ext == "hbh":
                chain = chain / IPv6HopByHop(options=[(5, b"\x00\x00")])
            elif ext == "dst":
                chain = chain / IPv6DestOpts(options=[(1, bytes(rng.randrange(8)))])
            elif ext == "rt":
                chain = chain / IPv6Routing(type=rng.choice((0, 4)), segleft=0,
                                            addresses=[_rand_ip6(rng) for _ in range(rng.randrange(1, 3))])
            else:
                chain = chain / IPv6Fragment(offset=0, m=0, id=rng.getrandbits(32))
    kind = rng.randrange(8)
    payload = rng.randbytes(rng.choice((0, 5, 100)))
    if kind < 3:
        top = TCP(sport=rng.randrange(65536), dport=rng.randrange(65536), seq=rng.getrandbits(32),
                  ack=rng.getrandbits(32), flags=rng.choice(("S", "SA", "PA", "A")),
                  options=_tcp_options(rng),
                  checksum=rng.randrange(65536) if rng.random() < 0.1 else None) / payload
    elif kind < 5:
        top = UDP(sport=rng.randrange(65536), dport=rng.randrange(65536),
                  checksum=rng.randrange(1, 65536) if rng.random() < 0.1 else None) / payload
    elif kind == 5:
        top = ICMPv6(type=rng.choice((128, 129)), id=rng.randrange(65536), seq=rng.randrange(65536)) / payload
    elif kind == 6:
        nd = rng.choice((133, 134, 135, 136))
        options = [("src_lladdr", _rand_mac(rng))]
        if nd == 134:
            options += [("mtu", 1500), ("prefix_info", (64, 0xC0, 86400, 14400, "fd00:18::"))]
        top = ICMPv6(type=nd, target=_rand_ip6(rng), flags=rng.choice((0, 0x40, 0x60, 0xE0)), options=options)
    else:
        quoted = bytes(IPv6(src=dst, dst=src) / UDP(sport=rng.randrange(65536), dport=33434) / bytes(20))
        top = ICMPv6(type=rng.choice((1, 2, 3, 4)), code=rng.randrange(2), mtu=1280) / quoted
    if rng.random() < 0.05:  # a later IPv6 fragment: no transport header to decode
        return header / IPv6Fragment(offset=rng.randrange(1, 8191), m=1, id=rng.getrandbits(32)) / payload
    return chain / top


def _network(rng: random.Random):
    roll = rng.random()
    if roll < 0.6:
        return _ip4(rng)
    if roll < 0.9:
        return _ip6(rng)
    kind = ARP if roll < 0.97 else RARP
    return kind(op=rng.choice((1, 2)) if kind is ARP else rng.choice((3, 4)), hwsrc=_rand_mac(rng),
                hwdst=_rand_mac(rng), psrc=_rand_ip4(rng), pdst=_rand_ip4(rng))


def _link(rng: random.Random, linktype: int, network) -> bytes:
    if linktype == 1:
        link = Ether(src=_rand_mac(rng), dst=_rand_mac(rng))
        roll = rng.random()
        if roll < 0.15:
            link = link / Dot1Q(vid=rng.randrange(4096), pcp=rng.randrange(8))
        elif roll < 0.2:
            link = link / Dot1AD(vid=rng.randrange(4096)) / Dot1Q(vid=rng.randrange(4096))
        frame = bytes(link / network)
        return frame + bytes(max(0, 60 - len(frame)))  # minimum-size padding, as on the wire
    first = network.layers[0] if isinstance(network, rawkit.Chain) else network
    if isinstance(first, ARP) and linktype not in (113, 276):
        network = _ip4(rng)  # no ARP on IP-only link types
        first = network.layers[0]
    if linktype in (0, 108):
        family = rng.choice((None, None, 10, 28, 30)) if isinstance(first, IPv6) else None
        return bytes(Loopback(network_order=linktype == 108, family=family) / network)
    if linktype == 113:
        return bytes(CookedLinux(pkttype=rng.randrange(5), addr=_rand_mac(rng)) / network)
    if linktype == 276:
        return bytes(CookedLinuxV2(pkttype=rng.randrange(5), ifindex=rng.randrange(1, 100),
                                   addr=_rand_mac(rng)) / network)
    if linktype == 228:
        return bytes(_ip4(rng))
    if linktype == 229:
        return bytes(_ip6(rng))
    return bytes(network)


def corpus(count: int = 1500, seed: int = 1) -> list[Frame]:
    """`count` valid frames spread over every link type, a few of them cut short by a snap length."""
    rng = random.Random(seed)
    frames = []
    for index in range(count):
        linktype = 1 if index % 2 else LINK_TYPES[index // 2 % len(LINK_TYPES)]
        data = _link(rng, linktype, _network(rng))
        if rng.random() < 0.05 and len(data) > 40:
            frames.append(Frame(data[: rng.randrange(34, len(data))], linktype, len(data)))
        else:
            frames.append(Frame(data, linktype, len(data)))
    frames.extend(scapy_frames())
    frames.append(_negative_zero_checksum())
    ip = IPv4(src="198.18.0.1", dst="198.18.0.2")
    arp = ARP(psrc="198.18.0.1", pdst="198.18.0.2")
    for layers in (Ether(type=0x9100) / Dot1Q(vid=33) / ip / UDP() / b"x",  # an old-style QinQ TPID
                   Ether() / Dot1AD(vid=1) / Dot1Q(vid=2) / Dot1Q(vid=3) / arp):  # three tags
        data = padded(layers)
        frames.append(Frame(data, 1, len(data)))
    return frames


def _negative_zero_checksum() -> Frame:
    """A TCP segment whose checksum computes to 0x0000 but carries 0xffff, the other ones'-complement
    zero (Linux sent such segments in the lab capture; receivers accept them)."""
    layers = Ether() / IPv4(src="198.18.0.1", dst="198.18.0.2") / TCP(sport=80, dport=54824, flags="A")
    computed = bytes(layers / b"\x00\x00")[14 + 36 : 14 + 38]  # its checksum field, payload word zero
    data = bytes(Ether() / IPv4(src="198.18.0.1", dst="198.18.0.2")
                 / TCP(sport=80, dport=54824, flags="A", checksum=0xFFFF) / computed)
    data += bytes(60 - len(data))
    return Frame(data, 1, len(data))


def scapy_frames() -> list[Frame]:
    """Frames scapy builds (so the corpus does not only hold what rawkit's own builders make)."""
    from scapy.layers.inet import ICMP as SICMP
    from scapy.layers.inet import IP
    from scapy.layers.inet import TCP as STCP
    from scapy.layers.inet import UDP as SUDP
    from scapy.layers.inet6 import (
        ICMPv6EchoRequest,
        ICMPv6ND_NS,
        ICMPv6NDOptSrcLLAddr,
        IPv6ExtHdrFragment,
        IPv6ExtHdrHopByHop,
        RouterAlert,
    )
    from scapy.layers.inet6 import IPv6 as SIPv6
    from scapy.layers.l2 import ARP as SARP
    from scapy.layers.l2 import Dot1Q as SDot1Q
    from scapy.layers.l2 import Ether as SEther

    ether = SEther(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    built = [
        ether / IP(src="198.18.0.1", dst="198.18.0.2", options=b"\x94\x04\x00\x00")
        / STCP(sport=1234, dport=80, flags="SE", options=[("MSS", 1460), ("SAckOK", b""),
                                                           ("Timestamp", (1, 0)), ("NOP", None),
                                                           ("WScale", 7)]),
        ether / SDot1Q(vlan=42) / IP(src="198.18.0.1", dst="198.18.0.2") / SUDP(sport=53, dport=5353) / b"q",
        ether / IP(src="198.18.0.1", dst="198.18.0.2", flags="MF", frag=0) / STCP() / (b"x" * 40),
        ether / IP(src="198.18.0.1", dst="198.18.0.2", frag=5) / (b"y" * 40),
        ether / IP(src="198.18.0.1", dst="198.18.0.2") / SICMP(type=3, code=4, nexthopmtu=1400)
        / IP(src="198.18.0.2", dst="198.18.0.1") / SUDP(sport=9, dport=10),
        ether / SARP(op=2, psrc="198.18.0.1", pdst="198.18.0.2", hwsrc="02:00:00:00:00:01"),
        ether / SIPv6(src="fd00:18::1", dst="fd00:18::2") / IPv6ExtHdrHopByHop(options=[RouterAlert()])
        / ICMPv6EchoRequest(id=5, seq=6, data=b"ping"),
        ether / SIPv6(src="fd00:18::1", dst="ff02::1:ff00:2") / ICMPv6ND_NS(tgt="fd00:18::2")
        / ICMPv6NDOptSrcLLAddr(lladdr="02:00:00:00:00:01"),
        ether / SIPv6(src="fd00:18::1", dst="fd00:18::2") / IPv6ExtHdrFragment(m=1, id=77) / SUDP()
        / bytes(30),
    ]
    frames = []
    for packet in built:
        data = bytes(packet)
        data += bytes(max(0, 60 - len(data)))
        frames.append(Frame(data, 1, len(data)))
    return frames


def padded(layers) -> bytes:
    """Build and pad to the Ethernet minimum, as a NIC would."""
    data = bytes(layers)
    return bytes(layers / Padding(load=bytes(60 - len(data)))) if len(data) < 60 else data


# --- pcap files ------------------------------------------------------------------------------------

def write_pcap(path: Path, linktype: int, frames: list[Frame]) -> None:
    """A classic little-endian microsecond pcap file; every frame keeps its own wire length."""
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype))
        for index, frame in enumerate(frames):
            out.write(struct.pack("<IIII", 1_700_000_000, index, len(frame.data), frame.wirelen))
            out.write(frame.data)


def read_capture(path: Path) -> Iterator[rawkit.Packet]:
    """Every packet of a capture as a rawkit Packet: rawkit.pcap once it reads files; until then a
    minimal classic-pcap reader here (wire lengths kept), dpkt for pcapng."""
    try:
        from rawkit.pcap import open_capture
    except ImportError:
        open_capture = None
    if open_capture is not None:
        with open_capture(path) as capture:
            yield from capture
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if raw[:4] == b"\x0a\x0d\x0d\x0a":
        import io

        import dpkt

        reader = dpkt.pcapng.Reader(io.BytesIO(raw))
        for ts, data in reader:
            yield rawkit.decode(bytes(data), reader.datalink(), int(ts * 1e9), None)
        return
    order = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = raw[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack_from(order + "I", raw, 20)[0] & 0x0FFFFFFF
    record = struct.Struct(order + "IIII")
    offset = 24
    while offset + 16 <= len(raw):
        seconds, fraction, caplen, wirelen = record.unpack_from(raw, offset)
        data = raw[offset + 16 : offset + 16 + caplen]
        if len(data) < caplen:
            return
        offset += 16 + caplen
        yield rawkit.decode(data, linktype, seconds * 10**9 + fraction * (1 if nano else 1000), wirelen)

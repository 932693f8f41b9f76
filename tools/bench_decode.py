"""Decode speed of rawkit against dpkt and scapy, measured in the same run on the same frames.

Every packet is decoded to L4 and the same fields are read from each library: source and
destination addresses as text, ports, TCP flags and sequence number, payload length. Reading the
file is not timed: all three decode one in-memory list of frames.

    python3 tools/bench_decode.py /tmp/rawkit-bench.pcap
    python3 tools/bench_decode.py --synthesize 200000 /tmp/rawkit-synthetic.pcap   # make one first

Targets (issue 3): rawkit >= 5x dpkt and >= 20x scapy.
"""

from __future__ import annotations

import argparse
import random
import socket
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

import dpkt

import rawkit

Frames = list[bytes]


def read_frames(path: Path) -> tuple[Frames, int]:
    """Frames and link type of a pcap or pcapng file (dpkt reads it; not part of the timing)."""
    with path.open("rb") as handle:
        magic = handle.read(4)
        handle.seek(0)
        reader = dpkt.pcapng.Reader(handle) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(handle)
        frames = [bytes(data) for _, data in reader]
        return frames, reader.datalink()


# Each pass reads the same fields into locals (the cheapest way Python has to "touch" a value, so the
# harness dilutes the ratios as little as it can). With a `sink` list it also records them, once,
# untimed, so main() can check that all three libraries read the same values.

def rawkit_pass(frames: Frames, linktype: int, sink: list | None = None) -> None:
    decode = rawkit.decode
    for data in frames:
        pkt = decode(data, linktype)
        ip = pkt.ip
        if ip is None:
            continue
        src, dst = ip.src, ip.dst
        sport = dport = flags = seq = None
        tcp = pkt.tcp
        if tcp is not None:
            sport, dport, flags, seq = tcp.sport, tcp.dport, tcp.flags, tcp.seq
        else:
            udp = pkt.udp
            if udp is not None:
                sport, dport = udp.sport, udp.dport
        size = len(pkt.payload)
        if sink is not None:
            sink.append((src, dst, sport, dport, flags, seq, size))


def dpkt_pass(frames: Frames, linktype: int, sink: list | None = None) -> None:
    ntop, af_inet, af_inet6 = socket.inet_ntop, socket.AF_INET, socket.AF_INET6
    ethernet, raw_ip = dpkt.ethernet.Ethernet, dpkt.ip.IP
    ip_classes = (dpkt.ip.IP, dpkt.ip6.IP6)
    tcp_class, udp_class = dpkt.tcp.TCP, dpkt.udp.UDP
    errors = (dpkt.UnpackError, IndexError, ValueError, struct.error)
    for data in frames:
        try:
            ip = ethernet(data).data if linktype == 1 else raw_ip(data)
        except errors:
            continue
        if not isinstance(ip, ip_classes):
            continue
        family = af_inet if len(ip.src) == 4 else af_inet6
        src, dst = ntop(family, ip.src), ntop(family, ip.dst)
        sport = dport = flags = seq = None
        l4 = ip.data
        if isinstance(l4, tcp_class):
            sport, dport, flags, seq = l4.sport, l4.dport, l4.flags, l4.seq
            size = len(l4.data)
        elif isinstance(l4, udp_class):
            sport, dport = l4.sport, l4.dport
            size = len(l4.data)
        else:  # ICMP and the rest: what follows their first 4 bytes, as rawkit's payload after 8 is not
            size = len(l4) if isinstance(l4, bytes) else len(l4.data)
        if sink is not None:
            sink.append((src, dst, sport, dport, flags, seq, size))


def scapy_pass(frames: Frames, linktype: int, sink: list | None = None) -> None:
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    outer = Ether if linktype == 1 else IP
    for data in frames:
        pkt = outer(data)
        ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
        if ip is None:
            continue
        src, dst = ip.src, ip.dst
        sport = dport = flags = seq = None
        l4 = ip.payload
        if isinstance(l4, TCP):
            sport, dport, flags, seq = l4.sport, l4.dport, int(l4.flags), l4.seq
            size = len(l4.payload)
        elif isinstance(l4, UDP):
            sport, dport = l4.sport, l4.dport
            size = len(l4.payload)
        else:
            size = len(l4)
        if sink is not None:
            sink.append((src, dst, sport, dport, flags, seq, size))


def agreement(frames: Frames, linktype: int, peer: Callable) -> float:
    """Share of frames where rawkit and the peer read the same addresses, ports, flags and seq."""
    ours, theirs = [], []
    rawkit_pass(frames, linktype, ours)
    peer(frames, linktype, theirs)
    if len(ours) != len(theirs):
        return 0.0
    # payload lengths compared for TCP and UDP (ICMP: rawkit and dpkt split the message differently)
    same = sum(mine[:6] == other[:6] and (mine[2] is None or mine[6] == other[6])
               for mine, other in zip(ours, theirs, strict=True))
    return same / max(len(ours), 1)


def rates(passes: dict[str, tuple[Callable, Frames]], linktype: int, repeats: int) -> dict[str, float]:
    """Best packets/second of each pass over `repeats` rounds. Rounds interleave the libraries and time
    CPU seconds of this process, so a busy machine (other jobs on the same cores) biases no library."""
    best = dict.fromkeys(passes, float("inf"))
    for _ in range(repeats):
        for name, (run, frames) in passes.items():
            started = time.process_time()
            run(frames, linktype)
            best[name] = min(best[name], time.process_time() - started)
    return {name: len(passes[name][1]) / best[name] for name in passes}


def synthesize(count: int, path: Path, seed: int = 3) -> None:
    """A lab-like mix: TCP flows with timestamps (most), DNS over UDP, pings, ARP, IPv6 TCP."""
    rng = random.Random(seed)
    hosts = [f"198.18.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(40)]
    templates: list[bytes] = []
    for _ in range(400):
        src, dst = rng.sample(hosts, 2)
        ether = rawkit.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
        kind = rng.random()
        if kind < 0.75:
            payload = bytes(rng.choice((0, 0, 100, 512, 1448)))
            tcp = rawkit.TCP(sport=rng.randrange(32768, 61000), dport=rng.choice((80, 443, 22, 5201)),
                             seq=rng.getrandbits(32), ack=rng.getrandbits(32),
                             flags=rng.choice(("A", "PA", "S")),
                             options=[("NOP", None), ("NOP", None), ("Timestamp", (rng.getrandbits(32), 7))])
            frame = ether / rawkit.IPv4(src=src, dst=dst, flags="DF") / tcp / payload
        elif kind < 0.88:
            udp = rawkit.UDP(sport=rng.randrange(1024, 65535), dport=53)
            frame = ether / rawkit.IPv4(src=src, dst=dst) / udp / bytes(rng.randrange(20, 120))
        elif kind < 0.93:
            icmp = rawkit.ICMP(id=7, seq=rng.randrange(100))
            frame = ether / rawkit.IPv4(src=src, dst=dst) / icmp / bytes(56)
        elif kind < 0.95:
            frame = ether / rawkit.ARP(psrc=src, pdst=dst, hwsrc="02:00:00:00:00:01")
        else:
            frame = (ether / rawkit.IPv6(src="fd00:18::1", dst=f"fd00:18::{rng.randrange(1, 99):x}")
                     / rawkit.TCP(sport=rng.randrange(32768, 61000), dport=443, flags="PA") / bytes(200))
        data = bytes(frame)
        templates.append(data + bytes(max(0, 60 - len(data))))
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for index in range(count):
            data = rng.choice(templates)
            out.write(struct.pack("<IIII", 1_700_000_000 + index // 1000, index % 1000 * 1000, len(data),
                                  len(data)))
            out.write(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--synthesize", type=int, metavar="N", help="write N synthetic frames to FILE first")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over all libraries; the best counts")
    parser.add_argument("--scapy-limit", type=int, default=0,
                        help="time scapy on the first N frames only (it is slow); 0 = all")
    args = parser.parse_args()
    if args.synthesize:
        synthesize(args.synthesize, args.file)
    frames, linktype = read_frames(args.file)
    if linktype not in (1, 101) or not frames:
        print(f"bench_decode: need a non-empty Ethernet or raw-IP capture (link type {linktype})",
              file=sys.stderr)
        return 2
    scapy_frames = frames[: args.scapy_limit] if args.scapy_limit else frames
    for name, peer, sample in (("dpkt", dpkt_pass, frames), ("scapy", scapy_pass, scapy_frames[:5000])):
        print(f"same fields as {name}: {agreement(sample, linktype, peer):.2%} of IP packets")
    measured = rates({"rawkit": (rawkit_pass, frames), "dpkt": (dpkt_pass, frames),
                      "scapy": (scapy_pass, scapy_frames)}, linktype, args.repeats)
    rawkit_rate, dpkt_rate, scapy_rate = measured["rawkit"], measured["dpkt"], measured["scapy"]
    print(f"{len(frames)} frames from {args.file} (scapy timed on {len(scapy_frames)}), CPU time, "
          f"best of {args.repeats}")
    print(f"rawkit {rawkit_rate:12,.0f} packets/s")
    print(f"dpkt   {dpkt_rate:12,.0f} packets/s")
    print(f"scapy  {scapy_rate:12,.0f} packets/s")
    print(f"rawkit/dpkt  {rawkit_rate / dpkt_rate:6.2f}x  (target >= 5)")
    print(f"rawkit/scapy {rawkit_rate / scapy_rate:6.2f}x  (target >= 20)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

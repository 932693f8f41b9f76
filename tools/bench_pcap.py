"""Benchmark raw record iteration: rawkit's capture reader against dpkt's, in the same run.

    python3 tools/bench_pcap.py FILE [--rounds N] [--generate COUNT]

Each side opens the file, walks every record touching the timestamp and the data length, and the
best of N rounds counts (the machine is shared; the best round is the least disturbed one). Prints
packets per second for each and rawkit's speed as a multiple of dpkt's. FILE may be pcap or pcapng;
with --generate, FILE is first written (by rawkit's writers, pcapng if its name ends so) with COUNT
seeded TCP/UDP frames of mixed sizes, mostly small as in real traffic. Keep such files under /tmp.
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import dpkt
import dpkt.pcapng

import rawkit
from rawkit.pcap import PcapNgWriter, PcapWriter, open_capture


def generate(path: str, count: int) -> None:
    chooser = random.Random(7)
    frames = []
    for number in range(64):
        size = chooser.choice([0, 0, 0, 0, 20, 100, 500, 1400])
        transport = rawkit.TCP(sport=40000 + number, dport=443, flags="PA") if number % 4 \
            else rawkit.UDP(sport=40000 + number, dport=53)
        frames.append(bytes(rawkit.Ether() / rawkit.IPv4(src="198.18.0.1", dst="198.18.0.2") / transport
                            / bytes(size)))
    stamp = 1_700_000_000_000_000_000
    if path.endswith(".pcapng"):
        writer = PcapNgWriter(path)
        writer.add_interface(rawkit.LINKTYPE_ETHERNET, tsresol_ns=False)
    else:
        writer = PcapWriter(path)
    with writer:
        for number in range(count):
            stamp += chooser.randrange(1, 20_000) * 1000
            writer.write(frames[number % 64], stamp)


def rawkit_walk(path: str) -> tuple[int, int, int]:
    count = size = stamp = 0
    with open_capture(path) as capture:
        for pkt in capture:
            stamp = pkt.ts_ns
            size += len(pkt.data)
            count += 1
    return count, size, stamp


def dpkt_walk(path: str) -> tuple[int, int, float]:
    count = size = stamp = 0
    with open(path, "rb") as file:
        head = file.read(4)
        file.seek(0)
        reader = dpkt.pcapng.Reader(file) if head == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(file)
        for ts, buf in reader:
            stamp = ts
            size += len(buf)
            count += 1
    return count, size, stamp


def best_rates(path: str, rounds: int) -> tuple[int, float, int, float]:
    """Best packets/s of each side; rounds alternate so that both see the same machine load."""
    best = {rawkit_walk: 0.0, dpkt_walk: 0.0}
    counts = {}
    for _ in range(rounds):
        for walk in best:
            started = time.perf_counter()
            counts[walk], _size, _last_stamp = walk(path)
            best[walk] = max(best[walk], counts[walk] / (time.perf_counter() - started))
    return counts[rawkit_walk], best[rawkit_walk], counts[dpkt_walk], best[dpkt_walk]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--generate", type=int, metavar="COUNT", help="first write FILE with COUNT packets")
    args = parser.parse_args(argv)
    if args.generate:
        generate(args.file, args.generate)
    rawkit_count, rawkit_rate, dpkt_count, dpkt_rate = best_rates(args.file, args.rounds)
    if rawkit_count != dpkt_count:
        print(f"packet counts differ: rawkit {rawkit_count}, dpkt {dpkt_count}", file=sys.stderr)
        return 1
    print(f"{args.file}: {rawkit_count} packets")
    print(f"rawkit  {rawkit_rate:12,.0f} packets/s")
    print(f"dpkt    {dpkt_rate:12,.0f} packets/s")
    print(f"ratio   {rawkit_rate / dpkt_rate:12.2f}x (target >= 5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

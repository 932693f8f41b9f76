"""Benchmark raw record iteration: rawkit's capture reader against dpkt's, in the same run.

    python3 tools/bench_pcap.py FILE [--rounds N]

Each side opens the file, walks every record touching the timestamp and the data length, and the
best of N rounds counts (the machine is shared; the best round is the least disturbed one). Prints
packets per second for each and rawkit's speed as a multiple of dpkt's. FILE may be pcap or pcapng.
"""

from __future__ import annotations

import argparse
import sys
import time

import dpkt
import dpkt.pcapng

from rawkit.pcap import open_capture


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


def best_rate(walk, path: str, rounds: int) -> tuple[int, float]:
    best = 0.0
    count = 0
    for _ in range(rounds):
        started = time.perf_counter()
        count, _size, _last_stamp = walk(path)
        best = max(best, count / (time.perf_counter() - started))
    return count, best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rawkit_count, rawkit_rate = best_rate(rawkit_walk, args.file, args.rounds)
    dpkt_count, dpkt_rate = best_rate(dpkt_walk, args.file, args.rounds)
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

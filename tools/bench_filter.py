#!/usr/bin/env python3
"""Benchmark rawkit's filters against tcpdump's, in the same run, on the same capture.

    python3 tools/bench_filter.py [FILE] [--rounds N] [--expr EXPR ...]

FILE defaults to /tmp/rawkit-bench.pcap (tools/make_bench_capture.py); without it, a capture is
synthesised from tests' generated frames. For each expression it prints:
  end to end: `rawkit.read(FILE, filter=EXPR)` counting packets vs `tcpdump -r FILE -w /dev/null EXPR`
  (both read the whole file and select), as packets per second and rawkit/tcpdump ratio;
  predicate only: `flt.match(data, wirelen)` over frames already in memory, frames per second.
Best of N rounds counts (the machine is shared).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import rawkit
import rawkit.filter
from rawkit.pcap import open_capture

EXPRESSIONS = [
    "tcp port 80",
    "host 198.18.0.1",
    "tcp[tcpflags] & tcp-syn != 0 and not port 22",
    "udp and dst port 53",
    "icmp or icmp6",
    "ip6 and net fd00:18::/48",
    "ip[2:2] > 1000",
    "vlan or arp",
]


def best_of(rounds: int, work) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(rounds):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def count_matches(match, frames: list[tuple[bytes, int]]) -> int:
    return sum(1 for data, wirelen in frames if match(data, wirelen))


def rawkit_end_to_end(path: str, expression: str | None) -> int:
    return sum(1 for _ in rawkit.read(path, filter=expression))


def tcpdump_end_to_end(path: str, expression: str | None) -> int:
    command = ["tcpdump", "-r", path, "-w", "/dev/null"]
    if expression is not None:
        command += ["--", expression]
    return len(subprocess.run(command, capture_output=True, check=True).stderr)


def synthesised_capture(path: Path, count: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from test_filter_corpus import ethernet_frames, write_pcap

    frames = [record for record in ethernet_frames() if len(record[0]) == record[1]]
    write_pcap(path, 1, [frames[index % len(frames)] for index in range(count)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", default="/tmp/rawkit-bench.pcap")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--expr", action="append", help="expression(s) to time instead of the defaults")
    args = parser.parse_args()
    path = Path(args.file)
    if not path.exists():
        path = Path("/tmp/rawkit-bench-filter.pcap")
        synthesised_capture(path, 200_000)
        print(f"{args.file} missing: synthesised {path}")
    with open_capture(str(path)) as capture:
        linktype = capture.linktype
        frames = [(bytes(pkt.data), pkt.wirelen) for pkt in capture]
    print(f"{path}: {len(frames)} frames, link type {linktype}, best of {args.rounds} rounds")
    print(f"{'expression':48} {'selected':>8} {'rawkit e2e':>11} {'tcpdump':>11} {'ratio':>6}"
          f" {'predicate':>11}")
    ours, _ = best_of(args.rounds, partial(rawkit_end_to_end, str(path), None))
    theirs, _ = best_of(args.rounds, partial(tcpdump_end_to_end, str(path), None))
    rate = len(frames) / 1e6
    print(f"{'(no filter: reading alone bounds end to end)':48} {len(frames):8d} {rate / ours:8.2f}M/s "
          f"{rate / theirs:8.2f}M/s {theirs / ours:5.2f}x")
    ratios = []
    for expression in args.expr or EXPRESSIONS:
        try:
            flt = rawkit.filter.compile(expression, linktype)
        except rawkit.filter.FilterError as error:
            print(f"{expression:48} rejected: {error}")
            continue
        predicate_time, selected = best_of(args.rounds, partial(count_matches, flt.match, frames))
        ours, _ = best_of(args.rounds, partial(rawkit_end_to_end, str(path), expression))
        theirs, _ = best_of(args.rounds, partial(tcpdump_end_to_end, str(path), expression))
        ratio = theirs / ours
        ratios.append(ratio)
        rate = len(frames) / 1e6
        print(f"{expression:48} {selected:8d} {rate / ours:8.2f}M/s {rate / theirs:8.2f}M/s {ratio:5.2f}x "
              f"{rate / predicate_time:8.2f}M/s")
    if ratios:
        print(f"end-to-end speed, rawkit / tcpdump: min {min(ratios):.2f}x, max {max(ratios):.2f}x")


if __name__ == "__main__":
    main()

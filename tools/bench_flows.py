"""Benchmark `rawkit flows` against `tshark -q -z conv,tcp` on one capture, in the same run.

    python3 tools/bench_flows.py [CAPTURE] [--repeat N]

Default capture: /tmp/rawkit-bench.pcap (tools/make_bench_capture.py makes one). Prints the wall time
of each (best of N), the ratio, each one's peak resident memory, and checks that both found the same
number of TCP conversations. Each command runs in its own process, so peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys


def _measure(command: list[str]) -> tuple[float, int, str]:
    """(seconds, peak RSS in KiB, stdout) of one run, the RSS taken from a wrapper process so that
    runs do not share a high-water mark."""
    wrapper = ("import resource, subprocess, sys, time; start = time.perf_counter();"
               "out = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,"
               " check=True);"
               "sys.stderr.write(f'{time.perf_counter() - start} '"
               "f'{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n');"
               "sys.stdout.buffer.write(out.stdout)")
    done = subprocess.run([sys.executable, "-c", wrapper, *command], capture_output=True, check=True)
    seconds, peak = done.stderr.decode().split()[-2:]
    return float(seconds), int(peak), done.stdout.decode(errors="replace")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("capture", nargs="?", default="/tmp/rawkit-bench.pcap")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if not os.path.exists(args.capture):
        print(f"no capture at {args.capture}: run tools/make_bench_capture.py first", file=sys.stderr)
        return 2
    if shutil.which("tshark") is None:
        print("tshark is not installed", file=sys.stderr)
        return 2
    packets = subprocess.run(["capinfos", "-M", "-c", args.capture], capture_output=True,
                             text=True).stdout.split()[-1] if shutil.which("capinfos") else "?"
    print(f"capture: {args.capture} ({packets} packets, {os.path.getsize(args.capture) / 1e6:.1f} MB)")
    every = ("eth", "ip", "ipv6", "tcp", "udp")
    all_tables = [argument for table in every for argument in ("-z", f"conv,{table}")]
    pairs = (("TCP only", ["--type", "tcp"], ["-z", "conv,tcp"], ("tcp",)),
             ("all five tables", [], all_tables, every))
    agreed = True
    for title, ours_flags, theirs_flags, tables in pairs:
        rawkit = [sys.executable, "-m", "rawkit", "flows", args.capture, "--json", *ours_flags]
        tshark = ["tshark", "-q", "-r", args.capture, *theirs_flags]
        results = {}
        for name, command in (("rawkit flows", rawkit), ("tshark -z conv", tshark)):
            runs = [_measure(command) for _ in range(max(args.repeat, 1))]
            best = min(runs, key=lambda run: run[0])
            results[name] = (best[0], max(run[1] for run in runs), best[2])
        records = [json.loads(line) for line in results["rawkit flows"][2].splitlines()]
        ours = sum(1 for record in records if record["proto"] in tables)
        theirs = sum(1 for line in results["tshark -z conv"][2].splitlines() if "<->" in line)
        agreed &= ours == theirs
        print(f"-- {title}")
        for name, (seconds, peak, _) in results.items():
            print(f"{name:16s} {seconds:7.2f} s   peak RSS {peak / 1024:7.1f} MiB")
        ratio = results["tshark -z conv"][0] / results["rawkit flows"][0]
        print(f"rawkit flows is {ratio:.2f}x tshark's speed (target >= 3x); "
              f"conversations: rawkit {ours}, tshark {theirs}{'' if ours == theirs else '  MISMATCH'}")
    print("(peak RSS includes the pages of the memory-mapped capture that were read)")
    piped = f"cat {shlex.quote(args.capture)} | {shlex.quote(sys.executable)} -m rawkit flows - --json"
    seconds, peak, _ = _measure(["sh", "-c", piped])
    print(f"rawkit flows reading a pipe (no mapping): {seconds:.2f} s, peak RSS {peak / 1024:.1f} MiB "
          "(what the analysis itself holds)")
    return 0 if agreed else 1


if __name__ == "__main__":
    sys.exit(main())

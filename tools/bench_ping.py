#!/usr/bin/env python3
"""Benchmark `rawkit ping` against iputils ping on a namespace-lab veth (needs root).

Two figures, each measured for both tools in the same run:
  * median RTT over N probes (default 200, -i 0.005): rawkit - iputils, target within +50 us;
  * flood rate, `-f -q -c 20000`: packets per second from each tool's own statistics line
    (transmitted / "time Nms"), target rawkit >= 0.5 x iputils, as the median of back-to-back
    rounds; wall-clock rates (Python start-up included) are printed too.

Traffic stays inside the two namespaces this script creates (198.18.0.0/24) and is removed after.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time

from rawkit.link.netns import Lab, LabError

RAWKIT = [sys.executable, "-m", "rawkit", "ping"]


def run(namespace, command: list[str], timeout: float) -> tuple[str, float]:
    started = time.monotonic()
    result = namespace.run(command, check=False, timeout=timeout)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        detail = result.stderr.strip()
        raise SystemExit(f"bench_ping: `{' '.join(command)}` failed ({result.returncode}): {detail}")
    return result.stdout, elapsed


def rtts_us(output: str) -> list[float]:
    return [float(value) * 1000 for value in re.findall(r"time=([\d.]+) ms", output)]


def flood_rate(output: str) -> tuple[int, float]:
    """(packets transmitted, packets per second by the tool's own elapsed time)."""
    match = re.search(r"(\d+) packets transmitted, (\d+) received.*time (\d+)ms", output)
    if match is None:
        raise SystemExit(f"bench_ping: no statistics line in:\n{output}")
    sent, elapsed_ms = int(match.group(1)), int(match.group(3))
    return sent, sent / max(elapsed_ms / 1000, 1e-3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", type=int, default=200, help="probes for the median RTT (default 200)")
    parser.add_argument("--flood", type=int, default=20000, help="packets for the flood rate (default 20000)")
    parser.add_argument("--rounds", type=int, default=5, help="flood rounds (rawkit then iputils each)")
    options = parser.parse_args()
    try:
        lab = Lab(prefix="rkbench")
    except LabError as error:
        print(f"bench_ping: {error}", file=sys.stderr)
        return 2
    with lab:
        a, b = lab.namespace("a"), lab.namespace("b")
        lab.link(a, b, ipv4=("198.18.0.1/24", "198.18.0.2/24"))
        target = "198.18.0.2"
        run(a, ["ping", "-c", "3", "-i", "0.01", target], 10)  # ARP resolved before anything is timed

        timeout = 60 + options.probes * 0.05
        rtt_args = ["-c", str(options.probes), "-i", "0.005", target]
        ours_out, _ = run(a, [*RAWKIT, *rtt_args], timeout)
        theirs_out, _ = run(a, ["ping", *rtt_args], timeout)
        ours_rtt, theirs_rtt = statistics.median(rtts_us(ours_out)), statistics.median(rtts_us(theirs_out))
        print(f"median RTT over {options.probes} probes: rawkit {ours_rtt:.1f} us, "
              f"iputils {theirs_rtt:.1f} us, difference {ours_rtt - theirs_rtt:+.1f} us (target <= +50 us)")

        flood_args = ["-f", "-q", "-c", str(options.flood), target]
        rates: dict[str, list[float]] = {"rawkit": [], "iputils": []}
        wall_rates: dict[str, list[float]] = {"rawkit": [], "iputils": []}
        ratios = []
        for _ in range(options.rounds):  # back-to-back pairs, so a busy machine slows both alike
            for name, command in (("rawkit", [*RAWKIT, *flood_args]), ("iputils", ["ping", *flood_args])):
                output, wall = run(a, command, 120)
                sent, rate = flood_rate(output)
                rates[name].append(rate)
                wall_rates[name].append(sent / wall)
            ratios.append(rates["rawkit"][-1] / rates["iputils"][-1])
        ours, theirs = statistics.median(rates["rawkit"]), statistics.median(rates["iputils"])
        print(f"flood -f -c {options.flood} ({options.rounds} rounds, medians): rawkit {ours:,.0f} pkt/s, "
              f"iputils {theirs:,.0f} pkt/s, ratio {statistics.median(ratios):.2f} (target >= 0.5); "
              f"per round: {', '.join(f'{ratio:.2f}' for ratio in ratios)}")
        ours_wall = statistics.median(wall_rates["rawkit"])
        theirs_wall = statistics.median(wall_rates["iputils"])
        print(f"  wall clock incl. start-up: rawkit {ours_wall:,.0f} pkt/s, "
              f"iputils {theirs_wall:,.0f} pkt/s, ratio {ours_wall / theirs_wall:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

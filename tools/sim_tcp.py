"""Simulated bulk transfer between two rawkit engines over impaired channels (sans-IO, no network).

Deterministic: each seed fixes the loss, reordering and duplication pattern, so a change to the
engine can be judged by simulated completion time on the same patterns. Prints one line per seed
(completion time, the largest backed-off RTO, loss episodes begun and undone, the final DupThresh)
and the median.

    python tools/sim_tcp.py --loss 0.05 --reorder 0.02 --dup 0.01 --delay 0.01 --mb 2 --seeds 1-5
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys

from rawkit.tcp.segment import Segment
from rawkit.tcp.settings import Settings
from rawkit.tcp.testing import Pair, Rule


def impairment(seed: int, loss: float, reorder: float, dup: float, reorder_delay: float) -> Rule:
    generator = random.Random(seed)

    def rule(segment: Segment) -> float | tuple[float, ...] | None:
        if generator.random() < loss:
            return None
        extra = reorder_delay * (0.5 + generator.random()) if generator.random() < reorder else 0.0
        if generator.random() < dup:
            return (extra, extra + 0.001)
        return extra
    return rule


def run(seed: int, args: argparse.Namespace) -> tuple[float, dict[str, float]]:
    settings = Settings(send_buffer_size=1 << 20, receive_buffer_size=1 << 20)
    pair = Pair(settings, Settings(send_buffer_size=1 << 20, receive_buffer_size=1 << 20), delay=args.delay)
    pair.to_server.rule = impairment(seed, args.loss, args.reorder, args.dup, args.reorder_delay)
    pair.to_client.rule = impairment(seed + 10_000, args.ack_loss if args.ack_loss is not None else args.loss,
                                     args.reorder, args.dup, args.reorder_delay)
    pair.handshake()
    size = int(args.mb * 1_000_000)
    pair.client.outbox += bytes(random.Random(seed).randbytes(size))
    start = pair.now
    stats: dict[str, float] = {"max_rto": 0.0}
    connection = pair.c

    def done() -> bool:
        stats["max_rto"] = max(stats["max_rto"], connection._rto())
        return len(pair.server.inbox) >= size
    ok = pair.run(until=done, limit=args.limit)
    stats["episodes"] = connection.loss_episodes
    stats["undone"] = connection.undone_episodes
    stats["dupthresh"] = connection.congestion.dupthresh
    if not ok:
        print(f"seed {seed}: not finished after {args.limit} s", file=sys.stderr)
    return pair.now - start, stats


def seeds(text: str) -> list[int]:
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(part) for part in text.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--ack-loss", type=float, default=None, help="loss on the ACK path (default: --loss)")
    parser.add_argument("--reorder", type=float, default=0.0)
    parser.add_argument("--reorder-delay", type=float, default=0.005, help="extra delay of a late segment")
    parser.add_argument("--dup", type=float, default=0.0)
    parser.add_argument("--delay", type=float, default=0.01, help="one-way delay, seconds")
    parser.add_argument("--mb", type=float, default=1.0)
    parser.add_argument("--seeds", default="1-5")
    parser.add_argument("--limit", type=float, default=600.0, help="simulated seconds before giving up")
    args = parser.parse_args()
    times = []
    for seed in seeds(args.seeds):
        elapsed, stats = run(seed, args)
        times.append(elapsed)
        extra = " ".join(f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}"
                         for key, value in stats.items())
        print(f"seed {seed}: {elapsed:7.2f} s  {extra}")
    print(f"median {statistics.median(times):.2f} s  max {max(times):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

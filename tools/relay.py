#!/usr/bin/env python3
"""Impairment relay by hand (tc netem is not available on this kernel); needs root.

    tools/relay.py lab --loss 5% --reorder 2% --duplicate 1% --delay 10ms --duration 120
        builds A --veth-- RELAY --veth-- B (198.18.0.1 / 198.18.0.2, fd00:18::1 / fd00:18::2), prints
        the namespace names to use with `ip netns exec`, forwards for --duration seconds (or until
        Ctrl-C), prints what it did, and removes everything.
    ip netns exec NS tools/relay.py attach LEFT RIGHT --loss 1% --rate 10mbit --duration 60
        relays between two existing devices of the namespace it runs in.

The same impairment applies in both directions. Counters are printed at the end (--json for JSON).
Library use: rawkit.link.relay (Relay, RelayLab) and rawkit.link.impairment (Impairment, Scheduler).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading

from rawkit.link.impairment import Impairment
from rawkit.link.netns import LabError
from rawkit.link.relay import Relay, RelayLab

_UNITS = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9}
_TIMES = {"": 1e-3, "ms": 1e-3, "s": 1.0, "us": 1e-6}


def probability(text: str) -> float:
    """"5%" or "0.05"."""
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a probability: {text!r}") from None


def duration(text: str) -> float:
    """"10ms", "0.5s", "250us"; a bare number is milliseconds (as netem)."""
    match = re.fullmatch(r"([0-9.]+)\s*(ms|s|us)?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"not a time: {text!r}")
    return float(match.group(1)) * _TIMES[match.group(2) or ""]


def rate(text: str) -> float:
    """Bits per second: "10mbit", "500kbit", "1g", "2000000"."""
    match = re.fullmatch(r"([0-9.]+)\s*([kmg]?)(bit|bps)?", text.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError(f"not a rate: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="relay.py", description=__doc__.splitlines()[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--loss", type=probability, default=0.0, help="frames dropped (5%% or 0.05)")
    common.add_argument("--duplicate", type=probability, default=0.0, help="frames sent twice")
    common.add_argument("--reorder", type=probability, default=0.0, help="frames held back --reorder-delay")
    common.add_argument("--reorder-delay", type=duration, default=0.004, help="extra delay when reordered")
    common.add_argument("--delay", type=duration, default=0.0, help="one-way delay added to every frame")
    common.add_argument("--rate", type=rate, default=None, help="bottleneck in bits/s (10mbit)")
    common.add_argument("--queue-limit", type=int, default=10_000, help="frames held per direction at most")
    common.add_argument("--seed", type=int, default=0)
    common.add_argument("--duration", type=float, default=60.0, help="seconds to run (default 60)")
    common.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    common.add_argument("--json", action="store_true", help="print the counters as JSON")
    modes = parser.add_subparsers(dest="mode", required=True)
    modes.add_parser("lab", parents=[common], help="build a demo lab A--RELAY--B and relay in it")
    attach = modes.add_parser("attach", parents=[common], help="relay between two devices of this namespace")
    attach.add_argument("left")
    attach.add_argument("right")
    return parser.parse_args(argv)


def print_counters(counters: dict[str, dict[str, int]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(counters))
        return
    for direction, values in counters.items():
        print(f"{direction:13} " + "  ".join(f"{name} {value}" for name, value in values.items()))


def wait(relay: Relay) -> None:
    """Until the relay's own bounds end it, or SIGINT/SIGTERM."""
    done = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    while not done.is_set() and relay.running:
        done.wait(0.2)


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        impairment = Impairment(loss=args.loss, duplicate=args.duplicate, reorder=args.reorder,
                                reorder_delay=args.reorder_delay, delay=args.delay, rate=args.rate,
                                queue_limit=args.queue_limit, seed=args.seed)
        if args.mode == "attach":
            relay = Relay(args.left, args.right, impairment)
            relay.start(args.duration, args.max_frames)
            try:
                wait(relay)
            finally:
                relay.stop()
            print_counters(relay.counters(), args.json)
            return 0
        with RelayLab(impairment, duration=args.duration, max_frames=args.max_frames) as lab:
            print(f"A: ip netns exec {lab.a.name} ...   ({lab.a_end.ip}, {lab.a_end.ip6})", flush=True)
            print(f"B: ip netns exec {lab.b.name} ...   ({lab.b_end.ip}, {lab.b_end.ip6})", flush=True)
            wait(lab.relay)
            lab.relay.stop()
            print_counters(lab.relay.counters(), args.json)
        return 0
    except (ValueError, OSError, LabError) as error:
        text = error.strerror if isinstance(error, OSError) and error.strerror else error
        print(f"rawkit: {text}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

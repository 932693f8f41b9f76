#!/usr/bin/env python3
"""`rawkit read FILE > /dev/null` against `tcpdump -nn -r FILE > /dev/null`, in the same run.

Why: `rawkit read` promises tcpdump's lines at no less than half tcpdump's packet rate. Both
commands run alternately (so machine load hits both alike) and the best of N runs of each is
kept; wall time and CPU time (user+sys of the child) are both reported, with the ratio of
rawkit's packets/s to tcpdump's.

The environment matters to tcpdump: with TZ unset, glibc checks /etc/localtime on every
localtime() call, i.e. once per packet, which costs tcpdump about half its time; with TZ set
(e.g. --tz UTC) it does not (rawkit formats each second's local time once, so TZ changes little
for it). Both sides get the same environment; the default is yours.

It matters to Python too: with PYTHONDONTWRITEBYTECODE set (some sandboxes set it) every run
compiles rawkit's modules from source, about 0.5 G instructions, where an installed rawkit loads
compiled bytecode. So rawkit runs with bytecode caching on, its cache under /tmp (never in the
source tree), after one untimed warm-up run; --no-bytecode-cache measures the other case.

Which rawkit runs matters as well: a third of a filtered read of 240k packets is startup (imports),
and an editable install (a .pth hook resolving rawkit to the source tree) adds import cost a user's
`pip install rawkit` does not have. --rawkit PATH times that executable, e.g. one in a clean venv
(`python3 -m venv /tmp/rkvenv && /tmp/rkvenv/bin/pip install .`); the default is `rawkit` on PATH,
else `python3 -m rawkit`.

    python3 tools/bench_read.py [FILE] [--runs 3] [--tz UTC] [--flags=-e] [--flags="-e -v"]
    python3 tools/bench_read.py [FILE] --filter 'tcp port 443'     # issue 5's end-to-end figure
    python3 tools/bench_read.py [FILE] --rawkit /tmp/rkvenv/bin/rawkit

FILE defaults to /tmp/rawkit-bench.pcap (tools/make_bench_capture.py makes one).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time

DEFAULT_CAPTURE = "/tmp/rawkit-bench.pcap"
BYTECODE_CACHE = "/tmp/rawkit-bench-pycache"


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run with stdout to /dev/null; raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        result = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"bench_read: {' '.join(command)} failed: {result.stderr.decode(errors='replace')}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def count_packets(rawkit: list[str], path: str, expression: list[str], env: dict[str, str]) -> int:
    """The packet count (selected by the filter, if any), from rawkit itself (`--count`), checked
    against tcpdump's. Also the warm-up run that fills rawkit's bytecode cache."""
    ours = subprocess.run([*rawkit, "read", "--count", path, *expression],
                          capture_output=True, text=True, check=True, env=env).stdout.split()[0]
    theirs = subprocess.run(["tcpdump", "--count", "-r", path, *expression], capture_output=True, text=True,
                            check=True).stdout.split()[0]
    if ours != theirs:
        raise SystemExit(f"bench_read: packet counts differ: rawkit {ours}, tcpdump {theirs}")
    return int(ours)


def rawkit_command(path: str | None) -> list[str]:
    """The command that runs rawkit: `path`, else `rawkit` on PATH, else this Python's `-m rawkit`."""
    if path is not None:
        if shutil.which(path) is None:
            raise SystemExit(f"bench_read: {path} is not an executable")
        return [path]
    found = shutil.which("rawkit")
    return [found] if found else [sys.executable, "-m", "rawkit"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("capture", nargs="?", default=DEFAULT_CAPTURE)
    parser.add_argument("--runs", type=int, default=3, help="runs of each command; the best is kept")
    parser.add_argument("--tz", help="TZ for both commands (default: the environment's)")
    parser.add_argument("--flags", default="", help='flags given to both commands, e.g. "-e -v"')
    parser.add_argument("--filter", help="a filter expression given to both commands")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="keep the environment's PYTHONDONTWRITEBYTECODE (rawkit compiled at every run)")
    parser.add_argument("--rawkit", metavar="PATH",
                        help="the rawkit to time (default: rawkit on PATH, else python3 -m rawkit)")
    args = parser.parse_args()
    flags = args.flags.split()
    if not os.path.exists(args.capture):
        raise SystemExit(f"bench_read: {args.capture} not found (make one: tools/make_bench_capture.py)")
    if shutil.which("tcpdump") is None:
        raise SystemExit("bench_read: tcpdump is not installed")
    expression = [args.filter] if args.filter else []
    rawkit = rawkit_command(args.rawkit)
    commands = {
        "rawkit": [*rawkit, "read", *flags, args.capture, *expression],
        "tcpdump": ["tcpdump", "-nn", *flags, "-r", args.capture, *expression],
    }
    env = dict(os.environ)
    if args.tz is not None:
        env["TZ"] = args.tz
    if not args.no_bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = BYTECODE_CACHE
    packets = count_packets(rawkit, args.capture, [], env)  # rates count packets read, selected or not
    selected = count_packets(rawkit, args.capture, expression, env) if expression else packets
    best = {name: (float("inf"), float("inf")) for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            wall, cpu = run_once(command, env)
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    shown = ' '.join(flags) or '(none)'
    cache = "off" if "PYTHONDONTWRITEBYTECODE" in env else "on"
    selection = f", filter {args.filter!r} selects {selected}" if args.filter else ""
    print(f"{args.capture}: {packets} packets{selection}, best of {args.runs} runs, flags {shown}, "
          f"TZ={env.get('TZ', '(unset)')}, bytecode cache {cache}, rawkit {' '.join(rawkit)}")
    for name, (wall, cpu) in best.items():
        print(f"  {name:8s} wall {wall:6.2f} s  {packets / wall:10.0f} packets/s   "
              f"cpu {cpu:6.2f} s  {packets / cpu:10.0f} packets/s")
    wall_ratio = best["tcpdump"][0] / best["rawkit"][0]
    cpu_ratio = best["tcpdump"][1] / best["rawkit"][1]
    goal = "0.20x, issue 5" if args.filter else "0.50x, issue 4"
    print(f"  ratio rawkit/tcpdump packets/s: wall {wall_ratio:.2f}x, cpu {cpu_ratio:.2f}x (goal >= {goal})")


if __name__ == "__main__":
    main()

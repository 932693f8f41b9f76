#!/usr/bin/env python3
"""Run the packetdrill corpus in ../shared/packetdrill (read in place, never copied) with one target
and print how many scripts pass per IP version, with the first line of every failure (needs root).

    python3 tools/corpus_report.py --target rawkit [--tolerance-usecs 20000] [--workers 2]

Why a tool and not only a test: the test (tests/test_script_corpus.py) checks the kernel target's
bar; for `--target rawkit` the issue asks for a count and a list of differences from Linux, which
this prints. Both run the scripts through rawkit.script.corpus, the same way.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from rawkit.script.corpus import manifest_rows, run_corpus

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "packetdrill"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("kernel", "rawkit"), default="rawkit")
    parser.add_argument("--tolerance-usecs", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    rows = manifest_rows(CORPUS)
    if not rows:
        print(f"rawkit: packetdrill corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    results = run_corpus(CORPUS, rows, target=args.target, workers=args.workers,
                         tolerance_usecs=args.tolerance_usecs)
    passed = Counter(key.split()[1] for key, (outcome, _) in results.items() if outcome == "pass")
    totals = Counter(key.split()[1] for key in results)
    for key, (outcome, message) in sorted(results.items()):
        if outcome != "pass":
            print(f"{outcome:6} {key}: {(message.splitlines() or [''])[0]}")
    print(f"--target {args.target}: ipv4 {passed['ipv4']}/{totals['ipv4']}, "
          f"ipv6 {passed['ipv6']}/{totals['ipv6']}, all {sum(passed.values())}/{len(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

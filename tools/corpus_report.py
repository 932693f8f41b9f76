#!/usr/bin/env python3
"""Run the packetdrill corpus in ../shared/packetdrill (read in place, never copied) with one target
and print how many scripts pass per IP version, with the first line of every failure (needs root).

    python3 tools/corpus_report.py --target rawkit [--tolerance-usecs 20000] [--workers 2]

Why a tool and not only a test: the test (tests/test_script_corpus.py) checks the kernel target's
bar; for `--target rawkit` the issue asks for a count and a list of differences from Linux, which
this prints. Scripts run for the IP versions the MANIFEST says passed with the real packetdrill, with
the README's addresses and -D values, each in its own process and bounded in time.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import sys
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, TimeoutError
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "packetdrill"
ADDRESSES = {
    "ipv4": dict(local_ip="198.18.0.1", gateway_ip="198.18.0.2", netmask_ip="255.255.0.0",
                 remote_ip="198.19.0.1"),
    "ipv6": dict(local_ip="fd00:18::1", gateway_ip="fd00:18::2", remote_ip="fd00:18::c0", mtu=1520),
}
DEFINES = {
    "ipv4": {"CODE": "host_unreachable", "CMSG_LEVEL_IP": "SOL_IP", "CMSG_TYPE_RECVERR": "IP_RECVERR"},
    "ipv6": {"CMSG_LEVEL_IP": "SOL_IPV6", "CMSG_TYPE_RECVERR": "IPV6_RECVERR"},
}
SCRIPT_TIMEOUT = 40.0


def run_one(path: str, version: str, target: str, tolerance_usecs: int | None) -> tuple[str, str]:
    """(outcome, first line of the message) for one script, in a worker process."""
    from rawkit.script.runner import RunOptions, ScriptBroken, ScriptFailure, run_script

    if target == "rawkit":
        from rawkit.script.rawkit_target import RawkitTarget as make_target
    else:
        from rawkit.script.kernel_target import KernelTarget as make_target
    options = RunOptions(ip_version=int(version[-1]), defines=dict(DEFINES[version]),
                         tolerance_usecs=tolerance_usecs, **ADDRESSES[version])  # type: ignore[arg-type]
    try:
        run_script(path, options, make_target)
    except (ScriptFailure, ScriptBroken) as failure:
        return "fail", (str(failure).splitlines() or [""])[0]
    except Exception as error:  # any crash is a result to report, not a reason to stop the run
        return "error", f"{type(error).__name__}: {error}"
    return "pass", ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=("kernel", "rawkit"), default="rawkit")
    parser.add_argument("--tolerance-usecs", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    manifest = CORPUS / "MANIFEST.tsv"
    if not manifest.is_file():
        print(f"rawkit: packetdrill corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    with manifest.open() as handle:
        rows = [row for row in csv.DictReader(handle, delimiter="\t")
                if row["copied"] == "yes" and row["pass"] in ("yes", "flaky")]
    context = multiprocessing.get_context("forkserver")
    results: dict[str, tuple[str, str]] = {}
    with ProcessPoolExecutor(args.workers, mp_context=context, max_tasks_per_child=1) as pool:
        futures = {f"{row['path']} {row['ipver_run']}": pool.submit(
            run_one, str(CORPUS / row["path"]), row["ipver_run"], args.target, args.tolerance_usecs)
            for row in rows}
        for key, future in futures.items():
            try:
                results[key] = future.result(timeout=SCRIPT_TIMEOUT * len(rows))
            except TimeoutError:
                results[key] = ("hang", "no result")
    passed = Counter(key.split()[1] for key, (outcome, _) in results.items() if outcome == "pass")
    totals = Counter(key.split()[1] for key in results)
    for key, (outcome, message) in sorted(results.items()):
        if outcome != "pass":
            print(f"{outcome:5} {key}: {message}")
    print(f"--target {args.target}: ipv4 {passed['ipv4']}/{totals['ipv4']}, "
          f"ipv6 {passed['ipv6']}/{totals['ipv6']}, all {sum(passed.values())}/{len(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

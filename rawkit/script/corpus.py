"""Run the upstream packetdrill corpus (../shared/packetdrill, read in place) as its README ran the real
packetdrill: the scripts its MANIFEST says passed, at those IP versions, with the same addresses and -D
values, each in its own process and bounded in time.

Shared by the corpus test (the kernel target's pass bar) and tools/corpus_report.py (counts for
either target), so both run the scripts the same way.
"""

from __future__ import annotations

import csv
import multiprocessing
import threading
from multiprocessing.connection import Connection
from pathlib import Path

ADDRESSES: dict[str, dict[str, str | int]] = {
    "ipv4": dict(local_ip="198.18.0.1", gateway_ip="198.18.0.2", netmask_ip="255.255.0.0",
                 remote_ip="198.19.0.1"),
    "ipv6": dict(local_ip="fd00:18::1", gateway_ip="fd00:18::2", remote_ip="fd00:18::c0", mtu=1520),
}
DEFINES = {
    "ipv4": {"CODE": "host_unreachable", "CMSG_LEVEL_IP": "SOL_IP", "CMSG_TYPE_RECVERR": "IP_RECVERR"},
    "ipv6": {"CMSG_LEVEL_IP": "SOL_IPV6", "CMSG_TYPE_RECVERR": "IPV6_RECVERR"},
}
SCRIPT_TIMEOUT = 30.0  # the runner's own limit is 20 s; this catches a stuck process
Outcome = tuple[str, str]  # ("pass" | "fail" | "broken" | "error" | "hang", message)


def manifest_rows(corpus: Path) -> list[dict[str, str]]:
    """The MANIFEST rows of scripts kept in the corpus that passed (or were flaky) with packetdrill."""
    manifest = corpus / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with manifest.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [row for row in rows if row["copied"] == "yes" and row["pass"] in ("yes", "flaky")]


def _run_one(path: str, version: str, target: str, tolerance_usecs: int | None, sender: Connection) -> None:
    """In a child process: run one script, send back its Outcome."""
    from rawkit.script.runner import RunOptions, ScriptBroken, ScriptFailure, run_script

    if target == "rawkit":
        from rawkit.script.rawkit_target import RawkitTarget as make_target
    else:
        from rawkit.script.kernel_target import KernelTarget as make_target
    options = RunOptions(ip_version=int(version[-1]), defines=dict(DEFINES[version]),
                         tolerance_usecs=tolerance_usecs, **ADDRESSES[version])  # type: ignore[arg-type]
    try:
        run_script(path, options, make_target)
        sender.send(("pass", ""))
    except ScriptFailure as failure:
        sender.send(("fail", str(failure)))
    except ScriptBroken as broken:
        sender.send(("broken", str(broken)))
    except Exception as error:  # reported to the caller, which names the script
        sender.send(("error", f"{type(error).__name__}: {error}"))


def run_corpus(corpus: Path, rows: list[dict[str, str]], *, target: str = "kernel", workers: int = 2,
               tolerance_usecs: int | None = None) -> dict[str, Outcome]:
    """Run `rows` `workers` at a time in forked children (modules preloaded); key "path ipver"."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["rawkit.script.runner", f"rawkit.script.{target}_target"])
    results: dict[str, Outcome] = {}
    pending = list(rows)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                row = pending.pop(0)
            receiver, sender = context.Pipe(duplex=False)
            child = context.Process(target=_run_one, args=(
                str(corpus / row["path"]), row["ipver_run"], target, tolerance_usecs, sender))
            child.start()
            sender.close()
            outcome = ("hang", f"no result within {SCRIPT_TIMEOUT:g} s")
            if receiver.poll(SCRIPT_TIMEOUT):
                try:
                    outcome = receiver.recv()
                except EOFError:
                    outcome = ("error", "the child died without a result")
            child.join(5.0)
            if child.is_alive():
                child.kill()
                child.join()
            receiver.close()
            with lock:
                results[f"{row['path']} {row['ipver_run']}"] = outcome

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results

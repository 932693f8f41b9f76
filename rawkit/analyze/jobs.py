"""Whole-file analyses as plain functions of a path (so `--jobs N` can run them in other processes),
and the helper that spreads files over processes and gives results back in file order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

from rawkit.analyze.conversations import PROTOCOLS, ConversationTable
from rawkit.analyze.source import Capture
from rawkit.analyze.stats import CaptureStats
from rawkit.pcap import CaptureError

Result = TypeVar("Result")


def capture_stats(path: str, expression: str | None = None, progress: bool = False) -> dict:
    """capinfos' numbers and the protocol hierarchy for one file; `damage` notes a broken tail."""
    with Capture(path, expression, progress) as capture:
        linktypes = dict.fromkeys(interface.linktype for interface in capture.interfaces)
        stats = CaptureStats(path, capture.format, capture.snaplen, linktypes or [capture.linktype],
                             max(len(capture.interfaces), 1), capture.file_size)
        for pkt in capture.packets():
            stats.add(pkt)
        summary = stats.as_dict()
        summary["damage"] = capture.damage
        return summary


def conversations(path: str, expression: str | None = None, protocols: Iterable[str] = PROTOCOLS,
                  progress: bool = False) -> dict:
    """{"file", "records": [one dict per conversation], "damage"} for one file."""
    table = ConversationTable(protocols)
    with Capture(path, expression, progress) as capture:
        for pkt in capture.packets():
            table.add(pkt)
        records = []
        for record in table.records():
            record["file"] = path
            records.append(record)
        return {"file": path, "records": records, "damage": capture.damage}


def run_per_file(task: Callable[..., Result], paths: list[str], jobs: int = 1,
                 **options: object) -> Iterator[Result | CaptureError]:
    """`task(path, **options)` for each path, in path order; a file that cannot be read gives its
    CaptureError in place of a result. `jobs` > 1 runs files in that many processes."""
    if jobs <= 1 or len(paths) <= 1:
        for path in paths:
            yield _guarded(task, path, options)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths))) as pool:
        futures = [pool.submit(_guarded, task, path, options) for path in paths]
        for future in futures:
            yield future.result()


def _guarded(task: Callable[..., Result], path: str, options: dict) -> Result | CaptureError:
    try:
        return task(path, **options)
    except CaptureError as error:
        return error

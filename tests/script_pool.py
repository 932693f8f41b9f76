"""Script runs of a whole test module started together, two at a time in child processes; each test
then waits for its own run's outcome. A script run mostly waits on its own timeline, so two side by
side take about half the time of one after another. Each run gets the same one retry for a failure
that is only a timing error as a run in the test process did.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

WORKERS = 2


def run_with_one_timing_retry(path: str, target: str, options: dict[str, object]) -> None:
    """Run `path` against `target` ("kernel" or "rawkit"); raise the runner's ScriptFailure unless it
    passes (a timing miss gets one more go)."""
    from rawkit.script.runner import RunOptions, ScriptFailure, run_script

    if target == "rawkit":
        from rawkit.script.rawkit_target import RawkitTarget as make_target
    else:
        from rawkit.script.kernel_target import KernelTarget as make_target
    try:
        run_script(path, RunOptions(**options), make_target)  # type: ignore[arg-type]
    except ScriptFailure as failure:
        if "timing error" not in str(failure):
            raise
        run_script(path, RunOptions(**options), make_target)  # type: ignore[arg-type]


class ScriptPool:
    """Runs submitted up front (in the order given), outcomes collected by the tests."""

    def __init__(self) -> None:
        self._pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"))
        self._runs: dict[tuple, Future] = {}

    @staticmethod
    def _key(path: Path, target: str, options: dict[str, object]) -> tuple:
        return str(path), target, tuple(sorted(options.items()))

    def submit(self, path: Path, target: str, **options: object) -> None:
        key = self._key(path, target, options)
        if key not in self._runs:
            self._runs[key] = self._pool.submit(run_with_one_timing_retry, str(path), target, options)

    def outcome(self, path: Path, target: str, **options: object) -> None:
        """Wait for the run (submitting it now if it was not); raise what the run raised."""
        self.submit(path, target, **options)
        self._runs[self._key(path, target, options)].result(timeout=120)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

"""`rawkit script FILE.pkt --dry-run`: the printed timeline, and one-line errors with exit 2."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.test_script_parse_corpus import SCRIPTS, classify_lines, needs_corpus


def rawkit_script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rawkit", "script", *args], capture_output=True, text=True,
                          timeout=60)


@needs_corpus
def test_dry_run_prints_every_event_with_its_line() -> None:
    path = next(p for p in SCRIPTS if p.name == "ecn-uses-ect0.pkt")
    result = rawkit_script(str(path), "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = path.read_text().splitlines()
    rows = [re.match(r"\s*(\d+)  (\w+)\s+(.*)", row) for row in result.stdout.splitlines()[:-1]]
    events = [row for row in rows if row]
    for row in events:
        # each printed statement starts on the source line it names; packets keep their text as written
        source = lines[int(row.group(1)) - 1]
        if row.group(2) == "packet":
            assert source.split(None, 1)[1] in row.group(3)
    counts = classify_lines(path.read_text())
    assert result.stdout.splitlines()[-1].endswith(
        f"{counts['packet']} packet, {counts['syscall']} syscall, 1 shell, {counts['python']} python"
    )


def test_syntax_error_is_one_line_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.pkt"
    path.write_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
                    "+0 poll([{fd=3,\n events=POLLIN]}, 1, 0) = 1\n")
    result = rawkit_script(str(path), "--dry-run")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"rawkit: {path}:3: ']' closes '{{' opened at line 2\n"


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = rawkit_script(str(tmp_path / "missing.pkt"), "--dry-run")
    assert result.returncode == 2
    assert result.stderr == f"rawkit: {tmp_path / 'missing.pkt'}: No such file or directory\n"


def test_unknown_syscall_is_rejected_before_running_with_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.pkt"
    path.write_text("0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 frobnicate(3) = 0\n")
    result = rawkit_script(str(path))
    assert result.returncode == 2
    assert result.stderr == f"rawkit: {path}:2: unsupported system call frobnicate()\n"

"""Differential test: `rawkit read` against `tcpdump -nn -r` (TZ=UTC both sides), line by line.

Every bundled capture and a crafted corpus (test_tcpdump_diff_frames.py) go through both with each
flag combination tcpdump users type. At least 99% of tcpdump's lines must come out identical, and
every line that differs must be explained by an entry of KNOWN_DIFFERENCES (pattern, reason).
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner
from conftest import bundled_captures, needs_tool
from test_tcpdump_diff_frames import crafted_frames, write_pcaps

from rawkit.cli import cli

FLAG_SETS = [[], ["-e"], ["-v"], ["-vv"], ["-x"], ["-xx"], ["-X"], ["-XX"], ["-A"], ["-t"], ["-tt"],
             ["-ttt"], ["-tttt"], ["-ttttt"], ["-S"], ["-q"], ["-e", "-v"], ["-c", "7", "-e", "-tt"]]

# Each differing line (tcpdump's or rawkit's) must match one of these. Reasons say why it differs.
KNOWN_DIFFERENCES: list[tuple[str, str]] = [
    (r"mptcp", "MPTCP option details are not decoded"),
    (r"^\tEnd TLV", "LLDP TLVs are not decoded with -v"),
    (r"options \(timestamp", "IPv4 timestamp option contents are not decoded"),
    (r"dhcp6 \w+", "DHCPv6 with -v: rawkit.wire.tcpdump.dhcp6 prints the summary, not tcpdump's options"),
]
_KNOWN = [re.compile(pattern) for pattern, _ in KNOWN_DIFFERENCES]
# Captures tcpdump itself stops reading early: rawkit's extra lines there are expected.
KNOWN_UNREADABLE: dict[str, str] = {
    "several_linktypes.pcapng": "tcpdump 4.99 stops at a pcapng interface whose link type differs from "
                                "the first one's; rawkit reads every interface",
    "two_sections.pcapng": "libpcap 1.10 fails on a second pcapng section of the other byte order "
                           "('block size ... > maximum'); rawkit reads both sections",
}


@pytest.fixture(autouse=True, scope="module")
def utc():
    """tcpdump prints local time: both sides run with TZ=UTC."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if saved is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = saved
    time.tzset()


def tcpdump_lines(path, flags: list[str]) -> list[str]:
    """tcpdump's stdout; a gzip'd capture (which rawkit reads directly) reaches it through zcat."""
    env = {**os.environ, "TZ": "UTC"}
    if path.suffix == ".gz":
        unzipped = subprocess.run(["zcat", str(path)], capture_output=True, timeout=60).stdout
        result = subprocess.run(["tcpdump", "-nn", *flags, "-r", "-"], input=unzipped, capture_output=True,
                                env=env, timeout=60)
        return result.stdout.decode().splitlines()
    result = subprocess.run(["tcpdump", "-nn", *flags, "-r", str(path)], capture_output=True, text=True,
                            env=env, timeout=60)
    return result.stdout.splitlines()


def rawkit_lines(path, flags: list[str]) -> list[str]:
    result = CliRunner().invoke(cli, ["read", *flags, str(path)])
    return result.stdout.splitlines()


def compare(path, flags: list[str], expected: list[str]) -> tuple[int, int, list[str]]:
    """(identical lines, tcpdump's line count `expected`, differing lines no known difference explains)."""
    got = rawkit_lines(path, flags)
    matcher = difflib.SequenceMatcher(None, expected, got, autojunk=False)
    same = 0
    unexplained = []
    for op, start, stop, other_start, other_stop in matcher.get_opcodes():
        if op == "equal":
            same += stop - start
            continue
        if op == "insert" and path.name in KNOWN_UNREADABLE:
            continue
        for line in expected[start:stop] + got[other_start:other_stop]:
            if not any(pattern.search(line) for pattern in _KNOWN):
                unexplained.append(f"{path.name} {' '.join(flags)}: {line!r}")
    return same, len(expected), unexplained


def _sweep(paths) -> None:
    same = total = 0
    unexplained: list[str] = []
    runs = [(path, flags) for path in paths for flags in FLAG_SETS]
    # tcpdump runs two at a time in the background while rawkit reads the same file here
    with ThreadPoolExecutor(2) as pool:
        outputs = pool.map(lambda run: tcpdump_lines(*run), runs)
        for (path, flags), expected in zip(runs, outputs, strict=True):
            matched, lines, odd = compare(path, flags, expected)
            same += matched
            total += lines
            unexplained += odd
    assert total > 0
    assert not unexplained, "\n".join(unexplained[:40])
    assert same / total >= 0.99, f"{same}/{total} lines identical"


@needs_tool("tcpdump")
def test_bundled_captures_print_like_tcpdump():
    paths = bundled_captures()
    if not paths:
        pytest.skip("no bundled captures under captures/")
    _sweep(paths)


@needs_tool("tcpdump")
def test_crafted_frames_print_like_tcpdump(tmp_path):
    _sweep(write_pcaps(tmp_path, crafted_frames()))

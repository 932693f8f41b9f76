"""`rawkit replay` of the bundled lab capture into a veth is seen by tcpdump on the other end frame
for frame, byte for byte; the pace follows the file (or --speed); bad input is one line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_sniff_lab import housekeeping

import rawkit.pcap
from tests.conftest import CAPTURES, needs_root, needs_tool

RAWKIT = [sys.executable, "-m", "rawkit"]
LAB_CAPTURE = CAPTURES / "lab-traffic.pcap"


def frames(path: Path) -> list[tuple[bytes, int]]:
    with rawkit.pcap.open_capture(str(path)) as capture:
        return [(pkt.data, pkt.wirelen) for pkt in capture if not housekeeping(pkt.data)]


def file_duration(path: Path) -> float:
    with rawkit.pcap.open_capture(str(path)) as capture:
        stamps = [pkt.ts_ns for pkt in capture]
    return (stamps[-1] - stamps[0]) / 1e9


@pytest.fixture(scope="module")
def lab():
    from rawkit.link.netns import Lab

    with Lab(prefix="rkreplay") as made:
        a, b = made.namespace("a"), made.namespace("b")
        link = made.link(a, b)  # no addresses: b's kernel answers nothing it is sent
        yield a, b, link


def capture_replay(lab, tmp_path: Path, replay_flags: list[str]) -> tuple[list, subprocess.CompletedProcess]:
    a, b, link = lab
    seen, log = tmp_path / "seen.pcap", tmp_path / "tcpdump.log"
    tcpdump = b.spawn(["tcpdump", "-i", link.b.device, "-nn", "-U", "--immediate-mode", "-Q", "in",
                       "-Z", "root", "-w", str(seen)],
                      stderr=log, ready_text="listening on", timeout=10)
    result = a.run([*RAWKIT, "replay", "-i", link.a.device, *replay_flags, str(LAB_CAPTURE)], timeout=60)
    time.sleep(0.3)
    tcpdump.terminate()
    tcpdump.wait(timeout=10)
    return frames(seen), result


@needs_root
@needs_tool("tcpdump")
def test_replay_seen_identically(lab, tmp_path: Path) -> None:
    with rawkit.pcap.open_capture(str(LAB_CAPTURE)) as capture:
        every = [pkt.data for pkt in capture]
    seen, result = capture_replay(lab, tmp_path, ["--topspeed"])
    assert seen == frames(LAB_CAPTURE)
    assert result.stderr.startswith(f"{len(every)} packets sent ({sum(map(len, every))} bytes)")


@needs_root
@needs_tool("tcpdump")
def test_replay_keeps_the_pace(lab, tmp_path: Path) -> None:
    duration = file_duration(LAB_CAPTURE)
    started = time.monotonic()
    seen, _ = capture_replay(lab, tmp_path, ["--speed", "2"])
    elapsed = time.monotonic() - started
    assert seen == frames(LAB_CAPTURE)
    assert elapsed >= duration / 2


@needs_root
def test_replay_errors(lab, tmp_path: Path) -> None:
    a, _b, _link = lab
    missing = a.run([*RAWKIT, "replay", "-i", "nosuch0", str(LAB_CAPTURE)], check=False)
    assert missing.returncode == 2 and missing.stderr.startswith("rawkit: nosuch0: no such interface")
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture at all")
    bad = a.run([*RAWKIT, "replay", "-i", "lo", str(junk)], check=False)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and bad.stderr.startswith("rawkit: ")
    cooked = a.run([*RAWKIT, "replay", "-i", "lo", str(CAPTURES / "lab-any.pcap")], check=False)
    assert (cooked.returncode, cooked.stderr) == \
        (2, "rawkit: replay sends Ethernet or raw IP captures, not link type 276\n")

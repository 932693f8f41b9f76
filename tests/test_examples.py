"""The examples in examples/ run as documented: each server/client pair once in its own namespace lab
(`python3 examples/lab.py NAME`), and the lab is gone afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import needs_root

pytestmark = needs_root

ROOT = Path(__file__).resolve().parent.parent


def run_lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "examples" / "lab.py"), *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)


def lab_namespaces() -> set[str]:
    from rawkit.link.netns import our_namespaces

    return set(our_namespaces("rkex"))


@pytest.mark.parametrize("ipv6", [False, True], ids=["ipv4", "ipv6"])
def test_tcp_echo_pair(ipv6):
    before = lab_namespaces()
    result = run_lab("tcp_echo", *(["--ipv6"] if ipv6 else []))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, echo!\nsecond line\n"
    client = "fd00:18::20" if ipv6 else "198.18.0.20"
    assert f"connection from {client} port " in result.stderr
    assert f"closed {client} port " in result.stderr
    assert lab_namespaces() == before


def test_udp_hello_pair():
    before = lab_namespaces()
    result = run_lab("udp_hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello World!\n"
    assert "6 bytes from 198.18.0.20 port " in result.stderr
    assert lab_namespaces() == before

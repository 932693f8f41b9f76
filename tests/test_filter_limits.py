"""Filters larger than the compiler's passes can take: one clear error, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import rawkit.filter

CAPTURE = Path(__file__).parent.parent / "captures" / "lab-any.pcap"
CHAIN = " or ".join(f"port {number}" for number in range(1, 1201))


def test_a_very_long_chain_is_a_filter_error() -> None:
    with pytest.raises(rawkit.filter.FilterError, match="too complex"):
        rawkit.filter.compile(CHAIN, 1)


def test_deep_parentheses_are_a_filter_error() -> None:
    with pytest.raises(rawkit.filter.FilterError):
        rawkit.filter.compile("(" * 2000 + "tcp" + ")" * 2000, 1)


def test_read_reports_it_in_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "rawkit", "read", str(CAPTURE), CHAIN],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("rawkit:")]
    assert errors == ["rawkit: expression too complex (too deeply nested or too many chained terms)"]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_three_hundred_ports_compile_to_a_working_predicate() -> None:
    expression = "icmp or " + " or ".join(f"port {1000 + number}" for number in range(300))
    compiled = rawkit.filter.compile(expression, 1)
    frame = bytes(rawkit.Ether() / rawkit.IPv4(src="198.18.0.1", dst="198.18.0.2")
                  / rawkit.UDP(sport=5, dport=1299))
    other = bytes(rawkit.Ether() / rawkit.IPv4(src="198.18.0.1", dst="198.18.0.2")
                  / rawkit.UDP(sport=5, dport=1300))
    assert compiled.match(frame) and not compiled.match(other)

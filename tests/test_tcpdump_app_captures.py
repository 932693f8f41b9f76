"""DNS and HTTP one-liners on the bundled captures, packet by packet against tcpdump -nn."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

import rawkit.pcap
from rawkit.wire.tcpdump.dns import format_dns
from rawkit.wire.tcpdump.http import format_http
from tests.conftest import bundled_captures, needs_tool

_UDP_TEXT = re.compile(r"\S+\.\d+ > \S+\.\d+: (.*)$")
_TCP_TEXT = re.compile(r", length \d+(.*)$")
_CAPTURES = [path for path in bundled_captures("*.pcap") if "corrupt" not in path.parts]


def _ours(pkt) -> tuple[str, str] | None:
    """("udp"|"tcp", our text) for a whole packet on a DNS or HTTP port, else None."""
    if pkt.caplen != pkt.wirelen:
        return None
    if pkt.udp is not None and {53, 5353} & {pkt.udp.sport, pkt.udp.dport}:
        mdns = 5353 in (pkt.udp.sport, pkt.udp.dport)
        return "udp", format_dns(pkt.payload, False, 0, mdns=mdns)
    if pkt.tcp is not None and pkt.payload:
        ports = {pkt.tcp.sport, pkt.tcp.dport}
        if 53 in ports:
            return "tcp", format_dns(pkt.payload, True, 0)
        if ports & {80, 8080}:
            return "tcp", format_http(pkt.payload) or ""
    return None


def _tcpdump_lines(path) -> list[str]:
    """tcpdump -nn's text for each packet (continuation lines joined with a newline)."""
    output = subprocess.run(["tcpdump", "-nn", "-r", str(path)], capture_output=True, text=True,
                            env={**os.environ, "TZ": "UTC"}, check=False).stdout
    lines: list[str] = []
    for line in output.splitlines():
        if line.startswith((" ", "\t")) and lines:
            lines[-1] += "\n" + line
        else:
            lines.append(line)
    return lines


@needs_tool("tcpdump")
def test_bundled_captures_match_tcpdump() -> None:
    compared, mismatches = 0, []
    for path in _CAPTURES:
        lines = _tcpdump_lines(path)
        with rawkit.pcap.open_capture(str(path)) as capture:
            packets = list(capture)
        assert len(lines) == len(packets), path
        for pkt, line in zip(packets, lines, strict=True):
            ours = _ours(pkt)
            if ours is None:
                continue
            transport, text = ours
            first_line = line.split("\n")[0]
            theirs = (_UDP_TEXT if transport == "udp" else _TCP_TEXT).search(first_line).group(1)
            compared += 1
            if text != theirs:
                mismatches.append((path.name, first_line, text))
    if not compared:
        pytest.skip("no DNS or HTTP packets in the bundled captures")
    assert mismatches == []

"""The bundled captures: present, small, readable by the oracles, and the crafted ones reproducible."""

from __future__ import annotations

import importlib.util
import os
import re
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT, bundled_captures, needs_root, needs_tool

MAX_SIZE = 5 * 1024 * 1024
LAB_CAPTURES = ("lab-traffic.pcap", "lab-any.pcap")


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = load_tool("gen_captures")
OURS = [CAPTURES / name for name in LAB_CAPTURES]
OURS += [CAPTURES / "crafted" / name for name in GENERATOR.CAPTURES]
# SLL2 records carry interface indexes of the capturing machine; tcpdump says so when it prints them
HARMLESS = ("reading from file", "Warning: interface names might be incorrect")


def record_count(path: Path) -> int:
    """Records in a little- or big-endian classic pcap file, counted without any decoder."""
    data = path.read_bytes()
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    offset, count = 24, 0
    while offset + 16 <= len(data):
        caplen = struct.unpack_from(f"{endian}I", data, offset + 8)[0]
        offset += 16 + caplen
        count += 1
    assert offset == len(data), f"{path.name}: records do not end at the end of the file"
    return count


def test_every_capture_is_present() -> None:
    missing = [path.name for path in OURS if not path.is_file()]
    assert not missing


@pytest.mark.parametrize("path", bundled_captures(), ids=lambda path: str(path.relative_to(CAPTURES)))
def test_bundled_capture_is_small(path: Path) -> None:
    assert 0 < path.stat().st_size < MAX_SIZE


@needs_tool("tcpdump")
@pytest.mark.parametrize("path", OURS, ids=lambda path: path.name)
def test_tcpdump_reads_it(path: Path) -> None:
    result = subprocess.run(["tcpdump", "-nn", "-r", str(path)], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "TZ": "UTC"})
    assert result.returncode == 0, result.stderr
    complaints = [line for line in result.stderr.splitlines() if not line.startswith(HARMLESS)]
    assert not complaints
    assert result.stdout


@needs_tool("tshark")
@pytest.mark.parametrize("path", OURS, ids=lambda path: path.name)
def test_tshark_reads_every_record(path: Path) -> None:
    result = subprocess.run(["tshark", "-n", "-r", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == record_count(path)
    malformed = [line for line in result.stdout.splitlines() if "Malformed" in line]
    if path.name == "malformed.pcap":
        assert malformed, "tshark finds nothing wrong in the malformed capture"
    else:
        assert not malformed


def test_lab_captures_have_their_link_types() -> None:
    linktypes = {name: struct.unpack_from("<I", (CAPTURES / name).read_bytes(), 20)[0]
                 for name in LAB_CAPTURES}
    assert linktypes == {"lab-traffic.pcap": 1, "lab-any.pcap": 276}


def test_regenerating_the_crafted_captures_gives_the_same_bytes(tmp_path: Path) -> None:
    for path in GENERATOR.generate(tmp_path):
        committed = CAPTURES / "crafted" / path.name
        assert path.read_bytes() == committed.read_bytes(), f"{path.name} differs from the committed file"


# what tcpdump must find in a lab recording: each exchange tools/record_lab.py makes
LAB_EXCHANGES = {
    "ARP request": r"ARP, Request who-has 198\.18\.0\.2 tell 198\.18\.0\.1",
    "ARP reply": r"ARP, Reply 198\.18\.0\.2 is-at",
    "neighbour solicitation": r"neighbor solicitation, who has fd00:18::2",
    "neighbour advertisement": r"neighbor advertisement, tgt is fd00:18::2",
    "ping": r"198\.18\.0\.2 > 198\.18\.0\.1: ICMP echo reply",
    "ping6": r"fd00:18::2 > fd00:18::1: ICMP6, echo reply",
    "IPv4 fragment": r"198\.18\.0\.1 > 198\.18\.0\.2: ip-proto-1",
    "IPv6 fragment": r"fd00:18::1 > fd00:18::2: frag \(1448\|1448\)",
    "HTTP over IPv4": r"198\.18\.0\.2\.80 > 198\.18\.0\.1\.\d+: .*HTTP: HTTP/1\.0 200 OK",
    "HTTP 404 over IPv6": r"fd00:18::2\.80 > fd00:18::1\.\d+: .*HTTP: HTTP/1\.0 404",
    "client FIN": r"198\.18\.0\.1\.\d+ > 198\.18\.0\.2\.80: Flags \[F\.\]",
    "server FIN": r"198\.18\.0\.2\.80 > 198\.18\.0\.1\.\d+: Flags \[F\.\]",
    "RST": r"198\.18\.0\.2\.81 > 198\.18\.0\.1\.\d+: Flags \[R\.\]",
    "RST over IPv6": r"fd00:18::2\.81 > fd00:18::1\.\d+: Flags \[R\.\]",
    "port unreachable": r"ICMP 198\.18\.0\.2 udp port 9 unreachable",
    "port unreachable over IPv6": r"unreachable port, fd00:18::2 udp port 9",
    "DNS A answer": r"198\.18\.0\.2\.53 > 198\.18\.0\.1\.\d+: \d+ 1/0/0 A 198\.18\.0\.2",
    "DNS AAAA answer over IPv6": r"fd00:18::2\.53 > fd00:18::1\.\d+: \d+ 1/0/0 AAAA fd00:18::2",
}


LOOPBACK_EXCHANGES = {
    "loopback port unreachable": r"lo\s+In\s+IP 127\.0\.0\.1 > 127\.0\.0\.1: ICMP 127\.0\.0\.1 udp port 9",
    "loopback ping6": r"lo\s+In\s+IP6 ::1 > ::1: ICMP6, echo reply",
}


def missing_exchanges(path: Path) -> list[str]:
    text = subprocess.run(["tcpdump", "-nn", "-r", str(path)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TZ": "UTC"}).stdout
    expected = LAB_EXCHANGES | (LOOPBACK_EXCHANGES if path.name == "lab-any.pcap" else {})
    return [name for name, pattern in expected.items() if not re.search(pattern, text)]


@needs_tool("tcpdump")
@pytest.mark.parametrize("name", LAB_CAPTURES)
def test_lab_capture_holds_every_exchange(name: str) -> None:
    assert missing_exchanges(CAPTURES / name) == []


@pytest.mark.lab
@needs_root
@needs_tool("tcpdump")
@needs_tool("curl")
def test_record_lab_records_every_exchange_again(tmp_path: Path) -> None:
    assert load_tool("record_lab").main(["--output-dir", str(tmp_path)]) == 0
    for name in LAB_CAPTURES:
        assert missing_exchanges(tmp_path / name) == []
        assert (tmp_path / name).stat().st_size < MAX_SIZE

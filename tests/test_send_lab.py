"""`rawkit send` in a namespace lab: what tcpdump sees arrive on the peer is what `--dry-run` printed
(same tcpdump lines), for ICMP echo (v4, v6), TCP with options, UDP with payload, ARP, and a
VLAN-tagged frame at layer 2; errors are one line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rawkit
import rawkit.pcap
from tests.conftest import needs_root, needs_tool

RAWKIT = [sys.executable, "-m", "rawkit"]
A_V4, B_V4 = "198.18.2.1", "198.18.2.2"
A_V6, B_V6 = "fd00:18:2::1", "fd00:18:2::2"


@pytest.fixture(scope="module")
def lab():
    from rawkit.link.netns import Lab

    with Lab(prefix="rksend") as made:
        a, b = made.namespace("a"), made.namespace("b")
        link = made.link(a, b, ipv4=(f"{A_V4}/24", f"{B_V4}/24"), ipv6=(f"{A_V6}/64", f"{B_V6}/64"))
        yield a, b, link


def bodies(lines: str) -> list[str]:
    """tcpdump lines without their timestamps."""
    return [line.split(" ", 1)[1] for line in lines.splitlines() if line.strip()]


def sent_and_seen(lab, tmp_path: Path, arguments: list[str], expression: str) -> tuple[list[str], list[str]]:
    a, b, link = lab
    seen, log = tmp_path / "seen.pcap", tmp_path / "log"
    tcpdump = b.spawn(["tcpdump", "-i", link.b.device, "-nn", "-U", "--immediate-mode", "-Q", "in",
                       "-Z", "root", "-w", str(seen), expression],
                      stderr=log, ready_text="listening on", timeout=10)
    command = [*RAWKIT, "send", "-i", link.a.device, *arguments]
    planned = a.run([*command, "--dry-run"]).stdout
    result = a.run(command)
    time.sleep(0.3)
    tcpdump.terminate()
    tcpdump.wait(timeout=10)
    printed = subprocess.run(["tcpdump", "-nn", "-r", str(seen)], capture_output=True, text=True, check=True,
                             env={**os.environ, "TZ": "UTC"})
    assert result.stderr.endswith(" sent\n")
    return bodies(planned), bodies(printed.stdout)


CASES = {
    "icmp4": (["icmp", B_V4, "--icmp-id", "77", "--count", "3", "--interval", "0.05", "--payload", "hello"],
              "icmp"),
    "icmp6": (["icmp", B_V6, "--icmp-id", "78", "--count", "2", "--interval", "0"],
              "icmp6 and ip6[40] = 128"),
    "tcp": (["tcp", B_V4, "--sport", "40001", "--dport", "8080", "--seq", "1234", "--flags", "S",
             "--mss", "1460", "--sack-ok", "--timestamp", "100:0", "--wscale", "7"], "tcp"),
    "tcp6-data": (["tcp", B_V6, "--sport", "40002", "--dport", "9000", "--seq", "5", "--ack", "9",
                   "--flags", "PA", "--payload", "data!"], "tcp"),
    "udp6": (["udp", B_V6, "--sport", "5353", "--dport", "7777", "--payload-hex", "deadbeef"], "udp"),
    "arp": (["arp", B_V4, "--src", A_V4], "arp and arp[6:2] = 1"),
}


@needs_root
@needs_tool("tcpdump")
@pytest.mark.parametrize("case", sorted(CASES))
def test_peer_sees_what_dry_run_printed(lab, tmp_path: Path, case: str) -> None:
    arguments, expression = CASES[case]
    planned, seen = sent_and_seen(lab, tmp_path, arguments, expression)
    assert seen == planned and seen


@needs_root
@needs_tool("tcpdump")
def test_vlan_tagged_layer2(lab, tmp_path: Path) -> None:
    a, b, link = lab
    seen_path, log = tmp_path / "seen.pcap", tmp_path / "log"
    tcpdump = b.spawn(["tcpdump", "-i", link.b.device, "-nn", "-U", "--immediate-mode", "-Z", "root", "-w",
                       str(seen_path), "vlan"], stderr=log, ready_text="listening on", timeout=10)
    a.run([*RAWKIT, "send", "-i", link.a.device, "udp", B_V4, "--dst-mac", link.b.mac, "--vlan", "42",
           "--sport", "1", "--dport", "2", "--payload", "tagged", "--count", "2", "--interval", "0"])
    time.sleep(0.3)
    tcpdump.terminate()
    tcpdump.wait(timeout=10)
    with rawkit.pcap.open_capture(str(seen_path)) as capture:
        packets = list(capture)
    assert len(packets) == 2
    for pkt in packets:
        assert [tag.vid for tag in pkt.vlans] == [42]
        assert pkt.eth.dst == link.b.mac and pkt.eth.src == link.a.mac
        assert pkt.udp.dport == 2 and pkt.payload == b"tagged"


@needs_root
def test_send_errors(lab) -> None:
    a, _b, _link = lab
    unprivileged = a.run(["setpriv", "--inh-caps=-all", "--bounding-set=-all", *RAWKIT, "send", "-i", "lo",
                          "icmp", "127.0.0.1"], check=False)
    assert (unprivileged.returncode, unprivileged.stderr) == \
        (2, "rawkit: send needs root or CAP_NET_RAW (Operation not permitted)\n")
    for arguments, wanted in ((["icmp", "not-an-address"], "is not an IP address"),
                              (["arp", "::1"], "arp needs an IPv4 destination"),
                              (["udp", "127.0.0.1", "--payload-hex", "xyz"], "hex digits"),
                              (["tcp", "127.0.0.1", "--flags", "Q"], "cannot build the frame")):
        result = a.run([*RAWKIT, "send", "-i", "lo", *arguments], check=False)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert wanted in result.stderr

"""`rawkit sniff --workers N -w FILE` (PACKET_FANOUT): the merged file holds the same frames as tcpdump
captured at the same time on the same veth, the counts add up, and the part files are gone."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from test_sniff_lab import (
    A_V4,
    A_V6,
    B_V4,
    B_V6,
    SNIFF,
    counts,
    records,
    send_mix,
    stop,
    traffic_mix,
    wait_listening,
)

import rawkit
import rawkit.pcap
from tests.conftest import needs_root, needs_tool


@pytest.fixture(scope="module")
def lab():
    from rawkit.link.netns import Lab

    with Lab(prefix="rkfan") as made:
        a, b = made.namespace("a"), made.namespace("b")
        link = made.link(a, b, ipv4=(f"{A_V4}/24", f"{B_V4}/24"), ipv6=(f"{A_V6}/64", f"{B_V6}/64"))
        yield a, b, link


def many_flows(src_mac: str, dst_mac: str) -> list[bytes]:
    eth = rawkit.Ether(src=src_mac, dst=dst_mac)
    return [bytes(eth / rawkit.IPv4(src=A_V4, dst=B_V4) / rawkit.UDP(sport=1000 + flow, dport=2000)
                  / (b"%d" % number))
            for number in range(10) for flow in range(30)]


@needs_root
@needs_tool("tcpdump")
@pytest.mark.parametrize("form", [[], ["--pcapng"]], ids=["pcap", "pcapng"])
def test_workers_capture_what_tcpdump_captures(lab, tmp_path: Path, form: list[str]) -> None:
    a, b, link = lab
    ours, theirs = tmp_path / "ours", tmp_path / "theirs.pcap"
    our_log, their_log = tmp_path / "ours.log", tmp_path / "theirs.log"
    process = b.spawn([*SNIFF, "-i", link.b.device, "--workers", "3", "-w", str(ours), *form], stderr=our_log)
    tcpdump = b.spawn(["tcpdump", "-i", link.b.device, "-nn", "-U", "--immediate-mode", "-Z", "root",
                       "-w", str(theirs)], stderr=their_log)
    wait_listening(process, our_log)
    wait_listening(tcpdump, their_log)
    send_mix(a, link.a.device, many_flows(link.a.mac, link.b.mac) + traffic_mix(link.a.mac, link.b.mac))
    time.sleep(0.3)
    assert stop(process, signal.SIGTERM) == 0
    stop(tcpdump)
    mine, reference = records(ours), records(theirs)
    assert len(reference) >= 348
    assert sorted(mine) == sorted(reference)
    captured, received, dropped = counts(our_log.read_text())
    with rawkit.pcap.open_capture(str(ours)) as capture:
        assert captured == sum(1 for _ in capture)
    assert dropped == 0 and received >= captured
    assert not list(tmp_path.glob("ours.worker*"))


@needs_root
def test_workers_usage(lab) -> None:
    _a, b, link = lab
    result = b.run([*SNIFF, "-i", link.b.device, "--workers", "2"], check=False)
    assert result.returncode == 2 and "--workers needs -w FILE" in result.stderr

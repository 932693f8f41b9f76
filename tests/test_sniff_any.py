"""`rawkit sniff` on `-i any` (Linux cooked v2 frames) and on loopback against tcpdump at the same
time, a short snap length, and promiscuous mode by membership (off with -p). Only interfaces
inside namespaces made here are captured on."""

from __future__ import annotations

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
    start_both,
    stop,
    traffic_mix,
    wait_listening,
)

import rawkit.pcap
from tests.conftest import needs_root, needs_tool


@pytest.fixture(scope="module")
def lab():
    from rawkit.link.netns import Lab

    with Lab(prefix="rkany") as made:
        a, b = made.namespace("a"), made.namespace("b")
        link = made.link(a, b, ipv4=(f"{A_V4}/24", f"{B_V4}/24"), ipv6=(f"{A_V6}/64", f"{B_V6}/64"))
        yield a, b, link


def sll2_records(path: Path) -> list[tuple[bytes, int]]:
    """Records without the kernel's IPv6 housekeeping (MLD, router solicitations)."""
    kept = []
    with rawkit.pcap.open_capture(str(path)) as capture:
        for pkt in capture:
            if pkt.icmp6 is not None and pkt.icmp6.type in (131, 133, 143):
                continue
            kept.append((pkt.data, pkt.wirelen))
    return kept


@needs_root
@needs_tool("tcpdump")
@needs_tool("ping")
@pytest.mark.parametrize("words", [[], ["icmp or udp"], ["tcp[tcpflags] & tcp-syn != 0 or arp"],
                                   ["len > 100"]], ids=["all", "icmp-udp", "syn-arp", "len"])
def test_any_gives_the_same_cooked_frames_as_tcpdump(lab, tmp_path: Path, words: list[str]) -> None:
    a, b, link = lab
    (ours, our_file, our_log), (theirs, their_file, their_log) = start_both(b, "any", tmp_path, words)
    send_mix(a, link.a.device, traffic_mix(link.a.mac, link.b.mac)[:40])
    a.run(["ping", "-c", "2", "-i", "0.05", B_V4])
    b.run(["ping", "-c", "2", "-i", "0.05", "127.0.0.1"])  # loopback: seen once, not twice
    time.sleep(0.3)
    assert stop(ours) == 0
    stop(theirs)
    mine, reference = sll2_records(our_file), sll2_records(their_file)
    assert reference and mine == reference
    if words:  # the kernel (or, for `len`, our own filter) passed what tcpdump's program passed
        assert counts(our_log.read_text())[1] == counts(their_log.read_text())[1]
    with rawkit.pcap.open_capture(str(our_file)) as capture:
        assert capture.linktype == 276


@needs_root
@needs_tool("tcpdump")
@needs_tool("ping")
def test_loopback_same_as_tcpdump(lab, tmp_path: Path) -> None:
    _a, b, _link = lab
    (ours, our_file, _), (theirs, their_file, _) = start_both(b, "lo", tmp_path, [])
    b.run(["ping", "-c", "3", "-i", "0.05", "127.0.0.1"])
    b.run(["ping", "-c", "2", "-i", "0.05", "::1"])
    time.sleep(0.3)
    assert stop(ours) == 0
    stop(theirs)
    mine, reference = records(our_file), records(their_file)
    assert len(reference) == 10 and mine == reference


@needs_root
@needs_tool("ping")
def test_snap_length_and_promiscuous_membership(lab, tmp_path: Path) -> None:
    a, b, link = lab
    path, log = tmp_path / "cut.pcap", tmp_path / "log"
    process = b.spawn([*SNIFF, "-i", link.b.device, "-s", "60", "-w", str(path), "icmp"], stderr=log)
    wait_listening(process, log)
    assert "promiscuity 1" in b.run(["ip", "-d", "link", "show", link.b.device]).stdout
    a.run(["ping", "-c", "2", "-i", "0.05", "-s", "500", B_V4])
    time.sleep(0.3)
    assert stop(process) == 0
    assert "promiscuity 0" in b.run(["ip", "-d", "link", "show", link.b.device]).stdout
    with rawkit.pcap.open_capture(str(path)) as capture:
        packets = list(capture)
        assert capture.snaplen == 60
    assert len(packets) == 4 == counts(log.read_text())[0]
    assert all(len(pkt.data) == 60 and pkt.wirelen == 542 for pkt in packets)
    process = b.spawn([*SNIFF, "-i", link.b.device, "-p", "-c", "1", "-w", str(path)], stderr=log)
    wait_listening(process, log)
    assert "promiscuity 0" in b.run(["ip", "-d", "link", "show", link.b.device]).stdout
    process.kill()
    process.wait()

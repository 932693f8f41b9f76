"""rawkit.link capture pieces: ring geometry and VLAN restoration (pure), and in a lab: frames sent
are the frames captured byte for byte (802.1Q and QinQ tags restored from the ring's metadata),
nanosecond timestamps, direction, and kernel statistics counting drops when the ring overflows."""

from __future__ import annotations

import mmap
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rawkit
import rawkit.filter
from rawkit.link.ring import restore_vlan, ring_geometry
from tests.conftest import needs_root


@given(st.integers(1, 1 << 30), st.integers(1, 1 << 24))
def test_ring_geometry_is_valid(buffer_bytes: int, block_size: int) -> None:
    size, count = ring_geometry(buffer_bytes, block_size)
    assert size % mmap.PAGESIZE == 0 and size & (size - 1) == 0
    assert count >= 2
    assert size * count <= max(buffer_bytes, 2 * mmap.PAGESIZE) or size == mmap.PAGESIZE


def test_restore_vlan_puts_the_tag_after_the_addresses() -> None:
    untagged = bytes(rawkit.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / rawkit.IPv4() / b"x")
    tagged = bytes(rawkit.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                   / rawkit.Dot1Q(vid=300, pcp=5) / rawkit.IPv4() / b"x")
    tci = 5 << 13 | 300
    assert restore_vlan(untagged, len(untagged), 0x8100, tci, 1) == (tagged, len(tagged))
    assert restore_vlan(untagged, 99, 0x8100, tci, 0xFFFE) == (untagged, 99)  # not Ethernet: unchanged


@pytest.fixture(scope="module")
def lab():
    from rawkit.link.netns import Lab

    with Lab(prefix="rkcap") as made:
        a, b = made.namespace("a"), made.namespace("b")
        link = made.link(a, b, ipv4=("198.18.4.1/24", "198.18.4.2/24"))
        yield a, b, link


def send_frames(namespace, device: str, frames: list[bytes]) -> None:
    from rawkit.link.send import FrameSender

    def run() -> None:
        with FrameSender(device) as out:
            for frame in frames:
                out.send(frame)

    namespace.call(run)


def collect(capture, expected: int, timeout: float = 3.0) -> list:
    frames: list = []
    deadline = time.monotonic() + timeout
    while len(frames) < expected and time.monotonic() < deadline:
        if capture.wait(0.1):
            frames.extend(capture.frames())
    return frames


@needs_root
def test_captured_bytes_are_the_sent_bytes(lab) -> None:
    from rawkit.link.packet_socket import Capture

    a, b, link = lab
    eth = rawkit.Ether(src=link.a.mac, dst=link.b.mac)
    udp = rawkit.IPv4(src="198.18.4.1", dst="198.18.4.2") / rawkit.UDP(sport=1, dport=7) / b"payload"
    sent = [bytes(eth / udp), bytes(eth / rawkit.Dot1Q(vid=7, pcp=3) / udp),
            bytes(eth / rawkit.Dot1AD(vid=100) / rawkit.Dot1Q(vid=200) / udp),
            bytes(eth / rawkit.Dot1Q(vid=0, pcp=1) / udp)]
    capture = b.call(Capture, link.b.device)
    before = time.time_ns()
    send_frames(a, link.a.device, sent)
    got = [frame for frame in collect(capture, len(sent))
           if (udp_seen := rawkit.decode(frame.data).udp) is not None and udp_seen.dport == 7]
    assert [frame.data for frame in got] == sent
    assert [frame.wirelen for frame in got] == [len(frame) for frame in sent]
    assert all(before <= frame.ts_ns <= time.time_ns() for frame in got)
    assert any(frame.ts_ns % 1000 for frame in got)  # nanoseconds, not microseconds
    assert all(not frame.outgoing for frame in got)
    stats = capture.stats()
    assert stats.dropped == 0 and stats.received >= len(sent)
    capture.close()


@needs_root
def test_direction_out_sees_only_our_sends(lab) -> None:
    from rawkit.link.packet_socket import Capture

    a, b, link = lab
    capture = a.call(Capture, link.a.device, direction="out")
    frame = bytes(rawkit.Ether(src=link.a.mac, dst=link.b.mac)
                  / rawkit.IPv4(src="198.18.4.1", dst="198.18.4.2") / rawkit.UDP(sport=3, dport=4))
    send_frames(a, link.a.device, [frame])
    send_frames(b, link.b.device, [frame])  # arrives at a: incoming, not kept
    got = collect(capture, 1)
    time.sleep(0.2)
    got += list(capture.frames())
    assert [item.data for item in got if item.data[12:14] == b"\x08\x00"] == [frame]
    assert all(item.outgoing for item in got)
    capture.close()


@needs_root
def test_statistics_count_drops_of_a_full_ring(lab) -> None:
    from rawkit.link.packet_socket import Capture

    a, b, link = lab
    program = rawkit.filter.compile("udp port 5", 1).bpf()
    capture = b.call(Capture, link.b.device, buffer_bytes=2 * mmap.PAGESIZE, block_size=mmap.PAGESIZE,
                     program=program)
    frame = bytes(rawkit.Ether(src=link.a.mac, dst=link.b.mac)
                  / rawkit.IPv4(src="198.18.4.1", dst="198.18.4.2") / rawkit.UDP(sport=5, dport=5)
                  / bytes(200))
    send_frames(a, link.a.device, [frame] * 200)  # two 4 KiB blocks hold far fewer: the rest drop
    time.sleep(0.2)
    kept = len(collect(capture, 200, timeout=0.5))
    stats = capture.stats()
    assert stats.dropped > 0
    assert stats.received == 200 and kept + stats.dropped == 200
    capture.close()


@needs_root
def test_unknown_interface(lab) -> None:
    from rawkit.link.interfaces import UnknownInterface
    from rawkit.link.packet_socket import Capture

    _a, b, _link = lab
    with pytest.raises(UnknownInterface, match="nosuch0: no such interface"):
        b.call(Capture, "nosuch0")

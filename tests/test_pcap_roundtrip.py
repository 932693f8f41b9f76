"""Writers and readers together: what rawkit writes it reads back unchanged, oracles read it too,
and every way of feeding a reader (mapped file, stream in tiny reads, stdin, gzip) agrees."""

from __future__ import annotations

import gzip
import io
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, needs_tool
from test_pcap_files import rawkit_records, tcpdump_records, tshark_records

import rawkit
from rawkit.pcap import CaptureError, PcapNgWriter, PcapWriter, open_capture

FRAMES = [
    bytes(rawkit.Ether() / rawkit.IPv4(src="198.18.0.1", dst="198.18.0.2") / rawkit.TCP(flags="S")),
    bytes(rawkit.Ether() / rawkit.IPv4(src="198.18.0.2", dst="198.18.0.1") / rawkit.UDP() / (b"x" * 300)),
    bytes(rawkit.Ether() / rawkit.IPv6(src="fd00:18::1", dst="fd00:18::2") / rawkit.ICMPv6() / b"abc"),
]
STAMPS = [1_700_000_000_123_456_789, 1_700_000_000_999_999_999, 4_000_000_000_000_000_001]


class Trickle(io.RawIOBase):
    """A stream that hands out at most `step` bytes per read, as a pipe may."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self._data, self._offset, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._offset:self._offset + size]
        self._offset += len(chunk)
        return chunk


def read_all(source) -> tuple[list[tuple], str | None]:
    """Everything a reader gives: records with metadata, then the error message if any."""
    packets = []
    try:
        with open_capture(source) as capture:
            for pkt in capture:
                packets.append((pkt.ts_ns, pkt.wirelen, pkt.data, pkt.linktype, pkt.interface, pkt.comments,
                                pkt.epb_flags))
    except CaptureError as error:
        return packets, str(error)
    return packets, None


@pytest.mark.parametrize("byte_order", ["<", ">"])
@pytest.mark.parametrize("nanosecond", [False, True])
def test_pcap_round_trip(tmp_path: Path, byte_order: str, nanosecond: bool) -> None:
    path = tmp_path / "x.pcap"
    with PcapWriter(path, snaplen=200, nanosecond=nanosecond, byte_order=byte_order) as writer:
        for frame, stamp in zip(FRAMES, STAMPS, strict=True):
            writer.write(frame, stamp)
        writer.write_packet(rawkit.decode(FRAMES[0], 1, 5_000, wirelen=1000))
    with open_capture(path) as capture:
        assert (capture.format, capture.linktype, capture.snaplen, capture.nanosecond) == \
            ("pcap", 1, 200, nanosecond)
        packets = list(capture)
    unit = 1 if nanosecond else 1000
    assert [pkt.ts_ns for pkt in packets] == [stamp // unit * unit for stamp in [*STAMPS, 5_000]]
    assert [pkt.data for pkt in packets] == [frame[:200] for frame in [*FRAMES, FRAMES[0]]]
    assert [pkt.wirelen for pkt in packets] == [*map(len, FRAMES), 1000]


def test_pcap_writer_refuses_other_linktype() -> None:
    with PcapWriter(io.BytesIO()) as writer, pytest.raises(ValueError, match="one link type"):
        writer.write_packet(rawkit.decode(FRAMES[0][14:], rawkit.LINKTYPE_RAW))


@pytest.mark.parametrize("byte_order", ["<", ">"])
def test_pcapng_round_trip(tmp_path: Path, byte_order: str) -> None:
    path = tmp_path / "x.pcapng"
    with PcapNgWriter(path, byte_order=byte_order) as writer:
        assert writer.add_interface(1, name="veth0") == 0
        assert writer.add_interface(101, snaplen=100, tsresol_ns=False) == 1
        assert writer.add_interface(113, ts_resolution=2**24, ts_offset=-3600) == 2
        writer.write(FRAMES[0], STAMPS[0], comment="hello", flags=1)
        writer.write(FRAMES[1][14:], STAMPS[1], interface=1, comment=["a", "b"], flags=2)
        writer.write(FRAMES[2], STAMPS[2], interface=0, wirelen=9000)
        writer.write(b"\0" * 16 + FRAMES[0][14:], 1_000_000_000, interface=2)
    with open_capture(path) as capture:
        assert capture.format == "pcapng" and capture.linktype == 1 and capture.nanosecond
        described = [(interface.linktype, interface.snaplen, interface.name, interface.ts_resolution,
                      interface.ts_offset) for interface in capture.interfaces]
        assert described == [(1, 262144, "veth0", 10**9, 0), (101, 100, None, 10**6, 0),
                             (113, 262144, None, 2**24, -3600)]
        packets = list(capture)
    assert [(pkt.interface, pkt.linktype, pkt.comments, pkt.epb_flags) for pkt in packets] == [
        (0, 1, ("hello",), 1), (1, 101, ("a", "b"), 2), (0, 1, (), None), (2, 113, (), None)]
    assert [pkt.ts_ns for pkt in packets] == [STAMPS[0], STAMPS[1] // 1000 * 1000, STAMPS[2], 1_000_000_000]
    assert packets[1].data == FRAMES[1][14:114] and packets[1].wirelen == len(FRAMES[1]) - 14
    assert packets[2].wirelen == 9000


@pytest.mark.parametrize("path", sorted((CAPTURES / "formats").iterdir()), ids=lambda path: path.name)
def test_copy_through_writers(path: Path, tmp_path: Path) -> None:
    """Reading a capture and writing its packets with write_packet keeps everything."""
    original, error = read_all(path)
    assert error is None
    copy = tmp_path / "copy.pcapng"
    with open_capture(path) as capture, PcapNgWriter(copy) as writer:
        for pkt in capture:
            for interface in capture.interfaces[len(writer.interfaces):]:  # as each section describes them
                writer.add_interface(interface.linktype, interface.snaplen, interface.name)
            writer.write_packet(pkt)
    copied, error = read_all(copy)
    assert error is None
    expected = [(stamp, wirelen, data, linktype, interface or 0, comments, flags)
                for stamp, wirelen, data, linktype, interface, comments, flags in original]
    assert copied == expected


@needs_tool("tshark")
@needs_tool("tcpdump")
def test_oracles_read_what_rawkit_writes(tmp_path: Path) -> None:
    pcapng, pcap = tmp_path / "w.pcapng", tmp_path / "w.pcap"
    with PcapNgWriter(pcapng) as ng_writer, PcapWriter(pcap, nanosecond=True) as writer:
        ng_writer.add_interface(1)
        for number, (frame, stamp) in enumerate(zip(FRAMES * 3, STAMPS * 3, strict=True)):
            ng_writer.write(frame, stamp + number, comment=f"packet {number}", flags=number % 3)
            writer.write(frame, stamp + number, wirelen=len(frame) + number)
    for path in (pcapng, pcap):
        ours, error = rawkit_records(path)
        assert error is None and len(ours) == 9
        assert tshark_records(path) == ours
        assert tcpdump_records(path, tmp_path)[0] == ours


ALL_FILES = sorted((CAPTURES / "formats").iterdir()) + sorted((CAPTURES / "corrupt").iterdir())


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda path: path.name)
def test_streams_agree_with_mapped_files(path: Path) -> None:
    """Tiny reads exercise every refill boundary: same packets, same error, same byte offset."""
    mapped = read_all(path)
    streamed = read_all(Trickle(path.read_bytes()))
    assert streamed[0] == mapped[0]
    assert (streamed[1] or "").replace("<stream>", str(path)) == (mapped[1] or "")


def test_gzip_stream_and_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = CAPTURES / "formats" / "two_sections.pcapng"
    expected = read_all(plain)
    assert read_all(io.BytesIO(gzip.compress(plain.read_bytes()))) == expected
    assert read_all(Trickle(gzip.compress(plain.read_bytes()), 3)) == expected
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(plain.read_bytes())))
    with open_capture("-") as capture:
        assert capture.name == "stdin" and len(list(capture)) == len(expected[0])


def test_stdin_from_a_pipe() -> None:
    source = CAPTURES / "formats" / "comments_flags.pcapng"
    script = "import rawkit.pcap as p; print(sum(1 for _ in p.open_capture('-')))"
    done = subprocess.run([sys.executable, "-c", script], input=source.read_bytes(), capture_output=True,
                          timeout=60)
    assert done.stdout.strip() == str(len(read_all(source)[0])).encode(), done.stderr


def test_read_yields_decoded_packets() -> None:
    packets = list(rawkit.read(CAPTURES / "formats" / "several_linktypes.pcapng"))
    assert len(packets) == 12 and all(pkt.ip is not None for pkt in packets)
    tcp = list(rawkit.read(CAPTURES / "formats" / "several_linktypes.pcapng", filter="tcp"))
    assert [pkt.data for pkt in tcp] == [pkt.data for pkt in packets if pkt.tcp is not None]


def test_open_errors_are_capture_errors(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="missing.pcap: No such file"):
        open_capture(tmp_path / "missing.pcap")
    (tmp_path / "empty.pcap").write_bytes(b"")
    with pytest.raises(CaptureError, match="empty.pcap: empty file"):
        open_capture(tmp_path / "empty.pcap")
    (tmp_path / "short.pcapng").write_bytes(b"\x0a\x0d\x0d\x0a\x1c\x00")
    with pytest.raises(CaptureError, match="short.pcapng: truncated pcapng section header at byte 0"):
        open_capture(tmp_path / "short.pcapng")
    (tmp_path / "order.pcapng").write_bytes(b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00abcd" + bytes(16))
    with pytest.raises(CaptureError, match="order.pcapng: bad byte-order magic 61626364 .* at byte 8"):
        open_capture(tmp_path / "order.pcapng")


def test_close_stops_iteration() -> None:
    capture = open_capture(CAPTURES / "formats" / "two_sections.pcapng")
    next(capture)
    capture.close()
    assert list(capture) == []

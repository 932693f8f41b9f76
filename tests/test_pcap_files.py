"""The bundled format and corrupt captures, read by rawkit and by the oracles (tshark, tcpdump).

Every captures/formats/ file must give the same packets (timestamp in ns, wire length, captured
length) as tshark and as tcpdump (which re-writes what libpcap delivered with -w, read back here
with a few lines of struct). Every captures/corrupt/ file must give exactly the packets tcpdump
gives before its error, then a CaptureError naming the file and the byte offset.
"""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest
from conftest import CAPTURES, bundled_captures, needs_tool

from rawkit.pcap import CaptureError, open_capture

FORMATS = sorted((CAPTURES / "formats").iterdir())
CORRUPT = sorted((CAPTURES / "corrupt").iterdir())
# libpcap cannot read these whole: the packets tcpdump gives must be a prefix of ours
LIBPCAP_LIMITS = {
    "several_linktypes.pcapng": "different from the type of the first interface",
    "two_sections.pcapng": "pcapng block size",  # a section in the other byte order
}
# tcpdump (libpcap) cuts records longer than the file's snap length to it; Wireshark keeps them
CUT_TO_SNAPLEN = {"caplen_over_snaplen.pcap": 64}
AGGREGATOR = "\x1f"

# everyone else's bundled captures (lab recordings, crafted frames), when small enough to be quick
OTHERS = [path for path in bundled_captures() if path.parent.name not in ("formats", "corrupt")
          and path.stat().st_size < 4 << 20]

Record = tuple[int, int, int]


def rawkit_records(path: Path) -> tuple[list[Record], CaptureError | None]:
    records = []
    try:
        with open_capture(path) as capture:
            for pkt in capture:
                records.append((pkt.ts_ns, pkt.wirelen, len(pkt.data)))
    except CaptureError as error:
        return records, error
    return records, None


def _epoch_ns(text: str) -> int:
    if not text:
        return 0  # a simple packet block has no timestamp
    seconds, _, fraction = text.partition(".")
    return int(seconds) * 1_000_000_000 + int(fraction.ljust(9, "0")[:9])


def tshark_fields(path: Path, *fields: str) -> list[list[str]]:
    """One row per frame tshark shows for a packet (custom blocks, which it also shows, left out)."""
    command = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", f"aggregator={AGGREGATOR}",
               "-e", "frame.encap_type", *[arg for field in fields for arg in ("-e", field)]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    return [row[1:] for row in rows if row[0]]


def tshark_records(path: Path) -> list[Record]:
    rows = tshark_fields(path, "frame.time_epoch", "frame.len", "frame.cap_len")
    return [(_epoch_ns(epoch), int(wirelen), int(caplen)) for epoch, wirelen, caplen in rows]


def tcpdump_records(path: Path, tmp_path: Path) -> tuple[list[Record], str]:
    """What libpcap delivers, via `tcpdump -r F -w OUT` in nanoseconds; and tcpdump's stderr."""
    out = tmp_path / "tcpdump-out.pcap"
    command = ["tcpdump", "--time-stamp-precision=nano", "-r", "-" if path.suffix == ".gz" else str(path),
               "-w", str(out)]
    stdin = subprocess.run(["gzip", "-dc", str(path)], capture_output=True).stdout if path.suffix == ".gz" \
        else None
    done = subprocess.run(command, input=stdin, capture_output=True, timeout=60)
    data = out.read_bytes() if out.exists() else b""
    records, offset = [], 24
    while offset + 16 <= len(data):
        seconds, nanoseconds, caplen, wirelen = struct.unpack_from("<IIII", data, offset)
        records.append((seconds * 1_000_000_000 + nanoseconds, wirelen, caplen))
        offset += 16 + caplen
    return records, done.stderr.decode(errors="replace")


def test_bundled_files_exist() -> None:
    assert len(FORMATS) >= 12 and len(CORRUPT) >= 10


@needs_tool("tshark")
@pytest.mark.parametrize("path", FORMATS, ids=lambda path: path.name)
def test_formats_match_tshark(path: Path) -> None:
    ours, error = rawkit_records(path)
    assert error is None
    theirs = tshark_records(path)
    if path.name in CUT_TO_SNAPLEN:
        snaplen = CUT_TO_SNAPLEN[path.name]
        theirs = [(stamp, wirelen, min(caplen, snaplen)) for stamp, wirelen, caplen in theirs]
    assert ours == theirs


@needs_tool("tcpdump")
@pytest.mark.parametrize("path", FORMATS, ids=lambda path: path.name)
def test_formats_match_tcpdump(path: Path, tmp_path: Path) -> None:
    ours, error = rawkit_records(path)
    assert error is None
    theirs, stderr = tcpdump_records(path, tmp_path)
    if path.name in LIBPCAP_LIMITS:
        assert LIBPCAP_LIMITS[path.name] in stderr
        assert ours[: len(theirs)] == theirs and len(theirs) < len(ours)
    else:
        assert ours == theirs, stderr


@needs_tool("tshark")
@needs_tool("tcpdump")
@pytest.mark.parametrize("path", OTHERS, ids=lambda path: str(path.relative_to(CAPTURES)))
def test_other_bundled_captures_match_oracles(path: Path, tmp_path: Path) -> None:
    ours, error = rawkit_records(path)
    assert error is None
    assert ours == tshark_records(path)
    assert ours == tcpdump_records(path, tmp_path)[0]


@needs_tool("tshark")
def test_comments_flags_and_interfaces_match_tshark() -> None:
    for name in ("comments_flags.pcapng", "several_linktypes.pcapng", "block_types.pcapng"):
        path = CAPTURES / "formats" / name
        with open_capture(path) as capture:
            packets = list(capture)
            names = [interface.name for interface in capture.interfaces]
        rows = tshark_fields(path, "frame.comment", "frame.packet_flags", "frame.interface_id",
                             "frame.interface_name")
        assert len(rows) == len(packets)
        for pkt, (comments, flags, interface, interface_name) in zip(packets, rows, strict=True):
            assert pkt.comments == (tuple(comments.split(AGGREGATOR)) if comments else ())
            assert pkt.epb_flags == (int(flags, 16) if flags else None)
            assert pkt.interface == int(interface or 0)
            assert (names[pkt.interface] or "unknown") == interface_name  # tshark's word for no if_name


def test_several_linktypes_per_interface() -> None:
    with open_capture(CAPTURES / "formats" / "several_linktypes.pcapng") as capture:
        linktypes = [interface.linktype for interface in capture.interfaces]
        assert capture.linktype == 1 and linktypes == [1, 101, 113]
        for pkt in capture:
            assert pkt.linktype == linktypes[pkt.interface]
            assert pkt.errors == []


@needs_tool("tcpdump")
@pytest.mark.parametrize("path", CORRUPT, ids=lambda path: path.name)
def test_corrupt_gives_tcpdumps_packets_then_error(path: Path, tmp_path: Path) -> None:
    ours, error = rawkit_records(path)
    theirs, stderr = tcpdump_records(path, tmp_path)
    assert ours == theirs, stderr
    assert error is not None
    message = str(error)
    assert message.startswith(f"{path}: ") and "\n" not in message
    position = re.search(r"(at|after) byte (\d+)", message)
    assert position is not None, message
    assert int(position.group(2)) <= max(path.stat().st_size, 1 << 16)


def test_corrupt_error_names_offset_of_damage() -> None:
    path = CAPTURES / "corrupt" / "truncated_record_data.pcap"
    good, _error = rawkit_records(CAPTURES / "corrupt" / "truncated_record_header.pcap")
    expected = r"truncated record at byte (\d+): needs 114 bytes, 56 left"
    with pytest.raises(CaptureError, match=expected) as caught:
        list(open_capture(path))
    offset = 24 + sum(16 + caplen for _stamp, _wirelen, caplen in good)
    assert f"at byte {offset}:" in str(caught.value)

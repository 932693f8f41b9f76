"""rawkit's decoded fields against tshark 4.0, frame by frame (issue 3: fields agree with tshark for
100% of the frames tshark decodes without a malformation warning).

Compared: addresses (eth, ip, ipv6, arp), ports, absolute seq/ack, TCP flags, lengths (frame, ip, ipv6,
udp, tcp), ICMP/ICMPv6 type/code, TCP options (kinds, mss, wscale, sack blocks, timestamps), VLAN ids,
IPv4 fragment fields, IPv6 extension headers, checksum verdicts, and the datagram an ICMP error
quotes. Disagreements that are tshark's way rather than rawkit's bug are listed, with their
reasons, in tshark_fields.EXPLANATIONS; any other disagreement fails.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from pathlib import Path

import pytest

from tests import tshark_fields, wire_frames
from tests.conftest import bundled_captures, needs_tool

pytestmark = needs_tool("tshark")


ORACLES_AT_ONCE = 4  # tshark runs side by side: each spends most of its time starting up


@cache
def _bundled_records() -> dict[Path, Future]:
    """tshark's records of every bundled capture, all started at once on first use (a Future each:
    an unreadable file's error is raised where that file is tested)."""
    tshark_fields.other_protocols()  # once, before the runs that all need it
    pool = ThreadPoolExecutor(ORACLES_AT_ONCE)
    futures = {path: pool.submit(tshark_fields.tshark_frames, path) for path in bundled_captures()}
    pool.shutdown(wait=False)
    return futures


@cache
def _bundled(path: Path) -> tuple[list[dict[str, list[str]]], list]:
    """tshark's records and rawkit's packets for a bundled capture, read once for all the tests here."""
    return _bundled_records()[path].result(), list(wire_frames.read_capture(path))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, list, list]]:
    """The generated corpus as one pcap per link type: (path, its frames, tshark's records), the tshark
    runs side by side."""
    directory = tmp_path_factory.mktemp("generated")
    by_linktype: dict[int, list[wire_frames.Frame]] = defaultdict(list)
    for frame in wire_frames.corpus():
        by_linktype[frame.linktype].append(frame)
    paths = {}
    for linktype, frames in by_linktype.items():
        paths[linktype] = directory / f"linktype-{linktype}.pcap"
        wire_frames.write_pcap(paths[linktype], linktype, frames)
    tshark_fields.other_protocols()  # once, before the runs that all need it
    with ThreadPoolExecutor(ORACLES_AT_ONCE) as pool:
        records = dict(zip(paths, pool.map(tshark_fields.tshark_frames, paths.values()), strict=True))
    return {linktype: (paths[linktype], by_linktype[linktype], records[linktype]) for linktype in paths}


def _report(result: tshark_fields.Comparison) -> str:
    lines = [f"{len(result.disagreements)} disagreements in {result.compared_frames} frames compared "
             f"({len(result.excluded)} excluded as malformed by tshark):"]
    lines += [str(d) for d in result.disagreements[:30]]
    return "\n".join(lines)


def test_generated_frames_agree_with_tshark(generated: dict[int, tuple[Path, list, list]]) -> None:
    result = tshark_fields.Comparison()
    for _linktype, (path, _frames, records) in sorted(generated.items()):
        tshark_fields.compare(list(wire_frames.read_capture(path)), records, result)
    assert not result.disagreements, _report(result)
    # the comparison has teeth: most frames compared, every field family reached many times
    assert result.compared_frames > 0.95 * sum(len(frames) for _, frames, _ in generated.values())
    for name in ("ip.checksum.status", "tcp.checksum.status", "udp.checksum.status", "icmpv6.checksum.status",
                 "tcp.options.sack_le", "tcp.option_kind", "vlan.id", "ipv6.fraghdr.offset", "arp.src.hw_mac",
                 "ip.frag_offset", "icmp.type"):
        assert result.values_compared.get(name, 0) >= 100, name


def test_bad_checksums_are_seen_as_bad_by_both(generated: dict[int, tuple[Path, list, list]]) -> None:
    """The corpus carries wrong checksums on purpose; both sides must call them bad, frame by frame."""
    path, _frames, records = generated[1]  # Ethernet
    bad = {name: 0 for name in ("ip.checksum.status", "tcp.checksum.status", "udp.checksum.status",
                                "icmp.checksum.status")}
    for record in records:
        for name in bad:
            bad[name] += record[name][:1] == ["0"]
    assert all(count > 0 for count in bad.values()), bad
    result = tshark_fields.compare(list(wire_frames.read_capture(path)), records)
    assert not result.disagreements, _report(result)


@pytest.mark.parametrize("path", bundled_captures(), ids=lambda path: str(path.relative_to(path.parents[1])))
def test_bundled_capture_agrees_with_tshark(path: Path) -> None:
    try:
        records, packets = _bundled(path)
    except subprocess.CalledProcessError as error:
        pytest.skip(f"tshark cannot read it: {error.stderr.strip().splitlines()[-1:]}")
    except Exception as error:  # a corrupt file: the pcap layer's own tests cover how it fails
        pytest.skip(f"rawkit cannot read it: {error}")
    if len(packets) != len(records):
        pytest.skip(f"tshark read {len(records)} frames, rawkit {len(packets)} (a corrupt file)")
    result = tshark_fields.compare(packets, records)
    assert not result.disagreements, _report(result)


# Frames tshark calls malformed while rawkit reports no error: each kind is a known gap, named here
KNOWN_SILENT = [
    ("an IPv4 option too short for its kind (record route / source routes need a pointer byte, the "
     "timestamp option a pointer and flags, router alert exactly 2 bytes of value): rawkit checks only "
     "that each option's length byte fits the header",
     lambda pkt: pkt.ip4 is not None and any(
         kind in (7, 131, 137) and len(data) < 1 or kind == 68 and len(data) < 2
         or kind == 148 and len(data) != 2 for kind, data in pkt.ip4.options)),
    ("a TCP option of a known kind with the wrong length (MSS not 4, SACK not 2 + 8n, ...): rawkit keeps it "
     "as (kind, bytes) in tcp.options without an error",
     lambda pkt: pkt.tcp is not None and any(isinstance(kind, int) and kind in (2, 3, 4, 5, 8, 19)
                                             for kind, _ in pkt.tcp.options)),
    ("a malformed datagram inside an ICMP error: rawkit reports it in icmp.quoted.errors, not in the "
     "outer packet's errors",
     lambda pkt: any(view is not None and view.quoted is not None and view.quoted.errors
                     for view in (pkt.icmp, pkt.icmp6))),
]


@pytest.mark.parametrize("path", bundled_captures(), ids=lambda path: str(path.relative_to(path.parents[1])))
def test_frames_tshark_calls_malformed_carry_rawkit_errors(path: Path) -> None:
    try:
        records, packets = _bundled(path)
    except Exception as error:  # unreadable: see test_bundled_capture_agrees_with_tshark
        pytest.skip(f"unreadable: {error}")
    if len(packets) != len(records):
        pytest.skip("a corrupt file")
    silent = []
    for number, (pkt, record) in enumerate(zip(packets, records, strict=True), start=1):
        reason = tshark_fields.malformation(record)
        if reason is None or pkt.errors or any(applies(pkt) for _, applies in KNOWN_SILENT):
            continue
        silent.append(f"frame {number}: tshark: {reason}; rawkit: no error ({pkt})")
    assert not silent, "\n".join(silent)

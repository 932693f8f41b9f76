"""The pcap record walk with the filter inlined (rawkit.filter.window + rawkit.pcap.scan) selects
exactly the records `match` selects (which test_filter_tcpdump holds to tcpdump): every expression of
the table, every link type, both byte orders of the file, frames cut at every length the fused
fields straddle, a small snap length, and random bytes."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_filter_corpus import GENERATED, read_capture
from test_filter_tcpdump import EXPRESSIONS

import rawkit
import rawkit.filter
from rawkit._read import selected, selected_records
from rawkit.pcap import PcapNgWriter, open_capture
from rawkit.pcap.source import CHUNK
from tests.conftest import bundled_captures

Record = tuple[bytes, int]  # (captured bytes, length on the wire)
CAPTURE_LIMIT = 150  # frames per bundled capture


def write_pcap(path: Path, order: str, linktype: int, records: list[tuple[bytes, int]],
               snaplen: int = 262144) -> None:
    with open(path, "wb") as out:
        out.write(struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for index, (data, wirelen) in enumerate(records):
            out.write(struct.pack(order + "IIII", 1_700_000_000 + index, index, len(data), wirelen) + data)


def with_cuts(records: list[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
    """Each frame whole and cut short at a few lengths around the headers the filters read (a
    different few for each frame, so that every length occurs for some of each kind of frame)."""
    cuts = (0, 4, 13, 14, 18, 21, 22, 24, 34, 37, 38, 42, 54, 57, 58, 62)
    out = []
    for index, (data, wirelen) in enumerate(records):
        out.append((data, wirelen))
        out.extend((data[:cut], wirelen) for cut in cuts[index % 4::4] if cut < len(data))
    return out


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, list[Record], list[Path]]]:
    """(link type, records, the records as a little-endian and a big-endian pcap) per link type."""
    directory = tmp_path_factory.mktemp("scan-captures")
    merged = {linktype: with_cuts(build()) for linktype, build in GENERATED.values()}
    for source in bundled_captures():
        read = read_capture(source, CAPTURE_LIMIT)
        if read is not None and read[0] in merged:
            merged[read[0]].extend(read[1])
    files = []
    for linktype, records in merged.items():
        paths = []
        for order in "<>":
            path = directory / f"linktype-{linktype}-{'le' if order == '<' else 'be'}.pcap"
            write_pcap(path, order, linktype, records)
            paths.append(path)
        files.append((linktype, records, paths))
    return files


def scanned(path: Path, flt: rawkit.filter.Filter) -> tuple[list[tuple[bytes, int]], bool]:
    """The records `rawkit.read` selects from `path`, and whether the inlined walk was used."""
    with open_capture(str(path)) as capture:
        chosen = [(bytes(pkt.data), pkt.wirelen) for pkt in selected_records(capture, flt)]
        return chosen, capture.scan is not None


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_walk_selects_what_match_selects(expression: str, captures) -> None:
    for linktype, records, paths in captures:
        try:
            flt = rawkit.filter.compile(expression, linktype)
        except rawkit.filter.FilterError:
            continue
        expected = [record for record in records if flt.match(*record)]
        for path in paths:
            assert scanned(path, flt)[0] == expected, path.name


def test_walk_is_used_for_nearly_every_expression(captures) -> None:
    path = next(paths[0] for linktype, _, paths in captures if linktype == 1)
    used = []
    for expression in EXPRESSIONS:
        try:
            flt = rawkit.filter.compile(expression, 1)
        except rawkit.filter.FilterError:
            continue
        used.append(scanned(path, flt)[1])
    assert sum(used) >= 0.95 * len(used)


def test_small_snap_length(tmp_path: Path) -> None:
    """Records longer than the snap length leave the walk (the reader cuts them) and come back."""
    records = with_cuts(GENERATED["ethernet"][1]())
    for order in "<>":
        path = tmp_path / f"snap-{order == '<'}.pcap"
        write_pcap(path, order, 1, records, snaplen=60)
        for expression in ("tcp port 80", "ip[2:2] > 60", "len > 60", "tcp[13] & 2 != 0", "ip6"):
            flt = rawkit.filter.compile(expression)
            expected = [(data[:60], wirelen) for data, wirelen in records if flt.match(data[:60], wirelen)]
            with open_capture(str(path)) as capture:  # through rawkit.read's own entry
                chosen = [(bytes(pkt.data), pkt.wirelen) for pkt in selected(capture, expression)]
            assert chosen == expected, expression


PROPERTY_EXPRESSIONS = (
    "tcp port 80 or udp portrange 50-60", "host 198.18.0.1 or net fd00:18::/48", "vlan and tcp[13] & 2 != 0",
    "icmp[icmptype] = icmp-echo or icmp6[icmp6type] = icmp6-echo", "ip[2:2] - ((ip[0] & 0xf) << 2) > 20",
    "len % 3 = 1 and ether[len - 60] = 0", "tcp[(tcp[12] >> 4) * 4 - 1] != 0", "ip6 proto 17 or arp",
    "ether[12:2] / ip[1] > 100", "(ip[8] ^ 0xff) << 2 >= 0x200", "len << -ip[1] = 0", "len >> ip[14] = 0",
    "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn", "ip[6:2] & 0x1fff = 0 and tcp dst port 443",
)
PROPERTY_FILTERS = [rawkit.filter.compile(expression) for expression in PROPERTY_EXPRESSIONS]
SEEDS = [data for data, _ in GENERATED["ethernet"][1]()]


FRAMES = st.tuples(st.sampled_from(SEEDS), st.integers(0, 120),
                   st.lists(st.tuples(st.integers(0, 119), st.integers(0, 255)), max_size=6))


@settings(max_examples=25, deadline=None)
@given(frames=st.lists(FRAMES, min_size=1, max_size=30), order=st.sampled_from("<>"))
def test_walk_agrees_with_match_on_any_bytes(tmp_path_factory, frames, order: str) -> None:
    records = []
    for seed, cut, flips in frames:
        frame = bytearray(seed[:cut])
        for index, value in flips:
            if index < len(frame):
                frame[index] = value
        records += [(bytes(frame), len(seed)), (seed, len(seed))]
    path = tmp_path_factory.mktemp("scan-random") / "random.pcap"
    write_pcap(path, order, 1, records)
    for flt in PROPERTY_FILTERS:
        assert scanned(path, flt)[0] == [r for r in records if flt.match(*r)], flt.expression


@pytest.mark.parametrize("nanosecond", [False, True])
def test_gzip_stream_and_timestamps(tmp_path: Path, nanosecond: bool) -> None:
    """Through a gzip stream (a buffer refilled chunk by chunk, records split between chunks) the
    walk keeps what match keeps, with the same timestamps, lengths and link type as an unfiltered read."""
    records = with_cuts(GENERATED["ethernet"][1]()) * 40
    plain = tmp_path / "many.pcap"
    write_pcap(plain, "<", 1, records)
    raw = plain.read_bytes()
    if nanosecond:
        raw = struct.pack("<I", 0xA1B23C4D) + raw[4:]
    packed = tmp_path / "many.pcap.gz"
    packed.write_bytes(gzip.compress(raw))
    assert len(raw) > 4 * CHUNK
    for expression in ("tcp port 80", "udp or icmp6", "ip[2:2] > 100"):
        flt = rawkit.filter.compile(expression)
        expected = [(bytes(pkt.data), pkt.ts_ns, pkt.wirelen, pkt.linktype)
                    for pkt in rawkit.read(str(packed)) if flt.match(pkt.data, pkt.wirelen)]
        chosen = [(bytes(pkt.data), pkt.ts_ns, pkt.wirelen, pkt.linktype)
                  for pkt in rawkit.read(str(packed), filter=expression)]
        assert chosen == expected, expression


def write_pcapng_section(path: Path, order: str, mode: str) -> None:
    """One pcapng section (appended to `path`): Ethernet frames (whole and cut, some with comments
    and flags) on interface 0, raw IP frames on an interface added halfway (or first, for "raw")."""
    ethernet = with_cuts(GENERATED["ethernet"][1]())
    raw = GENERATED["raw"][1]()
    with open(path, "ab") as out, PcapNgWriter(out, order) as writer:
        first, second = (101, 1) if mode == "raw" else (1, 101)
        interfaces = {first: writer.add_interface(first)}
        for index, (data, wirelen) in enumerate(ethernet):
            if index == len(ethernet) // 2:
                interfaces[second] = writer.add_interface(second)
            if 1 in interfaces:
                writer.write(data, 1_700_000_000_000_000_000 + index, interfaces[1], wirelen,
                             comment="c" if index % 7 == 0 else None, flags=index if index % 5 == 0 else None)
            if 101 in interfaces and index % 3 == 0:
                frame, frame_wirelen = raw[index % len(raw)]
                writer.write(frame, index, interfaces[101], frame_wirelen)


PCAPNG_EXPRESSIONS = [*EXPRESSIONS[::6], "tcp port 80", "ip[2:2] > 100", "tcp[13] & 2 != 0", "len > 100"]


def test_pcapng_skips_what_match_drops(tmp_path: Path) -> None:
    path = tmp_path / "sections.pcapng"
    write_pcapng_section(path, "<", "ethernet")
    write_pcapng_section(path, ">", "ethernet")
    write_pcapng_section(path, ">", "raw")
    write_pcapng_section(path, "<", "ethernet")
    every = list(rawkit.read(str(path)))
    assert {pkt.linktype for pkt in every} == {1, 101}

    def described(pkt):
        return bytes(pkt.data), pkt.wirelen, pkt.linktype, pkt.ts_ns, pkt.comments, pkt.epb_flags

    for expression in PCAPNG_EXPRESSIONS:
        filters = {}
        try:
            for linktype in (1, 101):
                filters[linktype] = rawkit.filter.compile(expression, linktype)
        except rawkit.filter.FilterError:
            continue
        expected = [described(pkt) for pkt in every if filters[pkt.linktype].match(pkt.data, pkt.wirelen)]
        with open_capture(str(path)) as capture:
            chosen = [described(pkt) for pkt in selected(capture, expression)]
            assert capture.skip is not None
        assert chosen == expected, expression


def test_arithmetic_nested_past_pythons_parser_is_a_filter_error() -> None:
    """Generated code nests a parenthesis per operator; past the parser's limit that is one clear
    FilterError, and a window the parser would refuse is simply not used."""
    with pytest.raises(rawkit.filter.FilterError, match="too complex"):
        rawkit.filter.compile("ip[0]" + " + ip[1]" * 150 + " > 0")
    flt = rawkit.filter.compile("ip[0]" + " + ip[1]" * 40 + " > 0")
    assert flt.window("<") is not None

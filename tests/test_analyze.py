"""rawkit.analyze pieces on their own: reassembly and defragmentation properties, TCP health
against tshark's analysis flags, the CLI formats (JSON lines, CSV, Parquet, tshark follow text),
--jobs, progress only on terminals, and one-line errors on bad input."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import bundled_captures, needs_tool
from hypothesis import given, settings
from hypothesis import strategies as st
from test_analyze_craft import (
    Clock,
    craft_captures,
    fragments,
    tcp_bulk_with_loss,
    tcp_capture_gaps,
    tcp_messy,
    tcp_reset_and_v6,
    write_pcap,
)

import rawkit
from rawkit.analyze import Capture, CaptureStats, ConversationTable, Defragmenter, TcpReassembler, tcp_chunks
from rawkit.analyze.export import FIELDS
from rawkit.analyze.plots import IOGraph, TimeSequence, tcp_timestamp_rtt
from rawkit.analyze.source import Progress
from rawkit.cli import main
from rawkit.wire import LinkType

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {path.stem: path for path in craft_captures(tmp_path_factory.mktemp("crafted"))}


def rawkit_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run `rawkit ARGS` in this process (as the console script does): exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            code = 0
        except SystemExit as done:
            code = done.code or 0
    if check and code != 0:
        raise AssertionError(f"rawkit {' '.join(args)} failed: {err.getvalue()}")
    return subprocess.CompletedProcess(args, code, out.getvalue().encode(), err.getvalue().encode())


# --- reassembly -------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=1, max_size=3000), isn=st.integers(0, 2**32 - 1), seed=st.integers(0, 2**16))
def test_reassembly_recovers_the_stream_whatever_the_segmentation(data: bytes, isn: int, seed: int) -> None:
    """Random cuts, duplicates, overlapping re-sends and reordering (sequence numbers wrapping
    anywhere): the bytes come out once each, in order."""
    rng = random.Random(seed)
    segments, position = [], 0
    while position < len(data):
        size = rng.randint(1, 400)
        segments.append((position, data[position : position + size]))
        position += size
    for _ in range(rng.randint(0, 6)):  # overlapping retransmissions of arbitrary ranges
        start = rng.randrange(len(data))
        segments.append((start, data[start : start + rng.randint(1, 600)]))
    rng.shuffle(segments)
    reassembler = TcpReassembler()
    out = bytearray()
    out += b"".join(reassembler.feed(True, isn, 0x02, b""))
    for offset, payload in segments:
        out += b"".join(reassembler.feed(True, (isn + 1 + offset) % 2**32, 0x10, payload))
    assert bytes(out) == data


def test_reassembly_first_copy_wins_and_nothing_past_fin() -> None:
    reassembler = TcpReassembler()
    reassembler.feed(True, 99, 0x02, b"")
    assert reassembler.feed(True, 100, 0x10, b"abcd") == [b"abcd"]
    assert reassembler.feed(True, 102, 0x10, b"XXef") == [b"ef"]
    assert reassembler.feed(True, 106, 0x11, b"gh") == [b"gh"]
    assert reassembler.feed(True, 108, 0x10, b"after the FIN") == []


# --- defragmentation ------------------------------------------------------------------------

def _fragments(datagram: bytes, cuts: list[int], ident: int, v6: bool) -> list[rawkit.Packet]:
    out = []
    bounds = [0, *cuts, len(datagram)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        more = end < len(datagram)
        if v6:
            chain = (rawkit.IPv6(src="fd00:18::1", dst="fd00:18::2")
                     / rawkit.IPv6Fragment(nh=17, offset=start // 8, m=int(more), id=ident))
        else:
            chain = rawkit.IPv4(src="198.18.0.1", dst="198.18.0.2", proto=17, id=ident,
                                flags="MF" if more else 0, frag=start // 8)
        out.append(rawkit.decode(bytes(chain / datagram[start:end]), LinkType.RAW))
    return out


@settings(max_examples=40, deadline=None)
@given(size=st.integers(16, 4000), seed=st.integers(0, 2**16), v6=st.booleans())
def test_defragmentation_rebuilds_the_datagram_in_any_order(size: int, seed: int, v6: bool) -> None:
    rng = random.Random(seed)
    udp = bytes(rawkit.IPv4(src="198.18.0.1", dst="198.18.0.2") / rawkit.UDP(sport=1, dport=2)
                / rng.randbytes(size))[20:]
    cuts = sorted({rng.randrange(8, len(udp), 8) for _ in range(rng.randint(1, 6)) if len(udp) > 8})
    pieces = _fragments(udp, cuts, 7, v6)
    pieces += [rng.choice(pieces)]  # a duplicate
    rng.shuffle(pieces)
    defragmenter = Defragmenter()
    done = [result for result in map(defragmenter.feed, pieces) if result is not None]
    assert len(done) >= 1
    assert done[0].udp is not None and done[0].udp.len == len(udp)
    assert done[0].payload == udp[8:]


@pytest.mark.parametrize("policy,expected", [("first", b"AAAAAAAABBBBBBBB"), ("last", b"AAAAAAAACCCCCCCC"),
                                             ("drop", None)])
def test_defragmentation_overlap_policies(policy: str, expected: bytes | None) -> None:
    def fragment(offset: int, more: bool, payload: bytes) -> rawkit.Packet:
        return rawkit.decode(bytes(rawkit.IPv4(src="198.18.0.1", dst="198.18.0.2", proto=253, id=9,
                                               flags="MF" if more else 0, frag=offset // 8) / payload),
                             LinkType.RAW)

    defragmenter = Defragmenter(policy)
    assert defragmenter.feed(fragment(8, True, b"BBBBBBBB")) is None
    assert defragmenter.feed(fragment(8, False, b"CCCCCCCC")) is None  # overlaps the first exactly
    result = defragmenter.feed(fragment(0, True, b"AAAAAAAA"))
    assert (result.payload if result is not None else None) == expected


def test_defragmentation_memory_is_bounded() -> None:
    defragmenter = Defragmenter(max_pending=50)
    for ident in range(1000):
        packet = rawkit.decode(bytes(rawkit.IPv4(src="198.18.0.1", dst="198.18.0.2", proto=17, id=ident,
                                                 flags="MF") / (b"x" * 8)), LinkType.RAW)
        assert defragmenter.feed(packet) is None
        assert len(defragmenter.pending) <= 50
    assert defragmenter.dropped >= 950


# --- TCP health against tshark's analysis -----------------------------------------------------

@needs_tool("tshark")
def test_tcp_health_agrees_with_tshark_analysis(crafted: dict[str, Path]) -> None:
    paths = [crafted["tcp-messy"], crafted["tcp-bulk-loss"], crafted["tcp-reset-v6"],
             *[path for path in bundled_captures("lab-*.pcap")]]
    names = ("tcp.stream", "tcp.analysis.initial_rtt", "tcp.analysis.retransmission",
             "tcp.analysis.fast_retransmission", "tcp.analysis.out_of_order",
             "tcp.analysis.duplicate_ack", "tcp.analysis.zero_window", "tcp.flags.reset")

    def analysis(path: Path) -> str:
        return subprocess.run(["tshark", "-r", str(path), "-Y", "tcp && !icmp && !icmpv6", "-T", "fields",
                               *(argument for name in names for argument in ("-e", name))],
                              capture_output=True, text=True, check=True).stdout

    with ThreadPoolExecutor(len(paths)) as pool:  # the tshark runs side by side
        outputs = list(pool.map(analysis, paths))
    for path, out in zip(paths, outputs, strict=True):
        theirs: dict[int, list] = defaultdict(lambda: [None, 0, 0, 0, 0])
        for line in out.splitlines():
            stream, rtt, retrans, fast, reordered, dup, zero, reset = line.split("\t")
            entry = theirs[int(stream)]
            entry[0] = round(float(rtt), 6) if rtt else entry[0]
            entry[1] += bool(retrans or fast or reordered)
            entry[2] += bool(dup)
            entry[3] += bool(zero)
            entry[4] += reset == "1"
        table = ConversationTable(("tcp",))
        with Capture(str(path)) as capture:
            for pkt in capture.packets():
                table.add(pkt)
        ours = {}
        for record in table.records():
            rtt = record["handshake_rtt"]
            ours[record["stream"]] = [None if rtt is None else round(rtt, 6),
                                      record["retransmissions"] + record["out_of_order"], record["dup_acks"],
                                      record["zero_windows"], record["resets"]]
        assert ours == dict(theirs), path.name


# --- CLI formats ------------------------------------------------------------------------------

def test_flows_json_csv_and_jobs_agree(crafted: dict[str, Path]) -> None:
    files = [str(crafted["all"]), str(crafted["tcp-messy"]), str(crafted["fragments"])]
    lines = rawkit_cli("flows", *files, "--json").stdout.decode().splitlines()
    records = [json.loads(line) for line in lines]
    required = {"proto", "a", "a_port", "b", "b_port", "packets_ab", "bytes_ab", "packets_ba", "bytes_ba",
                "start", "duration"}
    assert all(required <= set(record) for record in records)
    assert {record["proto"] for record in records} == {"eth", "ip", "ipv6", "tcp", "udp"}
    in_order = sorted((record["file"] for record in records), key=files.index)
    assert [record["file"] for record in records] == in_order
    assert rawkit_cli("flows", *files, "--json", "--jobs", "2").stdout.decode().splitlines() == lines
    rows = list(csv.DictReader(io.StringIO(rawkit_cli("flows", *files, "--csv").stdout.decode())))
    assert len(rows) == len(records) and list(rows[0]) == list(FIELDS)
    lines = rawkit_cli("flows", files[0], "tcp", "port", "2000", "--json", "-t", "tcp").stdout
    filtered = [json.loads(line) for line in lines.splitlines()]
    assert [(record["a_port"], record["b_port"]) for record in filtered] == [(44000, 2000)]


def test_flows_parquet_is_queryable(crafted: dict[str, Path], tmp_path: Path) -> None:
    pyarrow_parquet = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "flows.parquet"
    rawkit_cli("flows", str(crafted["all"]), str(crafted["tcp-port-reuse"]), "--parquet", str(out))
    table = pyarrow_parquet.read_table(out).to_pylist()
    lines = rawkit_cli("flows", str(crafted["all"]), str(crafted["tcp-port-reuse"]), "--json").stdout
    expected = [json.loads(line) for line in lines.splitlines()]
    assert table == expected


def test_flows_table_and_stats_text(crafted: dict[str, Path]) -> None:
    table = rawkit_cli("flows", str(crafted["tcp-port-reuse"])).stdout.decode()
    assert "TCP conversations (2)" in table and "closed" in table
    stats = rawkit_cli("stats", str(crafted["all"])).stdout.decode()
    assert "Number of packets:" in stats and "Protocol hierarchy:" in stats
    lines = rawkit_cli("stats", str(crafted["all"]), str(crafted["udp-icmp"]), "--json", "-j", "2").stdout
    summaries = [json.loads(line) for line in lines.splitlines()]
    assert [summary["file"] for summary in summaries] == [str(crafted["all"]), str(crafted["udp-icmp"])]
    assert all({"packets", "bytes", "first", "last", "duration"} <= set(summary) for summary in summaries)
    two = (str(crafted["tcp-messy"]), str(crafted["udp-icmp"]))
    lines = rawkit_cli("stats", *two, "--json", "--total").stdout
    *each, total = [json.loads(line) for line in lines.splitlines()]
    assert total["total"]["packets"] == sum(summary["packets"] for summary in each)
    assert total["total"]["bytes"] == sum(summary["bytes"] for summary in each)
    assert total["total"]["first_ns"] == min(summary["first_ns"] for summary in each)


@needs_tool("tshark")
@pytest.mark.parametrize("mode", ["ascii", "hex", "raw"])
def test_follow_prints_what_tshark_prints(crafted: dict[str, Path], mode: str) -> None:
    path, streams = crafted["all"], (0, 2, 3, 4, 6)
    args = ["tshark", "-q", "-r", str(path)] + [f"-zfollow,tcp,{mode},{stream}" for stream in streams]
    text = subprocess.run(args, capture_output=True, check=True).stdout
    theirs = {}
    for section in re.split(rb"(?=\n={67}\nFollow: )", text):
        found = re.search(rb"Filter: tcp.stream eq (\d+)", section)
        if found:
            theirs[int(found[1])] = section
    for stream in streams:
        ours = rawkit_cli("follow", str(path), "--stream", str(stream), "--format", mode).stdout
        assert ours == theirs[stream], f"stream {stream}"


def test_follow_by_filter_and_into_files(crafted: dict[str, Path], tmp_path: Path) -> None:
    by_filter = rawkit_cli("follow", str(crafted["all"]), "tcp", "port", "2000", "-f", "raw").stdout
    lines = rawkit_cli("flows", str(crafted["all"]), "-t", "tcp", "--json").stdout
    flows = [json.loads(line) for line in lines.split()]
    stream = next(record["stream"] for record in flows if record["b_port"] == 2000)
    assert by_filter == rawkit_cli("follow", str(crafted["all"]), "-s", str(stream), "-f", "raw").stdout
    assert b"7a7a7a7a" in by_filter
    made = rawkit_cli("follow", str(crafted["tcp-messy"]), "--out", str(tmp_path)).stdout.decode().split()
    contents = {Path(name).name: Path(name).read_bytes() for name in made}
    assert contents == {"000000-198.18.0.1.40000-198.18.0.2.80.bin": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                        "000000-198.18.0.2.80-198.18.0.1.40000.bin": b"A" * 300 + b"C" * 300 + b"B" * 300
                        + b"EEEE" + b"tail"}


def test_progress_only_on_a_terminal() -> None:
    pipe = io.StringIO()
    progress = Progress("x.pcap", 1000, pipe)
    progress.update(500, 10)
    progress.finish()
    assert pipe.getvalue() == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress("x.pcap", 1000, screen)
    progress.update(500, 10)
    assert "50.0%" in screen.getvalue()


# --- plots ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind,extra", [("tseq", ()), ("io", ("-i", "0.01")), ("rtt", ())])
def test_plots_are_drawn(kind: str, extra: tuple[str, ...], tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    capture = write_pcap(tmp_path / "bulk.pcap", tcp_bulk_with_loss(Clock(step_ns=2_000_000)))
    out = tmp_path / f"{kind}.png"
    rawkit_cli("plot", kind, str(capture), "-o", str(out), *extra)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    keep = os.environ.get("RAWKIT_KEEP_PLOTS")
    if keep:
        shutil.copy(out, Path(keep) / out.name)


def test_rtt_plot_from_a_ping_log(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    log = tmp_path / "ping.txt"
    log.write_text("PING 198.18.0.2 (198.18.0.2) 56(84) bytes of data.\n"
                   + "".join(f"64 bytes from 198.18.0.2: icmp_seq={n} ttl=64 time={0.05 + n / 100:.3f} ms\n"
                             for n in range(1, 20)))
    out = tmp_path / "ping.png"
    rawkit_cli("plot", "rtt", str(log), "-o", str(out))
    assert out.stat().st_size > 10_000


def test_plot_without_matplotlib_says_so_in_one_line(tmp_path: Path, crafted: dict[str, Path]) -> None:
    blocker = tmp_path / "matplotlib.py"
    blocker.write_text("raise ImportError('blocked for the test')\n")
    done = subprocess.run([sys.executable, "-m", "rawkit", "plot", "io", str(crafted["all"]), "-o",
                           str(tmp_path / "x.png")], capture_output=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.decode().splitlines() == ["rawkit: plots need matplotlib (pip install 'rawkit[plot]')"]


# --- bad input --------------------------------------------------------------------------------

def test_bad_input_gets_one_line_errors(crafted: dict[str, Path], tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(crafted["all"].read_bytes()[:3000])
    whole = str(crafted["all"])
    cases = [(("stats", str(tmp_path / "missing.pcap")), 1), (("flows", str(cut)), 1),
             (("stats", str(cut)), 1), (("flows", whole, "tcp", "prt", "80"), 2), (("follow", whole), 2),
             (("follow", whole, "-s", "99"), 1), (("flows", whole, "-t", "sctp"), 2)]
    datagram = bytes(rawkit.IPv4() / rawkit.TCP() / b"x")
    raw_ip = write_pcap(tmp_path / "raw.pcap", [(1, datagram)], linktype=101)
    cases += [(("flows", str(raw_ip), "ether", "host", "02:00:00:00:00:01"), 1),
              (("follow", str(raw_ip), "ether", "host", "02:00:00:00:00:01"), 2)]
    garbage = tmp_path / "garbage.pcap"
    garbage.write_bytes(b"\x00" * 100)
    cases.append((("flows", str(garbage)), 1))
    for args, code in cases:
        done = rawkit_cli(*args, check=False)
        errors = done.stderr.decode().splitlines()
        assert done.returncode == code, (args, errors)
        assert len(errors) == 1 and errors[0].startswith("rawkit: "), (args, errors)
    # a damaged file still gives what was read before the damage
    summary = json.loads(rawkit_cli("stats", str(cut), "--json", check=False).stdout)
    assert 0 < summary["packets"] < json.loads(rawkit_cli("stats", whole, "--json").stdout)["packets"]
    assert summary["damage"].startswith(str(cut))


@settings(max_examples=300, deadline=None)
@given(frames=st.lists(st.tuples(st.sampled_from([0, 1, 101, 108, 113, 276]), st.binary(max_size=120)),
                       max_size=12))
def test_analyses_never_raise_on_garbage(frames: list[tuple[int, bytes]]) -> None:
    """Arbitrary bytes under any link type: every analysis takes them without an exception."""
    # seed the frames with plausible headers half the time so the deeper paths are reached too
    packets = []
    for index, (linktype, data) in enumerate(frames):
        if index % 2:
            prefix = {1: b"\x02" * 12 + b"\x08\x00", 101: b"", 113: b"\x00" * 14 + b"\x08\x00"}.get(linktype)
            if prefix is not None:
                data = prefix + bytes([0x45 if data[:1] < b"\x80" else 0x60]) + data[1:]
        packets.append(rawkit.decode(data, linktype, index * 1000, len(data) + index % 3))
    table = ConversationTable()
    stats = CaptureStats()
    for pkt in packets:
        table.add(pkt)
        stats.add(pkt)
    list(table.records())
    stats.as_dict()
    list(tcp_chunks(iter(packets)))
    TimeSequence(0).feed(iter(packets))
    tcp_timestamp_rtt(iter(packets))
    IOGraph(0.001).feed(iter(packets))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), rate=st.sampled_from([0.002, 0.01, 0.05]))
def test_analyses_never_raise_on_damaged_real_traffic(seed: int, rate: float) -> None:
    """The crafted scenarios with random bytes flipped and frames cut: no analysis raises."""
    rng = random.Random(seed)
    packets = []
    for make in (tcp_messy, fragments, tcp_reset_and_v6, tcp_capture_gaps):
        for ts_ns, frame in make(Clock()):
            data = bytearray(frame)
            for index in range(len(data)):
                if rng.random() < rate:
                    data[index] = rng.randrange(256)
            if rng.random() < rate * 5:
                data = data[: rng.randrange(len(data) + 1)]
            packets.append(rawkit.decode(bytes(data), LinkType.ETHERNET, ts_ns, len(frame)))
    table = ConversationTable()
    stats = CaptureStats()
    for pkt in packets:
        table.add(pkt)
        stats.add(pkt)
    list(table.records())
    stats.as_dict()
    list(tcp_chunks(iter(packets)))
    TimeSequence(0).feed(iter(packets))
    tcp_timestamp_rtt(iter(packets))


def test_analyses_read_records_past_the_snap_length_whole_as_tshark() -> None:
    """`rawkit read` cuts a record longer than the file's snap length as libpcap does; the analyses
    read it whole as wiretap does (their oracles are tshark and capinfos), pcapng likewise."""
    path = bundled_captures("caplen_over_snaplen.pcap")[0]
    with Capture(str(path)) as capture:
        whole = [pkt.caplen for pkt in capture.packets()]
        snaplen = capture.snaplen
    cut = [pkt.caplen for pkt in rawkit.read(str(path))]
    assert cut == [min(length, snaplen) for length in whole] and max(whole) > snaplen
    damaged = bundled_captures("caplen_over_snaplen.pcapng")[0]
    with Capture(str(damaged)) as capture:
        assert len(list(capture.packets())) == 3 and capture.damage is None
    with pytest.raises(rawkit.pcap.CaptureError, match="snap length"):
        list(rawkit.read(str(damaged)))


def test_hierarchy_paths_of_damaged_frames() -> None:
    """A few of tshark's paths written out (the differential test covers every cut)."""
    from damaged_frames import templates

    from rawkit.analyze.hierarchy import frame_path

    tcp = templates()[0]
    assert frame_path(rawkit.decode(tcp)) == ["eth", "ip", "tcp"]
    assert frame_path(rawkit.decode(tcp[:10])) == ["_ws.malformed"]
    assert frame_path(rawkit.decode(tcp[:36], wirelen=len(tcp))) == ["eth", "ip", "_ws.short"]
    assert frame_path(rawkit.decode(tcp[:34])) == ["eth", "ip"]  # IPv4 calls nothing on nothing
    assert frame_path(rawkit.decode(tcp[:40])) == ["eth", "ip", "tcp", "_ws.malformed"]
    six = templates()[5]
    assert frame_path(rawkit.decode(six[:54])) == ["eth", "ipv6", "_ws.malformed"]


@settings(max_examples=300, deadline=None)
@given(template=st.integers(0, 20), flips=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)),
                                                   max_size=4),
       cut=st.integers(0, 200), extra=st.integers(-4, 40))
def test_hierarchy_path_of_any_mutated_frame(template: int, flips: list[tuple[int, int]], cut: int,
                                             extra: int) -> None:
    """Headers with random bytes changed, cut anywhere, any wire length: the path is link-first names
    with at most one '_ws.' node, at its end (or None), and never an exception."""
    from damaged_frames import templates

    from rawkit.analyze.hierarchy import frame_path

    shapes = templates()
    frame = bytearray(shapes[template % len(shapes)])
    for index, value in flips:
        if index < len(frame):
            frame[index] = value
    data = bytes(frame[:cut])
    path = frame_path(rawkit.decode(data, wirelen=max(0, len(data) + extra)))
    if path is not None:
        markers = [index for index, name in enumerate(path) if name.startswith("_ws.")]
        assert markers in ([], [len(path) - 1])

"""Differential tests of rawkit.analyze against capinfos and tshark, on every bundled capture (damaged
ones included: both stop at the same damage) and on the crafted ones (retransmissions, overlaps,
reordering, port reuse, fragments, every cut of every header): stats numbers, protocol hierarchy,
conversations (endpoints, packets and bytes each way) and followed bytes.

Each capture is read by the oracles once (three processes, captures in parallel); the tests then
compare rawkit's answers with the cached outputs."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import bundled_captures
from damaged_frames import write_damaged_capture
from test_analyze_craft import craft_captures

from rawkit.analyze import Capture, ConversationTable, capture_stats, tcp_chunks
from rawkit.analyze.follow import gap_text
from rawkit.analyze.reassembly import Gap
from rawkit.pcap import CaptureError

TSHARK = ["tshark", "-n", "-o", "nameres.mac_name:FALSE"]
CONV_TABLES = ("eth", "ip", "ipv6", "tcp", "udp")

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None or shutil.which("capinfos") is None,
                                reason="tshark and capinfos are not installed")


def _run_both(args: list[str]) -> tuple[str, str]:
    """An oracle's output and errors; on a damaged file tshark and capinfos exit 1 or 2 after
    reporting what they read before the damage."""
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode in (0, 1, 2), done.stderr
    return done.stdout, done.stderr


def _run(args: list[str]) -> str:
    return _run_both(args)[0]


def _records(path: Path, protocols: tuple[str, ...] = CONV_TABLES) -> list[dict]:
    table = ConversationTable(protocols)
    with Capture(str(path)) as capture:
        for pkt in capture.packets():
            table.add(pkt)
    return list(table.records())


def _tcp_stream_count(path: Path) -> int:
    """Streams numbered, those only ever seen quoted in ICMP errors included."""
    table = ConversationTable(("tcp",), health=False)
    with Capture(str(path)) as capture:
        for pkt in capture.packets():
            table.add(pkt)
    return len(table.tcp_streams)


def _oracle(path: Path) -> dict:
    """capinfos' numbers, and from one tshark run: per-frame fields, conv tables, io,phs, and follow
    raw of every stream (asking for a few more streams than rawkit found, so none can hide)."""
    capinfos, errors = _run_both(["capinfos", "-T", "-r", "-M", "-c", "-d", "-S", "-a", "-e", "-u", "-E",
                                  str(path)])
    # on damage capinfos may print no table, only "An error occurred after reading N packets"
    after = re.search(r"after reading (\d+) packets", errors)
    names = ("tcp.stream", "udp.stream", "frame.len", "ip.src", "ipv6.src", "tcp.srcport", "udp.srcport",
             "icmp.type", "icmpv6.type", "frame.cap_len", "_ws.malformed", "_ws.expert.severity",
             "frame.cb_pen")
    asked = range(_tcp_stream_count(path) + 3)
    args = [*TSHARK, "-r", str(path), "-T", "fields", "-E", "occurrence=a",
            *(argument for name in names for argument in ("-e", name)), "-z", "io,phs",
            *(f"-zconv,{table}" for table in CONV_TABLES),
            *(f"-zfollow,tcp,raw,{stream}" for stream in asked)]
    output = _run(args)
    cut = output.find("\n=")
    # tshark shows a pcapng custom block as a frame; capinfos and rawkit count packets only
    every = [row for row in (line.split("\t") for line in output[:cut].splitlines() if line) if not row[12]]
    # a damaged frame: malformed, or an expert note of severity "error"
    damaged = [row for row in every if row[10] or "8388608" in row[11].split(",")]
    rows = [[value.split(",")[0] for value in row] for row in every]  # the outermost header's values
    streams = sorted({int(row[0]) for row in rows if row[0]})
    assert set(streams) <= set(asked), f"{path.name}: tshark has more TCP streams than rawkit"
    return {"capinfos": capinfos, "capinfos_after": int(after[1]) if after else None, "rows": rows,
            "streams": streams, "text": output[cut:], "damaged": damaged}


def _unreadable(path: Path) -> str | None:
    """rawkit's error for a file that is not a capture at all (tshark's then says so too)."""
    try:
        capture_stats(str(path))
    except CaptureError as error:
        return str(error)
    return None


@pytest.fixture(scope="module")
def oracles(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, dict]:
    """Every bundled capture that is a capture at all (the others: test_unreadable_files_unreadable_for_both),
    damaged ones included, plus the crafted set."""
    paths = [path for path in bundled_captures() if _unreadable(path) is None]
    paths += craft_captures(tmp_path_factory.mktemp("crafted"))
    with ThreadPoolExecutor(4) as pool:
        return dict(zip(paths, pool.map(_oracle, paths), strict=True))


def test_unreadable_files_unreadable_for_both(oracles: dict[Path, dict]) -> None:
    """A file that is no capture (bad magic, a header cut short) gives nothing to compare: rawkit and
    tshark must both refuse it, rawkit with one line naming the file. (Every other bundled file is
    compared in the tests above.)"""
    refused = [path for path in bundled_captures() if path not in oracles]
    for path in refused:
        ours = _unreadable(path)
        assert ours is not None and str(path) in ours and "\n" not in ours, path.name
        theirs = subprocess.run([*TSHARK, "-r", str(path), "-c", "1"], capture_output=True, text=True)
        assert theirs.returncode == 2 and not theirs.stdout and "tshark: " in theirs.stderr, path.name
    assert len(refused) >= 2


def test_stats_equal_capinfos(oracles: dict[Path, dict]) -> None:
    """capinfos' numbers; on a damaged file, rawkit notes the damage where capinfos reports an error,
    and counts what came before it (capinfos' count, tshark's frames when capinfos prints no table)."""
    tables = 0
    for path, oracle in oracles.items():
        summary = capture_stats(str(path))
        assert (summary["damage"] is not None) == (oracle["capinfos_after"] is not None), path.name
        if oracle["capinfos_after"] is not None:
            assert summary["packets"] == oracle["capinfos_after"] == len(oracle["rows"]), path.name
            assert summary["bytes"] == sum(int(row[2]) for row in oracle["rows"]), path.name
        if not oracle["capinfos"].strip():
            continue
        tables += 1
        _, encapsulation, packets, data_size, duration, first, last = oracle["capinfos"].strip().split("\t")
        assert (summary["packets"], summary["bytes"]) == (int(packets), int(data_size)), path.name
        assert summary["encapsulation"] == encapsulation, path.name
        if "n/a" in (duration, first, last):
            assert (summary["duration"], summary["first"], summary["last"]) == (None, None, None), path.name
            continue
        # capinfos -S prints through a double: good to a few hundred nanoseconds
        assert abs(summary["first_ns"] - float(first) * 1e9) < 1000, path.name
        assert abs(summary["last_ns"] - float(last) * 1e9) < 1000, path.name
        assert abs(summary["duration"] - float(duration)) < 1e-6, path.name
    assert tables >= 30


_PHS_LINE = re.compile(r"^( *)(\S+)\s+frames:(\d+) bytes:(\d+)$")
_COMPARED = {"eth", "sll", "null", "raw", "vlan", "ieee8021ad", "ip", "ipv6", "arp", "tcp", "udp", "icmp",
             "icmpv6", "_ws.malformed", "_ws.short"}


def _tshark_hierarchy(text: str) -> dict[str, tuple[int, int]]:
    nodes: dict[str, tuple[int, int]] = {}
    stack: list[str] = []
    for line in text.split("Protocol Hierarchy Statistics", 1)[1].split("=" * 20, 1)[0].splitlines():
        found = _PHS_LINE.match(line)
        if not found:
            continue
        stack[len(found[1]) // 2 :] = [found[2]]
        # the tree's root is "frame" (not under -q); frames with a comment get their own "pkt_comment"
        # root: fold both away
        names = [name for name in stack if name not in ("frame", "pkt_comment")]
        if names and set(names) <= _COMPARED:
            frames, size = nodes.get("/".join(names), (0, 0))
            nodes["/".join(names)] = (frames + int(found[3]), size + int(found[4]))
    return nodes


def _damaged(oracle: dict) -> bool:
    """Whether tshark found any frame malformed or in error (its taps then depend on where exactly
    its dissectors stopped, which per-frame fields do not show)."""
    return bool(oracle["damaged"])


def _our_hierarchy(path: Path) -> dict[str, tuple[int, int]]:
    hierarchy = capture_stats(str(path))["hierarchy"]
    return {node["protocol"]: (node["frames"], node["bytes"]) for node in hierarchy
            if set(node["protocol"].split("/")) <= _COMPARED}


def test_protocol_hierarchy_equals_tshark_phs(oracles: dict[Path, dict]) -> None:
    """Every capture, damaged frames and damaged files included: the nodes down to the transport
    layer, and the "_ws.malformed" / "_ws.short" nodes where tshark's dissection ran out of bytes
    (application protocols and "data" are tshark's alone)."""
    damaged = 0
    for path, oracle in oracles.items():
        damaged += _damaged(oracle)
        assert _our_hierarchy(path) == _tshark_hierarchy(oracle["text"]), path.name
    assert damaged >= 2


def test_protocol_hierarchy_of_every_cut_equals_tshark_phs(tmp_path: Path) -> None:
    """Every cut of every header shape rawkit decodes, by a snap length and as a frame that really
    ends there, and options of every length (tests/damaged_frames.py): about 2000 damaged frames.
    (Only the hierarchy: conversation tables over such frames are not claimed to match.)"""
    path = write_damaged_capture(tmp_path / "damaged.pcap")
    theirs = _tshark_hierarchy(_run([*TSHARK, "-r", str(path), "-q", "-z", "io,phs"]))
    assert sum(frames for name, (frames, _) in theirs.items() if name.endswith(("malformed", "short"))) > 1000
    assert _our_hierarchy(path) == theirs


_CONV_LINE = re.compile(r"^(\S+)\s+<->\s+(\S+)\s+(\d+) (\d+ \w+)\s+(\d+) (\d+ \w+)\s+\d+ \d+ \w+\s+([\d.]+)")
_CONV_TITLES = {"Ethernet": "eth", "IPv4": "ip", "IPv6": "ipv6", "TCP": "tcp", "UDP": "udp"}


def _tshark_size(value: int) -> str:
    """How tshark 4.0 prints a byte count in conversation tables."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if value >= 10 * scale:
            return f"{value // scale} {unit}"
    return f"{value} bytes"


def _endpoint(text: str, proto: str) -> tuple[str, int | None]:
    if proto not in ("tcp", "udp"):
        return text, None
    address, port = text.rsplit(":", 1)
    return address, int(port)


def test_conversations_equal_tshark_conv(oracles: dict[Path, dict]) -> None:
    for path, oracle in oracles.items():
        theirs, proto = Counter(), None
        for line in oracle["text"].splitlines():
            if line.endswith(" Conversations"):
                proto = _CONV_TITLES[line.split()[0]]
            found = _CONV_LINE.match(line)
            if found:
                # tshark's columns: "<-" is b->a, "->" is a->b
                theirs[(proto, _endpoint(found[1], proto), _endpoint(found[2], proto), int(found[5]),
                        found[6], int(found[3]), found[4], round(float(found[7]), 6))] += 1
        ours = Counter((record["proto"], (record["a"], record["a_port"]), (record["b"], record["b_port"]),
                        record["packets_ab"], _tshark_size(record["bytes_ab"]), record["packets_ba"],
                        _tshark_size(record["bytes_ba"]), round(record["start"], 6))
                       for record in _records(path))
        assert ours == theirs, path.name


@pytest.mark.parametrize("proto", ["tcp", "udp"])
def test_stream_numbers_and_bytes_equal_tshark(oracles: dict[Path, dict], proto: str) -> None:
    """Exact bytes each way per tcp.stream / udp.stream (conv tables round big numbers to kB), on
    captures without damaged frames: tshark gives a tcp.stream number to a frame whose TCP header it
    could not finish, but its conversation tap (compared above, on every capture) does not count it."""
    column = 0 if proto == "tcp" else 1
    for path, oracle in oracles.items():
        if _damaged(oracle):
            continue
        sums: dict[int, list] = {}
        for row in oracle["rows"]:
            if not row[column] or row[7] or row[8] or not row[5 + column]:
                continue  # not this protocol, or a header quoted in an ICMP error
            sender = (row[3] or row[4], int(row[5 + column].split(",")[0]))
            entry = sums.setdefault(int(row[column]), [sender, 0, 0, 0, 0])
            index = 1 if sender == entry[0] else 3
            entry[index] += 1
            entry[index + 1] += int(row[2])
        ours = {record["stream"]: [(record["a"], record["a_port"]), record["packets_ab"], record["bytes_ab"],
                                   record["packets_ba"], record["bytes_ba"]]
                for record in _records(path, (proto,))}
        assert ours == sums, path.name


def _tshark_follow(text: str) -> dict[int, list[bytearray]]:
    streams: dict[int, list[bytearray]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("Filter: tcp.stream eq "):
            current = streams[int(line.rsplit(" ", 1)[1])] = [bytearray(), bytearray()]
        elif line.startswith("Follow: "):
            continue
        elif current is not None and line and not line.startswith(("Node ", "=")):
            current[1 if line.startswith("\t") else 0] += bytes.fromhex(line.strip())
        elif line.startswith("="):
            current = None
    return streams


def test_follow_bytes_equal_tshark_follow_raw(oracles: dict[Path, dict]) -> None:
    """Every stream of every capture. The analyses read records longer than the file's snap length
    whole, as tshark does (formats/caplen_over_snaplen.pcap; `rawkit read` cuts them as tcpdump does)."""
    followed = 0
    for path, oracle in oracles.items():
        with Capture(str(path)) as capture:
            captured = sum(len(pkt.data) for pkt in capture.packets())
        assert captured == sum(int(row[9]) for row in oracle["rows"]), path.name
        ours: dict[int, list[bytearray]] = defaultdict(lambda: [bytearray(), bytearray()])
        with Capture(str(path)) as capture:
            for conv, forward, data in tcp_chunks(capture.packets()):
                ours[conv.stream][0 if forward else 1] += gap_text(data) if isinstance(data, Gap) else data
        theirs = _tshark_follow(oracle["text"])
        assert set(oracle["streams"]) <= set(theirs), path.name
        for stream, both in theirs.items():
            assert ours.get(stream, [bytearray(), bytearray()]) == both, f"{path.name} stream {stream}"
            followed += bool(both[0] or both[1])
    assert followed >= 10

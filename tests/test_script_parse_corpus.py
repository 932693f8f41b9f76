"""The packetdrill parser against the 120 upstream scripts in ../shared/packetdrill (read in place).

Checks: each script parses; the counts of packet, system-call and python statements match an
independent line-by-line classification; rendering and re-parsing gives the same tree; random
mutations of corpus lines give a tree or ScriptSyntaxError, never another exception.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rawkit.script import ScriptSyntaxError, parse, parse_file, render
from rawkit.script.nodes import IcmpPacket, PacketEvent, PythonEvent, ShellEvent, SyscallEvent, TcpPacket
from tests.conftest import SHARED

CORPUS = SHARED / "packetdrill" / "tcp"
SCRIPTS = sorted(CORPUS.rglob("*.pkt")) if CORPUS.is_dir() else []
needs_corpus = pytest.mark.skipif(not SCRIPTS, reason=f"packetdrill corpus not found at {CORPUS}")


def script_id(path: Path) -> str:
    return str(path.relative_to(CORPUS))


@needs_corpus
def test_corpus_is_complete() -> None:
    assert len(SCRIPTS) == 120


@needs_corpus
@pytest.mark.parametrize("path", SCRIPTS, ids=script_id)
def test_every_corpus_script_parses(path: Path) -> None:
    script = parse_file(path)
    assert script.events, "a script with no events"


# ---- an independent classification of physical lines, by regular expressions only

TIME = r"(?:\*|\+?(?:\d+\.?\d*|\.\d+)(?:\s*(?:~|\.\.\.)\s*\+?(?:\d+\.?\d*|\.\d+))?)"
PACKET_LINE = re.compile(rf"^\s*{TIME}\s+[<>]\s")
SYSCALL_LINE = re.compile(rf"^\s*{TIME}\s+[a-z_0-9]+\(")
PYTHON_OPEN = re.compile(rf"^\s*{TIME}?\s*%\{{")


def classify_lines(text: str) -> dict[str, int]:
    counts = {"packet": 0, "syscall": 0, "python": 0}
    for line in text.splitlines():
        if line.lstrip().startswith("//"):
            continue
        if PACKET_LINE.match(line):
            counts["packet"] += 1
        elif SYSCALL_LINE.match(line):
            counts["syscall"] += 1
        elif PYTHON_OPEN.match(line):
            counts["python"] += 1
    return counts


@needs_corpus
@pytest.mark.parametrize("path", SCRIPTS, ids=script_id)
def test_statement_counts_match_line_classification(path: Path) -> None:
    script = parse_file(path)
    parsed = {
        "packet": sum(isinstance(e, PacketEvent) for e in script.events),
        "syscall": sum(isinstance(e, SyscallEvent) for e in script.events),
        "python": sum(isinstance(e, PythonEvent) for e in script.events),
    }
    assert parsed == classify_lines(path.read_text())
    # after any header options, every corpus script starts with the untimed defaults helper
    first = script.events[0]
    assert isinstance(first, ShellEvent) and first.timing is None and "defaults.sh" in first.command


TCP_FIELDS = re.compile(r"[<>]\s+(?:\[\w+\]\s+)?(\S+)\s+(\d+):(\d+)\((\d+)\)(?:\s+ack (\d+))?")


@needs_corpus
def test_packet_lines_agree_with_the_text() -> None:
    """Every TCP packet's flags, sequence range and ack, read again from its own source line."""
    checked = expected = 0
    for path in SCRIPTS:
        lines = path.read_text().splitlines()
        expected += sum(bool(PACKET_LINE.match(line)) and " icmp " not in line for line in lines)
        for event in parse_file(path).events:
            if isinstance(event, PacketEvent) and isinstance(event.packet, TcpPacket):
                source = lines[event.line - 1]
                found = TCP_FIELDS.search(source)
                assert found, source
                packet = event.packet
                assert found.group(1) == packet.flags
                assert (packet.seq.start, packet.seq.end, packet.seq.length) == tuple(
                    int(found.group(i)) for i in (2, 3, 4)
                )
                assert packet.ack == (None if found.group(5) is None else int(found.group(5)))
                checked += 1
    assert checked == expected > 1400


@needs_corpus
def test_corpus_constructs_are_typed() -> None:
    """The rarer constructs land in the right nodes (windows, blocking calls, `*`, ICMP, ECN, options)."""
    events = [e for path in SCRIPTS for e in parse_file(path).events]
    separators = {e.timing.separator for e in events if e.timing is not None and e.timing.start is not None}
    assert separators == {"", "~", "..."}
    assert any(e.timing is not None and e.timing.start is None for e in events)
    icmp = [e.packet for e in events if isinstance(e, PacketEvent) and isinstance(e.packet, IcmpPacket)]
    assert any(p.mtu == 800 and p.code == "frag_needed" for p in icmp)
    assert any(isinstance(e, PacketEvent) and e.ecn == "ect0" for e in events)
    tcp = [e.packet for e in events if isinstance(e, PacketEvent) and isinstance(e.packet, TcpPacket)]
    option_kinds = {option.kind for p in tcp if isinstance(p.options, tuple) for option in p.options}
    assert any(p.options == "..." for p in tcp)
    assert {"mss", "sackOK", "TS", "nop", "wscale", "sack", "FO", "FOEXP", "md5"} <= option_kinds
    errnos = {e.result.errno for e in events if isinstance(e, SyscallEvent)}
    assert {"EAGAIN", "EINPROGRESS", "ECONNRESET"} <= errnos


@needs_corpus
@pytest.mark.parametrize("path", SCRIPTS, ids=script_id)
def test_render_then_parse_gives_the_same_tree(path: Path) -> None:
    script = parse_file(path)
    text = render(script)
    assert parse(text, script.path) == script
    assert render(parse(text, script.path)) == text


# ---- mutations

CORPUS_LINES = [line for path in SCRIPTS for line in path.read_text().splitlines() if line.strip()]
SIGNIFICANT = "()[]{}<>=:,.|+-*~`%\"'/ \n0123456789SFPRxabEW_"


def mutate(line: str, position: int, action: int, insert: str) -> str:
    position %= len(line) + 1
    if action == 0:
        return line[:position] + line[position + 1 :]
    if action == 1:
        return line[:position] + insert + line[position:]
    if action == 2:
        return line[:position] + insert + line[position + len(insert) :]
    return line[:position]


@needs_corpus
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(CORPUS_LINES or [""]),
            st.integers(0, 200),
            st.integers(0, 3),
            st.text(alphabet=SIGNIFICANT, min_size=1, max_size=4),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mutated_lines_give_a_tree_or_a_syntax_error(mutations: list[tuple[str, int, int, str]]) -> None:
    text = "\n".join(mutate(*mutation) for mutation in mutations)
    try:
        script = parse(text, "fuzz.pkt")
    except ScriptSyntaxError as error:
        assert error.path == "fuzz.pkt"
        assert 1 <= error.line <= text.count("\n") + 1
        assert "\n" not in error.reason
        return
    assert parse(render(script), "fuzz.pkt") == script


def manifest_rows() -> dict[str, dict[str, str]]:
    """MANIFEST.tsv rows of the copied scripts, by path relative to tcp/ (one row per script is enough)."""
    manifest = CORPUS.parent / "MANIFEST.tsv"
    if not manifest.is_file():
        return {}
    header, *lines = manifest.read_text().splitlines()
    names = header.split("\t")
    rows = [dict(zip(names, line.split("\t"), strict=False)) for line in lines]
    return {row["path"].removeprefix("tcp/"): row for row in rows if row.get("copied") == "yes"}


@needs_corpus
def test_syscall_names_and_python_blocks_match_the_manifest() -> None:
    """The manifest was written by the corpus curator's own tooling: an independent oracle."""
    rows = manifest_rows()
    if not rows:
        pytest.skip("MANIFEST.tsv not found")
    assert set(rows) == {script_id(path) for path in SCRIPTS}
    for path in SCRIPTS:
        row, events = rows[script_id(path)], parse_file(path).events
        names = {e.name for e in events if isinstance(e, SyscallEvent)}
        assert names == set(filter(None, row["syscalls_used"].split(","))), path
        assert any(isinstance(e, PythonEvent) for e in events) == (row["uses_python_block"] == "yes"), path
        assert any(isinstance(e, ShellEvent) for e in events) == (row["uses_shell"] == "yes"), path

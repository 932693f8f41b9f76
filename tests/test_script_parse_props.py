"""Property: any tree the parser can produce renders to text that parses back to the same tree."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from rawkit.script import parse, render
from rawkit.script.nodes import (
    Anything,
    Array,
    BitOr,
    Field,
    IcmpPacket,
    Instant,
    Int,
    Name,
    OptionLine,
    PacketEvent,
    PythonEvent,
    Script,
    SeqRange,
    ShellEvent,
    String,
    Struct,
    SyscallEvent,
    SyscallResult,
    TcpOption,
    TcpPacket,
    Timing,
)
from rawkit.script.parser import ECN_MARKS

# words drawn as text over an alphabet rather than from_regex: the same words, a tenth of the drawing cost
WORD_START = string.ascii_letters + "_"
WORD = WORD_START + string.digits


def words(start: str, rest: str, max_rest: int) -> st.SearchStrategy[str]:
    """One character of `start`, then up to `max_rest` of `rest`."""
    return st.builds(str.__add__, st.sampled_from(start), st.text(rest, max_size=max_rest))


identifiers = words(WORD_START, WORD, 10)
u32 = st.integers(0, 2**32 - 1)
hex_text = st.text("0123456789abcdef", min_size=1, max_size=16)

instants = st.builds(Instant, st.integers(0, 10**10), st.booleans())
timings = st.one_of(
    st.just(Timing(None)),
    st.builds(Timing, instants),
    st.builds(Timing, instants, instants, st.sampled_from(["~", "..."])),
)

primaries = st.one_of(
    st.just(Anything()),
    st.builds(Int, st.integers(-(2**63), 2**64)),
    st.builds(Name, identifiers),
    st.builds(String, st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)),
)


def _flat_alternatives(items: list) -> tuple:
    """`a | (b | c)` is written, and parsed back, as `a | b | c`: one BitOr of every alternative
    (flattening costs less to draw than filtering nested ones out)."""
    return tuple(alternative for item in items
                 for alternative in (item.terms if isinstance(item, BitOr) else (item,)))


def compound(children: st.SearchStrategy) -> st.SearchStrategy:
    items = st.one_of(children, st.builds(Field, identifiers, children, st.none() | children))
    return st.one_of(
        st.builds(BitOr, st.lists(children, min_size=2, max_size=3).map(_flat_alternatives)),
        st.builds(Array, st.lists(children, max_size=3).map(tuple)),
        st.builds(Struct, st.lists(items, max_size=3).map(tuple)),
    )


expressions = st.recursive(primaries, compound, max_leaves=12)
notes = st.lists(st.text(WORD, min_size=1), min_size=1, max_size=4).map(" ".join)
syscalls = st.builds(
    SyscallEvent, timings, identifiers, st.lists(expressions, max_size=4).map(tuple),
    st.builds(SyscallResult, expressions, st.none() | identifiers, st.none() | notes),
)

seq_ranges = st.builds(SeqRange, u32, u32, st.integers(0, 65535))
tcp_options = st.one_of(
    st.builds(TcpOption, st.sampled_from(["mss", "wscale"]), st.tuples(st.integers(0, 65535))),
    st.builds(TcpOption, st.sampled_from(["nop", "eol", "sackOK"])),
    st.builds(TcpOption, st.just("TS"), st.tuples(u32, u32)),
    st.builds(TcpOption, st.just("sack"), st.lists(st.tuples(u32, u32), min_size=1, max_size=4).map(tuple)),
    st.builds(TcpOption, st.sampled_from(["FO", "FOEXP"]), st.just(()) | st.tuples(hex_text)),
    st.builds(TcpOption, st.just("md5"), st.tuples(hex_text)),
)
flag_sets = st.just("-") | st.permutations("SFRPUEW.").flatmap(
    lambda letters: st.integers(1, len(letters)).map(lambda n: "".join(letters[:n]))
)
tcp_packets = st.builds(
    TcpPacket, flag_sets, seq_ranges, st.none() | u32, st.none() | u32, st.none() | u32,
    st.none() | st.just("...") | st.lists(tcp_options, min_size=1, max_size=5).map(tuple),
)
icmp_packets = st.builds(
    IcmpPacket, identifiers, st.none() | identifiers.filter(lambda word: word != "mtu"),
    st.none() | st.integers(0, 65535), st.none() | seq_ranges,
)
packets = st.builds(
    PacketEvent, timings, st.sampled_from(["<", ">"]), tcp_packets | icmp_packets,
    st.none() | st.sampled_from(ECN_MARKS),
)
statements = st.one_of(
    syscalls,
    packets,
    st.builds(ShellEvent, st.none() | timings, st.text(max_size=30).map(lambda text: text.replace("`", ""))),
    st.builds(PythonEvent, st.none() | timings, st.text(max_size=30).filter(lambda text: "}%" not in text)),
    st.builds(OptionLine, words(WORD_START, WORD + "-", 12),
              st.none() | st.text(WORD + ".:=-", min_size=1, max_size=10)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(statements, max_size=8))
def test_render_then_parse_is_identity(generated: list) -> None:
    script = Script("gen.pkt", tuple(generated))
    assert parse(render(script), "gen.pkt") == script

"""rawkit.filter's interface: errors (tcpdump's wording, with positions), the two back ends agreeing
on arbitrary bytes, far jumps in long BPF programs, filter files, and the wiring into rawkit.read
and `rawkit read`."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_filter_corpus import ethernet_frames, read_pcap, write_pcap

import rawkit
import rawkit.filter
from rawkit.filter import FilterError
from rawkit.filter.vm import run
from tests.conftest import CAPTURES, needs_tool


@pytest.mark.parametrize(("expression", "message", "position"), [
    ("xyz", "syntax error in filter expression at 'xyz'", 0),
    ("tcp and or udp", "syntax error in filter expression at 'or'", 8),
    ("host 198.18.0.1 and", "syntax error in filter expression at end of expression", 19),
    ("port 80 )", "syntax error in filter expression at ')'", 8),
    ("ip[2:3] = 1", "data size must be 1, 2, or 4", None),
    ("1 / 0 = 1", "division by zero", None),
    ("port 99999", "illegal port number 99999 > 65535", None),
    ("host xyzzy.invalid", "unknown host 'xyzzy.invalid'", None),
    ("ip and ip6", "expression rejects all packets", None),
    ("vlan 5000", "VLAN tag 5000 greater than maximum 4095", None),
    ("net 10.1/8", 'non-network bits set in "10.1/8"', None),
    ("tcp host 1.2.3.4", "'tcp' modifier applied to host", None),
])
def test_errors_read_like_tcpdump(expression: str, message: str, position: int | None) -> None:
    with pytest.raises(FilterError) as caught:
        rawkit.filter.compile(expression)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)
    if position is not None:
        assert caught.value.position == position


def test_link_type_errors() -> None:
    with pytest.raises(FilterError, match="link type 147 is not supported"):
        rawkit.filter.compile("tcp", linktype=147)
    with pytest.raises(FilterError, match="no VLAN support for Raw IP"):
        rawkit.filter.compile("vlan", linktype=101)


def test_empty_expression_keeps_everything() -> None:
    flt = rawkit.filter.compile("  ")
    assert flt.match(b"") and flt.match(b"\x00" * 60)
    assert flt.bpf() == [(0x06, 0, 0, 262144)]


def test_design_example() -> None:
    flt = rawkit.filter.compile("tcp[tcpflags] & tcp-syn != 0 and not port 22", linktype=1)
    syn = bytes(rawkit.Ether() / rawkit.IPv4(dst="198.18.0.2") / rawkit.TCP(dport=80, flags="S"))
    ssh = bytes(rawkit.Ether() / rawkit.IPv4(dst="198.18.0.2") / rawkit.TCP(dport=22, flags="S"))
    ack = bytes(rawkit.Ether() / rawkit.IPv4(dst="198.18.0.2") / rawkit.TCP(dport=80, flags="A"))
    assert [flt.match(frame) for frame in (syn, ssh, ack)] == [True, False, False]
    assert [bool(run(flt.bpf(), frame)) for frame in (syn, ssh, ack)] == [True, False, False]
    assert all(0 <= jt < 256 and 0 <= jf < 256 for _, jt, jf, _ in flt.bpf())


PROPERTY_FILTERS = [rawkit.filter.compile(expression) for expression in (
    "tcp port 80 or udp portrange 50-60", "host 198.18.0.1 or net fd00:18::/48", "vlan and tcp[13] & 2 != 0",
    "icmp[icmptype] = icmp-echo or icmp6[icmp6type] = icmp6-echo", "ip[2:2] - ((ip[0] & 0xf) << 2) > 20",
    "len % 3 = 1 and ether[len - 60] = 0", "tcp[(tcp[12] >> 4) * 4 - 1] != 0", "ip6 proto 17 or arp",
    "ether[12:2] / ip[1] > 100", "(ip[8] ^ 0xff) << 2 >= 0x200", "len << -ip[1] = 0", "len >> ip[14] = 0",
)]
SEEDS = [data for data, _ in ethernet_frames()]


@settings(max_examples=300, deadline=None)
@given(seed=st.sampled_from(SEEDS), cut=st.integers(0, 120), flips=st.lists(
    st.tuples(st.integers(0, 119), st.integers(0, 255)), max_size=4))
def test_python_and_bpf_agree_on_any_bytes(seed: bytes, cut: int, flips: list[tuple[int, int]]) -> None:
    frame = bytearray(seed[:cut])
    for index, value in flips:
        if index < len(frame):
            frame[index] = value
    frame = bytes(frame)
    for flt in PROPERTY_FILTERS:
        assert flt.match(frame) == bool(run(flt.bpf(), frame)), flt.expression


def test_long_programs_get_far_jumps() -> None:
    hosts = " or ".join(f"host fd00:18::{index:x}" for index in range(1, 40))
    flt = rawkit.filter.compile(f"({hosts}) and tcp")
    program = flt.bpf()
    assert len(program) > 300
    assert any(code == 0x05 and k > 255 for code, _, _, k in program)  # a `ja` trampoline
    frames = [bytes(rawkit.Ether() / rawkit.IPv6(src=f"fd00:18::{index:x}", dst="fd00:19::1")
                    / rawkit.TCP()) for index in (1, 0x27, 0x28)]
    assert [flt.match(frame) for frame in frames] == [True, True, False]
    assert [bool(run(program, frame)) for frame in frames] == [True, True, False]


def test_filter_file_comments(tmp_path) -> None:
    path = tmp_path / "filter.txt"
    path.write_text("# web traffic\ntcp and\n  port 80  # plain http\n")
    assert rawkit.filter.read_filter_file(str(path)) == "tcp and   port 80"
    with pytest.raises(FilterError, match="can't open"):
        rawkit.filter.read_filter_file(str(tmp_path / "missing"))


@needs_tool("tcpdump")
def test_rawkit_read_filter_selects_what_tcpdump_selects(tmp_path) -> None:
    path = tmp_path / "mix.pcap"
    write_pcap(path, 1, ethernet_frames())
    expression = "tcp port 80 or icmp"
    done = _tcpdump(path, expression)
    ours = [(bytes(pkt.data), pkt.wirelen) for pkt in rawkit.read(str(path), filter=expression)]
    assert ours == read_pcap(done.stdout)[1]
    with pytest.raises(FilterError):
        list(rawkit.read(str(path), filter="tcp and"))


def _tcpdump(path, expression: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tcpdump", "-r", str(path), "-w", "-", expression], capture_output=True,
                          check=True, timeout=60)


def _rawkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rawkit", *args], capture_output=True, text=True,
                          timeout=60)


@needs_tool("tcpdump")
def test_rawkit_read_cli_filters(tmp_path) -> None:
    path = tmp_path / "mix.pcap"
    write_pcap(path, 1, ethernet_frames())
    bad = _rawkit("read", str(path), "tcp", "and", "xyz")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines()[-1] == "rawkit: syntax error in filter expression at 'xyz'"
    ours = _rawkit("read", str(path), "-w", str(tmp_path / "out.pcap"), "udp", "port", "53")
    assert ours.returncode == 0, ours.stderr
    done = _tcpdump(path, "udp port 53")
    assert read_pcap((tmp_path / "out.pcap").read_bytes())[1] == read_pcap(done.stdout)[1]
    filter_file = tmp_path / "f.txt"
    filter_file.write_text("udp # dns\nport 53\n")
    from_file = _rawkit("read", str(path), "-F", str(filter_file), "--count")
    assert from_file.stdout.strip() == f"{len(read_pcap(done.stdout)[1])} packets"


def test_bundled_capture_reads_with_filter() -> None:
    path = CAPTURES / "lab-traffic.pcap"
    if not path.exists():
        pytest.skip("captures/lab-traffic.pcap is not there yet")
    flt = rawkit.filter.compile("tcp", 1)
    everything = list(rawkit.read(str(path)))
    assert [p.data for p in rawkit.read(str(path), filter="tcp")] == [
        p.data for p in everything if flt.match(p.data, p.wirelen)]


WORDS = ["tcp", "udp", "ip", "ip6", "host", "net", "port", "portrange", "src", "dst", "and", "or", "not",
         "vlan", "ether", "proto", "len", "less", "greater", "broadcast", "multicast", "mask", "(", ")", "[",
         "]", ":", "!", "&&", "||", "=", "!=", "<", ">=", "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>",
         "1", "0", "80", "0x800", "99999", "4096", "198.18.0.1", "10.1", "fd00:18::1", "::", "/", "24",
         "02:00:00:00:00:0a", "\\tcp", "tcp-syn", "icmp-echo", "80-90", "localhost", "gateway", "arp",
         "icmp6"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=9), st.sampled_from([0, 1, 101, 108, 113, 276]))
def test_any_token_soup_compiles_or_raises_filter_error(words: list[str], linktype: int) -> None:
    try:
        flt = rawkit.filter.compile(" ".join(words), linktype)
    except FilterError:
        return
    frame = bytes(range(64))
    assert flt.match(frame) == bool(run(flt.bpf(), frame))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_any_text_compiles_or_raises_filter_error(text: str) -> None:
    try:
        rawkit.filter.compile(text)
    except FilterError:
        pass


def test_read_filters_each_interface_by_its_own_link_type() -> None:
    path = CAPTURES / "formats" / "several_linktypes.pcapng"
    if not path.exists():
        pytest.skip("captures/formats/several_linktypes.pcapng is not there yet")
    everything = list(rawkit.read(str(path)))
    assert len({pkt.linktype for pkt in everything}) > 1
    for expression in ("ip", "tcp or arp", "udp port 53"):
        expected = [pkt.data for pkt in everything
                    if rawkit.filter.compile(expression, pkt.linktype).match(pkt.data, pkt.wirelen)]
        assert [pkt.data for pkt in rawkit.read(str(path), filter=expression)] == expected

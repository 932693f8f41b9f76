"""The packetdrill parser on small scripts of our own: each construct's tree, each error's line and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from rawkit.script import ScriptSyntaxError, parse, parse_file, render
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

HANDSHAKE = """\
--tolerance_usecs=7000
--tcp_ts_ecr_scaled   // a flag option with no value
`../common/defaults.sh
 sysctl -q net.ipv4.tcp_ecn=1`

// a server accepting one connection
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1000,sackOK,TS val 100 ecr 0,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 100 ecr 100,nop,wscale 8>
 +.1 < . 1:1(0) ack 1 win 257 <sack 1:2 3:4,FO abcd1234,md5 00ff>
   +0 accept(3, ..., ...) = 4
+.004~+.008 > [ect0] P. 1:1001(1000) ack 1
 +.01...0.020 read(4, ..., 1000) = -1 EAGAIN (Resource temporarily unavailable)
    * > F. 1001:1001(0) ack 1 <...>
  1.5 < icmp unreachable frag_needed mtu 800 [0:1000(1000)]
   +0 %{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%
   +0 fcntl(4, F_GETFL) = 0x2 (flags O_RDWR)
   +0 open("/tmp/f\\n", O_RDONLY|O_NONBLOCK) = 5
   +0 sendmsg(4, {msg_name(...)=...,
                  msg_iov(2)=[{..., 600}, {...,400}],
                  msg_flags=0}, 0) = 1000
"""


def events_of(text: str) -> list:
    return list(parse(text, "t.pkt").events)


def test_header_options_and_untimed_shell() -> None:
    script = parse(HANDSHAKE, "t.pkt")
    assert script.statements[0] == OptionLine("tolerance_usecs", "7000")
    assert script.options == {"tolerance_usecs": "7000", "tcp_ts_ecr_scaled": None}
    shell = script.events[0]
    assert shell == ShellEvent(None, "../common/defaults.sh\n sysctl -q net.ipv4.tcp_ecn=1")
    assert shell.line == 3


def test_syscalls() -> None:
    events = events_of(HANDSHAKE)
    socket = events[1]
    assert socket == SyscallEvent(
        Timing(Instant(0, False)), "socket", (Anything(), Name("SOCK_STREAM"), Name("IPPROTO_TCP")),
        SyscallResult(Int(3)),
    )
    assert socket.line == 7
    assert events[2].args[3] == Array((Int(1),))
    read = next(e for e in events if isinstance(e, SyscallEvent) and e.name == "read")
    assert read.timing == Timing(Instant(10_000, True), Instant(20_000, False), "...")
    assert read.result == SyscallResult(Int(-1), "EAGAIN", "Resource temporarily unavailable")
    fcntl = next(e for e in events if isinstance(e, SyscallEvent) and e.name == "fcntl")
    assert fcntl.result == SyscallResult(Int(2), None, "flags O_RDWR")
    opened = next(e for e in events if isinstance(e, SyscallEvent) and e.name == "open")
    assert opened.args == (String("/tmp/f\n"), BitOr((Name("O_RDONLY"), Name("O_NONBLOCK"))))
    sendmsg = events[-1]
    assert sendmsg.line == 22
    assert sendmsg.args[1] == Struct((
        Field("msg_name", Anything(), Anything()),
        Field("msg_iov", Array((Struct((Anything(), Int(600))), Struct((Anything(), Int(400))))), Int(2)),
        Field("msg_flags", Int(0)),
    ))


def test_packets() -> None:
    packets = [e for e in events_of(HANDSHAKE) if isinstance(e, PacketEvent)]
    syn = packets[0]
    assert syn.direction == "<" and syn.line == 11
    assert syn.packet == TcpPacket(
        "S", SeqRange(0, 0, 0), None, 32792, None,
        (TcpOption("mss", (1000,)), TcpOption("sackOK"), TcpOption("TS", (100, 0)), TcpOption("nop"),
         TcpOption("wscale", (7,))),
    )
    assert packets[1].direction == ">" and packets[1].packet.flags == "S." and packets[1].packet.ack == 1
    assert packets[2].timing == Timing(Instant(100_000, True))
    assert packets[2].packet.options == (
        TcpOption("sack", ((1, 2), (3, 4))), TcpOption("FO", ("abcd1234",)), TcpOption("md5", ("00ff",)),
    )
    data = packets[3]
    assert data.ecn == "ect0" and data.packet.flags == "P."
    assert data.timing == Timing(Instant(4000, True), Instant(8000, True), "~")
    fin = packets[4]
    assert fin.timing == Timing(None) and fin.packet.options == "..."
    icmp = packets[5]
    assert icmp.timing == Timing(Instant(1_500_000, False))
    assert icmp.packet == IcmpPacket("unreachable", "frag_needed", 800, SeqRange(0, 1000, 1000))


def test_python_block_kept_as_text() -> None:
    python = [e for e in events_of(HANDSHAKE) if isinstance(e, PythonEvent)]
    assert python == [PythonEvent(Timing(Instant(0, True)), " assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd ")]
    # `//` inside python is floor division, not a comment
    block = events_of("+0 %{\nassert 7 // 2 == 3\n}%\n")[0]
    assert block.code == "\nassert 7 // 2 == 3\n"


def test_render_round_trip_of_every_construct() -> None:
    script = parse(HANDSHAKE, "t.pkt")
    assert parse(render(script), "t.pkt") == script


def test_result_note_keeps_nested_parens_and_strings() -> None:
    script = parse('+0 close(3) = -1 EBADF (Bad  "a\\"b"  (fd))\n', "t.pkt")
    assert script.events[0].result == SyscallResult(Int(-1), "EBADF", 'Bad "a\\"b" (fd)')
    assert parse(render(script), "t.pkt") == script


def test_parse_file_reports_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.pkt"
    path.write_bytes(b"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 close(3) = 0 // \xff\n")
    with pytest.raises(ScriptSyntaxError) as caught:
        parse_file(path)
    assert (caught.value.line, caught.value.reason) == (2, "not UTF-8 text")
    assert str(caught.value) == f"{path}:2: not UTF-8 text"


# ---- errors: (script, line, a piece of the reason)
SOCKET = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n"
ERRORS = [
    (SOCKET + "+0 close(3) 0\n", 2, "expected '= result' after close(...)"),
    (SOCKET + "+0 frobnicate 3\n", 2, "expected a packet (< or >), a system call"),
    (SOCKET + "\n+0 > SX 0:0(0)\n", 3, "bad TCP flags 'SX': letter 'X'"),
    ("+0 < SS 0:0(0) win 10\n", 1, "bad TCP flags 'SS': a repeated letter"),
    ("+0 < S 0:0 win 10\n", 1, "expected '(' in start:end(length)"),
    ("+0 < S 0:0(0) win 10 <mss 1460,bogus 3>\n", 1, "unknown TCP option 'bogus'"),
    ("+0 < S 0:0(0) win 10 <mss 1460\n", 1, "expected ',' or '>' in the TCP option list"),
    ("+0 < S 0:0(0) win 10 win 20\n", 1, "'win' given twice"),
    ("+0 > [ect7] P. 1:2(1) ack 1\n", 1, "unknown ECN mark [ect7]"),
    ("// header\n+0 recvmsg(3, {msg_name(...)=...,\n   msg_iov(1)=[{...,0}],\n   msg_flags=0, 0) = 0\n",
     4, "')' closes '{' opened at line 2"),
    ("+0 write(4, ..., 10) = 10\n+0 setsockopt(3, {a=1,\n b=2) = 0\n", 3, "')' closes '{' opened at line 2"),
    ("+0 close(3) = 0\n+0 poll([{fd=4,\n events=POLLIN}], 1, 0 = 1\n+0 close(4) = 0\n", 2, "unclosed '('"),
    ("+0 close(3) = 0\n+0 close(4)) = 0\n", 2, "unbalanced ')': nothing to close"),
    ("`defaults.sh\n\n0 close(3) = 0\n", 1, "unterminated backtick command"),
    ("0 close(3) = 0\n+0 %{ assert 1\n", 2, "unterminated %{ python block"),
    ("+0 open(\"/tmp/x, 0) = 3\n", 1, "unterminated string"),
    ("+x close(3) = 0\n", 1, "expected a time"),
    ("+0\n", 1, "a time with no event after it"),
    ("+0 close(3) = 0 EBADF (x) extra\n", 1, "unexpected 'extra' at end of statement"),
    ("+0 close(3) = 0\n+0 close(3) = 0 \u00e9\n", 2, "unexpected character"),
    ("+0 < S 0:0(0) win 1" + "0" * 60 + "\n", 1, "number too long"),
    ("+0 close(3) = -1 EBADF (bad `x`)\n", 1, "expected ')' closing the note"),
    ("+0 f(" + "[" * 40 + "\n", 1, "nested deeper than"),
]


@pytest.mark.parametrize(("text", "line", "reason"), ERRORS)
def test_syntax_errors_name_the_line(text: str, line: int, reason: str) -> None:
    with pytest.raises(ScriptSyntaxError) as caught:
        parse(text, "bad.pkt")
    error = caught.value
    assert (error.path, error.line) == ("bad.pkt", line), error.reason
    assert reason in error.reason
    assert str(error).startswith(f"bad.pkt:{line}: ") and "\n" not in str(error)

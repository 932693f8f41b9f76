"""The system-call side of `rawkit script`: argument reading and result judging (pure, no network),
struct tcp_info decoding, `%{ }%` blocks, and KernelTarget making real calls inside a lab namespace."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SHARED, needs_root
from hypothesis import given, settings
from hypothesis import strategies as st

from rawkit.script import parse, parse_file
from rawkit.script import syscall_args as sa
from rawkit.script import tcp_info as tcpi
from rawkit.script.nodes import BitOr, Name, PythonEvent, SyscallEvent

CORPUS = SHARED / "packetdrill" / "tcp"
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"packetdrill corpus not found at {CORPUS}")
CORPUS_SYMBOLS = {"TFO_COOKIE": "10bdd55653290339", "CODE": "host_unreachable",
                  "CMSG_LEVEL_IP": "SOL_IP", "CMSG_TYPE_RECVERR": "IP_RECVERR"}


def syscalls(text: str) -> list[SyscallEvent]:
    return [event for event in parse(text).events if isinstance(event, SyscallEvent)]


def one(text: str) -> SyscallEvent:
    (event,) = syscalls(f"0 {text}\n")
    return event


def corpus_scripts() -> list[Path]:
    return sorted(CORPUS.rglob("*.pkt")) if CORPUS.is_dir() else []


# ---- every syscall form of the corpus -------------------------------------------------------


@needs_corpus
def test_every_corpus_syscall_line_prepares_and_passes_the_kernel_check() -> None:
    from rawkit.script.kernel_target import KernelTarget

    target, lines, names = KernelTarget(), 0, set()
    for path in corpus_scripts():
        for event in parse_file(path).events:
            if isinstance(event, SyscallEvent):
                lines += 1
                names.add(event.name)
                assert target.check(event, CORPUS_SYMBOLS) is None, f"{path}:{event.line}"
    assert lines > 1000
    assert names <= set(sa.SIGNATURES)
    assert {"sendto", "recvmsg", "sendmsg", "epoll_wait", "poll", "splice", "sendfile"} <= names


@needs_corpus
def test_corpus_recverr_cmsg_levels_follow_the_ip_version_symbols() -> None:
    event = next(e for e in parse_file(CORPUS / "zerocopy" / "basic.pkt").events
                 if isinstance(e, SyscallEvent) and e.name == "recvmsg" and e.result.errno is None)
    for level, kind, number in (("SOL_IP", "IP_RECVERR", 0), ("SOL_IPV6", "IPV6_RECVERR", 41)):
        call = sa.prepare(event, {"CMSG_LEVEL_IP": level, "CMSG_TYPE_RECVERR": kind})
        msg = call.args[1]
        assert isinstance(msg, sa.Msghdr) and msg.control is not None
        assert msg.control[0].level == number
        assert isinstance(msg.control[0].data, sa.ExtendedError)
        assert msg.control[0].data.origin == sa.CONSTANTS["SO_EE_ORIGIN_ZEROCOPY"]


# ---- prepare: shapes and errors -------------------------------------------------------------


def test_prepare_converts_arguments_and_expectations() -> None:
    call = sa.prepare(one("sendto(4, ..., 1000, MSG_FASTOPEN|MSG_DONTWAIT, ..., ...) = -1 EINPROGRESS "
                          "(Operation now in progress)"), {})
    assert call.args == (4, False, 1000, 0x20000040, None, None)
    assert call.expected == sa.Expected(-1, sa.CONSTANTS["EINPROGRESS"])
    call = sa.prepare(one("poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLOUT}], 1, 100) = 1"), {})
    assert call.args[0] == (sa.PollFd(4, 5, 4),)
    call = sa.prepare(one("epoll_ctl(5, EPOLL_CTL_MOD, 4, {events=EPOLLOUT|EPOLLONESHOT, fd=4}) = 0"), {})
    assert call.args[3] == sa.EpollEvent(4 | 1 << 30, "fd", 4)
    call = sa.prepare(one("setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0"), {})
    assert call.args[3] == sa.Linger(1, 0)
    call = sa.prepare(one('setsockopt(4, SOL_TCP, TCP_CONGESTION, "reno", 4) = 0'), {})
    assert call.args[3] == b"reno"
    call = sa.prepare(one("sendmsg(4, {msg_name(...)=..., msg_iov(2)=[{..., 600}, {..., 400}], msg_flags=0}, "
                          "MSG_FASTOPEN) = 1000"), {})
    assert call.args[1] == sa.Msghdr(True, (600, 400), 0, None)
    call = sa.prepare(one("read(4, NULL, 1000) = -1 EFAULT (Bad address)"), {})
    assert call.args == (4, True, 1000)
    assert sa.prepare(one("fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)"), {}).expected.value == 2
    assert sa.prepare(one("pipe([5, 6]) = 0"), {}).args == ((5, 6),)
    assert sa.prepare(one("accept(3, ..., ...) = 4"), {}).creates_fd
    call = sa.prepare(one("getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_state=TCP_ESTABLISHED, tcpi_snd_mss=1448}, "
                          "[...]) = 0"), {})
    assert call.args[3:] == (sa.TcpInfoFields((("tcpi_state", 1), ("tcpi_snd_mss", 1448))), None)
    assert sa.compare_tcp_info(call.args[3], {"tcpi_state": 1, "tcpi_snd_mss": 1448}) is None
    assert sa.compare_tcp_info(call.args[3], {"tcpi_state": 1, "tcpi_snd_mss": 1000}) == (
        "Bad tcp_info tcpi_snd_mss: expected: 1448 actual: 1000")
    assert "ends before tcpi_snd_mss" in sa.compare_tcp_info(call.args[3], {"tcpi_state": 1})


@pytest.mark.parametrize(("line", "reason"), [
    ("frobnicate(3) = 0", "unsupported system call frobnicate()"),
    ("listen(3) = 0", "listen() takes 2 arguments, got 1"),
    ("fcntl(3) = 0", "fcntl() takes 2 or 3 arguments, got 1"),
    ("setsockopt(3, SOL_TCP, TCP_WHATEVER, [1], 4) = 0", "argument 3: unknown symbol TCP_WHATEVER"),
    ("read(4, [1], 10) = 0", "argument 2: expected ... or NULL for a buffer, got a [list]"),
    ("getsockopt(4, SOL_TCP, TCP_MAXSEG, [1], 4) = 0", "argument 5: expected [<integer>], got an integer"),
    ("socket(..., SOCK_STREAM, IPPROTO_TCP) = ...", "socket() must say which fd it returns"),
    ("write(4, ..., 10) = -1 EWHATEVER", "unknown errno EWHATEVER"),
    ("sendmsg(4, {msg_iov(2)=[{..., 1}], msg_flags=0}, 0) = 1",
     "msg_iov(2) does not match its 1-element list"),
    ("poll([{fd=4, events=POLLIN}], 1, 0) = 0", "a pollfd needs exactly fd=, events= and revents="),
    ("epoll_ctl(5, EPOLL_CTL_ADD, 4, {events=EPOLLIN}) = 0", "an epoll_event needs events= and one of"),
    ("recvmsg(4, {msg_iov(1)=[{..., 1}], msg_control=[{cmsg_level=1, cmsg_type=2, cmsg_data={x=1}}]}, 0) = 0",
     "unknown cmsg_data fields: x"),
    ("pipe([5, 5]) = 0", "pipe() needs two different fds"),
    ("getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_bogus=1}, [...]) = 0", "unknown tcp_info field tcpi_bogus"),
])
def test_prepare_rejects_broken_lines_with_a_reason(line: str, reason: str) -> None:
    with pytest.raises(sa.ArgumentError, match=None) as caught:
        sa.prepare(one(line), {})
    assert reason in str(caught.value)


def test_kernel_check_reports_what_it_cannot_run() -> None:
    from rawkit.script.kernel_target import KernelTarget

    target = KernelTarget()
    assert target.check(one("write(4, ..., 10) = 10"), {}) is None
    flagged = one("sendmsg(4, {msg_iov(1)=[{..., 1}], msg_flags=MSG_EOR}, 0) = 1")
    assert "msg_flags" in target.check(flagged, {})
    assert "needs a value" in target.check(one("setsockopt(3, SOL_SOCKET, SO_MARK, ..., 4) = 0"), {})


def test_cmsg_symbols_default_by_ip_version() -> None:
    assert sa.resolve("CMSG_LEVEL_IP", sa.default_symbols(4)) == 0
    assert sa.resolve("CMSG_TYPE_RECVERR", sa.default_symbols(6)) == 25
    from rawkit.script.kernel_target import KernelTarget

    recverr = ("recvmsg(4, {msg_iov(1)=[{..., 0}], msg_flags=MSG_ERRQUEUE, "
               "msg_control=[{cmsg_level=CMSG_LEVEL_IP, cmsg_type=CMSG_TYPE_RECVERR, cmsg_data={ee_errno=0, "
               "ee_origin=5, ee_type=0, ee_code=1, ee_info=0, ee_data=0}}]}, MSG_ERRQUEUE) = 0")
    assert KernelTarget().check(one(recverr), {}) is None


def test_calls_fail_with_a_reason_when_the_namespace_cannot_be_joined() -> None:
    from rawkit.script.kernel_target import KernelTarget
    from rawkit.script.target import ScriptNet

    def cannot_join(*args: object) -> None:
        raise RuntimeError("setns failed: No such file or directory")

    net = ScriptNet(namespace="gone", device="tun0", ip_version=4, local_ip="198.18.0.1",
                    remote_ip="198.19.0.1", gateway_ip="198.18.0.2", prefix_len=16, mtu=1500,
                    local_port=8080, remote_port=9090, call_in_namespace=cannot_join,
                    run_in_namespace=lambda argv: None)  # type: ignore[arg-type,return-value]
    target = KernelTarget()
    target.start(net)
    try:
        pending = target.begin(one("socket(..., SOCK_STREAM, IPPROTO_TCP) = 3"), {})
        assert pending.wait(3)
        assert pending.mismatch() == ("cannot make calls in namespace gone: setns failed: "
                                      "No such file or directory")
    finally:
        target.close()


def test_symbols_resolve_through_definitions() -> None:
    assert sa.resolve("CMSG_LEVEL_IP", {"CMSG_LEVEL_IP": "SOL_IPV6"}) == 41
    assert sa.resolve("X", {"X": "0x10"}) == 16
    assert sa.resolve("X", {"X": 7}) == 7
    assert sa.resolve("ENOMSG", {}) == 42
    with pytest.raises(sa.ArgumentError, match="unknown symbol LOOP"):
        sa.resolve("LOOP", {"LOOP": "LOOP"})


@given(st.lists(st.sampled_from(sorted(n for n in sa.CONSTANTS if n.startswith(("MSG_", "POLL", "EPOLL")))),
                min_size=1, max_size=6))
def test_or_of_symbols_is_the_or_of_their_values(names: list[str]) -> None:
    expected = 0
    for name in names:
        expected |= sa.CONSTANTS[name]
    assert sa.integer(BitOr(tuple(Name(n) for n in names)), {}) == expected


# ---- judging results ----------------------------------------------------------------------


def test_compare_result_messages() -> None:
    refused = sa.CONSTANTS["ECONNREFUSED"]
    assert sa.compare_result(sa.Expected(0, None), 0, 0) is None
    assert sa.compare_result(sa.Expected(0, None), -1, refused) == (
        "Expected result 0 but got -1 with errno 111 (ECONNREFUSED: Connection refused)")
    assert sa.compare_result(sa.Expected(10, None), 7, 0) == "Expected result 10 but got 7"
    assert sa.compare_result(sa.Expected(-1, refused), -1, refused) is None
    assert "Expected errno 111 (ECONNREFUSED" in sa.compare_result(sa.Expected(-1, refused), -1, 11)
    assert sa.compare_result(sa.Expected(-1, None), -1, 11) is None  # `= -1` without errno: any errno
    assert sa.compare_result(sa.Expected(None, None), 12345, 0) is None
    assert sa.compare_result(sa.Expected(3, None), 57, 0, fd_result=True) is None
    assert "non-negative" in sa.compare_result(sa.Expected(3, None), -1, 24, fd_result=True)


@given(st.integers(-1, 2**31 - 1), st.integers(-1, 2**31 - 1))
def test_compare_result_matches_exactly_equal_values(expected: int, actual: int) -> None:
    verdict = sa.compare_result(sa.Expected(expected, None), actual, 0 if actual >= 0 else 11)
    assert (verdict is None) == (expected == actual)


def test_revents_and_epoll_mismatches_name_the_flags() -> None:
    pollfd = sa.PollFd(4, 5, 4)
    assert sa.compare_revents((pollfd,), [4]) is None
    assert sa.compare_revents((pollfd,), [5]) == (
        "Expected revents of POLLOUT but got POLLIN|POLLOUT for pollfd 0")
    event = sa.EpollEvent(sa.CONSTANTS["EPOLLOUT"], "fd", 4)
    assert sa.compare_epoll(event, 4, 4) is None
    assert "expected EPOLLOUT actual EPOLLOUT|EPOLLERR" in sa.compare_epoll(event, 12, 4)
    assert "expected 4 actual 5" in sa.compare_epoll(event, 4, 5)


def _control(messages: list[tuple[int, int, bytes]]) -> bytes:
    out = b""
    for level, kind, data in messages:
        header = struct.pack("=Qii", 16 + len(data), level, kind)
        out += (header + data).ljust(sa.cmsg_align(16 + len(data)), b"\0")
    return out


def _extended(error: sa.ExtendedError, family_bytes: int) -> bytes:
    return struct.pack("=IBBBxII", error.errno, error.origin, error.type, error.code, error.info,
                       error.data) + bytes(family_bytes)


extended_errors = st.builds(sa.ExtendedError, st.integers(0, 200), st.integers(0, 6), st.integers(0, 255),
                            st.integers(0, 255), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))


@given(st.lists(st.one_of(extended_errors, st.integers(-2**31, 2**31 - 1)), max_size=4),
       st.sampled_from([(0, 11, 16), (41, 25, 28)]))
def test_control_messages_parse_and_match_what_was_sent(items: list[object],
                                                        ip: tuple[int, int, int]) -> None:
    level, kind, address_bytes = ip
    expected, raw = [], []
    for item in items:
        if isinstance(item, sa.ExtendedError):
            expected.append(sa.Cmsg(level, kind, item))
            raw.append((level, kind, _extended(item, address_bytes)))
        else:
            expected.append(sa.Cmsg(6, 36, item))
            raw.append((6, 36, struct.pack("=i", item)))
    buffer = _control(raw)
    assert len(buffer) == sa.control_space(tuple(expected))
    parsed = sa.parse_control(buffer)
    assert parsed == raw
    assert sa.compare_control(tuple(expected), parsed, None, 4000) is None


def test_control_mismatches() -> None:
    zerocopy = sa.ExtendedError(0, 5, 0, 1, 0, 2)
    expected = (sa.Cmsg(0, 11, zerocopy),)
    got = sa.parse_control(_control([(0, 11, _extended(sa.ExtendedError(0, 5, 0, 1, 0, 3), 16))]))
    assert sa.compare_control(expected, got, None, 0) == "Bad data in extended err 0: expected=2 actual=3"
    assert sa.compare_control(expected, [], None, 0) == "received only 0 cmsgs"
    assert sa.compare_control((), got, None, 0) == "received more than 0 cmsgs"
    inq = sa.parse_control(_control([(6, 36, struct.pack("=i", 8000))]))
    assert sa.compare_control((sa.Cmsg(6, 36, 9000),), inq, None, 0) == (
        "Bad data in cmsg 0: expected=9000 actual=8000")


def test_timestamps_are_judged_against_the_script_clock_within_tolerance() -> None:
    zero = 1_700_000_000_000_000
    stamp = sa.Cmsg(1, 37, sa.Timestamping(0, 20_000_000))  # 20 ms after the script started
    at = lambda usecs: sa.parse_control(_control([(1, 37, struct.pack("=6q", usecs // 10**6,  # noqa: E731
                                                                       usecs % 10**6 * 1000, 0, 0, 0, 0))]))
    live = lambda script_usecs: zero + script_usecs  # noqa: E731
    assert sa.compare_control((stamp,), at(zero + 21_000), live, 4000) is None
    assert "off by 9000 us" in sa.compare_control((stamp,), at(zero + 29_000), live, 4000)
    assert "start time" in sa.compare_control((stamp,), at(zero), None, 4000)
    assert sa.compare_control((sa.Cmsg(1, 37, sa.Timestamping(0, 0)),), at(zero), None, 4000) is None


def test_sockaddr_layouts() -> None:
    v4 = sa.sockaddr("198.18.0.1", 8080)
    assert v4 == struct.pack("=H", 2) + b"\x1f\x90" + bytes([198, 18, 0, 1]) + bytes(8)
    v6 = sa.sockaddr("fd00:18::1", 8080)
    assert len(v6) == 28 and v6[:4] == struct.pack("=H", 10) + b"\x1f\x90" and v6[8:10] == b"\xfd\x00"


# ---- struct tcp_info and %{ }% blocks --------------------------------------------------------


def test_tcp_info_layout_matches_the_kernel_offsets() -> None:
    assert tcpi.TCP_INFO_SIZE == 280
    for name, offset in (("tcpi_rto", 8), ("tcpi_rtt", 68), ("tcpi_total_retrans", 100),
                         ("tcpi_pacing_rate", 104), ("tcpi_min_rtt", 148), ("tcpi_delivered", 192),
                         ("tcpi_snd_wnd", 228), ("tcpi_total_rto_time", 244), ("tcpi_received_ce", 248)):
        data = bytearray(tcpi.TCP_INFO_SIZE)
        data[offset] = 0x5A
        assert tcpi.decode(bytes(data))[name] == 0x5A, name
    bits = tcpi.decode(bytes(6) + bytes([0x8A, 0x05]) + bytes(272))
    assert (bits["tcpi_snd_wscale"], bits["tcpi_rcv_wscale"]) == (10, 8)
    assert (bits["tcpi_delivery_rate_app_limited"], bits["tcpi_fastopen_client_fail"]) == (1, 2)


FIELD_MAXIMA = tcpi.decode(b"\xff" * tcpi.TCP_INFO_SIZE)  # each field's all-ones value (bit fields too)


@given(st.fixed_dictionaries({name: st.integers(0, FIELD_MAXIMA[name]) for name in tcpi.FIELDS}))
@settings(max_examples=50, deadline=None)
def test_tcp_info_encode_decode_round_trip(values: dict[str, int]) -> None:
    assert tcpi.decode(tcpi.encode(values)) == values


def test_tcp_info_of_an_older_kernel_keeps_only_its_fields() -> None:
    short = tcpi.decode(tcpi.encode({"tcpi_snd_cwnd": 10, "tcpi_snd_wnd": 5})[:104])
    assert short["tcpi_snd_cwnd"] == 10 and "tcpi_snd_wnd" not in short and "tcpi_pacing_rate" not in short


def test_tcp_info_of_a_fresh_kernel_socket() -> None:
    with socket.socket() as sock:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 512)
    info = tcpi.decode(raw)
    assert info["tcpi_state"] == tcpi.SYMBOLS["TCP_CLOSE"] and info["tcpi_snd_cwnd"] == 10
    assert tcpi.encode(info)[:len(raw)] == raw


def test_python_blocks_share_names_and_report_the_failing_line() -> None:
    blocks = tcpi.PythonBlocks()
    assert blocks.run(" TCP_INFINITE_SSTHRESH = 0x7fffffff ", {}) is None
    infinite = {"tcpi_snd_ssthresh": 2**31 - 1}
    assert blocks.run(" assert tcpi_snd_ssthresh == TCP_INFINITE_SSTHRESH ", infinite) is None
    syn_data = "assert (tcpi_options & TCPI_OPT_SYN_DATA) != 0, tcpi_options"
    assert blocks.run(syn_data, {"tcpi_options": 32}) is None
    two = "\nassert tcpi_snd_cwnd == 7, tcpi_snd_cwnd\nassert tcpi_snd_ssthresh == 7, tcpi_snd_ssthresh\n"
    problem = blocks.run(two, {"tcpi_snd_cwnd": 7, "tcpi_snd_ssthresh": 9})
    assert problem == "assertion failed: assert tcpi_snd_ssthresh == 7, tcpi_snd_ssthresh (value: 9)"
    assert "NameError" in blocks.run("assert tcpi_nonexistent == 1", {})
    assert "syntax error" in blocks.run("assert (", {})
    continued = " assert 1 <= tcpi_rtt <= 3, tcpi_rtt;\\\n         assert tcpi_backoff == 0;\\\n"
    assert blocks.run(continued, {"tcpi_rtt": 2, "tcpi_backoff": 0}) is None


@needs_corpus
def test_every_corpus_python_block_compiles_and_uses_known_names() -> None:
    values = dict.fromkeys(tcpi.FIELDS, 0)
    for path in corpus_scripts():
        blocks = tcpi.PythonBlocks()
        for event in parse_file(path).events:
            if isinstance(event, PythonEvent):
                problem = blocks.run(event.code, values, event.line)
                where = f"{path}:{event.line}: {problem}"
                assert problem is None or problem.startswith("assertion failed"), where


# ---- KernelTarget in a namespace -------------------------------------------------------------


class KernelLab:
    """A lab with the kernel under test in `dut` (device tun0 = a veth) and a real peer in `peer`."""

    def __init__(self, ip_version: int = 4) -> None:
        from rawkit.link.netns import Lab
        from rawkit.script.kernel_target import KernelTarget
        from rawkit.script.target import ScriptNet

        self.lab = Lab(prefix="rksys")
        try:
            self.dut, self.peer = self.lab.namespace("dut"), self.lab.namespace("peer")
            if ip_version == 4:
                local, remote = "198.18.0.1", "198.18.0.2"
                self.lab.link(self.dut, self.peer, names=("tun0", "p0"), ipv4=(None, f"{remote}/24"))  # type: ignore[arg-type]
            else:
                local, remote = "fd00:18::1", "fd00:18::2"
                self.lab.link(self.dut, self.peer, names=("tun0", "p0"), ipv6=(None, f"{remote}/48"))  # type: ignore[arg-type]
            self.net = ScriptNet(namespace=self.dut.name, device="tun0", ip_version=ip_version,
                                 local_ip=local, remote_ip=remote, gateway_ip=remote,
                                 prefix_len=24 if ip_version == 4 else 48, mtu=1500, local_port=8080,
                                 remote_port=9090, call_in_namespace=self.dut.call,
                                 run_in_namespace=self.dut.run)
            self.target = KernelTarget()
            self.target.start(self.net)
            self.target.set_timebase(time.monotonic(), 4000)
        except BaseException:
            self.lab.close()
            raise

    def call(self, line: str, symbols: dict[str, str] | None = None, timeout: float = 3.0):  # noqa: ANN201
        pending = self.target.begin(one(line), symbols or {})
        assert pending.wait(timeout), f"{line} did not return"
        return pending

    def ok(self, *lines: str) -> None:
        for line in lines:
            problem = self.call(line).mismatch()
            assert problem is None, f"{line}: {problem}"

    def close(self) -> None:
        try:
            self.target.close()
        finally:
            self.lab.close()


@pytest.fixture
def kernel() -> Iterator[KernelLab]:
    lab = KernelLab()
    try:
        yield lab
    finally:
        lab.close()


@needs_root
def test_server_side_calls_and_a_blocking_accept(kernel: KernelLab) -> None:
    kernel.ok("socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
              "setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0",
              "bind(3, ..., ...) = 0",
              "listen(3, 1) = 0")
    accept = kernel.target.begin(one("accept(3, ..., ...) = 4"), {})
    assert not accept.wait(0.2) and accept.returned_at is None  # blocks until the peer connects
    peer = kernel.peer.socket(socket.AF_INET, socket.SOCK_STREAM)
    with peer:
        peer.settimeout(3)
        peer.connect(("198.18.0.1", 8080))
        peer.sendall(b"hello")
        assert accept.wait(3) and accept.mismatch() is None and accept.returned_at is not None
        kernel.ok("fcntl(4, F_GETFL) = 0x2 (flags O_RDWR)",
                  "getsockopt(4, SOL_TCP, TCP_MAXSEG, [1448], [4]) = 0",
                  "ioctl(4, SIOCINQ, [5]) = 0",
                  "poll([{fd=4, events=POLLIN|POLLOUT, revents=POLLIN|POLLOUT}], 1, 0) = 1",
                  "read(4, NULL, 100) = -1 EFAULT (Bad address)",
                  "read(4, ..., 100) = 5",
                  "write(4, ..., 10) = 10",
                  "fcntl(4, F_SETFL, O_RDWR|O_NONBLOCK) = 0",
                  "read(4, ..., 100) = -1 EAGAIN (Resource temporarily unavailable)")
        assert peer.recv(100) == bytes(10)
        kernel.ok("getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_state=TCP_ESTABLISHED, tcpi_snd_mss=1448, "
                  "tcpi_bytes_received=5}, [...]) = 0")
        assert "expected: 1000 actual: 1448" in kernel.call(
            "getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_snd_mss=1000}, [280]) = 0").mismatch()
        info = kernel.target.tcp_info()
        assert info["tcpi_state"] == tcpi.SYMBOLS["TCP_ESTABLISHED"] and info["tcpi_snd_mss"] == 1448
        assert tcpi.PythonBlocks().run("assert tcpi_bytes_received == 5, tcpi_bytes_received", info) is None
        assert kernel.call("write(4, ..., 10) = 11").mismatch() == "Expected result 11 but got 10"
        assert kernel.call("read(9, ..., 10) = 1").mismatch() == "unable to find fd with script fd 9"
        assert "Bad getsockopt optval: expected: 1000 actual: 1448" in kernel.call(
            "getsockopt(4, SOL_TCP, TCP_MAXSEG, [1000], [4]) = 0").mismatch()
        assert peer.recv(100) == bytes(10)  # the mismatched write still wrote
        kernel.ok("shutdown(4, SHUT_WR) = 0")
        assert peer.recv(100) == b""  # the FIN arrived
        second = kernel.peer.socket(socket.AF_INET, socket.SOCK_STREAM)
        with second:  # accept may name a new connection 4 while the first 4 is open (as packetdrill)
            second.settimeout(3)
            second.connect(("198.18.0.1", 8080))
            kernel.ok("fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0", "accept(3, ..., ...) = 4",
                      "write(4, ..., 3) = 3", "socket(..., SOCK_STREAM, IPPROTO_TCP) = 5")
            assert second.recv(10) == bytes(3)
            assert kernel.call("socket(..., SOCK_STREAM, IPPROTO_TCP) = 5").mismatch() == (
                "duplicate fd 5 in script")
        kernel.ok("close(4) = 0", "close(5) = 0")  # 5, the latest socket(), was the one under test
        assert "unable to find fd" in kernel.call("close(4) = 0").mismatch()
        with pytest.raises(RuntimeError, match="no open socket"):
            kernel.target.tcp_info()


@needs_root
def test_client_side_nonblocking_connect_poll_epoll_and_errors(kernel: KernelLab) -> None:
    listener = kernel.peer.socket(socket.AF_INET, socket.SOCK_STREAM)
    with listener:
        listener.bind(("198.18.0.2", 9090))
        listener.listen(4)
        kernel.ok("socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
                  "fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0",
                  "connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)",
                  "poll([{fd=3, events=POLLOUT, revents=POLLOUT}], 1, 2000) = 1",
                  "getsockopt(3, SOL_SOCKET, SO_ERROR, [0], [4]) = 0",
                  "connect(3, ..., ...) = 0",  # the first connect after completion reports success
                  "connect(3, ..., ...) = -1 EISCONN (Transport endpoint is already connected)",
                  "epoll_create(1) = 5",
                  "epoll_ctl(5, EPOLL_CTL_ADD, 3, {events=EPOLLOUT|EPOLLET, fd=3}) = 0",
                  "epoll_wait(5, {events=EPOLLOUT, fd=3}, 1, 0) = 1",
                  "epoll_wait(5, {events=0, ptr=0}, 1, 0) = 0",
                  "setsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0",
                  "getsockopt(3, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, [8]) = 0",
                  "send(3, ..., 1000, MSG_MORE) = 1000",
                  "sendto(3, NULL, 1000, 0, ..., ...) = -1 EFAULT (Bad address)")
        accepted, _ = listener.accept()
        with accepted:
            accepted.settimeout(3)
            received = b""
            while len(received) < 1000:
                received += accepted.recv(2000)
            assert received == bytes(1000)
        kernel.ok("epoll_create(1) = 6")  # nothing registered: no event, so the events= check fails
        wrong = kernel.call("epoll_wait(6, {events=EPOLLIN, fd=3}, 1, 0) = 0").mismatch()
        assert wrong == "epoll_event->events does not match script: expected EPOLLIN actual 0"
        kernel.ok("close(6) = 0", "close(5) = 0", "close(3) = 0")
    kernel.ok("socket(..., SOCK_STREAM, IPPROTO_TCP) = 4",
              "sendto(4, ..., 0, MSG_FASTOPEN, AF_UNSPEC, ...) = -1 EOPNOTSUPP (Operation not supported)")


@needs_root
def test_error_queue_zerocopy_and_tx_timestamps(kernel: KernelLab) -> None:
    symbols = {"CMSG_LEVEL_IP": "SOL_IP", "CMSG_TYPE_RECVERR": "IP_RECVERR"}
    listener = kernel.peer.socket(socket.AF_INET, socket.SOCK_STREAM)
    with listener:
        listener.bind(("198.18.0.2", 9090))
        listener.listen(1)
        kernel.ok("socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
                  "setsockopt(3, SOL_SOCKET, SO_ZEROCOPY, [1], 4) = 0",
                  "connect(3, ..., ...) = 0")
        accepted, _ = listener.accept()
        with accepted:
            kernel.ok("send(3, ..., 4000, MSG_ZEROCOPY) = 4000")
            accepted.settimeout(3)
            received = 0
            while received < 4000:
                received += len(accepted.recv(8000))
            zerocopy = ("recvmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 0}], msg_flags=MSG_ERRQUEUE, "
                        "msg_control=[{cmsg_level=CMSG_LEVEL_IP, cmsg_type=CMSG_TYPE_RECVERR, "
                        "cmsg_data={ee_errno=0, ee_origin=SO_EE_ORIGIN_ZEROCOPY, ee_type=0, "
                        "ee_code=SO_EE_CODE_ZEROCOPY_COPIED, ee_info=0, ee_data=0}}]}, MSG_ERRQUEUE) = 0")
            deadline, problem = time.monotonic() + 3, "not tried"
            while problem is not None and time.monotonic() < deadline:  # notified once the peer ACKs
                problem = kernel.call(zerocopy, symbols).mismatch()
                time.sleep(0.02 if problem else 0)
            assert problem is None
            empty = ("recvmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 0}], msg_flags=MSG_ERRQUEUE, "
                     "msg_control=[]}, MSG_ERRQUEUE) = -1 EAGAIN (Resource temporarily unavailable)")
            assert kernel.call(empty, symbols).mismatch() is None

            kernel.target.set_timebase(time.monotonic(), 20000)
            kernel.ok("setsockopt(3, SOL_SOCKET, SO_TIMESTAMPING, [SOF_TIMESTAMPING_TX_SCHED|"
                      "SOF_TIMESTAMPING_SOFTWARE|SOF_TIMESTAMPING_OPT_ID], 4) = 0",
                      "write(3, ..., 100) = 100")
            stamp = ("recvmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 0}], "
                     "msg_flags=MSG_ERRQUEUE|MSG_TRUNC, "
                     "msg_control=[{cmsg_level=SOL_SOCKET, cmsg_type=SCM_TIMESTAMPING, "
                     "cmsg_data={scm_sec=0, scm_nsec=%d}}, {cmsg_level=CMSG_LEVEL_IP, "
                     "cmsg_type=CMSG_TYPE_RECVERR, cmsg_data={ee_errno=ENOMSG, "
                     "ee_origin=SO_EE_ORIGIN_TIMESTAMPING, ee_type=0, ee_code=0, "
                     "ee_info=SCM_TSTAMP_SCHED, ee_data=99}}]}, MSG_ERRQUEUE) = 0")
            time.sleep(0.05)
            assert kernel.call(stamp % 1_000_000, symbols).mismatch() is None  # 1 ms: within 20 ms
            kernel.ok("write(3, ..., 100) = 100")
            time.sleep(0.05)
            late = kernel.call(stamp % 900_000_000, symbols).mismatch()
            assert late is not None and "Bad timestamp 0 in scm_timestamping 0" in late


@needs_root
def test_files_pipes_splice_and_sendfile(kernel: KernelLab, tmp_path: Path) -> None:
    data_file = tmp_path / "five"
    data_file.write_bytes(b"abcde")
    listener = kernel.peer.socket(socket.AF_INET, socket.SOCK_STREAM)
    with listener:
        listener.bind(("198.18.0.2", 9090))
        listener.listen(1)
        kernel.ok("socket(..., SOCK_STREAM, IPPROTO_TCP) = 3", "connect(3, ..., ...) = 0")
        accepted, _ = listener.accept()
        with accepted:
            accepted.settimeout(3)
            kernel.ok(f'open("{data_file}", O_RDONLY) = 7', "sendfile(3, 7, [0], 5) = 5")
            assert accepted.recv(100) == b"abcde"
            accepted.sendall(b"x" * 99)
            time.sleep(0.05)
            kernel.ok("pipe([5, 6]) = 0", "splice(3, NULL, 6, NULL, 99, 0) = 99", "read(5, ..., 200) = 99")
            failed = kernel.call(f'open("{tmp_path / "missing"}", O_RDONLY) = 8').mismatch()
            assert failed is not None and "ENOENT" in failed


@needs_root
def test_kernel_target_over_ipv6() -> None:
    lab = KernelLab(ip_version=6)
    try:
        lab.ok("socket(..., SOCK_STREAM, IPPROTO_TCP) = 3", "bind(3, ..., ...) = 0", "listen(3, 1) = 0")
        peer = lab.peer.socket(socket.AF_INET6, socket.SOCK_STREAM)
        with peer:
            peer.settimeout(3)
            peer.connect(("fd00:18::1", 8080))
            lab.ok("accept(3, ..., ...) = 4", "write(4, ..., 3) = 3")
            assert peer.recv(10) == bytes(3)
    finally:
        lab.close()


@needs_root
def test_close_unblocks_a_call_still_waiting() -> None:
    lab = KernelLab()
    try:
        lab.ok("socket(..., SOCK_STREAM, IPPROTO_TCP) = 3", "bind(3, ..., ...) = 0", "listen(3, 1) = 0")
        blocked = lab.target.begin(one("accept(3, ..., ...) = 4"), {})
        queued = lab.target.begin(one("close(3) = 0"), {})
        assert not blocked.wait(0.1)
    finally:
        started = time.monotonic()
        lab.close()
    assert time.monotonic() - started < 5
    assert blocked.wait(0) and queued.wait(0)

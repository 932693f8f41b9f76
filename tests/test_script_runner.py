"""The packetdrill runner: clock rules, packet mapping and checking (pure), and whole runs against the
kernel in a private namespace (root)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rawkit
from rawkit.link.netns import our_namespaces
from rawkit.script import parse
from rawkit.script.host_setup import logical_lines
from rawkit.script.nodes import Instant, PacketEvent, Timing
from rawkit.script.packets import (
    Addresses,
    Flow,
    Segment,
    _encode,
    build_inbound_icmp,
    build_inbound_tcp,
    check_outbound,
    continues,
    learn_outbound,
    merge,
    neighbour_reply,
    split_options,
)
from rawkit.script.runner import RunOptions, ScriptBroken, ScriptFailure, run_script, settings_for
from rawkit.script.timeline import Clock, Due
from tests.conftest import needs_root

ADDRESSES = Addresses(4, "198.18.0.1", "198.19.0.1", "02:00:00:00:00:01")


def packet_line(text: str) -> PacketEvent:
    event = parse(text + "\n", "unit.pkt").statements[0]
    assert isinstance(event, PacketEvent)
    return event


# ---- the clock ------------------------------------------------------------------------------------


def test_relative_times_count_from_now_absolute_from_the_start() -> None:
    clock = Clock()
    clock.origin = time.monotonic() - 1.0  # the run is one second old
    due = clock.schedule(Timing(Instant(100_000, True)))
    assert 1_100_000 <= due.start < 1_150_000
    assert clock.schedule(Timing(Instant(300_000, False))).start == 300_000


def test_inbound_burst_keeps_its_spacing_and_outbound_anchors_on_its_send_time() -> None:
    clock = Clock()
    clock.start()
    clock.finished(Due(50_000), inbound=True)
    assert clock.schedule(Timing(Instant(10_000, True)), inbound=True).start == 60_000
    clock.finished(Due(70_000), sent_at=71_234)
    assert clock.schedule(Timing(Instant(0, True))).start == 71_234


def test_after_a_call_relative_times_follow_the_schedule_but_not_far_behind() -> None:
    clock = Clock(tolerance_usecs=4000)
    clock.origin = time.monotonic() - 0.0105  # now is 10.5 ms
    clock.finished(Due(10_000))  # a system call scheduled at 10 ms returned 0.5 ms late
    assert clock.schedule(Timing(Instant(0, True))).start == 10_000
    clock.origin = time.monotonic() - 0.050  # far behind: count from no more than 1 ms ago
    assert 48_900 <= clock.schedule(Timing(Instant(0, True))).start <= 49_100


def test_blocking_call_end_shares_the_start_base() -> None:
    clock = Clock()
    clock.finished(Due(200_000), sent_at=200_000)
    due = clock.schedule(Timing(Instant(0, True), Instant(50_000, False), "..."))
    assert (due.start, due.end) == (200_000, 250_000)
    assert clock.check_return(due, 252_000, due.start) is None
    assert "expected system call return at 0.250000" in clock.check_return(due, 260_000, due.start)


def test_tolerance_is_the_larger_of_usecs_and_percent_of_the_interval() -> None:
    clock = Clock(tolerance_usecs=4000, tolerance_percent=12.5)
    assert clock.tolerance(Due(1_000_000), previous=0) == 125_000
    assert clock.tolerance(Due(10_000), previous=0) == 4000
    assert clock.check(Due(1_000_000), 1_100_000, "outbound packet", 0) is None
    problem = clock.check(Due(10_000), 15_000, "outbound packet", 0)
    assert problem == ("timing error: expected outbound packet at 0.010000 sec but happened at 0.015000 sec; "
                       "tolerance 0.004000 sec")


def test_window_and_any_time() -> None:
    clock = Clock()
    window = Due(100_000, 200_000, window=True)
    assert clock.check(window, 150_000, "outbound packet", None) is None
    assert "in time range 0.100000~0.200000" in clock.check(window, 250_000, "outbound packet", None)
    assert clock.check(Due(None), 9_999_999, "outbound packet", None) is None


# ---- packets ---------------------------------------------------------------------------------------


def established_flow() -> Flow:
    return Flow("passive", 8080, 40001, remote_isn=1000, script_local_isn=0, live_local_isn=5_000_000)


def test_inbound_segment_maps_seq_ack_and_sack_to_live_numbers() -> None:
    event = packet_line("+0 < . 1:1(0) ack 101 win 257 <sack 201:301,nop,nop>")
    frame = build_inbound_tcp(event, established_flow(), ADDRESSES, {})
    packet = rawkit.decode(frame)
    assert (packet.ip.src, packet.ip.dst, packet.tcp.sport, packet.tcp.dport) == ("198.19.0.1", "198.18.0.1",
                                                                                 40001, 8080)
    assert packet.tcp.seq == 1001 and packet.tcp.ack == 5_000_101 and packet.tcp.window == 257
    assert packet.tcp.option("SAck") == ((5_000_201, 5_000_301),)
    assert packet.tcp.checksum_ok and packet.ip4.checksum_ok


def test_inbound_syn_is_literal_and_sets_the_remote_isn() -> None:
    flow = Flow("passive", 8080, 40001)
    frame = build_inbound_tcp(packet_line("+0 < S 999000:999040(40) win 32792 <mss 1460,FO abcd1234>"), flow,
                              ADDRESSES, {})
    packet = rawkit.decode(frame)
    assert packet.tcp.seq == 999000 and packet.tcp.payload_len == 40 and flow.remote_isn == 999000
    assert b"\x22\x06\xab\xcd\x12\x34" in packet.tcp.options_bytes


def test_inbound_ts_ecr_names_an_outbound_ts_val() -> None:
    flow = established_flow()
    flow.ts_map[100] = 777_000
    flow.first_ts = (100, 777_000)
    line = "+0 < . 1:1(0) ack 1 win 9 <nop,nop,TS val 5 ecr {}>"
    exact = rawkit.decode(build_inbound_tcp(packet_line(line.format(100)), flow, ADDRESSES, {}))
    guessed = rawkit.decode(build_inbound_tcp(packet_line(line.format(130)), flow, ADDRESSES, {}))
    assert exact.tcp.option("Timestamp") == (5, 777_000)
    assert guessed.tcp.option("Timestamp") == (5, 777_030)


def test_icmp_frag_needed_quotes_a_live_local_segment() -> None:
    event = packet_line("+0 < icmp unreachable frag_needed mtu 800 [0:1000(1000)]")
    frame = build_inbound_icmp(event, established_flow(), ADDRESSES, {})
    packet = rawkit.decode(frame)
    assert (packet.icmp.type, packet.icmp.code) == (3, 4)
    icmp = frame[14 + 20 :]
    assert struct.unpack("!H", icmp[6:8])[0] == 800  # next-hop MTU
    quoted_ip, quoted_tcp = icmp[8:28], icmp[28:]
    assert struct.unpack("!H", quoted_ip[2:4])[0] == 20 + 20 + 1000  # the quoted segment's own length
    assert struct.unpack("!HHI", quoted_tcp[:8]) == (8080, 40001, 5_000_000)


def segment(flags: int, seq: int, ack: int, window: int = 1050, payload: int = 0,
            options: tuple[tuple[int, bytes], ...] = ()) -> Segment:
    return Segment(8080, 40001, seq, ack, flags, window, 0, options, payload, 0)


def test_outbound_check_names_the_field_and_both_values() -> None:
    flow = established_flow()
    event = packet_line("+0 > P. 1:1001(1000) ack 1 win 1050")
    assert check_outbound(event, flow, segment(0x18, 5_000_001, 1001, payload=1000), {}) is None
    assert check_outbound(event, flow, segment(0x18, 5_000_001, 1001, window=2000, payload=1000), {}) == (
        "live packet field tcp_window: expected: 1050 (0x41a) vs actual: 2000 (0x7d0)")
    assert check_outbound(event, flow, segment(0x10, 5_000_001, 1001, payload=1000), {}) == (
        "live packet field tcp_psh: expected: 1 vs actual: 0")
    assert check_outbound(event, flow, segment(0x18, 5_000_001, 1001, payload=500), {}) == (
        "live packet payload: expected 1000 bytes vs actual 500 bytes")


def test_outbound_syn_ack_teaches_the_local_isn_then_options_are_compared() -> None:
    flow = Flow("passive", 8080, 40001, remote_isn=0)
    event = packet_line("+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>")
    good = segment(0x12, 123_456, 1, 65535, options=((2, b"\x05\xb4"), (1, b""), (3, b"\x08")))
    learn_outbound(event, flow, good)
    assert flow.live_local_isn == 123_456
    assert check_outbound(event, flow, good, {}) is None
    bad = segment(0x12, 123_456, 1, 65535, options=((2, b"\x05\xb4"), (1, b""), (3, b"\x07")))
    assert check_outbound(event, flow, bad, {}).startswith(
        "bad value outbound TCP option wscale: expected <mss 1460,nop,wscale 8> vs actual "
        "<mss 1460,nop,wscale 7>")


def test_tso_pieces_are_glued_like_packetdrill() -> None:
    pieces = [segment(0x18, 1000 + 2000 * i, 1, payload=2000) for i in range(5)]
    for index in range(1, 5):
        assert continues(pieces[0], pieces[index - 1], pieces[index], 10_000, 2000 * index) is None
    glued = merge(pieces)
    assert (glued.seq, glued.payload_len, glued.flags) == (1000, 10_000, 0x18)
    gap = segment(0x18, 9999, 1, payload=2000)
    assert continues(pieces[0], pieces[0], gap, 10_000, 2000) == "fragment sequence number is not contiguous"


def test_neighbour_reply_answers_for_the_gateway_only() -> None:
    ask = bytes(rawkit.Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff")
                / rawkit.ARP(op=1, hwsrc="02:00:00:00:00:01", psrc="198.18.0.1", pdst="198.18.0.2"))
    reply = rawkit.decode(neighbour_reply(ask, {"198.18.0.2"}, "02:00:00:00:00:02"))
    assert (reply.arp.op, reply.arp.psrc, reply.arp.pdst) == (2, "198.18.0.2", "198.18.0.1")
    assert reply.arp.hwsrc == "02:00:00:00:00:02"
    assert neighbour_reply(ask, {"198.18.0.9"}, "02:00:00:00:00:02") is None


options_strategy = st.lists(
    st.one_of(st.just((1, b"")), st.tuples(st.integers(2, 254), st.binary(max_size=12))), max_size=8)


@given(options_strategy)
def test_option_lists_survive_encode_and_split(options: list[tuple[int, bytes]]) -> None:
    assert list(split_options(_encode(options))) == options


# ---- settings and shell lines --------------------------------------------------------------------


def test_header_options_apply_and_the_command_line_wins() -> None:
    text = "--tolerance_usecs=10000\n--remote_ip=198.19.0.7\n0 socket(..., SOCK_STREAM, 0) = 3\n"
    script = parse(text, "h.pkt")
    settings = settings_for(script, RunOptions())
    assert (settings.tolerance_usecs, settings.net.remote_ip) == (10000, "198.19.0.7")
    assert settings.net.prefix_len == 16
    settings = settings_for(script, RunOptions(tolerance_usecs=7000, ip_version=6, remote_ip="fd00:18::9"))
    assert (settings.tolerance_usecs, settings.net.local_ip, settings.net.prefix_len) == (7000, "fd00:18::1",
                                                                                          48)
    with pytest.raises(ScriptBroken, match="h.pkt:1: unknown option --frobnicate"):
        settings_for(parse("--frobnicate=1\n0 socket(..., SOCK_STREAM, 0) = 3\n", "h.pkt"), RunOptions())


def test_backslash_continued_shell_lines_are_joined() -> None:
    assert logical_lines("../common/defaults.sh\n ../common/set_sysctls.py /a=1 \\\n   /b=2\n\n") == [
        "../common/defaults.sh", "../common/set_sysctls.py /a=1 /b=2"]


# ---- whole runs against the kernel ---------------------------------------------------------------

PASSIVE_OPEN = """--tolerance_usecs=50000
`../common/defaults.sh`
0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
+0 setsockopt(3, SOL_SOCKET, SO_REUSEADDR, [1], 4) = 0
+0 bind(3, ..., ...) = 0
+0 listen(3, 1) = 0
+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>
+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>
+.02 < . 1:1(0) ack 1 win 257
+0 accept(3, ..., ...) = 4
+0 write(4, ..., 1000) = 1000
+0 > P. 1:1001(1000) ack 1
+.02 < . 1:1(0) ack 1001 win 257
+0 close(4) = 0
+0 > F. 1001:1001(0) ack 1
"""


def write_script(tmp_path: Path, text: str, name: str = "t.pkt") -> Path:
    (tmp_path / "common").mkdir(exist_ok=True)
    folder = tmp_path / "case"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def kernel_target() -> object:
    from rawkit.script.kernel_target import KernelTarget

    return KernelTarget()


def leftovers() -> list[str]:
    return [name for name in our_namespaces("rks") if f"-{os.getpid()}-" in name]


@needs_root
@pytest.mark.parametrize("version", [4, 6])
def test_passive_open_write_close_passes(tmp_path: Path, version: int) -> None:
    run_script(str(write_script(tmp_path, PASSIVE_OPEN)), RunOptions(ip_version=version), kernel_target)
    assert leftovers() == []


@needs_root
def test_wrong_window_fails_with_line_field_and_both_packets(tmp_path: Path) -> None:
    text = PASSIVE_OPEN.replace("> P. 1:1001(1000) ack 1", "> P. 1:1001(1000) ack 1 win 7")
    path = write_script(tmp_path, text)
    with pytest.raises(ScriptFailure) as caught:
        run_script(str(path), RunOptions(), kernel_target)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{path}:12: error handling packet: live packet field tcp_window: expected: 7 (0x7) " \
                       f"vs actual: 1050 (0x41a)"
    assert lines[1].startswith("script packet: ") and lines[1].endswith("> P. 1:1001(1000) ack 1 win 7")
    assert lines[2].startswith("actual packet: ") and lines[2].endswith("P. 1:1001(1000) ack 1 win 1050")
    assert leftovers() == []


@needs_root
def test_a_packet_that_never_comes_fails_in_bounded_time(tmp_path: Path) -> None:
    path = write_script(tmp_path, PASSIVE_OPEN.replace("+0 write(4, ..., 1000) = 1000\n", ""))
    started = time.monotonic()
    with pytest.raises(ScriptFailure, match=r"t.pkt:11: timing error: expected outbound packet at .* but no"):
        run_script(str(path), RunOptions(), kernel_target)
    assert time.monotonic() - started < 10


@needs_root
def test_late_expectation_is_a_timing_error(tmp_path: Path) -> None:
    path = write_script(tmp_path, PASSIVE_OPEN.replace("+0 > S. 0:0(0)", "+.3 > S. 0:0(0)"))
    expected = (r"t.pkt:8: error handling packet: timing error: expected outbound packet at 0.3\d+ sec but "
                r"happened at 0.0\d+ sec")
    with pytest.raises(ScriptFailure, match=expected):
        run_script(str(path), RunOptions(), kernel_target)


@needs_root
def test_shell_lines_run_inside_the_namespace(tmp_path: Path) -> None:
    inside = PASSIVE_OPEN + "+0 `ip link show tun0 > /dev/null && sysctl -n net.ipv4.tcp_sack | grep -qx 1`\n"
    run_script(str(write_script(tmp_path, inside)), RunOptions(), kernel_target)
    failing = PASSIVE_OPEN + "+0 `exit 3`\n"
    with pytest.raises(ScriptFailure, match=r"t.pkt:16: error executing command: `exit 3` exited with 3"):
        run_script(str(write_script(tmp_path, failing)), RunOptions(), kernel_target)


@needs_root
def test_python_block_sees_tcp_info(tmp_path: Path) -> None:
    checked = PASSIVE_OPEN.replace("+0 close(4) = 0", "+0 %{ assert tcpi_snd_cwnd >= 10, tcpi_snd_cwnd }%\n"
                                   "+0 %{ assert tcpi_snd_cwnd == 99, tcpi_snd_cwnd }%\n+0 close(4) = 0")
    with pytest.raises(ScriptFailure, match=r"t.pkt:15: assertion failed: assert tcpi_snd_cwnd == 99"):
        run_script(str(write_script(tmp_path, checked)), RunOptions(), kernel_target)


@needs_root
def test_tfo_cookie_comes_from_the_kernel_for_the_run_addresses() -> None:
    from rawkit.script.peer_link import NetConfig
    from rawkit.script.tfo_cookie import fetch_cookie

    first = fetch_cookie(NetConfig(4, "198.18.0.1", "198.19.0.1", "198.18.0.2", 16, 1500))
    other = fetch_cookie(NetConfig(4, "198.18.0.1", "198.19.0.2", "198.18.0.2", 16, 1500))
    assert len(first) == 16 and int(first, 16) >= 0
    assert first != other


@needs_root
def test_cli_exit_status_and_diagnostic(tmp_path: Path) -> None:
    good = write_script(tmp_path, PASSIVE_OPEN, "good.pkt")
    bad = write_script(tmp_path, PASSIVE_OPEN.replace("ack 1 <mss 1460", "ack 2 <mss 1460"), "bad.pkt")
    passed = subprocess.run([sys.executable, "-m", "rawkit", "script", "good.pkt"], cwd=good.parent,
                            capture_output=True, text=True, timeout=60)
    assert passed.returncode == 0, passed.stderr
    failed = subprocess.run([sys.executable, "-m", "rawkit", "script", str(bad)], capture_output=True,
                            text=True, timeout=60)
    assert failed.returncode == 1
    first = next(line for line in failed.stderr.splitlines() if not line.startswith("rawkit: warning"))
    assert first == f"{bad}:8: error handling packet: live packet field tcp_ack_seq: expected: 2 (0x2) vs " \
                    f"actual: 1 (0x1)"

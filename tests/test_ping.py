"""`rawkit ping` against iputils ping (and arping, and the kernel's own connect()) in a namespace lab:
same lines, statistics and exit status, times aside.

Lab: A -- R (router) -- B (answers everything; TCP listener on 8080), and R -- D (drops every probe
silently with an nft rule). Both pingers run side by side in A with the same flags.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import needs_root, needs_tool

pytestmark = [needs_root, needs_tool("ping"), needs_tool("ip"), needs_tool("nft")]
# root without CAP_NET_RAW: no raw sockets; ping sockets only if net.ipv4.ping_group_range allows gid 0
# (an ordinary uid would not do: the test interpreter lives under /root)
nobody = ["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw"]

B4, B6 = "198.18.1.2", "fd00:18:1::2"
D4, D6 = "198.18.2.2", "fd00:18:2::2"
NO_NET4, NO_NET6 = "198.18.9.9", "fd00:18:9::9"
OPEN_PORT, CLOSED_PORT = 8080, 8081
DROP_RULES = ("add table inet rkdrop { chain in { type filter hook input priority 0; "
              "meta l4proto { icmp, ipv6-icmp, tcp, udp } drop; }; }")


@pytest.fixture(scope="module")
def lab():
    from rawkit.link.netns import Lab

    with Lab() as lab:
        a, r = lab.namespace("a"), lab.namespace("r", forwarding=True)
        b, d = lab.namespace("b"), lab.namespace("d")
        lab.link(a, r, ipv4=("198.18.0.1/24", "198.18.0.254/24"), ipv6=("fd00:18::1/64", "fd00:18::fe/64"))
        lab.link(r, b, ipv4=("198.18.1.254/24", "198.18.1.2/24"), ipv6=("fd00:18:1::fe/64", f"{B6}/64"))
        lab.link(r, d, ipv4=("198.18.2.254/24", "198.18.2.2/24"), ipv6=("fd00:18:2::fe/64", f"{D6}/64"))
        gateways = ((a, "198.18.0.254", "fd00:18::fe"), (b, "198.18.1.254", "fd00:18:1::fe"),
                    (d, "198.18.2.254", "fd00:18:2::fe"))
        for host, gateway4, gateway6 in gateways:
            host.route("default", gateway4)
            host.route("default", gateway6)
        d.run(["nft", DROP_RULES])
        b.spawn(["python3", "-m", "http.server", "-b", "::", str(OPEN_PORT)])
        b.wait_listening(OPEN_PORT)
        # A asks a resolver on its own loopback (nothing there: refused at once) rather than the host's,
        # which it cannot reach (both pingers then waited 5 s for the unknown host)
        resolver = Path("/etc/netns") / a.name / "resolv.conf"
        resolver.parent.mkdir(parents=True)
        try:
            resolver.write_text("nameserver 127.0.0.1\n")
            yield {"a": a, "r": r, "b": b, "d": d}
        finally:
            shutil.rmtree(resolver.parent)
            with contextlib.suppress(OSError):
                resolver.parent.parent.rmdir()  # only if no other namespace has one


def normalise(text: str) -> str:
    """Blank out what depends on timing: RTTs, elapsed time, timestamps."""
    text = re.sub(r"time=\d+(?:\.\d+)? ms", "time=T ms", text)
    text = re.sub(r"time \d+ms", "time Tms", text)
    text = re.sub(r"= [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms", "= T ms", text)
    text = re.sub(r"ipg/ewma [\d.]+/[\d.]+ ms", "ipg/ewma T ms", text)
    text = re.sub(r"^\[\d+\.\d+\] ", "[TS] ", text, flags=re.MULTILINE)
    return re.sub(r" \d+\.\d+ms$", " Tms", text, flags=re.MULTILINE)


def side_by_side(namespace, *commands: list[str], timeout: float = 20):
    """Run the commands at once in `namespace`; return their CompletedProcess-like results."""
    processes = [subprocess.Popen(namespace.command(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for cmd in commands]
    results = []
    for process in processes:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return results


def rawkit(*args: str) -> list[str]:
    return ["python3", "-m", "rawkit", *args]


def compare_with_iputils(namespace, *args: str):
    ours, theirs = side_by_side(namespace, rawkit("ping", *args), ["ping", *args])
    assert normalise(ours.stdout) == normalise(theirs.stdout)
    assert ours.stderr.replace("rawkit: ", "ping: ") == theirs.stderr
    assert ours.returncode == theirs.returncode
    return ours


@pytest.mark.parametrize("host", [NO_NET4, NO_NET6])
def test_unreachable_network(lab, host):
    # first on purpose: TTL-exceeded errors to A drain the router's "no route" token bucket (see
    # test_trace.test_unreachable_network_annotation)
    result = compare_with_iputils(lab["a"], "-c", "2", "-i", "0.1", "-W", "0.5", host)
    assert result.returncode == 1 and ("Net Unreachable" in result.stdout or "No route" in result.stdout)
    # no route at all (the router has no default): refused before sending, exit 2
    result = compare_with_iputils(lab["r"], "-c", "1", host)
    assert result.returncode == 2 and "Network is unreachable" in result.stderr


@pytest.mark.parametrize("host", [B4, B6])
def test_reachable_host(lab, host):
    result = compare_with_iputils(lab["a"], "-c", "3", "-i", "0.1", host)
    assert result.returncode == 0 and "3 received" in result.stdout


@pytest.mark.parametrize("host", [B4, B6])
def test_options_quiet_timestamps_size_pattern(lab, host):
    compare_with_iputils(lab["a"], "-c", "2", "-i", "0.1", "-q", host)
    compare_with_iputils(lab["a"], "-c", "2", "-i", "0.1", "-D", "-s", "300", "-p", "a5c3", "-I", "a0", host)
    compare_with_iputils(lab["a"], "-c", "2", "-i", "0.1", "-s", "8", host)  # too short for times


@pytest.mark.parametrize("host", [B4, B6])
def test_ttl_exceeded_at_router(lab, host):
    result = compare_with_iputils(lab["a"], "-c", "2", "-i", "0.1", "-t", "1", host)
    assert result.returncode == 1 and "+2 errors" in result.stdout


@pytest.mark.parametrize("host", [D4, D6])
def test_host_silently_dropping(lab, host):
    result = compare_with_iputils(lab["a"], "-c", "2", "-i", "0.1", "-W", "0.3", "-O", host)
    assert result.returncode == 1 and "100% packet loss" in result.stdout
    compare_with_iputils(lab["a"], "-w", "1", "-i", "0.3", host)


def test_link_local_target_with_scope(lab):
    listing = lab["r"].run(["ip", "-6", "-o", "addr", "show", "dev", "r0", "scope", "link"]).stdout
    link_local = re.search(r"inet6 (fe80::[0-9a-f:]+)/", listing).group(1)
    result = compare_with_iputils(lab["a"], "-c", "2", "-i", "0.1", f"{link_local}%a0")
    assert f"from {link_local}%a0: icmp_seq=2" in result.stdout


def test_on_link_host_not_answering_neighbour_discovery(lab):
    """The kernel's own "host unreachable" after about 3 s of unanswered ARP / neighbour solicitation
    (IPv4 and IPv6 at once: each takes seconds)."""
    args4, args6 = (["-c", "2", "-i", "0.5", "-W", "5", host] for host in ("198.18.0.77", "fd00:18::77"))
    results = side_by_side(lab["a"], rawkit("ping", *args4), ["ping", *args4], rawkit("ping", *args6),
                           ["ping", *args6])
    for ours, theirs in (results[:2], results[2:]):
        assert normalise(ours.stdout) == normalise(theirs.stdout)
        assert ours.returncode == theirs.returncode == 1 and "+2 errors" in ours.stdout


def test_unknown_host(lab):
    result = compare_with_iputils(lab["a"], "-c", "1", "no-such-host.invalid")
    assert result.returncode == 2


def rendered(text: str) -> str:
    """What a terminal shows of flood output: a dot per request, '\\b \\b' rubbing one out per reply.
    Where the dots and rubs interleave depends on reply timing; what is left on screen does not."""
    lines = []
    for raw in text.split("\n"):
        cells: list[str] = []
        cursor = 0
        for char in raw:
            if char == "\b":
                cursor = max(cursor - 1, 0)
                continue
            if cursor == len(cells):
                cells.append(char)
            else:
                cells[cursor] = char
            cursor += 1
        lines.append("".join(cells).rstrip())
    return "\n".join(lines)


def test_flood(lab):
    """Dots and backspaces as iputils writes them, compared as a terminal renders them; "pipe N"
    blanked, as it only says whether a reply once came later than the 10 ms resend, which a busy
    machine decides (so does the interleaving of dots and rubs)."""
    for args in (["-f", "-c", "200", B4], ["-f", "-q", "-c", "200", B6]):
        results = side_by_side(lab["a"], rawkit("ping", *args), ["ping", *args])
        ours, theirs = (rendered(re.sub(r", pipe \d+", "", normalise(result.stdout))) for result in results)
        assert ours == theirs and "200 received" in ours
        marks = results[0].stdout.split("\n--- ")[0].split("\n", 1)[-1]  # after the PING line
        expected = 0 if "-q" in args else 200
        assert marks.count(".") == expected and marks.count("\b \b") == expected


def test_json_lines(lab):
    result = lab["a"].run(rawkit("ping", "--json", "-c", "3", "-i", "0.1", D4, "-W", "0.2"), check=False)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["type"] for record in records] == ["timeout", "timeout", "timeout", "summary"]
    assert records[-1]["transmitted"] == 3 and records[-1]["received"] == 0 and result.returncode == 1
    result = lab["a"].run(rawkit("ping", "--json", "-c", "2", "-i", "0.1", B6), check=False)
    replies = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["type"], r["seq"]) for r in replies[:2]] == [("reply", 1), ("reply", 2)]
    assert replies[-1]["received"] == 2 and replies[-1]["rtt_min_ms"] > 0


def summary_shape(text: str) -> list[str]:
    """The statistics block with numbers blanked, to check a probe mode prints ping's block."""
    block = normalise(text[text.index("\n--- ") :])
    return [re.sub(r"\d+", "N", line) for line in block.splitlines()]


def kernel_tcp_state(namespace, host: str, port: int) -> str:
    def attempt() -> str:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            return "open" if sock.connect_ex((host, port)) == 0 else "closed"

    return namespace.call(attempt, timeout=5)


@pytest.mark.parametrize("host", [B4, B6])
@pytest.mark.parametrize("port", [OPEN_PORT, CLOSED_PORT])
def test_tcp_probe_open_and_closed(lab, host, port):
    expected = kernel_tcp_state(lab["a"], host, port)
    ours, reference = side_by_side(lab["a"], rawkit("ping", "--tcp", str(port), "-c", "2", "-i", "0.1", host),
                                   ["ping", "-c", "2", "-i", "0.1", host])
    lines = ours.stdout.splitlines()
    assert ours.returncode == 0
    assert [line.split(": ", 1)[1].split(" time=")[0] for line in lines[1:3]] == [
        f"tcp_seq={n} port={port} {expected} ttl=63" for n in (1, 2)]
    assert summary_shape(ours.stdout) == summary_shape(reference.stdout)
    # the half-open connection was reset: nothing left waiting for our ACK on the server
    assert lab["b"].run(["ss", "-Htn", "state", "syn-recv"]).stdout == ""


@pytest.mark.parametrize("host", [B4, B6])
def test_udp_probe_closed_port(lab, host):
    ours, reference = side_by_side(lab["a"], rawkit("ping", "--udp", "9", "-c", "2", "-i", "0.1", host),
                                   ["ping", "-c", "2", "-i", "0.1", host])
    assert ours.returncode == 0
    assert [line.split(" time=")[0] for line in ours.stdout.splitlines()[1:3]] == [
        f"From {host} udp_seq={n} port=9 closed ttl=63" for n in (1, 2)]
    assert summary_shape(ours.stdout) == summary_shape(reference.stdout)


@pytest.mark.parametrize("host", [D4, D6])
def test_tcp_and_udp_probes_silence(lab, host):
    for mode in ("--tcp", "--udp"):
        args = ["-c", "2", "-i", "0.1", "-W", "0.3", host]
        ours, reference = side_by_side(lab["a"], rawkit("ping", mode, "80", *args), ["ping", *args])
        assert ours.returncode == reference.returncode == 1
        assert summary_shape(ours.stdout) == summary_shape(reference.stdout)


@needs_tool("arping")
def test_arp_probe_like_arping(lab):
    args = ["-c", "2", "-I", "a0", "198.18.0.254"]
    ours, theirs = side_by_side(lab["a"], rawkit("ping", "--arp", "-i", "0.2", *args), ["arping", *args])
    assert normalise(ours.stdout).splitlines()[:3] == normalise(theirs.stdout).splitlines()[:3]
    assert "2 packets transmitted, 2 received, 0% packet loss" in ours.stdout and ours.returncode == 0
    silent = ["-c", "2", "-I", "a0", "198.18.0.77"]
    ours, theirs = side_by_side(lab["a"], rawkit("ping", "--arp", "-i", "0.2", "-W", "0.3", *silent),
                                ["arping", "-w", "1", *silent])
    assert ours.returncode == theirs.returncode == 1
    assert normalise(ours.stdout).splitlines()[0] == normalise(theirs.stdout).splitlines()[0]


def plain_ping(lab) -> str:
    """A copy of iputils ping without its file capability (cap_net_raw), to run it unprivileged."""
    copy = Path(lab["a"].lab.workdir) / "ping"
    if not copy.exists():
        shutil.copy(shutil.which("ping"), copy)
    return str(copy)


@needs_tool("setpriv")
def test_without_privilege(lab):
    """No CAP_NET_RAW and no ping socket allowed: the one-line error, exit 2."""
    lab["a"].sysctl("net.ipv4.ping_group_range", "1 0")
    result = lab["a"].run([*nobody, *rawkit("ping", "-c", "1", B4)], check=False)
    theirs = lab["a"].run([*nobody, plain_ping(lab), "-c", "1", B4], check=False)
    assert theirs.returncode == 2 and "Operation not permitted" in theirs.stderr  # the premise
    assert result.stderr == "rawkit: ping needs root or CAP_NET_RAW (Operation not permitted)\n"
    assert result.returncode == 2 and result.stdout == ""


@needs_tool("setpriv")
def test_unprivileged_ping_socket(lab):
    """With net.ipv4.ping_group_range open, ping works without CAP_NET_RAW through the kernel's ping
    socket, errors included (they come through the socket's error queue)."""
    lab["a"].sysctl("net.ipv4.ping_group_range", "0 2147483647")
    try:
        for host in (B4, B6):
            args = ["-c", "2", "-i", "0.1", host]
            ours, theirs = side_by_side(lab["a"], [*nobody, *rawkit("ping", *args)],
                                        [*nobody, plain_ping(lab), *args])
            assert normalise(ours.stdout) == normalise(theirs.stdout) and ours.returncode == 0
        args = ["-c", "2", "-i", "0.1", "-t", "1", B4]
        ours, theirs = side_by_side(lab["a"], [*nobody, *rawkit("ping", *args)],
                                    [*nobody, plain_ping(lab), *args])
        assert normalise(ours.stdout) == normalise(theirs.stdout)
    finally:
        lab["a"].sysctl("net.ipv4.ping_group_range", "1 0")


def test_sigquit_status_and_sigint_summary(lab):
    """SIGQUIT prints the short status line on stderr, SIGINT the statistics; exit 0 after replies."""
    commands = (rawkit("ping", "-i", "0.1", B4), ["ping", "-i", "0.1", B4])
    processes = [subprocess.Popen(lab["a"].command(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for cmd in commands]
    time.sleep(1.0)  # both started (rawkit's interpreter takes a moment) and replies came
    for process in processes:
        process.send_signal(signal.SIGQUIT)
    time.sleep(0.3)
    for process in processes:
        process.send_signal(signal.SIGINT)
    (ours_out, ours_err), (theirs_out, theirs_err) = (process.communicate(timeout=10)
                                                      for process in processes)
    assert [process.returncode for process in processes] == [0, 0]

    def shape(text: str) -> list[str]:
        return [re.sub(r"\d+", "N", line) for line in normalise(text).splitlines()]

    assert shape(ours_err) == shape(theirs_err) and ours_err.count(" packets, ") == 1
    assert set(shape(ours_out)) == set(shape(theirs_out))
    transmitted = int(re.search(r"(\d+) packets transmitted", ours_out).group(1))
    assert ours_out.count(" bytes from ") == transmitted

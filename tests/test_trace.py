"""`rawkit trace` against Debian's traceroute (-n, -I, -T -p) in a three-namespace lab: A -- R -- B.
Same lines once round-trip times are blanked; a hop that stays silent shows `*` in both."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import needs_root, needs_tool

pytestmark = [needs_root, needs_tool("traceroute"), needs_tool("ip"), needs_tool("nft")]

B4, B6 = "198.18.1.2", "fd00:18:1::2"
PORT = 8080
# method -> (rawkit trace flags, traceroute flags)
METHODS = {"udp": ([], []), "icmp": (["--icmp"], ["-I"]),
           "tcp": (["--tcp", str(PORT)], ["-T", "-p", str(PORT)])}
SILENT_ROUTER = ("add table inet rksilent { chain out { type filter hook output priority 0; "
                 "icmp type time-exceeded drop; icmpv6 type time-exceeded drop; }; }")


@pytest.fixture(scope="module")
def lab():
    from rawkit.link.netns import Lab

    with Lab() as lab:
        a, r, b = lab.namespace("a"), lab.namespace("r", forwarding=True), lab.namespace("b")
        lab.link(a, r, ipv4=("198.18.0.1/24", "198.18.0.254/24"), ipv6=("fd00:18::1/64", "fd00:18::fe/64"))
        lab.link(r, b, ipv4=("198.18.1.254/24", f"{B4}/24"), ipv6=("fd00:18:1::fe/64", f"{B6}/64"))
        a.route("default", "198.18.0.254")
        a.route("default", "fd00:18::fe")
        b.route("default", "198.18.1.254")
        b.route("default", "fd00:18:1::fe")
        b.spawn(["python3", "-m", "http.server", "-b", "::", str(PORT)])
        b.wait_listening(PORT)
        # A asks a resolver on its own loopback (nothing there: refused at once) rather than the host's,
        # which it cannot reach (the unknown host then took the resolver's 5 s timeout)
        resolver = Path("/etc/netns") / a.name / "resolv.conf"
        resolver.parent.mkdir(parents=True)
        try:
            resolver.write_text("nameserver 127.0.0.1\n")
            yield {"a": a, "r": r, "b": b}
        finally:
            shutil.rmtree(resolver.parent)
            with contextlib.suppress(OSError):
                resolver.parent.parent.rmdir()  # only if no other namespace has one


def normalise(text: str) -> str:
    return re.sub(r"  \d+\.\d+ ms", "  T ms", text)


def both(namespace, ours: list[str], theirs: list[str]) -> tuple[subprocess.CompletedProcess, ...]:
    processes = [subprocess.Popen(namespace.command(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for cmd in (ours, theirs)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=30)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return tuple(results)


@pytest.mark.parametrize("host", ["198.18.9.9", "fd00:18:9::9"])
def test_unreachable_network_annotation(lab, host):
    """The router has no route: `!N` after its address. First in this file on purpose: a router's
    IPv4 "no route" errors have their own per-host token bucket (1 a second, burst 5, whatever
    icmp_ratelimit says), which the TTL-exceeded errors of the other tests drain to zero."""
    common = ["-q", "1", "-w", "1", "-m", "3", host]
    ours, theirs = both(lab["a"], ["python3", "-m", "rawkit", "trace", *common],
                        ["traceroute", "-n", *common])
    assert normalise(ours.stdout) == normalise(theirs.stdout)
    assert ours.stdout.splitlines()[1].endswith(" ms !N")


@pytest.mark.parametrize("host", [B4, B6])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_router_then_destination(lab, method, host):
    our_flags, their_flags = METHODS[method]
    family = ["-6"] if ":" in host else ["-4"]
    common = ["-q", "2", "-w", "1", *family, host]
    ours, theirs = both(lab["a"], ["python3", "-m", "rawkit", "trace", *our_flags, *common],
                        ["traceroute", "-n", *their_flags, *common])
    assert normalise(ours.stdout) == normalise(theirs.stdout)
    assert ours.returncode == theirs.returncode == 0
    hops = ours.stdout.splitlines()[1:]
    assert [hop.split()[:2] for hop in hops] == [["1", "fd00:18::fe" if ":" in host else "198.18.0.254"],
                                                 ["2", host]]


@pytest.mark.parametrize("host", [B4, B6])
def test_silent_hop_shows_star(lab, host):
    lab["r"].run(["nft", SILENT_ROUTER])
    try:
        for method in sorted(METHODS):
            our_flags, their_flags = METHODS[method]
            common = ["-q", "2", "-w", "0.3", "-f", "1", host]
            ours, theirs = both(lab["a"], ["python3", "-m", "rawkit", "trace", "-n", *our_flags, *common],
                                ["traceroute", "-n", *their_flags, *common])
            assert normalise(ours.stdout) == normalise(theirs.stdout)
            assert ours.stdout.splitlines()[1] == " 1  * *"
    finally:
        lab["r"].run(["nft", "delete", "table", "inet", "rksilent"])


def test_first_ttl_and_max_hops(lab):
    ours, theirs = both(lab["a"], ["python3", "-m", "rawkit", "trace", "-q", "1", "-f", "2", "-m", "5", B4],
                        ["traceroute", "-n", "-q", "1", "-f", "2", "-m", "5", B4])
    assert normalise(ours.stdout) == normalise(theirs.stdout)


def test_unknown_host(lab):
    result = lab["a"].run(["python3", "-m", "rawkit", "trace", "no-such-host.invalid"], check=False)
    assert result.returncode == 2 and result.stderr.startswith("rawkit: no-such-host.invalid: ")

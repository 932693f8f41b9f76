"""Our own packetdrill scripts (tests/scripts/*.pkt) for behaviours the upstream corpus does not
cover, run against the Linux kernel (`--target kernel`) over IPv4 and IPv6.

IPv6 runs with MTU 1520, as the corpus was run, so the MSS the kernel announces (1460) is the same
in both families. A failure that is only a timing error is retried once: the machine is shared and a
busy moment can delay a packet past the 4 ms tolerance; any other failure fails at once. The runs go
two at a time in child processes (tests/script_pool.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import needs_root

SCRIPTS = sorted((Path(__file__).parent / "scripts").glob("*.pkt"))
VERSIONS = {"ipv4": {"ip_version": 4}, "ipv6": {"ip_version": 6, "mtu": 1520}}


@pytest.fixture(scope="module")
def runs():
    """Every script at both versions, started at once (two at a time, see script_pool), the slow
    timelines (keepalive, retransmissions) first."""
    from tests.script_pool import ScriptPool

    slow = ("keepalive.pkt", "syn-retransmit-linear.pkt")
    pool = ScriptPool()
    for path in sorted(SCRIPTS, key=lambda path: path.name not in slow):
        for version in sorted(VERSIONS):
            pool.submit(path, "kernel", **VERSIONS[version])
    yield pool
    pool.close()


def test_every_script_is_listed():
    assert {path.name for path in SCRIPTS} >= {
        "connect-refused.pkt", "keepalive.pkt", "poll-events.pkt", "rst-challenge-ack.pkt",
        "rst-closed-port.pkt", "simultaneous-close.pkt", "simultaneous-open.pkt", "syn-retransmit-linear.pkt",
        "zero-window-probe.pkt"}


@needs_root
@pytest.mark.parametrize("version", sorted(VERSIONS))
@pytest.mark.parametrize("path", SCRIPTS, ids=[path.stem for path in SCRIPTS])
def test_script_passes_on_the_kernel(runs, path: Path, version: str):
    runs.outcome(path, "kernel", **VERSIONS[version])


@needs_root
def test_a_wrong_expectation_in_our_script_fails(tmp_path: Path):
    """The scripts can fail: the same RST script expecting a plain RST (no ACK) does not pass."""
    from rawkit.script.kernel_target import KernelTarget
    from rawkit.script.runner import RunOptions, ScriptFailure, run_script

    text = (Path(__file__).parent / "scripts" / "rst-closed-port.pkt").read_text()
    broken = tmp_path / "rst-without-ack.pkt"
    broken.write_text(text.replace("> R. 0:0(0) ack 1\n", "> R 0:0(0)\n", 1))
    with pytest.raises(ScriptFailure, match=r"rst-without-ack.pkt:10: .*tcp_ack: expected: 0 vs actual: 1"):
        run_script(str(broken), RunOptions(ip_version=4), KernelTarget)

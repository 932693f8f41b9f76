"""rawkit.link.nft_guard (the rules that hide rawkit's ports from the kernel) and the host-address
mode's port holding (rawkit.stack.host_mode), each in a fresh lab namespace.

(The signal and exit paths run in child processes in tests/test_stack_modes_lab.py.)
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
import socket

import pytest

from tests.conftest import needs_root, needs_tool

pytestmark = needs_root

HOST, PEER = "198.18.0.2", "198.18.0.3"


@pytest.fixture
def lab():
    """(host namespace with 198.18.0.2 / fd00:18::2, peer namespace with .3 / ::3, veth name in host)."""
    from rawkit.link.netns import Lab

    with Lab() as lab:
        host, peer = lab.namespace("host"), lab.namespace("peer")
        link = lab.link(host, peer, ipv4=(f"{HOST}/24", f"{PEER}/24"),
                        ipv6=("fd00:18::2/64", "fd00:18::3/64"))
        yield host, peer, link.a.device


def _dead_pid() -> int:
    pid = 4_000_000
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


@needs_tool("nft")
@pytest.mark.parametrize("through", ["libnftables", "nft command"])
def test_nft_table_holds_the_ports_and_goes_at_close(lab, through, monkeypatch):
    from rawkit.link import nft_guard
    from rawkit.link.nft_guard import PortGuard, active_guards

    if through == "nft command":                  # as on a system without libnftables
        def no_library(name: str):
            raise OSError(f"{name}: cannot open shared object file")
        monkeypatch.setattr(nft_guard.ctypes, "CDLL", no_library)
    host, _peer, _device = lab
    guard = host.call(PortGuard, [HOST, "fd00:18::2"], backend="nft")
    try:
        assert guard.name.startswith(f"rawkit_{os.getpid()}_")
        assert (guard._nft._ctx is None) == (through == "nft command")
        assert guard.name in active_guards()
        for port in (40000, 40001, 40002):          # from this thread (not in the namespace)
            guard.add(port)
        guard.discard(40001)
        guard.add(5353, "udp")
        listing = host.run(["nft", "list", "table", "inet", guard.name]).stdout
        assert "40000" in listing and "40002" in listing and "40001" not in listing
        assert re.search(r"set udp_ports \{[^}]*elements = \{ 5353 \}", listing)
        assert f"ip daddr {HOST} udp dport @udp_ports drop" in listing
        assert f"ip daddr {HOST} tcp dport @ports drop" in listing
        assert "ip6 saddr fd00:18::2 tcp sport @ports tcp flags & rst == rst drop" in listing
    finally:
        guard.close()
        guard.close()                                # twice is fine
    assert "rawkit_" not in host.run(["nft", "list", "tables"]).stdout
    assert guard.name not in active_guards()


@needs_tool("iptables")
@needs_tool("ip6tables")
def test_iptables_fallback_adds_and_removes_its_chain(lab):
    from rawkit.link.nft_guard import PortGuard

    host, _peer, _device = lab
    guard = host.call(PortGuard, [HOST, "fd00:18::2"], backend="iptables")
    try:
        guard.add(40000)
        rules = host.run(["iptables", "-t", "raw", "-S"]).stdout
        assert f"-A PREROUTING -j {guard.name}" in rules
        assert f"-A {guard.name} -d {HOST}/32 -p tcp -m tcp --dport 40000 -j DROP" in rules
        assert "--dport 40000" in host.run(["ip6tables", "-t", "raw", "-S"]).stdout
        guard.discard(40000)
        assert "--dport 40000" not in host.run(["iptables", "-t", "raw", "-S"]).stdout
    finally:
        guard.close()
    for tool in ("iptables", "ip6tables"):
        assert "RAWKIT_" not in host.run([tool, "-t", "raw", "-S"]).stdout


@needs_tool("nft")
def test_guarded_port_gets_no_rst_from_the_kernel(lab):
    """Without the guard a SYN to a closed port is refused by the kernel; with it the SYN vanishes."""
    from rawkit.link.nft_guard import PortGuard

    host, peer, _device = lab
    guard = host.call(PortGuard, [HOST])
    try:
        with peer.socket() as probe:
            assert probe.connect_ex((HOST, 40000)) == errno.ECONNREFUSED
        guard.add(40000)
        with peer.socket() as probe:
            probe.settimeout(0.3)
            with pytest.raises(TimeoutError):
                probe.connect((HOST, 40000))
        guard.discard(40000)
        with peer.socket() as probe:
            assert probe.connect_ex((HOST, 40000)) == errno.ECONNREFUSED
    finally:
        guard.close()


@needs_tool("nft")
def test_tables_of_dead_processes_are_removed_at_start(lab):
    from rawkit.link.nft_guard import PortGuard, remove_stale

    host, _peer, _device = lab
    stale, living = f"rawkit_{_dead_pid()}_0", "rawkit_1_0"     # pid 1 runs
    host.run(["nft", f"add table inet {stale}; add table inet {living}"])
    guard = host.call(PortGuard, [HOST])
    try:
        tables = host.run(["nft", "list", "tables"]).stdout
        assert stale not in tables and living in tables and guard.name in tables
        host.run(["nft", f"add table inet {stale}"])
        assert host.call(remove_stale) == [stale]
        assert host.call(remove_stale) == []
    finally:
        guard.close()
        host.run(["nft", f"delete table inet {living}"])


@needs_tool("iptables")
def test_iptables_chains_of_dead_processes_are_removed_at_start(lab):
    from rawkit.link.nft_guard import PortGuard

    host, _peer, _device = lab
    stale = f"RAWKIT_{_dead_pid()}_0"
    host.run(["iptables", "-t", "raw", "-N", stale])
    host.run(["iptables", "-t", "raw", "-I", "PREROUTING", "-j", stale])
    guard = host.call(PortGuard, [HOST], backend="iptables")
    try:
        rules = host.run(["iptables", "-t", "raw", "-S"]).stdout
        assert stale not in rules and guard.name in rules
    finally:
        guard.close()


@needs_tool("nft")
def test_signal_handler_removes_guards_then_chains(lab, monkeypatch):
    """The handler's branches without a real signal: a previous Python handler is called with the
    signal; an ignored signal stays ignored (the process lives on). Both remove every guard first."""
    import signal

    from rawkit.link import nft_guard

    host, _peer, _device = lab
    calls = []
    for previous in (lambda signum, frame: calls.append(signum), signal.SIG_IGN):
        guard = host.call(nft_guard.PortGuard, [HOST])
        monkeypatch.setitem(nft_guard._previous_handlers, signal.SIGTERM, previous)
        nft_guard._on_signal(signal.SIGTERM, None)
        assert guard.name not in nft_guard.active_guards()
        assert guard.name not in host.run(["nft", "list", "tables"]).stdout
    assert calls == [signal.SIGTERM]


def test_unknown_backend_is_a_guard_error():
    from rawkit.link.nft_guard import GuardError, PortGuard

    with pytest.raises(GuardError, match="unknown guard backend 'pf'"):
        PortGuard([HOST], backend="pf")


@needs_tool("nft")
def test_host_ports_hold_the_port_in_the_kernel_too(lab):
    """A port the kernel uses cannot be claimed; a claimed one the kernel cannot bind until released."""
    from rawkit.stack.host_mode import HostPorts

    host, _peer, _device = lab
    ports = host.call(HostPorts, [ipaddress.ip_address(HOST), ipaddress.ip_address("fd00:18::2")])
    kernel_listener = host.socket()
    try:
        kernel_listener.bind(("0.0.0.0", 40010))
        kernel_listener.listen()
        assert not ports.claim(40010)
        assert ports.claim(40011) and 40011 in ports
        assert "40011" in host.run(["nft", "list", "ruleset"]).stdout
        for family, address in ((socket.AF_INET, HOST), (socket.AF_INET6, "fd00:18::2")):
            with host.socket(family) as other, pytest.raises(OSError) as caught:
                other.bind((address, 40011))
            assert caught.value.errno == errno.EADDRINUSE
        ports.release(40011)
        assert 40011 not in ports
        with host.socket() as other:
            other.bind((HOST, 40011))
    finally:
        kernel_listener.close()
        ports.close()
    assert "rawkit_" not in host.run(["nft", "list", "tables"]).stdout


def test_host_mode_on_an_interface_without_address_says_so(lab):
    from rawkit.stack.host_mode import HostModeError
    from rawkit.stack.stack import Stack

    host, _peer, _device = lab
    host.run(["ip", "link", "add", "bare0", "type", "veth", "peer", "name", "bare1"])
    with pytest.raises(HostModeError, match="bare0: the kernel has no global address on it to share"):
        host.call(Stack, "bare0", host_address=True)

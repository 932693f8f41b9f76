"""The namespace lab builds working networks and always removes them, also after failures."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from conftest import needs_root, needs_tool

from rawkit.link import netns
from rawkit.link.netns import Lab, LabError, our_namespaces


def lab_test(test):
    """Builds namespaces: needs root and ethtool."""
    return pytest.mark.lab(needs_root(needs_tool("ethtool")(test)))


V4 = ("198.18.0.1/24", "198.18.0.2/24")
V6 = ("fd00:18::1/64", "fd00:18::2/64")


@lab_test
def test_ping_across_a_veth_then_everything_is_removed() -> None:
    with Lab() as lab:
        client, server = lab.namespace("client"), lab.namespace("server")
        link = lab.link(client, server, ipv4=V4, ipv6=V6)
        names = {client.name, server.name}
        assert names <= set(our_namespaces())
        for address in (link.b.ip, link.b.ip6):
            client.run(["ping", "-c", "1", "-W", "2", address])
        features = client.run(["ethtool", "-k", link.a.device]).stdout
        for feature in ("tx-checksumming: off", "generic-segmentation-offload: off",
                        "generic-receive-offload: off"):
            assert feature in features
    assert names.isdisjoint(our_namespaces())
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert names.isdisjoint(line.split()[0] for line in listed.splitlines() if line.strip())


@lab_test
def test_cleanup_after_an_exception_stops_processes_too() -> None:
    with pytest.raises(RuntimeError, match="test failure"), Lab() as lab:
        namespace = lab.namespace("crash")
        names = {namespace.name}
        sleeper = namespace.spawn(["sleep", "30"])
        raise RuntimeError("test failure")
    assert sleeper.poll() is not None
    assert names.isdisjoint(our_namespaces())


@lab_test
def test_call_runs_python_inside_the_namespace() -> None:
    with Lab() as lab:
        a, b = lab.namespace("pya"), lab.namespace("pyb")
        link = lab.link(a, b, names=("rkinside0", "rkinside1"), ipv4=V4)
        assert a.call(socket.if_nametoindex, "rkinside0") > 0
        with pytest.raises(OSError):
            socket.if_nametoindex("rkinside0")  # not on the host
        receiver = b.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender = a.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with receiver, sender:
            receiver.bind((link.b.ip, 9999))
            receiver.settimeout(2)
            sender.sendto(b"hello", (link.b.ip, 9999))
            assert receiver.recvfrom(16) == (b"hello", (link.a.ip, sender.getsockname()[1]))
        with pytest.raises(ZeroDivisionError):
            a.call(lambda: 1 / 0)


@lab_test
def test_threads_started_inside_call_stay_in_the_namespace() -> None:
    with Lab() as lab:
        namespace = lab.namespace("thr")
        lab.link(namespace, namespace, names=("rkthr0", "rkthr1"))

        def index_from_a_new_thread() -> int:
            found: list[int] = []
            worker = threading.Thread(target=lambda: found.append(socket.if_nametoindex("rkthr1")))
            worker.start()
            worker.join(5)
            return found[0]

        assert namespace.call(index_from_a_new_thread, timeout=10) > 0


@lab_test
def test_router_namespace_forwards_between_two_links() -> None:
    with Lab() as lab:
        left, right = lab.namespace("left"), lab.namespace("right")
        router = lab.namespace("router", forwarding=True)
        west = lab.link(left, router, ipv4=("198.18.1.1/24", "198.18.1.254/24"),
                        ipv6=("fd00:18:1::1/64", "fd00:18:1::fe/64"))
        east = lab.link(router, right, ipv4=("198.18.2.254/24", "198.18.2.1/24"),
                        ipv6=("fd00:18:2::fe/64", "fd00:18:2::1/64"))
        left.route("198.18.2.0/24", via=west.b.ip)
        left.route("fd00:18:2::/64", via=west.b.ip6)
        right.route("198.18.1.0/24", via=east.a.ip)
        right.route("fd00:18:1::/64", via=east.a.ip6)
        reply = left.run(["ping", "-c", "1", "-W", "2", east.b.ip]).stdout
        assert "ttl=63" in reply
        left.run(["ping", "-c", "1", "-W", "2", east.b.ip6])


@lab_test
def test_failing_command_is_a_one_line_lab_error() -> None:
    with Lab() as lab:
        namespace = lab.namespace("err")
        with pytest.raises(LabError, match=r"failed \(\d+\)") as caught:
            namespace.run(["ip", "link", "set", "nosuchdev", "up"])
        assert "\n" not in str(caught.value)


@lab_test
def test_bad_label_is_refused() -> None:
    with Lab() as lab, pytest.raises(LabError, match="label"):
        lab.namespace("../escape")


def test_not_root_says_needs_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(netns.os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        Lab()


CHILD = """
import os, sys
from rawkit.link.netns import Lab
lab = Lab(prefix=sys.argv[1])
print(lab.namespace("child").name, flush=True)
if sys.argv[2] == "kill":
    os._exit(0)  # no atexit: as if killed
"""


@pytest.mark.parametrize("ending", ["exit", "kill"])
@lab_test
def test_unclosed_lab_removed_at_exit_or_by_remove_stale(ending: str) -> None:
    prefix = f"rkt{os.getpid()}"
    done = subprocess.run([sys.executable, "-c", CHILD, prefix, ending], capture_output=True, text=True,
                          timeout=30, check=True)
    name = done.stdout.strip()
    if ending == "kill":
        assert our_namespaces(prefix) == [name]
        assert netns.remove_stale(prefix) == [name]
    assert our_namespaces(prefix) == []
    assert not list(Path(tempfile.gettempdir()).glob(f"{prefix}-lab-*"))

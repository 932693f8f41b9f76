"""rawkit.stack.Stack over IPv6 (Neighbor Discovery, ICMPv6 echo, TCP) against the kernel in a lab.

rawkit owns fd00:18::10 on a veth whose namespace gives the kernel no such address; the kernel of
the peer namespace is at fd00:18::2.
"""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import threading

import pytest

from tests.conftest import needs_root

pytestmark = needs_root

RAWKIT_IP6 = "fd00:18::10"
PEER_IP6 = "fd00:18::2"
PAYLOAD = os.urandom(1 << 20)


@pytest.fixture
def lab6():
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    with Lab() as lab:
        ours, peer = lab.namespace("rk"), lab.namespace("peer")
        link = lab.link(ours, peer)
        peer.add_address(link.b.device, f"{PEER_IP6}/64")
        peer.wait_ipv6_ready(link.b.device)
        stack = ours.call(Stack, link.a.device, "198.18.0.10/24", ip6=f"{RAWKIT_IP6}/64")
        try:
            yield peer, stack
        finally:
            stack.close()


def test_ping6_is_answered_after_neighbour_discovery(lab6):
    peer, _stack = lab6
    out = peer.run(["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", RAWKIT_IP6]).stdout
    assert " 0% packet loss" in out
    neighbours = peer.run(["ip", "-6", "neigh", "show", RAWKIT_IP6]).stdout
    assert "lladdr" in neighbours


def test_rawkit_client_to_kernel_server_over_ipv6(lab6):
    peer, stack = lab6
    server = peer.socket(socket.AF_INET6)
    server.bind((PEER_IP6, 8000))
    server.listen()
    server.settimeout(10)
    outcome: dict = {}

    def serve() -> None:
        connection, address = server.accept()
        outcome["address"] = address[0]
        with connection:
            digest = hashlib.sha256()
            while chunk := connection.recv(65536):
                digest.update(chunk)
            connection.sendall(digest.digest())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with server, stack.socket(socket.AF_INET6) as client:
        client.settimeout(10)
        client.connect((PEER_IP6, 8000))
        assert client.getpeername() == (PEER_IP6, 8000, 0, 0)
        client.sendall(PAYLOAD)
        client.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := client.recv(100):
            answer += chunk
    thread.join(10)
    assert answer == hashlib.sha256(PAYLOAD).digest()
    assert outcome["address"] == RAWKIT_IP6


def test_kernel_client_to_rawkit_listener_over_ipv6(lab6):
    peer, stack = lab6
    with stack.socket(socket.AF_INET6) as listener:
        listener.bind(("::", 9000))
        listener.listen()
        listener.settimeout(10)

        def client() -> bytes:
            with socket.create_connection((RAWKIT_IP6, 9000), timeout=10) as sock:
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
                return received

        outcome: dict = {}

        def run_client() -> None:
            outcome["received"] = peer.call(client, timeout=15)
        thread = threading.Thread(target=run_client, daemon=True)
        thread.start()
        connection, address = listener.accept()
        assert address[0] == PEER_IP6
        with connection:
            connection.sendall(PAYLOAD)
        thread.join(15)
    assert hashlib.sha256(outcome["received"]).digest() == hashlib.sha256(PAYLOAD).digest()


def test_refused_over_ipv6_and_family_checks(lab6):
    _peer, stack = lab6
    with stack.socket(socket.AF_INET6) as client:
        client.settimeout(5)
        assert client.connect_ex((PEER_IP6, 8999)) == errno.ECONNREFUSED
    with stack.socket(socket.AF_INET6) as client, pytest.raises(OSError) as raised:
        client.connect(("198.18.0.2", 80))
    assert raised.value.errno == errno.EAFNOSUPPORT

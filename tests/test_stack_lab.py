"""rawkit.stack.Stack over a real veth in a namespace lab, against the kernel's own TCP/ARP/ping.

rawkit's address (198.18.0.10) lives on a veth end whose namespace gives the kernel no address at
all, so only rawkit answers for it; the peer namespace runs the kernel's stack at 198.18.0.2.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import socket
import threading
import time

import pytest

from tests.conftest import needs_root, needs_tool

pytestmark = needs_root

RAWKIT_IP = "198.18.0.10"
PEER_IP = "198.18.0.2"
PAYLOAD = os.urandom(1 << 20)


@pytest.fixture
def lab():
    """(lab, rawkit namespace, peer namespace, Stack living in the rawkit namespace)."""
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    with Lab() as lab:
        ours, peer = lab.namespace("rk"), lab.namespace("peer")
        link = lab.link(ours, peer)
        peer.add_address(link.b.device, f"{PEER_IP}/24")
        stack = ours.call(Stack, link.a.device, f"{RAWKIT_IP}/24")
        try:
            yield lab, ours, peer, stack
        finally:
            stack.close()


def _sink_server(peer, port: int) -> tuple[socket.socket, dict]:
    """A kernel server in `peer` that reads everything, then sends back the sha256 of it."""
    server = peer.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((PEER_IP, port))
    server.listen()
    server.settimeout(10)
    result: dict = {}

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.settimeout(10)
            digest = hashlib.sha256()
            while chunk := connection.recv(65536):
                digest.update(chunk)
            connection.sendall(digest.digest())
        result["digest"] = digest.digest()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    result["thread"] = thread
    return server, result


def test_ping_is_answered(lab):
    _lab, _ours, peer, _stack = lab
    out = peer.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", RAWKIT_IP]).stdout
    assert " 0% packet loss" in out


def test_rawkit_client_sends_1mb_to_kernel_server(lab):
    _lab, _ours, peer, stack = lab
    server, result = _sink_server(peer, 8000)
    with server, stack.socket() as client:
        client.settimeout(10)
        client.connect((PEER_IP, 8000))
        assert client.getpeername() == (PEER_IP, 8000)
        assert client.getsockname()[0] == RAWKIT_IP
        client.sendall(PAYLOAD)
        client.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        result["thread"].join(10)
    assert answer == hashlib.sha256(PAYLOAD).digest() == result["digest"]


def test_rawkit_client_receives_1mb_from_kernel_server(lab):
    _lab, _ours, peer, stack = lab
    server = peer.socket()
    server.bind((PEER_IP, 8001))
    server.listen()
    server.settimeout(10)

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.sendall(PAYLOAD)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with server, stack.socket() as client:
        client.settimeout(10)
        client.connect((PEER_IP, 8001))
        received = bytearray()
        while chunk := client.recv(65536):
            received += chunk
    thread.join(10)
    assert hashlib.sha256(received).digest() == hashlib.sha256(PAYLOAD).digest()


def test_kernel_client_to_rawkit_listener(lab):
    _lab, _ours, peer, stack = lab
    listener = stack.socket()
    listener.bind(("", 9000))
    listener.listen()
    listener.settimeout(10)

    def client() -> bytes:
        with socket.create_connection((RAWKIT_IP, 9000), timeout=10) as sock:
            sock.sendall(PAYLOAD)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            return answer

    outcome: dict = {}

    def run_client() -> None:
        outcome["answer"] = peer.call(client, timeout=15)
    thread = threading.Thread(target=run_client, daemon=True)
    thread.start()
    with listener:
        connection, address = listener.accept()
        assert address[0] == PEER_IP
        with connection:
            connection.settimeout(10)
            digest = hashlib.sha256()
            while chunk := connection.recv(65536):
                digest.update(chunk)
            connection.sendall(digest.digest())
    thread.join(15)
    assert outcome["answer"] == hashlib.sha256(PAYLOAD).digest()


def test_refused_port_gives_econnrefused(lab):
    _lab, _ours, _peer, stack = lab
    with stack.socket() as client:
        client.settimeout(5)
        started = time.monotonic()
        with pytest.raises(ConnectionRefusedError):
            client.connect((PEER_IP, 8999))
        assert time.monotonic() - started < 2
    with stack.socket() as client:
        assert client.connect_ex((PEER_IP, 8999)) == errno.ECONNREFUSED


def test_kernel_connect_to_closed_rawkit_port_is_reset(lab):
    _lab, _ours, peer, _stack = lab

    def attempt() -> int:
        with socket.socket() as sock:
            sock.settimeout(5)
            return sock.connect_ex((RAWKIT_IP, 9999))
    assert peer.call(attempt, timeout=10) == errno.ECONNREFUSED


def test_unanswered_host_is_bounded(lab):
    _lab, _ours, _peer, stack = lab
    with stack.socket() as client:
        client.settimeout(1.0)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            client.connect(("198.18.0.99", 80))
        assert time.monotonic() - started < 1.5


def test_non_blocking_calls(lab):
    _lab, _ours, peer, stack = lab
    server = peer.socket()
    server.bind((PEER_IP, 8002))
    server.listen()
    with server, stack.socket() as client:
        client.setblocking(False)
        with pytest.raises(BlockingIOError) as raised:
            client.connect((PEER_IP, 8002))
        assert raised.value.errno == errno.EINPROGRESS
        client.settimeout(5)
        client.connect((PEER_IP, 8002))        # waits for the handshake
        with pytest.raises(OSError) as raised:
            client.connect((PEER_IP, 8002))    # already reported as connected
        assert raised.value.errno == errno.EISCONN
        client.setblocking(False)
        with pytest.raises(BlockingIOError) as raised:
            client.recv(10)
        assert raised.value.errno == errno.EAGAIN


def test_fileno_works_with_select(lab):
    import select

    _lab, _ours, peer, stack = lab
    with stack.socket() as listener:
        listener.bind(("", 9001))
        listener.listen()
        assert select.select([listener], [], [], 0)[0] == []
        kernel = peer.socket()
        kernel.settimeout(5)
        with kernel:
            kernel.connect((RAWKIT_IP, 9001))
            assert select.select([listener], [], [], 5)[0] == [listener]
            connection, _ = listener.accept()
            assert select.select([listener], [], [], 0)[0] == []
            with connection:
                assert select.select([connection], [], [], 0)[0] == []
                kernel.sendall(b"ping")
                assert select.select([connection], [], [], 5)[0] == [connection]
                assert connection.recv(10) == b"ping"
                assert select.select([connection], [], [], 0)[0] == []
                kernel.close()
                assert select.select([connection], [], [], 5)[0] == [connection]
                assert connection.recv(10) == b""


@needs_tool("nft")
def test_1mb_survives_random_loss_both_ways(lab):
    """The peer drops 3% of frames in each direction (nft numgen): rawkit's retransmission timers and
    fast retransmit, driven by the event loop, still deliver every byte."""
    _lab, _ours, peer, stack = lab
    peer.run(["nft", "add table inet rk; "
              "add chain inet rk input { type filter hook input priority 0; }; "
              "add chain inet rk output { type filter hook output priority 0; }; "
              "add rule inet rk input tcp dport 8005 numgen random mod 100 < 3 counter drop; "
              "add rule inet rk output tcp sport 8005 numgen random mod 100 < 3 counter drop"])
    server, result = _sink_server(peer, 8005)
    with server, stack.socket() as client:
        client.settimeout(15)
        client.connect((PEER_IP, 8005))
        client.sendall(PAYLOAD)
        client.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        result["thread"].join(10)
    assert answer == hashlib.sha256(PAYLOAD).digest() == result["digest"]
    counters = peer.run(["nft", "list", "table", "inet", "rk"]).stdout
    dropped = [int(n) for n in re.findall(r"counter packets (\d+)", counters)]
    assert len(dropped) == 2 and min(dropped) > 0          # loss really happened both ways

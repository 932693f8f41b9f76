"""Socket errors of rawkit.stack over a namespace lab, each provoked by the kernel peer as it would be
for a kernel socket: ECONNRESET, EPIPE, ETIMEDOUT, EHOSTUNREACH, EADDRINUSE, EBADF."""

from __future__ import annotations

import errno
import socket
import struct
import time

import pytest

from tests.conftest import needs_root, needs_tool
from tests.test_stack_lab import PEER_IP, RAWKIT_IP, lab  # noqa: F401 - the fixture

pytestmark = needs_root


def test_reset_by_peer_is_econnreset_once(lab):  # noqa: F811
    _lab, _ours, peer, stack = lab
    server = peer.socket()
    server.bind((PEER_IP, 8100))
    server.listen()
    server.settimeout(5)
    with server, stack.socket() as client:
        client.settimeout(5)
        client.connect((PEER_IP, 8100))
        accepted, _ = server.accept()
        accepted.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        accepted.close()                                   # linger 0: RST
        with pytest.raises(ConnectionResetError):
            client.recv(100)
        assert client.recv(100) == b""                     # reported once, as Linux does
        with pytest.raises(BrokenPipeError):
            client.send(b"x")


def test_send_after_shutdown_is_epipe_and_peer_sees_eof(lab):  # noqa: F811
    _lab, _ours, peer, stack = lab
    server = peer.socket()
    server.bind((PEER_IP, 8101))
    server.listen()
    server.settimeout(5)
    with server, stack.socket() as client:
        client.settimeout(5)
        client.connect((PEER_IP, 8101))
        accepted, address = server.accept()
        assert address == client.getsockname()
        with accepted:
            accepted.settimeout(5)
            client.sendall(b"last words")
            client.shutdown(socket.SHUT_WR)
            with pytest.raises(BrokenPipeError):
                client.send(b"more")
            received = b""
            while chunk := accepted.recv(100):
                received += chunk
            assert received == b"last words"
            accepted.sendall(b"reply after half-close")
        assert client.recv(100) == b"reply after half-close"


@needs_tool("nft")
def test_silently_dropped_syns_give_etimedout(lab):  # noqa: F811
    _lab, _ours, peer, stack = lab
    peer.run(["nft", "add table inet rk; add chain inet rk input { type filter hook input priority 0; }; "
              "add rule inet rk input tcp dport 8102 drop"])
    with stack.socket() as client:
        client.settings.syn_retries = 1
        client.settings.initial_rto = 0.2
        started = time.monotonic()
        with pytest.raises(TimeoutError) as raised:
            client.connect((PEER_IP, 8102))
        assert raised.value.errno == errno.ETIMEDOUT
        assert 0.3 < time.monotonic() - started < 2      # 0.2 + 0.2 s: Linux's linear SYN timeouts


def test_host_without_arp_answer_is_ehostunreach(lab):  # noqa: F811
    _lab, _ours, _peer, stack = lab
    with stack.socket() as client:
        started = time.monotonic()
        assert client.connect_ex(("198.18.0.99", 80)) == errno.EHOSTUNREACH
        assert 2.5 < time.monotonic() - started < 4.5


def test_bind_conflicts_and_closed_socket(lab):  # noqa: F811
    _lab, _ours, _peer, stack = lab
    first = stack.socket()
    first.bind((RAWKIT_IP, 9100))
    first.listen()
    second = stack.socket()
    with pytest.raises(OSError) as raised:
        second.bind(("", 9100))
    assert raised.value.errno == errno.EADDRINUSE
    with pytest.raises(OSError) as raised:
        second.bind(("198.18.0.77", 9101))
    assert raised.value.errno == errno.EADDRNOTAVAIL
    first.close()
    second.bind(("", 9100))                                 # free again once the listener closed
    second.close()
    with pytest.raises(OSError) as raised:
        second.recv(1)
    assert raised.value.errno == errno.EBADF
    with pytest.raises(OSError) as raised:
        stack.socket(socket.AF_INET6)
    assert raised.value.errno == errno.EAFNOSUPPORT


def test_accept_timeout_and_non_blocking(lab):  # noqa: F811
    _lab, _ours, _peer, stack = lab
    with stack.socket() as listener:
        listener.bind(("", 9102))
        listener.listen()
        listener.settimeout(0.2)
        with pytest.raises(TimeoutError):
            listener.accept()
        listener.setblocking(False)
        with pytest.raises(BlockingIOError) as raised:
            listener.accept()
        assert raised.value.errno == errno.EAGAIN


def test_linger_zero_close_resets_the_kernel_peer(lab):  # noqa: F811
    _lab, _ours, peer, stack = lab
    server = peer.socket()
    server.bind((PEER_IP, 8103))
    server.listen()
    server.settimeout(5)
    with server, stack.socket() as client:
        client.settimeout(5)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        client.connect((PEER_IP, 8103))
        accepted, _ = server.accept()
        with accepted:
            accepted.settimeout(5)
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()
            with pytest.raises(ConnectionResetError):
                accepted.recv(10)
    with stack.socket() as other, pytest.raises(OSError) as raised:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    assert raised.value.errno == errno.ENOPROTOOPT


def test_blocked_recv_ends_with_enetdown_when_the_stack_closes(lab):  # noqa: F811
    import threading

    _lab, _ours, peer, stack = lab
    server = peer.socket()
    server.bind((PEER_IP, 8104))
    server.listen()
    with server, stack.socket() as client:
        client.settimeout(5)
        client.connect((PEER_IP, 8104))
        assert client.sendto(b"hi", ("ignored", 1)) == 2
        outcome: dict = {}

        def blocked() -> None:
            try:
                client.recvfrom(10)
            except OSError as error:
                outcome["errno"] = error.errno
        thread = threading.Thread(target=blocked, daemon=True)
        thread.start()
        time.sleep(0.1)
        stack.close()
        thread.join(5)
        assert outcome.get("errno") == errno.ENETDOWN
        with pytest.raises(OSError) as raised:
            client.send(b"x")
        assert raised.value.errno == errno.ENETDOWN


def test_unknown_interface_is_a_clear_oserror():
    from rawkit.stack.stack import Stack

    with pytest.raises(OSError) as raised:
        Stack("rk-no-such0", "198.18.0.10/24")
    assert raised.value.errno == errno.ENODEV
    with pytest.raises(ValueError):
        Stack("lo")


@needs_tool("nft")
def test_peer_going_silent_mid_connection_gives_etimedout(lab):  # noqa: F811
    _lab, _ours, peer, stack = lab
    server = peer.socket()
    server.bind((PEER_IP, 8106))
    server.listen()
    with server, stack.socket() as client:
        client.settings.max_retries = 2
        client.settings.initial_rto = 0.2
        client.settimeout(5)
        client.connect((PEER_IP, 8106))
        peer.run(["nft", "add table inet rk; add chain inet rk input { type filter hook input priority 0; }; "
                  "add rule inet rk input tcp dport 8106 drop"])
        client.sendall(b"into the void")
        started = time.monotonic()
        with pytest.raises(TimeoutError) as raised:
            client.recv(10)
        assert raised.value.errno == errno.ETIMEDOUT
        assert time.monotonic() - started < 4


def test_non_blocking_send_fills_up_with_eagain(lab):  # noqa: F811
    _lab, _ours, peer, stack = lab
    server = peer.socket()
    server.bind((PEER_IP, 8107))
    server.listen()
    with server, stack.socket() as client:
        client.settimeout(5)
        client.connect((PEER_IP, 8107))
        accepted, _ = server.accept()                      # never reads: windows and buffers fill
        client.setblocking(False)
        sent = 0
        with accepted, pytest.raises(BlockingIOError) as raised:
            for _ in range(1000):
                sent += client.send(bytes(65536))
                time.sleep(0.002)
        assert raised.value.errno == errno.EAGAIN
        assert sent >= client.settings.send_buffer_size

"""Who takes the frames: a blocking socket call takes them itself (Stack.wait, `with stack.call`), the
loop thread otherwise. These tests check what users see of that hand-over, over a namespace lab:
a waiter is woken by another thread's call, two callers blocked at once both get their data, and
the loop has the link back (ping, a kernel client's connect) once no call runs."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

from tests.conftest import needs_root
from tests.test_stack_lab import PEER_IP, RAWKIT_IP, lab  # noqa: F401 - the fixture

pytestmark = needs_root


def _listener(peer, port: int) -> socket.socket:
    server = peer.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((PEER_IP, port))
    server.listen()
    server.settimeout(10)
    return server


def _loop_watches(stack, fd: int) -> bool:
    """Whether the loop thread's epoll waits for input on `fd` (its event mask in /proc fdinfo): the
    loop also takes frames on its periodic wake-ups, so only the mask tells a lost hand-back at once."""
    with open(f"/proc/self/fdinfo/{stack._poller.fileno()}") as info:
        for line in info:
            fields = line.split()
            if fields[:2] == ["tfd:", str(fd)]:
                return bool(int(fields[3], 16) & 0x1)
    return False


def test_shutdown_from_another_thread_ends_a_blocked_recv(lab):  # noqa: F811
    """The blocked recv polls the link itself; SHUT_RD from another thread must still wake it (as on
    Linux, where it returns b"")."""
    _lab, _ours, peer, stack = lab
    with _listener(peer, 8201) as server, stack.socket() as client:
        client.settimeout(10)
        client.connect((PEER_IP, 8201))
        accepted, _ = server.accept()
        outcome: dict = {}

        def blocked() -> None:
            started = time.monotonic()
            outcome["data"] = client.recv(10)
            outcome["seconds"] = time.monotonic() - started

        thread = threading.Thread(target=blocked, daemon=True)
        thread.start()
        time.sleep(0.2)
        client.shutdown(socket.SHUT_RD)
        thread.join(5)
        accepted.close()
    assert outcome.get("data") == b"" and outcome["seconds"] < 2


def test_two_threads_blocked_at_once_both_get_their_data(lab):  # noqa: F811
    """One blocked caller takes the frames, the other waits on the condition; data for either wakes
    the right one, in either order, and each gets its own bytes."""
    _lab, _ours, peer, stack = lab
    with _listener(peer, 8202) as server:
        clients = [stack.socket() for _ in range(2)]
        accepted = []
        for client in clients:
            client.settimeout(10)
            client.connect((PEER_IP, 8202))
            accepted.append(server.accept()[0])
        received: dict = {}

        def reader(index: int) -> None:
            received[index] = clients[index].recv(100)

        threads = [threading.Thread(target=reader, args=(index,), daemon=True) for index in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(0.2)
        for index in (1, 0):                    # the second blocked reader's data first
            accepted[index].sendall(f"to {index}".encode())
            time.sleep(0.1)
        for thread in threads:
            thread.join(5)
        for sock in clients + accepted:
            sock.close()
    assert received == {0: b"to 0", 1: b"to 1"}


def test_the_loop_has_the_link_back_after_calls(lab):  # noqa: F811
    """After request/response exchanges (frames taken by the callers) and with no call running, the
    stack still answers by itself: ping, and a kernel client's connect to a rawkit listener."""
    _lab, _ours, peer, stack = lab
    with _listener(peer, 8203) as server:
        def answer() -> None:
            for _ in range(3):
                connection, _ = server.accept()
                with connection:
                    connection.sendall(connection.recv(10).upper())

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        for _ in range(3):
            with stack.socket() as client:
                client.settimeout(10)
                client.connect((PEER_IP, 8203))
                client.sendall(b"hello")
                assert client.recv(10) == b"HELLO"
        thread.join(5)
    assert _loop_watches(stack, stack.link.fileno())
    ping = subprocess.run(peer.command(["ping", "-c", "1", "-W", "2", RAWKIT_IP]), capture_output=True)
    assert ping.returncode == 0
    with stack.socket() as listening:
        listening.bind(("", 8204))
        listening.listen()
        kernel_client = peer.socket()
        kernel_client.settimeout(5)
        kernel_client.connect((RAWKIT_IP, 8204))      # the handshake completes without a rawkit call
        kernel_client.close()

"""Attacks on rawkit's TCP in a namespace lab, against the kernel as the honest peer: a flood of
spoofed SYNs at a rawkit listener (SYN cookies keep its state bounded; a kernel client still gets
in), and a blind in-window RST and SYN injected from a third namespace (RFC 5961 challenge ACKs; the
connection survives and moves data intact)."""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time

from rawkit.tcp import Segment, address_sum
from rawkit.tcp.segment import RST, SYN
from tests.conftest import needs_root

pytestmark = needs_root

FLOOD = 20_000


def ip_packet(source: str, destination: str, segment: Segment) -> bytes:
    """IPv4 header (checksum and id left to the kernel's raw socket) + the TCP segment."""
    src, dst = socket.inet_aton(source), socket.inet_aton(destination)
    tcp = segment.to_bytes(address_sum(src, dst))
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src, dst) + tcp


def exchange(client: socket.socket, server: socket.socket, size: int = 1 << 20) -> None:
    """`size` random bytes each way at once; both sides check the sha256 of what they got."""
    data = os.urandom(size)
    received: dict[str, bytes] = {}

    def read_all(sock: socket.socket, key: str) -> None:
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        received[key] = b"".join(chunks)

    def write_then_shut(sock: socket.socket) -> None:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    threads = [threading.Thread(target=read_all, args=(server, "server"), daemon=True),
               threading.Thread(target=write_then_shut, args=(server,), daemon=True)]
    for thread in threads:
        thread.start()
    client.sendall(data)
    client.shutdown(socket.SHUT_WR)
    read_all(client, "client")
    for thread in threads:
        thread.join(15)
    digest = hashlib.sha256(data).hexdigest()
    assert hashlib.sha256(received.get("server", b"")).hexdigest() == digest
    assert hashlib.sha256(received["client"]).hexdigest() == digest


def test_syn_flood_keeps_the_listener_bounded_and_a_kernel_client_connects_by_cookie():
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    with Lab() as lab:
        ours, peer = lab.namespace("rk"), lab.namespace("peer")
        link = lab.link(ours, peer, ipv4=(None, "198.18.0.2/24"))
        stack = ours.call(Stack, link.a.device, "198.18.0.10/24", gateway="198.18.0.2")
        try:
            listening = stack.socket()
            listening.bind(("198.18.0.10", 9000))
            listening.listen(16)
            listener = listening.listener
            raw = peer.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            deadline = time.monotonic() + 60
            with raw:
                for index in range(FLOOD):          # spoofed, off-link sources: nobody will ever ACK
                    source = f"198.19.{index >> 8 & 0xFF}.{index & 0xFF}"
                    syn = Segment(1024 + index % 60000, 9000, index * 7919, 0, SYN, 64240, mss=1460,
                                  wscale=7, sack_permitted=True, timestamp=(index, 0))
                    raw.sendto(ip_packet(source, "198.18.0.10", syn), ("198.18.0.10", 0))
                    assert time.monotonic() < deadline
            time.sleep(1.0)
            with stack.lock:
                half_open = len(listener._pending)
                tracked = len(stack.connections)
                cookies = listener.cookies_sent
            assert half_open <= listener.syn_backlog + listener.backlog
            assert tracked <= listener.syn_backlog + listener.backlog
            assert cookies >= 500             # the rest, if any, the receive ring dropped: a flood
            client = peer.socket()
            client.settimeout(10)
            with client:
                client.connect(("198.18.0.10", 9000))
                listening.settimeout(10)
                accepted, address = listening.accept()
                assert address == client.getsockname()
                with accepted, listening:
                    accepted.settimeout(15)
                    client.settimeout(15)
                    assert listener.cookies_accepted == 1
                    connection = accepted.connection
                    assert connection.sack_ok and connection.ts_ok and connection.snd_wscale > 0   # via TSecr
                    exchange(client, accepted)
        finally:
            stack.close()


def test_blind_rst_and_syn_from_a_third_namespace_do_not_kill_the_connection():
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    with Lab() as lab:
        ours, attacker, peer = lab.namespace("rk"), lab.namespace("mid", forwarding=True), lab.namespace("pe")
        near = lab.link(ours, attacker, ipv4=(None, "198.18.1.1/24"))
        lab.link(attacker, peer, ipv4=("198.18.2.1/24", "198.18.2.2/24"))
        peer.route("198.18.1.0/24", via="198.18.2.1")
        stack = ours.call(Stack, near.a.device, "198.18.1.10/24", gateway="198.18.1.1")
        try:
            server = peer.socket()
            server.bind(("198.18.2.2", 9100))
            server.listen()
            server.settimeout(10)
            with server, stack.socket() as client:
                client.settimeout(15)
                client.connect(("198.18.2.2", 9100))
                accepted, _ = server.accept()
                with accepted:
                    accepted.settimeout(15)
                    connection = client.connection
                    local_port = connection.local[1]
                    with stack.lock:
                        inside = (connection.rcv_nxt + 1000) & 0xFFFFFFFF          # in window, not exact
                    raw = attacker.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
                    with raw:
                        for flags in (RST, SYN):
                            forged = Segment(9100, local_port, inside, 0, flags, 0 if flags == RST else 64240)
                            raw.sendto(ip_packet("198.18.2.2", "198.18.1.10", forged), ("198.18.1.10", 0))
                    for _ in range(100):
                        if connection.challenges.sent >= 2:
                            break
                        time.sleep(0.02)
                    assert connection.challenges.sent == 2 and connection.error is None
                    exchange(client, accepted)
        finally:
            stack.close()

"""The Stack on a veth with the kernel's offloads left on (its default): the peer's segments arrive
with their checksum left to offload (TSO/GSO super-frames, partial checksums), which the stack must
take on the kernel's word, and bigger than the receive ring's slots, which makes the link fall back
to recvmsg. Data must still move intact both ways."""

from __future__ import annotations

import hashlib
import os
import socket
import threading

import pytest

from tests.conftest import needs_root

pytestmark = needs_root

PAYLOAD = os.urandom(1 << 20)


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_bulk_both_ways_with_offloads_on(family):
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    with Lab() as lab:
        ours, peer = lab.namespace("rk"), lab.namespace("peer")
        link = lab.link(ours, peer, ipv4=(None, "198.18.0.2/24"), ipv6=(None, "fd00:18::2/64"), offloads=True)
        assert "on" in peer.run(["ethtool", "-k", link.b.device]).stdout.split("tcp-segmentation-offload:")[1]
        peer_ip = "198.18.0.2" if family == socket.AF_INET else "fd00:18::2"
        server = peer.socket(family)
        server.bind((peer_ip, 0))
        server.listen()
        server.settimeout(20)
        received = {}

        def serve() -> None:
            for _ in range(2):
                connection, _ = server.accept()
                with connection:
                    connection.settimeout(20)
                    if connection.recv(1) == b"u":          # upload: read to EOF, answer the digest
                        digest = hashlib.sha256()
                        while chunk := connection.recv(1 << 16):
                            digest.update(chunk)
                        connection.sendall(digest.digest())
                    else:
                        connection.sendall(PAYLOAD)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        stack = ours.call(Stack, link.a.device, "198.18.0.10/24", ip6="fd00:18::10/64")
        try:
            with stack.socket(family) as client:
                client.settimeout(20)
                client.connect(server.getsockname()[:2])
                client.sendall(b"u" + PAYLOAD)
                client.shutdown(socket.SHUT_WR)
                received["upload"] = client.recv(64)
            with stack.socket(family) as client:
                client.settimeout(20)
                client.connect(server.getsockname()[:2])
                client.sendall(b"d")
                data = bytearray()
                while chunk := client.recv(1 << 16):
                    data += chunk
                received["download"] = bytes(data)
        finally:
            stack.close()
            thread.join(20)
            server.close()
    assert received["upload"] == hashlib.sha256(PAYLOAD).digest()
    assert received["download"] == PAYLOAD

"""The Stack's send offload (EthernetLink.send_tcp_offloaded): runs of data segments leave as one
super-segment with a partial checksum and the kernel cuts and checksums them. On a veth with offloads
off the kernel does that in software before the wire, so the peer's TCP must get every byte intact;
without the offload socket the stack checksums each segment itself ("software"), and cuts the engine's
multi-MSS segments itself when the socket goes away after they were asked for ("cut")."""

from __future__ import annotations

import hashlib
import os
import socket
import threading

import pytest

from tests.conftest import needs_root

pytestmark = needs_root

PAYLOAD = os.urandom(3 << 20)


@pytest.mark.parametrize("mode", ["offload", "software", "cut"])
@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_upload_intact_through_the_send_offload(family, mode):
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    with Lab() as lab:
        ours, peer = lab.namespace("rk"), lab.namespace("peer")
        link = lab.link(ours, peer, ipv4=(None, "198.18.0.2/24"), ipv6=(None, "fd00:18::2/64"))
        peer_ip = "198.18.0.2" if family == socket.AF_INET else "fd00:18::2"
        server = peer.socket(family)
        server.bind((peer_ip, 0))
        server.listen()
        server.settimeout(20)
        digests = []

        def serve() -> None:
            connection, _ = server.accept()
            with connection:
                connection.settimeout(20)
                digest = hashlib.sha256()
                while chunk := connection.recv(1 << 16):
                    digest.update(chunk)
                connection.sendall(digest.digest())

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        stack = ours.call(Stack, link.a.device, "198.18.0.10/24", ip6="fd00:18::10/64")
        runs = []
        try:
            offload = stack.link.offload
            if mode == "software":
                stack.link.offload = None
            else:
                assert stack.link.offload is not None
                send = stack.link.send_tcp_offloaded

                def counted(mac, ethertype, head, transport, payload, size):
                    runs.append((len(payload), size))
                    send(mac, ethertype, head, transport, payload, size)
                stack.link.send_tcp_offloaded = counted
            with stack.socket(family) as client:
                client.settimeout(20)
                client.connect(server.getsockname()[:2])
                if mode == "cut":
                    assert client.connection.offload_bytes > client.connection.send_mss
                    with stack.lock:
                        stack.link.offload = None
                client.sendall(PAYLOAD)
                client.shutdown(socket.SHUT_WR)
                digests.append(client.recv(64))
        finally:
            stack.close()
            offload.close()
            thread.join(20)
            server.close()
    assert digests == [hashlib.sha256(PAYLOAD).digest()]
    if mode == "offload":      # super-segments were really used, each cut at the segment size it named
        assert any(length > size > 0 for length, size in runs)
        assert sum(length for length, _ in runs) >= len(PAYLOAD) // 2    # lone segments go in software

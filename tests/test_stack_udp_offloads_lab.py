"""UDP to the Stack on a veth with the kernel's offloads on (its default): a local sender's datagrams
arrive with the checksum left unfinished (CHECKSUM_PARTIAL, TP_STATUS_CSUMNOTREADY), which the stack
must take on the kernel's word as it does for TCP, or every datagram is dropped."""

from __future__ import annotations

import os
import socket

import pytest

from tests.conftest import needs_root

pytestmark = needs_root


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_udp_round_trip_with_offloads_on(family):
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    with Lab() as lab:
        ours, peer = lab.namespace("rk"), lab.namespace("peer")
        link = lab.link(ours, peer, ipv4=(None, "198.18.0.2/24"), ipv6=(None, "fd00:18::2/64"), offloads=True)
        assert "on" in peer.run(["ethtool", "-k", link.b.device]).stdout.split("tx-checksumming:")[1]
        rawkit_ip = "198.18.0.10" if family == socket.AF_INET else "fd00:18::10"
        stack = ours.call(Stack, link.a.device, "198.18.0.10/24", ip6="fd00:18::10/64")
        try:
            server, client = stack.socket(family, socket.SOCK_DGRAM), peer.socket(family, socket.SOCK_DGRAM)
            with server, client:
                server.bind((rawkit_ip, 0))
                server.settimeout(10)
                client.settimeout(10)
                answers = []
                for size in (1, 100, 1400):               # bounded: three datagrams, each answered
                    payload = os.urandom(size)
                    client.sendto(payload, server.getsockname()[:2])
                    data, sender = server.recvfrom(2048)
                    server.sendto(data[::-1], sender)
                    answers.append(client.recvfrom(2048)[0] == payload[::-1] and data == payload)
        finally:
            stack.close()
    assert answers == [True, True, True]

"""The stack's TPACKET_V2 receive ring keeps frames longer than its slots: the kernel queues a whole
copy of each (PACKET_COPY_THRESH) and the ring reads it in order, so the frame that reveals a
too-small slot (a peer's TSO or GRO super-frame, or a segment bigger than the MTU) is not lost."""

from __future__ import annotations

import os
import select
import socket
import time

from tests.conftest import needs_root

pytestmark = needs_root
ETH_P_ALL = 0x0003
ETHERTYPE = 0x88B5              # IEEE local experimental


def _frames(mac: bytes, sizes: list[int]) -> list[bytes]:
    header = mac + bytes.fromhex("020000000099") + ETHERTYPE.to_bytes(2, "big")
    return [header + os.urandom(size - len(header)) for size in sizes]


def test_a_frame_longer_than_a_slot_arrives_whole_and_in_order():
    from rawkit.link.frame_ring import FrameRing
    from rawkit.link.netns import Lab

    with Lab() as lab:
        ours, peer = lab.namespace("ring"), lab.namespace("peer")
        link = lab.link(ours, peer, mtu=4000)

        def receive_all() -> list[bytes]:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
            with sock:
                ring = FrameRing(sock, mtu=1500)                 # 2 KiB slots on a 4000-byte link
                sock.bind((link.a.device, ETHERTYPE))
                mac = sock.getsockname()[4]
                sender = peer.call(socket.socket, socket.AF_PACKET, socket.SOCK_RAW, 0)
                with sender:
                    peer.call(sender.bind, (link.b.device, 0))
                    sent = _frames(mac, [100, 3000, 200, 3500])
                    for frame in sent:
                        sender.send(frame)
                got: list[bytes] = []
                deadline = time.monotonic() + 3
                while len(got) < len(sent) and time.monotonic() < deadline:
                    select.select([sock], [], [], 0.1)
                    got += ring.receive_batch(16)
                ring.close(sock)
                assert ring.truncated == 2
                return [bytes(frame) for frame in got], sent

        got, sent = ours.call(receive_all)
        assert got == sent

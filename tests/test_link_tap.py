"""A TAP device as a link: the kernel pings an address on the TAP's subnet, we read its ARP request
and echo request from the device and write the answers into it, and the kernel's `ping` succeeds;
a capture on the device sees the frames we wrote. All inside a lab namespace."""

from __future__ import annotations

import time

import rawkit
from tests.conftest import needs_root, needs_tool

OWN, PEER = "198.18.3.1", "198.18.3.2"
PEER_MAC = "02:00:00:00:03:02"


def next_frame(tap, wanted, deadline: float) -> rawkit.Packet:
    while time.monotonic() < deadline:
        data = tap.recv(timeout=0.2)
        if data is not None:
            pkt = rawkit.decode(data)
            if wanted(pkt):
                return pkt
    raise AssertionError("the kernel sent no such frame in time")


@needs_root
@needs_tool("ping")
def test_kernel_pings_a_peer_that_lives_on_the_tap() -> None:
    from rawkit.link.netns import Lab
    from rawkit.link.packet_socket import Capture
    from rawkit.link.tap import Tap

    with Lab(prefix="rktap") as lab:
        host = lab.namespace("host")
        tap = host.call(Tap, "tap7")
        try:
            assert tap.name == "tap7" and len(tap.mac) == 6
            host.run(["ip", "addr", "add", f"{OWN}/24", "dev", "tap7"])
            capture = host.call(Capture, "tap7", promiscuous=False, direction="in")
            ping = host.spawn(["ping", "-c", "1", "-W", "5", PEER])
            deadline = time.monotonic() + 5
            request = next_frame(tap, lambda pkt: pkt.arp is not None and pkt.arp.pdst == PEER, deadline)
            kernel_mac = request.eth.src
            answer = bytes(rawkit.Ether(src=PEER_MAC, dst=kernel_mac)
                           / rawkit.ARP(op=2, hwsrc=PEER_MAC, psrc=PEER, hwdst=kernel_mac, pdst=OWN))
            tap.send(answer)
            echo = next_frame(tap, lambda pkt: pkt.icmp is not None and pkt.icmp.type == 8, deadline)
            reply = bytes(rawkit.Ether(src=PEER_MAC, dst=kernel_mac)
                          / rawkit.IPv4(src=PEER, dst=OWN)
                          / rawkit.ICMP(type=0, id=echo.icmp.id, seq=echo.icmp.seq) / echo.payload)
            tap.send(reply)
            assert ping.wait(timeout=10) == 0
            time.sleep(0.1)
            assert capture.wait(1.0)
            seen = [frame.data for frame in capture.frames()]
            assert answer in seen and reply in seen
            capture.close()
        finally:
            tap.close()
        assert "tap7" not in host.run(["ip", "-o", "link"]).stdout

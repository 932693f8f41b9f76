"""ARP probes (`rawkit ping --arp -I DEV HOST`), arping style: a broadcast "who-has HOST tell ME" on
the link-local segment; an ARP reply from HOST to us answers the latest probe (ARP carries no
identifier, so that is all arping can know too)."""

from __future__ import annotations

import socket
import time

from rawkit.link.l2sock import open_packet_socket
from rawkit.link.rawsock import source_address
from rawkit.link.rxstamp import receive
from rawkit.stack.outcome import Outcome
from rawkit.wire import ARP, ArpOp, Ether, EtherType
from rawkit.wire.addresses import ip4_bytes, mac_text

BROADCAST = "ff:ff:ff:ff:ff:ff"


class ArpProbe:
    """Who-has requests for `destination` out of `device`, from the device's own IPv4 address."""

    def __init__(self, destination: str, device: str) -> None:
        self.destination = destination
        self.device = device
        self.timing = True
        self.source = source_address(socket.AF_INET, destination, device=device)
        self.sock, mac = open_packet_socket(device, EtherType.ARP)
        self.mac = mac_text(mac)
        self._target = ip4_bytes(destination)
        self._own = ip4_bytes(self.source)
        self._request = self._who_has(BROADCAST, "00:00:00:00:00:00")
        self.sent_ns = [0] * (1 << 16)
        self.last_index = 0

    def _who_has(self, ethernet_destination: str, target_mac: str) -> bytes:
        return bytes(Ether(dst=ethernet_destination, src=self.mac) / ARP(
            op=ArpOp.REQUEST, hwsrc=self.mac, psrc=self.source, hwdst=target_mac, pdst=self.destination))

    def sockets(self) -> list[socket.socket]:
        return [self.sock]

    def close(self) -> None:
        self.sock.close()

    def send(self, index: int) -> int:
        now_ns = time.time_ns()
        self.sock.send(self._request)
        self.last_index = index
        self.sent_ns[index & 0xFFFF] = now_ns
        return now_ns

    def receive(self, sock: socket.socket) -> list[Outcome]:
        outcomes = []
        while (received := receive(sock)) is not None:
            frame = received.data
            # Ethernet (14) + ARP for Ethernet/IPv4 (28): op at 20, sender MAC 22, sender IP 28, target IP 38
            if len(frame) < 42 or frame[12:14] != b"\x08\x06" or frame[20:22] != b"\x00\x02":
                continue
            if frame[28:32] != self._target or frame[38:42] != self._own or not self.last_index:
                continue
            mac = mac_text(frame[22:28])
            outcomes.append(Outcome(self.last_index, "reply", self.destination, received.ts_ns, mac=mac))
            self._request = self._who_has(mac, mac)  # once known, ask unicast, as arping does
        return outcomes

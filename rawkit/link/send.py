"""Raw send: whole frames at layer 2 (AF_PACKET) and whole IP packets at layer 3 (raw IPv4 with
IP_HDRINCL, raw IPv6 with IPPROTO_RAW), exactly the bytes given.

Why two ways: a frame with chosen MAC addresses or VLAN tags needs layer 2; a packet for an address
whose MAC we do not know is better given to the kernel at layer 3, which routes it and resolves the
neighbour (ARP/ND) itself while still sending our IP header unchanged (Linux fills in only a zero
source address, a zero IPv4 id and the IPv4 header checksum).

    with FrameSender("vA") as out: out.send(frame)
    with PacketSender(socket.AF_INET, device="vA") as out: out.send(packet)   # to packet's dst
"""

from __future__ import annotations

import socket

from rawkit.link.rawsock import NeedsPrivilege, bind_device


class FrameSender:
    """An AF_PACKET socket bound to `device` that sends frames with their link header."""

    def __init__(self, device: str) -> None:
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: receives nothing
        except PermissionError as error:
            raise NeedsPrivilege(error.errno, error.strerror) from None
        try:
            self.sock.bind((device, 0))
        except OSError:
            self.sock.close()
            raise
        self.device = device
        self.mac: bytes = self.sock.getsockname()[4]

    def send(self, frame: bytes) -> int:
        """Send one frame as is; raises OSError (EMSGSIZE for a frame over the MTU)."""
        return self.sock.send(frame)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> FrameSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class PacketSender:
    """A raw IPv4 or IPv6 socket whose packets carry our own IP header (IPPROTO_RAW)."""

    def __init__(self, family: int, device: str | None = None) -> None:
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise ValueError("family must be AF_INET or AF_INET6")
        try:
            self.sock = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
        except PermissionError as error:
            raise NeedsPrivilege(error.errno, error.strerror) from None
        self.family = family
        if family == socket.AF_INET:  # implied by IPPROTO_RAW; said explicitly
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        if device:
            try:
                bind_device(self.sock, device)
            except OSError:
                self.sock.close()
                raise

    def send(self, packet: bytes, destination: str | None = None) -> int:
        """Send one IP packet; `destination` defaults to the packet's own destination address."""
        if destination is None:
            destination = packet_destination(packet)
        address = (destination, 0) if self.family == socket.AF_INET else (destination, 0, 0, 0)
        return self.sock.sendto(packet, address)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> PacketSender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def packet_destination(packet: bytes) -> str:
    """The destination address in an IPv4 or IPv6 header; ValueError for anything else."""
    version = packet[0] >> 4 if packet else 0
    if version == 4 and len(packet) >= 20:
        return socket.inet_ntop(socket.AF_INET, packet[16:20])
    if version == 6 and len(packet) >= 40:
        return socket.inet_ntop(socket.AF_INET6, packet[24:40])
    raise ValueError("not an IPv4 or IPv6 packet")


def packet_family(packet: bytes) -> int:
    """AF_INET or AF_INET6 from the version nibble; ValueError for anything else."""
    version = packet[0] >> 4 if packet else 0
    if version == 4:
        return socket.AF_INET
    if version == 6:
        return socket.AF_INET6
    raise ValueError("not an IPv4 or IPv6 packet")

"""The stack's attachment to one Ethernet interface: an AF_PACKET socket whose kernel filter passes only
ARP and IPv4 frames addressed to our IP, plus the IPv4 framing the stack needs (header build and check).

Why a plain socket and not the capture ring: the stack answers each frame at once, so per-frame
wake-ups matter more than batching; and the kernel filter keeps the host's other traffic out of Python.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct

from rawkit import filter as bpf_filter
from rawkit.link.packet_socket import DROP_ALL, PACKET_IGNORE_OUTGOING, attach_filter
from rawkit.link.rawsock import NeedsPrivilege
from rawkit.link.ring import SOL_PACKET
from rawkit.wire.checksum import internet_checksum, ones_sum

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
_ETHER = struct.Struct("!6s6sH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
IPV4_DONT_FRAGMENT = 0x4000
DEFAULT_TTL = 64


class IPv4Packet:
    """An arriving IPv4 packet addressed to us: source, protocol and payload (cut to total length)."""

    __slots__ = ("src", "proto", "payload")

    def __init__(self, src: bytes, proto: int, payload: bytes) -> None:
        self.src = src
        self.proto = proto
        self.payload = payload


def parse_ipv4(data: bytes, ours: bytes) -> IPv4Packet | None:
    """The packet in `data` (after the Ethernet header) if it is a whole, valid IPv4 packet to `ours`;
    None for anything else (fragments, bad checksum, other destination)."""
    if len(data) < 20:
        return None
    version_ihl, _tos, total, _ident, fragment, _ttl, proto, _sum, src, dst = _IPV4.unpack_from(data)
    header_len = (version_ihl & 0x0F) * 4
    if version_ihl >> 4 != 4 or header_len < 20 or not header_len <= total <= len(data) or dst != ours:
        return None
    if fragment & 0x3FFF:          # MF set or an offset: reassembly is not part of this stack
        return None
    if ones_sum(data[:header_len]) != 0xFFFF:
        return None
    return IPv4Packet(src, proto, data[header_len:total])


class IPv4Link:
    """AF_PACKET socket on `device` receiving ARP and frames to `address`; sends whole frames."""

    def __init__(self, device: str, address: ipaddress.IPv4Address) -> None:
        self.device = device
        self.address = address
        self.address_bytes = address.packed
        self._ident = 0
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError as error:
            raise NeedsPrivilege(error.errno, error.strerror) from None
        try:
            attach_filter(self.sock, DROP_ALL)       # nothing slips in before the real program
            try:
                self.sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            except OSError:                          # old kernels: our own frames fail parse_ipv4's dst test
                pass
            self.sock.bind((device, ETH_P_ALL))
            self.mac: bytes = self.sock.getsockname()[4]
            program = bpf_filter.compile(f"arp or (ip and dst host {address})").bpf(65535)
            self._drain()
            attach_filter(self.sock, program)
            self.sock.setblocking(False)
        except BaseException:
            self.sock.close()
            raise

    def _drain(self) -> None:
        self.sock.setblocking(False)
        try:
            while self.sock.recv(65535):
                pass
        except BlockingIOError:
            pass

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self) -> bytes | None:
        """One waiting frame, or None when there is none."""
        try:
            return self.sock.recv(65535)
        except BlockingIOError:
            return None

    def send_frame(self, destination_mac: bytes, ethertype: int, payload: bytes) -> None:
        """One Ethernet frame from our MAC. A full device queue drops it, as a NIC would (TCP retransmits)."""
        try:
            self.sock.send(_ETHER.pack(destination_mac, self.mac, ethertype) + payload)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ENOBUFS):
                raise

    def ipv4_packet(self, destination: bytes, proto: int, payload: bytes) -> bytes:
        """An IPv4 header (DF, TTL 64, fresh id) in front of `payload`."""
        self._ident = (self._ident + 1) & 0xFFFF
        header = _IPV4.pack(0x45, 0, 20 + len(payload), self._ident, IPV4_DONT_FRAGMENT, DEFAULT_TTL,
                            proto, 0, self.address_bytes, destination)
        checksum = internet_checksum(header)
        return header[:10] + checksum.to_bytes(2, "big") + header[12:] + payload

    def close(self) -> None:
        self.sock.close()

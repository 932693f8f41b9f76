"""The stack's attachment to one Ethernet interface: an AF_PACKET socket whose kernel filter passes only
ARP, IPv4 frames to our IPv4 address and IPv6 frames to our IPv6 address or its solicited-node group,
plus the IP framing the stack needs (header build and check, both families).

Why a plain socket and not the capture ring: the stack answers each frame at once, so per-frame
wake-ups matter more than batching; and the kernel filter keeps the host's other traffic out of Python.
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
import struct

from rawkit import filter as bpf_filter
from rawkit.link import interfaces
from rawkit.link.frame_ring import KERNEL_CHECKED, FrameRing, KernelChecked
from rawkit.link.packet_socket import DROP_ALL, PACKET_IGNORE_OUTGOING, attach_filter
from rawkit.link.rawsock import NeedsPrivilege
from rawkit.link.ring import SOL_PACKET
from rawkit.wire.checksum import ones_sum

ETH_P_ALL = 0x0003
PACKET_AUXDATA = 8
_AUXDATA_STATUS = struct.Struct("=I")     # struct tpacket_auxdata starts with tp_status
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_MULTICAST = 0
_IPV6 = struct.Struct("!IHBB16s16s")
BROADCAST = b"\xff" * 6
_ETHER = struct.Struct("!6s6sH")
_IPV4 = struct.Struct("!BBHHHBBH4s4s")
IPV4_DONT_FRAGMENT = 0x4000
DEFAULT_TTL = 64
_IPV4_FIXED_SUM = 0x4500 + IPV4_DONT_FRAGMENT + (DEFAULT_TTL << 8)   # version/IHL/TOS, flags, TTL words
PACKET_VNET_HDR = 15
_VNET = struct.Struct("=BBHHHH")          # struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size,
VNET_NEEDS_CSUM = 1                       # csum_start, csum_offset (host order)
VNET_GSO_TCPV4, VNET_GSO_TCPV6 = 1, 4
TCP_CHECKSUM_OFFSET = 16


class IPPacket:
    """An arriving IP packet addressed to us: source, destination, protocol (IPv6: next header), payload
    cut to the header's length, and the IPv6 hop limit (ND accepts only 255)."""

    __slots__ = ("src", "dst", "proto", "payload", "hop_limit")

    def __init__(self, src: bytes, dst: bytes, proto: int, payload: bytes, hop_limit: int = 0) -> None:
        self.src = src
        self.dst = dst
        self.proto = proto
        self.payload = payload
        self.hop_limit = hop_limit


def solicited_node_bytes(address: bytes) -> bytes:
    """ff02::1:ffXX:XXXX, the group a neighbour solicitation for `address` is sent to (RFC 4291 2.7.1)."""
    return b"\xff\x02" + bytes(9) + b"\x01\xff" + address[13:]


def multicast_mac(group: bytes) -> bytes:
    """33:33 + the low 32 bits of an IPv6 multicast group (RFC 2464 7)."""
    return b"\x33\x33" + group[12:]


def parse_ipv4(data: bytes, ours: bytes) -> IPPacket | None:
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
    return IPPacket(src, dst, proto, data[header_len:total])


def parse_ipv6(data: bytes, ours: tuple[bytes, ...]) -> IPPacket | None:
    """The packet in `data` if it is IPv6 to one of `ours` (extension headers are not followed: their
    next-header value is returned as the protocol, which the stack ignores)."""
    if len(data) < 40:
        return None
    first, length, next_header, hop_limit, src, dst = _IPV6.unpack_from(data)
    if first >> 28 != 6 or 40 + length > len(data) or dst not in ours:
        return None
    return IPPacket(src, dst, next_header, data[40:40 + length], hop_limit)


@functools.lru_cache(maxsize=1024)
def _address_words(source: bytes, destination: bytes) -> int:
    """Sum of the address words of an IPv4 header (mod 0xFFFF): a stack talks to few peers."""
    return int.from_bytes(source + destination, "big") % 0xFFFF


class IPFraming:
    """The IP headers a link's stack sends (shared by every link kind: AF_PACKET, TAP)."""

    _ident = 0

    def ipv4_packet(self, source: bytes, destination: bytes, proto: int, payload: bytes) -> bytes:
        """An IPv4 header (DF, TTL 64, fresh id) in front of `payload`."""
        return self.ipv4_header(source, destination, proto, len(payload)) + payload

    def ipv4_header(self, source: bytes, destination: bytes, proto: int, length: int) -> bytes:
        """The header alone, for a payload of `length` bytes sent from separate buffers."""
        self._ident = ident = (self._ident + 1) & 0xFFFF
        total = 20 + length
        header_sum = _IPV4_FIXED_SUM + _address_words(source, destination) + proto + total + ident
        checksum = ~(header_sum % 0xFFFF or 0xFFFF) & 0xFFFF    # as internet_checksum, without a pack
        return _IPV4.pack(0x45, 0, total, ident, IPV4_DONT_FRAGMENT, DEFAULT_TTL, proto, checksum, source,
                          destination)

    @staticmethod
    def ipv6_packet(source: bytes, destination: bytes, next_header: int, payload: bytes,
                    hop_limit: int = DEFAULT_TTL) -> bytes:
        """An IPv6 header (no flow label) in front of `payload`."""
        return _IPV6.pack(6 << 28, len(payload), next_header, hop_limit, source, destination) + payload

    @staticmethod
    def ipv6_header(source: bytes, destination: bytes, next_header: int, length: int) -> bytes:
        return _IPV6.pack(6 << 28, length, next_header, DEFAULT_TTL, source, destination)


class EthernetLink(IPFraming):
    """AF_PACKET socket on `device` receiving ARP and frames to our addresses; sends whole frames."""

    def __init__(self, device: str, address: ipaddress.IPv4Address | None,
                 address6: ipaddress.IPv6Address | None = None, *, ring: bool = False) -> None:
        self.device = device
        self.ring: FrameRing | None = None
        self.offload: socket.socket | None = None
        self._auxdata = False
        wanted = []
        if address is not None:
            wanted.append(f"arp or (ip and dst host {address})")
        if address6 is not None:
            group = ipaddress.IPv6Address(solicited_node_bytes(address6.packed))
            wanted.append(f"(ip6 and (dst host {address6} or dst host {group}))")
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
            self.offload = _offload_socket(device)
            if ring:                                 # still dropping all: frames will come only this way
                self.ring = FrameRing(self.sock, interfaces.mtu(device))
            self.mac: bytes = self.sock.getsockname()[4]
            if address6 is not None:    # a real NIC filters multicast MACs nobody joined
                group = multicast_mac(solicited_node_bytes(address6.packed))
                index = socket.if_nametoindex(device)
                membership = struct.pack("=iHH8s", index, PACKET_MR_MULTICAST, 6, group)
                self.sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, membership)
            program = bpf_filter.compile(" or ".join(wanted)).bpf(65535)
            self._drain()
            attach_filter(self.sock, program)
            self.sock.setblocking(False)
        except BaseException:
            self.close()
            raise

    def _drain(self) -> None:
        self.sock.setblocking(False)
        if self.ring is not None:
            while self.ring.receive_batch(1024):
                pass
            return
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

    def send_tcp_offloaded(self, destination_mac: bytes, ethertype: int, head: bytes, transport: int,
                           payload: bytes, segment_size: int) -> None:
        """IP and TCP headers (`head`, TCP at offset `transport`, its checksum field holding the folded
        pseudo-header sum) and `payload`, sent through `offload`: the kernel completes the checksum
        and, with a `segment_size` smaller than the payload, cuts it into segments of that size (GSO),
        in C, where Python would spend ~10 us per segment on the checksum alone."""
        gso = VNET_GSO_TCPV4 if ethertype == ETH_P_IP else VNET_GSO_TCPV6
        if len(payload) <= segment_size:
            gso = segment_size = 0
        prefix = _VNET.pack(VNET_NEEDS_CSUM, gso, 14 + len(head), segment_size, 14 + transport,
                            TCP_CHECKSUM_OFFSET) + _ETHER.pack(destination_mac, self.mac, ethertype) + head
        try:
            self.offload.sendmsg((prefix, payload))
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ENOBUFS):
                raise

    def receive_batch(self, limit: int) -> list[bytes]:
        """Up to `limit` waiting frames (none waiting: an empty list)."""
        if self.ring is not None:
            frames = self.ring.receive_batch(limit)
            if not self.ring.truncated:
                return frames
            # frames bigger than a slot (GRO, or a peer's TSO on a veth): recvmsg takes any size, and
            # its auxiliary data still says which checksums the kernel vouches for
            self.ring.close(self.sock)
            self.ring = None
            self.sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            self._auxdata = True
            return frames
        if self._auxdata:
            return self._receive_with_status(limit)
        frames = []
        recv = self.sock.recv
        try:
            while len(frames) < limit:
                frames.append(recv(65535))
        except BlockingIOError:
            pass
        return frames

    def _receive_with_status(self, limit: int) -> list[bytes]:
        frames: list[bytes] = []
        recvmsg = self.sock.recvmsg
        try:
            while len(frames) < limit:
                frame, ancillary, _flags, _address = recvmsg(65535, 64)
                status = next((_AUXDATA_STATUS.unpack_from(data)[0] for level, kind, data in ancillary
                               if level == SOL_PACKET and kind == PACKET_AUXDATA), 0)
                frames.append(KernelChecked(frame) if status & KERNEL_CHECKED else frame)
        except BlockingIOError:
            pass
        return frames

    def close(self) -> None:
        if self.ring is not None:
            self.ring.close()
        if self.offload is not None:
            self.offload.close()
        self.sock.close()


def _offload_socket(device: str) -> socket.socket | None:
    """A send-only AF_PACKET socket (protocol 0 receives nothing) whose frames start with a virtio-net
    header, so the kernel checksums and segments TCP for us; None where the kernel refuses."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
        sock.bind((device, 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        return None
    return sock

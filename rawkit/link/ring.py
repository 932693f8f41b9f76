"""The TPACKET_V3 receive ring of an AF_PACKET socket: the kernel fills fixed-size blocks of a
shared memory map with frames and hands whole blocks to us, so a capture costs one poll per block
instead of one system call per frame.

Why V3 (variable-size frames in blocks) rather than V2: small frames pack densely, so a ring of a
given size holds many more of them before the kernel has to drop; a block is also retired after a
timeout, so a quiet link still delivers promptly.

Each frame comes with its metadata: nanosecond timestamp, original length, packet type (direction)
and the VLAN tag the kernel took off the frame on receive, which `frames()` puts back in place so
the bytes are the ones on the wire (as libpcap does).
"""

from __future__ import annotations

import mmap
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass

SOL_PACKET = 263
PACKET_RX_RING = 5
PACKET_VERSION = 10
TPACKET_V3 = 2

TP_STATUS_KERNEL = 0
TP_STATUS_USER = 1
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40

PACKET_OUTGOING = 4
# a block holds any frame up to 64 KiB (loopback's MTU) and a few thousand small ones; many blocks
# rather than a few big ones, so the kernel always has free blocks while we read one
DEFAULT_BLOCK_SIZE = 1 << 17
DEFAULT_BLOCK_COUNT = 32
DEFAULT_RETIRE_MS = 50  # a block with frames in it reaches us at the latest after this long

_REQUEST = struct.Struct("=7I")  # struct tpacket_req3
_BLOCK_HEADER = struct.Struct("=III")  # tpacket_hdr_v1: block_status, num_pkts, offset_to_first_pkt
_BLOCK_HEADER_OFFSET = 8  # after tpacket_block_desc's version and offset_to_priv
# struct tpacket3_hdr: next_offset, sec, nsec, snaplen, len, status, mac, net, rxhash, vlan_tci, vlan_tpid
# then, at TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) = 48, the struct sockaddr_ll: family, protocol
# (network order), ifindex, hatype, pkttype, halen, address; one unpack reads both
_FRAME_AND_ADDRESS = struct.Struct("=IIIIIIHHIIH10xH2sIHBB8s")


@dataclass(slots=True)
class Frame:
    """One captured frame: `data` has the VLAN tag restored; `wirelen` is the length on the wire."""

    data: bytes
    ts_ns: int
    wirelen: int
    pkttype: int  # PACKET_HOST, PACKET_BROADCAST, ..., PACKET_OUTGOING
    ifindex: int
    protocol: bytes  # the EtherType, network order (what a cooked header needs)
    hatype: int
    address: bytes  # link-layer source address (sll_addr, sll_halen bytes)

    @property
    def outgoing(self) -> bool:
        return self.pkttype == PACKET_OUTGOING


def ring_geometry(buffer_bytes: int, block_size: int = DEFAULT_BLOCK_SIZE) -> tuple[int, int]:
    """(block size, block count) for a ring of about `buffer_bytes` (tcpdump's -B): blocks are a
    power-of-two number of pages, at least 2 of them."""
    block_size = max(mmap.PAGESIZE, 1 << (max(block_size, 1) - 1).bit_length())
    while block_size > mmap.PAGESIZE and buffer_bytes < 2 * block_size:
        block_size //= 2
    return block_size, max(2, buffer_bytes // block_size)


class Ring:
    """A TPACKET_V3 receive ring set up on `sock` (an AF_PACKET socket): call before bind() or right
    after it. `frames()` yields what the kernel has handed over so far and never blocks; poll the
    socket for readability to wait for more."""

    def __init__(self, sock: socket.socket, block_size: int = DEFAULT_BLOCK_SIZE,
                 block_count: int = DEFAULT_BLOCK_COUNT, retire_ms: int = DEFAULT_RETIRE_MS,
                 cooked: bool = False) -> None:
        if block_size % mmap.PAGESIZE or block_size & (block_size - 1):
            raise ValueError(f"ring block size must be a power of two multiple of {mmap.PAGESIZE}, "
                             f"not {block_size}")
        if block_count < 1:
            raise ValueError("a ring needs at least one block")
        self.block_size = block_size
        self.block_count = block_count
        self.cooked = cooked  # SOCK_DGRAM frames start at the network layer: no tag to put back
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V3)
        frame_size = 2048  # only a hint for V3: frames are packed by their real size
        request = _REQUEST.pack(block_size, block_count, frame_size, block_size * block_count // frame_size,
                                retire_ms, 0, 0)
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING, request)
        self._map = mmap.mmap(sock.fileno(), block_size * block_count, mmap.MAP_SHARED,
                              mmap.PROT_READ | mmap.PROT_WRITE)
        self._view = memoryview(self._map)
        self._next_block = 0

    def ready(self) -> bool:
        """Whether the next block is ours to read (the kernel has retired it)."""
        offset = self._next_block * self.block_size + _BLOCK_HEADER_OFFSET
        return self._map[offset] & TP_STATUS_USER != 0

    def frames(self) -> Iterator[Frame]:
        """Every frame in the blocks the kernel has handed over, oldest first; each block goes back
        to the kernel once all its frames have been taken. Never blocks."""
        while self.ready():
            for record in self.block():
                yield Frame(*record)

    def block(self) -> list[tuple[bytes, int, int, int, int, bytes, int, bytes]]:
        """The next block's frames as plain tuples in Frame's field order (the hot path of a capture:
        a tuple costs a fraction of an object); the block goes back to the kernel. [] if not ready."""
        base = self._next_block * self.block_size
        status, count, offset = _BLOCK_HEADER.unpack_from(self._map, base + _BLOCK_HEADER_OFFSET)
        if not status & TP_STATUS_USER:
            return []
        view = self._view
        unpack = _FRAME_AND_ADDRESS.unpack_from
        cooked = self.cooked
        records = []
        append = records.append
        position = base + offset
        for _ in range(count):
            (next_offset, seconds, nanoseconds, snaplen, wirelen, frame_status, mac, _net, _hash, tci, tpid,
             _family, protocol, ifindex, hatype, pkttype, halen, address) = unpack(view, position)
            start = position + mac
            data = bytes(view[start : start + snaplen])
            if frame_status & TP_STATUS_VLAN_VALID and not cooked:
                if not frame_status & TP_STATUS_VLAN_TPID_VALID:
                    tpid = 0x8100
                data, wirelen = restore_vlan(data, wirelen, tpid, tci, hatype)
            append((data, seconds * 1_000_000_000 + nanoseconds, wirelen, pkttype, ifindex, protocol, hatype,
                    address[:halen]))
            position += next_offset
        self._release(base)
        return records

    def _release(self, base: int) -> None:
        struct.pack_into("=I", self._map, base + _BLOCK_HEADER_OFFSET, TP_STATUS_KERNEL)
        self._next_block = (self._next_block + 1) % self.block_count

    def discard(self) -> int:
        """Give every ready block back unread (frames that arrived before the real filter was in
        place); returns how many frames were thrown away."""
        return sum(len(self.block()) for _ in range(self.block_count) if self.ready())

    def close(self) -> None:
        self._view.release()
        self._map.close()


def restore_vlan(data: bytes, wirelen: int, tpid: int, tci: int, hatype: int) -> tuple[bytes, int]:
    """Put the 802.1Q tag the kernel moved into metadata back after the MAC addresses (Ethernet-like
    frames only; a cooked frame keeps the kernel's view)."""
    if hatype not in (1, 772) or len(data) < 12:
        return data, wirelen
    return data[:12] + struct.pack("!HH", tpid, tci & 0xFFFF) + data[12:], wirelen + 4

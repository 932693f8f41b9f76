"""A TPACKET_V2 receive ring: one fixed-size slot per frame in memory shared with the kernel, for a
receiver that answers frames (rawkit's stack) rather than records them.

Why V2 and not the capture ring's V3 (rawkit.link.ring): V3 hands frames over a block at a time,
and a block that is not full is handed over only when its retire timer fires (milliseconds), which
would add that much latency to every handshake. A V2 slot is ours as soon as the kernel has filled
it and poll() reports it at once, while a burst still costs one wake-up and no system call per
frame: the reader walks the slots the kernel has marked, copying each frame out once.
"""

from __future__ import annotations

import mmap
import socket
import struct

from rawkit.link.ring import SOL_PACKET

PACKET_RX_RING = 5
PACKET_COPY_THRESH = 7           # frames too long for a slot also go whole to the socket's queue
PACKET_VERSION = 10
TPACKET_V2 = 1
TP_STATUS_USER = 1
TP_STATUS_LOSING = 1 << 2        # the kernel dropped frames since this slot (ring was full)
TP_STATUS_COPY = 1 << 1          # the frame was longer than the slot: only the start is here
TP_STATUS_CSUMNOTREADY = 1 << 3  # sent from this host with the checksum left to offload: not filled in
TP_STATUS_CSUM_VALID = 1 << 7    # the device or the kernel verified the transport checksum
KERNEL_CHECKED = TP_STATUS_CSUMNOTREADY | TP_STATUS_CSUM_VALID
ETHERNET_OVERHEAD = 14 + 4       # header and one VLAN tag beyond the MTU
SLOT_HEADER_ROOM = 128           # struct tpacket2_hdr, sockaddr_ll and the kernel's alignment padding
DEFAULT_RING_BYTES = 4 << 20
_REQUEST = struct.Struct("=4I")       # struct tpacket_req: block_size, block_nr, frame_size, frame_nr
# struct tpacket2_hdr: status, len, snaplen, mac, net, sec, nsec, vlan_tci, vlan_tpid
_SLOT = struct.Struct("=IIIHH")
_FREE = bytes(4)


class KernelChecked(bytes):
    """A frame whose transport checksum the kernel vouches for (verified on receive, or left for
    offload because the frame never left this host): checking it again would fail or waste time."""


def slot_size(mtu: int) -> int:
    """The smallest power-of-two slot (at least 2 KiB) holding a whole frame of an `mtu` link."""
    need = mtu + ETHERNET_OVERHEAD + SLOT_HEADER_ROOM
    return max(2048, 1 << (need - 1).bit_length())


class FrameRing:
    """A V2 receive ring on `sock` (AF_PACKET, before bind) with slots for frames of an `mtu` link.
    `receive_batch` takes what the kernel has filled; poll the socket for readability to wait."""

    def __init__(self, sock: socket.socket, mtu: int = 1500, ring_bytes: int = DEFAULT_RING_BYTES) -> None:
        self.frame_size = slot_size(mtu)
        block_size = max(self.frame_size, mmap.PAGESIZE)
        block_count = max(2, ring_bytes // block_size)
        self.slots = block_count * (block_size // self.frame_size)
        sock.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
        sock.setsockopt(SOL_PACKET, PACKET_COPY_THRESH, 1)
        self._sock = sock
        sock.setsockopt(SOL_PACKET, PACKET_RX_RING,
                        _REQUEST.pack(block_size, block_count, self.frame_size, self.slots))
        self._map = mmap.mmap(sock.fileno(), block_size * block_count, mmap.MAP_SHARED,
                              mmap.PROT_READ | mmap.PROT_WRITE)
        self._next = 0
        self.truncated = 0             # frames longer than a slot (taken whole from the socket's queue)
        self.overruns = 0              # times the kernel reported frames lost to a full ring

    def receive_batch(self, limit: int) -> list[bytes]:
        """Up to `limit` frames, oldest first; each slot goes back to the kernel once copied out."""
        ring = self._map
        unpack = _SLOT.unpack_from
        frame_size, slots = self.frame_size, self.slots
        index = self._next
        frames: list[bytes] = []
        append = frames.append
        for _ in range(limit):
            offset = index * frame_size
            status, length, captured, mac, _net = unpack(ring, offset)
            if status == TP_STATUS_USER and captured == length:     # the usual frame: whole, no news
                append(ring[offset + mac:offset + mac + captured])
                ring[offset:offset + 4] = _FREE
                index = index + 1 if index + 1 < slots else 0
                continue
            if not status & TP_STATUS_USER:
                break
            if status & TP_STATUS_LOSING:
                self.overruns += 1
            if captured == length:
                start = offset + mac
                if status & KERNEL_CHECKED:
                    append(KernelChecked(ring[start:start + captured]))
                else:
                    append(ring[start:start + captured])
            else:
                self.truncated += 1
                if status & TP_STATUS_COPY:     # the slot has only the start; the whole frame is queued
                    try:
                        append(self._sock.recv(65535, socket.MSG_DONTWAIT))
                    except BlockingIOError:
                        pass
            ring[offset:offset + 4] = _FREE
            index = index + 1 if index + 1 < slots else 0
        self._next = index
        return frames

    def close(self, sock: socket.socket | None = None) -> None:
        """Unmap the ring; given its socket, also take the ring off it (frames then come by recv)."""
        self._map.close()
        if sock is not None:
            sock.setsockopt(SOL_PACKET, PACKET_RX_RING, _REQUEST.pack(0, 0, 0, 0))

"""The V2 ring's walk over slots the kernel has filled, without a kernel: slots in an anonymous mapping
laid out as the kernel lays them (struct tpacket2_hdr, the frame at tp_mac). The walk must hand frames
over oldest first across the ring's end, give each slot back (status 0), stop at the first slot the
kernel still owns, mark frames whose checksum the kernel vouches for, and count overruns."""

from __future__ import annotations

import mmap
import os
import struct

from rawkit.link.frame_ring import (
    TP_STATUS_CSUM_VALID,
    TP_STATUS_CSUMNOTREADY,
    TP_STATUS_LOSING,
    TP_STATUS_USER,
    FrameRing,
    KernelChecked,
)

SLOT, MAC_OFFSET = 2048, 66
_HEADER = struct.Struct("=IIIHH")      # status, len, snaplen, mac, net


def ring_of(slots: int) -> FrameRing:
    ring = FrameRing.__new__(FrameRing)         # no socket: the walk reads only the mapping
    ring.frame_size, ring.slots, ring._map, ring._next = SLOT, slots, mmap.mmap(-1, SLOT * slots), 0
    ring.truncated = ring.overruns = 0
    return ring


def fill(ring: FrameRing, index: int, frame: bytes, status: int = TP_STATUS_USER) -> None:
    offset = index * SLOT
    ring._map[offset + MAC_OFFSET:offset + MAC_OFFSET + len(frame)] = frame
    ring._map[offset:offset + _HEADER.size] = _HEADER.pack(status, len(frame), len(frame), MAC_OFFSET, 80)


def status_of(ring: FrameRing, index: int) -> int:
    return _HEADER.unpack_from(ring._map, index * SLOT)[0]


def test_frames_come_oldest_first_across_the_end_and_each_slot_goes_back():
    ring = ring_of(4)
    frames = [os.urandom(60 + 100 * n) for n in range(6)]
    for index, frame in enumerate(frames[:4]):
        fill(ring, index, frame)
    assert ring.receive_batch(3) == frames[:3]            # the limit holds
    assert [status_of(ring, index) for index in range(4)] == [0, 0, 0, TP_STATUS_USER]
    fill(ring, 0, frames[4])
    fill(ring, 1, frames[5])
    assert ring.receive_batch(16) == frames[3:]           # slot 3, then slots 0 and 1 again
    assert ring.receive_batch(16) == []                   # slot 2 is the kernel's: the walk stops
    assert [status_of(ring, index) for index in range(4)] == [0, 0, 0, 0]


def test_a_frame_the_kernel_checked_is_marked_and_overruns_are_counted():
    ring = ring_of(4)
    frames = [os.urandom(100) for _ in range(4)]
    statuses = [TP_STATUS_USER, TP_STATUS_USER | TP_STATUS_CSUM_VALID,
                TP_STATUS_USER | TP_STATUS_CSUMNOTREADY, TP_STATUS_USER | TP_STATUS_LOSING]
    for index, (frame, status) in enumerate(zip(frames, statuses, strict=True)):
        fill(ring, index, frame, status)
    got = ring.receive_batch(16)
    assert got == frames
    assert [type(frame) is KernelChecked for frame in got] == [False, True, True, False]
    assert ring.overruns == 1 and ring.truncated == 0

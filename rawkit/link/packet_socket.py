"""Live capture on one interface (or `any`): an AF_PACKET socket with a TPACKET_V3 ring, the
filter run by the kernel, promiscuous mode by membership, direction, kernel statistics, fanout.

Why this order of setup: the socket is made with protocol 0 (it receives nothing), gets a drop-all
program, its ring, and only then is bound to the interface; whatever slipped in before the real
program replaces the drop-all is thrown away. So the first frame we read already passed the user's
filter, as tcpdump promises.

    with Capture("vb0", program=rawkit.filter.compile("icmp").bpf(262144)) as capture:
        while capture.wait(0.5):
            for frame in capture.frames(): ...     # ring.Frame (data with link header, ts_ns, ...)
        capture.stats()                            # Stats(received=..., dropped=...)

`records()` gives the same frames as plain tuples (the fast path of `rawkit sniff`). Promiscuous
mode uses PACKET_ADD_MEMBERSHIP, so the kernel turns it off again when the socket closes, even if
the process dies. Two Linux facts callers must know: the kernel runs the program on a received
frame whose 802.1Q tag it has already moved into metadata (so a program that reads tags in place
misses them; `rawkit sniff` matches such filters itself), and on `any` the program sees the frame
from its network header on, not the cooked header. The socket lives in the network namespace of
the thread that makes the Capture.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import socket
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from rawkit.link import interfaces
from rawkit.link.rawsock import NeedsPrivilege
from rawkit.link.ring import (
    DEFAULT_BLOCK_COUNT,
    DEFAULT_BLOCK_SIZE,
    PACKET_OUTGOING,
    SOL_PACKET,
    Frame,
    Ring,
    ring_geometry,
)

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_STATISTICS = 6
PACKET_FANOUT = 18
PACKET_IGNORE_OUTGOING = 23
PACKET_FANOUT_HASH = 0
PACKET_FANOUT_FLAG_DEFRAG = 0x8000
DEFAULT_SNAPLEN = 262144
DROP_ALL: list[tuple[int, int, int, int]] = [(0x06, 0, 0, 0)]  # ret #0
DIRECTIONS = ("in", "out", "inout")
_libc = ctypes.CDLL(None, use_errno=True)

_SLL2 = struct.Struct("!2sHIHBB8s")  # protocol, reserved, ifindex, hatype, pkttype, halen, address
_STATS = struct.Struct("=III")  # struct tpacket_stats_v3: packets, drops, freeze_q_cnt


@dataclass(slots=True)
class Stats:
    """Kernel counters since the capture began (tcpdump's "received by filter" / "dropped by
    kernel"): `received` counts every frame the filter accepted, dropped ones included."""

    received: int = 0
    dropped: int = 0


class InterfaceDown(OSError):
    """The interface went down or disappeared during the capture."""


def accept_all(snaplen: int) -> list[tuple[int, int, int, int]]:
    """The program that keeps every frame, cut to `snaplen` bytes."""
    return [(0x06, 0, 0, snaplen)]


def attach_filter(sock: socket.socket, program: Sequence[tuple[int, int, int, int]]) -> None:
    """SO_ATTACH_FILTER: the kernel copies the program, so the buffer may go away afterwards."""
    packed = b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(packed, len(packed))
    fprog = struct.pack("=HxxxxxxQ", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)


def _bind_every_interface(sock: socket.socket) -> None:
    """bind() to interface index 0 (all of them), which Python's AF_PACKET address cannot express."""
    address = struct.pack("=H", socket.AF_PACKET) + struct.pack("!H", ETH_P_ALL) + bytes(16)
    buffer = ctypes.create_string_buffer(address, len(address))
    if _libc.bind(sock.fileno(), buffer, len(address)) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


class Capture:
    """An open capture. `device` "any" captures on every interface with Linux cooked v2 headers
    (and no promiscuous mode), as tcpdump does; `direction` is "in", "out" or "inout";
    `buffer_bytes` is the ring's size (tcpdump -B); `program` a cBPF program from
    rawkit.filter (None: keep every frame, cut to `snaplen`); `fanout_group` joins a
    PACKET_FANOUT group (flow hash) so several processes share the frames."""

    def __init__(self, device: str, *, snaplen: int = DEFAULT_SNAPLEN, promiscuous: bool = True,
                 buffer_bytes: int = DEFAULT_BLOCK_SIZE * DEFAULT_BLOCK_COUNT, direction: str = "inout",
                 program: Sequence[tuple[int, int, int, int]] | None = None,
                 block_size: int | None = None, fanout_group: int | None = None) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
        self.device = device
        self.snaplen = snaplen if snaplen > 0 else DEFAULT_SNAPLEN
        self.direction = direction
        self.any = device == "any"
        if self.any:
            self.ifindex, hatype = 0, 0xFFFF
        else:
            self.ifindex = interfaces.index(device)
            hatype = interfaces.hardware_type(device)
        self.linktype, cooked = (interfaces.LINKTYPE_LINUX_SLL2, True) if self.any \
            else interfaces.capture_linktype(hatype)
        self._names: dict[int, str] = {}
        self._totals = Stats()
        try:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM if cooked else socket.SOCK_RAW, 0)
        except PermissionError as error:
            raise NeedsPrivilege(error.errno, error.strerror) from None
        try:
            attach_filter(self.sock, DROP_ALL)
            size, count = ring_geometry(buffer_bytes, block_size or DEFAULT_BLOCK_SIZE)
            self.ring = Ring(self.sock, size, count, cooked=cooked)
            if direction == "in":
                self._ignore_outgoing()
            if self.any:
                _bind_every_interface(self.sock)
            else:
                self.sock.bind((device, ETH_P_ALL))
            if promiscuous and not self.any:
                membership = struct.pack("=iHH8s", self.ifindex, PACKET_MR_PROMISC, 0, b"")
                self.sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, membership)
            if fanout_group is not None:  # joined while still dropping all: no frame goes to two members
                fanout = (fanout_group & 0xFFFF) | (PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16
                self.sock.setsockopt(SOL_PACKET, PACKET_FANOUT, struct.pack("=I", fanout))
            self.ring.discard()
            self.stats()  # reading the counters resets them: count from the real filter on
            self._totals = Stats()
            self.set_filter(program)
            self.sock.setblocking(False)
        except BaseException:
            self.close()
            raise
        self._poll = select.poll()
        self._poll.register(self.sock.fileno(), select.POLLIN | select.POLLERR)

    def _ignore_outgoing(self) -> None:
        """-Q in: ask the kernel not to hand us our own sends at all (frames() checks too)."""
        try:
            self.sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        except OSError:  # kernels before 4.20: frames() drops them
            pass

    def set_filter(self, program: Sequence[tuple[int, int, int, int]] | None) -> None:
        """Replace the kernel program (None: keep every frame, cut to the snap length)."""
        attach_filter(self.sock, program if program is not None else accept_all(self.snaplen))

    def fileno(self) -> int:
        return self.sock.fileno()

    def watch(self, fd: int) -> None:
        """Make `wait` also return when `fd` becomes readable (a signal wakeup pipe)."""
        self._poll.register(fd, select.POLLIN)

    def wait(self, timeout: float | None) -> bool:
        """Wait up to `timeout` seconds (None: forever) for a block; False on timeout or a signal.
        Raises InterfaceDown when the interface goes down or disappears."""
        if self.ring.ready():
            return True
        try:
            events = self._poll.poll(None if timeout is None else int(timeout * 1000))
        except InterruptedError:
            return False
        for _fd, event in events:
            if event & select.POLLERR:
                self._raise_pending_error()
        return self.ring.ready()

    def _raise_pending_error(self) -> None:
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code in (errno.ENETDOWN, errno.ENODEV, errno.ENXIO):
            raise InterfaceDown(code, f"{self.device}: the interface went down")
        if code:
            raise OSError(code, errno.errorcode.get(code, str(code)))

    def frames(self) -> Iterator[Frame]:
        """What the ring holds now, in the capture's link type and direction; never blocks."""
        for record in self.records():
            yield Frame(*record)

    def records(self) -> Iterator[tuple[bytes, int, int, int, int, bytes, int, bytes]]:
        """`frames()` as plain tuples in Frame's field order (data, ts_ns, wirelen, pkttype, ...):
        the fast path for a capture loop."""
        ring = self.ring
        direction = self.direction
        loopback = interfaces.ARPHRD_LOOPBACK
        while ring.ready():
            for record in ring.block():
                if record[3] == PACKET_OUTGOING:
                    # loopback frames are seen going out and again coming in: keep one, as libpcap
                    if direction == "in" or record[6] == loopback:
                        continue
                elif direction == "out":
                    continue
                if self.any:
                    data, ts_ns, wirelen, pkttype, ifindex, protocol, hatype, address = record
                    header = _SLL2.pack(protocol, 0, ifindex, hatype, pkttype, len(address), address)
                    record = (header + data, ts_ns, wirelen + _SLL2.size, pkttype, ifindex, protocol, hatype,
                              address)
                yield record

    def stats(self) -> Stats:
        """Counters since the capture started (the kernel's reset on each read; we add them up)."""
        raw = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, _STATS.size)
        packets, drops, _frozen = _STATS.unpack(raw)
        self._totals.received += packets  # the kernel's tp_packets already includes the drops
        self._totals.dropped += drops
        return Stats(self._totals.received, self._totals.dropped)

    def close(self) -> None:
        ring = getattr(self, "ring", None)
        if ring is not None:
            ring.close()
            self.ring = None  # type: ignore[assignment]
        self.sock.close()

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

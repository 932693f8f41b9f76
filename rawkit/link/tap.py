"""A TAP device (/dev/net/tun with IFF_TAP | IFF_NO_PI) as a link: every frame the kernel sends out of
the device can be read here, every frame written here arrives at the kernel as if from a wire.

Why: a userspace stack (or a test) can be the "other host" on a link without any real peer and
without capturing anything; the kernel on the other side is the peer.

    with Tap("tap0") as tap:              # created up in the calling thread's network namespace
        frame = tap.recv(timeout=1.0)     # one Ethernet frame, or None
        tap.send(reply)

The device lives in the network namespace of the thread that opened it (use Namespace.call to make
one inside a lab) and disappears when the Tap is closed.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct

from rawkit.link import interfaces
from rawkit.link.rawsock import NeedsPrivilege

TUN_PATH = "/dev/net/tun"
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
IFF_VNET_HDR = 0x4000
TUNSETOFFLOAD = 0x400454D0
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO6, TUN_F_TSO_ECN = 0x01, 0x02, 0x04, 0x08
VNET_HEADER = bytes(10)  # struct virtio_net_hdr: no checksum or segmentation request
_IFREQ_FLAGS = struct.Struct("16sH22x")
MAX_FRAME = 65536 + 14  # a TSO super-frame can carry a 64 KiB IP packet


class Tap:
    """An open TAP device; `name` "" lets the kernel choose (tap0, tap1, ...).

    `offload=True` makes it look like an Ethernet card with checksum and TCP segmentation offload
    (a virtio header on each frame, TUNSETOFFLOAD): the kernel then hands over whole TSO super-frames
    with checksums left partial, as packetdrill's tun device does; recv/send hide the header."""

    def __init__(self, name: str = "", *, up: bool = True, offload: bool = False) -> None:
        if len(name.encode()) > 15:
            raise ValueError(f"interface name {name!r} is longer than 15 bytes")
        try:
            self._fd = os.open(TUN_PATH, os.O_RDWR | os.O_CLOEXEC)
        except PermissionError as error:
            raise NeedsPrivilege(error.errno, error.strerror) from None
        try:
            flags = IFF_TAP | IFF_NO_PI | (IFF_VNET_HDR if offload else 0)
            answer = fcntl.ioctl(self._fd, TUNSETIFF, _IFREQ_FLAGS.pack(name.encode(), flags))
            self.name = answer[:16].rstrip(b"\x00").decode()
            if offload:
                fcntl.ioctl(self._fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN)
            self._header = len(VNET_HEADER) if offload else 0
            os.set_blocking(self._fd, False)
            if up:
                interfaces.set_up(self.name)
        except PermissionError as error:
            os.close(self._fd)
            raise NeedsPrivilege(error.errno, error.strerror) from None
        except BaseException:
            os.close(self._fd)
            raise
        self.mac = interfaces.hardware_address(self.name)

    def fileno(self) -> int:
        return self._fd

    def recv(self, timeout: float | None = None) -> bytes | None:
        """The next frame the kernel sent out of the device; None if none came within `timeout`
        seconds (0: do not wait; None: wait for ever)."""
        try:
            return os.read(self._fd, MAX_FRAME + self._header)[self._header :]
        except BlockingIOError:
            pass
        if timeout == 0:
            return None
        readable, _, _ = select.select([self._fd], [], [], timeout)
        if not readable:
            return None
        try:
            return os.read(self._fd, MAX_FRAME + self._header)[self._header :]
        except BlockingIOError:
            return None

    def send(self, frame: bytes) -> int:
        """Hand one Ethernet frame to the kernel as received on the device."""
        if self._header:
            return os.write(self._fd, VNET_HEADER + frame) - self._header
        return os.write(self._fd, frame)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> Tap:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

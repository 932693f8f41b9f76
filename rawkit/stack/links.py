"""What the stack needs from a link, and the TAP device as one.

Why an interface: the stack's loop is the same whether frames come from an AF_PACKET socket on an
interface (EthernetLink, modes "own address" and "host address") or from a TAP device whose kernel
side is the peer's network (TapLink); choosing the link once at start keeps the per-frame path free
of mode tests.
"""

from __future__ import annotations

import errno
import os
import struct
from typing import Protocol

from rawkit.link.tap import MAX_FRAME, Tap
from rawkit.stack.ip_link import IPFraming

_ETHER = struct.Struct("!6s6sH")


class FrameLink(Protocol):
    """An Ethernet attachment: `mac` is the stack's own hardware address."""

    mac: bytes
    device: str

    def fileno(self) -> int: ...

    def receive_batch(self, limit: int) -> list[bytes]: ...

    def send_frame(self, destination_mac: bytes, ethertype: int, payload: bytes) -> None: ...

    def ipv4_packet(self, source: bytes, destination: bytes, proto: int, payload: bytes) -> bytes: ...

    def ipv6_packet(self, source: bytes, destination: bytes, next_header: int, payload: bytes,
                    hop_limit: int = ...) -> bytes: ...

    def close(self) -> None: ...


def random_mac() -> bytes:
    """A locally administered unicast MAC (02:..), the kind virtual NICs use."""
    first = (os.urandom(1)[0] & 0xFC) | 0x02
    return bytes((first,)) + os.urandom(5)


class TapLink(IPFraming):
    """The far end of a TAP device `name` (created up in the calling thread's namespace, removed at
    close): frames the kernel sends out of the device are ours to read; what we write, the kernel
    receives as from a wire. Our MAC is not the device's (the device's MAC is the kernel's side)."""

    def __init__(self, name: str, mac: bytes | None = None) -> None:
        self.tap = Tap(name)
        self.device = self.tap.name
        self.mac = mac if mac is not None else random_mac()
        self._fd = self.tap.fileno()

    def fileno(self) -> int:
        return self._fd

    def receive_batch(self, limit: int) -> list[bytes]:
        """Up to `limit` frames the kernel has sent (none waiting: an empty list)."""
        frames: list[bytes] = []
        read, fd = os.read, self._fd
        try:
            while len(frames) < limit:
                frames.append(read(fd, MAX_FRAME))
        except BlockingIOError:
            pass
        return frames

    def send_frame(self, destination_mac: bytes, ethertype: int, payload: bytes) -> None:
        """One frame from our MAC to the kernel; a device that is down drops it, as a wire would."""
        try:
            os.write(self._fd, _ETHER.pack(destination_mac, self.mac, ethertype) + payload)
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.ENOBUFS, errno.EIO):
                raise

    def close(self) -> None:
        self.tap.close()

"""Network interfaces as the calling thread's network namespace sees them: names, index, hardware
type and address, up/down, and the capture link type that goes with each hardware type.

Why ioctls rather than /sys: inside `Namespace.call` (a setns'd thread) /sys still shows the host,
while an ioctl on a socket made by that thread answers for the lab's namespace.
"""

from __future__ import annotations

import fcntl
import socket
import struct

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
SIOCGIFHWADDR = 0x8927
SIOCGIFMTU = 0x8921
IFF_UP = 0x1
IFF_RUNNING = 0x40

ARPHRD_ETHER = 1
ARPHRD_LOOPBACK = 772
ARPHRD_NONE = 0xFFFE  # tun devices: raw IP, no link header

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL2 = 276

_IFREQ_NAME = struct.Struct("16s")


class UnknownInterface(LookupError):
    """No such interface here; the message lists the ones there are, as a user needs them."""

    def __init__(self, name: str) -> None:
        names = ", ".join(interface_names()) or "none"
        super().__init__(f"{name}: no such interface (interfaces: {names}, any)")
        self.name = name


def interface_names() -> list[str]:
    """Names of the interfaces, by index order."""
    return [name for _index, name in sorted(socket.if_nameindex())]


def _ifreq(name: str, request: int, payload: bytes = b"") -> bytes:
    if not name or len(name.encode()) > 15:
        raise UnknownInterface(name)
    buffer = _IFREQ_NAME.pack(name.encode()) + payload.ljust(24, b"\x00")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            return fcntl.ioctl(probe.fileno(), request, buffer)
        except OSError as error:
            if error.errno == 19:  # ENODEV
                raise UnknownInterface(name) from None
            raise


def index(name: str) -> int:
    """The interface index; raises UnknownInterface."""
    try:
        return socket.if_nametoindex(name)
    except OSError:
        raise UnknownInterface(name) from None


def hardware_type(name: str) -> int:
    """The ARPHRD_* type (1 Ethernet, 772 loopback, 0xFFFE tun, ...)."""
    return struct.unpack_from("=H", _ifreq(name, SIOCGIFHWADDR), 16)[0]


def hardware_address(name: str) -> bytes:
    """The 6-byte MAC address (zeros for loopback)."""
    return _ifreq(name, SIOCGIFHWADDR)[18:24]


def mtu(name: str) -> int:
    return struct.unpack_from("=i", _ifreq(name, SIOCGIFMTU), 16)[0]


def flags(name: str) -> int:
    return struct.unpack_from("=H", _ifreq(name, SIOCGIFFLAGS), 16)[0]


def is_up(name: str) -> bool:
    return flags(name) & IFF_UP != 0


def set_up(name: str, up: bool = True) -> None:
    """Bring the interface up (or down): a TAP device is created down."""
    current = flags(name)
    wanted = current | IFF_UP if up else current & ~IFF_UP
    if wanted != current:
        _ifreq(name, SIOCSIFFLAGS, struct.pack("=H", wanted))


def capture_linktype(hatype: int) -> tuple[int, bool]:
    """(pcap link type, cooked) for a hardware type: Ethernet-like devices give whole frames, tun
    devices raw IP, everything else (and `any`) the Linux cooked v2 header, as libpcap chooses."""
    if hatype in (ARPHRD_ETHER, ARPHRD_LOOPBACK):
        return LINKTYPE_ETHERNET, False
    if hatype == ARPHRD_NONE:
        return LINKTYPE_RAW, False
    return LINKTYPE_LINUX_SLL2, True

"""An AF_PACKET socket on one interface for one EtherType (ARP probes): frames in and out with
their Ethernet header, arrival times from the kernel (SO_TIMESTAMPNS).

Why not a capture ring: a prober sends a frame and waits for a few answers; one plain socket bound
to the interface and protocol is all it needs, and never sees other interfaces.
"""

from __future__ import annotations

import socket

from rawkit.link.rawsock import SO_TIMESTAMPNS, NeedsPrivilege


def open_packet_socket(device: str, ethertype: int) -> tuple[socket.socket, bytes]:
    """A non-blocking AF_PACKET socket bound to `device` for `ethertype`, and the device's MAC.
    Raises NeedsPrivilege without CAP_NET_RAW, OSError for an unknown device."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ethertype))
    except PermissionError as error:
        raise NeedsPrivilege(error.errno, error.strerror) from None
    try:
        sock.bind((device, ethertype))
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setblocking(False)
        mac = sock.getsockname()[4]
    except OSError:
        sock.close()
        raise
    return sock, mac

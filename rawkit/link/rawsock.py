"""Raw IP sockets and ping sockets for probes (ICMP/ICMPv6 echo, TCP SYN, UDP), with kernel receive
timestamps and the received TTL turned on, so a pinger measures what the wire saw, not Python.

Why one module: the choice between a raw socket (root or CAP_NET_RAW) and the unprivileged ping
socket (`net.ipv4.ping_group_range`), and the socket options every prober needs, belong together.

    sock = open_icmp(socket.AF_INET)     # raw if allowed, else a ping socket; NeedsPrivilege if neither
    sock.kind                            # "raw" or "ping"
    set_ttl(sock.socket, 5); bind_device(sock.socket, "veth0")
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

SO_TIMESTAMPNS = 35
IP_RECVERR = 11
IP_RECVTTL = 12
IPV6_RECVERR = 25
ICMP6_FILTER = 1
ECHO_REPLY_V6 = 129
ICMPV6_ERROR_TYPES = (1, 2, 3, 4)


class NeedsPrivilege(PermissionError):
    """Neither a raw socket nor a ping socket may be opened by this process."""


@dataclass
class ProbeSocket:
    """An open socket and what kind it is: "raw" delivers whole IPv4 packets (ICMPv6 raw sockets give
    the ICMPv6 message only); "ping" gives the ICMP message only, errors arrive on the error queue."""

    socket: socket.socket
    family: int
    kind: str

    def close(self) -> None:
        self.socket.close()


def enable_receive_metadata(sock: socket.socket, family: int, *, ttl: bool = True) -> None:
    """Ask for a nanosecond kernel timestamp with every received packet, and its TTL / hop limit
    unless `ttl` is False (raw IPv4 sockets read it from the IP header)."""
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    if not ttl:
        return
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)


def open_icmp(family: int, *, allow_ping_socket: bool = True) -> ProbeSocket:
    """An ICMP (AF_INET) or ICMPv6 (AF_INET6) socket for echo probes: raw when privileged, else the
    kernel's ping socket. Raises NeedsPrivilege when neither is allowed."""
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    try:
        sock = socket.socket(family, socket.SOCK_RAW, proto)
        kind = "raw"
    except PermissionError as raw_error:
        if not allow_ping_socket:
            raise NeedsPrivilege(raw_error.errno, raw_error.strerror) from None
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM, proto)
        except PermissionError:  # report why the raw socket failed, as ping does
            raise NeedsPrivilege(raw_error.errno, raw_error.strerror) from None
        kind = "ping"
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    if kind == "raw" and family == socket.AF_INET6:
        passed = icmp6_filter((ECHO_REPLY_V6, *ICMPV6_ERROR_TYPES))
        sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, passed)
    enable_receive_metadata(sock, family, ttl=not (kind == "raw" and family == socket.AF_INET))
    sock.setblocking(False)
    return ProbeSocket(sock, family, kind)


def open_raw(family: int, proto: int) -> ProbeSocket:
    """A raw socket for one transport protocol (TCP or UDP probes): the kernel adds the IP header, the
    caller supplies the transport header with its checksum. Raises NeedsPrivilege without root."""
    try:
        sock = socket.socket(family, socket.SOCK_RAW, proto)
    except PermissionError as error:
        raise NeedsPrivilege(error.errno, error.strerror) from None
    enable_receive_metadata(sock, family, ttl=family == socket.AF_INET6)
    sock.setblocking(False)
    return ProbeSocket(sock, family, "raw")


def open_probe_pair(family: int, proto: int, *, device: str | None = None,
                    ttl: int | None = None) -> tuple[ProbeSocket, ProbeSocket]:
    """A raw `proto` socket to send probes and a raw ICMP socket for the errors they draw, both
    bound to `device` and sending with `ttl` when given; neither is left open if the other fails."""
    opened: list[ProbeSocket] = []
    try:
        opened.append(open_raw(family, proto))
        opened.append(open_icmp(family, allow_ping_socket=False))
        for probe_socket in opened:
            if device:
                bind_device(probe_socket.socket, device)
            if ttl is not None:
                set_ttl(probe_socket.socket, ttl)
    except BaseException:
        for probe_socket in opened:
            probe_socket.close()
        raise
    return opened[0], opened[1]


def icmp6_filter(passed_types: tuple[int, ...]) -> bytes:
    """The ICMP6_FILTER bitmap (a set bit blocks a type) that passes only `passed_types`."""
    words = [0xFFFFFFFF] * 8
    for kind in passed_types:
        words[kind >> 5] &= ~(1 << (kind & 31)) & 0xFFFFFFFF
    return struct.pack("=8I", *words)


def set_ttl(sock: socket.socket, ttl: int) -> None:
    """TTL (IPv4) or unicast hop limit (IPv6) of packets sent from now on."""
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)


def bind_device(sock: socket.socket, device: str) -> None:
    """Send and receive only through `device` (SO_BINDTODEVICE)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())


def source_address(family: int, destination: str, *, device: str | None = None,
                   source: str | None = None) -> str:
    """The address the kernel would send from towards `destination` (a UDP connect sends nothing).
    Raises OSError (ENETUNREACH, ...) when there is no route, as `ping` reports it."""
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        if device:
            bind_device(probe, device)
        if source:
            probe.bind((source, 0))
        if family == socket.AF_INET6 and device:  # the scope a link-local destination needs
            probe.connect((destination, 1025, 0, socket.if_nametoindex(device)))
        else:
            probe.connect((destination, 1025))
        return probe.getsockname()[0]

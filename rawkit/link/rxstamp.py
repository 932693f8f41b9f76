"""Receiving with the kernel's metadata: the SO_TIMESTAMPNS arrival time, the TTL / hop limit, and
(for ping sockets and IP_RECVERR) the error queue.

Why: round-trip times from the kernel's receive timestamp do not include Python's scheduling delay,
and ping sockets and raw ICMPv6 sockets strip the IP header, so the TTL has to come as ancillary data.
"""

from __future__ import annotations

import errno
import functools
import socket
import struct
import time
from dataclasses import dataclass

SCM_TIMESTAMPNS = 35
IP_TTL = 2
IP_RECVERR = 11
IPV6_RECVERR = 25
IPV6_HOPLIMIT = 52
CONTROL_SPACE = socket.CMSG_SPACE(16) + socket.CMSG_SPACE(4) + socket.CMSG_SPACE(16 + 28)
_TIMESPEC = struct.Struct("=qq")
_EXTENDED_ERROR = struct.Struct("=IBBBBII")  # errno, origin, type, code, pad, info, data
# what a socket with IP_RECVERR reports from recvmsg/sendto after an ICMP error (see receive_error)
PENDING_ERRORS = frozenset((errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNREFUSED, errno.EHOSTDOWN,
                            errno.EMSGSIZE, errno.EPROTO, errno.ENOPROTOOPT, errno.EACCES, errno.ETIMEDOUT))


@dataclass(slots=True)
class Received:
    """One datagram as the kernel delivered it."""

    data: bytes
    address: str
    ts_ns: int  # kernel arrival time, CLOCK_REALTIME nanoseconds
    ttl: int | None  # from ancillary data (None when the socket gives it in the IP header)


@dataclass(slots=True)
class QueuedError:
    """An ICMP error the kernel put on a socket's error queue (IP_RECVERR): `data` is the start of
    the datagram we sent that caused it."""

    data: bytes
    offender: str | None
    icmp_type: int
    icmp_code: int
    info: int  # MTU for "fragmentation needed" / "packet too big"
    origin: int  # SO_EE_ORIGIN_*: 1 local, 2 ICMP, 3 ICMPv6
    ts_ns: int


def receive(sock: socket.socket, size: int = 65535) -> Received | None:
    """One datagram with its metadata, or None when nothing is waiting (non-blocking sockets)."""
    try:
        data, ancillary, _flags, address = sock.recvmsg(size, CONTROL_SPACE)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError as error:
        if error.errno in PENDING_ERRORS:  # an ICMP error reported once here; its details are queued
            return None
        raise
    ts_ns = 0
    ttl = None
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(value) >= 16:
            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
            ts_ns = seconds * 1_000_000_000 + nanoseconds
        elif (level, kind) in ((socket.IPPROTO_IP, IP_TTL), (socket.IPPROTO_IPV6, IPV6_HOPLIMIT)):
            ttl = int.from_bytes(value[:4], "little") if len(value) >= 4 else value[0]
    text = _text(address) if len(address) == 4 else address[0] if address else ""
    return Received(data, text, ts_ns or time.time_ns(), ttl)


def _text(address: tuple) -> str:
    """The sender as text; an IPv6 link-local one with its %scope, as getnameinfo writes it."""
    if not address:
        return ""
    if len(address) == 4 and address[3]:
        return f"{address[0]}%{_interface_name(address[3])}"
    return address[0]


@functools.lru_cache(maxsize=64)
def _interface_name(index: int) -> str:
    try:
        return socket.if_indextoname(index)
    except OSError:
        return str(index)


def receive_error(sock: socket.socket, size: int = 2048) -> QueuedError | None:
    """One entry of the socket's error queue, or None when it is empty."""
    try:
        data, ancillary, _flags, _address = sock.recvmsg(size, CONTROL_SPACE, socket.MSG_ERRQUEUE)
    except (BlockingIOError, InterruptedError):
        return None
    ts_ns = 0
    error = None
    for level, kind, value in ancillary:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(value) >= 16:
            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
            ts_ns = seconds * 1_000_000_000 + nanoseconds
        elif (level, kind) in ((socket.IPPROTO_IP, IP_RECVERR), (socket.IPPROTO_IPV6, IPV6_RECVERR)) \
                and len(value) >= _EXTENDED_ERROR.size:
            _errno, origin, icmp_type, icmp_code, _pad, info, _ = _EXTENDED_ERROR.unpack_from(value)
            offender = _offender(value[_EXTENDED_ERROR.size :])
            error = QueuedError(data, offender, icmp_type, icmp_code, info, origin, 0)
    if error is not None:
        error.ts_ns = ts_ns or time.time_ns()
    return error


def _offender(raw: bytes) -> str | None:
    """SO_EE_OFFENDER: the sockaddr of whoever sent the error."""
    if len(raw) < 8:
        return None
    family = int.from_bytes(raw[:2], "little")
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[4:8])
    if family == socket.AF_INET6 and len(raw) >= 24:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    return None

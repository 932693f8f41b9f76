"""Berkeley-style UDP sockets over a rawkit Stack: the calls and errors of Python's SOCK_DGRAM sockets
on Linux (bind, connect, send/sendto, recv/recvfrom, timeouts, non-blocking EAGAIN, fileno for select).

Why a class apart from the TCP one: a datagram socket shares almost none of a stream's state; the
endpoint logic (ports, queue, peer filter, pending error) is sans-IO in rawkit.stack.udp, and this
class only adds the locking, waiting and Python's address tuples. Datagrams larger than the
interface MTU go out as IP fragments (rawkit.stack.udp_fragments), as Linux sends them by default.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import socket
import struct
import time
from typing import TYPE_CHECKING

from rawkit.stack.socket_base import SocketBase
from rawkit.stack.socket_base import error as _error
from rawkit.stack.udp import DEFAULT_RCVBUF, MAX_PAYLOAD, MIN_RCVBUF, PROTO_UDP, Endpoint, build_datagram

if TYPE_CHECKING:
    from rawkit.stack.stack import Stack

SIOCGIFMTU = 0x8921
ETHERNET_MTU = 1500


def link_mtu(stack: Stack) -> int:
    """The MTU of the stack's interface, asked of the kernel through the stack's packet socket (in the
    stack's namespace); a TAP link has no such socket and the Ethernet MTU its device is made with."""
    sock = getattr(stack.link, "sock", None)
    if sock is None:
        return ETHERNET_MTU
    request = struct.pack("16si", stack.link.device.encode(), 0)
    return struct.unpack_from("16si", fcntl.ioctl(sock.fileno(), SIOCGIFMTU, request))[1]


class UdpSocket(SocketBase):
    """One UDP socket of `stack` (AF_INET or AF_INET6). Made by `Stack.socket(family, SOCK_DGRAM)`."""

    def __init__(self, stack: Stack, family: int = socket.AF_INET, kind: int = socket.SOCK_DGRAM) -> None:
        super().__init__(stack, family, kind, socket.SOCK_DGRAM)
        self.proto = PROTO_UDP
        self.endpoint: Endpoint | None = None
        self._length = 4 if family == socket.AF_INET else 16
        self._max_payload = MAX_PAYLOAD[self._length]
        self._mtu = 0                  # the interface's, asked for on the first send
        self._reuse_address = 0
        self._rcvbuf = DEFAULT_RCVBUF

    # ------------------------------------------------------------------ helpers (lock held)
    def _bound(self, port: int = 0) -> Endpoint:
        """The endpoint, binding `port` (0: an ephemeral one, Linux's autobind) first if needed."""
        if self.endpoint is None:
            self.endpoint = self.stack.udp.bind(self._length, port)
            self.endpoint.rcvbuf = self._rcvbuf
        return self.endpoint

    def _raise_pending(self) -> None:
        if self.endpoint is not None and self.endpoint.error:
            raise _error(self.endpoint.take_error())

    def _peer(self, address: tuple) -> tuple[bytes, int]:
        host, port = address[:2]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        if len(ip.packed) != self._length:
            raise _error(errno.EAFNOSUPPORT)
        if not 0 <= port <= 0xFFFF:
            raise OverflowError("port must be 0-65535.")
        return ip.packed, port

    def _address(self, ip: bytes, port: int) -> tuple:
        text = str(ipaddress.ip_address(ip))
        return (text, port) if self._length == 4 else (text, port, 0, 0)

    # ------------------------------------------------------------------ addresses and modes
    def bind(self, address: tuple) -> None:
        """Bind to our address (or the wildcard) and a port (0: an ephemeral one)."""
        host, port = address[:2]
        with self.stack.lock:
            self._check_open()
            if self.endpoint is not None:
                raise _error(errno.EINVAL)
            if host not in ("", "0.0.0.0", "::", str(self.stack.local_address(self.family))):
                raise _error(errno.EADDRNOTAVAIL)
            self._bound(port)

    def connect(self, address: tuple) -> None:
        """Set the default peer; from now on only its datagrams are received."""
        peer = self._peer(address)
        with self.stack.lock:
            self._check_open()
            endpoint = self._bound()
            endpoint.peer = peer
            endpoint.error = 0

    def getsockname(self) -> tuple:
        if self.endpoint is None:
            return self._address(bytes(self._length), 0)
        return self._address(self.stack.local_address(self.family).packed, self.endpoint.port)

    def getpeername(self) -> tuple:
        if self.endpoint is None or self.endpoint.peer is None:
            raise _error(errno.ENOTCONN)
        return self._address(*self.endpoint.peer)

    # ------------------------------------------------------------------ data
    def send(self, data: bytes, flags: int = 0) -> int:
        """Send one datagram to the connected peer (EDESTADDRREQ when there is none)."""
        with self.stack.call:
            self._check_open()
            if self.endpoint is None or self.endpoint.peer is None:
                raise _error(errno.EDESTADDRREQ)
            return self._send(bytes(data), self.endpoint.peer)

    def sendto(self, data: bytes, flags_or_address: int | tuple, address: tuple | None = None) -> int:
        """Send one datagram to `address` (sendto(data, address) or sendto(data, flags, address))."""
        if address is None:
            if not isinstance(flags_or_address, tuple):
                raise TypeError("sendto() takes an address tuple")
            address = flags_or_address
        peer = self._peer(address)
        with self.stack.call:
            self._check_open()
            return self._send(bytes(data), peer)

    def _send(self, payload: bytes, peer: tuple[bytes, int]) -> int:
        if len(payload) > self._max_payload:
            raise _error(errno.EMSGSIZE)
        if peer[1] == 0:
            raise _error(errno.EINVAL)
        endpoint = self._bound()
        self._raise_pending()
        source = self.stack.local_address(self.family).packed
        datagram = build_datagram(source, peer[0], endpoint.port, peer[1], payload)
        self._mtu = self._mtu or link_mtu(self.stack)
        self.stack.send_ip(peer[0], PROTO_UDP, datagram, time.monotonic(), self._mtu)
        return len(payload)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, tuple | None]:
        """The next datagram (cut to `bufsize`, the rest discarded) and its sender; (b"", None) after
        SHUT_RD. MSG_PEEK leaves it queued; MSG_DONTWAIT does not block."""
        if bufsize < 0:
            raise ValueError("negative buffersize in recvfrom")
        with self.stack.call:
            self._check_open()
            self._wait(lambda: self._read_shut or self.endpoint is not None and
                       (bool(self.endpoint.queue) or self.endpoint.error != 0),
                       dontwait=bool(flags & socket.MSG_DONTWAIT))
            self._raise_pending()
            endpoint = self.endpoint
            if endpoint is None or not endpoint.queue:    # after SHUT_RD
                return b"", None
            if flags & socket.MSG_PEEK:
                payload, source = endpoint.queue[0]
            else:
                payload, source = endpoint.take()
            self.update_readiness()
            return payload[:bufsize], self._address(*source)

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        return self.recvfrom(bufsize, flags)[0]

    def recv_into(self, buffer: bytearray | memoryview, nbytes: int = 0, flags: int = 0) -> int:
        return self.recvfrom_into(buffer, nbytes, flags)[0]

    def recvfrom_into(self, buffer: bytearray | memoryview, nbytes: int = 0,
                      flags: int = 0) -> tuple[int, tuple | None]:
        view = memoryview(buffer).cast("B")
        data, address = self.recvfrom(nbytes or len(view), flags)
        view[:len(data)] = data
        return len(data), address

    # ------------------------------------------------------------------ select() support and options
    def _would_not_block(self) -> bool:
        endpoint = self.endpoint
        return self._closed or self.stack.closed or self._read_shut or \
            (endpoint is not None and (bool(endpoint.queue) or endpoint.error != 0))

    def setsockopt(self, level: int, option: int, value: int | bytes) -> None:
        """SO_RCVBUF (doubled, as Linux does, for bookkeeping overhead); SO_REUSEADDR is kept and
        reported but shares no port (a second bind of a bound port stays EADDRINUSE)."""
        if (level, option) == (socket.SOL_SOCKET, socket.SO_REUSEADDR) and isinstance(value, int):
            self._reuse_address = int(bool(value))
            return
        if (level, option) != (socket.SOL_SOCKET, socket.SO_RCVBUF) or not isinstance(value, int):
            raise _error(errno.ENOPROTOOPT)
        with self.stack.lock:
            self._check_open()
            self._rcvbuf = max(2 * value, MIN_RCVBUF)
            if self.endpoint is not None:
                self.endpoint.rcvbuf = self._rcvbuf

    def getsockopt(self, level: int, option: int) -> int:
        """SO_ERROR (the pending error, cleared by reading it), SO_RCVBUF, SO_REUSEADDR, SO_TYPE."""
        with self.stack.lock:
            if (level, option) == (socket.SOL_SOCKET, socket.SO_ERROR):
                return self.endpoint.take_error() if self.endpoint is not None else 0
            if (level, option) == (socket.SOL_SOCKET, socket.SO_RCVBUF):
                return self._rcvbuf
            if (level, option) == (socket.SOL_SOCKET, socket.SO_TYPE):
                return socket.SOCK_DGRAM
            if (level, option) == (socket.SOL_SOCKET, socket.SO_REUSEADDR):
                return self._reuse_address
            raise _error(errno.ENOPROTOOPT)

    # ------------------------------------------------------------------ teardown
    def shutdown(self, how: int) -> None:
        """Only a connected socket can be shut down; SHUT_RD makes recv return b"" at once."""
        with self.stack.lock:
            self._check_open()
            if self.endpoint is None or self.endpoint.peer is None:
                raise _error(errno.ENOTCONN)
            if how in (socket.SHUT_RD, socket.SHUT_RDWR):
                self._read_shut = True
                self.update_readiness()
                self.stack.notify()

    def _release(self) -> None:
        """Release the port (queued datagrams are dropped)."""
        if self.endpoint is not None:
            self.stack.udp.release(self.endpoint)
        self.stack.notify()

    def __repr__(self) -> str:
        return f"<rawkit UdpSocket {self.getsockname()}>"

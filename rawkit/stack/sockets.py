"""Berkeley-style TCP sockets over a rawkit Stack: the calls and errors of Python's `socket.socket`
(Linux errnos), so code written for the kernel's sockets runs on rawkit's TCP unchanged.

Blocking calls wait on the stack's condition until the engine's state allows them; `settimeout`
and `setblocking` behave as in Python (TimeoutError "timed out"; BlockingIOError with EAGAIN or
EINPROGRESS). A connection's failure is reported once, as Linux's pending socket error is: by the
call that is waiting, or the next one (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EHOSTUNREACH).
"""

from __future__ import annotations

import errno
import functools
import ipaddress
import socket
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rawkit.stack.socket_base import SocketBase
from rawkit.stack.socket_base import error as _error
from rawkit.tcp import Connection, Listener, Reset, Settings, TimedOut
from rawkit.tcp.congestion import CONTROLLERS
from rawkit.tcp.states import CAN_SEND, State

if TYPE_CHECKING:
    from rawkit.stack.stack import Stack

OPENING = (State.SYN_SENT, State.SYN_RECEIVED)
CONGESTION_NAME_MAX = 16                    # Linux's TCP_CA_NAME_MAX
# Linux: SO_SNDBUF/SO_RCVBUF store twice the value asked for (the kernel's bookkeeping overhead),
# capped at net.core.wmem_max/rmem_max first and never below these minimums
BUFFER_MINIMUM = {socket.SO_SNDBUF: 4608, socket.SO_RCVBUF: 2304}
BUFFER_MAXIMUM_FILE = {socket.SO_SNDBUF: "/proc/sys/net/core/wmem_max",
                       socket.SO_RCVBUF: "/proc/sys/net/core/rmem_max"}
BUFFER_MAXIMUM_DEFAULT = 212992             # Linux's default wmem_max/rmem_max
DEFAULT_MSS = 536                           # TCP_MAXSEG of an unconnected socket without a user MSS
MSS_MINIMUM, MSS_MAXIMUM = 88, 32767        # Linux's TCP_MIN_MSS and MAX_TCP_WINDOW
IP_TCP_HEADERS = {socket.AF_INET: 40, socket.AF_INET6: 60}
DEFAULT_SETTINGS_MSS = Settings().mss
Address = tuple[str, int]
_OPTIONS: dict[tuple[int, int], tuple[str, Callable[[int], object]]] = {   # -> Settings attribute
    (socket.IPPROTO_TCP, socket.TCP_NODELAY): ("nodelay", bool),
    (socket.SOL_SOCKET, socket.SO_KEEPALIVE): ("keepalive", bool),
    (socket.IPPROTO_TCP, socket.TCP_KEEPIDLE): ("keepalive_idle", float),
    (socket.IPPROTO_TCP, socket.TCP_KEEPINTVL): ("keepalive_interval", float),
    (socket.IPPROTO_TCP, socket.TCP_KEEPCNT): ("keepalive_count", int),
    (socket.SOL_SOCKET, socket.SO_REUSEADDR): ("reuse_address", bool),
}


def _device_mss(stack: Stack, family: int) -> int:
    """The MSS Linux advertises by default: the device MTU less the IP and TCP headers (1460 at
    MTU 1500 over IPv4, 1440 over IPv6); the settings' value when the MTU cannot be read."""
    mtu = stack.mtu
    if not mtu:
        return DEFAULT_SETTINGS_MSS
    return max(min(mtu - IP_TCP_HEADERS[family], 65495), MSS_MINIMUM)


@functools.lru_cache(maxsize=1024)
def _peer_address(host: str) -> tuple[str, bytes]:
    """The canonical text and the bytes of an IP literal (ValueError for anything else); cached, as a
    client connects to the same few peers over and over and parsing costs more than a connect's SYN."""
    address = ipaddress.ip_address(host)
    return str(address), address.packed


_address_text = functools.lru_cache(maxsize=16)(str)    # our own address as the engine's text


def _buffer_maximum(option: int) -> int:
    """net.core.wmem_max / rmem_max of this host (Linux's default if unreadable)."""
    try:
        with open(BUFFER_MAXIMUM_FILE[option]) as handle:
            return int(handle.read())
    except (OSError, ValueError):
        return BUFFER_MAXIMUM_DEFAULT


class Socket(SocketBase):
    """One TCP socket of `stack`. Made by `Stack.socket`, or returned by `accept`."""

    def __init__(self, stack: Stack, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM,
                 connection: Connection | None = None) -> None:
        super().__init__(stack, family, kind, socket.SOCK_STREAM)
        self.settings = stack.settings.copy()
        if connection is None and self.settings.mss == DEFAULT_SETTINGS_MSS:
            self.settings.mss = _device_mss(stack, family)
        self.connection = connection
        self.listener: Listener | None = None
        self._port = connection.local[1] if connection else 0
        self._error_reported = False
        self._connect_reported = connection is not None
        self._user_mss = 0            # TCP_MAXSEG as set (0: none)
        self._receive_buffer = 0      # SO_RCVBUF as Linux reports it (0: not set, the default's)

    # ------------------------------------------------------------------ helpers
    def _now(self) -> float:
        return time.monotonic()

    def _pending_error(self) -> OSError | None:
        """The connection's failure as an OSError, the first time it is asked for."""
        connection = self.connection
        if connection is None or self._error_reported or connection.state is not State.CLOSED:
            return None
        event = connection.error
        if isinstance(event, Reset):
            code = errno.ECONNREFUSED if event.refused else errno.ECONNRESET
        elif isinstance(event, TimedOut):
            code = errno.ETIMEDOUT
        elif ipaddress.ip_address(connection.remote[0]).packed in self.stack.unreachable and \
                not connection.fin_sent:
            code = errno.EHOSTUNREACH
        else:
            return None
        self._error_reported = True
        return _error(code)

    def _raise_pending(self) -> None:
        error = self._pending_error()
        if error is not None:
            raise error

    # ------------------------------------------------------------------ addresses and modes
    @property
    def _key_length(self) -> int:
        return 4 if self.family == socket.AF_INET else 16

    def _address(self, ip: str, port: int) -> tuple:
        """Python's address tuple for the family: (ip, port), or (ip, port, flowinfo, scope_id) for IPv6."""
        return (ip, port) if self.family == socket.AF_INET else (ip, port, 0, 0)

    def bind(self, address: tuple) -> None:
        """Bind to our address (or the wildcard) and a port (0: an ephemeral one)."""
        host, port = address[:2]
        with self.stack.lock:
            self._check_open()
            if self._port or self.connection is not None:
                raise _error(errno.EINVAL)
            if host not in ("", "0.0.0.0", "::", str(self.stack.local_address(self.family))):
                raise _error(errno.EADDRNOTAVAIL)
            if port and self.stack.port_in_use(port, self.settings.reuse_address):
                raise _error(errno.EADDRINUSE)
            self._port = port or self.stack.free_port()

    def getsockname(self) -> tuple:
        if not self._port:
            return self._address("0.0.0.0" if self.family == socket.AF_INET else "::", 0)
        return self._address(str(self.stack.local_address(self.family)), self._port)

    def getpeername(self) -> tuple:
        if self.connection is None:
            raise _error(errno.ENOTCONN)
        return self._address(*self.connection.remote)

    # ------------------------------------------------------------------ active open
    def connect(self, address: tuple) -> None:
        """Open a connection to (IP literal of the socket's family, port); blocks until established
        unless non-blocking."""
        host, port = address[:2]
        try:
            remote_ip, remote_packed = _peer_address(host)
        except ValueError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        if len(remote_packed) != self._key_length:
            raise _error(errno.EAFNOSUPPORT)
        stack = self.stack
        with stack.call:
            self._check_open()
            if self.listener is not None:
                raise _error(errno.EINVAL)
            if self.connection is None:
                self._port = self._port or stack.free_port()
                local = _address_text(stack.local_address(self.family))
                connection = Connection((local, self._port), (remote_ip, port), self.settings, stack.secret)
                now = self._now()
                connection.connect(now)
                self.connection = connection
                stack.register(connection)
                stack.flush(connection, now)
                if self._timeout == 0:
                    raise _error(errno.EINPROGRESS)
            elif self._connect_reported:
                raise _error(errno.EISCONN)
            elif self.connection.state in OPENING and self._timeout == 0:
                raise _error(errno.EALREADY)
            connection = self.connection
            self._wait(lambda: connection.state not in OPENING)
            self._raise_pending()
            if connection.state is State.CLOSED:
                raise _error(errno.ECONNABORTED)
            self._connect_reported = True     # as Linux: the next connect() says EISCONN

    # ------------------------------------------------------------------ passive open
    def listen(self, backlog: int = 128) -> None:
        with self.stack.lock:
            self._check_open()
            if self.connection is not None:
                raise _error(errno.EINVAL)
            if self.listener is None:
                self._port = self._port or self.stack.free_port()
                self.listener = Listener(self._port, max(backlog, 1), self.settings, self.stack.secret)
                self.stack.listeners[(self._key_length, self._port)] = self.listener

    def accept(self) -> tuple[Socket, Address]:
        """The next connection whose handshake completed, as a new blocking socket and its peer."""
        with self.stack.call:
            self._check_open()
            listener = self.listener
            if listener is None:
                raise _error(errno.EINVAL)
            self._wait(lambda: listener.ready > 0)
            connection = listener.accept()
            assert connection is not None   # ready > 0 under the lock
            self.update_readiness()
            accepted = Socket(self.stack, self.family, connection=connection)
            return accepted, accepted.getpeername()

    # ------------------------------------------------------------------ data
    def send(self, data: bytes, flags: int = 0) -> int:
        """Queue up to len(data) bytes; returns how many were taken (blocks while the buffer is full)."""
        stack = self.stack
        with stack.call:
            self._check_open()
            connection = self.connection
            if connection is None:
                raise _error(errno.EPIPE)

            def writable() -> bool:
                return connection.state not in CAN_SEND or connection.fin_queued or \
                    (connection.state not in OPENING and connection.send_space > 0)
            self._wait(writable)
            self._raise_pending()
            if connection.state not in CAN_SEND or connection.fin_queued:
                raise _error(errno.EPIPE)
            now = self._now()
            taken = connection.send(bytes(memoryview(data)[:connection.send_space]), now)
            stack.flush(connection, now)
            return taken

    def sendall(self, data: bytes, flags: int = 0) -> None:
        view = memoryview(data).cast("B")
        while view:
            view = view[self.send(view):]

    def recv(self, bufsize: int, flags: int = 0) -> bytes:
        """Up to `bufsize` received bytes; b"" at end of stream (after the peer's FIN or SHUT_RD)."""
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        stack = self.stack
        with stack.call:
            self._check_open()
            connection = self.connection
            if connection is None:
                raise _error(errno.ENOTCONN)
            self._wait(lambda: self._recv_ready(connection))
            if connection.readable and not self._read_shut:
                data = connection.read(bufsize)
                if connection.ack_due:                 # the read opened the window enough to say so
                    stack.flush(connection, self._now())
                self.update_readiness()
                return data
            self._raise_pending()
            return b""

    def sendto(self, data: bytes, address: tuple) -> int:
        """As on Linux for a connected TCP socket: the address is ignored."""
        return self.send(data)

    def recvfrom(self, bufsize: int, flags: int = 0) -> tuple[bytes, None]:
        """recv() plus the sender's address, which TCP does not report (None, as Python gives)."""
        return self.recv(bufsize), None

    def recv_into(self, buffer: bytearray | memoryview, nbytes: int = 0, flags: int = 0) -> int:
        view = memoryview(buffer).cast("B")
        data = self.recv(nbytes or len(view))
        view[:len(data)] = data
        return len(data)

    # ------------------------------------------------------------------ select() support and options
    def _would_not_block(self) -> bool:
        if self._closed or self.stack.closed:
            return True
        if self.listener is not None:
            return self.listener.ready > 0
        return self.connection is not None and self._recv_ready(self.connection)

    def _recv_ready(self, connection: Connection) -> bool:
        return bool(connection.readable) or connection.eof or self._read_shut or \
            connection.state is State.CLOSED

    def setsockopt(self, level: int, option: int, value: int | bytes) -> None:
        """TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE/KEEPINTVL/KEEPCNT, SO_LINGER, SO_REUSEADDR,
        SO_SNDBUF/SO_RCVBUF and TCP_MAXSEG with Linux's semantics."""
        settings = self.connection.settings if self.connection is not None else self.settings
        if (level, option) == (socket.IPPROTO_TCP, socket.TCP_CONGESTION):
            self._set_congestion(settings, value)
            return
        if isinstance(value, bytes):
            if (level, option) != (socket.SOL_SOCKET, socket.SO_LINGER):
                raise _error(errno.ENOPROTOOPT)
            onoff, seconds = struct.unpack("ii", value)
            settings.linger = float(seconds) if onoff else None
            return
        if level == socket.SOL_SOCKET and option in BUFFER_MINIMUM:
            self._set_buffer(settings, option, int(value))
            return
        if (level, option) == (socket.IPPROTO_TCP, socket.TCP_MAXSEG):
            self._set_mss(settings, int(value))
            return
        if (level, option) == (socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT):
            if int(value) < 0:
                raise _error(errno.EINVAL)
            settings.user_timeout = int(value) / 1000      # milliseconds, as Linux takes it
            return
        known = _OPTIONS.get((level, option))
        if known is None:
            raise _error(errno.ENOPROTOOPT)
        attribute, convert = known
        if attribute.startswith("keepalive_") and convert(value) <= 0:
            raise _error(errno.EINVAL)
        with self.stack.lock:
            setattr(settings, attribute, convert(value))
            if self.connection is not None and not self.stack.closed:   # e.g. NODELAY releases held data
                self.stack.flush(self.connection, self._now())

    def _set_buffer(self, settings: Settings, option: int, value: int) -> None:
        """SO_SNDBUF/SO_RCVBUF as Linux: doubled (getsockopt reports that), capped and floored. The
        doubled send buffer bounds the bytes queued; of the doubled receive buffer Linux offers half
        as window (its default scaling ratio), so the window is the value asked for. Before
        connect()/listen() the receive buffer also decides the window scale (ilog2(window) - 15)."""
        size = max(min(max(value, 0), _buffer_maximum(option)) * 2, BUFFER_MINIMUM[option])
        with self.stack.lock:
            if option == socket.SO_SNDBUF:
                settings.send_buffer_size = size
            else:
                self._receive_buffer = size
                settings.receive_buffer_size = size // 2
                if self.connection is None and self.listener is None:
                    settings.window_scale = None
            if self.connection is not None and not self.stack.closed:   # room to send, or a window update
                self.stack.flush(self.connection, self._now())

    def _set_mss(self, settings: Settings, value: int) -> None:
        """TCP_MAXSEG: the MSS offered in our SYN (and a cap on what we send); EINVAL outside
        Linux's range. On an open connection Linux keeps the MSS already agreed: so does rawkit."""
        if not MSS_MINIMUM <= value <= MSS_MAXIMUM:
            raise _error(errno.EINVAL)
        with self.stack.lock:
            if self.connection is None or self.connection.state is State.CLOSED:
                settings.mss = value
                self._user_mss = value

    def _get_mss(self) -> int:
        """As Linux: the MSS in use once a connection exists; before, the user's value or 536."""
        connection = self.connection
        if connection is not None and connection.state not in (State.CLOSED, State.SYN_SENT):
            return connection.send_mss
        return self._user_mss or DEFAULT_MSS

    def _set_congestion(self, settings: Settings, value: int | bytes) -> None:
        """TCP_CONGESTION: b"cubic" or b"reno"; ENOENT for a name Linux would not find either."""
        name = value.split(b"\0", 1)[0].decode("ascii", "replace") if isinstance(value, bytes) else ""
        if name not in CONTROLLERS:
            raise _error(errno.ENOENT)
        with self.stack.lock:
            settings.congestion_control = name
            if self.connection is not None:
                self.connection.congestion.use(name)

    def getsockopt(self, level: int, option: int, buflen: int | None = None) -> int | bytes:
        """SO_ERROR (the pending error, cleared by reading it) and the options setsockopt sets;
        TCP_CONGESTION gives the name NUL-padded to `buflen` (16 at most), as Linux does."""
        with self.stack.lock:
            if (level, option) == (socket.SOL_SOCKET, socket.SO_ERROR):
                error = self._pending_error()
                return error.errno if error is not None and error.errno else 0
            settings = self.connection.settings if self.connection is not None else self.settings
            if (level, option) == (socket.IPPROTO_TCP, socket.TCP_CONGESTION):
                name = settings.congestion_control.encode().ljust(CONGESTION_NAME_MAX, b"\0")
                return name[:CONGESTION_NAME_MAX if buflen is None else buflen]
            if (level, option) == (socket.SOL_SOCKET, socket.SO_SNDBUF):
                return settings.send_buffer_size
            if (level, option) == (socket.SOL_SOCKET, socket.SO_RCVBUF):
                return self._receive_buffer or settings.receive_buffer_size
            if (level, option) == (socket.IPPROTO_TCP, socket.TCP_MAXSEG):
                return self._get_mss()
            if (level, option) == (socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT):
                return round(settings.user_timeout * 1000)
            known = _OPTIONS.get((level, option))
            if known is None:
                raise _error(errno.ENOPROTOOPT)
            return int(getattr(settings, known[0]))

    # ------------------------------------------------------------------ teardown
    def shutdown(self, how: int) -> None:
        with self.stack.call:
            self._check_open()
            connection = self.connection
            if connection is None or connection.state is State.CLOSED:
                raise _error(errno.ENOTCONN)
            if how in (socket.SHUT_RD, socket.SHUT_RDWR):
                self._read_shut = True
            if how in (socket.SHUT_WR, socket.SHUT_RDWR) and connection.state in CAN_SEND:
                now = self._now()
                connection.shutdown_write(now)
                self.stack.flush(connection, now)
            self.stack.notify()

    def _release(self) -> None:
        """FIN after queued data (RST with unread data); a listener resets its pending peers."""
        stack = self.stack
        if stack.closed:
            return
        now = self._now()
        if self.listener is not None:
            if stack.listeners.get((self._key_length, self._port)) is self.listener:
                del stack.listeners[(self._key_length, self._port)]
            for connection in self.listener.close(now):
                stack.flush(connection, now)
        if self.connection is not None:
            self.connection.close(now)
            stack.flush(self.connection, now)
        if self._port:
            stack.release_port(self._port)
        stack.notify()

    def __repr__(self) -> str:
        state = self.connection.state.value if self.connection else ("LISTEN" if self.listener else "unbound")
        return f"<rawkit Socket {self.getsockname()} {state}>"

"""What rawkit's TCP and UDP sockets share: Python's blocking modes and timeouts, waiting on the
stack's condition, the fileno() eventfd for select/poll, and the open/closed checks.

Why a base class: these calls behave the same for a stream and a datagram socket on Linux (and in
Python's `socket` module), so one copy keeps the two kinds from drifting apart. Each kind says only
when a read would not block (`_would_not_block`).
"""

from __future__ import annotations

import errno
import os
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from rawkit.stack.stack import Stack


def error(code: int) -> OSError:
    """The OSError subclass Python raises for `code` (ConnectionRefusedError, BrokenPipeError, ...)."""
    return OSError(code, os.strerror(code))


class SocketBase(ABC):
    """A socket of `stack` of one family and kind; subclasses add the protocol's calls."""

    def __init__(self, stack: Stack, family: int, kind: int, wanted_kind: int) -> None:
        if family not in (socket.AF_INET, socket.AF_INET6) or stack.local_address(family) is None:
            raise error(errno.EAFNOSUPPORT)
        if kind != wanted_kind:
            raise error(errno.ESOCKTNOSUPPORT)
        self.stack = stack
        self.family, self.type = family, kind
        self._timeout: float | None = None
        self._closed = False
        self._read_shut = False
        self._event_fd = -1           # made by fileno(): readable exactly when a read would not block
        self._fd_ready = False

    # ------------------------------------------------------------------ helpers (lock held)
    def _check_open(self) -> None:
        if self._closed:
            raise error(errno.EBADF)
        if self.stack.closed:
            raise error(errno.ENETDOWN)

    def _wait(self, ready: Callable[[], bool], dontwait: bool = False) -> None:
        """Wait (lock held) until `ready()`; honours the timeout and non-blocking mode (`dontwait`:
        MSG_DONTWAIT, non-blocking for this call only)."""
        timeout = 0.0 if dontwait else self._timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.stack.failure is not None:
                raise error(errno.ENETDOWN) from self.stack.failure
            if self.stack.closed:               # what was open was reset with the stack
                raise error(errno.ENETDOWN)
            if ready():
                return
            if timeout == 0:
                raise error(errno.EAGAIN)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError("timed out")
            self.stack.wait(remaining)

    # ------------------------------------------------------------------ modes
    def settimeout(self, timeout: float | None) -> None:
        if timeout is not None and timeout < 0:
            raise ValueError("Timeout value out of range")
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        return self._timeout

    def setblocking(self, flag: bool) -> None:
        self._timeout = None if flag else 0.0

    @abstractmethod
    def connect(self, address: tuple) -> None:
        """The protocol's connect (TCP: open a connection; UDP: set the default peer)."""

    def connect_ex(self, address: tuple) -> int:
        """connect() returning the errno instead of raising (0 on success)."""
        try:
            self.connect(address)
        except TimeoutError as timed_out:
            return timed_out.errno or errno.EAGAIN
        except OSError as failure:
            if failure.errno is None:
                raise
            return failure.errno
        return 0

    # ------------------------------------------------------------------ select() support
    def fileno(self) -> int:
        """An eventfd that select/poll see readable when a read (recv, or accept) would not block."""
        with self.stack.lock:
            self._check_open()
            if self._event_fd < 0:
                self._event_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
                self.stack.watched.add(self)
                self.update_readiness()
            return self._event_fd

    @abstractmethod
    def _would_not_block(self) -> bool:
        """Whether a read would return at once (lock held): the fileno() event's state."""

    def update_readiness(self) -> None:
        """Set or clear the fileno() event (lock held)."""
        if self._event_fd < 0:
            return
        ready = self._would_not_block()
        if ready and not self._fd_ready:
            os.eventfd_write(self._event_fd, 1)
        elif self._fd_ready and not ready:
            os.eventfd_read(self._event_fd)
        self._fd_ready = ready

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        """Close once (a second close does nothing): drop the fileno() event, then `_release`."""
        with self.stack.call:
            if self._closed:
                return
            self._closed = True
            if self._event_fd >= 0:
                self.stack.watched.discard(self)
                os.close(self._event_fd)
                self._event_fd = -1
            self._release()

    @abstractmethod
    def _release(self) -> None:
        """Give back what the protocol holds (port, endpoint, connection) and wake waiters (lock held)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

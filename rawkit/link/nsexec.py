"""Run a function in the network namespace some earlier code ran in.

Why: network namespaces belong to threads. A Stack made inside a lab namespace is later called from
threads living elsewhere (the test's main thread); the kernel objects it makes on their behalf (a
port-reserving socket, an nft rule, an iptables child process) must still land in the Stack's
namespace.

    here = NetNamespace.current()          # remember the calling thread's namespace
    sock = here.call(socket.socket)        # made there, whichever thread asks
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

CLONE_NEWNET = 0x40000000
_THREAD_NS = "/proc/thread-self/ns/net"
T = TypeVar("T")
_libc = ctypes.CDLL(None, use_errno=True)


class NetNamespace:
    """A handle (an open namespace file) on one network namespace; close() releases it."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.inode = os.fstat(fd).st_ino

    @classmethod
    def current(cls) -> NetNamespace:
        """The calling thread's namespace."""
        return cls(os.open(_THREAD_NS, os.O_RDONLY | os.O_CLOEXEC))

    def is_current(self) -> bool:
        return os.stat(_THREAD_NS).st_ino == self.inode

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` run in this namespace: directly when the caller is already there, else on
        a short-lived thread that joins it first (threads it starts and processes it forks follow)."""
        if self.is_current():
            return function(*args)
        outcome: dict[str, Any] = {}

        def body() -> None:
            try:
                if _libc.setns(self.fd, CLONE_NEWNET) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, f"setns: {os.strerror(code)}")
                outcome["result"] = function(*args)
            except BaseException as error:      # handed back to the calling thread
                outcome["error"] = error

        thread = threading.Thread(target=body, name="rawkit-netns-call", daemon=True)
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

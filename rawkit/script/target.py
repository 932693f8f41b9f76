"""The side under test of a script run: what the runner needs from it, whichever it is.

Why a protocol: the runner plays the remote peer on raw frames and keeps the clock; the side under
test (the Linux kernel through real system calls, `--target kernel`, or rawkit's own Stack,
`--target rawkit`) only has to come up inside the runner's network and execute syscall lines.
Both targets implement `Target`; the runner never knows which one it drives.

The runner builds the network (`ScriptNet`: a private namespace with one TAP device `tun0`, where the
runner answers ARP/ND for the gateway and plays the remote host) before `Target.start`, and removes it
after `Target.close`.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from rawkit.script.nodes import SyscallEvent
from rawkit.script.syscall_args import Call

T = TypeVar("T")

Symbols = Mapping[str, int | str | bytes]
"""`-D NAME=VALUE` definitions (and runner-supplied ones such as TFO_COOKIE), by name."""


@dataclass(frozen=True)
class ScriptNet:
    """The network a script runs in, as the runner built it.

    `local_ip` belongs to the side under test (the kernel gets it on `device` when a target calls
    `configure_kernel`; a userspace target claims it itself). The runner is `remote_ip`, reached
    through `gateway_ip` (IPv4: on-link /netmask; IPv6: the /48 prefix). Syscall arguments written
    `...` where an address belongs mean: `local_ip:local_port` for bind, `remote_ip:remote_port`
    for connect/sendto.
    """

    namespace: str  # name under /run/netns
    device: str  # "tun0", a TAP device; the runner holds its file descriptor
    ip_version: int  # 4 or 6
    local_ip: str
    remote_ip: str
    gateway_ip: str
    prefix_len: int  # of local_ip on device (IPv4 from --netmask_ip, IPv6 48)
    mtu: int
    local_port: int  # bind(..., ...) binds here
    remote_port: int  # connect/sendto(..., ...) go here
    call_in_namespace: Callable[..., Any]  # call_in_namespace(fn, *args) -> fn(*args) on a thread inside
    run_in_namespace: Callable[[Sequence[str]], subprocess.CompletedProcess[str]]  # argv, raises on failure

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function(*args)` on a thread that joined the namespace; sockets made there live there."""
        return self.call_in_namespace(function, *args)

    def configure_kernel(self) -> None:
        """Give `local_ip` to the kernel on `device` and route `remote_ip` via `gateway_ip`
        (what the kernel target does in `start`)."""
        version = f"-{self.ip_version}"
        extra = ["nodad"] if self.ip_version == 6 else []
        self.run_in_namespace(["ip", version, "addr", "add", f"{self.local_ip}/{self.prefix_len}",
                               "dev", self.device, *extra])
        self.run_in_namespace(["ip", version, "route", "replace", self.remote_ip, "via", self.gateway_ip,
                               "dev", self.device])


class PendingCall(Protocol):
    """One system call started by `Target.begin`; it may still be blocked in its own thread."""

    returned_at: float | None
    """time.monotonic() when the call returned; None while it blocks."""

    def wait(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds; True once the call has returned."""
        ...

    def mismatch(self) -> str | None:
        """After return: None if the result (and errno, and out-parameters) matched the script's
        expectation, else one line such as "expected 3, got -1 (EAGAIN)"."""
        ...


@dataclass
class QueuedCall:
    """A `PendingCall` that a target's worker thread makes in script order; `finish` records the
    outcome and wakes the runner. Both targets queue these, so they share the waiting logic."""

    call: Call | None  # None when the line could not even be prepared (reason set at once)
    reason: str | None = None
    returned_at: float | None = None
    _done: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float) -> bool:
        return self._done.wait(max(timeout, 0.0))

    def mismatch(self) -> str | None:
        return self.reason

    def finish(self, reason: str | None) -> None:
        if self.returned_at is None:
            self.returned_at = time.monotonic()
        self.reason = reason
        self._done.set()


def fail_queued(jobs: queue.Queue[object], reason: str) -> None:
    """Finish every call still in `jobs` with `reason`: the worker will never run them, and the
    runner must not be left waiting."""
    while True:
        try:
            job = jobs.get_nowait()
        except queue.Empty:
            return
        if isinstance(job, QueuedCall):
            job.finish(reason)


class Target(Protocol):
    """The side under test. The runner calls start, then check for every syscall line (before any
    event runs), then begin/tcp_info in script order, and close at the end (also after a failure).

    Optional: `set_timebase(zero, tolerance_usecs)` (zero = script time 0 as time.monotonic()),
    called after start by the runner when the target has it; the kernel target needs it to judge
    SCM_TIMESTAMPING times, which are wall-clock."""

    def start(self, net: ScriptNet) -> None:
        """Come up inside `net` (the kernel target calls `net.configure_kernel()`)."""
        ...

    def check(self, event: SyscallEvent, symbols: Symbols) -> str | None:
        """A reason if this syscall line cannot run (unknown call, unknown symbol, impossible
        expectation), else None. Used to reject a broken script before any packet is sent."""
        ...

    def begin(self, event: SyscallEvent, symbols: Symbols) -> PendingCall:
        """Start the call now (blocking calls keep running on their own thread)."""
        ...

    def tcp_info(self) -> dict[str, int]:
        """tcpi_* values of the socket under test, for `%{ }%` blocks: as in packetdrill, the latest
        socket() or accept() result. Raises RuntimeError (one-line reason) when there is none.
        `tcp_info.PythonBlocks` adds the TCP_*/TCP_CA_*/TCPI_OPT_* names the blocks use."""
        ...

    def close(self) -> None:
        """Close every socket and stop every thread the target started; never raises."""
        ...

"""The network of one script run: a private namespace holding one TAP device (`tun0`), whose far end
is the runner itself playing the remote host.

Why TAP: every frame the side under test sends out of tun0 is read here (timestamped on arrival, so
outbound packet times are exact), every frame written here arrives on tun0 as from a wire. The same
device serves the kernel (which owns `local_ip` on tun0) and rawkit's own Stack (which claims it).
A reader thread answers ARP and neighbour solicitations for the gateway and the remote address, and
drains the TAP side; what tun0 transmits is read, with kernel timestamps, from an AF_PACKET socket
when the runner waits for it. Nothing ever leaves the namespace.
"""

from __future__ import annotations

import contextlib
import random
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from rawkit.link.netns import Lab, LabError, Namespace
from rawkit.link.tap import Tap
from rawkit.script.packets import GATEWAY_MAC, neighbour_reply
from rawkit.script.target import ScriptNet

DEVICE = "tun0"
LOCAL_MAC = "02:00:00:00:00:01"
COMMAND_TIMEOUT = 30.0
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("=qq")


def _run_here(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(argv)}` did not finish within {COMMAND_TIMEOUT:g} s") from None
    except FileNotFoundError:
        raise LabError(f"`{argv[0]}` is not installed") from None
    if done.returncode != 0:
        last = (done.stderr or done.stdout).strip().splitlines()
        raise LabError(f"`{' '.join(argv)}` failed ({done.returncode}): {last[-1] if last else 'no output'}")
    return done


def _outgoing_sniffer() -> socket.socket:
    """Runs inside the namespace: an AF_PACKET socket on tun0 with kernel timestamps."""
    sniffer = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        sniffer.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sniffer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sniffer.bind((DEVICE, ETH_P_ALL))
        sniffer.setblocking(False)
    except OSError:
        sniffer.close()
        raise
    return sniffer


def _sniffed(sniffer: socket.socket) -> tuple[int, bytes] | None:
    """The next frame tun0 transmitted (CLOCK_REALTIME ns, bytes); None when none is waiting."""
    while True:
        try:
            data, ancillary, _flags, address = sniffer.recvmsg(1 << 17, socket.CMSG_SPACE(16))
        except (BlockingIOError, InterruptedError):
            return None
        if address[2] != PACKET_OUTGOING:
            continue  # what the runner injected, seen arriving
        stamp = time.time_ns()
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                seconds, nanoseconds = _TIMESPEC.unpack_from(value)
                stamp = seconds * 1_000_000_000 + nanoseconds
        return stamp, data


@dataclass(frozen=True)
class NetConfig:
    """Addresses and link settings of a run (packetdrill's --ip_version, --local_ip, ...)."""

    ip_version: int
    local_ip: str
    remote_ip: str
    gateway_ip: str
    prefix_len: int
    mtu: int
    local_port: int = 8080
    remote_port: int = 8080


class PeerLink:
    """Builds the namespace and tun0; `net` describes it to targets; `close()` removes everything."""

    def __init__(self, config: NetConfig, *, label: str = "pd") -> None:
        self.config = config
        self.lab = Lab(prefix="rks")
        self._realtime_offset = time.time() - time.monotonic()
        self.sniffer: socket.socket | None = None
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self.tap: Tap | None = None
        try:
            self.namespace: Namespace = self.lab.namespace(label)
            self.tap = self.namespace.call(Tap, DEVICE, up=False, offload=True)
            self._run(["ip", "link", "set", DEVICE, "address", LOCAL_MAC, "mtu", str(config.mtu), "up"])
            self.mac = LOCAL_MAC
            if config.ip_version == 6:
                self._wait_ipv6_ready()  # first: IPv6 coming up on tun0 may flush earlier neighbours
            self._run(["ip", f"-{config.ip_version}", "neigh", "replace", config.gateway_ip, "lladdr",
                       GATEWAY_MAC, "dev", DEVICE, "nud", "permanent"])
            self.sniffer = self.namespace.call(_outgoing_sniffer)
            self._reader = threading.Thread(target=self._read_loop, name="script-peer", daemon=True)
            self._reader.start()
        except BaseException:
            self.close()
            raise
        self.net = ScriptNet(
            namespace=self.namespace.name, device=DEVICE, ip_version=config.ip_version,
            local_ip=config.local_ip,
            remote_ip=config.remote_ip, gateway_ip=config.gateway_ip, prefix_len=config.prefix_len,
            mtu=config.mtu, local_port=config.local_port, remote_port=config.remote_port,
            call_in_namespace=self.namespace.call, run_in_namespace=self._run)
        self._ephemeral = random.randrange(40000, 60000)

    def _run(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        """A command inside the namespace, forked from a thread that joined it (several times cheaper
        than `ip netns exec`, which also remounts /sys); raises LabError if it fails."""
        return self.namespace.call(_run_here, list(argv))

    def _wait_ipv6_ready(self, timeout: float = 3.0) -> None:
        """Until tun0's IPv6 setup finishes (its ff00::/8 route appears) the kernel drops what
        arrives, so the first SYN of a script would be lost."""
        deadline = time.monotonic() + timeout
        query = ["ip", "-6", "route", "show", "table", "local", "dev", DEVICE]
        while "ff00::/8" not in self._run(query).stdout:
            if time.monotonic() > deadline:
                raise LabError(f"IPv6 on {DEVICE} not ready within {timeout:g} s")
            time.sleep(0.01)

    def next_remote_port(self) -> int:
        """A fresh source port for the remote side of each passively opened connection."""
        self._ephemeral = self._ephemeral + 1 if self._ephemeral < 60999 else 40000
        return self._ephemeral

    def _read_loop(self) -> None:
        """Drain the TAP side (reading a frame completes its transmission, which TCP's small-queue
        logic waits for) and answer ARP/ND for the gateway and the remote address."""
        tap = self.tap
        assert tap is not None
        answer_for = {self.config.gateway_ip, self.config.remote_ip}
        while not self._stop.is_set():
            try:
                frame = tap.recv(timeout=0.02)
                while frame is not None:
                    if frame[12:14] in (b"\x08\x06", b"\x86\xdd"):
                        reply = neighbour_reply(frame, answer_for, GATEWAY_MAC)
                        if reply is not None:
                            tap.send(reply)
                    frame = tap.recv(timeout=0)
            except OSError:
                if self._stop.is_set():
                    return
                raise

    def send(self, frame: bytes) -> None:
        assert self.tap is not None
        self.tap.send(frame)

    def receive(self, deadline: float) -> tuple[float, bytes] | None:
        """The next frame tun0 transmitted (its kernel transmit time as time.monotonic(), bytes),
        waiting until the monotonic `deadline`. Read here, on the caller's thread, so a packet is
        seen the moment it leaves (as packetdrill sees it): the next inbound packet then follows as
        quickly as the script means, which the kernel's RTT samples (and TSO sizing) depend on."""
        sniffer = self.sniffer
        assert sniffer is not None
        while True:
            item = _sniffed(sniffer)
            if item is not None:
                return item[0] / 1e9 - self._realtime_offset, item[1]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            select.select([sniffer], [], [], remaining)

    def close(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join(1.0)
        if self.sniffer is not None:
            self.sniffer.close()
        if self.tap is not None:
            self.tap.close()
        with contextlib.suppress(LabError):
            self.lab.close()

    def __enter__(self) -> PeerLink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

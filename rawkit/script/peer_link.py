"""The network of one script run: a private namespace holding one TAP device (`tun0`), whose far end
is the runner itself playing the remote host.

Why TAP: every frame the side under test sends out of tun0 is read here (timestamped on arrival, so
outbound packet times are exact), every frame written here arrives on tun0 as from a wire. The same
device serves the kernel (which owns `local_ip` on tun0) and rawkit's own Stack (which claims it).
A reader thread answers ARP and neighbour solicitations for the gateway and the remote address, and
queues the IP frames addressed to the remote host; nothing ever leaves the namespace.
"""

from __future__ import annotations

import contextlib
import queue
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
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("=qq")


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
        self.frames: queue.Queue[tuple[float, bytes]] = queue.Queue()
        self.sniffer: socket.socket | None = None
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self.tap: Tap | None = None
        try:
            self.namespace: Namespace = self.lab.namespace(label)
            self.tap = self.namespace.call(Tap, DEVICE, up=False, offload=True)
            self.namespace.run(["ip", "link", "set", DEVICE, "address", "02:00:00:00:00:01", "mtu",
                                str(config.mtu), "up"])
            self.mac = "02:00:00:00:00:01"
            family = f"-{config.ip_version}"
            self.namespace.run(["ip", family, "neigh", "replace", config.gateway_ip, "lladdr", GATEWAY_MAC,
                                "dev", DEVICE, "nud", "permanent"])
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
        return self.namespace.run(list(argv))

    def next_remote_port(self) -> int:
        """A fresh source port for the remote side of each passively opened connection."""
        self._ephemeral = self._ephemeral + 1 if self._ephemeral < 60999 else 40000
        return self._ephemeral

    def _read_loop(self) -> None:
        """Answer ARP/ND arriving on the TAP side (and drain it); queue what the sniffer saw leave
        tun0, with the kernel's own transmit time (free of this process's scheduling delays)."""
        tap, sniffer = self.tap, self.sniffer
        assert tap is not None and sniffer is not None
        answer_for = {self.config.gateway_ip, self.config.remote_ip}
        realtime_offset = time.time() - time.monotonic()
        while not self._stop.is_set():
            try:
                readable, _, _ = select.select([tap, sniffer], [], [], 0.05)
                if tap in readable:
                    while (frame := tap.recv(timeout=0)) is not None:
                        if frame[12:14] in (b"\x08\x06", b"\x86\xdd"):
                            reply = neighbour_reply(frame, answer_for, GATEWAY_MAC)
                            if reply is not None:
                                tap.send(reply)
                if sniffer in readable:
                    while (item := _sniffed(sniffer)) is not None:
                        stamp_ns, frame = item
                        self.frames.put((stamp_ns / 1e9 - realtime_offset, frame))
            except OSError:
                if self._stop.is_set():
                    return
                raise

    def send(self, frame: bytes) -> None:
        assert self.tap is not None
        self.tap.send(frame)

    def receive(self, deadline: float) -> tuple[float, bytes] | None:
        """The next queued frame (arrival time, bytes), waiting until the monotonic `deadline`."""
        try:
            return self.frames.get(timeout=max(deadline - time.monotonic(), 0.0))
        except queue.Empty:
            return None

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

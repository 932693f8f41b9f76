"""A userspace impairment relay (tc netem is not available on this kernel): a namespace with two veth
ends, forwarding every frame from one to the other through rawkit.link.impairment's Scheduler.

    with RelayLab(Impairment(loss=0.05, delay=0.010, seed=1)) as lab:   # A --veth-- RELAY --veth-- B
        lab.a, lab.b                    # Namespaces; lab.a_end.ip is 198.18.0.1, lab.b_end.ip 198.18.0.2
        lab.b.spawn([...]); lab.a.run([...])
        lab.relay.counters()            # {"a_to_b": {...}, "b_to_a": {...}}

A and B share one subnet (the relay is a wire, not a router). Address resolution frames (ARP, IPv6
neighbour discovery) are delayed like the rest but never dropped, duplicated or reordered, so a lost
solicitation cannot add a one-second stall to a measurement. Frames the relay itself sent are seen
again as PACKET_OUTGOING on its sockets and skipped (LAB-NOTES).
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
import threading
import time

from rawkit.link.impairment import Impairment, Scheduler
from rawkit.link.netns import Endpoint, Lab, Namespace
from rawkit.link.packet_socket import PACKET_IGNORE_OUTGOING
from rawkit.link.ring import PACKET_OUTGOING, SOL_PACKET

ETH_P_ALL = 0x0003
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
SO_RCVBUFFORCE = 33
RECEIVE_BUFFER = 8 << 20          # a burst while Python is busy must wait in the socket, not be dropped
FRAMES_PER_WAKEUP = 256
ND_TYPES = range(133, 138)        # router/neighbour solicitation and advertisement, redirect


def is_address_resolution(frame: bytes) -> bool:
    """ARP, or an ICMPv6 neighbour-discovery message right after the IPv6 header."""
    if len(frame) < 14:
        return False
    ethertype = frame[12] << 8 | frame[13]
    if ethertype == 0x0806:
        return True
    return ethertype == 0x86DD and len(frame) > 54 and frame[20] == 58 and frame[54] in ND_TYPES


def _open_side(device: str) -> socket.socket:
    """A promiscuous AF_PACKET socket on `device` (in the calling thread's namespace)."""
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
        except PermissionError:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        sock.bind((device, ETH_P_ALL))
        membership = struct.pack("=iHH8s", socket.if_nametoindex(device), PACKET_MR_PROMISC, 0, b"")
        sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, membership)
        sock.setblocking(False)
    except OSError as error:
        sock.close()
        raise OSError(error.errno, f"{device}: {error.strerror or error}") from None
    except BaseException:
        sock.close()
        raise
    return sock


class Relay:
    """Forwards frames between the devices `left` and `right` of the current namespace, impaired.
    Direction 0 is left to right. Run it with `start()` (a thread) or `run()`; both stop at `stop()`,
    after `duration` seconds, or once `max_frames` frames have been received."""

    def __init__(self, left: str, right: str, impairment: Impairment | None = None) -> None:
        self.scheduler = Scheduler(impairment if impairment is not None else Impairment())
        self.sockets = (_open_side(left), _open_side(right))
        self.send_failures = 0
        self._stop = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()     # counters() may be read while the loop runs
        self.failure: BaseException | None = None

    def start(self, duration: float | None = None, max_frames: int | None = None) -> None:
        self._thread = threading.Thread(target=self._run_catching, args=(duration, max_frames),
                                        name="rawkit-relay", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        """Whether the thread started by `start` is still relaying."""
        return self._thread is not None and self._thread.is_alive()

    def _run_catching(self, duration: float | None, max_frames: int | None) -> None:
        try:
            self.run(duration, max_frames)
        except BaseException as error:     # reported by stop()
            self.failure = error

    def run(self, duration: float | None = None, max_frames: int | None = None) -> None:
        """The loop: wait for frames or the next departure, offer what arrived, send what is due."""
        poller = select.poll()
        for sock in self.sockets:
            poller.register(sock.fileno(), select.POLLIN)
        poller.register(self._stop, select.POLLIN)
        scheduler = self.scheduler
        end = None if duration is None else time.monotonic() + duration
        while True:
            now = time.monotonic()
            deadline = scheduler.next_deadline()
            if end is not None:
                if now >= end:
                    return
                deadline = end if deadline is None else min(deadline, end)
            timeout = -1 if deadline is None else max(0, int((deadline - now) * 1000 + 0.999))
            ready = poller.poll(timeout)
            with self._lock:
                for fd, _event in ready:
                    if fd == self._stop:
                        return
                    direction = 0 if fd == self.sockets[0].fileno() else 1
                    self._receive(direction, time.monotonic())
                self._send(scheduler.due(time.monotonic()))
                if max_frames is not None and sum(c.received for c in scheduler.counters) >= max_frames:
                    return

    def _receive(self, direction: int, now: float) -> None:
        sock = self.sockets[direction]
        offer = self.scheduler.offer
        for _ in range(FRAMES_PER_WAKEUP):
            try:
                frame, address = sock.recvfrom(65535)
            except BlockingIOError:
                return
            if address[2] == PACKET_OUTGOING:
                continue
            offer(direction, frame, now, impair=not is_address_resolution(frame))

    def _send(self, frames: list[tuple[int, bytes]]) -> None:
        for direction, frame in frames:
            try:
                self.sockets[1 - direction].send(frame)
            except OSError:          # a full device queue: the frame is lost, as on a real wire
                self.send_failures += 1

    def counters(self) -> dict[str, dict[str, int]]:
        with self._lock:
            left, right = (counters.as_dict() for counters in self.scheduler.counters)
        return {"a_to_b": left, "b_to_a": right, "send_failures": {"total": self.send_failures}}

    def stop(self) -> None:
        """Stop the loop (frames still queued are dropped) and close the sockets; raises what the loop
        died of, if it died."""
        if self._stop < 0:
            return
        os.eventfd_write(self._stop, 1)
        if self._thread is not None:
            self._thread.join(5.0)
        for sock in self.sockets:
            sock.close()
        os.close(self._stop)
        self._stop = -1
        if self.failure is not None:
            raise self.failure

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RelayLab:
    """Namespaces A and B joined through a relay namespace: A --veth-- RELAY --veth-- B, the relay
    running in a thread. A is 198.18.`subnet`.1 and fd00:18:`subnet`::1, B ends in .2 and ::2 (both /24,
    /64). Pass `lab` to build inside an existing Lab (it is then left open); `duration` and `max_frames`
    bound the relay as in `Relay.start`."""

    def __init__(self, impairment: Impairment | None = None, *, subnet: int = 0, ipv6: bool = True,
                 lab: Lab | None = None, mtu: int | None = None, duration: float | None = None,
                 max_frames: int | None = None) -> None:
        self.impairment = impairment if impairment is not None else Impairment()
        self._own_lab = lab is None
        self.lab = lab if lab is not None else Lab()
        self.relay: Relay | None = None
        try:
            self.a = self.lab.namespace("a")
            self.relay_namespace = self.lab.namespace("relay")
            self.b = self.lab.namespace("b")
            # the relay's kernel stays silent on its veths (no router solicitations, no MLD reports)
            for scope in ("all", "default"):
                self.relay_namespace.sysctl(f"net.ipv6.conf.{scope}.disable_ipv6", 1)
            prefix = ipaddress.IPv6Address(f"fd00:18:{subnet:x}::")
            v6 = (f"{prefix + 1}/64", f"{prefix + 2}/64") if ipv6 else (None, None)
            left = self.lab.link(self.a, self.relay_namespace, ipv4=(f"198.18.{subnet}.1/24", None),
                                 ipv6=(v6[0], None), mtu=mtu)
            right = self.lab.link(self.relay_namespace, self.b, ipv4=(None, f"198.18.{subnet}.2/24"),
                                  ipv6=(None, v6[1]), mtu=mtu)
            self.a_end: Endpoint = left.a
            self.b_end: Endpoint = right.b
            self.relay = self.relay_namespace.call(Relay, left.b.device, right.a.device, self.impairment)
            self.relay.start(duration, max_frames)
        except BaseException:
            self.close()
            raise

    @property
    def namespaces(self) -> tuple[Namespace, Namespace, Namespace]:
        return self.a, self.relay_namespace, self.b

    def close(self) -> None:
        try:
            if self.relay is not None:
                self.relay.stop()
        finally:
            if self._own_lab:
                self.lab.close()

    def __enter__(self) -> RelayLab:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

"""A userspace IPv4 host on one interface: rawkit's sans-IO TCP engine driven by one event-loop thread,
with Berkeley-style sockets on top (rawkit.stack.sockets).

    with Stack(iface="vA", ip="198.18.0.10/24") as st:       # answers ARP and ping for its own address
        s = st.socket(rawkit.AF_INET, rawkit.SOCK_STREAM)
        s.connect(("198.18.0.2", 8000)); s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n"); s.recv(65536)

Why one thread and one lock: the engine is not thread-safe and needs no concurrency; the loop runs
the timers (at exactly `next_deadline()`) and takes the frames while no socket call runs; user calls
run under the same lock (`with stack.call`), send what their call produced at once, and take the
frames themselves while they run or block (Stack.wait): handing each frame from the loop thread to
the waiting one cost a second thread wake-up and a GIL hand-over per exchange.
In the own-address mode the interface must carry no kernel address equal to `ip`, or the kernel
answers for it too (RSTs); to share the kernel's address use host_address=True (see Stack), and for
a link of its own, tap=. The Stack (and its TAP device) lives in the network namespace of the thread
that creates it.
"""

from __future__ import annotations

import copy
import functools
import ipaddress
import os
import random
import select
import socket
import struct
import threading
import time
import weakref

from rawkit.link import interfaces
from rawkit.link.frame_ring import KernelChecked
from rawkit.stack.host_mode import HostPorts, HostUdp, host_addresses
from rawkit.stack.ip_link import (
    ETH_P_ARP,
    ETH_P_IP,
    ETH_P_IPV6,
    EthernetLink,
    IPPacket,
    parse_ipv4,
    parse_ipv6,
    solicited_node_bytes,
)
from rawkit.stack.links import FrameLink, TapLink
from rawkit.stack.neighbour_discovery import PROTO_ICMPV6, NeighbourDiscovery, icmpv6_message
from rawkit.stack.neighbours import Neighbours
from rawkit.stack.pmtu import fatal_unreachable, packet_too_big
from rawkit.stack.sockets import Socket
from rawkit.stack.udp import PROTO_UDP, UdpHost
from rawkit.stack.udp_fragments import PROTO_FRAGMENT, Reassembly, ipv4_fragments, ipv6_fragments, new_ident
from rawkit.stack.udp_socket import UdpSocket
from rawkit.tcp import Connection, Listener, Segment, SegmentError, Settings, State, address_sum, reset_for
from rawkit.tcp.seq import add as seq_add
from rawkit.wire.checksum import internet_checksum, ones_sum, pseudo_header_sum

PROTO_ICMP, PROTO_TCP = 1, 6
ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY = 8, 0
ICMPV6_ECHO_REQUEST, ICMPV6_ECHO_REPLY = 128, 129
EPHEMERAL_PORTS = range(32768, 61000)     # Linux ip_local_port_range
ROUTE_CACHE_SIZE = 4096
FRAMES_PER_WAKEUP = 512                   # bounds the time the lock is held by the loop
# a bulk receive acknowledges once per batch (a stretch ACK, as Linux with GRO sends one per two
# 64 KiB super-segments), but at least every this many segments, so that a sender that grows its
# window per ACK rather than per byte is not held back by a long batch. Not lower: against Linux
# (BBR), an ACK every 64 segments gave 26-28 MB/s where one per batch (about 100) gave 33-38, each
# ACK waking the sender for a smaller burst and costing us a system call (bench lab, load 7-9)
ACK_EVERY_SEGMENTS = 256
# the loop's longest sleep: a user call that arms a timer later than the loop's wake-up need not wake
# it (an eventfd write and a whole loop turn, ~5 per connect/request/close, otherwise)
MAX_SLEEP = 0.05
# the stack's default receive buffer (Linux autotunes up to 6 MiB): with the engine's 128 KiB the
# sender stalls whenever the reading thread waits for a CPU; 2 MiB gave ~35% more download on a
# loaded 2-core lab (tools/bench_tcp.py)
RECEIVE_BUFFER = 2 << 20
ConnectionKey = tuple[bytes, int, int]    # remote IP, remote port, local port
ACK_FLAG, PSH_FLAG, FIN_FLAG = 0x10, 0x08, 0x01
OFFLOAD_BYTES = 62 << 10                  # payload of one super-segment: with headers under IP's 64 KiB
TIMESTAMP_LAYOUT = b"\x01\x01\x08\x0a"     # NOP NOP TS 10: how Linux (and rawkit) lay out the option
# the fast path's view of a frame: the IP fields it checks, TCP ports, seq, ack, data offset
# byte, flags, window, then the first 4 option bytes and the TSval where timestamps would be
_IPV4_TCP = struct.Struct("!14xBxH2xHxB2x4s4sHHIIBBH4x4sI")
_IPV6_TCP = struct.Struct("!14xB3xHBx16s16sHHIIBBH4x4sI")
_FOLD_5920, _FOLD_2960, _FOLD_1488 = (1 << 5920) - 1, (1 << 2960) - 1, (1 << 1488) - 1


@functools.lru_cache(maxsize=4096)
def packed(address: str) -> bytes:
    """Address text to bytes, cached: the hot path converts the same few peers per segment."""
    return ipaddress.ip_address(address).packed


class Stack:
    """An IPv4 address (`ip` as "addr/prefixlen") and/or an IPv6 one (`ip6`) on `iface`; `gateway`
    (IPv4) for off-link peers; `settings` are the defaults of every new connection.

    Three modes, chosen here once:
      Stack(iface="vA", ip="198.18.0.10/24")   own address on an interface (AF_PACKET); rawkit
                                                answers ARP, ND and ping for it
      Stack(tap="rk0", ip="198.18.0.10/24")    rawkit is the far end of a new TAP device; the kernel
                                                side gets the peer's network (e.g. 198.18.0.1/24 on rk0)
      Stack(iface="eth0", host_address=True)   the kernel's own address(es) on iface (ip/ip6 name one,
                                                else the first global ones and the default gateway);
                                                rawkit's ports are hidden from the kernel by an nft
                                                table (rawkit.link.nft_guard), removed at close/exit
    """

    def __init__(self, iface: str | None = None, ip: str | None = None, *, ip6: str | None = None,
                 gateway: str | None = None, settings: Settings | None = None, tap: str | None = None,
                 host_address: bool = False) -> None:
        if (iface is None) == (tap is None) or (host_address and tap is not None):
            raise ValueError("a Stack needs iface or tap (one of them); host_address needs iface")
        if host_address and ip is None and ip6 is None:
            ip, ip6, found_gateway = host_addresses(iface)
            gateway = gateway or found_gateway
        if ip is None and ip6 is None:
            raise ValueError("a Stack needs ip and/or ip6")
        interface = ipaddress.IPv4Interface(ip) if ip else None
        interface6 = ipaddress.IPv6Interface(ip6) if ip6 else None
        self.address = interface.ip if interface else None
        self.address6 = interface6.ip if interface6 else None
        self.networks = [i.network for i in (interface, interface6) if i is not None]
        self.gateway = ipaddress.IPv4Address(gateway).packed if gateway else None
        self.settings = settings if settings is not None else Settings(receive_buffer_size=RECEIVE_BUFFER)
        self.secret = os.urandom(32)
        self._next_hops: dict[bytes, bytes | None] = {}
        self.link: FrameLink = TapLink(tap) if tap is not None else \
            EthernetLink(iface, self.address, self.address6, ring=True)
        try:                                        # read here, in the link's namespace
            self.mtu = interfaces.mtu(self.link.device)   # sockets advertise an MSS from it, as Linux
        except (OSError, LookupError):
            self.mtu = 0
        self.host_ports: HostPorts | None = None    # host-address mode: ports taken from the kernel
        if host_address:
            try:
                self.host_ports = HostPorts([a for a in (self.address, self.address6) if a is not None])
            except BaseException:
                self.link.close()
                raise
        self.ours = {a.packed: a for a in (self.address, self.address6) if a is not None}
        self.tables: dict[int, Neighbours] = {}        # address length (4 or 16) -> its resolver
        if self.address is not None:
            self.tables[4] = Neighbours(self.address.packed, self.link.mac)
        if self.address6 is not None:
            self.nd = NeighbourDiscovery(self.address6.packed, self.link.mac)
            self.tables[16] = self.nd
            self._ipv6_destinations = (self.address6.packed, solicited_node_bytes(self.address6.packed))
        for table in self.tables.values():      # host address: the kernel answers for it
            table.answers = not host_address
        self.connections: dict[ConnectionKey, Connection] = {}
        self.listeners: dict[tuple[int, int], Listener] = {}   # (address length 4/16, port)
        self.udp = UdpHost() if self.host_ports is None else HostUdp(self.host_ports)
        self.fragments = Reassembly()             # of UDP datagrams larger than the MTU
        self.unreachable: set[bytes] = set()      # peers whose ARP went unanswered (EHOSTUNREACH)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._wakeup = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        # the loop's epoll: while a socket call runs (`call`) the link is off in it, which epoll
        # (unlike poll) applies to a wait already in progress: the caller takes the frames
        self._link_fd = self.link.fileno()
        self._poller = select.epoll()
        self._poller.register(self._link_fd, select.EPOLLIN)
        self._poller.register(self._wakeup, select.EPOLLIN)
        self._calls = 0                           # socket calls running (not waiting on `changed`)
        self.call = SocketCall(self)
        self._driving = False                     # a caller in wait() is taking the frames
        self._driver_wakeup = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._driver_poller = select.poll()
        self._driver_poller.register(self._link_fd, select.POLLIN)
        self._driver_poller.register(self._driver_wakeup, select.POLLIN)
        self._stopping = False
        self.closed = False
        self.watched: weakref.WeakSet[Socket] = weakref.WeakSet()   # sockets whose fileno() was asked for
        self.failure: BaseException | None = None
        # the fast path's per-frame state: our addresses as bytes, pseudo-header sums by peer, and
        # the connections that took segments in this batch (a dict keeps their order)
        self._address_bytes = self.address.packed if self.address is not None else b""
        self._address6_bytes = self.address6.packed if self.address6 is not None else b""
        self._pseudo_sums: dict[bytes, int] = {}
        self._receive_sums: dict[bytes, int] = {}     # the same, byte-swapped, for the fast path
        self._predicted: dict[Connection, None] = {}
        self._loop_thread = 0
        self._sleep_until = 0.0                   # when the loop wakes by itself (lock held to change)
        self._thread = threading.Thread(target=self._run, name=f"rawkit-stack-{self.link.device}",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ public
    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM) -> Socket | UdpSocket:
        """A new socket of this stack: AF_INET or AF_INET6; SOCK_STREAM (TCP) or SOCK_DGRAM (UDP)."""
        if kind == socket.SOCK_DGRAM:
            return UdpSocket(self, family, kind)
        return Socket(self, family, kind)

    def close(self) -> None:
        """Stop the loop; connections still open are reset, as when a process dies."""
        if self._stopping:
            return
        with self.lock:
            self._stopping = True
            os.eventfd_write(self._wakeup, 1)
        self._thread.join(5.0)
        with self.lock:
            now = time.monotonic()
            for connection in list(self.connections.values()):
                connection.abort(now)
                self.flush(connection, now)
            self.closed = True
            self.notify()
            self.update_readiness()
            while self._driving:                # its poll still uses the link and the wake-up fds
                self.changed.wait(1.0)
        try:
            self.link.close()
            self._poller.close()
            os.close(self._wakeup)
            os.close(self._driver_wakeup)
        finally:
            if self.host_ports is not None:
                self.host_ports.close()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ used by sockets (lock held)
    def wait(self, timeout: float | None) -> None:
        """Wait inside `with stack.call` (lock held, as Condition.wait) until something may have
        changed or `timeout` passes. Why not just the condition: handing every frame from the loop
        thread to the waiting one costs a second thread wake-up and a GIL hand-over per exchange; so,
        when no other caller does, this thread takes the frames itself (the loop keeps the timers)."""
        in_call = self._calls > 0
        if self._driving or self._stopping or self.failure is not None or not in_call:
            if in_call:                         # another thread takes the frames meanwhile
                self._end_call(take=False)
            try:
                self.changed.wait(timeout)
            finally:
                if in_call:
                    self._begin_call()
            return
        self._driving = True
        saved = self.lock._release_save()          # the whole RLock, as Condition.wait releases it
        try:
            ready = self._driver_poller.poll(None if timeout is None else max(0, int(timeout * 1000 + 0.999)))
        finally:
            self.lock._acquire_restore(saved)
            self._driving = False
            if self._stopping:
                self.changed.notify_all()       # close() waits for the fds to be out of use
        if self._stopping:
            return
        if any(fd == self._driver_wakeup for fd, _events in ready):
            os.eventfd_read(self._driver_wakeup)
        self._step_here()

    def _link_to_loop(self, on: bool) -> None:
        """Give the link to the loop thread (`on`) or take it back (lock held)."""
        if not self._stopping:
            self._poller.modify(self._link_fd, select.EPOLLIN if on else 0)

    def _begin_call(self) -> None:
        self._calls += 1
        if self._calls == 1:
            self._link_to_loop(False)

    def _end_call(self, take: bool = True) -> None:
        """The last running call hands the link back, after taking what arrived during it (often
        the answer to what it sent), which would otherwise wake the loop thread at once."""
        self._calls -= 1
        if self._calls or self._stopping:
            return
        try:
            if take and self.failure is None and self._driver_poller.poll(0):
                self._step_here()
        finally:
            self._link_to_loop(True)

    def _step_here(self) -> None:
        """One loop step in the calling thread (lock held): waiters and fileno() learn of it."""
        try:
            active = self._step(time.monotonic())
        except BaseException as error:         # as in the loop: every socket call learns of it
            self.failure = error
            self.notify()
            raise
        if active:
            self.changed.notify_all()
            if self.watched:
                self.update_readiness()

    def notify(self) -> None:
        """Wake every waiter (lock held): those on the condition and a caller taking the frames."""
        self.changed.notify_all()
        if self._driving:
            os.eventfd_write(self._driver_wakeup, 1)

    def wake(self) -> None:
        """Make the loop recompute its deadline (a user call may have armed a timer); the loop itself
        recomputes it after every step anyway."""
        if not self._stopping and threading.get_ident() != self._loop_thread:
            os.eventfd_write(self._wakeup, 1)

    def update_readiness(self) -> None:
        """Bring every watched socket's fileno() in line with whether recv/accept would block."""
        for sock in list(self.watched):
            sock.update_readiness()

    def free_port(self) -> int:
        """An ephemeral port nobody uses (host-address mode: taken from the kernel as well)."""
        in_use = {key[2] for key in self.connections} | {key[1] for key in self.listeners}
        for _ in range(64):
            port = random.choice(EPHEMERAL_PORTS)
            if port not in in_use and (self.host_ports is None or self.host_ports.claim(port)):
                return port
        raise OSError(98, "no free local port")

    def port_in_use(self, port: int, reuse: bool = False) -> bool:
        """Whether `port` is taken; in host-address mode a free port is taken from the kernel here.
        As Linux: with `reuse` (SO_REUSEADDR) only a listener, or a connection without it, takes it."""
        in_use = any(key[1] == port for key in self.listeners)
        in_use = in_use or any(key[2] == port and not (reuse and connection.settings.reuse_address)
                               for key, connection in self.connections.items())
        return in_use or (self.host_ports is not None and not self.host_ports.claim(port))

    def release_port(self, port: int) -> None:
        """Host-address mode: give `port` back to the kernel once no listener or connection uses it."""
        if self.host_ports is None or port not in self.host_ports:
            return
        if any(key[1] == port for key in self.listeners) or any(key[2] == port for key in self.connections):
            return
        self.host_ports.release(port)

    def local_address(self, family: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        return self.address if family == socket.AF_INET else self.address6

    def _offloads(self) -> bool:
        """Whether TCP goes through the link's send offload; not for a subclass that watches every
        outgoing segment in _send_tcp (rawkit connect -v), which must keep seeing them all there."""
        return getattr(self.link, "offload", None) is not None and type(self)._send_tcp is Stack._send_tcp

    def register(self, connection: Connection) -> None:
        if self._offloads():
            connection.offload_bytes = OFFLOAD_BYTES
        remote = packed(connection.remote[0])
        self.connections[(remote, connection.remote[1], connection.local[1])] = connection

    def flush(self, connection: Connection, now: float) -> None:
        """Send what the connection has to say now; forget it once CLOSED and silent."""
        remote = packed(connection.remote[0])
        segments = connection.poll(now)
        if segments:
            self._send_segments(remote, segments, connection.send_mss, now)
        connection.events()
        if connection.state is State.CLOSED:
            key = (remote, connection.remote[1], connection.local[1])
            if self.connections.get(key) is connection:
                del self.connections[key]
                self.release_port(key[2])
        deadline = connection.next_deadline()
        if deadline is not None and deadline < self._sleep_until:
            self.wake()

    # ------------------------------------------------------------------ event loop
    def _run(self) -> None:
        self._loop_thread = threading.get_ident()
        poller = self._poller
        try:
            while True:
                with self.lock:
                    if self._stopping:
                        return
                    deadline = self._next_deadline()
                    now = time.monotonic()
                    until = now + MAX_SLEEP if deadline is None else min(deadline, now + MAX_SLEEP)
                    self._sleep_until = until
                for fd, _events in poller.poll(max(0.0, until - now)):
                    if fd == self._wakeup:
                        os.eventfd_read(self._wakeup)
                with self.lock:
                    if self._stopping:
                        return
                    if not self._step(time.monotonic()):
                        continue          # only a user call's wake-up: no waiter has news
                    self.notify()
                    if self.watched:
                        self.update_readiness()
        except BaseException as error:     # surfaced to every blocked and later socket call
            with self.lock:
                self.failure = error
                self.notify()

    def _next_deadline(self) -> float | None:
        deadlines = [c.next_deadline() for c in self.connections.values()]
        deadlines += [table.next_deadline() for table in self.tables.values()]
        return min((d for d in deadlines if d is not None), default=None)

    def _step(self, now: float) -> bool:
        """Take the waiting frames and run due timers; False when there was nothing to do."""
        predicted = self._predicted
        frames = self.link.receive_batch(FRAMES_PER_WAKEUP)
        active = bool(frames)
        if frames:
            self._take_frames(frames, now)
        if predicted:                  # one ACK per connection for the whole batch (a stretch ACK)
            for connection in predicted:
                self.flush(connection, now)
            predicted.clear()
        for connection in list(self.connections.values()):
            deadline = connection.next_deadline()
            if deadline is not None and deadline <= now:
                self.flush(connection, now)
                active = True
        for table in self.tables.values():
            self._send_frames(table.poll(now))
            while table.failed:
                self._on_unreachable(table.failed.pop(), now)
                active = True
        return active

    def _take_frames(self, frames: list[bytes], now: float) -> None:
        """A batch of frames, in order. The bulk-receive fast path: an IPv4 (no options, unfragmented) or
        IPv6 (no extension header) frame to our address carrying TCP data with ACK (maybe PSH) and no
        other flag, no options or just timestamps, whose checksums hold and which continues its
        connection's predicted run (Connection.prediction) joins that run; a run goes to its connection
        in one call (receive_run) when a frame breaks it and at the end of the batch, and `_step` flushes
        the connection once after the batch (a stretch ACK). Every other frame takes the general path
        (_on_frame, which also drops what fails a checksum) once the run before it is handed over.
        Why the parse is written out here and not in a function of its own: the call and the tuple it
        returned were ~4% of the instructions per segment (callgrind).
        The checksums are summed as little-endian integers (faster to build in Python than big-endian):
        the ones' complement sum of byte-swapped words is the byte-swapped sum (RFC 1071 2(B))."""
        connections, predicted, sums = self.connections, self._predicted, self._receive_sums
        address, address6 = self._address_bytes, self._address6_bytes
        unpack4, unpack6, from_bytes = _IPV4_TCP.unpack_from, _IPV6_TCP.unpack_from, int.from_bytes
        current: Connection | None = None       # the connection whose run is being gathered
        payloads: list[bytes] = []
        first_tsval: int | None = None
        next_seq = ack_wanted = window_wanted = last_tsval = space = 0
        run_source, run_ports = b"", (0, 0)     # the current run's key: its frames need no lookup
        pseudo_source, pseudo = b"", 0          # the last peer's pseudo-header sum (our address is fixed)
        for frame in frames:
            size, kind, start = len(frame), frame[12:14], 0       # start: where TCP begins, 0 if not ours
            if kind == b"\x08\x00" and size >= 62:
                (version, total, fragment, proto, source, destination, sport, dport, sequence, ack, offset,
                 flags, window, layout, tsval) = unpack4(frame)
                end = total + 14
                if version == 0x45 and proto == PROTO_TCP and destination == address \
                        and not fragment & 0x3FFF and 54 < end <= size \
                        and not from_bytes(frame[14:34], "little") % 0xFFFF:    # no options, whole, sum holds
                    start = 34
            elif kind == b"\x86\xdd" and size >= 82:
                (version, payload_length, next_header, source, destination, sport, dport, sequence, ack,
                 offset, flags, window, layout, tsval) = unpack6(frame)
                end = payload_length + 54
                if version >> 4 == 6 and next_header == PROTO_TCP and destination == address6 \
                        and 74 < end <= size:
                    start = 54
            if start and flags & ~PSH_FLAG == ACK_FLAG:
                if offset == 0x80 and layout == TIMESTAMP_LAYOUT:
                    data = start + 32
                elif offset == 0x50:
                    data, tsval = start + 20, None
                else:
                    data = end                      # other options: the general path
                if data < end and type(frame) is not KernelChecked:     # no payload: the general path
                    if source != pseudo_source:
                        pseudo_source, pseudo = source, sums.get(source)
                        if pseudo is None:
                            if len(sums) >= ROUTE_CACHE_SIZE:
                                sums.clear()
                            pseudo = address_sum(source, destination)
                            pseudo = sums[source] = (pseudo >> 8) | (pseudo & 0xFF) << 8
                    length = end - start
                    value = from_bytes(frame[start:end], "little")
                    value = (value >> 5920) + (value & _FOLD_5920)    # folds at multiples of 16 bits keep
                    value = (value >> 2960) + (value & _FOLD_2960)    # the sum mod 0xFFFF and are cheaper
                    value = (value >> 1488) + (value & _FOLD_1488)    # than a long division of it all
                    if (value + pseudo + (length >> 8) + ((length & 0xFF) << 8)) % 0xFFFF:
                        data = end
                if data < end:
                    if current is not None and source == run_source and (sport, dport) == run_ports:
                        connection = current
                    else:
                        connection = connections.get((source, sport, dport))
                    if connection is not current and connection is not None:
                        if payloads:
                            current.receive_run(payloads, first_tsval, now)
                            predicted[current] = None
                            payloads = []
                        expected = connection.prediction()
                        current = connection if expected is not None else None
                        if expected is not None:
                            next_seq, ack_wanted, window_wanted, last_tsval, space = expected
                            run_source, run_ports = source, (sport, dport)
                    length = end - data
                    if connection is current and connection is not None and sequence == next_seq \
                            and ack == ack_wanted and window == window_wanted and length <= space and (
                                last_tsval < 0 if tsval is None else
                                last_tsval >= 0 and (tsval - last_tsval) & 0xFFFFFFFF < 0x80000000):
                        if not payloads:
                            first_tsval = tsval
                        payloads.append(frame[data:end])
                        next_seq = (next_seq + length) & 0xFFFFFFFF
                        space -= length
                        if tsval is not None:
                            last_tsval = tsval
                        if len(payloads) >= ACK_EVERY_SEGMENTS:
                            current.receive_run(payloads, first_tsval, now)
                            payloads = []
                            self.flush(current, now)        # its ACK now; the run restarts from what
                            current = None                  # the connection predicts after it
                        continue
            if payloads:
                current.receive_run(payloads, first_tsval, now)
                predicted[current] = None
                payloads = []
            current = None                  # the general path may change what is predicted
            self._on_frame(frame, now)
        if payloads:
            current.receive_run(payloads, first_tsval, now)
            predicted[current] = None

    def _on_unreachable(self, ip: bytes, now: float) -> None:
        """ARP failed: connections still opening to that host fail with EHOSTUNREACH, as on Linux."""
        self.unreachable.add(ip)
        for key, connection in list(self.connections.items()):
            if key[0] == ip and connection.state is State.SYN_SENT:
                connection.abort(now)
                self.flush(connection, now)

    def _on_frame(self, frame: bytes, now: float) -> None:
        if len(frame) < 14:
            return
        ethertype = int.from_bytes(frame[12:14], "big")
        if ethertype == ETH_P_ARP and 4 in self.tables:
            self._send_frames(self.tables[4].handle_arp(frame[14:], now))
            return
        ip_bytes = frame[14:]
        checked = type(frame) is KernelChecked     # not for a reassembled datagram: set to False there
        if ethertype == ETH_P_IP and self.address is not None:
            packet = parse_ipv4(ip_bytes, self.address.packed)
            if packet is None:                  # a UDP fragment, or nothing for us
                whole = self.fragments.add_ipv4(ip_bytes, self.address.packed, now)
                packet, ip_bytes = whole if whole is not None else (None, ip_bytes)
                checked = False
        elif ethertype == ETH_P_IPV6 and self.address6 is not None:
            packet = parse_ipv6(ip_bytes, self._ipv6_destinations)
            if packet is not None and packet.proto == PROTO_FRAGMENT:
                whole = self.fragments.add_ipv6(packet, now)
                packet, ip_bytes = whole if whole is not None else (None, ip_bytes)
                checked = False
        else:
            return
        if packet is None:
            return
        if packet.proto == PROTO_TCP and packet.dst in self.ours:
            self._on_tcp(packet.src, packet.dst, packet.payload, now, checked)
        elif packet.proto == PROTO_UDP and packet.dst in self.ours:
            reply = self.udp.receive(packet.src, packet.dst, ip_bytes, packet.payload, now, checked)
            if reply is not None and self.host_ports is None:    # else the kernel answers for its ports
                self.send_ip(packet.src, reply[0], reply[1], now)
        elif packet.proto == PROTO_ICMP:
            self._on_icmp(packet.src, packet.payload, now)
        elif packet.proto == PROTO_ICMPV6:
            self._on_icmpv6(packet, now)

    def _on_icmp(self, source: bytes, message: bytes, now: float) -> None:
        if len(message) < 8 or ones_sum(message) != 0xFFFF:
            return
        if message[0] != ICMP_ECHO_REQUEST:
            self._on_packet_too_big(4, message, now)
            self.udp.icmp_error(4, message)     # an error about one of our datagrams, or nothing
            return
        if self.host_ports is not None:         # the kernel answers ping for its own address
            return
        reply = bytes((ICMP_ECHO_REPLY, 0, 0, 0)) + message[4:]
        reply = reply[:2] + internet_checksum(reply).to_bytes(2, "big") + reply[4:]
        self._send_ip(source, self.link.ipv4_packet(self.address.packed, source, PROTO_ICMP, reply), now)

    def _on_icmpv6(self, packet: IPPacket, now: float) -> None:
        message = packet.payload
        if len(message) < 8 or internet_checksum(
                message, pseudo_header_sum(packet.src, packet.dst, PROTO_ICMPV6, len(message))) != 0:
            return
        if message[0] < 128:                    # an error message (RFC 4443 2.1)
            self._on_packet_too_big(16, message, now)
            self.udp.icmp_error(16, message)
        elif message[0] == ICMPV6_ECHO_REQUEST and packet.dst == self.address6.packed:
            if self.host_ports is not None:     # the kernel answers ping for its own address
                return
            reply = icmpv6_message(packet.dst, packet.src, bytes((ICMPV6_ECHO_REPLY, 0, 0, 0)) + message[4:])
            self._send_ip(packet.src, self.link.ipv6_packet(packet.dst, packet.src, PROTO_ICMPV6, reply), now)
        else:
            self._send_frames(self.nd.handle_nd(packet, now))

    def _on_packet_too_big(self, family: int, message: bytes, now: float) -> None:
        """Fragmentation needed / packet too big about one of our TCP segments, or an error that
        drops a half-open connection (as Linux): the engine decides."""
        fatal = fatal_unreachable(family, message)
        if fatal is not None:
            half_open = self.connections.get(fatal[:3])
            if half_open is not None and half_open.unreachable(fatal[3]):
                self.flush(half_open, now)
            return
        report = packet_too_big(family, message)
        if report is None:
            return
        connection = self.connections.get((report.remote, report.remote_port, report.local_port))
        if connection is not None and connection.packet_too_big(report.path_mss, report.sequence, now):
            self.flush(connection, now)

    def _on_tcp(self, source: bytes, local: bytes, data: bytes, now: float, checked: bool = False) -> None:
        if not checked:                 # the pseudo-header sum of a peer we talk to is kept by the send path
            pseudo = self._pseudo_sums.get(source)
            total = (address_sum(source, local) if pseudo is None else pseudo) + len(data)
            if ones_sum(data, (total & 0xFFFF) + (total >> 16)) != 0xFFFF:
                return
        try:
            segment = Segment.parse(data)
        except SegmentError:
            return
        key = (source, segment.sport, segment.dport)
        connection = self.connections.get(key)
        listener = self.listeners.get((len(source), segment.dport))
        if connection is not None and listener is not None and connection.allows_new_connection(segment):
            del self.connections[key]
            connection = None
        if connection is not None:
            connection.receive(segment, now)
            self.flush(connection, now)
        elif listener is not None:
            result = listener.receive(segment, now, (str(self.ours[local]), segment.dport),
                                      (str(ipaddress.ip_address(source)), segment.sport))
            for reply in result.replies:
                self._send_tcp(source, reply, now)
            if result.connection is not None:
                if self._offloads():
                    result.connection.offload_bytes = OFFLOAD_BYTES
                self.connections[key] = result.connection
                self.flush(result.connection, now)
        elif self.host_ports is None or segment.dport in self.host_ports:   # else: the kernel's flow
            reply = reset_for(segment)
            if reply is not None:
                self._send_tcp(source, reply, now)

    # ------------------------------------------------------------------ output
    def send_ip(self, destination: bytes, proto: int, payload: bytes, now: float, mtu: int = 0) -> None:
        """One IP packet from our address of `destination`'s family (lock held); fragments when it
        would not fit `mtu` (0: it fits)."""
        if len(destination) == 4:
            source = self.address.packed
            if mtu and 20 + len(payload) > mtu:
                packets = ipv4_fragments(source, destination, proto, payload, mtu, new_ident(4))
            else:
                packets = [self.link.ipv4_packet(source, destination, proto, payload)]
        else:
            source = self.address6.packed
            if mtu and 40 + len(payload) > mtu:
                packets = ipv6_fragments(source, destination, proto, payload, mtu, new_ident(16))
            else:
                packets = [self.link.ipv6_packet(source, destination, proto, payload)]
        for packet in packets:
            self._send_ip(destination, packet, now)

    def _send_segments(self, destination: bytes, segments: list[Segment], mss: int, now: float) -> None:
        """A connection's output. Where the link offloads (EthernetLink.send_tcp_offloaded) and the
        neighbour is known, back-to-back data segments of whole MSS-sized pieces (the engine builds
        them that way when `offload_bytes` is set) go as one super-segment the kernel cuts at `mss`, and
        no checksum is computed here: an upload costs Python one header per run instead of a segment,
        a checksum and a system call per MSS. Otherwise each segment goes whole, cut here if needed."""
        link = self.link
        next_hop = self._next_hops.get(destination, b"")
        mac = None
        if next_hop and self._offloads():
            mac = self.tables[len(destination)].lookup(next_hop, now)
        if mac is None:
            for segment in segments:
                if len(segment.payload) > mss:
                    for piece in _cut(segment, mss):
                        self._send_tcp(destination, piece, now)
                else:
                    self._send_tcp(destination, segment, now)
            return
        pseudo = self._pseudo_sums.get(destination)
        if pseudo is None:
            if len(self._pseudo_sums) >= ROUTE_CACHE_SIZE:
                self._pseudo_sums.clear()
            local = self._address_bytes if len(destination) == 4 else self._address6_bytes
            pseudo = self._pseudo_sums[destination] = address_sum(destination, local)
        index, count = 0, len(segments)
        while index < count:
            first = last = segments[index]
            payloads, total, end = [first.payload], len(first.payload), index + 1
            if total and first.flags == ACK_FLAG and total % mss == 0:
                fields = (first.ack, first.window, first.timestamp, first.sack_blocks)
                expected = seq_add(first.seq, total)
                while end < count:
                    following = segments[end]
                    length = len(following.payload)
                    if following.seq != expected or not 0 < length <= OFFLOAD_BYTES - total or \
                            following.flags & ~(PSH_FLAG | FIN_FLAG) != ACK_FLAG or (
                                following.ack, following.window, following.timestamp,
                                following.sack_blocks) != fields:
                        break
                    payloads.append(following.payload)
                    total += length
                    last, end = following, end + 1
                    expected = seq_add(expected, length)
                    if length % mss or following.flags != ACK_FLAG:
                        break               # only the run's last piece may be short, PSH or FIN
            if end == index + 1 and total <= mss:      # one segment: the checksum is cheap, no header copy
                data = first.to_bytes(pseudo)           # (framed here: the route and MAC are known)
                if len(destination) == 4:
                    packet = link.ipv4_packet(self._address_bytes, destination, PROTO_TCP, data)
                    link.send_frame(mac, ETH_P_IP, packet)
                else:
                    packet = link.ipv6_packet(self._address6_bytes, destination, PROTO_TCP, data)
                    link.send_frame(mac, ETH_P_IPV6, packet)
                index = end
                continue
            header = Segment(first.sport, first.dport, first.seq, first.ack, last.flags, first.window,
                             b"", timestamp=first.timestamp, sack_blocks=first.sack_blocks, mss=first.mss,
                             wscale=first.wscale, sack_permitted=first.sack_permitted,
                             urgptr=first.urgptr, extra_options=first.extra_options).to_bytes(None)
            tcp_length = len(header) + total
            partial = pseudo + tcp_length
            partial = (partial & 0xFFFF) + (partial >> 16)
            partial = (partial & 0xFFFF) + (partial >> 16)
            header = header[:16] + partial.to_bytes(2, "big") + header[18:]
            if len(destination) == 4:
                head = link.ipv4_header(self._address_bytes, destination, PROTO_TCP, tcp_length) + header
                transport, ethertype = 20, ETH_P_IP
            else:
                head = link.ipv6_header(self._address6_bytes, destination, PROTO_TCP, tcp_length) + header
                transport, ethertype = 40, ETH_P_IPV6
            link.send_tcp_offloaded(mac, ethertype, head, transport,
                                    payloads[0] if len(payloads) == 1 else b"".join(payloads), mss)
            index = end

    def _send_tcp(self, destination: bytes, segment: Segment, now: float) -> None:
        source = self._address_bytes if len(destination) == 4 else self._address6_bytes
        pseudo = self._pseudo_sums.get(destination)      # the receive path's cache: the sum is symmetric
        if pseudo is None:
            if len(self._pseudo_sums) >= ROUTE_CACHE_SIZE:
                self._pseudo_sums.clear()
            pseudo = self._pseudo_sums[destination] = address_sum(destination, source)
        data = segment.to_bytes(pseudo)
        if len(destination) == 4:
            packet = self.link.ipv4_packet(source, destination, PROTO_TCP, data)
        else:
            packet = self.link.ipv6_packet(source, destination, PROTO_TCP, data)
        self._send_ip(destination, packet, now)

    def _send_ip(self, destination: bytes, packet: bytes, now: float) -> None:
        next_hop = self._next_hops.get(destination, b"")
        if next_hop == b"":
            if len(self._next_hops) >= ROUTE_CACHE_SIZE:    # many strangers (RSTs to a scan): start over
                self._next_hops.clear()
            next_hop = self._next_hops[destination] = self._route(destination)
        if next_hop is None:              # no route: dropped; the connection times out
            return
        table = self.tables[len(destination)]
        mac = table.lookup(next_hop, now)
        if mac is not None:               # the common case, without resolve's list of frames
            self.link.send_frame(mac, table.ethertype, packet)
        else:
            self._send_frames(table.resolve(next_hop, packet, now))

    def _route(self, destination: bytes) -> bytes | None:
        """The on-link neighbour a packet to `destination` goes to (itself, the gateway, or None)."""
        address = ipaddress.ip_address(destination)
        if any(address in network for network in self.networks):
            return destination
        return self.gateway if len(destination) == 4 else None

    def _send_frames(self, frames: list[tuple[bytes, int, bytes]]) -> None:
        for mac, ethertype, payload in frames:
            self.link.send_frame(mac, ethertype, payload)


class SocketCall:
    """`with stack.call:` around a socket call: the stack's lock, and the link taken from the loop
    thread while the call runs (Stack.wait, Stack._end_call), so the frames it provokes are taken
    by the calling thread instead of waking the loop and queueing for the lock behind the call."""

    __slots__ = ("_stack", "_lock")

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self._lock = stack.lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._stack._begin_call()
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._stack._end_call()
        finally:
            self._lock.release()


def _cut(segment: Segment, mss: int) -> list[Segment]:
    """A segment of several MSS (built for a link that cuts it) as MSS-sized segments, for a path that
    cannot: PSH and FIN stay on the last, as GSO leaves them."""
    pieces, payload = [], segment.payload
    for start in range(0, len(payload), mss):
        piece = copy.copy(segment)
        piece.seq = seq_add(segment.seq, start)
        piece.payload = payload[start:start + mss]
        if start + mss < len(payload):
            piece.flags = segment.flags & ~(PSH_FLAG | FIN_FLAG)
        pieces.append(piece)
    return pieces

"""`--target rawkit`: the script's system calls made on rawkit's own sockets, so rawkit's TCP engine is
the side under test — the same script that checks Linux shows how Linux-like rawkit is.

A rawkit `Stack` claims the script's local address on the runner's TAP device (AF_PACKET, "own
address" mode; the kernel gets no address there), configured as the script's host is (the
packetdrill defaults: receive buffer and window scale from tcp_rmem, send buffer from tcp_wmem).
Each syscall line is read by the shared pure code (rawkit.script.syscall_args) and becomes the
matching rawkit Socket call; the result or OSError errno is judged by the same comparison the kernel
target uses. Calls run in script order on one worker thread, so a blocking call holds back later
ones, as packetdrill's syscall thread does.

What rawkit sockets do not have is refused with a reason rather than imitated: other socket types,
epoll, files and pipes, control messages, NULL-buffer (EFAULT) checks, send/recv flags beyond
MSG_DONTWAIT/MSG_NOSIGNAL, socket options rawkit lacks, tcpi_* fields without an engine equivalent.
"""

from __future__ import annotations

import errno
import math
import queue
import select
import struct
import threading
import time
from collections.abc import Callable

from rawkit.script import syscall_args as sa
from rawkit.script.nodes import SyscallEvent
from rawkit.script.target import QueuedCall, ScriptNet, Symbols, fail_queued
from rawkit.script.tcp_info import SYMBOLS as OPTION_BITS
from rawkit.stack.sockets import Socket
from rawkit.stack.stack import Stack
from rawkit.tcp import Connection, Settings
from rawkit.tcp.congestion import MAX_WINDOW
from rawkit.tcp.states import CAN_SEND, State

C = sa.CONSTANTS
# the packetdrill defaults (tcp_rmem default / max, tcp_wmem default): Linux offers the window scale
# that lets 16 bits describe tcp_rmem's maximum
LINUX_SETTINGS = {"receive_buffer_size": 540000, "send_buffer_size": 262144, "window_scale": 8}
SUPPORTED_FLAGS = C["MSG_DONTWAIT"] | C["MSG_NOSIGNAL"]
TCP_INFINITE_SSTHRESH = 0x7FFFFFFF
LINUX_STATES = {
    State.ESTABLISHED: 1, State.SYN_SENT: 2, State.SYN_RECEIVED: 3, State.FIN_WAIT_1: 4,
    State.FIN_WAIT_2: 5, State.TIME_WAIT: 6, State.CLOSED: 7, State.CLOSE_WAIT: 8, State.LAST_ACK: 9,
    State.LISTEN: 10, State.CLOSING: 11,
}
POLL_WAIT_STEP = 0.05
SETTLE_LIMIT, SETTLE_STEP = 0.05, 0.002     # seconds
_STOP = object()


class _Refused(Exception):
    """The line is well formed but rawkit sockets have no such thing; the message says what."""


def _fd_arg(value: object) -> int:
    if not isinstance(value, int):
        raise _Refused(f"expected an fd, got {value!r}")
    return value


class RawkitTarget:
    """rawkit's Stack and sockets as the side under test (the `Target` protocol)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings if settings is not None else Settings(**LINUX_SETTINGS)
        self.stack: Stack | None = None
        self._net: ScriptNet | None = None
        self._jobs: queue.Queue[object] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._sockets: dict[int, Socket] = {}     # script fd -> socket
        self._under_test: int | None = None       # script fd of the latest socket()/accept()

    # -- Target protocol ----------------------------------------------------------------------
    def start(self, net: ScriptNet) -> None:
        address = f"{net.local_ip}/{net.prefix_len}"
        if net.ip_version == 4:
            arguments = {"ip": address, "gateway": net.gateway_ip}
        else:
            arguments = {"ip6": address}
        self.stack = net.call(lambda: Stack(net.device, settings=self.settings, **arguments))
        self._net = net
        self._worker = threading.Thread(target=self._serve, name="rawkit-target", daemon=True)
        self._worker.start()

    def check(self, event: SyscallEvent, symbols: Symbols) -> str | None:
        try:
            self._validate(sa.prepare(event, symbols))
        except (sa.ArgumentError, _Refused) as error:
            return str(error)
        return None

    def begin(self, event: SyscallEvent, symbols: Symbols) -> QueuedCall:
        try:
            call = sa.prepare(event, symbols)
            self._validate(call)
        except (sa.ArgumentError, _Refused) as error:
            pending = QueuedCall(None)
            pending.finish(str(error))
            return pending
        pending = QueuedCall(call)
        self._jobs.put(pending)
        return pending

    def tcp_info(self) -> dict[str, int]:
        """The tcpi_* values rawkit's engine has an equivalent for, of the latest socket()/accept()."""
        sock = self._sockets.get(self._under_test) if self._under_test is not None else None
        if sock is None or self.stack is None:
            raise RuntimeError("no open socket to read TCP_INFO from")
        self._settle()                # a `+0 %{ }%` right after a packet line sees its effect, as on Linux
        with self.stack.lock:
            if sock.listener is not None:
                return {"tcpi_state": LINUX_STATES[State.LISTEN]}
            if sock.connection is None:
                return {"tcpi_state": LINUX_STATES[State.CLOSED]}
            return connection_info(sock.connection, time.monotonic())

    def close(self) -> None:
        """Close every socket, stop the worker and the stack (which resets what is still open)."""
        self._jobs.put(_STOP)
        for sock in list(self._sockets.values()):
            sock.close()
        self._sockets.clear()
        if self.stack is not None:
            self.stack.close()
        if self._worker is not None:
            self._worker.join(2.0)
        fail_queued(self._jobs, "the target closed before this call ran")

    # -- checking what rawkit can do ----------------------------------------------------------------
    def _validate(self, call: sa.Call) -> None:
        name, args = call.name, call.args
        if not hasattr(self, f"_do_{name}"):
            raise _Refused(f"rawkit target: rawkit has no {name}() (only sockets, fcntl, ioctl and poll)")
        if name in ("read", "write", "recv", "send", "recvfrom", "sendto") and args[1] is True:
            raise _Refused("rawkit target: NULL buffers (the kernel's EFAULT check) do not exist for "
                           "rawkit sockets")
        if name in ("recv", "send", "recvfrom", "sendto", "recvmsg", "sendmsg"):
            flags = args[-1] if name.endswith("msg") else args[3]
            if isinstance(flags, int) and flags & ~SUPPORTED_FLAGS:
                names = sa.flag_names(flags & ~SUPPORTED_FLAGS, "MSG_")
                raise _Refused(f"rawkit target: rawkit sockets take no {names}")
        if name in ("recvmsg", "sendmsg"):
            msg = args[1]
            if isinstance(msg, sa.Msghdr) and (msg.control is not None or msg.flags):
                raise _Refused("rawkit target: rawkit sockets have no control messages or msg_flags")
        if name == "socket":
            kind = args[1]
            if isinstance(kind, int) and kind & ~(C["SOCK_NONBLOCK"] | C["SOCK_CLOEXEC"]) != C["SOCK_STREAM"]:
                raise _Refused("rawkit target: only SOCK_STREAM sockets run on rawkit's TCP")
        if name == "fcntl" and args[1] not in (C["F_GETFL"], C["F_SETFL"]):
            raise _Refused("rawkit target: fcntl() supports F_GETFL and F_SETFL")
        if name == "ioctl" and args[1] not in (C["SIOCINQ"], C["SIOCOUTQ"], C["SIOCOUTQNSD"]):
            raise _Refused("rawkit target: ioctl() supports SIOCINQ, SIOCOUTQ and SIOCOUTQNSD")
        if name == "setsockopt" and args[3] is None:
            raise sa.ArgumentError("setsockopt() needs a value, not ...")
        if name == "getsockopt" and isinstance(args[3], sa.Linger):
            raise _Refused("rawkit target: SO_LINGER is not readable from rawkit sockets")

    # -- the worker ---------------------------------------------------------------------------
    def _serve(self) -> None:
        while True:
            job = self._jobs.get()
            if not isinstance(job, QueuedCall) or job.call is None:
                return
            try:
                self._settle()
                reason = getattr(self, f"_do_{job.call.name}")(job.call)
            except _Refused as refused:
                reason = str(refused)
            except Exception as error:  # never leave the runner waiting on a call that died
                reason = f"rawkit target failed in {job.call.name}(): {type(error).__name__}: {error}"
            job.finish(reason)

    def _settle(self) -> None:
        """Let the stack take in the frames already injected before the call runs, as the kernel
        does (it processes a frame written to the TAP device before the write returns); without
        this a call right after a packet line (`+0 getsockopt(... SO_ERROR ...)`) races the stack."""
        stack = self.stack
        if stack is None:
            return
        waiting = select.poll()
        waiting.register(stack.link.fileno(), select.POLLIN)
        deadline = time.monotonic() + SETTLE_LIMIT
        with stack.lock:
            while waiting.poll(0) and time.monotonic() < deadline:
                stack.changed.wait(SETTLE_STEP)

    def _socket(self, script_fd: object) -> Socket:
        fd = _fd_arg(script_fd)
        if fd not in self._sockets:
            raise _Refused(f"unable to find fd with script fd {fd}")
        return self._sockets[fd]

    @staticmethod
    def _judge(call: sa.Call, action: Callable[[], int]) -> tuple[int, str | None]:
        """Run `action` (the socket call, returning the syscall's value); an OSError becomes -1 and
        its errno, as the system call would report it. Returns (value, mismatch)."""
        try:
            value, error = action(), 0
        except OSError as failure:      # ETIMEDOUT is a TimeoutError too: only a socket timeout has no errno
            value, error = -1, failure.errno if failure.errno is not None else errno.EAGAIN
        return value, sa.compare_result(call.expected, value, error, fd_result=call.creates_fd)

    def _new_socket(self, call: sa.Call, sock: Socket) -> str | None:
        script_fd = call.expected.value
        if script_fd is None or script_fd in self._sockets:
            sock.close()
            return f"duplicate fd {script_fd} in script"
        self._sockets[script_fd] = sock
        self._under_test = script_fd
        return None

    def _endpoint(self, local: bool) -> tuple[str, int]:
        net = self._net
        if net is None:
            raise _Refused("the target has not started")
        return (net.local_ip, net.local_port) if local else (net.remote_ip, net.remote_port)

    # -- one method per system call: None (match) or the mismatch -------------------------------
    def _do_socket(self, call: sa.Call) -> str | None:
        domain, kind, _protocol = call.args
        net, stack = self._net, self.stack
        if net is None or stack is None:
            raise _Refused("the target has not started")
        family = domain if isinstance(domain, int) else C["AF_INET6" if net.ip_version == 6 else "AF_INET"]
        made: list[Socket] = []

        def make() -> int:
            sock = stack.socket(family)
            if isinstance(kind, int) and kind & C["SOCK_NONBLOCK"]:
                sock.setblocking(False)
            made.append(sock)                 # type: ignore[arg-type]  (SOCK_STREAM: a TCP Socket)
            return 0

        value, problem = self._judge(call, make)
        if problem or value < 0:
            for sock in made:
                sock.close()
            return problem
        return self._new_socket(call, made[0])

    def _do_bind(self, call: sa.Call) -> str | None:
        sock = self._socket(call.args[0])
        return self._judge(call, lambda: _zero(sock.bind(self._endpoint(local=True))))[1]

    def _do_listen(self, call: sa.Call) -> str | None:
        sock, backlog = self._socket(call.args[0]), call.args[1]
        return self._judge(call, lambda: _zero(sock.listen(int(backlog))))[1]    # type: ignore[call-overload]

    def _do_accept(self, call: sa.Call) -> str | None:
        sock = self._socket(call.args[0])
        accepted: list[Socket] = []

        def accept() -> int:
            accepted.append(sock.accept()[0])
            return 0

        value, problem = self._judge(call, accept)
        if problem or value < 0:
            return problem
        return self._new_socket(call, accepted[0])

    def _do_connect(self, call: sa.Call) -> str | None:
        sock = self._socket(call.args[0])
        return self._judge(call, lambda: _zero(sock.connect(self._endpoint(local=False))))[1]

    def _receive(self, call: sa.Call, fd: object, count: int, flags: int) -> str | None:
        sock = self._socket(fd)
        return self._judge(call, lambda: len(_with_flags(sock, flags, lambda: sock.recv(count))))[1]

    def _write(self, call: sa.Call, fd: object, count: int, flags: int) -> str | None:
        sock = self._socket(fd)

        def write() -> int:
            if sock.gettimeout() is None and not flags & C["MSG_DONTWAIT"]:
                sock.sendall(bytes(count))        # a blocking write returns once all is queued
                return count
            return _with_flags(sock, flags, lambda: sock.send(bytes(count)))

        return self._judge(call, write)[1]

    def _do_read(self, call: sa.Call) -> str | None:
        return self._receive(call, call.args[0], int(call.args[2]), 0)     # type: ignore[call-overload]

    def _do_recv(self, call: sa.Call) -> str | None:
        fd, _null, count, flags = call.args
        return self._receive(call, fd, int(count), int(flags))             # type: ignore[call-overload]

    _do_recvfrom = _do_recv

    def _do_write(self, call: sa.Call) -> str | None:
        return self._write(call, call.args[0], int(call.args[2]), 0)       # type: ignore[call-overload]

    def _do_send(self, call: sa.Call) -> str | None:
        fd, _null, count, flags = call.args[:4]
        return self._write(call, fd, int(count), int(flags))               # type: ignore[call-overload]

    _do_sendto = _do_send

    def _do_recvmsg(self, call: sa.Call) -> str | None:
        fd, msg, flags = call.args
        assert isinstance(msg, sa.Msghdr)
        return self._receive(call, fd, sum(msg.iov), int(flags))           # type: ignore[call-overload]

    def _do_sendmsg(self, call: sa.Call) -> str | None:
        fd, msg, flags = call.args
        assert isinstance(msg, sa.Msghdr)
        return self._write(call, fd, sum(msg.iov), int(flags))             # type: ignore[call-overload]

    def _do_close(self, call: sa.Call) -> str | None:
        fd = _fd_arg(call.args[0])
        sock = self._socket(fd)
        value, problem = self._judge(call, lambda: _zero(sock.close()))
        if value == 0:
            del self._sockets[fd]
        return problem

    def _do_shutdown(self, call: sa.Call) -> str | None:
        sock, how = self._socket(call.args[0]), call.args[1]
        return self._judge(call, lambda: _zero(sock.shutdown(int(how))))[1]   # type: ignore[call-overload]

    def _do_setsockopt(self, call: sa.Call) -> str | None:
        fd, level, name, value, length = call.args
        sock = self._socket(fd)
        if isinstance(value, sa.Linger):
            value = struct.pack("=ii", value.onoff, value.linger)
        value, problem = self._judge(call, lambda: _zero(sock.setsockopt(level, name, value)))  # type: ignore[arg-type]
        return _explain_option(problem, value, level, name)

    def _do_getsockopt(self, call: sa.Call) -> str | None:
        fd, level, name, expected, expected_length = call.args
        sock = self._socket(fd)
        got: list[int | bytes] = []

        def get() -> int:
            got.append(sock.getsockopt(level, name, expected_length))   # type: ignore[arg-type]
            return 0

        value, problem = self._judge(call, get)
        if problem or value < 0:
            return _explain_option(problem, value, level, name)
        actual = got[0]
        length = len(actual) if isinstance(actual, bytes) else 4
        if length != expected_length:
            return f"Bad getsockopt optval length: expected: {expected_length} actual: {length}"
        if expected is None:
            return None
        if isinstance(expected, int) and actual != expected:
            return f"Bad getsockopt optval: expected: {expected} actual: {actual!r}"
        if isinstance(expected, bytes) and actual != expected.ljust(length, b"\0"):
            return f"Bad getsockopt optval: expected: {expected!r} actual: {actual!r}"
        return None

    def _do_fcntl(self, call: sa.Call) -> str | None:
        fd, command, *rest = call.args
        sock = self._socket(fd)
        if command == C["F_GETFL"]:
            blocking = sock.gettimeout() != 0
            return self._judge(call, lambda: C["O_RDWR"] | (0 if blocking else C["O_NONBLOCK"]))[1]
        flags = int(rest[0]) if rest else 0                                 # type: ignore[call-overload]
        return self._judge(call, lambda: _zero(sock.setblocking(not flags & C["O_NONBLOCK"])))[1]

    def _do_ioctl(self, call: sa.Call) -> str | None:
        fd, command, *rest = call.args
        sock = self._socket(fd)
        stack = self.stack
        assert stack is not None
        with stack.lock:
            connection = sock.connection
            if connection is None:
                measured = None
            elif command == C["SIOCINQ"]:
                measured = connection.readable
            elif command == C["SIOCOUTQ"]:
                measured = connection.unacknowledged
            else:
                measured = connection.unsent
        value, problem = self._judge(call, lambda: _fail(errno.EINVAL) if measured is None else 0)
        if problem or value < 0 or not rest or rest[0] is None:
            return problem
        return None if measured == rest[0] else f"Bad ioctl optval: expected: {rest[0]} actual: {measured}"

    def _do_poll(self, call: sa.Call) -> str | None:
        pollfds, count, timeout = call.args
        assert isinstance(pollfds, tuple) and isinstance(count, int) and isinstance(timeout, int)
        if count != len(pollfds):
            return f"nfds {count} does not match {len(pollfds)}-element pollfd array"
        sockets = [self._socket(pollfd.fd) for pollfd in pollfds]
        stack = self.stack
        assert stack is not None
        deadline = None if timeout < 0 else time.monotonic() + timeout / 1000
        with stack.lock:
            while True:
                revents = [poll_events(sock) & (pollfd.events | C["POLLERR"] | C["POLLHUP"])
                           for sock, pollfd in zip(sockets, pollfds, strict=True)]
                remaining = math.inf if deadline is None else deadline - time.monotonic()
                if any(revents) or remaining <= 0:
                    break
                stack.changed.wait(min(remaining, POLL_WAIT_STEP))
        ready = sum(1 for value in revents if value)
        problem = sa.compare_result(call.expected, ready, 0)
        return problem or sa.compare_revents(pollfds, revents)


def _zero(_: object) -> int:
    """Socket calls that return None succeed as a system call returning 0."""
    return 0


def _fail(code: int) -> int:
    raise OSError(code, errno.errorcode.get(code, str(code)))


def _with_flags(sock: Socket, flags: int, action: Callable[[], object]) -> object:
    """Run `action` non-blocking when MSG_DONTWAIT asks for it."""
    if not flags & C["MSG_DONTWAIT"]:
        return action()
    saved = sock.gettimeout()
    sock.setblocking(False)
    try:
        return action()
    finally:
        sock.settimeout(saved)


def _explain_option(problem: str | None, value: int, level: object, name: object) -> str | None:
    """ENOPROTOOPT from a rawkit socket means rawkit lacks the option: say that, not a bare errno."""
    if problem and value < 0 and "ENOPROTOOPT" in problem:
        option = next((key for key, number in C.items() if number == name and key[:3] in ("SO_", "TCP", "IP_")
                       and (key.startswith("SO_") == (level == C["SOL_SOCKET"]))), str(name))
        return f"rawkit sockets do not have the option {option} ({problem})"
    return problem


def poll_events(sock: Socket) -> int:
    """What Linux's tcp_poll would report for this socket now (stack lock held)."""
    if sock.listener is not None:
        return C["POLLIN"] | C["POLLRDNORM"] if sock.listener.ready else 0
    connection = sock.connection
    if connection is None:
        return C["POLLOUT"] | C["POLLWRNORM"] | C["POLLHUP"]
    mask = 0
    state = connection.state
    write_shut = connection.fin_queued or connection.fin_sent
    if state is State.CLOSED or (connection.fin_received and write_shut):
        mask |= C["POLLHUP"]
    if connection.fin_received:
        mask |= C["POLLIN"] | C["POLLRDNORM"] | C["POLLRDHUP"]
    if state not in (State.SYN_SENT, State.SYN_RECEIVED):
        if connection.readable:
            mask |= C["POLLIN"] | C["POLLRDNORM"]
        if state in CAN_SEND and not write_shut and connection.send_space > 0:
            mask |= C["POLLOUT"] | C["POLLWRNORM"]
    if state is State.CLOSED and connection.error is not None:
        mask |= C["POLLERR"]
    return mask


def ca_state(connection: Connection) -> int:
    """Linux's congestion-avoidance state from rawkit's: in fast recovery -> Recovery; a
    retransmission timeout not yet followed by a new ACK -> Loss; duplicate ACKs counted -> Disorder;
    else Open (rawkit has no CWR: it does no ECN)."""
    if connection.congestion.in_recovery:
        return OPTION_BITS["TCP_CA_Recovery"]
    if connection.backoff:
        return OPTION_BITS["TCP_CA_Loss"]
    if connection.congestion.dupacks:
        return OPTION_BITS["TCP_CA_Disorder"]
    return OPTION_BITS["TCP_CA_Open"]


def connection_info(connection: Connection, now: float) -> dict[str, int]:
    """tcpi_* values with an equivalent in rawkit's engine, in Linux's units; fields rawkit has no
    counterpart for are left out, so a `%{ }%` block using them fails naming the field."""
    congestion = connection.congestion
    mss = max(congestion.mss, 1)
    options = (OPTION_BITS["TCPI_OPT_TIMESTAMPS"] if connection.ts_ok else 0) | \
        (OPTION_BITS["TCPI_OPT_SACK"] if connection.sack_ok else 0) | \
        (OPTION_BITS["TCPI_OPT_WSCALE"] if connection.snd_wscale or connection.rcv_wscale else 0)
    rto = min(connection.rtt.rto * (1 << connection.backoff), connection.rtt.max_rto)
    info = {
        "tcpi_state": LINUX_STATES[connection.state],
        "tcpi_ca_state": ca_state(connection),
        "tcpi_retransmits": connection.retries,
        "tcpi_backoff": connection.backoff,
        "tcpi_options": options,
        "tcpi_snd_wscale": connection.snd_wscale,
        "tcpi_rcv_wscale": connection.rcv_wscale,
        "tcpi_rto": round(rto * 1_000_000),
        "tcpi_snd_mss": connection.send_mss,
        "tcpi_advmss": connection.settings.mss,
        "tcpi_snd_cwnd": congestion.cwnd // mss,
        "tcpi_snd_ssthresh": TCP_INFINITE_SSTHRESH if congestion.ssthresh >= MAX_WINDOW
        else congestion.ssthresh // mss,
        "tcpi_snd_wnd": connection.snd_wnd,
    }
    board = connection.scoreboard
    if connection.sack_ok:                    # Linux counts segments: SACKed, and deemed lost (RFC 6675)
        outstanding = connection.unacknowledged
        info["tcpi_sacked"] = -(-board.sacked_below(connection.snd_una, outstanding) // mss)
        edge = board.lost_edge(connection.snd_una, mss)
        info["tcpi_lost"] = -(-(edge - board.sacked_below(connection.snd_una, edge)) // mss)
    info["tcpi_reordering"] = board.dupthresh    # Linux's tp->reordering: 3 until reordering is seen
    if connection.last_data_received is not None:
        info["tcpi_last_data_recv"] = round((now - connection.last_data_received) * 1000)
    if connection.rtt.srtt is not None:
        info["tcpi_rtt"] = round(connection.rtt.srtt * 1_000_000)
        info["tcpi_rttvar"] = round(connection.rtt.rttvar * 1_000_000)
    return info


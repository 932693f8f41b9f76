"""`--target kernel`: the script's system calls made for real, so the Linux kernel is the side under test.

Why real libc calls through ctypes rather than Python's `socket` module: scripts test the exact
system-call surface (NULL buffers that must give EFAULT, MSG_FASTOPEN on an unconnected socket,
MSG_ERRQUEUE with a control buffer sized to the expected messages, fcntl flags, epoll user data),
which the `socket` module hides or retries. ctypes releases the GIL for each call, so a call that
blocks only blocks its thread.

Threads: one worker thread joins the runner's network namespace (through `ScriptNet.call`) and makes
every call, in script order, so sockets are born in the namespace and a blocking call
(`+0...0.5 accept(...)`) holds back later calls as packetdrill's syscall thread does, while the
runner goes on injecting packets. `begin` queues a call and returns at once; the runner waits on the
returned `QueuedCall`.

File descriptors: the numbers a script writes (`socket(...) = 3`) are names. A table maps each
script fd to the live fd the call returned; every later argument (`read(4, ...)`, poll's `fd=4`)
goes through it, and epoll user data carries the script's number. So the scripts need not match
this process's real fd numbers, and nothing is dup2'ed over fds Python owns.
"""

from __future__ import annotations

import ctypes
import platform
import queue
import struct
import threading
import time
from collections.abc import Callable

from rawkit.script import syscall_args as sa
from rawkit.script import tcp_info as tcpi
from rawkit.script.nodes import SyscallEvent
from rawkit.script.target import QueuedCall, ScriptNet, Symbols, fail_queued

_libc = ctypes.CDLL(None, use_errno=True)
_c_void_p, _c_int, _c_uint, _c_size_t, _c_ssize_t = (ctypes.c_void_p, ctypes.c_int, ctypes.c_uint,
                                                     ctypes.c_size_t, ctypes.c_ssize_t)
_socklen_p = ctypes.POINTER(ctypes.c_uint32)


def _bind(name: str, restype: type, *argtypes: type) -> Callable[..., int]:
    function = getattr(_libc, name)
    function.restype = restype
    function.argtypes = list(argtypes)
    return function


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", _c_void_p), ("iov_len", _c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [("msg_name", _c_void_p), ("msg_namelen", ctypes.c_uint32),
                ("msg_iov", ctypes.POINTER(_Iovec)), ("msg_iovlen", _c_size_t),
                ("msg_control", _c_void_p), ("msg_controllen", _c_size_t), ("msg_flags", _c_int)]


class _PollFd(ctypes.Structure):
    _fields_ = [("fd", _c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


class _EpollEvent(ctypes.Structure):
    if platform.machine() == "x86_64":  # the kernel packs struct epoll_event on x86_64 only
        _pack_ = 1
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


_SYSCALLS: dict[str, Callable[..., int]] = {
    "socket": _bind("socket", _c_int, _c_int, _c_int, _c_int),
    "bind": _bind("bind", _c_int, _c_int, _c_void_p, ctypes.c_uint32),
    "listen": _bind("listen", _c_int, _c_int, _c_int),
    "accept": _bind("accept", _c_int, _c_int, _c_void_p, _socklen_p),
    "connect": _bind("connect", _c_int, _c_int, _c_void_p, ctypes.c_uint32),
    "read": _bind("read", _c_ssize_t, _c_int, _c_void_p, _c_size_t),
    "write": _bind("write", _c_ssize_t, _c_int, _c_void_p, _c_size_t),
    "recv": _bind("recv", _c_ssize_t, _c_int, _c_void_p, _c_size_t, _c_int),
    "send": _bind("send", _c_ssize_t, _c_int, _c_void_p, _c_size_t, _c_int),
    "recvfrom": _bind("recvfrom", _c_ssize_t, _c_int, _c_void_p, _c_size_t, _c_int, _c_void_p, _socklen_p),
    "sendto": _bind("sendto", _c_ssize_t, _c_int, _c_void_p, _c_size_t, _c_int, _c_void_p, ctypes.c_uint32),
    "recvmsg": _bind("recvmsg", _c_ssize_t, _c_int, ctypes.POINTER(_Msghdr), _c_int),
    "sendmsg": _bind("sendmsg", _c_ssize_t, _c_int, ctypes.POINTER(_Msghdr), _c_int),
    "close": _bind("close", _c_int, _c_int),
    "shutdown": _bind("shutdown", _c_int, _c_int, _c_int),
    "setsockopt": _bind("setsockopt", _c_int, _c_int, _c_int, _c_int, _c_void_p, ctypes.c_uint32),
    "getsockopt": _bind("getsockopt", _c_int, _c_int, _c_int, _c_int, _c_void_p, _socklen_p),
    "fcntl": _bind("fcntl", _c_int, _c_int, _c_int, ctypes.c_long),
    "ioctl": _bind("ioctl", _c_int, _c_int, ctypes.c_ulong, _c_void_p),
    "poll": _bind("poll", _c_int, ctypes.POINTER(_PollFd), ctypes.c_ulong, _c_int),
    "epoll_create": _bind("epoll_create", _c_int, _c_int),
    "epoll_ctl": _bind("epoll_ctl", _c_int, _c_int, _c_int, _c_int, ctypes.POINTER(_EpollEvent)),
    "epoll_wait": _bind("epoll_wait", _c_int, _c_int, ctypes.POINTER(_EpollEvent), _c_int, _c_int),
    "open": _bind("open", _c_int, ctypes.c_char_p, _c_int),
    "pipe": _bind("pipe", _c_int, ctypes.POINTER(_c_int)),
    "splice": _bind("splice", _c_ssize_t, _c_int, _c_void_p, _c_int, _c_void_p, _c_size_t, _c_uint),
    "sendfile": _bind("sendfile", _c_ssize_t, _c_int, _c_int, ctypes.POINTER(ctypes.c_long), _c_size_t),
}

_SOCKADDR_MAX = 128  # sizeof(struct sockaddr_storage)
_STOP = object()


class _ScriptFault(Exception):
    """A syscall line that refers to something the run does not have (an fd never opened)."""


def _buffer(size: int, null: bool) -> ctypes.Array[ctypes.c_char] | None:
    return None if null else ctypes.create_string_buffer(max(size, 0))


class KernelTarget:
    """The Linux kernel as the side under test (the `Target` protocol)."""

    def __init__(self) -> None:
        self._net: ScriptNet | None = None
        self._jobs: queue.Queue[object] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._fds: dict[int, int] = {}  # script fd -> live fd
        self._shadowed: list[int] = []  # live fds whose script number a later accept() took over
        self._under_test: int | None = None  # script fd of the latest socket()/accept()
        self._kept: list[object] = []  # buffers a MSG_ZEROCOPY send may still reference
        self._realtime_zero_usecs: int | None = None
        self._tolerance_usecs = 4000
        self._worker_error: str | None = None
        self._closing = False
        self._ready = threading.Event()

    # -- Target protocol ----------------------------------------------------------------------
    def start(self, net: ScriptNet) -> None:
        net.configure_kernel()
        self._net = net
        self._worker = threading.Thread(target=self._run_worker, args=(net,), name="kernel-target",
                                        daemon=True)
        self._worker.start()
        # Return once the worker sits in the namespace, so starting threads and setns() happen
        # before the runner starts its clock, not during the script's first timed call.
        self._ready.wait(5.0)

    def check(self, event: SyscallEvent, symbols: Symbols) -> str | None:
        try:
            self._validate(sa.prepare(event, self._symbols(symbols)))
        except sa.ArgumentError as error:
            return str(error)
        return None

    def begin(self, event: SyscallEvent, symbols: Symbols) -> QueuedCall:
        try:
            call = sa.prepare(event, self._symbols(symbols))
            self._validate(call)
        except sa.ArgumentError as error:
            pending = QueuedCall(None)
            pending.finish(str(error))
            return pending
        pending = QueuedCall(call)
        self._jobs.put(pending)
        if self._worker_error is not None:  # the worker is gone: nobody else will take it
            fail_queued(self._jobs, self._worker_error)
        return pending

    def _symbols(self, symbols: Symbols) -> Symbols:
        """`-D` definitions over the IP-version defaults (CMSG_LEVEL_IP, ...). Before start (a
        check of the whole script) the version is not known yet; both versions define the same
        names, so IPv4's serve to validate."""
        return {**sa.default_symbols(self._net.ip_version if self._net else 4), **symbols}

    def set_timebase(self, zero: float, tolerance_usecs: int) -> None:
        """Script time 0 as a time.monotonic() value, and the timing tolerance: needed to judge
        SCM_TIMESTAMPING control messages, which carry wall-clock (CLOCK_REALTIME) times."""
        offset = time.time() - time.monotonic()
        self._realtime_zero_usecs = round((zero + offset) * 1_000_000)
        self._tolerance_usecs = tolerance_usecs

    def tcp_info(self) -> dict[str, int]:
        """tcpi_* of the socket under test: the latest socket() or accept() result, as packetdrill
        picks it. Raises RuntimeError with a one-line reason if there is none or it is closed."""
        live = None if self._under_test is None else self._fds.get(self._under_test)
        if live is None:  # (read once: the worker may close it meanwhile)
            raise RuntimeError("no open socket to read TCP_INFO from")
        buffer = ctypes.create_string_buffer(512)
        length = ctypes.c_uint32(len(buffer))
        if _SYSCALLS["getsockopt"](live, sa.CONSTANTS["SOL_TCP"],
                                   sa.CONSTANTS["TCP_INFO"], buffer, ctypes.byref(length)) != 0:
            error = ctypes.get_errno()
            raise RuntimeError(f"getsockopt(TCP_INFO) failed: {sa.describe_errno(error)}")
        return tcpi.decode(buffer.raw[:length.value])

    def close(self) -> None:
        """Shut down and close every fd (which also unblocks a call still waiting), stop the worker."""
        self._closing = True
        self._jobs.put(_STOP)
        self._close_all(shutdown=True)
        if self._worker is not None:
            self._worker.join(2.0)
        self._close_all(shutdown=False)  # an fd a blocked accept() returned meanwhile
        fail_queued(self._jobs, "the target closed before this call ran")

    def _close_all(self, *, shutdown: bool) -> None:
        live_fds = [*self._fds.values(), *self._shadowed]
        self._fds.clear()
        self._shadowed.clear()
        if shutdown:  # wakes a call blocked on the socket (ENOTSOCK on pipes and files: harmless)
            for live in live_fds:
                _SYSCALLS["shutdown"](live, sa.CONSTANTS["SHUT_RDWR"])
        for live in live_fds:
            _SYSCALLS["close"](live)

    # -- the worker ---------------------------------------------------------------------------
    def _run_worker(self, net: ScriptNet) -> None:
        """Serve calls on a thread inside the namespace; if it cannot get there, fail every call
        with the reason instead of leaving the runner waiting (or printing a traceback)."""
        try:
            net.call(self._serve)
        except Exception as error:
            self._worker_error = f"cannot make calls in namespace {net.namespace}: {error}"
            self._jobs.put(_STOP)
            fail_queued(self._jobs, self._worker_error)
        finally:
            self._ready.set()

    def _serve(self) -> None:
        self._ready.set()
        while True:
            job = self._jobs.get()
            if not isinstance(job, QueuedCall):
                return
            if self._closing:
                job.finish("the target closed before this call ran")
                continue
            assert job.call is not None
            try:
                reason = getattr(self, f"_do_{job.call.name}")(job.call)
            except _ScriptFault as fault:
                reason = str(fault)
            except Exception as error:  # never leave the runner waiting on a call that died
                reason = f"kernel target failed in {job.call.name}(): {type(error).__name__}: {error}"
            job.finish(reason)

    def _validate(self, call: sa.Call) -> None:
        """What the kernel target cannot do although the line is well formed."""
        if call.name == "sendmsg":
            msg = call.args[1]
            assert isinstance(msg, sa.Msghdr)
            if msg.flags != 0:
                raise sa.ArgumentError("sendmsg ignores msg_flags; write msg_flags=0")
            if msg.control:
                raise sa.ArgumentError("sendmsg with control messages is not supported")
        if call.name == "setsockopt" and (call.args[3] is None or isinstance(call.args[3], sa.TcpInfoFields)):
            raise sa.ArgumentError("setsockopt() needs a value: [int], \"text\" or {onoff=, linger=}")

    def _live(self, script_fd: object) -> int:
        assert isinstance(script_fd, int)
        if script_fd not in self._fds:
            raise _ScriptFault(f"unable to find fd with script fd {script_fd}")
        return self._fds[script_fd]

    @staticmethod
    def _result(call: sa.Call, value: int) -> tuple[int, str | None]:
        """The errno and the verdict on the return value (call right after the syscall)."""
        error = ctypes.get_errno() if value < 0 else 0
        return error, sa.compare_result(call.expected, value, error, fd_result=call.creates_fd)

    def _new_fd(self, call: sa.Call, live: int, script_fd: int | None = None) -> str | None:
        """Name a new live fd by the script's number. Only accept() may reuse a number still open
        (packetdrill allows it: the corpus accepts `= 4` again without closing the first 4); the
        older connection stays open, unreachable by the script, until the target closes."""
        script = call.expected.value if script_fd is None else script_fd
        assert script is not None
        if script in self._fds:
            if call.name != "accept":
                _SYSCALLS["close"](live)
                return f"duplicate fd {script} in script"
            self._shadowed.append(self._fds[script])
        self._fds[script] = live
        return None

    def _new_socket(self, call: sa.Call, live: int) -> str | None:
        """Judge a socket() or accept() result; a new socket becomes the one under test (the one
        `tcp_info` reads, as packetdrill picks it)."""
        problem = self._result(call, live)[1]
        if problem or live < 0:
            return problem
        problem = self._new_fd(call, live)
        if problem is None:
            self._under_test = call.expected.value
        return problem

    def _address(self, local: bool) -> bytes:
        net = self._net
        assert net is not None
        return (sa.sockaddr(net.local_ip, net.local_port) if local
                else sa.sockaddr(net.remote_ip, net.remote_port))

    # -- one method per system call: return None (match) or the mismatch --------------------------
    def _do_socket(self, call: sa.Call) -> str | None:
        domain, kind, protocol = call.args
        assert self._net is not None
        if domain is None:
            domain = sa.CONSTANTS["AF_INET6"] if self._net.ip_version == 6 else sa.CONSTANTS["AF_INET"]
        live = _SYSCALLS["socket"](domain, kind, protocol)
        return self._new_socket(call, live)

    def _do_bind(self, call: sa.Call) -> str | None:
        address = self._address(local=True)
        value = _SYSCALLS["bind"](self._live(call.args[0]), address, len(address))
        return self._result(call, value)[1]

    def _do_listen(self, call: sa.Call) -> str | None:
        return self._result(call, _SYSCALLS["listen"](self._live(call.args[0]), call.args[1]))[1]

    def _do_accept(self, call: sa.Call) -> str | None:
        address = ctypes.create_string_buffer(_SOCKADDR_MAX)
        length = ctypes.c_uint32(_SOCKADDR_MAX)
        live = _SYSCALLS["accept"](self._live(call.args[0]), address, ctypes.byref(length))
        return self._new_socket(call, live)

    def _do_connect(self, call: sa.Call) -> str | None:
        address = self._address(local=False)
        return self._result(call, _SYSCALLS["connect"](self._live(call.args[0]), address, len(address)))[1]

    def _do_read(self, call: sa.Call) -> str | None:
        fd, null, count = call.args
        assert isinstance(count, int) and isinstance(null, bool)
        return self._result(call, _SYSCALLS["read"](self._live(fd), _buffer(count, null), count))[1]

    def _do_write(self, call: sa.Call) -> str | None:
        fd, null, count = call.args
        assert isinstance(count, int) and isinstance(null, bool)
        return self._result(call, _SYSCALLS["write"](self._live(fd), _buffer(count, null), count))[1]

    def _do_recv(self, call: sa.Call) -> str | None:
        fd, null, count, flags = call.args
        assert isinstance(count, int) and isinstance(null, bool)
        return self._result(call, _SYSCALLS["recv"](self._live(fd), _buffer(count, null), count, flags))[1]

    def _do_send(self, call: sa.Call) -> str | None:
        fd, null, count, flags = call.args
        assert isinstance(count, int) and isinstance(null, bool) and isinstance(flags, int)
        data = self._keep(_buffer(count, null), flags)
        return self._result(call, _SYSCALLS["send"](self._live(fd), data, count, flags))[1]

    def _do_recvfrom(self, call: sa.Call) -> str | None:
        fd, null, count, flags = call.args[:4]
        assert isinstance(count, int) and isinstance(null, bool)
        address = ctypes.create_string_buffer(_SOCKADDR_MAX)
        length = ctypes.c_uint32(_SOCKADDR_MAX)
        value = _SYSCALLS["recvfrom"](self._live(fd), _buffer(count, null), count, flags, address,
                                      ctypes.byref(length))
        return self._result(call, value)[1]

    def _do_sendto(self, call: sa.Call) -> str | None:
        fd, null, count, flags, family = call.args[:5]
        assert isinstance(count, int) and isinstance(null, bool) and isinstance(flags, int)
        address = self._address(local=False) if family is None else sa.family_only(int(family))  # type: ignore[arg-type]
        data = self._keep(_buffer(count, null), flags)
        value = _SYSCALLS["sendto"](self._live(fd), data, count, flags, address, len(address))
        return self._result(call, value)[1]

    def _keep(self, data: object, flags: int) -> object:
        if flags & sa.CONSTANTS["MSG_ZEROCOPY"]:
            self._kept.append(data)
        return data

    def _message(self, msg: sa.Msghdr, name: bytes | None) -> tuple[_Msghdr, list[object]]:
        """A live msghdr for `msg` and the buffers it points into (kept alive by the caller)."""
        buffers: list[object] = [ctypes.create_string_buffer(max(length, 1)) for length in msg.iov]
        iov = (_Iovec * max(len(msg.iov), 1))()
        for index, length in enumerate(msg.iov):
            iov[index].iov_base = ctypes.cast(buffers[index], _c_void_p)  # type: ignore[call-overload]
            iov[index].iov_len = length
        header = _Msghdr()
        header.msg_iov = iov
        header.msg_iovlen = len(msg.iov)
        buffers.append(iov)
        if name is not None:
            name_buffer = ctypes.create_string_buffer(name, max(len(name), 1))
            header.msg_name = ctypes.cast(name_buffer, _c_void_p)
            header.msg_namelen = len(name)
            buffers.append(name_buffer)
        if msg.control:
            control = ctypes.create_string_buffer(sa.control_space(msg.control))
            header.msg_control = ctypes.cast(control, _c_void_p)
            header.msg_controllen = len(control)
            buffers.append(control)
        return header, buffers

    def _do_sendmsg(self, call: sa.Call) -> str | None:
        fd, msg, flags = call.args
        assert isinstance(msg, sa.Msghdr) and isinstance(flags, int)
        header, buffers = self._message(msg, self._address(local=False) if msg.has_name else None)
        self._keep(buffers, flags)
        return self._result(call, _SYSCALLS["sendmsg"](self._live(fd), ctypes.byref(header), flags))[1]

    def _do_recvmsg(self, call: sa.Call) -> str | None:
        fd, msg, flags = call.args
        assert isinstance(msg, sa.Msghdr)
        header, buffers = self._message(msg, bytes(_SOCKADDR_MAX) if msg.has_name else None)
        value = _SYSCALLS["recvmsg"](self._live(fd), ctypes.byref(header), flags)
        error, problem = self._result(call, value)
        if problem or value < 0:
            return problem
        if header.msg_flags != msg.flags:
            return (f"Expected msg_flags {sa.flag_names(msg.flags, 'MSG_')} but got "
                    f"{sa.flag_names(header.msg_flags, 'MSG_')}")
        if msg.control is None:
            return None
        received = b""
        if header.msg_controllen:
            received = ctypes.string_at(header.msg_control, header.msg_controllen)
        live_usecs = None
        if self._realtime_zero_usecs is not None:
            zero = self._realtime_zero_usecs
            live_usecs = lambda script_usecs: zero + script_usecs  # noqa: E731
        return sa.compare_control(msg.control, sa.parse_control(received), live_usecs, self._tolerance_usecs)

    def _do_close(self, call: sa.Call) -> str | None:
        script_fd = call.args[0]
        live = self._live(script_fd)
        value = _SYSCALLS["close"](live)
        problem = self._result(call, value)[1]
        if value == 0:
            del self._fds[script_fd]  # type: ignore[arg-type]
        return problem

    def _do_shutdown(self, call: sa.Call) -> str | None:
        return self._result(call, _SYSCALLS["shutdown"](self._live(call.args[0]), call.args[1]))[1]

    @staticmethod
    def _option_bytes(value: object, length: int) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, sa.Linger):
            return struct.pack("=ii", value.onoff, value.linger)
        assert isinstance(value, int)
        return struct.pack("=i", value).ljust(length, b"\0")

    def _do_setsockopt(self, call: sa.Call) -> str | None:
        fd, level, name, value, length = call.args
        assert isinstance(length, int)
        data = self._option_bytes(value, length)
        buffer = ctypes.create_string_buffer(data, max(len(data), length, 1))
        return self._result(call, _SYSCALLS["setsockopt"](self._live(fd), level, name, buffer, length))[1]

    def _do_getsockopt(self, call: sa.Call) -> str | None:
        fd, level, name, expected, expected_length = call.args
        size = 512 if expected_length is None else max(int(expected_length), 0)  # type: ignore[call-overload]
        buffer = ctypes.create_string_buffer(size + 1)
        length = ctypes.c_uint32(size)
        value = _SYSCALLS["getsockopt"](self._live(fd), level, name, buffer, ctypes.byref(length))
        error, problem = self._result(call, value)
        if problem or value < 0:
            return problem
        if expected_length is not None and length.value != expected_length:
            return f"Bad getsockopt optlen: expected: {expected_length} actual: {length.value}"
        actual = buffer.raw[:length.value]
        if expected is None:
            return None
        if isinstance(expected, sa.TcpInfoFields):
            return sa.compare_tcp_info(expected, tcpi.decode(actual))
        if isinstance(expected, int):
            got = struct.unpack_from("=i", actual.ljust(4, b"\0"))[0]
            return None if got == expected else f"Bad getsockopt optval: expected: {expected} actual: {got}"
        wanted = self._option_bytes(expected, length.value)
        return None if actual == wanted else f"Bad getsockopt optval: expected: {wanted!r} actual: {actual!r}"

    def _do_fcntl(self, call: sa.Call) -> str | None:
        fd, command, *rest = call.args
        return self._result(call, _SYSCALLS["fcntl"](self._live(fd), command, rest[0] if rest else 0))[1]

    def _do_ioctl(self, call: sa.Call) -> str | None:
        fd, command, *rest = call.args
        out = ctypes.c_int(0)
        value = _SYSCALLS["ioctl"](self._live(fd), command, ctypes.byref(out) if rest else None)
        error, problem = self._result(call, value)
        if problem or value < 0 or not rest or rest[0] is None:
            return problem
        return None if out.value == rest[0] else f"Bad ioctl optval: expected: {rest[0]} actual: {out.value}"

    def _do_poll(self, call: sa.Call) -> str | None:
        pollfds, count, timeout = call.args
        assert isinstance(pollfds, tuple) and isinstance(count, int)
        if count != len(pollfds):
            return f"nfds {count} does not match {len(pollfds)}-element pollfd array"
        array = (_PollFd * max(len(pollfds), 1))()
        for index, pollfd in enumerate(pollfds):
            array[index].fd = self._live(pollfd.fd)
            array[index].events = pollfd.events
        value = _SYSCALLS["poll"](array, count, timeout)
        error, problem = self._result(call, value)
        if problem or value < 0:
            return problem
        return sa.compare_revents(pollfds, [array[i].revents & 0xFFFF for i in range(len(pollfds))])

    def _do_epoll_create(self, call: sa.Call) -> str | None:
        live = _SYSCALLS["epoll_create"](call.args[0])
        error, problem = self._result(call, live)
        return problem if problem or live < 0 else self._new_fd(call, live)

    def _do_epoll_ctl(self, call: sa.Call) -> str | None:
        epfd, op, fd, event = call.args
        assert isinstance(event, sa.EpollEvent)
        if event.kind == "fd" and event.data != fd:
            return "wrong fd specified in epoll_event"
        live_event = _EpollEvent(event.events & 0xFFFFFFFF, event.data & 0xFFFFFFFFFFFFFFFF)
        value = _SYSCALLS["epoll_ctl"](self._live(epfd), op, self._live(fd), ctypes.byref(live_event))
        return self._result(call, value)[1]

    def _do_epoll_wait(self, call: sa.Call) -> str | None:
        epfd, event, most, timeout = call.args
        assert isinstance(event, sa.EpollEvent) and isinstance(most, int)
        events = (_EpollEvent * max(most, 1))()
        value = _SYSCALLS["epoll_wait"](self._live(epfd), events, most, timeout)
        error, problem = self._result(call, value)
        if problem or value < 0:
            return problem
        data = events[0].data & 0xFFFFFFFF if event.kind in ("fd", "u32") else events[0].data
        return sa.compare_epoll(event, events[0].events, data)

    def _do_open(self, call: sa.Call) -> str | None:
        path, flags = call.args
        assert isinstance(path, str)
        live = _SYSCALLS["open"](path.encode(), flags)
        error, problem = self._result(call, live)
        return problem if problem or live < 0 else self._new_fd(call, live)

    def _do_pipe(self, call: sa.Call) -> str | None:
        script_fds = call.args[0]
        assert isinstance(script_fds, tuple)
        live = (_c_int * 2)()
        value = _SYSCALLS["pipe"](live)
        error, problem = self._result(call, value)
        if problem or value < 0:
            return problem
        return self._new_fd(call, live[0], script_fds[0]) or self._new_fd(call, live[1], script_fds[1])

    def _do_splice(self, call: sa.Call) -> str | None:
        fd_in, _, fd_out, _, length, flags = call.args
        value = _SYSCALLS["splice"](self._live(fd_in), None, self._live(fd_out), None, length, flags)
        return self._result(call, value)[1]

    def _do_sendfile(self, call: sa.Call) -> str | None:
        fd_out, fd_in, offset, count = call.args
        position = ctypes.c_long(int(offset))  # type: ignore[call-overload]
        value = _SYSCALLS["sendfile"](self._live(fd_out), self._live(fd_in), ctypes.byref(position), count)
        return self._result(call, value)[1]

"""System-call lines of a script turned into plain Python values, and results compared with them.

Why a separate, pure module: both targets (the Linux kernel through real calls, rawkit's own stack
through its sockets) need the same reading of `setsockopt(3, SOL_TCP, TCP_MAXSEG, [1100], 4) = 0`:
which symbols mean which numbers, what `...` and `NULL` stand for, what shape each call's arguments
must have, and how an actual result (value, errno, out-parameters) is judged against the script.
Nothing here touches the OS.

`prepare(event, symbols)` checks one syscall line against `SIGNATURES` and returns a `Call`:
its arguments converted to ints, bools and small dataclasses (`Msghdr`, `PollFd`, `EpollEvent`,
`Linger`, ...) and its `Expected` result. A malformed line raises `ArgumentError` (one-line reason;
the runner adds file and line). The `compare_*` functions return None on a match or a one-line
mismatch in packetdrill's words ("Expected result 0 but got -1 with errno 111 (ECONNREFUSED)").

Constants are Linux's (x86_64 and every other architecture rawkit runs on share these values).
"""

from __future__ import annotations

import errno as errno_module
import ipaddress
import os
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rawkit.script import tcp_info
from rawkit.script.nodes import (
    Anything,
    Array,
    BitOr,
    Expr,
    Field,
    Int,
    Name,
    String,
    Struct,
    SyscallEvent,
)

Symbols = Mapping[str, int | str | bytes]


class ArgumentError(ValueError):
    """A syscall line that cannot run: unknown call or symbol, wrong argument count or shape."""


# ---- symbolic constants -----------------------------------------------------------------------

CONSTANTS: dict[str, int] = {
    # address families, socket types, protocols and levels
    "AF_UNSPEC": 0, "AF_INET": 2, "AF_INET6": 10,
    "SOCK_STREAM": 1, "SOCK_DGRAM": 2, "SOCK_RAW": 3, "SOCK_NONBLOCK": 0o4000, "SOCK_CLOEXEC": 0o2000000,
    "IPPROTO_IP": 0, "IPPROTO_ICMP": 1, "IPPROTO_TCP": 6, "IPPROTO_UDP": 17, "IPPROTO_IPV6": 41,
    "IPPROTO_ICMPV6": 58,
    "SOL_IP": 0, "SOL_SOCKET": 1, "SOL_TCP": 6, "SOL_UDP": 17, "SOL_IPV6": 41,
    # SOL_SOCKET options
    "SO_DEBUG": 1, "SO_REUSEADDR": 2, "SO_TYPE": 3, "SO_ERROR": 4, "SO_DONTROUTE": 5, "SO_BROADCAST": 6,
    "SO_SNDBUF": 7, "SO_RCVBUF": 8, "SO_KEEPALIVE": 9, "SO_OOBINLINE": 10, "SO_PRIORITY": 12,
    "SO_LINGER": 13, "SO_REUSEPORT": 15, "SO_RCVLOWAT": 18, "SO_SNDLOWAT": 19, "SO_BINDTODEVICE": 25,
    "SO_TIMESTAMP": 29, "SO_ACCEPTCONN": 30, "SO_SNDBUFFORCE": 32, "SO_RCVBUFFORCE": 33,
    "SO_TIMESTAMPNS": 35, "SO_MARK": 36, "SO_TIMESTAMPING": 37, "SO_PROTOCOL": 38, "SO_DOMAIN": 39,
    "SO_RXQ_OVFL": 40, "SO_MAX_PACING_RATE": 47, "SO_INCOMING_CPU": 49, "SO_MEMINFO": 55,
    "SO_ZEROCOPY": 60, "SO_TXTIME": 61,
    "SCM_TIMESTAMPING": 37, "SCM_TIMESTAMPING_OPT_STATS": 54,
    # SOL_TCP options
    "TCP_NODELAY": 1, "TCP_MAXSEG": 2, "TCP_CORK": 3, "TCP_KEEPIDLE": 4, "TCP_KEEPINTVL": 5,
    "TCP_KEEPCNT": 6, "TCP_SYNCNT": 7, "TCP_LINGER2": 8, "TCP_DEFER_ACCEPT": 9, "TCP_WINDOW_CLAMP": 10,
    "TCP_INFO": 11, "TCP_QUICKACK": 12, "TCP_CONGESTION": 13, "TCP_MD5SIG": 14,
    "TCP_THIN_LINEAR_TIMEOUTS": 16, "TCP_THIN_DUPACK": 17, "TCP_USER_TIMEOUT": 18, "TCP_REPAIR": 19,
    "TCP_FASTOPEN": 23, "TCP_TIMESTAMP": 24, "TCP_NOTSENT_LOWAT": 25, "TCP_CC_INFO": 26,
    "TCP_SAVE_SYN": 27, "TCP_SAVED_SYN": 28, "TCP_FASTOPEN_CONNECT": 30, "TCP_ULP": 31,
    "TCP_FASTOPEN_KEY": 33, "TCP_FASTOPEN_NO_COOKIE": 34, "TCP_INQ": 36, "TCP_CM_INQ": 36,
    "TCP_TX_DELAY": 37,
    # SOL_IP / SOL_IPV6 options
    "IP_TOS": 1, "IP_TTL": 2, "IP_MTU_DISCOVER": 10, "IP_RECVERR": 11, "IP_MTU": 14, "IP_FREEBIND": 15,
    "IP_TRANSPARENT": 19, "IP_BIND_ADDRESS_NO_PORT": 24,
    "IPV6_UNICAST_HOPS": 16, "IPV6_MTU_DISCOVER": 23, "IPV6_MTU": 24, "IPV6_RECVERR": 25,
    "IPV6_V6ONLY": 26, "IPV6_TCLASS": 67, "IPV6_FREEBIND": 78,
    # send/recv flags
    "MSG_OOB": 0x1, "MSG_PEEK": 0x2, "MSG_DONTROUTE": 0x4, "MSG_CTRUNC": 0x8, "MSG_TRUNC": 0x20,
    "MSG_DONTWAIT": 0x40, "MSG_EOR": 0x80, "MSG_WAITALL": 0x100, "MSG_ERRQUEUE": 0x2000,
    "MSG_NOSIGNAL": 0x4000, "MSG_MORE": 0x8000, "MSG_ZEROCOPY": 0x4000000, "MSG_FASTOPEN": 0x20000000,
    "MSG_CMSG_CLOEXEC": 0x40000000,
    # files
    "O_RDONLY": 0, "O_WRONLY": 1, "O_RDWR": 2, "O_CREAT": 0o100, "O_TRUNC": 0o1000, "O_APPEND": 0o2000,
    "O_NONBLOCK": 0o4000, "O_CLOEXEC": 0o2000000,
    "F_DUPFD": 0, "F_GETFD": 1, "F_SETFD": 2, "F_GETFL": 3, "F_SETFL": 4,
    "SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2,
    "SIOCINQ": 0x541B, "FIONREAD": 0x541B, "SIOCOUTQ": 0x5411, "SIOCOUTQNSD": 0x894B,
    # poll / epoll
    "POLLIN": 0x1, "POLLPRI": 0x2, "POLLOUT": 0x4, "POLLERR": 0x8, "POLLHUP": 0x10, "POLLNVAL": 0x20,
    "POLLRDNORM": 0x40, "POLLRDBAND": 0x80, "POLLWRNORM": 0x100, "POLLWRBAND": 0x200, "POLLMSG": 0x400,
    "POLLRDHUP": 0x2000,
    "EPOLLIN": 0x1, "EPOLLPRI": 0x2, "EPOLLOUT": 0x4, "EPOLLERR": 0x8, "EPOLLHUP": 0x10,
    "EPOLLRDNORM": 0x40, "EPOLLRDBAND": 0x80, "EPOLLWRNORM": 0x100, "EPOLLWRBAND": 0x200,
    "EPOLLMSG": 0x400, "EPOLLRDHUP": 0x2000, "EPOLLEXCLUSIVE": 1 << 28, "EPOLLWAKEUP": 1 << 29,
    "EPOLLONESHOT": 1 << 30, "EPOLLET": 1 << 31,
    "EPOLL_CTL_ADD": 1, "EPOLL_CTL_DEL": 2, "EPOLL_CTL_MOD": 3,
    # timestamping and the error queue
    "SOF_TIMESTAMPING_TX_HARDWARE": 1 << 0, "SOF_TIMESTAMPING_TX_SOFTWARE": 1 << 1,
    "SOF_TIMESTAMPING_RX_HARDWARE": 1 << 2, "SOF_TIMESTAMPING_RX_SOFTWARE": 1 << 3,
    "SOF_TIMESTAMPING_SOFTWARE": 1 << 4, "SOF_TIMESTAMPING_SYS_HARDWARE": 1 << 5,
    "SOF_TIMESTAMPING_RAW_HARDWARE": 1 << 6, "SOF_TIMESTAMPING_OPT_ID": 1 << 7,
    "SOF_TIMESTAMPING_TX_SCHED": 1 << 8, "SOF_TIMESTAMPING_TX_ACK": 1 << 9,
    "SOF_TIMESTAMPING_OPT_CMSG": 1 << 10, "SOF_TIMESTAMPING_OPT_TSONLY": 1 << 11,
    "SOF_TIMESTAMPING_OPT_STATS": 1 << 12, "SOF_TIMESTAMPING_OPT_PKTINFO": 1 << 13,
    "SOF_TIMESTAMPING_OPT_TX_SWHW": 1 << 14,
    "SCM_TSTAMP_SND": 0, "SCM_TSTAMP_SCHED": 1, "SCM_TSTAMP_ACK": 2,
    "SO_EE_ORIGIN_NONE": 0, "SO_EE_ORIGIN_LOCAL": 1, "SO_EE_ORIGIN_ICMP": 2, "SO_EE_ORIGIN_ICMP6": 3,
    "SO_EE_ORIGIN_TXSTATUS": 4, "SO_EE_ORIGIN_TIMESTAMPING": 4, "SO_EE_ORIGIN_ZEROCOPY": 5,
    "SO_EE_ORIGIN_TXTIME": 6, "SO_EE_CODE_ZEROCOPY_COPIED": 1,
    "NULL": 0,
}
CONSTANTS.update(tcp_info.SYMBOLS)  # TCP_ESTABLISHED, TCP_CA_Open, TCPI_OPT_*: tcp_info field values
CONSTANTS.update({name: getattr(errno_module, name) for name in dir(errno_module)
                  if name.startswith("E") and isinstance(getattr(errno_module, name), int)})

RECVERR = {(CONSTANTS["SOL_IP"], CONSTANTS["IP_RECVERR"]), (CONSTANTS["SOL_IPV6"], CONSTANTS["IPV6_RECVERR"])}


def default_symbols(ip_version: int) -> dict[str, str]:
    """Symbols the corpus expects from the command line that only depend on the IP version
    (packetdrill's runs pass `-D CMSG_LEVEL_IP=SOL_IP -D CMSG_TYPE_RECVERR=IP_RECVERR` for IPv4)."""
    if ip_version == 6:
        return {"CMSG_LEVEL_IP": "SOL_IPV6", "CMSG_TYPE_RECVERR": "IPV6_RECVERR"}
    return {"CMSG_LEVEL_IP": "SOL_IP", "CMSG_TYPE_RECVERR": "IP_RECVERR"}


def errno_name(number: int) -> str:
    return errno_module.errorcode.get(number, str(number))


def resolve(name: str, symbols: Symbols, _depth: int = 0) -> int:
    """The number a symbol stands for: `-D` definitions first (their value may itself name a
    constant, as in `-D CMSG_LEVEL_IP=SOL_IP`), then the Linux constants."""
    if name in symbols and _depth < 8:
        value = symbols[name]
        if isinstance(value, int):
            return value
        text = value.decode() if isinstance(value, bytes) else value
        try:
            return int(text, 0)
        except ValueError:
            return resolve(text.strip(), symbols, _depth + 1)
    if name in CONSTANTS:
        return CONSTANTS[name]
    raise ArgumentError(f"unknown symbol {name}")


def integer(expr: Expr | Field, symbols: Symbols) -> int:
    """An integer argument: a number, a symbol, or symbols or'ed together."""
    if isinstance(expr, Int):
        return expr.value
    if isinstance(expr, Name):
        return resolve(expr.name, symbols)
    if isinstance(expr, BitOr):
        value = 0
        for term in expr.terms:
            value |= integer(term, symbols)
        return value
    raise ArgumentError(f"expected an integer, got {describe(expr)}")


def describe(expr: Expr | Field) -> str:
    """A few words naming an expression's shape, for error messages."""
    if isinstance(expr, Field):
        return f"field {expr.name}"
    return {Anything: "...", Int: "an integer", Name: "a symbol", String: "a string", BitOr: "flags",
            Array: "a [list]", Struct: "a {struct}"}[type(expr)]


# ---- argument shapes --------------------------------------------------------------------------


@dataclass(frozen=True)
class Linger:
    onoff: int
    linger: int


@dataclass(frozen=True)
class TcpInfoFields:
    """`getsockopt(4, SOL_TCP, TCP_INFO, {tcpi_state=TCP_ESTABLISHED, tcpi_snd_mss=1448}, [...])`:
    the named struct tcp_info fields must have these values; the others are not checked."""

    values: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class PollFd:
    fd: int
    events: int
    revents: int


@dataclass(frozen=True)
class EpollEvent:
    """`{events=EPOLLIN, fd=4}`; `data` is the script fd, or the ptr/u32/u64 value (`kind` says which)."""

    events: int
    kind: str  # "fd", "ptr", "u32", "u64"
    data: int


@dataclass(frozen=True)
class Timestamping:
    """SCM_TIMESTAMPING data as the script writes it: the software stamp, relative to the script's
    start (0/0 means "do not check")."""

    sec: int
    nsec: int


@dataclass(frozen=True)
class ExtendedError:
    """struct sock_extended_err (IP_RECVERR / IPV6_RECVERR data)."""

    errno: int
    origin: int
    type: int
    code: int
    info: int
    data: int


@dataclass(frozen=True)
class Cmsg:
    level: int
    type: int
    data: int | Timestamping | ExtendedError


@dataclass(frozen=True)
class Msghdr:
    """`{msg_name(...)=..., msg_iov(N)=[{..., len}, ...], msg_flags=F, msg_control=[...]}`.

    `has_name`: a name buffer is passed (sendmsg fills it with the remote address, as sendto does).
    `control is None`: no control buffer; else the expected (recvmsg) control messages.
    """

    has_name: bool
    iov: tuple[int, ...]
    flags: int
    control: tuple[Cmsg, ...] | None


@dataclass(frozen=True)
class Expected:
    """`= value` (None for `...`) and the errno number the line names, if any."""

    value: int | None
    errno: int | None


@dataclass(frozen=True)
class Call:
    """One syscall line, checked and converted; `args` follow the kinds of `SIGNATURES[name]`."""

    name: str
    args: tuple[object, ...]
    expected: Expected
    line: int

    @property
    def creates_fd(self) -> bool:
        """The result is a new fd that the script names by the number it expects."""
        return self.name in FD_RESULT


def _fd(expr: Expr, symbols: Symbols) -> int:
    return integer(expr, symbols)


def _int(expr: Expr, symbols: Symbols) -> int:
    return integer(expr, symbols)


def _int_or_any(expr: Expr, symbols: Symbols) -> int | None:
    return None if isinstance(expr, Anything) else integer(expr, symbols)


def _any(expr: Expr, symbols: Symbols) -> None:
    if not isinstance(expr, Anything):
        raise ArgumentError(f"expected ..., got {describe(expr)}")


def _buffer(expr: Expr, symbols: Symbols) -> bool:
    """True for `NULL` (a null pointer, for EFAULT tests), False for `...` (a real buffer)."""
    if isinstance(expr, Anything):
        return False
    if (isinstance(expr, Name) and expr.name == "NULL") or (isinstance(expr, Int) and expr.value == 0):
        return True
    raise ArgumentError(f"expected ... or NULL for a buffer, got {describe(expr)}")


def _null(expr: Expr, symbols: Symbols) -> None:
    if not _buffer(expr, symbols):
        raise ArgumentError("expected NULL")


def _boxed(expr: Expr, symbols: Symbols) -> int:
    """`[1000]`: a pointer to one integer."""
    if not isinstance(expr, Array) or len(expr.items) != 1:
        raise ArgumentError(f"expected [<integer>], got {describe(expr)}")
    return integer(expr.items[0], symbols)


def _boxed_or_any(expr: Expr, symbols: Symbols) -> int | None:
    if isinstance(expr, Anything) or (isinstance(expr, Array) and len(expr.items) == 1
                                       and isinstance(expr.items[0], Anything)):
        return None
    return _boxed(expr, symbols)


def _fields(expr: Expr, what: str) -> dict[str, Expr]:
    if not isinstance(expr, Struct) or not all(isinstance(item, Field) for item in expr.items):
        raise ArgumentError(f"expected {what} as {{name=value, ...}}, got {describe(expr)}")
    return {item.name: item.value for item in expr.items if isinstance(item, Field)}


def _optval(expr: Expr, symbols: Symbols) -> int | bytes | Linger | TcpInfoFields | None:
    """setsockopt/getsockopt value: `[int]`, `"text"`, `{onoff=1, linger=0}`, `{tcpi_...=N, ...}`
    (getsockopt TCP_INFO), or `...` (any)."""
    if isinstance(expr, Anything):
        return None
    if isinstance(expr, String):
        return expr.value.encode()
    tcpi_names = isinstance(expr, Struct) and expr.items and all(
        isinstance(item, Field) and item.name.startswith("tcpi_") for item in expr.items)
    if isinstance(expr, Struct) and tcpi_names:
        fields = _fields(expr, "struct tcp_info")
        unknown = sorted(set(fields) - set(tcp_info.FIELDS))
        if unknown:
            raise ArgumentError(f"unknown tcp_info field {unknown[0]}")
        return TcpInfoFields(tuple((name, integer(value, symbols)) for name, value in fields.items()))
    if isinstance(expr, Struct):
        fields = _fields(expr, "struct linger")
        onoff = fields.get("onoff", fields.get("l_onoff"))
        linger = fields.get("linger", fields.get("l_linger"))
        if onoff is None or linger is None or len(fields) != 2:
            raise ArgumentError("expected {onoff=N, linger=N} for struct linger")
        return Linger(integer(onoff, symbols), integer(linger, symbols))
    return _boxed_or_any(expr, symbols)


def _path(expr: Expr, symbols: Symbols) -> str:
    if not isinstance(expr, String):
        raise ArgumentError(f"expected a \"path\", got {describe(expr)}")
    return expr.value


def _fd_pair(expr: Expr, symbols: Symbols) -> tuple[int, int]:
    if not isinstance(expr, Array) or len(expr.items) != 2:
        raise ArgumentError(f"expected [fd, fd], got {describe(expr)}")
    return integer(expr.items[0], symbols), integer(expr.items[1], symbols)


def _pollfds(expr: Expr, symbols: Symbols) -> tuple[PollFd, ...]:
    if not isinstance(expr, Array):
        raise ArgumentError(f"expected [{{fd=..., events=..., revents=...}}], got {describe(expr)}")
    pollfds = []
    for item in expr.items:
        fields = _fields(item, "struct pollfd")
        if set(fields) != {"fd", "events", "revents"}:
            raise ArgumentError("a pollfd needs exactly fd=, events= and revents=")
        pollfds.append(PollFd(integer(fields["fd"], symbols), integer(fields["events"], symbols),
                              integer(fields["revents"], symbols)))
    return tuple(pollfds)


def _epoll_event(expr: Expr, symbols: Symbols) -> EpollEvent:
    fields = _fields(expr, "struct epoll_event")
    kinds = [kind for kind in ("fd", "ptr", "u32", "u64") if kind in fields]
    if "events" not in fields or len(kinds) != 1 or len(fields) != 2:
        raise ArgumentError("an epoll_event needs events= and one of fd=, ptr=, u32=, u64=")
    return EpollEvent(integer(fields["events"], symbols), kinds[0], integer(fields[kinds[0]], symbols))


def _cmsg(expr: Expr, symbols: Symbols) -> Cmsg:
    fields = _fields(expr, "a cmsg")
    if set(fields) != {"cmsg_level", "cmsg_type", "cmsg_data"}:
        raise ArgumentError("a cmsg needs exactly cmsg_level=, cmsg_type= and cmsg_data=")
    level, kind = integer(fields["cmsg_level"], symbols), integer(fields["cmsg_type"], symbols)
    data_expr = fields["cmsg_data"]
    data: int | Timestamping | ExtendedError
    if isinstance(data_expr, Struct):
        data_fields = _fields(data_expr, "cmsg_data")
        values = {key: integer(value, symbols) for key, value in data_fields.items()}
        if set(values) == {"scm_sec", "scm_nsec"}:
            data = Timestamping(values["scm_sec"], values["scm_nsec"])
        elif set(values) == {"ee_errno", "ee_origin", "ee_type", "ee_code", "ee_info", "ee_data"}:
            data = ExtendedError(values["ee_errno"], values["ee_origin"], values["ee_type"],
                                 values["ee_code"], values["ee_info"], values["ee_data"])
        else:
            raise ArgumentError(f"unknown cmsg_data fields: {', '.join(sorted(values))}")
    else:
        data = integer(data_expr, symbols)
    return Cmsg(level, kind, data)


def _msghdr(expr: Expr, symbols: Symbols) -> Msghdr:
    if not isinstance(expr, Struct):
        raise ArgumentError(f"expected a struct msghdr, got {describe(expr)}")
    fields = {item.name: item for item in expr.items if isinstance(item, Field)}
    unknown = set(fields) - {"msg_name", "msg_iov", "msg_flags", "msg_control"}
    if unknown or len(fields) != len(expr.items):
        raise ArgumentError(f"unknown msghdr fields: {', '.join(sorted(unknown)) or 'positional'}")
    if "msg_name" in fields:
        _any(fields["msg_name"].value, symbols)
    iov_field = fields.get("msg_iov")
    if iov_field is None or not isinstance(iov_field.value, Array):
        raise ArgumentError("msghdr needs msg_iov(N)=[{..., len}, ...]")
    iov = []
    for item in iov_field.value.items:
        if not isinstance(item, Struct) or len(item.items) != 2 or not isinstance(item.items[0], Anything):
            raise ArgumentError("an iovec is written {..., length}")
        length = item.items[1]
        if isinstance(length, Field):
            raise ArgumentError("an iovec is written {..., length}")
        iov.append(integer(length, symbols))
    if iov_field.count is not None and integer(iov_field.count, symbols) != len(iov):
        raise ArgumentError(f"msg_iov({integer(iov_field.count, symbols)}) does not match its "
                            f"{len(iov)}-element list")
    flags = integer(fields["msg_flags"].value, symbols) if "msg_flags" in fields else 0
    control = None
    if "msg_control" in fields:
        control_expr = fields["msg_control"].value
        if not isinstance(control_expr, Array):
            raise ArgumentError("msg_control is a [list] of cmsgs")
        control = tuple(_cmsg(item, symbols) for item in control_expr.items)
    return Msghdr("msg_name" in fields, tuple(iov), flags, control)


_KINDS: dict[str, Callable[[Expr, Symbols], object]] = {
    "fd": _fd, "int": _int, "int?": _int_or_any, "...": _any, "buffer": _buffer, "null": _null,
    "[int]": _boxed, "[int?]": _boxed_or_any, "optval": _optval, "path": _path, "[fd,fd]": _fd_pair,
    "pollfds": _pollfds, "epoll_event": _epoll_event, "msghdr": _msghdr,
}

SIGNATURES: dict[str, tuple[str, ...] | tuple[tuple[str, ...], ...]] = {
    "socket": ("int?", "int", "int"),
    "bind": ("fd", "...", "..."),
    "listen": ("fd", "int"),
    "accept": ("fd", "...", "..."),
    "connect": ("fd", "...", "..."),
    "read": ("fd", "buffer", "int"),
    "write": ("fd", "buffer", "int"),
    "recv": ("fd", "buffer", "int", "int"),
    "send": ("fd", "buffer", "int", "int"),
    "recvfrom": ("fd", "buffer", "int", "int", "...", "..."),
    "sendto": ("fd", "buffer", "int", "int", "int?", "..."),
    "recvmsg": ("fd", "msghdr", "int"),
    "sendmsg": ("fd", "msghdr", "int"),
    "close": ("fd",),
    "shutdown": ("fd", "int"),
    "setsockopt": ("fd", "int", "int", "optval", "int"),
    "getsockopt": ("fd", "int", "int", "optval", "[int?]"),
    "fcntl": (("fd", "int"), ("fd", "int", "int")),
    "ioctl": (("fd", "int"), ("fd", "int", "[int?]")),
    "poll": ("pollfds", "int", "int"),
    "epoll_create": ("int",),
    "epoll_ctl": ("fd", "int", "fd", "epoll_event"),
    "epoll_wait": ("fd", "epoll_event", "int", "int"),
    "open": ("path", "int"),
    "pipe": ("[fd,fd]",),
    "splice": ("fd", "null", "fd", "null", "int", "int"),
    "sendfile": ("fd", "fd", "[int]", "int"),
}

FD_RESULT = {"socket", "accept", "epoll_create", "open"}
"""Calls whose result is a new file descriptor: the script's number names it from then on."""


def prepare(event: SyscallEvent, symbols: Symbols) -> Call:
    """Check and convert one syscall line. Raises ArgumentError with a one-line reason."""
    signature = SIGNATURES.get(event.name)
    if signature is None:
        raise ArgumentError(f"unsupported system call {event.name}()")
    variants = signature if isinstance(signature[0], tuple) else (signature,)
    kinds = next((v for v in variants if len(v) == len(event.args)), None)
    if kinds is None:
        counts = " or ".join(str(len(v)) for v in variants)
        raise ArgumentError(f"{event.name}() takes {counts} arguments, got {len(event.args)}")
    args = []
    for position, (kind, expr) in enumerate(zip(kinds, event.args, strict=True), start=1):
        try:
            args.append(_KINDS[kind](expr, symbols))  # type: ignore[index]
        except ArgumentError as error:
            raise ArgumentError(f"{event.name}() argument {position}: {error}") from None
    result = event.result
    try:
        value = None if isinstance(result.value, Anything) else integer(result.value, symbols)
    except ArgumentError as error:
        raise ArgumentError(f"{event.name}() result: {error}") from None
    expected_errno = None
    if result.errno is not None:
        if not isinstance(getattr(errno_module, result.errno, None), int):
            raise ArgumentError(f"unknown errno {result.errno}")
        expected_errno = CONSTANTS[result.errno]
    if event.name in FD_RESULT and (value is None or value < -1):
        raise ArgumentError(f"{event.name}() must say which fd it returns (= 3) or = -1 with an errno")
    if event.name == "pipe":
        read_fd, write_fd = args[0]  # type: ignore[misc]
        if read_fd == write_fd:
            raise ArgumentError("pipe() needs two different fds")
    return Call(event.name, tuple(args), Expected(value, expected_errno), event.line)


# ---- comparing results ------------------------------------------------------------------------


def describe_errno(number: int) -> str:
    return f"{number} ({errno_name(number)}: {os.strerror(number)})"


def compare_result(expected: Expected, value: int, error: int, *, fd_result: bool = False) -> str | None:
    """Judge a return value and errno. With `fd_result`, any non-negative value matches a
    non-negative expectation (the script's number is only a name for the new fd)."""
    if expected.value is not None:
        if fd_result and expected.value >= 0:
            if value < 0:
                return f"Expected non-negative result but got {value} with errno {describe_errno(error)}"
        elif value != expected.value:
            detail = f" with errno {describe_errno(error)}" if value < 0 else ""
            return f"Expected result {expected.value} but got {value}{detail}"
    if expected.errno is not None and value < 0 and error != expected.errno:
        return f"Expected errno {describe_errno(expected.errno)} but got {describe_errno(error)}"
    if expected.errno is not None and value >= 0 and expected.value is None:
        return f"Expected errno {describe_errno(expected.errno)} but the call returned {value}"
    return None


def compare_tcp_info(expected: TcpInfoFields, actual: Mapping[str, int]) -> str | None:
    """Each named field against the decoded struct (a field past a short answer is a mismatch)."""
    for name, value in expected.values:
        if name not in actual:
            return f"Bad tcp_info: the kernel's answer ends before {name}"
        if actual[name] != value:
            return f"Bad tcp_info {name}: expected: {value} actual: {actual[name]}"
    return None


def flag_names(value: int, prefix: str) -> str:
    """`POLLIN|POLLOUT` for 5 with prefix "POLL" (unnamed bits in hex)."""
    names, rest = [], value
    for name, bit in CONSTANTS.items():
        if name.startswith(prefix) and bit and bit & (bit - 1) == 0 and rest & bit:
            names.append(name)
            rest &= ~bit
    if rest:
        names.append(hex(rest))
    return "|".join(names) or "0"


def compare_revents(pollfds: tuple[PollFd, ...], actual: list[int]) -> str | None:
    for index, (pollfd, revents) in enumerate(zip(pollfds, actual, strict=True)):
        if revents != pollfd.revents:
            return (f"Expected revents of {flag_names(pollfd.revents, 'POLL')} but got "
                    f"{flag_names(revents, 'POLL')} for pollfd {index}")
    return None


def compare_epoll(expected: EpollEvent, events: int, data: int) -> str | None:
    if events != expected.events:
        return (f"epoll_event->events does not match script: expected {flag_names(expected.events, 'EPOLL')} "
                f"actual {flag_names(events, 'EPOLL')}")
    if data != expected.data:
        return f"epoll_event->{expected.kind} does not match script: expected {expected.data} actual {data}"
    return None


# ---- sockaddr, struct and control-message encodings ----------------------------------------

_EXTENDED_ERROR = struct.Struct("=IBBBxII")
_TIMESPEC3 = struct.Struct("=qqqqqq")
_CMSGHDR = struct.Struct("=Qii")
_ALIGN = 8


def sockaddr(ip: str, port: int) -> bytes:
    """struct sockaddr_in / sockaddr_in6 for an address and port."""
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return struct.pack("=H", CONSTANTS["AF_INET"]) + struct.pack("!H", port) + address.packed + bytes(8)
    return (struct.pack("=H", CONSTANTS["AF_INET6"]) + struct.pack("!HI", port, 0) + address.packed
            + struct.pack("=I", 0))


def family_only(family: int) -> bytes:
    """A sockaddr that carries only a family (`sendto(..., AF_UNSPEC, ...)`)."""
    return struct.pack("=H", family) + bytes(14)


def cmsg_align(length: int) -> int:
    return (length + _ALIGN - 1) & ~(_ALIGN - 1)


def cmsg_data_length(cmsg: Cmsg) -> int:
    """Bytes of data the kernel puts in this control message (sockaddr after an extended error)."""
    if isinstance(cmsg.data, Timestamping):
        return _TIMESPEC3.size
    if isinstance(cmsg.data, ExtendedError):
        return _EXTENDED_ERROR.size + (16 if cmsg.level == CONSTANTS["SOL_IP"] else 28)
    return 4


def control_space(control: tuple[Cmsg, ...]) -> int:
    """msg_controllen that fits exactly the expected messages (more would hide MSG_CTRUNC)."""
    return sum(cmsg_align(_CMSGHDR.size) + cmsg_align(cmsg_data_length(c)) for c in control)


def parse_control(buffer: bytes) -> list[tuple[int, int, bytes]]:
    """(level, type, data) of each control message in a filled msg_control buffer."""
    messages, offset = [], 0
    while offset + _CMSGHDR.size <= len(buffer):
        length, level, kind = _CMSGHDR.unpack_from(buffer, offset)
        if length < _CMSGHDR.size or offset + length > len(buffer):
            break
        messages.append((level, kind, bytes(buffer[offset + _CMSGHDR.size:offset + length])))
        offset += cmsg_align(length)
    return messages


def compare_control(expected: tuple[Cmsg, ...], actual: list[tuple[int, int, bytes]],
                    live_usecs: Callable[[int], int] | None, tolerance_usecs: int) -> str | None:
    """Compare received control messages with the script's, in order.

    `live_usecs(script_usecs)` turns a script time into CLOCK_REALTIME microseconds (for
    SCM_TIMESTAMPING); timestamps are judged within `tolerance_usecs`."""
    for index, (want, (level, kind, data)) in enumerate(zip(expected, actual, strict=False)):
        if level != want.level:
            return f"Bad level in cmsg {index}: expected={want.level} actual={level}"
        if kind != want.type:
            return f"Bad type in cmsg {index}: expected={want.type} actual={kind}"
        if len(data) != cmsg_data_length(want):
            return f"Bad len in cmsg {index}: expected={cmsg_data_length(want)} actual={len(data)}"
        problem = _compare_cmsg_data(want, data, index, live_usecs, tolerance_usecs)
        if problem:
            return problem
    if len(actual) > len(expected):
        return f"received more than {len(expected)} cmsgs"
    if len(actual) < len(expected):
        return f"received only {len(actual)} cmsgs"
    return None


def _compare_cmsg_data(want: Cmsg, data: bytes, index: int, live_usecs: Callable[[int], int] | None,
                       tolerance_usecs: int) -> str | None:
    if isinstance(want.data, ExtendedError):
        actual = ExtendedError(*_EXTENDED_ERROR.unpack_from(data))
        for name in ("errno", "origin", "type", "code", "info", "data"):
            if getattr(actual, name) != getattr(want.data, name):
                return (f"Bad {name} in extended err {index}: expected={getattr(want.data, name)} "
                        f"actual={getattr(actual, name)}")
        return None
    if isinstance(want.data, Timestamping):
        if want.data.sec == 0 and want.data.nsec == 0:
            return None
        if live_usecs is None:
            return "SCM_TIMESTAMPING needs the script's start time, which the runner did not give"
        seconds, nanoseconds = _TIMESPEC3.unpack_from(data)[:2]
        actual_usecs = seconds * 1_000_000 + nanoseconds // 1000
        expected_usecs = live_usecs(want.data.sec * 1_000_000 + want.data.nsec // 1000)
        if abs(actual_usecs - expected_usecs) > tolerance_usecs:
            return (f"Bad timestamp 0 in scm_timestamping {index}: expected={expected_usecs} "
                    f"actual={actual_usecs} (off by {actual_usecs - expected_usecs} us)")
        return None
    value = struct.unpack_from("=i", data)[0]
    if value != want.data:
        return f"Bad data in cmsg {index}: expected={want.data} actual={value}"
    return None

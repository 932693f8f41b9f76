"""The typed tree of a packetdrill script: what the runner walks, independent of the text layout.

Every node is a frozen dataclass, so two parses of equivalent text compare equal; source line
numbers are carried (`line`) but left out of equality, so a rendered-and-reparsed script equals
the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# ---- times ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instant:
    """One time value: `0.1` (absolute) or `+.1` (relative to the previous event), in microseconds."""

    usecs: int
    relative: bool


@dataclass(frozen=True)
class Timing:
    """The time column. `start is None` means `*` (any time).

    `separator` is "" for one instant, "~" for a window (`+.3~+.31`: the event may happen anywhere
    inside) and "..." for a blocking system call (`+0...0.050 write(...)`: starts at `start`,
    returns `end` later; the corpus writes `end` without `+` and times the following `+0` packet
    from the call's start). The values are kept as written; the runner decides what they mean.
    """

    start: Instant | None
    end: Instant | None = None
    separator: Literal["", "~", "..."] = ""


# ---- system call expressions ---------------------------------------------------------------


@dataclass(frozen=True)
class Anything:
    """`...`: any value (an argument the script does not care about)."""


@dataclass(frozen=True)
class Int:
    value: int


@dataclass(frozen=True)
class Name:
    """A symbolic constant such as `SOCK_STREAM`, `NULL` or a `-D` definition like `TFO_COOKIE`."""

    name: str


@dataclass(frozen=True)
class String:
    value: str


@dataclass(frozen=True)
class BitOr:
    """`O_RDWR|O_NONBLOCK`: flags or'ed together."""

    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Array:
    """`[1000]`, `[5, 6]`, `[{fd=4, events=POLLIN}]`: a pointer to values (C array or out-parameter)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Field:
    """`fd=4` or `msg_iov(1)=[...]` (the parenthesised `count` gives an array length)."""

    name: str
    value: Expr
    count: Expr | None = None


@dataclass(frozen=True)
class Struct:
    """`{sa_family=AF_INET, ...}` or positional `{..., 1}`: items are Fields or bare expressions."""

    items: tuple[Field | Expr, ...]


Expr = Anything | Int | Name | String | BitOr | Array | Struct


@dataclass(frozen=True)
class SyscallResult:
    """`= 3`, `= -1 EAGAIN (Resource temporarily unavailable)`, `= 0x2 (flags O_RDWR)`."""

    value: Expr
    errno: str | None = None
    note: str | None = None


# ---- packets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeqRange:
    """`start:end(length)`: relative sequence numbers of the segment's payload."""

    start: int
    end: int
    length: int


@dataclass(frozen=True)
class TcpOption:
    """One TCP option as the script spells it.

    kind: `mss`, `wscale`, `sackOK`, `nop`, `eol`, `TS`, `sack`, `FO`, `FOEXP`, `md5`.
    values: mss/wscale (int,); TS (val, ecr); sack ((left, right), ...); FO/FOEXP/md5 (text,) or ().
    """

    kind: str
    values: tuple[int | str | tuple[int, int], ...] = ()


@dataclass(frozen=True)
class TcpPacket:
    """`< S. 0:0(0) ack 1 win 20000 <mss 1460,nop>`: inbound `<` is injected, outbound `>` expected.

    `options is None` means no option list was written; `options == "..."` means any options.
    """

    flags: str
    seq: SeqRange
    ack: int | None = None
    window: int | None = None
    urgent: int | None = None
    options: tuple[TcpOption, ...] | Literal["..."] | None = None


@dataclass(frozen=True)
class IcmpPacket:
    """`< icmp unreachable frag_needed mtu 800 [0:1000(1000)]`: the bracket names the quoted segment."""

    type: str
    code: str | None = None
    mtu: int | None = None
    quoted: SeqRange | None = None


# ---- statements ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OptionLine:
    """`--tolerance_usecs=10000` in the header: a command-line option set by the script."""

    name: str
    value: str | None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class PacketEvent:
    timing: Timing
    direction: Literal["<", ">"]
    packet: TcpPacket | IcmpPacket
    ecn: str | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class SyscallEvent:
    timing: Timing
    name: str
    args: tuple[Expr, ...]
    result: SyscallResult
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class ShellEvent:
    """A backtick command; `timing is None` for the untimed set-up lines at the top."""

    timing: Timing | None
    command: str
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class PythonEvent:
    """A `%{ ... }%` block, kept as text (asserts on TCP_INFO `tcpi_*` values)."""

    timing: Timing | None
    code: str
    line: int = field(default=0, compare=False)


Statement = OptionLine | PacketEvent | SyscallEvent | ShellEvent | PythonEvent


@dataclass(frozen=True)
class Script:
    path: str
    statements: tuple[Statement, ...]

    @property
    def options(self) -> dict[str, str | None]:
        return {s.name: s.value for s in self.statements if isinstance(s, OptionLine)}

    @property
    def events(self) -> tuple[PacketEvent | SyscallEvent | ShellEvent | PythonEvent, ...]:
        return tuple(s for s in self.statements if not isinstance(s, OptionLine))

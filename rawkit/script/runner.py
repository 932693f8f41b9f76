"""Run a packetdrill script: rawkit plays the remote host on tun0, the target (the kernel, or rawkit's
own stack) is driven through the script's system calls, and every `>` packet, result and timing is
checked as packetdrill checks it.

    run_script("tcp/close/close-on-syn-sent.pkt", RunOptions(ip_version=4), KernelTarget)
    # returns on a pass; raises ScriptFailure (a mismatch: exit 1) or ScriptBroken (exit 2)

Like packetdrill, one connection is "under test" at a time: socket() starts a new one; an inbound
SYN while it listens opens a passive connection (with a fresh remote port); connect() (or a Fast Open
sendto) makes the next outbound SYN the active one's. Outbound frames of other connections are
ignored. A `>` line longer than the segment that arrives is matched against the following
contiguous segments glued together (the kernel's TSO burst split smaller), as packetdrill does.

Timing follows packetdrill (see timeline.py). Two things differ because this runner is Python: calls
not marked blocking are queued to the target back to back and judged before the next packet, block
or command (a round trip per call would push later events late), and the run takes the lowest
real-time priority and a short GIL switch interval while it lasts (restored afterwards). Every run
is bounded in time (`RunOptions.timeout`) and its namespace always removed.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rawkit.script import parse_file, syscall_args
from rawkit.script.errors import ScriptSyntaxError
from rawkit.script.host_setup import ShellFailure, run_shell
from rawkit.script.nodes import (
    IcmpPacket,
    OptionLine,
    PacketEvent,
    PythonEvent,
    Script,
    ShellEvent,
    Statement,
    SyscallEvent,
    TcpPacket,
)
from rawkit.script.packets import (
    Addresses,
    Flow,
    PacketError,
    Segment,
    build_inbound_icmp,
    build_inbound_tcp,
    check_outbound,
    continues,
    cookie_bytes,
    describe,
    learn_outbound,
    merge,
    parse_outbound,
)
from rawkit.script.peer_link import NetConfig, PeerLink
from rawkit.script.target import PendingCall, Target
from rawkit.script.tcp_info import PythonBlocks
from rawkit.script.timeline import Clock, Due, seconds

DEFAULT_TIMEOUT = 20.0
NONBLOCKING_WAIT = 1.0  # how long a call not marked `...` may take before it counts as blocked
MSG_FASTOPEN = 0x20000000
LATE_PACKET_SLACK = 0.5
SWITCH_INTERVAL = 0.0002  # let the frame reader thread take the GIL quickly
IPV4_DEFAULTS = ("198.18.0.1", "198.19.0.1", "198.18.0.2", "255.255.0.0")
IPV6_DEFAULTS = ("fd00:18::1", "fd00:18::c0", "fd00:18::2")
IPV6_MTU = 1520  # as the corpus runs IPv6: the MSS stays 1460, as the scripts expect
OPTION_NAMES = {"ip_version", "local_ip", "remote_ip", "gateway_ip", "netmask_ip", "mtu", "tolerance_usecs",
                "tolerance_percent", "tcp_ts_tick_usecs", "tcp_ts_ecr_scaled", "bind_port", "connect_port",
                "define", "send_omit_free", "non_fatal", "verbose"}


class ScriptFailure(Exception):
    """The side under test did not do what the script says (exit 1). First line: FILE:LINE: reason."""


class ScriptBroken(Exception):
    """The script cannot run: syntax, unknown call or symbol, impossible expectation (exit 2)."""


@dataclass
class RunOptions:
    """Command-line settings; None means "the script header's value, else packetdrill's default"."""

    ip_version: int | None = None
    local_ip: str | None = None
    remote_ip: str | None = None
    gateway_ip: str | None = None
    netmask_ip: str | None = None
    mtu: int | None = None
    tolerance_usecs: int | None = None
    tolerance_percent: float | None = None
    tcp_ts_tick_usecs: int | None = None
    defines: dict[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class Settings:
    net: NetConfig
    tolerance_usecs: int
    tolerance_percent: float
    tcp_ts_tick_usecs: int


def settings_for(script: Script, options: RunOptions) -> Settings:
    """Header option lines, overridden by the command line, over packetdrill's defaults."""
    header = {}
    for statement in script.statements:
        if isinstance(statement, OptionLine):
            if statement.name not in OPTION_NAMES:
                raise ScriptBroken(f"{script.path}:{statement.line}: unknown option --{statement.name}")
            header[statement.name] = statement.value

    def pick(name: str, given: object) -> object:
        return given if given is not None else header.get(name)

    version_text = pick("ip_version", None if options.ip_version is None else f"ipv{options.ip_version}")
    if version_text not in (None, "ipv4", "ipv6"):
        raise ScriptBroken(f"{script.path}: bad --ip_version {version_text} (ipv4 or ipv6)")
    version = 6 if version_text == "ipv6" else 4
    defaults = IPV4_DEFAULTS if version == 4 else IPV6_DEFAULTS
    local_ip = str(pick("local_ip", options.local_ip) or defaults[0])
    remote_ip = str(pick("remote_ip", options.remote_ip) or defaults[1]).split("/")[0]
    gateway_ip = str(pick("gateway_ip", options.gateway_ip) or defaults[2])
    try:
        for address in (local_ip, remote_ip, gateway_ip):
            if ipaddress.ip_address(address).version != version:
                raise ScriptBroken(f"{script.path}: {address} is not an IPv{version} address")
        if version == 4:
            netmask = str(pick("netmask_ip", options.netmask_ip) or defaults[3])
            prefix_len = ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen
        else:
            prefix_len = 48
        mtu = int(pick("mtu", options.mtu) or (1500 if version == 4 else IPV6_MTU))
        tolerance_usecs = int(pick("tolerance_usecs", options.tolerance_usecs) or 4000)
        tolerance_percent = float(pick("tolerance_percent", options.tolerance_percent) or 12.5)
        tick = int(pick("tcp_ts_tick_usecs", options.tcp_ts_tick_usecs) or 0)
        bind_port = int(header.get("bind_port") or 8080)
        connect_port = int(header.get("connect_port") or 8080)
    except ValueError as error:
        raise ScriptBroken(f"{script.path}: bad option value: {error}") from None
    net = NetConfig(version, local_ip, remote_ip, gateway_ip, prefix_len, mtu, bind_port, connect_port)
    return Settings(net, tolerance_usecs, tolerance_percent, tick)


def _wants_fastopen(event: SyscallEvent, symbols: dict[str, str]) -> bool:
    """sendto()/sendmsg() with MSG_FASTOPEN in its flags: it opens the connection."""
    position = 3 if event.name == "sendto" else 2
    if len(event.args) <= position:
        return False
    try:
        return bool(syscall_args.integer(event.args[position], symbols) & MSG_FASTOPEN)
    except syscall_args.ArgumentError:
        return False


class Runner:
    """One script run (see the module docstring). Use `run()` once."""

    def __init__(self, script: Script, settings: Settings, target: Target, symbols: dict[str, str],
                 deadline: float, warn: Callable[[str], None]) -> None:
        self.script = script
        self.settings = settings
        self.target = target
        self.symbols = symbols
        self.deadline = deadline
        self.warn = warn
        self.clock = Clock(settings.tolerance_usecs, settings.tolerance_percent)
        self.flow: Flow | None = None
        self.pending: list[tuple[SyscallEvent, PendingCall, Due]] = []
        self.unsettled: list[tuple[SyscallEvent, PendingCall]] = []
        self.blocks = PythonBlocks()
        self.script_dir = str(Path(script.path).resolve().parent)
        self.link: PeerLink | None = None

    # ---- helpers

    def fail(self, line: int, message: str, *details: str) -> ScriptFailure:
        return ScriptFailure("\n".join((f"{self.script.path}:{line}: {message}", *details)))

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check_time(self, due: Due, line: int, what: str, previous: int | None) -> None:
        problem = self.clock.check(due, self.clock.now(), what, previous)
        if problem:
            raise self.fail(line, problem)

    def wait_until(self, due: Due, line: int) -> None:
        if due.start is None:
            return
        if self.clock.monotonic(due.start) > self.deadline:
            raise self.fail(line, f"script runs past its time limit ({seconds(due.start)} sec scheduled)")
        self.clock.sleep_until(due.start, self.deadline)

    # ---- the run

    def run(self) -> None:
        events = [s for s in self.script.statements if not isinstance(s, OptionLine)]
        first_timed = next((i for i, e in enumerate(events) if getattr(e, "timing", None) is not None),
                           len(events))
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        policy = _realtime_policy()
        try:
            with PeerLink(self.settings.net) as link:
                self.link = link
                try:
                    self.run_events(events, first_timed)
                finally:
                    self.target.close()
        finally:
            sys.setswitchinterval(switch_interval)
            if policy is not None:
                os.sched_setscheduler(0, *policy)

    def run_events(self, events: list[Statement], first_timed: int) -> None:
        assert self.link is not None
        for event in events[:first_timed]:
            self.untimed(event)
        self.target.start(self.link.net)
        self.clock.start()
        set_timebase = getattr(self.target, "set_timebase", None)
        if set_timebase is not None:  # lets a target judge SCM_TIMESTAMPING times
            set_timebase(self.clock.origin, self.settings.tolerance_usecs)
        for event in events[first_timed:]:
            if self.remaining() <= 0:
                raise self.fail(event.line, "script exceeded its time limit")
            if isinstance(event, PacketEvent):
                self.packet(event)
            elif isinstance(event, SyscallEvent):
                self.syscall(event)
            elif event.timing is None:
                self.untimed(event)
            elif isinstance(event, ShellEvent):
                self.shell(event)
            elif isinstance(event, PythonEvent):
                self.python(event)
        self.finish_pending()

    def untimed(self, event: object) -> None:
        self.settle()
        if isinstance(event, ShellEvent):
            self.run_shell(event)
        elif isinstance(event, PythonEvent):
            self.run_python(event)

    def run_shell(self, event: ShellEvent) -> None:
        assert self.link is not None
        try:
            for warning in run_shell(event.command, self.link.net, self.script_dir):
                self.warn(warning)
        except ShellFailure as error:
            raise self.fail(event.line, f"error executing command: {error}") from None

    def run_python(self, event: PythonEvent) -> None:
        try:
            info = self.target.tcp_info()
        except RuntimeError as error:
            raise self.fail(event.line, f"error in Python code: {error}") from None
        problem = self.blocks.run(event.code, info, event.line)
        if problem:
            raise self.fail(event.line, problem)

    def shell(self, event: ShellEvent) -> None:
        assert event.timing is not None
        self.settle()
        previous = self.clock.last_due
        due = self.clock.schedule(event.timing)
        self.wait_until(due, event.line)
        self.check_time(due, event.line, "command", previous)
        self.run_shell(event)
        self.clock.finished(due)

    def python(self, event: PythonEvent) -> None:
        assert event.timing is not None
        self.settle()
        previous = self.clock.last_due
        due = self.clock.schedule(event.timing)
        self.wait_until(due, event.line)
        self.check_time(due, event.line, "data collection for code", previous)
        self.run_python(event)
        self.clock.finished(due)

    # ---- system calls

    def syscall(self, event: SyscallEvent) -> None:
        if self.pending:
            self.finish_pending()
        previous = self.clock.last_due
        due = self.clock.schedule(event.timing)
        self.wait_until(due, event.line)
        self.check_time(due, event.line, "system call start", previous)
        call = self.target.begin(event, self.symbols)
        self.track(event)
        if event.timing.separator == "...":
            self.pending.append((event, call, due))
        else:
            self.unsettled.append((event, call))
        self.clock.finished(due)

    def settle(self) -> None:
        """Wait for the non-blocking calls begun so far and judge them. Calls run in order on the
        target's side, so a run of them is queued at once and waited for only before the next packet,
        block or command: the round trip per call (a few hundred microseconds in Python) would
        otherwise push every later event late."""
        while self.unsettled:
            event, call = self.unsettled.pop(0)
            if not call.wait(min(NONBLOCKING_WAIT, max(self.remaining(), 0.0))):
                raise self.fail(event.line, f"{event.name}() blocked; a blocking call needs `...` in its "
                                            "time column (such as +0...0.1)")
            self.judge(event, call)

    def judge(self, event: SyscallEvent, call: PendingCall) -> None:
        problem = call.mismatch()
        if problem:
            raise self.fail(event.line, f"{event.name}(): {problem}")

    def finish_pending(self) -> None:
        """Wait for the blocking calls still running, then check their results and return times."""
        self.settle()
        while self.pending:
            event, call, due = self.pending.pop(0)
            expected_end = self.clock.monotonic(due.end) if due.end is not None else self.deadline
            limit = min(self.deadline, expected_end + self.clock.tolerance_usecs / 1e6 + LATE_PACKET_SLACK)
            if not call.wait(max(limit - time.monotonic(), 0.0)):
                raise self.fail(event.line, f"{event.name}() did not return by "
                                            f"{seconds(self.clock.at(limit))} sec (expected at "
                                            f"{seconds(due.end or 0)} sec)")
            self.judge(event, call)
            if call.returned_at is not None and due.end is not None:
                problem = self.clock.check_return(due, self.clock.at(call.returned_at), due.start)
                if problem:
                    raise self.fail(event.line, problem)

    def track(self, event: SyscallEvent) -> None:
        """Follow which connection is under test (see the module docstring)."""
        failing = event.result.errno is not None
        net = self.settings.net
        if event.name == "socket" and not failing:
            self.flow = Flow("new", None, net.remote_port)
        elif event.name == "listen" and self.flow is not None and self.flow.state == "new":
            self.flow.state = "listening"
        elif self.flow is not None and self.flow.state == "new" and (
                event.name == "connect"
                or (event.name in ("sendto", "sendmsg") and _wants_fastopen(event, self.symbols))):
            self.flow.state = "connecting"
            self.flow.remote_port = net.remote_port

    # ---- packets

    def addresses(self) -> Addresses:
        assert self.link is not None
        net = self.settings.net
        return Addresses(net.ip_version, net.local_ip, net.remote_ip, self.link.mac)

    def packet(self, event: PacketEvent) -> None:
        self.settle()
        if event.direction == "<":
            self.inbound(event)
        else:
            self.outbound(event)

    def inbound(self, event: PacketEvent) -> None:
        assert self.link is not None
        packet = event.packet
        flow = self.flow
        net = self.settings.net
        if isinstance(packet, TcpPacket) and "S" in packet.flags and "." not in packet.flags \
                and (flow is None or flow.state == "listening"):
            flow = self.flow = Flow("passive", net.local_port, self.link.next_remote_port(),
                                    remote_isn=packet.seq.start)
        elif flow is None or flow.local_port is None and flow.state in ("new", "listening"):
            flow = self.flow = Flow("passive", net.local_port, self.link.next_remote_port())
        try:
            if isinstance(packet, IcmpPacket):
                frame = build_inbound_icmp(event, flow, self.addresses(), self.symbols)
            else:
                frame = build_inbound_tcp(event, flow, self.addresses(), self.symbols)
        except PacketError as error:
            raise ScriptBroken(f"{self.script.path}:{event.line}: {error}") from None
        previous = self.clock.last_due
        due = self.clock.schedule(event.timing, inbound=True)
        self.wait_until(due, event.line)
        self.check_time(due, event.line, "inbound packet", previous)
        self.link.send(frame)
        self.clock.finished(due, inbound=True)

    def outbound(self, event: PacketEvent) -> None:
        previous = self.clock.last_due
        due = self.clock.schedule(event.timing)
        allowed = self.clock.tolerance(due, previous) / 1e6
        if due.start is None:
            limit = self.deadline
        else:
            limit = min(self.deadline, self.clock.monotonic(due.end if due.window and due.end else due.start)
                        + allowed + LATE_PACKET_SLACK)
        stamp, segment = self.next_segment(event, limit, due)
        assert self.flow is not None
        if isinstance(event.packet, TcpPacket) and 0 < segment.payload_len < event.packet.seq.length:
            segment = self.gather(event, segment, limit, due)
        learn_outbound(event, self.flow, segment)
        problem = check_outbound(event, self.flow, segment, self.symbols, self.settings.tcp_ts_tick_usecs,
                                 self.settings.tolerance_usecs)
        actual = self.clock.at(stamp)
        if problem is None:
            problem = self.clock.check(due, actual, "outbound packet", previous)
        if problem:
            raise self.fail(event.line, f"error handling packet: {problem}",
                            f"script packet: {seconds(due.start or 0)} {_script_text(event)}",
                            f"actual packet: {seconds(actual)} {describe(segment, self.flow)}")
        self.clock.finished(due, sent_at=actual)

    def gather(self, event: PacketEvent, first: Segment, limit: float, due: Due) -> Segment:
        """Glue the pieces of a TSO burst the script writes as one line (packetdrill does the same)."""
        assert isinstance(event.packet, TcpPacket)
        expected = event.packet.seq.length
        pieces = [first]
        received = first.payload_len
        while received < expected:
            _, piece = self.next_segment(event, limit, due)
            problem = continues(first, pieces[-1], piece, expected, received)
            if problem:
                raise self.fail(event.line, f"error handling packet: {problem}",
                                f"script packet: {_script_text(event)}")
            pieces.append(piece)
            received += piece.payload_len
        return merge(pieces)

    def next_segment(self, event: PacketEvent, limit: float, due: Due) -> tuple[float, Segment]:
        """The next outbound TCP segment of the connection under test (others are skipped)."""
        assert self.link is not None
        net = self.settings.net
        while True:
            item = self.link.receive(limit)
            if item is None:
                expected = due.describe()
                raise self.fail(event.line, f"timing error: expected outbound packet at {expected} but none "
                                            f"was sent by {seconds(self.clock.at(limit))} sec",
                                f"script packet: {_script_text(event)}")
            stamp, frame = item
            segment = parse_outbound(frame, net.remote_ip)
            flow = self.flow
            if segment is None or flow is None:
                continue
            opening = segment.flags & 0x12 == 0x02 and segment.dport == flow.remote_port
            if flow.state == "connecting" and opening:
                flow.local_port = segment.sport
                flow.state = "syn_sent"
                return stamp, segment
            if segment.sport == flow.local_port and segment.dport == flow.remote_port:
                return stamp, segment


def _realtime_policy() -> tuple[int, os.sched_param] | None:
    """Like packetdrill on a multi-core host: the lowest real-time priority (SCHED_RR) for this
    thread and the threads it starts, so a busy machine delays events less. Returns what to restore."""
    if (os.cpu_count() or 1) < 2:
        return None
    try:
        previous = (os.sched_getscheduler(0), os.sched_getparam(0))
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(os.sched_get_priority_min(os.SCHED_RR)))
    except (OSError, AttributeError):
        return None
    return previous


def _script_text(event: PacketEvent) -> str:
    from rawkit.script.render import render_statement

    text = render_statement(event)
    return text.split(None, 1)[1] if " " in text else text


def _check_static(script: Script, target: Target, symbols: dict[str, str]) -> None:
    """Reject a broken script before any network is built: unknown calls, symbols, cookies."""
    timed = [s for s in script.events if getattr(s, "timing", None) is not None]
    if timed and timed[0].timing.start is not None and timed[0].timing.start.usecs != 0:  # type: ignore[union-attr]
        raise ScriptBroken(f"{script.path}:{timed[0].line}: first event should be at time 0")
    last_absolute = None
    for statement in script.events:
        timing = getattr(statement, "timing", None)
        if timing is not None and timing.start is not None and not timing.start.relative:
            if last_absolute is not None and timing.start.usecs < last_absolute:
                raise ScriptBroken(f"{script.path}:{statement.line}: time goes backward in script")
            last_absolute = timing.start.usecs
        if isinstance(statement, SyscallEvent):
            reason = target.check(statement, symbols)
            if reason:
                raise ScriptBroken(f"{script.path}:{statement.line}: {reason}")
        elif isinstance(statement, PacketEvent) and isinstance(statement.packet, TcpPacket):
            for option in statement.packet.options if isinstance(statement.packet.options, tuple) else ():
                if option.kind in ("FO", "FOEXP") and option.values:
                    try:
                        cookie_bytes(str(option.values[0]), symbols)
                    except PacketError as error:
                        raise ScriptBroken(f"{script.path}:{statement.line}: {error}") from None
        elif isinstance(statement, PacketEvent) and statement.direction == ">" \
                and isinstance(statement.packet, IcmpPacket):
            raise ScriptBroken(f"{script.path}:{statement.line}: outbound ICMP lines are not supported")


def run_script(path: str, options: RunOptions, make_target: Callable[[], Target],
               warn: Callable[[str], None] | None = None) -> None:
    """Parse and run one script. Raises ScriptFailure (exit 1) or ScriptBroken (exit 2)."""
    from rawkit.script.tfo_cookie import CookieError, fetch_cookie

    warn = warn or (lambda text: None)
    try:
        script = parse_file(path)
    except ScriptSyntaxError as error:
        raise ScriptBroken(str(error)) from None
    except OSError as error:
        raise ScriptBroken(f"{path}: {error.strerror or error}") from None
    settings = settings_for(script, options)
    symbols = dict(options.defines)
    target = make_target()
    if "TFO_COOKIE" not in symbols and "TFO_COOKIE" in Path(path).read_text(errors="replace"):
        symbols["TFO_COOKIE"] = ""  # placeholder so the static check passes; replaced below
    _check_static(script, target, {**symbols, "TFO_COOKIE": symbols.get("TFO_COOKIE") or "00"})
    deadline = time.monotonic() + options.timeout
    if symbols.get("TFO_COOKIE") == "":
        try:
            symbols["TFO_COOKIE"] = fetch_cookie(settings.net)
        except CookieError as error:
            raise ScriptBroken(f"{path}: cannot obtain TFO_COOKIE from the kernel: {error}") from None
    Runner(script, settings, target, symbols, deadline, warn).run()


def exit_status(error: BaseException | None) -> int:
    if error is None:
        return 0
    return 1 if isinstance(error, ScriptFailure) else 2



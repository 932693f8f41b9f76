"""`rawkit ping HOST`: iputils ping's lines, statistics and exit status, for ICMP echo (IPv4 and
IPv6) and for TCP SYN, UDP and ARP probes (`--tcp PORT`, `--udp PORT`, `--arp`).

Why so exact: people and scripts read ping output by eye and by regex; `rawkit ping` should need no
new habits. `--json` prints one object per probe result and a summary object instead.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from typing import Any

import click

from rawkit.cli import Failure
from rawkit.stack.icmp_text import icmp_error_text
from rawkit.stack.outcome import Outcome
from rawkit.stack.ping import Pinger, Statistics, exit_status

MIN_USER_INTERVAL = 0.002  # seconds; iputils' floor for users other than root


def milliseconds(rtt_us: int) -> str:
    """An RTT as iputils prints it: 3 decimals below 1 ms, 2 below 10, 1 below 100, else none."""
    if rtt_us >= 100000 - 50:
        return f"{(rtt_us + 500) // 1000}"
    if rtt_us >= 10000 - 5:
        return f"{(rtt_us + 50) // 1000}.{(rtt_us + 50) % 1000 // 100}"
    if rtt_us >= 1000:
        return f"{(rtt_us + 5) // 1000}.{(rtt_us + 5) % 1000 // 10:02d}"
    return f"{rtt_us // 1000}.{rtt_us % 1000:03d}"


def three_decimals(value_us: int) -> str:
    return f"{value_us // 1000}.{value_us % 1000:03d}"


class Target:
    """The resolved destination and how to name it in output."""

    def __init__(self, host: str, family: int, address: str, numeric: bool,
                 scope_device: str | None = None) -> None:
        self.host = host
        self.family = family
        self.address = address
        self.numeric = numeric  # no reverse lookups (numeric target or -n)
        self.scope_device = scope_device  # an IPv6 link-local target's "%dev": send through dev
        self._names: dict[str, str] = {}

    def name(self, address: str) -> str:
        """`name (address)` as iputils' pr_addr gives it, or the bare address (link-local ones with
        their %scope)."""
        if address == self.address and self.scope_device is not None:
            address = f"{address}%{self.scope_device}"
        if self.numeric:
            return address
        if address not in self._names:
            try:
                name = socket.getnameinfo((address, 0), socket.NI_NAMEREQD)[0]
            except OSError:
                name = address
            self._names[address] = f"{name} ({address})" if name != address else address
        return self._names[address]


def resolve(host: str, family: int, numeric_output: bool) -> Target:
    """Resolve HOST like ping (first address getaddrinfo gives); errors as ping words them, exit 2."""
    try:  # the hints iputils gives, so the same names fail with the same words
        infos = socket.getaddrinfo(host, None, family, socket.SOCK_DGRAM, socket.IPPROTO_UDP,
                                   socket.AI_CANONNAME)
    except socket.gaierror as error:
        raise Failure(f"{host}: {error.strerror}", 2) from None
    resolved_family, *_rest, sockaddr = infos[0]
    address = sockaddr[0]
    scope_device = socket.if_indextoname(sockaddr[3]) if len(sockaddr) == 4 and sockaddr[3] else None
    try:
        socket.getaddrinfo(host, None, family, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)
        literal = True
    except socket.gaierror:
        literal = False
    return Target(host, resolved_family, address, numeric_output or literal, scope_device)


class PlainPrinter:
    """Prints events the way iputils ping does."""

    def __init__(self, target: Target, *, mode: str, port: int, quiet: bool, flood: bool,
                 print_timestamps: bool, data_len: int) -> None:
        self.target = target
        self.mode = mode
        self.port = port
        self.quiet = quiet
        self.flood = flood
        self.print_timestamps = print_timestamps
        self.data_len = data_len

    def write(self, text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def stamp(self, ts_ns: int | None = None) -> str:
        if not self.print_timestamps:
            return ""
        ts_ns = time.time_ns() if ts_ns is None else ts_ns
        return f"[{ts_ns // 1_000_000_000}.{ts_ns // 1000 % 1_000_000:06d}] "

    def sent(self, index: int) -> None:
        if self.flood and not self.quiet:
            self.write(".")

    def send_failed(self, index: int, error: OSError) -> None:
        if self.flood:
            self.write("E")
        elif not self.quiet:
            sys.stderr.write(f"rawkit: sendmsg: {error.strerror or error}\n")

    def no_answer_yet(self, index: int) -> None:
        self.write(f"{self.stamp()}no answer yet for icmp_seq={index & 0xFFFF}\n")

    def status(self, stats: Statistics) -> None:
        loss = (stats.transmitted - stats.received) * 100 // stats.transmitted if stats.transmitted else 0
        line = f"\r{stats.received}/{stats.transmitted} packets, {loss}% loss"
        summary = stats.rtt_summary
        if summary is not None:
            average = summary[1]
            line += (f", min/avg/ewma/max = {three_decimals(stats.rtt_min)}/{three_decimals(average)}/"
                     f"{three_decimals(stats.rtt_ewma8 // 8)}/{three_decimals(stats.rtt_max)} ms")
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def outcome(self, outcome: Outcome, rtt_us: int | None, duplicate: bool) -> None:
        if self.quiet:
            return
        if self.flood:
            if outcome.kind == "error":
                self.write("\bE")
            else:
                self.write("\b \b")
            return
        self.write(self.stamp(outcome.ts_ns) + self.line(outcome, rtt_us, duplicate) + "\n")

    def line(self, outcome: Outcome, rtt_us: int | None, duplicate: bool) -> str:
        seq = outcome.index & 0xFFFF
        who = self.target.name(outcome.source)
        timing = f" time={milliseconds(rtt_us)} ms" if rtt_us is not None else ""
        ttl = f" ttl={outcome.ttl}" if outcome.ttl is not None else ""
        dup = " (DUP!)" if duplicate else ""
        if self.mode == "arp":
            rtt = f" {three_decimals(rtt_us)}ms" if rtt_us is not None else ""
            return f"Unicast reply from {outcome.source} [{outcome.mac.upper()}] {rtt}{dup}"
        if self.mode in ("tcp", "udp"):
            if outcome.kind == "error" and outcome.state != "closed":
                return f"From {who} {self.mode}_seq={seq} {icmp_error_text(outcome)}"
            head = f"From {who}" if outcome.state == "closed" and self.mode == "udp" else \
                f"{outcome.size} bytes from {who}:"
            return f"{head} {self.mode}_seq={seq} port={self.port} {outcome.state}{ttl}{timing}{dup}"
        if outcome.kind == "error":
            return f"From {who} icmp_seq={seq} {icmp_error_text(outcome)}"
        text = f"{outcome.size} bytes from {who}: icmp_seq={seq}{ttl}"
        if outcome.size < self.data_len + 8:
            return text + " (truncated)"
        text += timing + dup
        if outcome.bad_byte is not None:
            offset, expected, got = outcome.bad_byte
            text += f"\nwrong data byte #{offset} should be 0x{expected:x} but was 0x{got:x}"
            for position in range(16 if rtt_us is not None else 0, min(len(outcome.data), self.data_len)):
                if position % 32 == (16 if rtt_us is not None else 0):
                    text += f"\n#{position}\t"
                text += f"{outcome.data[position]:x} "
        return text

    def summary(self, stats: Statistics, *, interval: float, flood: bool, timing: bool) -> None:
        parts = [f"{stats.transmitted} packets transmitted, {stats.received} received"]
        if stats.duplicates:
            parts.append(f"+{stats.duplicates} duplicates")
        if stats.errors:
            parts.append(f"+{stats.errors} errors")
        if stats.transmitted:
            parts.append(f"{stats.loss_percent:g}% packet loss")
            parts.append(f"time {stats.elapsed_ms}ms")
        details = []
        summary = stats.rtt_summary
        if stats.received and timing and summary is not None:
            values = "/".join(three_decimals(value) for value in summary)
            details.append(f"rtt min/avg/max/mdev = {values} ms")
        if stats.pipe > 1:
            details.append(f"pipe {stats.pipe}")
        if stats.received and (interval == 0 or flood) and stats.transmitted > 1:
            gap = (max(stats.last_ns - stats.start_ns, 0) // 1000) // (stats.transmitted - 1)
            details.append(f"ipg/ewma {three_decimals(gap)}/{three_decimals(stats.rtt_ewma8 // 8)} ms")
        self.write(f"\n--- {self.target.host} ping statistics ---\n" + ", ".join(parts) + "\n"
                   + ", ".join(details) + "\n")


class JsonPrinter:
    """One JSON object per probe result (reply, error, timeout) and a final summary object."""

    def __init__(self, target: Target, mode: str, port: int) -> None:
        self.target = target
        self.mode = mode
        self.port = port
        self.answered: set[int] = set()

    def emit(self, record: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()

    def sent(self, index: int) -> None:
        pass

    def send_failed(self, index: int, error: OSError) -> None:
        self.answered.add(index)
        self.emit({"type": "send_error", "seq": index, "error": error.strerror or str(error)})

    def no_answer_yet(self, index: int) -> None:
        pass

    def status(self, stats: Statistics) -> None:
        self.emit(self._summary(stats, "status"))

    def outcome(self, outcome: Outcome, rtt_us: int | None, duplicate: bool) -> None:
        self.answered.add(outcome.index)
        record: dict[str, Any] = {"type": outcome.kind, "seq": outcome.index, "from": outcome.source,
                                  "ts": outcome.ts_ns / 1e9}
        if outcome.kind == "error":
            record.update(icmp_type=outcome.icmp_type, icmp_code=outcome.icmp_code,
                          message=icmp_error_text(outcome))
        if outcome.kind == "reply" or outcome.state:
            rtt_ms = None if rtt_us is None else rtt_us / 1000
            record.update(bytes=outcome.size, ttl=outcome.ttl, rtt_ms=rtt_ms, duplicate=duplicate)
        if outcome.state:
            record.update(port=self.port, state=outcome.state)
        if outcome.mac:
            record["mac"] = outcome.mac
        if outcome.bad_byte is not None:
            record["wrong_data_byte"] = outcome.bad_byte[0]
        self.emit(record)

    def finish(self, stats: Statistics) -> None:
        for index in range(1, stats.transmitted + 1):
            if index not in self.answered:
                self.emit({"type": "timeout", "seq": index})
        self.emit(self._summary(stats, "summary"))

    def _summary(self, stats: Statistics, kind: str) -> dict[str, Any]:
        summary = stats.rtt_summary
        record: dict[str, Any] = {
            "type": kind, "host": self.target.host, "address": self.target.address, "mode": self.mode,
            "transmitted": stats.transmitted, "received": stats.received, "duplicates": stats.duplicates,
            "errors": stats.errors, "loss_percent": round(stats.loss_percent, 4), "time_ms": stats.elapsed_ms,
        }
        if summary is not None:
            record.update(dict(zip(("rtt_min_ms", "rtt_avg_ms", "rtt_max_ms", "rtt_mdev_ms"),
                                   (value / 1000 for value in summary), strict=True)))
        return record


def parse_pattern(text: str) -> bytes:
    """-p: up to 16 pattern bytes as hex digits, read two at a time like iputils."""
    if not text or any(char not in "0123456789abcdefABCDEF" for char in text):
        raise Failure(f"patterns must be specified as hex digits: {text}", 2)
    return bytes(int(text[i : i + 2], 16) for i in range(0, min(len(text), 32), 2))


@click.command("ping", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("host")
@click.option("-c", "count", type=click.IntRange(min=1), help="Stop after COUNT probes (replies with -w).")
@click.option("-i", "interval", type=click.FloatRange(min=0), help="Seconds between probes (default 1).")
@click.option("-W", "timeout", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds to wait for a reply after the last probe.")
@click.option("-w", "deadline", type=click.IntRange(min=0), help="Stop after this many seconds.")
@click.option("-s", "size", type=click.IntRange(0, 65507), default=56, show_default=True,
              help="Data bytes per probe.")
@click.option("-t", "ttl", type=click.IntRange(1, 255), help="IP time to live / hop limit.")
@click.option("-I", "interface", help="Interface name or source address.")
@click.option("-q", "quiet", is_flag=True, help="Only the header and the statistics.")
@click.option("-f", "flood", is_flag=True, help="Flood: send as fast as replies come (root).")
@click.option("-n", "numeric", is_flag=True, help="No reverse lookups.")
@click.option("-D", "print_timestamps", is_flag=True, help="Prefix lines with a Unix timestamp.")
@click.option("-O", "outstanding", is_flag=True, help="Report probes still unanswered when the next goes.")
@click.option("-p", "pattern", help="Up to 16 fill bytes in hex.")
@click.option("-4", "ipv4", is_flag=True, help="IPv4 only.")
@click.option("-6", "ipv6", is_flag=True, help="IPv6 only.")
@click.option("--tcp", "tcp_port", type=click.IntRange(1, 65535), help="TCP SYN probes to PORT.")
@click.option("--udp", "udp_port", type=click.IntRange(1, 65535), help="UDP probes to PORT.")
@click.option("--arp", "arp", is_flag=True, help="ARP requests on the local segment (needs -I).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines: one per probe result, then a summary.")
def ping(host: str, count: int | None, interval: float | None, timeout: float, deadline: int | None,
         size: int, ttl: int | None, interface: str | None, quiet: bool, flood: bool, numeric: bool,
         print_timestamps: bool, outstanding: bool, pattern: str | None, ipv4: bool, ipv6: bool,
         tcp_port: int | None, udp_port: int | None, arp: bool, as_json: bool) -> int:
    """Send probes to HOST and report replies like iputils ping."""
    if ipv4 and ipv6:
        raise click.UsageError("only one of -4 and -6")
    if sum((tcp_port is not None, udp_port is not None, arp)) > 1:
        raise click.UsageError("only one of --tcp, --udp and --arp")
    mode = "tcp" if tcp_port is not None else "udp" if udp_port is not None else "arp" if arp else "icmp"
    port = tcp_port or udp_port or 0
    fill = parse_pattern(pattern) if pattern is not None else None
    family = socket.AF_INET6 if ipv6 else socket.AF_INET if ipv4 or arp else socket.AF_UNSPEC
    target = resolve(host, family, numeric)
    if interval is None:
        interval = 0.0 if flood else 1.0
    if interval < MIN_USER_INTERVAL and os.getuid() != 0:
        raise Failure(f"cannot flood; minimal interval allowed for user is {MIN_USER_INTERVAL * 1000:g}ms", 2)
    device, source = _interface(interface)
    device = device or target.scope_device
    if mode == "arp" and not device:
        raise Failure("--arp needs -I INTERFACE", 2)
    source_shown = _source(target, device, source) if interface else None
    probe = _open_probe(mode, target, port=port, size=size, fill=fill, ttl=ttl, device=device, source=source)
    if fill is not None and not as_json and mode == "icmp":
        print("PATTERN: 0x" + fill.hex())
    printer = JsonPrinter(target, mode, port) if as_json else PlainPrinter(
        target, mode=mode, port=port, quiet=quiet, flood=flood, print_timestamps=print_timestamps,
        data_len=size)
    if not as_json:
        printer.write(_header(target, mode, port, size, device, source_shown, interface) + "\n")
    wake_read, wake_write = socket.socketpair()
    for end in (wake_read, wake_write):
        end.setblocking(False)
    pinger = Pinger(probe, printer, count=count or 0, interval=interval, deadline=deadline, linger=timeout,
                    flood=flood, report_outstanding=outstanding, wakeup=wake_read)
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, lambda *_: pinger.stop()),
                signal.SIGQUIT: signal.signal(signal.SIGQUIT, lambda *_: pinger.request_status())}
    old_wakeup = signal.set_wakeup_fd(wake_write.fileno(), warn_on_full_buffer=False)
    try:
        stats = pinger.run()
    finally:
        signal.set_wakeup_fd(old_wakeup)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        probe.close()
        wake_read.close()
        wake_write.close()
    if as_json:
        printer.finish(stats)
    else:
        printer.summary(stats, interval=interval, flood=flood, timing=getattr(probe, "timing", True))
    return exit_status(stats, count or 0, deadline)


def _interface(interface: str | None) -> tuple[str | None, str | None]:
    """-I takes a device name or a source address, as in iputils."""
    if not interface:
        return None, None
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, interface)
            return None, interface
        except OSError:
            continue
    try:
        socket.if_nametoindex(interface)
    except OSError:
        raise Failure(f"SO_BINDTODEVICE {interface}: No such device", 2) from None
    return interface, None


def _source(target: Target, device: str | None, source: str | None) -> str:
    from rawkit.link.rawsock import source_address

    try:
        return source_address(target.family, target.address, device=device, source=source)
    except OSError as error:
        raise Failure(f"connect: {error.strerror}", 2) from None


def _header(target: Target, mode: str, port: int, size: int, device: str | None, source: str | None,
            interface: str | None) -> str:
    """iputils' first line (`PING host (addr) 56(84) bytes of data.`), or the probe mode's own."""
    if mode == "arp":
        return f"ARPING {target.address} from {source} {device}"
    origin = f" from {source} {device or ''}:" if interface else ""
    if mode in ("tcp", "udp"):
        return f"PING {target.host} ({target.address}){origin} {mode.upper()} port {port}"
    if target.family == socket.AF_INET6:
        return f"PING {target.host}({target.name(target.address)}){origin} {size} data bytes"
    return f"PING {target.host} ({target.address}){origin} {size}({size + 28}) bytes of data."


def _open_probe(mode: str, target: Target, *, port: int, size: int, fill: bytes | None, ttl: int | None,
                device: str | None, source: str | None):
    from rawkit.link.rawsock import NeedsPrivilege

    try:
        if mode != "arp":
            _source(target, device, source)  # no route: fail as ping does, before sending anything
        if mode == "icmp":
            from rawkit.stack.echo import EchoProbe

            return EchoProbe(target.address, target.family, size=size, pattern=fill, ttl=ttl, device=device,
                             source=source)
        if mode == "tcp":
            from rawkit.stack.synprobe import SynProbe

            return SynProbe(target.address, target.family, port, ttl=ttl, device=device, source=source)
        if mode == "udp":
            from rawkit.stack.udpprobe import UdpProbe

            return UdpProbe(target.address, target.family, port, size=size, ttl=ttl, device=device,
                            source=source)
        from rawkit.stack.arpprobe import ArpProbe

        return ArpProbe(target.address, device)
    except NeedsPrivilege as error:
        raise Failure(f"ping needs root or CAP_NET_RAW ({error.strerror})", 2) from None

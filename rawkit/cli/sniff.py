"""`rawkit sniff -i IFACE [FILTER...]`: live capture, printed like `tcpdump -nn -i IFACE` or written to
a pcap/pcapng file, with tcpdump's three statistics lines on exit.

Why the care on exit: a capture is often stopped by Ctrl-C or SIGTERM; signals only set a flag (and
wake the poll through the wakeup fd), so a frame is either wholly written or not counted, and the
file is flushed and closed before the counts are printed.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import signal
import sys
from collections.abc import Callable
from typing import Any

import click

from rawkit.cli import Failure
from rawkit.wire.tcpdump import Printer, timestamps

_TIMESTAMP_STYLES = {0: timestamps.DEFAULT, 1: timestamps.NONE, 2: timestamps.EPOCH, 3: timestamps.DELTA,
                     4: timestamps.DATE, 5: timestamps.SINCE_FIRST}
_LINK_NAMES = {1: "EN10MB (Ethernet)", 101: "RAW (Raw IP)", 276: "LINUX_SLL2 (Linux cooked v2)"}
# filters whose cBPF reads VLAN/MPLS/PPPoE headers in place: on Linux the kernel has already moved the
# VLAN tag into metadata when the program runs, so these are matched here on the restored frame
_USERSPACE_WORDS = ("vlan", "mpls", "pppoes", "geneve", "vxlan")


@click.command("sniff", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("words", nargs=-1, metavar="[FILTER...]")
@click.option("-i", "interface", required=True, metavar="IFACE", help="Interface to capture on ('any': all).")
@click.option("-c", "limit", type=click.IntRange(min=1), help="Stop after N packets.")
@click.option("-w", "write_to", metavar="FILE", help="Write packets to FILE (pcap; '-': stdout).")
@click.option("--pcapng", is_flag=True, help="Write pcapng instead of pcap.")
@click.option("-s", "snaplen", type=click.IntRange(min=0), default=262144, show_default=True,
              help="Bytes kept of each packet (0: 262144).")
@click.option("-p", "no_promiscuous", is_flag=True, help="Do not put the interface in promiscuous mode.")
@click.option("-B", "buffer_kib", type=click.IntRange(min=1), default=4096, show_default=True,
              help="Ring buffer size in KiB.")
@click.option("-Q", "direction", type=click.Choice(["in", "out", "inout"]), default="inout",
              help="Direction of packets to capture.")
@click.option("-Z", "user", metavar="USER", help="Drop root for USER once the socket and file are open.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per packet.")
@click.option("-e", "link_headers", is_flag=True, help="Print the link-level header.")
@click.option("-v", "verbose", count=True, help="More detail (-v, -vv, -vvv).")
@click.option("-q", "quiet", is_flag=True, help="Less protocol detail.")
@click.option("-S", "absolute", is_flag=True, help="Absolute TCP sequence numbers.")
@click.option("-t", "time_style", count=True,
              help="-t none, -tt epoch, -ttt delta, -tttt date, -ttttt since first.")
@click.option("--nano", is_flag=True, help="Nanosecond timestamps (and a nanosecond pcap with -w).")
@click.option("-n", "numeric", count=True, hidden=True, help="Accepted from tcpdump habit: always -nn.")
@click.option("-U", "packet_buffered", is_flag=True, help="Flush the file after every packet.")
@click.option("--workers", type=click.IntRange(1, 32), default=1, show_default=True,
              help="Share the capture among N processes (PACKET_FANOUT flow hash; needs -w FILE).")
def sniff(words: tuple[str, ...], interface: str, limit: int | None, write_to: str | None, pcapng: bool,
          snaplen: int, no_promiscuous: bool, buffer_kib: int, direction: str, user: str | None,
          as_json: bool, link_headers: bool, verbose: int, quiet: bool, absolute: bool, time_style: int,
          nano: bool, numeric: int, packet_buffered: bool, workers: int) -> None:
    """Capture on IFACE like `tcpdump -nn -i IFACE [FILTER]`."""
    if time_style > 5:
        raise click.UsageError("at most five -t")
    settings = _Settings(interface, " ".join(words), snaplen or 262144, not no_promiscuous, buffer_kib * 1024,
                         direction, limit)
    if workers > 1:
        if write_to is None or write_to == "-" or limit is not None or user is not None:
            raise click.UsageError("--workers needs -w FILE, and takes neither -c nor -Z")
        from rawkit.cli.sniff_workers import run_workers

        run_workers(_Session, settings, write_to, pcapng, nano, workers, _listening, _report)
        return
    session = _Session(settings)
    session.open()
    writer = _open_writer(write_to, pcapng, session, nano) if write_to is not None else None
    if user is not None:
        _drop_root(user)
    printer = Printer(link_headers=link_headers, verbose=verbose, absolute=absolute, quiet=quiet,
                      timestamps=_TIMESTAMP_STYLES[time_style], nano=nano)
    _announce(session, write_to is not None, verbose)
    if writer is not None:
        output: Callable[[Any], None] = _file_output(writer, packet_buffered)
        if write_to != "-":
            session.after_batch = _nothing
    elif as_json:
        output = _json_output(printer, session.capture.linktype)
    else:
        output = _text_output(printer, session.capture.linktype)
    try:
        stopped_by = session.run(output)
    finally:
        if writer is not None:
            writer.close()
        _flush_stdout()
    stats = session.final_stats()
    _report(session.captured, stats.received, stats.dropped)
    if stopped_by is not None:
        raise Failure(stopped_by, 1)


class _Settings:
    def __init__(self, interface: str, expression: str, snaplen: int, promiscuous: bool, buffer_bytes: int,
                 direction: str, limit: int | None) -> None:
        self.interface = interface
        self.expression = expression
        self.snaplen = snaplen
        self.promiscuous = promiscuous
        self.buffer_bytes = buffer_bytes
        self.direction = direction
        self.limit = limit


class _Session:
    """One capture from open to the final counts: the signal handling lives here."""

    def __init__(self, settings: _Settings, fanout_group: int | None = None) -> None:
        self.settings = settings
        self.fanout_group = fanout_group
        self.captured = 0
        self.rejected = 0  # frames the kernel passed and the userspace filter did not
        self.stop_signal: int | None = None
        self.match: Callable[..., bool] | None = None
        self.after_batch: Callable[[], None] = sys.stdout.flush  # lines appear as blocks arrive

    def open(self) -> None:
        from rawkit.link import interfaces
        from rawkit.link.packet_socket import Capture
        from rawkit.link.rawsock import NeedsPrivilege

        settings = self.settings
        try:
            if settings.interface != "any":
                hatype = interfaces.hardware_type(settings.interface)
                linktype = interfaces.capture_linktype(hatype)[0]
            else:
                linktype = interfaces.LINKTYPE_LINUX_SLL2
            program = self._program(linktype)
            try:
                self.capture = self._capture(Capture, program)
            except OSError as error:
                if program is None or error.errno not in (errno.EINVAL, errno.ENOMEM):
                    raise
                # a program the kernel will not take (too long, say): the same filter runs here
                self.match = self._compiled.match
                self.capture = self._capture(Capture, None)
        except NeedsPrivilege as error:
            raise Failure(f"sniff needs root or CAP_NET_RAW ({error.strerror})", 2) from None
        except interfaces.UnknownInterface as error:
            raise Failure(str(error.args[0]), 2) from None
        except OSError as error:
            raise Failure(f"{settings.interface}: {error.strerror or error}", 2) from None

    def _capture(self, capture_type: Any, program: list[tuple[int, int, int, int]] | None) -> Any:
        settings = self.settings
        return capture_type(settings.interface, snaplen=settings.snaplen, promiscuous=settings.promiscuous,
                            buffer_bytes=settings.buffer_bytes, direction=settings.direction, program=program,
                            fanout_group=self.fanout_group)

    def _program(self, linktype: int) -> list[tuple[int, int, int, int]] | None:
        """The kernel's program (rewritten for cooked `any` frames, which the kernel filters before
        their cooked header exists); a filter the kernel cannot run as written (VLAN tags are
        moved out of the frame; too long; reads the cooked link address) is matched here."""
        expression = self.settings.expression
        if not expression.strip():
            return None
        from rawkit.filter import FilterError
        from rawkit.filter import compile as compile_filter

        try:
            compiled = compile_filter(expression, linktype)
        except FilterError as error:
            raise Failure(str(error), 2) from None
        except RecursionError:
            raise Failure("filter expression too deeply nested", 2) from None
        self._compiled = compiled
        lowered = expression.lower()
        if any(word in lowered for word in _USERSPACE_WORDS):
            self.match = compiled.match
            return None
        try:
            program = compiled.bpf(self.settings.snaplen)
        except FilterError:  # too long for classic BPF: the same filter runs here
            program = None
        if program is not None and linktype == 276:
            from rawkit.link.cooked_filter import for_cooked_socket

            program = for_cooked_socket(program)
        if program is None:
            self.match = compiled.match
        return program

    def run(self, output: Callable[[Any], None]) -> str | None:
        """Capture until the count is reached, a signal comes or the interface goes away; returns
        why it stopped abnormally (None when it did not)."""
        from rawkit.link.packet_socket import InterfaceDown

        read_end, write_end = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.capture.watch(read_end)
        previous_wakeup = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        previous = {number: signal.signal(number, self._on_signal)
                    for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._loop(output, InterfaceDown)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            signal.set_wakeup_fd(previous_wakeup)
            os.close(read_end)
            os.close(write_end)

    def _on_signal(self, number: int, _frame: object) -> None:
        self.stop_signal = number

    def _loop(self, output: Callable[[Any], None], interface_down: type[OSError]) -> str | None:
        capture = self.capture
        limit = self.settings.limit
        match = self.match
        while self.stop_signal is None:
            try:
                capture.wait(None)
            except interface_down as error:
                self._take(output, match, limit)
                return str(error.strerror)
            reached = self._take(output, match, limit)
            self.after_batch()
            if reached:
                return None
        return None

    def _take(self, output: Callable[[Any], None], match: Callable[..., bool] | None,
              limit: int | None) -> bool:
        """Output what the ring holds; True once the count is reached."""
        for record in self.capture.records():  # (data, ts_ns, wirelen, pkttype, ...)
            if match is not None and not match(record[0], record[2]):
                self.rejected += 1
                continue
            output(record)
            self.captured += 1
            if self.captured == limit:
                return True
            if self.stop_signal is not None:
                return False
        return False

    def final_stats(self) -> Any:
        """The kernel's counts; with a filter run here, "received by filter" leaves out what it
        rejected, so the line means what tcpdump's means."""
        try:
            stats = self.capture.stats()
        finally:
            self.capture.close()
        stats.received -= self.rejected
        return stats


def _open_writer(path: str, pcapng: bool, session: _Session, nano: bool) -> Any:
    from rawkit.pcap import PcapNgWriter, PcapWriter

    target = sys.stdout.buffer if path == "-" else path
    capture = session.capture
    try:
        if pcapng:
            writer = PcapNgWriter(target)
            writer.add_interface(capture.linktype, capture.snaplen, name=capture.device)
        else:
            writer = PcapWriter(target, capture.linktype, capture.snaplen, nanosecond=nano)
    except OSError as error:
        capture.close()
        raise Failure(f"{path}: {error.strerror or error}", 2) from None
    return writer


def _file_output(writer: Any, packet_buffered: bool) -> Callable[[Any], None]:
    write = writer.write
    from rawkit.pcap import PcapNgWriter

    if isinstance(writer, PcapNgWriter):
        def output(record: Any) -> None:
            write(record[0], record[1], 0, record[2])
            if packet_buffered:
                writer.flush()
    else:
        def output(record: Any) -> None:
            write(record[0], record[1], record[2])
            if packet_buffered:
                writer.flush()
    return output


def _text_output(printer: Printer, linktype: int) -> Callable[[Any], None]:
    format_frame = printer.format_frame
    out = sys.stdout

    def output(record: Any) -> None:
        out.write(format_frame(record[0], linktype, record[1], record[2]) + "\n")
    return output


def _json_output(printer: Printer, linktype: int) -> Callable[[Any], None]:
    from rawkit.cli.read import packet_record
    from rawkit.link.ring import PACKET_OUTGOING
    from rawkit.wire.packet import Packet

    out = sys.stdout

    def output(record: Any) -> None:
        fields = packet_record(Packet(record[0], linktype, record[1], record[2]), printer)
        fields["direction"] = "out" if record[3] == PACKET_OUTGOING else "in"
        out.write(json.dumps(fields, separators=(",", ":")) + "\n")
    return output


def _drop_root(user: str) -> None:
    """tcpdump -Z: give up root once nothing more needs it."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise Failure(f"-Z: no such user {user!r}", 2) from None
    try:
        os.setgroups([])
        os.setgid(entry.pw_gid)
        os.setuid(entry.pw_uid)
    except PermissionError as error:
        raise Failure(f"-Z {user}: cannot change user ({error.strerror})", 2) from None


def _announce(session: _Session, writing: bool, verbose: int) -> None:
    capture = session.capture
    if not writing and not verbose:
        sys.stderr.write("rawkit: verbose output suppressed, use -v[v]... for full protocol decode\n")
    _listening(capture.device, capture.linktype, capture.snaplen, 1)


def _listening(device: str, linktype: int, snaplen: int, workers: int) -> None:
    """tcpdump's "listening on" line (tests and scripts wait for it)."""
    name = _LINK_NAMES.get(linktype, str(linktype))
    shared = f", {workers} workers" if workers > 1 else ""
    sys.stderr.write(f"listening on {device}, link-type {name}, snapshot length {snaplen} bytes{shared}\n")
    sys.stderr.flush()


def _plural(count: int, what: str) -> str:
    return f"{count} packet{'' if count == 1 else 's'} {what}"


def _report(captured: int, received: int, dropped: int) -> None:
    """tcpdump's three closing lines, on stderr."""
    sys.stderr.write(f"{_plural(captured, 'captured')}\n{_plural(received, 'received by filter')}\n"
                     f"{_plural(dropped, 'dropped by kernel')}\n")
    sys.stderr.flush()


def _nothing() -> None:
    pass


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)

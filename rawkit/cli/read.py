"""`rawkit read FILE [FILTER...]`: print a capture the way `tcpdump -nn -r FILE` does.

Same lines (so scripts and eyes used to tcpdump need nothing new), same flags (-c -e -v -x -X -A -t..
-S -q --count -w), plus --json. Output goes out in large chunks: this loop is benchmarked against
tcpdump itself.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

from rawkit._read import selected
from rawkit.pcap import CaptureError, open_capture
from rawkit.wire.tcpdump import Printer, timestamps

_CHUNK = 4096  # lines per write
_LINK_NAMES = {0: "NULL (BSD loopback)", 1: "EN10MB (Ethernet)", 101: "RAW (Raw IP)",
               108: "LOOP (OpenBSD loopback)", 113: "LINUX_SLL (Linux cooked v1)", 228: "IPV4 (Raw IPv4)",
               229: "IPV6 (Raw IPv6)", 276: "LINUX_SLL2 (Linux cooked v2)"}
_TIMESTAMP_STYLES = {0: timestamps.DEFAULT, 1: timestamps.NONE, 2: timestamps.EPOCH, 3: timestamps.DELTA,
                     4: timestamps.DATE, 5: timestamps.SINCE_FIRST}


def run(words: tuple[str, ...], read_file: str | None, limit: int | None, link_headers: bool, verbose: int,
        hex_only: int, hex_ascii: int, ascii_only: bool, time_style: int, absolute: bool, quiet: bool,
        numeric: int, nano: bool, count_only: bool, write_to: str | None, as_json: bool,
        filter_file: str | None) -> None:
    """Print FILE like `tcpdump -nn -r FILE [FILTER]` (the command's body: rawkit.cli.main calls it
    directly when rawkit.cli.read_args could parse the words, else through click)."""
    if read_file is None:
        if not words:
            raise _usage("missing FILE (or -r FILE)")
        read_file, words = words[0], words[1:]
    if time_style > 5:
        raise _usage("at most five -t")
    hex_mode = _hex_mode(hex_only, hex_ascii, ascii_only)
    capture = _open(read_file)
    _announce(read_file, capture)
    if filter_file is not None:
        from rawkit.filter import read_filter_file

        try:
            words = (read_filter_file(filter_file),)
        except ValueError as error:
            raise _failure(str(error), 2) from None
    packets = _filtered(capture, " ".join(words)) if words else capture
    printer = Printer(link_headers=link_headers, verbose=verbose, absolute=absolute, quiet=quiet,
                      timestamps=_TIMESTAMP_STYLES[time_style], nano=nano, hex=hex_mode)
    with capture:
        _output(packets, printer, capture, write_to, count_only, as_json, limit)


def __getattr__(name: str) -> Any:
    """`read`, the click command that rawkit.cli.COMMANDS names, is built on first use: a read that
    rawkit.cli.read_args parses runs `run` without importing click."""
    if name == "read":
        command = globals()["read"] = _command()
        return command
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _command() -> Any:
    import click

    @click.command("read", context_settings={"help_option_names": ["-h", "--help"]})
    @click.argument("words", nargs=-1, metavar="FILE [FILTER...]")
    @click.option("-r", "read_file", metavar="FILE", help="Capture to read (then every argument is filter).")
    @click.option("-c", "limit", type=click.IntRange(min=1), help="Stop after N packets.")
    @click.option("-e", "link_headers", is_flag=True, help="Print the link-level header.")
    @click.option("-v", "verbose", count=True, help="More detail (-v, -vv, -vvv).")
    @click.option("-x", "hex_only", count=True, help="Hex dump from the network layer (-xx: whole frame).")
    @click.option("-X", "hex_ascii", count=True, help="Hex and ASCII dump (-XX: whole frame).")
    @click.option("-A", "ascii_only", is_flag=True, help="ASCII dump from the network layer.")
    @click.option("-t", "time_style", count=True,
                  help="-t none, -tt epoch, -ttt delta, -tttt date, -ttttt since first.")
    @click.option("-S", "absolute", is_flag=True, help="Absolute TCP sequence numbers.")
    @click.option("-q", "quiet", is_flag=True, help="Less protocol detail.")
    @click.option("-n", "numeric", count=True, hidden=True, help="Accepted from tcpdump habit: always -nn.")
    @click.option("--nano", is_flag=True, help="Nanosecond timestamps.")
    @click.option("--count", "count_only", is_flag=True, help="Print only the number of packets.")
    @click.option("-w", "write_to", metavar="OUT",
                  help="Write the selected packets to OUT (pcap, '-': stdout).")
    @click.option("--json", "as_json", is_flag=True, help="One JSON object per packet.")
    @click.option("-F", "filter_file", metavar="FILE",
                  help="Read the filter from FILE ('#' starts a comment).")
    def read(**options: Any) -> None:
        """Print FILE like `tcpdump -nn -r FILE [FILTER]`."""
        run(**options)

    return read


def _usage(message: str) -> Exception:
    import click

    return click.UsageError(message)


def _failure(message: str, exit_code: int) -> Exception:
    """rawkit.cli's one-line error (a click exception: imported only when there is an error)."""
    from rawkit.cli import Failure

    return Failure(message, exit_code)


def _output(packets: Iterable[Any], printer: Printer, capture: Any, write_to: str | None, count_only: bool,
            as_json: bool, limit: int | None) -> None:
    """Write what was asked for (the first `limit` packets, if given); the lines before a damaged
    record go out before the error."""
    records = _records(packets, capture) if write_to is None and not (count_only or as_json) else None
    if limit is not None:
        packets = itertools.islice(packets, limit)
        records = records if records is None else itertools.islice(records, limit)
    try:
        if write_to is not None:
            _write(packets, write_to, capture)
        elif count_only:
            sys.stdout.write(f"{sum(1 for _ in packets)} packets\n")
            sys.stdout.flush()
        elif as_json:
            import json  # only --json needs it: kept off every read's start-up

            _print(packets, lambda pkt: json.dumps(packet_record(pkt, printer), separators=(",", ":")))
        else:
            _print_text(records, printer)
    except BrokenPipeError:
        _silence_stdout()
    except CaptureError as error:
        raise _failure(str(error), 1) from None
    except ValueError as error:  # a filter that does not fit a later pcapng interface's link type
        raise _filter_failure(error) from None


def _hex_mode(hex_only: int, hex_ascii: int, ascii_only: bool) -> str | None:
    """tcpdump's dump flags: -X beats -x; doubling either (or -xX twice) dumps the link header too."""
    if ascii_only:
        return "A"
    if hex_ascii:
        return "XX" if hex_ascii > 1 or hex_only > 1 else "X"
    if hex_only:
        return "xx" if hex_only > 1 else "x"
    return None


def _open(path: str) -> Any:
    """The capture reader ('-' is stdin); a file that cannot be opened or read is one line, exit 1."""
    try:
        return open_capture(path)
    except CaptureError as error:
        raise _failure(str(error), 1) from None
    except OSError as error:
        raise _failure(f"{path}: {error.strerror or error}", 1) from None


def _announce(path: str, capture: Any) -> None:
    """tcpdump's first line, on stderr so stdout stays the packets."""
    linktype = capture.linktype
    name = _LINK_NAMES.get(linktype, f"{linktype}")
    snaplen = getattr(capture, "snaplen", 262144)
    sys.stderr.write(f"reading from file {path}, link-type {name}, snapshot length {snaplen}\n")


def _filtered(capture: Any, expression: str) -> Iterable[Any]:
    """The packets the filter words select: the one place `rawkit read` touches rawkit.filter."""
    try:
        return selected(capture, expression)
    except ValueError as error:
        raise _filter_failure(error) from None


def _filter_failure(error: ValueError) -> Exception:
    """A filter error as one line, exit 2; any other ValueError is a bug and stays one.
    (rawkit.filter is imported only when a filter is given: it costs start-up time.)"""
    from rawkit.filter import FilterError

    if not isinstance(error, FilterError):
        raise error
    return _failure(str(error), 2)


def _print(packets: Iterable[Any], render: Callable[[Any], str]) -> None:
    """The hot loop: render each packet, write every few thousand lines in one call. The lines
    before a damaged record still go out (the finally) before the error is reported."""
    out = sys.stdout
    lines: list[str] = []
    append = lines.append
    try:
        for pkt in packets:
            append(render(pkt))
            if len(lines) >= _CHUNK:
                out.write("\n".join(lines) + "\n")
                lines.clear()
    finally:
        if lines:
            out.write("\n".join(lines) + "\n")
        out.flush()


def _records(packets: Iterable[Any], capture: Any) -> Iterable[tuple[bytes, int, int, int]]:
    """(data, linktype, ts_ns, wirelen) of each packet to print. Straight from the reader when it
    yields exactly those packets (no filter, or one it ran on the raw records): no Packet is built."""
    if packets is capture or packets is iter(capture):
        return capture.records()
    return ((pkt.data, pkt.linktype, pkt.ts_ns, pkt.wirelen) for pkt in packets)


def _print_text(records: Iterable[tuple[bytes, int, int, int]], printer: Printer) -> None:
    """`_print` for the tcpdump lines, inlined: this is the loop benchmarked against tcpdump."""
    out = sys.stdout
    lines: list[str] = []
    append = lines.append
    try:
        for line in printer.lines(records):
            append(line)
            if len(lines) >= _CHUNK:
                out.write("\n".join(lines) + "\n")
                lines.clear()
    finally:
        if lines:
            out.write("\n".join(lines) + "\n")
        out.flush()


def _write(packets: Iterable[Any], dest: str, capture: Any) -> None:
    from rawkit.pcap import PcapWriter

    target = sys.stdout.buffer if dest == "-" else dest
    with PcapWriter(target, capture.linktype, getattr(capture, "snaplen", 262144)) as writer:
        for pkt in packets:
            writer.write(pkt.data, pkt.ts_ns, pkt.wirelen)


def _silence_stdout() -> None:
    """After `| head` closed the pipe: stop quietly, and keep Python's exit flush from complaining."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def packet_record(pkt: Any, printer: Printer) -> dict[str, Any]:
    """The --json object: capture metadata, each decoded layer's main fields, tcpdump's line."""
    record: dict[str, Any] = {"ts": pkt.ts_ns / 1e9, "caplen": len(pkt.data), "wirelen": pkt.wirelen,
                              "linktype": pkt.linktype}
    if pkt.eth is not None:
        record["eth"] = {"src": pkt.eth.src, "dst": pkt.eth.dst, "type": pkt.eth.type}
    if pkt.vlans:
        record["vlans"] = [{"vid": tag.vid, "pcp": tag.pcp, "dei": tag.dei, "type": tag.type}
                           for tag in pkt.vlans]
    if pkt.sll is not None:
        record["sll"] = {"pkttype": pkt.sll.pkttype, "protocol": pkt.sll.protocol, "ifindex": pkt.sll.ifindex}
    if pkt.arp is not None:
        arp = pkt.arp
        record["arp"] = {"op": arp.op, "hwsrc": arp.hwsrc, "psrc": arp.psrc, "hwdst": arp.hwdst,
                         "pdst": arp.pdst}
    if pkt.ip4 is not None:
        ip = pkt.ip4
        record["ip"] = {"version": 4, "src": ip.src, "dst": ip.dst, "ttl": ip.ttl, "proto": ip.proto,
                        "len": ip.len, "id": ip.id, "tos": ip.tos, "df": ip.df, "mf": ip.mf,
                        "frag_offset": ip.frag_offset}
    elif pkt.ip6 is not None:
        ip6 = pkt.ip6
        record["ip"] = {"version": 6, "src": ip6.src, "dst": ip6.dst, "hlim": ip6.hlim, "proto": ip6.proto,
                        "plen": ip6.plen, "tc": ip6.tc, "flow": ip6.fl}
    if pkt.tcp is not None:
        tcp = pkt.tcp
        record["tcp"] = {"sport": tcp.sport, "dport": tcp.dport, "seq": tcp.seq, "ack": tcp.ack,
                         "flags": tcp.flagstr, "window": tcp.window, "payload_len": tcp.payload_len}
    elif pkt.udp is not None:
        udp = pkt.udp
        record["udp"] = {"sport": udp.sport, "dport": udp.dport, "len": udp.len}
    elif pkt.icmp is not None:
        record["icmp"] = {"type": pkt.icmp.type, "code": pkt.icmp.code}
    elif pkt.icmp6 is not None:
        record["icmp6"] = {"type": pkt.icmp6.type, "code": pkt.icmp6.code}
    record["payload_len"] = len(pkt.payload)
    record["summary"] = printer.body(pkt.data, pkt.linktype, pkt.wirelen)
    errors = pkt.errors
    if errors:
        record["errors"] = errors
    return record

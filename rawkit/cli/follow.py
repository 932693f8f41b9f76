"""`rawkit follow FILE (--stream N | FILTER)`: a TCP stream's reassembled bytes, printed like
`tshark -q -z follow,tcp,ascii|hex|raw,N`, or every direction of every stream written to files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from rawkit.analyze import Capture, ConversationTable, FollowPrinter, find_stream, tcp_chunks, write_streams
from rawkit.analyze.defrag import OVERLAP_POLICIES, Defragmenter
from rawkit.analyze.follow import FORMATS
from rawkit.analyze.source import packet_matcher
from rawkit.cli import Failure
from rawkit.cli.flows import check_filter
from rawkit.pcap import CaptureError


def _open(path: str) -> Capture:
    try:
        return Capture(path, progress=sys.stderr.isatty())
    except CaptureError as error:
        raise Failure(str(error), 1) from None


@click.command("follow", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", metavar="FILE")
@click.argument("words", nargs=-1, metavar="[FILTER]")
@click.option("-s", "--stream", "index", type=click.IntRange(min=0), help="tcp.stream index to follow.")
@click.option("-f", "--format", "mode", type=click.Choice(FORMATS), default="ascii", show_default=True)
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write each direction of each chosen stream (all streams if none chosen) to DIR.")
@click.option("--overlap", type=click.Choice(OVERLAP_POLICIES), default="first", show_default=True,
              help="Which bytes win where IP fragments overlap.")
def follow(path: str, words: tuple[str, ...], index: int | None, mode: str, out_dir: str | None,
           overlap: str) -> int:
    """Reassemble a TCP stream (retransmissions, overlaps and reordering resolved, IP fragments
    joined). Choose it by --stream N, or by a FILTER: the first stream with a matching packet."""
    expression = " ".join(words) or None
    if index is not None and expression is not None:
        raise click.UsageError("give --stream N or a FILTER, not both")
    if index is None and expression is None and out_dir is None:
        raise click.UsageError("give --stream N or a FILTER (or --out DIR for every stream)")
    check_filter(expression)
    if expression is not None:
        with _open(path) as capture:
            try:
                index = find_stream(capture.packets(), packet_matcher(expression))
            except CaptureError as error:
                raise Failure(str(error), 2) from None
            damage = capture.damage
        if index is None:
            raise Failure(damage or "no TCP stream matches the filter", 1)
    streams = None if index is None else {index}
    with _open(path) as capture:
        chunks = tcp_chunks(capture.packets(), streams, Defragmenter(overlap))
        if out_dir is not None:
            for made in write_streams(chunks, Path(out_dir)):
                sys.stdout.write(f"{made}\n")
        else:
            _print(chunks, index, mode, path, overlap)
        damage = capture.damage
    if damage:
        sys.stderr.write(f"rawkit: {damage}\n")
        return 1
    return 0


def _print(chunks, index: int, mode: str, path: str, overlap: str) -> None:
    printer = FollowPrinter(sys.stdout, mode, index)
    for conv, forward, data in chunks:
        if not printer.started:
            printer.header(conv)
        printer.chunk(forward, data)
    if not printer.started:
        # a stream with no payload: name its endpoints all the same, as tshark does
        with _open(path) as capture:
            table = ConversationTable(("tcp",), health=False, defragmenter=Defragmenter(overlap))
            for pkt in capture.packets():
                table.add(pkt)
        if index >= len(table.tcp_streams):
            raise Failure(f"no TCP stream {index} (the capture has {len(table.tcp_streams)})", 1)
        printer.header(table.tcp_streams[index])
    printer.footer()

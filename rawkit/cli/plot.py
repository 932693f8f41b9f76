"""`rawkit plot KIND FILE -o out.png`: tseq (TCP time-sequence, Stevens style), io (packets and
bytes per interval, per protocol), rtt (from TCP timestamps, or from a saved ping log)."""

from __future__ import annotations

import sys

import click

from rawkit.analyze import Capture
from rawkit.analyze.plots import (
    KINDS,
    IOGraph,
    PlotUnavailable,
    TimeSequence,
    draw_io_graph,
    draw_rtt,
    draw_time_sequence,
    ping_log_rtt,
    tcp_timestamp_rtt,
)
from rawkit.cli import Failure
from rawkit.pcap import CaptureError

_CAPTURE_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
                   b"\x0a\x0d\x0d\x0a", b"\x1f\x8b\x08\x00")


def _is_capture(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            return file.read(4) in _CAPTURE_MAGICS or path.endswith((".pcap", ".pcapng", ".gz"))
    except OSError as error:
        raise Failure(f"{path}: {error.strerror or error}", 1) from None


@click.command("plot", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("path", metavar="FILE")
@click.option("-o", "--out", "out_path", required=True, metavar="OUT.png", help="Image to write.")
@click.option("-s", "--stream", "stream", type=click.IntRange(min=0),
              help="tcp.stream to draw (tseq: default 0; rtt: default every stream).")
@click.option("--reverse", is_flag=True, help="tseq: draw the other direction than the busier one.")
@click.option("-i", "--interval", type=click.FloatRange(min=0.000001), default=1.0, show_default=True,
              help="io: seconds per bucket.")
def plot(kind: str, path: str, out_path: str, stream: int | None, reverse: bool, interval: float) -> int:
    """Draw a graph of FILE into OUT.png. rtt also reads a ping log (iputils ping output)."""
    try:
        if kind == "rtt" and not _is_capture(path):
            with open(path, errors="replace") as log:
                draw_rtt(ping_log_rtt(log), out_path, x_label="icmp_seq")
            return 0
        with Capture(path, progress=sys.stderr.isatty()) as capture:
            if kind == "tseq":
                graph = TimeSequence(stream or 0).feed(capture.packets())
                busier = graph.busier()
                draw_time_sequence(graph, out_path, forward=(not busier) if reverse else busier)
            elif kind == "io":
                draw_io_graph(IOGraph(interval).feed(capture.packets()), out_path, title=path)
            else:
                draw_rtt(tcp_timestamp_rtt(capture.packets(), stream), out_path)
            damage = capture.damage
    except PlotUnavailable as error:
        raise Failure(str(error), 2) from None
    except (CaptureError, ValueError) as error:
        raise Failure(str(error), 1) from None
    except OSError as error:
        raise Failure(f"{error.filename or out_path}: {error.strerror or error}", 1) from None
    if damage:
        click.echo(f"rawkit: {damage}", err=True)
        return 1
    return 0

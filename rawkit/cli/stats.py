"""`rawkit stats FILE...`: what capinfos reports (packets, data size, first/last time, duration,
rates, link types, snap length, interfaces) and a protocol hierarchy like `tshark -z io,phs`."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import click

from rawkit.analyze import capture_stats, run_per_file
from rawkit.analyze.stats import merge_summaries
from rawkit.cli.flows import check_filter, progress_wanted, split_files_and_filter
from rawkit.pcap import CaptureError


def _time(ns: int | None) -> str:
    if ns is None:
        return "n/a"
    moment = datetime.fromtimestamp(ns // 1_000_000_000, UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{ns % 1_000_000_000:09d} UTC"


def _rate(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:.2f} {unit}"


def _report(summary: dict) -> str:
    snaplen = summary["snaplen"]
    limit = f"file hdr: {snaplen} bytes" if snaplen else "n/a"
    if summary["snaplen_inferred_min"] is not None:
        limit += (f"\nPacket size limit:   inferred: {summary['snaplen_inferred_min']} bytes - "
                  f"{summary['snaplen_inferred_max']} bytes (range)")
    duration = summary["duration"]
    lines = [
        f"File name:           {summary['file']}",
        f"File type:           {summary['format']}",
        f"File encapsulation:  {summary['encapsulation']}",
        f"Packet size limit:   {limit}",
        f"Number of packets:   {summary['packets']}",
        f"File size:           {summary['file_size']} bytes" if summary["file_size"] is not None else None,
        f"Data size:           {summary['bytes']} bytes",
        f"Capture duration:    {'n/a' if duration is None else f'{duration:.9f}'} seconds",
        f"First packet time:   {_time(summary['first_ns'])}",
        f"Last packet time:    {_time(summary['last_ns'])}",
        f"Data byte rate:      {_rate(summary['data_byte_rate'], 'bytes/s')}",
        f"Data bit rate:       {_rate(summary['data_bit_rate'], 'bits/s')}",
        f"Average packet size: {_rate(summary['average_packet_size'], 'bytes')}",
        f"Average packet rate: {_rate(summary['average_packet_rate'], 'packets/s')}",
        f"Strict time order:   {summary['strict_time_order']}",
        f"Number of interfaces in file: {summary['interfaces']}",
        "Protocol hierarchy:",
    ]
    width = max((2 * node["protocol"].count("/") + len(node["protocol"].rsplit("/", 1)[-1])
                 for node in summary["hierarchy"]), default=0)
    for node in summary["hierarchy"]:
        depth = node["protocol"].count("/")
        name = "  " * depth + node["protocol"].rsplit("/", 1)[-1]
        lines.append(f"  {name:<{width}}  frames:{node['frames']} bytes:{node['bytes']}")
    return "\n".join(line for line in lines if line is not None) + "\n"


def _total_report(merged: dict) -> str:
    duration = merged["duration"]
    lines = [f"Total of {merged['files']} files:",
             f"Number of packets:   {merged['packets']}",
             f"Data size:           {merged['bytes']} bytes",
             f"Capture duration:    {'n/a' if duration is None else f'{duration:.9f}'} seconds",
             f"First packet time:   {_time(merged['first_ns'])}",
             f"Last packet time:    {_time(merged['last_ns'])}",
             f"Data byte rate:      {_rate(merged['data_byte_rate'], 'bytes/s')}",
             f"Average packet rate: {_rate(merged['average_packet_rate'], 'packets/s')}"]
    return "\n".join(lines) + "\n"


@click.command("stats", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("words", nargs=-1, required=True, metavar="FILE... [FILTER]")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, help="Files read in parallel.")
@click.option("--total", is_flag=True, help="Also one summary of all the files together.")
def stats(words: tuple[str, ...], as_json: bool, jobs: int, total: bool) -> int:
    """Summarise each capture FILE like capinfos, with a protocol hierarchy like tshark's io,phs.
    A FILTER (tcpdump syntax) restricts the packets counted."""
    paths, expression = split_files_and_filter(words)
    if not paths:
        raise click.UsageError("give at least one capture FILE")
    check_filter(expression)
    problems, summaries = [], []
    first = True
    for result in run_per_file(capture_stats, paths, jobs, expression=expression,
                               progress=progress_wanted(jobs)):
        if isinstance(result, CaptureError):
            problems.append(str(result))
            continue
        if result["damage"]:
            problems.append(result["damage"])
        summaries.append(result)
        if as_json:
            sys.stdout.write(json.dumps(result, separators=(",", ":")) + "\n")
        else:
            sys.stdout.write(("" if first else "\n") + _report(result))
            first = False
        sys.stdout.flush()
    if total and summaries:
        merged = merge_summaries(summaries)
        if as_json:
            sys.stdout.write(json.dumps({"total": merged}, separators=(",", ":")) + "\n")
        else:
            sys.stdout.write("\n" + _total_report(merged))
    for problem in problems:
        sys.stderr.write(f"rawkit: {problem}\n")
    return 1 if problems else 0

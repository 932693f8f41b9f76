"""`rawkit flows FILE... [FILTER]`: conversations like `tshark -z conv,eth/ip/ipv6/tcp/udp`, with TCP
health per connection, as a table, JSON lines, CSV or Parquet; many files over `--jobs` processes."""

from __future__ import annotations

import os
import sys

import click

from rawkit.analyze import PROTOCOLS, conversations, run_per_file
from rawkit.analyze.export import write_csv, write_json_lines, write_parquet, write_table
from rawkit.cli import Failure
from rawkit.pcap import CaptureError

_CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz", ".dmp")


def split_files_and_filter(words: tuple[str, ...]) -> tuple[list[str], str | None]:
    """Leading words that name files (or look like captures) are files; the rest is the filter."""
    files: list[str] = []
    for index, word in enumerate(words):
        if word == "-" or os.path.exists(word) or word.endswith(_CAPTURE_SUFFIXES):
            files.append(word)
            continue
        return files, " ".join(words[index:]) or None
    return files, None


def check_filter(expression: str | None) -> None:
    """Fail early, with the filter compiler's message, on a filter that does not compile."""
    if expression is None:
        return
    from rawkit.filter import FilterError
    from rawkit.filter import compile as compile_filter

    try:
        compile_filter(expression, 1)
    except FilterError as error:
        raise Failure(f"bad filter: {error}", 2) from None


def progress_wanted(jobs: int) -> bool:
    return jobs <= 1 and sys.stderr.isatty()


@click.command("flows", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("words", nargs=-1, required=True, metavar="FILE... [FILTER]")
@click.option("-t", "--type", "types", default=",".join(PROTOCOLS), show_default=True,
              help="Conversation types, comma separated (eth, ip, ipv6, tcp, udp).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per conversation.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@click.option("--parquet", "parquet_path", metavar="OUT", help="Write a Parquet file (needs pyarrow).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=1, help="Files read in parallel.")
def flows(words: tuple[str, ...], types: str, as_json: bool, as_csv: bool, parquet_path: str | None,
          jobs: int) -> int:
    """List the conversations in FILE(s): endpoints, packets and bytes each way, start, duration,
    and for TCP the handshake RTT, retransmissions, out-of-order, dup ACKs, zero windows, resets and
    final state. Endpoint A sent the first packet; a reused TCP port pair is a new stream."""
    paths, expression = split_files_and_filter(words)
    if not paths:
        raise click.UsageError("give at least one capture FILE")
    if as_json + as_csv + (parquet_path is not None) > 1:
        raise click.UsageError("choose one of --json, --csv, --parquet")
    protocols = [name.strip() for name in types.split(",") if name.strip()]
    unknown = [name for name in protocols if name not in PROTOCOLS]
    if unknown or not protocols:
        raise click.UsageError(f"unknown conversation type {unknown[0] if unknown else '(none)'!r} "
                               f"(known: {', '.join(PROTOCOLS)})")
    check_filter(expression)
    records, problems = [], []
    for result in run_per_file(conversations, paths, jobs, expression=expression, protocols=protocols,
                               progress=progress_wanted(jobs)):
        if isinstance(result, CaptureError):
            problems.append(str(result))
            continue
        records.extend(result["records"])
        if result["damage"]:
            problems.append(result["damage"])
    if parquet_path is not None:
        try:
            count = write_parquet(records, parquet_path)
        except ImportError:
            raise Failure("--parquet needs pyarrow (pip install 'rawkit[parquet]')", 2) from None
        sys.stderr.write(f"wrote {count} conversations to {parquet_path}\n")
    elif as_json:
        write_json_lines(records, sys.stdout)
    elif as_csv:
        write_csv(records, sys.stdout)
    else:
        if len(paths) == 1:
            for record in records:
                record["file"] = None
        write_table(records, sys.stdout)
    sys.stdout.flush()
    for problem in problems:
        sys.stderr.write(f"rawkit: {problem}\n")
    return 1 if problems else 0

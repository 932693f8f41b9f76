"""Conversation records out: an aligned table for people, JSON lines and CSV for scripts, Parquet
(with the optional pyarrow) so DuckDB or Spark can query the flows of many captures at once."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import TextIO

# every record has these keys, in this order (TCP health ones are None for other protocols)
FIELDS = ("file", "proto", "stream", "a", "a_port", "b", "b_port", "packets_ab", "bytes_ab", "packets_ba",
          "bytes_ba", "packets", "bytes", "start", "duration", "first_ts", "handshake_rtt",
          "retransmissions", "out_of_order", "dup_acks", "zero_windows", "resets", "state")
_TABLE_COLUMNS = (("A", "a"), ("B", "b"), ("Pkts A>B", "packets_ab"), ("Bytes A>B", "bytes_ab"),
                  ("Pkts B>A", "packets_ba"), ("Bytes B>A", "bytes_ba"), ("Start", "start"),
                  ("Duration", "duration"))
_HEALTH_COLUMNS = (("RTT ms", "handshake_rtt"), ("Retr", "retransmissions"), ("OOO", "out_of_order"),
                   ("DupAck", "dup_acks"), ("ZeroWin", "zero_windows"), ("RST", "resets"), ("State", "state"))
_TITLES = {"eth": "Ethernet", "ip": "IPv4", "ipv6": "IPv6", "tcp": "TCP", "udp": "UDP"}


def complete(record: dict) -> dict:
    """The record with every FIELDS key, in FIELDS order."""
    return {name: record.get(name) for name in FIELDS}


def write_json_lines(records: Iterable[dict], out: TextIO) -> None:
    for record in records:
        out.write(json.dumps(complete(record), separators=(",", ":")) + "\n")


def write_csv(records: Iterable[dict], out: TextIO) -> None:
    writer = csv.DictWriter(out, FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(complete(record))


def write_parquet(records: Iterable[dict], path: str) -> int:
    """Write a Parquet file; returns the row count. Raises ImportError without pyarrow."""
    import pyarrow
    import pyarrow.parquet

    rows = [complete(record) for record in records]
    types = {name: pyarrow.string() for name in ("file", "proto", "a", "b", "state")}
    types.update({name: pyarrow.float64() for name in ("start", "duration", "first_ts", "handshake_rtt")})
    schema = pyarrow.schema([(name, types.get(name, pyarrow.int64())) for name in FIELDS])
    table = pyarrow.Table.from_pylist(rows, schema=schema)
    pyarrow.parquet.write_table(table, path)
    return len(rows)


def _cell(key: str, value: object) -> str:
    if value is None:
        return "-"
    if key == "handshake_rtt":
        return f"{value * 1000:.3f}"
    if key in ("start", "duration"):
        return f"{value:.6f}"
    return str(value)


def _endpoint(address: str, port: int | None) -> str:
    if port is None:
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def write_table(records: Iterable[dict], out: TextIO) -> None:
    """One aligned table per protocol (and file), TCP ones with the health columns."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        groups.setdefault((record.get("file") or "", record["proto"]), []).append(record)
    first = True
    for (name, proto), rows in groups.items():
        columns = _TABLE_COLUMNS + (_HEALTH_COLUMNS if proto == "tcp" else ())
        body = [[_endpoint(row["a"], row["a_port"]), _endpoint(row["b"], row["b_port"])]
                + [_cell(key, row.get(key)) for _, key in columns[2:]] for row in rows]
        if proto in ("tcp", "udp"):
            columns = (("Stream", "stream"),) + columns
            body = [[str(row["stream"])] + cells for row, cells in zip(rows, body, strict=True)]
        headings = [title for title, _ in columns]
        widths = [max(len(heading), *(len(cells[index]) for cells in body))
                  for index, heading in enumerate(headings)]
        title = f"{_TITLES.get(proto, proto)} conversations" + (f" in {name}" if name else "")
        out.write(("" if first else "\n") + f"{title} ({len(rows)})\n")
        first = False
        text_columns = {"A", "B", "State"}
        for cells in [headings, *body]:
            line = "  ".join(cell.ljust(width) if heading in text_columns else cell.rjust(width)
                             for cell, width, heading in zip(cells, widths, headings, strict=True))
            out.write(line.rstrip() + "\n")

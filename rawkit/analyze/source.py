"""Capture input for the analyses: open a file, select packets with a tcpdump filter, show progress
on a terminal, and turn damage at the end of a file into a note rather than a lost result."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TextIO

import rawkit.pcap
from rawkit.pcap import CaptureError
from rawkit.wire import Packet

_RECORD_OVERHEAD = 16  # pcap record header; pcapng's is larger, so progress may end a little short
_REFRESH_S = 0.25


class Progress:
    """A one-line progress bar on a terminal stream (nothing when `stream` is not a terminal)."""

    def __init__(self, label: str, total_bytes: int | None, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(total_bytes) and self.stream.isatty()
        self.label, self.total = label, total_bytes or 0
        self.next_draw = 0.0

    def update(self, done_bytes: int, packets: int) -> None:
        now = time.monotonic()
        if not self.enabled or now < self.next_draw:
            return
        self.next_draw = now + _REFRESH_S
        share = min(done_bytes / self.total, 1.0)
        bar = "#" * int(share * 30)
        self.stream.write(f"\r{self.label} [{bar:<30}] {share:6.1%} {packets:,} packets")
        self.stream.flush()

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


class Capture:
    """One capture opened for analysis. `packets()` yields the (filtered) packets once; if the file
    is damaged part-way, iteration stops there and `damage` holds the reader's message."""

    def __init__(self, path: str, expression: str | None = None, progress: bool = False) -> None:
        self.path = path
        self.expression = expression or None
        try:
            # tshark's reading: records longer than the snap length stay whole
            self.reader = rawkit.pcap.open_capture(path, libpcap_snaplen=False)
        except OSError as error:
            raise CaptureError(f"{path}: {error.strerror or error}") from None
        self.damage: str | None = None
        self.file_size = _size_of(path)
        self.show_progress = progress
        self.accepts = packet_matcher(expression) if expression else None

    @property
    def format(self) -> str:
        return getattr(self.reader, "format", "")

    @property
    def linktype(self) -> int:
        return self.reader.linktype

    @property
    def snaplen(self) -> int | None:
        return getattr(self.reader, "snaplen", None)

    @property
    def interfaces(self) -> list:
        return list(getattr(self.reader, "interfaces", ()))

    def packets(self) -> Iterator[Packet]:
        progress = Progress(os.path.basename(self.path), self.file_size) if self.show_progress else None
        done = count = 0
        try:
            accepts = self.accepts
            if accepts is None and progress is None:
                yield from self.reader
                return
            for pkt in self.reader:
                if progress is not None:
                    count += 1
                    done += len(pkt.data) + _RECORD_OVERHEAD
                    if not count & 1023:
                        progress.update(done, count)
                if accepts is None or accepts(pkt):
                    yield pkt
        except CaptureError as error:
            self.damage = str(error)
        finally:
            if progress is not None:
                progress.finish()

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> Capture:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def packet_matcher(expression: str) -> Callable[[Packet], bool]:
    """A predicate applying the tcpdump filter `expression` to packets of any link type (the filter
    is compiled once per link type met). Raises CaptureError where the filter cannot apply."""
    from rawkit.filter import compile as compile_filter

    compiled: dict[int, Callable[..., bool]] = {}

    def accepts(pkt: Packet) -> bool:
        match = compiled.get(pkt.linktype)
        if match is None:
            try:
                match = compiled[pkt.linktype] = compile_filter(expression, pkt.linktype).match
            except ValueError as error:  # FilterError: fine for Ethernet, not for this link type
                raise CaptureError(f"filter {expression!r} on link type {pkt.linktype}: {error}") from None
        return match(pkt.data, pkt.wirelen)

    return accepts


def _size_of(path: str) -> int | None:
    try:
        return os.stat(path).st_size if path != "-" else None
    except OSError:
        return None

"""`rawkit.read()`: the one-line way to walk a capture file's packets."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from rawkit.pcap import open_capture
from rawkit.pcap.base import CaptureReader
from rawkit.pcap.pcap_reader import PcapReader
from rawkit.pcap.pcapng_reader import PcapNgReader
from rawkit.wire.packet import Packet

if TYPE_CHECKING:
    from rawkit.filter import Filter


def read(path: str | os.PathLike | BinaryIO, filter: str | None = None) -> Iterator[Packet]:
    """Yield the packets of a pcap or pcapng file (gzip'd or not; "-" is stdin), decoded lazily.

    Raises `rawkit.pcap.CaptureError` where the file is damaged, after the packets before it.
    `filter` (tcpdump syntax) keeps the packets tcpdump would; a bad one raises
    `rawkit.filter.FilterError` (a ValueError) before the first packet.
    """
    with open_capture(path) as capture:
        yield from capture if filter is None else selected(capture, filter)


def selected(capture: CaptureReader, expression: str) -> Iterator[Packet]:
    """The capture's packets that a tcpdump filter selects.

    One compiled filter per link type (a pcapng file may mix them), the first compiled at once so a
    bad expression fails before any packet. In a classic pcap the reader tests each record's bytes
    before it builds a Packet; a pcapng reader passes over the blocks the filter drops (those of its
    first link type) without building Packets. Compile errors raise `rawkit.filter.FilterError`.
    """
    from rawkit.filter import compile as compile_filter

    matchers: dict[int | None, Callable[[bytes, int], bool]] = {}

    def matcher(linktype: int | None) -> Callable[[bytes, int], bool]:
        match = matchers.get(linktype)
        if match is None:
            match = matchers[linktype] = compile_filter(expression, 1 if linktype is None else linktype).match
        return match

    if isinstance(capture, PcapReader):
        return selected_records(capture, compile_filter(expression, capture.linktype))
    first = compile_filter(expression, 1 if capture.linktype is None else capture.linktype)
    matchers[capture.linktype] = first.match  # now, so that a bad expression fails before the first packet
    if isinstance(capture, PcapNgReader) and capture.interfaces:
        _skip_dropped_blocks(capture, first)
    return (pkt for pkt in capture if matcher(pkt.linktype)(pkt.data, pkt.wirelen))


def selected_records(capture: PcapReader, flt: Filter) -> Iterator[Packet]:
    """A classic pcap's packets that a compiled filter selects, tested on the raw records: in the
    file's buffer by the record walk itself where the filter has a window form, else sliced."""
    capture.keep = flt.match
    test = flt.window(capture.byte_order)
    if test is not None:
        from rawkit.pcap.scan import pcap_scanner

        capture.scan = pcap_scanner(test, flt.match, capture.byte_order, capture._snapshot, capture.linktype,
                                    capture.nanosecond)
    return iter(capture)


def _skip_dropped_blocks(capture: PcapNgReader, flt: Filter) -> None:
    """Let a pcapng reader pass over the packet blocks the filter drops without building Packets (the
    blocks it keeps are still tested below, with each interface's own link type)."""
    tests = {order: flt.window(order) for order in "<>"}
    if None not in tests.values():
        from rawkit.pcap.scan import pcapng_skipper

        capture.skip = pcapng_skipper(tests, flt.match, flt.linktype)

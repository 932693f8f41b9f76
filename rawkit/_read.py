"""`rawkit.read()`: the one-line way to walk a capture file's packets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import BinaryIO

from rawkit.pcap import open_capture
from rawkit.wire.packet import Packet


def read(path: str | os.PathLike | BinaryIO, filter: str | None = None) -> Iterator[Packet]:
    """Yield the packets of a pcap or pcapng file (gzip'd or not; "-" is stdin), decoded lazily.

    Raises `rawkit.pcap.CaptureError` where the file is damaged, after the packets before it.
    `filter` (tcpdump syntax) keeps the packets tcpdump would; a bad one raises
    `rawkit.filter.FilterError` (a ValueError) before the first packet.
    """
    with open_capture(path) as capture:
        if filter is None:
            yield from capture
            return
        from rawkit.filter import compile as compile_filter

        matchers = {capture.linktype: compile_filter(filter, capture.linktype).match}
        for pkt in capture:
            match = matchers.get(pkt.linktype)
            if match is None:  # pcapng: another interface, another link type
                match = matchers[pkt.linktype] = compile_filter(filter, pkt.linktype).match
            if match(pkt.data, pkt.wirelen):
                yield pkt

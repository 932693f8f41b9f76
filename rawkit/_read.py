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
    `filter` (tcpdump syntax) is not supported yet: anything but None is refused rather than ignored.
    """
    if filter is not None:
        raise ValueError(f"capture filters are not supported by rawkit.read yet: {filter!r}")
    with open_capture(path) as capture:
        yield from capture

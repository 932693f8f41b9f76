"""tcpdump-identical text for decoded packets (tcpdump 4.99 with -nn).

`summary(pkt)` is the stateless one-line form (`tcpdump -nn -S -t`); `Printer` is the stateful
printer `rawkit read` drives (relative TCP sequence numbers, timestamp styles, -e/-v/-x...).
"""

from __future__ import annotations

from typing import Any

from rawkit.wire.tcpdump.printer import Printer
from rawkit.wire.tcpdump.timestamps import DATE, DEFAULT, DELTA, EPOCH, NONE, SINCE_FIRST

_SUMMARY = Printer(absolute=True, timestamps=NONE)


def summary(pkt: Any) -> str:
    """The line `tcpdump -nn -S` prints for one packet, without the timestamp."""
    return _SUMMARY.body(pkt.data, pkt.linktype, pkt.wirelen)


__all__ = ["DATE", "DEFAULT", "DELTA", "EPOCH", "NONE", "SINCE_FIRST", "Printer", "summary"]

"""What a probe brought back, shared by every probe kind (echo, TCP SYN, UDP, ARP) and by ping and
trace, so the loops and the printers never look at packets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Outcome:
    """A reply to, or an ICMP error about, probe number `index` (1-based, never wraps).

    `kind` is "reply" (an echo reply, a SYN-ACK/RST, a UDP answer or port unreachable from the
    target, an ARP reply) or "error" (an ICMP error from somewhere on the path)."""

    index: int
    kind: str
    source: str
    ts_ns: int
    size: int = 0  # bytes of the ICMP message (echo) or the answer
    ttl: int | None = None
    icmp_type: int | None = None  # for errors (and a UDP probe's port unreachable)
    icmp_code: int | None = None
    info: int = 0  # gateway / MTU / pointer carried by the error
    state: str = ""  # "open" / "closed" for TCP and UDP probes
    mac: str = ""  # ARP replies
    bad_byte: tuple[int, int, int] | None = None  # (offset, expected, got) of corrupted echo data
    data: bytes = b""  # the echoed payload (for a hex dump of corrupted data)
    ipv6: bool = False

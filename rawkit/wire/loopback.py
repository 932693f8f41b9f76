"""BSD loopback encapsulation: LINKTYPE_NULL (4-byte address family in the capturing host's byte
order) and LINKTYPE_LOOP (the same in network byte order)."""

from __future__ import annotations

from collections.abc import Sequence

from rawkit.wire.constants import EtherType
from rawkit.wire.layer import Layer

HEADER_LEN = 4
AF_INET = 2
AF_INET6_VALUES = frozenset((24, 28, 30))  # NetBSD/OpenBSD, FreeBSD, Darwin (never Linux's 10)


def family(buf: bytes, off: int, network_order: bool) -> int:
    """The address family, guessing the byte order for NULL: families are small numbers."""
    raw = buf[off : off + 4]
    if network_order:
        return int.from_bytes(raw, "big")
    little = int.from_bytes(raw, "little")
    return little if little < 0x10000 else int.from_bytes(raw, "big")


def ethertype_for(af: int) -> int | None:
    if af == AF_INET:
        return EtherType.IPV4
    if af in AF_INET6_VALUES:
        return EtherType.IPV6
    return None


class LoopbackView:
    __slots__ = ("_buf", "_off", "family")

    def __init__(self, buf: bytes, off: int, network_order: bool) -> None:
        self._buf = buf
        self._off = off
        self.family = family(buf, off, network_order)

    header_len = HEADER_LEN

    def __repr__(self) -> str:
        return f"<Loopback family {self.family}>"


class Loopback(Layer):
    """`family` None means AF_INET or AF_INET6 (24, the BSD value) from the layer above."""

    FIELDS = {"family": None, "network_order": False}

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        af = self.family
        if af is None:
            af = 24 if getattr(above, "ETHERTYPE", None) == EtherType.IPV6 else AF_INET
        return af.to_bytes(4, "big" if self.network_order else "little") + payload

"""Ethernet II (DIX) header: 6-byte destination, 6-byte source, 2-byte EtherType."""

from __future__ import annotations

from collections.abc import Sequence

from rawkit.wire.addresses import mac_bytes, mac_text
from rawkit.wire.constants import EtherType
from rawkit.wire.layer import Layer, type_of

HEADER_LEN = 14
BROADCAST = "ff:ff:ff:ff:ff:ff"


class EthernetView:
    """Zero-copy view of an Ethernet header; the caller has checked 14 bytes are there."""

    __slots__ = ("_buf", "_off")

    def __init__(self, buf: bytes, off: int = 0) -> None:
        self._buf = buf
        self._off = off

    @property
    def dst(self) -> str:
        return mac_text(self._buf[self._off : self._off + 6])

    @property
    def src(self) -> str:
        return mac_text(self._buf[self._off + 6 : self._off + 12])

    @property
    def dst_bytes(self) -> bytes:
        return self._buf[self._off : self._off + 6]

    @property
    def src_bytes(self) -> bytes:
        return self._buf[self._off + 6 : self._off + 12]

    @property
    def type(self) -> int:
        """The EtherType in the Ethernet header itself (0x8100 when a VLAN tag follows)."""
        off = self._off
        return self._buf[off + 12] << 8 | self._buf[off + 13]

    header_len = HEADER_LEN

    def builder(self) -> Ether:
        return Ether(dst=self.dst, src=self.src, type=self.type)

    def __repr__(self) -> str:
        return f"<Ethernet {self.src} > {self.dst} type 0x{self.type:04x}>"


class Ether(Layer):
    FIELDS = {"dst": BROADCAST, "src": "00:00:00:00:00:00", "type": None}

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        ethertype = self.type if self.type is not None else type_of(above, "ETHERTYPE", 0x9000)
        return mac_bytes(self.dst) + mac_bytes(self.src) + ethertype.to_bytes(2, "big") + payload


__all__ = ["Ether", "EthernetView", "EtherType", "HEADER_LEN"]

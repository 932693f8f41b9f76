"""Linux "cooked" capture headers: SLL (16 bytes, LINKTYPE_LINUX_SLL) and SLL2 (20 bytes,
LINKTYPE_LINUX_SLL2, what `-i any` gives), which replace the link header with metadata."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from enum import IntEnum

from rawkit.wire.addresses import mac_bytes
from rawkit.wire.layer import Layer, type_of

SLL_LEN = 16
SLL2_LEN = 20


class PacketType(IntEnum):
    """sll_pkttype values (PACKET_HOST ...)."""

    HOST = 0
    BROADCAST = 1
    MULTICAST = 2
    OTHERHOST = 3
    OUTGOING = 4


class SLLView:
    """Both versions; `version` says which layout. Fields are named as in pcap-linktype(7)."""

    __slots__ = ("_buf", "_off", "version")

    def __init__(self, buf: bytes, off: int, version: int) -> None:
        self._buf = buf
        self._off = off
        self.version = version

    def _u16(self, at: int) -> int:
        return self._buf[self._off + at] << 8 | self._buf[self._off + at + 1]

    @property
    def header_len(self) -> int:
        return SLL_LEN if self.version == 1 else SLL2_LEN

    @property
    def pkttype(self) -> int:
        return self._u16(0) if self.version == 1 else self._buf[self._off + 10]

    @property
    def hatype(self) -> int:
        return self._u16(2 if self.version == 1 else 8)

    @property
    def halen(self) -> int:
        return self._u16(4) if self.version == 1 else self._buf[self._off + 11]

    @property
    def addr_bytes(self) -> bytes:
        start = self._off + (6 if self.version == 1 else 12)
        return self._buf[start : start + min(self.halen, 8)]

    @property
    def addr(self) -> str:
        return self.addr_bytes.hex(":")

    @property
    def protocol(self) -> int:
        return self._u16(14 if self.version == 1 else 0)

    type = protocol

    @property
    def ifindex(self) -> int | None:
        if self.version == 1:
            return None
        return int.from_bytes(self._buf[self._off + 4 : self._off + 8], "big")

    def __repr__(self) -> str:
        return f"<SLL{'' if self.version == 1 else '2'} pkttype {self.pkttype} proto 0x{self.protocol:04x}>"


def _address(value: str | bytes) -> bytes:
    raw = bytes(value) if isinstance(value, bytes | bytearray) else mac_bytes(value) if value else b""
    return raw[:8]


class CookedLinux(Layer):
    FIELDS = {"pkttype": PacketType.HOST, "hatype": 1, "halen": None, "addr": "00:00:00:00:00:00",
              "protocol": None}

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        addr = _address(self.addr)
        halen = len(addr) if self.halen is None else self.halen
        protocol = self.protocol if self.protocol is not None else type_of(above, "ETHERTYPE", 0)
        return struct.pack("!HHH8sH", self.pkttype, self.hatype, halen, addr, protocol) + payload


class CookedLinuxV2(Layer):
    FIELDS = {"protocol": None, "ifindex": 1, "hatype": 1, "pkttype": PacketType.HOST, "halen": None,
              "addr": "00:00:00:00:00:00"}

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        addr = _address(self.addr)
        halen = len(addr) if self.halen is None else self.halen
        protocol = self.protocol if self.protocol is not None else type_of(above, "ETHERTYPE", 0)
        return struct.pack("!HHIHBB8s", protocol, 0, self.ifindex, self.hatype, self.pkttype, halen,
                           addr) + payload

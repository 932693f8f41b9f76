"""ARP (RFC 826) and RARP: fixed 8-byte header, then addresses whose sizes the header gives."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

from rawkit.wire.addresses import ip4_bytes, ip4_text, mac_bytes, mac_text
from rawkit.wire.constants import EtherType
from rawkit.wire.layer import Layer

FIXED_LEN = 8


class ArpOp(IntEnum):
    REQUEST = 1
    REPLY = 2
    RARP_REQUEST = 3
    RARP_REPLY = 4
    INARP_REQUEST = 8
    INARP_REPLY = 9


class ArpView:
    """Checked on construction: the addresses announced by hwlen/plen are all present."""

    __slots__ = ("_buf", "_off", "hwlen", "plen")

    def __init__(self, buf: bytes, off: int) -> None:
        self._buf = buf
        self._off = off
        self.hwlen = buf[off + 4]
        self.plen = buf[off + 5]

    @staticmethod
    def needed(buf: bytes, off: int, end: int) -> int:
        """Bytes the whole ARP message needs; > end - off means truncated."""
        if end - off < FIXED_LEN:
            return FIXED_LEN
        return FIXED_LEN + 2 * (buf[off + 4] + buf[off + 5])

    @property
    def hwtype(self) -> int:
        return self._buf[self._off] << 8 | self._buf[self._off + 1]

    @property
    def ptype(self) -> int:
        return self._buf[self._off + 2] << 8 | self._buf[self._off + 3]

    @property
    def op(self) -> int:
        return self._buf[self._off + 6] << 8 | self._buf[self._off + 7]

    def _field(self, index: int) -> bytes:
        hwlen, plen = self.hwlen, self.plen
        start = self._off + FIXED_LEN + (0, hwlen, hwlen + plen, 2 * hwlen + plen)[index]
        return self._buf[start : start + (hwlen, plen)[index & 1]]

    @property
    def hwsrc_bytes(self) -> bytes:
        return self._field(0)

    @property
    def psrc_bytes(self) -> bytes:
        return self._field(1)

    @property
    def hwdst_bytes(self) -> bytes:
        return self._field(2)

    @property
    def pdst_bytes(self) -> bytes:
        return self._field(3)

    def _proto_text(self, raw: bytes) -> str:
        return ip4_text(raw) if len(raw) == 4 else raw.hex(":")

    @property
    def hwsrc(self) -> str:
        return mac_text(self.hwsrc_bytes)

    @property
    def psrc(self) -> str:
        return self._proto_text(self.psrc_bytes)

    @property
    def hwdst(self) -> str:
        return mac_text(self.hwdst_bytes)

    @property
    def pdst(self) -> str:
        return self._proto_text(self.pdst_bytes)

    # dpkt/tcpdump habits: src/dst name the protocol addresses
    src = psrc
    dst = pdst

    @property
    def header_len(self) -> int:
        return FIXED_LEN + 2 * (self.hwlen + self.plen)

    def builder(self) -> ARP:
        return ARP(hwtype=self.hwtype, ptype=self.ptype, hwlen=self.hwlen, plen=self.plen, op=self.op,
                   hwsrc=self.hwsrc_bytes, psrc=self.psrc_bytes, hwdst=self.hwdst_bytes, pdst=self.pdst_bytes)

    def __repr__(self) -> str:
        return f"<ARP op {self.op} {self.psrc} ({self.hwsrc}) -> {self.pdst}>"


class ARP(Layer):
    """Addresses may be text (Ethernet/IPv4) or raw bytes of any length."""

    FIELDS = {
        "hwtype": 1, "ptype": EtherType.IPV4, "hwlen": None, "plen": None, "op": ArpOp.REQUEST,
        "hwsrc": "00:00:00:00:00:00", "psrc": "0.0.0.0", "hwdst": "00:00:00:00:00:00", "pdst": "0.0.0.0",
    }
    ETHERTYPE = EtherType.ARP

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        hwsrc, hwdst = _raw(self.hwsrc, mac_bytes), _raw(self.hwdst, mac_bytes)
        psrc, pdst = _raw(self.psrc, ip4_bytes), _raw(self.pdst, ip4_bytes)
        hwlen = len(hwsrc) if self.hwlen is None else self.hwlen
        plen = len(psrc) if self.plen is None else self.plen
        header = (self.hwtype.to_bytes(2, "big") + int(self.ptype).to_bytes(2, "big")
                  + bytes((hwlen, plen)) + int(self.op).to_bytes(2, "big"))
        return header + hwsrc + psrc + hwdst + pdst + payload


class RARP(ARP):
    ETHERTYPE = EtherType.RARP
    FIELDS = {**ARP.FIELDS, "op": ArpOp.RARP_REQUEST}


def _raw(value: str | bytes, parse) -> bytes:
    return bytes(value) if isinstance(value, bytes | bytearray) else parse(value)

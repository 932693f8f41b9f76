"""UDP header (RFC 768): ports, length, checksum (0 = none over IPv4)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from rawkit.wire.checksum import l4_checksum, verify_l4
from rawkit.wire.constants import IPProto
from rawkit.wire.layer import Layer

HEADER_LEN = 8


class UDPView:
    """`end` is where the datagram ends by the IP length; the UDP length field may disagree."""

    __slots__ = ("_buf", "_off", "end", "ip")

    def __init__(self, buf: bytes, off: int, end: int, ip: object = None) -> None:
        self._buf = buf
        self._off = off
        self.end = end
        self.ip = ip

    @property
    def sport(self) -> int:
        return self._buf[self._off] << 8 | self._buf[self._off + 1]

    @property
    def dport(self) -> int:
        return self._buf[self._off + 2] << 8 | self._buf[self._off + 3]

    @property
    def len(self) -> int:
        return self._buf[self._off + 4] << 8 | self._buf[self._off + 5]

    @property
    def checksum(self) -> int:
        return self._buf[self._off + 6] << 8 | self._buf[self._off + 7]

    header_len = HEADER_LEN

    @property
    def payload_len(self) -> int:
        return max(self.end - self._off - HEADER_LEN, 0)

    @property
    def checksum_ok(self) -> bool | None:
        """None when not checkable (truncated, fragment) or absent (zero over IPv4)."""
        if self.checksum == 0 and self.ip is not None and self.ip.version == 4:
            return None
        length = self.len  # the datagram ends there when shorter than the IP payload (RFC 768)
        end = self._off + length if HEADER_LEN <= length < self.end - self._off else self.end
        return verify_l4(self._buf, self._off, end, self.ip, IPProto.UDP)

    def builder(self) -> UDP:
        return UDP(sport=self.sport, dport=self.dport)

    def __repr__(self) -> str:
        return f"<UDP {self.sport} > {self.dport} len {self.len}>"


_HEADER = struct.Struct("!HHHH")


class UDP(Layer):
    FIELDS = {"sport": 53, "dport": 53, "len": None, "checksum": None}
    IP_PROTO = IPProto.UDP

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        length = self.len if self.len is not None else HEADER_LEN + len(payload)
        datagram = _HEADER.pack(self.sport, self.dport, length & 0xFFFF, 0) + payload
        checksum = self.checksum
        if checksum is None:
            checksum = l4_checksum(datagram, below, IPProto.UDP) or 0xFFFF
        return datagram[:6] + checksum.to_bytes(2, "big") + datagram[8:]

"""UDP header (RFC 768): ports, length, checksum (0 = none over IPv4)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from rawkit.wire.checksum import l4_checksum, verify_l4
from rawkit.wire.constants import IPProto
from rawkit.wire.layer import Layer

HEADER_LEN = 8
_HEADER = struct.Struct("!HHHH")


class UDPView:
    """`end` is where the datagram ends by the IP length; the UDP length field may disagree.
    The 8-byte header is unpacked when the view is made (one C call; then field reads are plain
    attribute reads). Needs 8 bytes at `off`."""

    __slots__ = ("_buf", "_off", "end", "ip", "sport", "dport", "len", "checksum")

    def __init__(self, buf: bytes, off: int, end: int, ip: object = None) -> None:
        self._buf = buf
        self._off = off
        self.end = end
        self.ip = ip
        self.sport, self.dport, self.len, self.checksum = _HEADER.unpack_from(buf, off)

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

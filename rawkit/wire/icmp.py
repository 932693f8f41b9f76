"""ICMP for IPv4 (RFC 792, 1191, 1256): echo, unreachable (incl. need-frag MTU), redirect, time
exceeded, parameter problem, timestamp, and the datagram an error quotes."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from enum import IntEnum

from rawkit.wire.addresses import ip4_bytes, ip4_text
from rawkit.wire.checksum import internet_checksum, ones_sum
from rawkit.wire.constants import IPProto
from rawkit.wire.layer import Layer

HEADER_LEN = 8


class ICMPType(IntEnum):
    ECHO_REPLY = 0
    DEST_UNREACH = 3
    SOURCE_QUENCH = 4
    REDIRECT = 5
    ECHO_REQUEST = 8
    ROUTER_ADVERT = 9
    ROUTER_SOLICIT = 10
    TIME_EXCEEDED = 11
    PARAM_PROBLEM = 12
    TIMESTAMP = 13
    TIMESTAMP_REPLY = 14
    INFO_REQUEST = 15
    INFO_REPLY = 16
    MASK_REQUEST = 17
    MASK_REPLY = 18


ERROR_TYPES = frozenset((3, 4, 5, 11, 12))
ID_SEQ_TYPES = frozenset((0, 8, 13, 14, 15, 16, 17, 18))
_TIMESTAMPS = struct.Struct("!III")


class ICMPView:
    __slots__ = ("_buf", "_off", "end", "ip", "_quoted")

    def __init__(self, buf: bytes, off: int, end: int, ip: object = None) -> None:
        self._buf = buf
        self._off = off
        self.end = end
        self.ip = ip
        self._quoted = None

    type = property(lambda self: self._buf[self._off])
    code = property(lambda self: self._buf[self._off + 1])
    header_len = HEADER_LEN

    @property
    def checksum(self) -> int:
        return self._buf[self._off + 2] << 8 | self._buf[self._off + 3]

    @property
    def id(self) -> int:
        return self._buf[self._off + 4] << 8 | self._buf[self._off + 5]

    @property
    def seq(self) -> int:
        return self._buf[self._off + 6] << 8 | self._buf[self._off + 7]

    @property
    def rest(self) -> bytes:
        """The 4 type-specific bytes after the checksum."""
        return self._buf[self._off + 4 : self._off + 8]

    @property
    def gateway(self) -> str:
        """Redirect: the better first hop."""
        return ip4_text(self.rest)

    @property
    def mtu(self) -> int:
        """Destination unreachable, fragmentation needed: the next-hop MTU (RFC 1191)."""
        return self._buf[self._off + 6] << 8 | self._buf[self._off + 7]

    @property
    def pointer(self) -> int:
        """Parameter problem: offset of the octet in error."""
        return self._buf[self._off + 4]

    @property
    def timestamps(self) -> tuple[int, int, int] | None:
        """Timestamp request/reply: (originate, receive, transmit) in ms since midnight UT."""
        if self.type not in (13, 14) or self._off + 20 > len(self._buf):
            return None
        return _TIMESTAMPS.unpack_from(self._buf, self._off + 8)

    @property
    def data(self) -> bytes:
        return self._buf[self._off + HEADER_LEN : self.end]

    @property
    def is_error(self) -> bool:
        return self.type in ERROR_TYPES

    @property
    def quoted(self):
        """For an error message, the quoted datagram decoded as raw IP (a `Packet`), else None."""
        if self.type not in ERROR_TYPES:
            return None
        if self._quoted is None:
            from rawkit.wire.packet import decode_quoted

            self._quoted = decode_quoted(self.data)
        return self._quoted

    @property
    def checksum_ok(self) -> bool | None:
        if self.end > len(self._buf) or (self.ip is not None and self.ip.is_fragment):
            return None
        return ones_sum(self._buf[self._off : self.end]) == 0xFFFF

    def builder(self) -> ICMP:
        return ICMP(type=self.type, code=self.code, rest=self.rest)

    def __repr__(self) -> str:
        return f"<ICMP type {self.type} code {self.code}>"


class ICMP(Layer):
    """`rest` (4 bytes) overrides the fields computed from id/seq, gateway, mtu or pointer."""

    FIELDS = {"type": ICMPType.ECHO_REQUEST, "code": 0, "checksum": None, "id": 0, "seq": 0,
              "gateway": "0.0.0.0", "mtu": 0, "pointer": 0, "rest": None}
    IP_PROTO = IPProto.ICMP

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        message = bytes((int(self.type), self.code)) + b"\x00\x00" + self._rest() + payload
        checksum = self.checksum if self.checksum is not None else internet_checksum(message)
        return message[:2] + checksum.to_bytes(2, "big") + message[4:]

    def _rest(self) -> bytes:
        if self.rest is not None:
            return bytes(self.rest)
        if self.type in ID_SEQ_TYPES:
            return struct.pack("!HH", self.id & 0xFFFF, self.seq & 0xFFFF)
        if self.type == ICMPType.REDIRECT:
            return ip4_bytes(self.gateway)
        if self.type == ICMPType.DEST_UNREACH:
            return struct.pack("!HH", 0, self.mtu)
        if self.type == ICMPType.PARAM_PROBLEM:
            return bytes((self.pointer, 0, 0, 0))
        return b"\x00\x00\x00\x00"

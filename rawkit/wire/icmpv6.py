"""ICMPv6 (RFC 4443) and neighbour discovery (RFC 4861): echo, unreachable, packet too big, time
exceeded, parameter problem, RS/RA/NS/NA/redirect and their options."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from enum import IntEnum
from typing import Any, NamedTuple

from rawkit.wire.addresses import ip6_bytes, ip6_text, mac_bytes, mac_text
from rawkit.wire.checksum import l4_checksum, verify_l4
from rawkit.wire.constants import IPProto
from rawkit.wire.layer import Layer

HEADER_LEN = 4


class ICMPv6Type(IntEnum):
    DEST_UNREACH = 1
    PACKET_TOO_BIG = 2
    TIME_EXCEEDED = 3
    PARAM_PROBLEM = 4
    ECHO_REQUEST = 128
    ECHO_REPLY = 129
    MLD_QUERY = 130
    MLD_REPORT = 131
    MLD_DONE = 132
    ROUTER_SOLICIT = 133
    ROUTER_ADVERT = 134
    NEIGHBOR_SOLICIT = 135
    NEIGHBOR_ADVERT = 136
    REDIRECT = 137
    MLD2_REPORT = 143


ERROR_TYPES = frozenset((1, 2, 3, 4))
# bytes of fixed message body before ND options start (counted from the start of the ICMPv6 header)
ND_OPTIONS_AT = {133: 8, 134: 16, 135: 24, 136: 24, 137: 40}


class NDOption(IntEnum):
    SOURCE_LLADDR = 1
    TARGET_LLADDR = 2
    PREFIX_INFO = 3
    REDIRECTED_HEADER = 4
    MTU = 5
    RDNSS = 25
    DNSSL = 31


class PrefixInfo(NamedTuple):
    prefix_len: int
    flags: int  # 0x80 on-link (L), 0x40 autonomous (A)
    valid_lifetime: int
    preferred_lifetime: int
    prefix: str


_OPTION_NAMES = {1: "src_lladdr", 2: "tgt_lladdr", 3: "prefix_info", 4: "redirected", 5: "mtu"}
_OPTION_KINDS = {name: kind for kind, name in _OPTION_NAMES.items()}
_PREFIX = struct.Struct("!BBII4x16s")  # 30 bytes: length, flags, lifetimes, reserved, prefix


class ICMPv6View:
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

    def _u16(self, at: int) -> int | None:
        at += self._off
        return self._buf[at] << 8 | self._buf[at + 1] if at + 2 <= len(self._buf) else None

    def _u32(self, at: int) -> int | None:
        at += self._off
        return int.from_bytes(self._buf[at : at + 4], "big") if at + 4 <= len(self._buf) else None

    id = property(lambda self: self._u16(4))
    seq = property(lambda self: self._u16(6))
    mtu = property(lambda self: self._u32(4))
    pointer = property(lambda self: self._u32(4))

    @property
    def target(self) -> str | None:
        """NS/NA/redirect target address."""
        return self._address(8) if self.type in (135, 136, 137) else None

    @property
    def redirect_dst(self) -> str | None:
        return self._address(24) if self.type == 137 else None

    def _address(self, at: int) -> str | None:
        at += self._off
        return ip6_text(self._buf[at : at + 16]) if at + 16 <= len(self._buf) else None

    @property
    def flags(self) -> int:
        """NA: router 0x80, solicited 0x40, override 0x20. RA: managed 0x80, other 0x40."""
        at = self._off + (5 if self.type == 134 else 4)
        return self._buf[at] if at < len(self._buf) else 0

    @property
    def cur_hop_limit(self) -> int | None:
        at = self._off + 4
        return self._buf[at] if at < len(self._buf) else None

    router_lifetime = property(lambda self: self._u16(6))
    reachable_time = property(lambda self: self._u32(8))
    retrans_timer = property(lambda self: self._u32(12))

    @property
    def data(self) -> bytes:
        """Everything after the 4-byte type/code/checksum."""
        return self._buf[self._off + HEADER_LEN : self.end]

    @property
    def options_bytes(self) -> bytes:
        start = ND_OPTIONS_AT.get(self.type)
        return b"" if start is None else self._buf[self._off + start : self.end]

    @property
    def options(self) -> list[tuple[str | int, Any]]:
        """ND options: ('src_lladdr', mac), ('tgt_lladdr', mac), ('prefix_info', PrefixInfo),
        ('mtu', int), ('redirected', bytes), or (type, bytes)."""
        return parse_nd_options(self.options_bytes)[0]

    @property
    def is_error(self) -> bool:
        return self.type in ERROR_TYPES

    @property
    def quoted(self):
        """For an error message, the quoted packet decoded as raw IP (a `Packet`), else None."""
        if self.type not in ERROR_TYPES:
            return None
        if self._quoted is None:
            from rawkit.wire.packet import decode_quoted

            self._quoted = decode_quoted(self._buf[self._off + 8 : self.end])
        return self._quoted

    @property
    def checksum_ok(self) -> bool | None:
        return verify_l4(self._buf, self._off, self.end, self.ip, IPProto.ICMPV6)

    def __repr__(self) -> str:
        return f"<ICMPv6 type {self.type} code {self.code}>"


def parse_nd_options(raw: bytes) -> tuple[list[tuple[str | int, Any]], str | None]:
    options: list[tuple[str | int, Any]] = []
    index, end = 0, len(raw)
    while index + 2 <= end:
        kind, units = raw[index], raw[index + 1]
        if units == 0:
            return options, f"ND option {kind} has length 0"
        length = units * 8
        if index + length > end:
            return options, f"ND option {kind} length {length} overruns the message"
        options.append(_decode_nd(kind, raw[index + 2 : index + length]))
        index += length
    if index < end:
        return options, "ND option truncated"
    return options, None


def _decode_nd(kind: int, body: bytes) -> tuple[str | int, Any]:
    if kind in (1, 2) and len(body) == 6:
        return _OPTION_NAMES[kind], mac_text(body)
    if kind == 3 and len(body) == 30:
        prefix_len, flags, valid, preferred, prefix = _PREFIX.unpack(body)
        return "prefix_info", PrefixInfo(prefix_len, flags, valid, preferred, ip6_text(prefix))
    if kind == 5 and len(body) == 6:
        return "mtu", int.from_bytes(body[2:], "big")
    if kind == 4:
        return "redirected", body[6:]
    return kind, body


def encode_nd_options(options: Iterable[tuple[str | int, Any]] | bytes) -> bytes:
    if isinstance(options, bytes | bytearray):
        return bytes(options)
    out = b""
    for name, value in options:
        kind = _OPTION_KINDS.get(name, name) if isinstance(name, str) else name
        if kind in (1, 2) and isinstance(value, str):
            body = mac_bytes(value)
        elif kind == 3 and not isinstance(value, bytes | bytearray):
            info = PrefixInfo(*value)
            body = _PREFIX.pack(info.prefix_len, info.flags, info.valid_lifetime, info.preferred_lifetime,
                                ip6_bytes(info.prefix))
        elif kind == 5 and isinstance(value, int):
            body = b"\x00\x00" + value.to_bytes(4, "big")
        elif kind == 4:
            body = b"\x00" * 6 + bytes(value)
        else:
            body = bytes(value)
        body += b"\x00" * (-(len(body) + 2) % 8)
        out += bytes((kind, (len(body) + 2) // 8)) + body
    return out


class ICMPv6(Layer):
    """One builder for every ICMPv6 type; the fields that matter depend on `type`.
    `body` overrides the whole type-specific part (everything after the checksum)."""

    FIELDS = {"type": ICMPv6Type.ECHO_REQUEST, "code": 0, "checksum": None, "id": 0, "seq": 0, "mtu": 1280,
              "pointer": 0, "target": "::", "dst": "::", "flags": 0, "cur_hop_limit": 64,
              "router_lifetime": 1800, "reachable_time": 0, "retrans_timer": 0, "options": (), "body": None}
    IP_PROTO = IPProto.ICMPV6

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        message = bytes((int(self.type), self.code)) + b"\x00\x00" + self._body() + payload
        checksum = self.checksum
        if checksum is None:
            checksum = l4_checksum(message, below, IPProto.ICMPV6)
        return message[:2] + checksum.to_bytes(2, "big") + message[4:]

    def _body(self) -> bytes:
        if self.body is not None:
            return bytes(self.body)
        kind = self.type
        if kind in (128, 129):
            fixed = struct.pack("!HH", self.id & 0xFFFF, self.seq & 0xFFFF)
        elif kind == 2:
            fixed = self.mtu.to_bytes(4, "big")
        elif kind == 4:
            fixed = self.pointer.to_bytes(4, "big")
        elif kind == 134:
            fixed = struct.pack("!BBHII", self.cur_hop_limit, self.flags, self.router_lifetime,
                                self.reachable_time, self.retrans_timer)
        elif kind == 135:
            fixed = b"\x00" * 4 + ip6_bytes(self.target)
        elif kind == 136:
            fixed = bytes((self.flags, 0, 0, 0)) + ip6_bytes(self.target)
        elif kind == 137:
            fixed = b"\x00" * 4 + ip6_bytes(self.target) + ip6_bytes(self.dst)
        else:
            fixed = b"\x00" * 4
        return fixed + encode_nd_options(self.options)

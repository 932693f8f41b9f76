"""IPv6 (RFC 8200) and its extension headers: hop-by-hop, routing, fragment, destination
options; AH and ESP are recognised (AH is walked through, ESP ends the chain)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from rawkit.wire.addresses import cached_ip6_text, ip6_bytes, ip6_text
from rawkit.wire.checksum import pseudo_header_sum
from rawkit.wire.constants import EtherType, IPProto
from rawkit.wire.layer import Layer, type_of

HEADER_LEN = 40
EXTENSION_HEADERS = frozenset((IPProto.HOPOPTS, IPProto.ROUTING, IPProto.FRAGMENT, IPProto.DSTOPTS,
                               IPProto.AH, IPProto.ESP))
EXT_NAMES = {IPProto.HOPOPTS: "hop-by-hop", IPProto.ROUTING: "routing", IPProto.FRAGMENT: "fragment",
             IPProto.DSTOPTS: "destination options", IPProto.AH: "AH", IPProto.ESP: "ESP"}


class IPv6View:
    """Fixed 40-byte header plus the extension chain the dissector walked (`ext`)."""

    __slots__ = ("_buf", "_off", "ext", "proto", "upper_off", "src", "dst")

    def __init__(self, buf: bytes, off: int, ext: tuple[ExtensionView, ...], proto: int, upper_off: int):
        self._buf = buf
        self._off = off
        self.ext = ext
        self.proto = proto  # the upper-layer protocol after every extension header
        self.upper_off = upper_off
        # texts set here, not properties: as IPv4View's (nearly every reader reads them)
        raw = buf[off + 8 : off + 24]
        self.src = cached_ip6_text(raw) or ip6_text(raw)
        raw = buf[off + 24 : off + 40]
        self.dst = cached_ip6_text(raw) or ip6_text(raw)

    version = property(lambda self: self._buf[self._off] >> 4)

    @property
    def tc(self) -> int:
        return (self._buf[self._off] & 0x0F) << 4 | self._buf[self._off + 1] >> 4

    @property
    def fl(self) -> int:
        off = self._off
        return (self._buf[off + 1] & 0x0F) << 16 | self._buf[off + 2] << 8 | self._buf[off + 3]

    flow = fl

    @property
    def plen(self) -> int:
        return self._buf[self._off + 4] << 8 | self._buf[self._off + 5]

    nh = property(lambda self: self._buf[self._off + 6])
    hlim = property(lambda self: self._buf[self._off + 7])
    ttl = hlim
    header_len = HEADER_LEN

    @property
    def src_bytes(self) -> bytes:
        return self._buf[self._off + 8 : self._off + 24]

    @property
    def dst_bytes(self) -> bytes:
        return self._buf[self._off + 24 : self._off + 40]

    @property
    def fragment(self) -> ExtensionView | None:
        for header in self.ext:
            if header.kind == IPProto.FRAGMENT:
                return header
        return None

    @property
    def is_fragment(self) -> bool:
        fragment = self.fragment
        return fragment is not None and (fragment.offset != 0 or fragment.m)

    @property
    def ext_len(self) -> int:
        return self.upper_off - self._off - HEADER_LEN

    def pseudo_header_sum(self, proto: int, length: int) -> int:
        dst = self.dst_bytes
        for header in self.ext:
            if header.kind == IPProto.ROUTING and header.segleft:
                dst = final_destination(header.routing_type, header.data[6:]) or dst
        return pseudo_header_sum(self.src_bytes, dst, proto, length)

    def builder(self) -> IPv6:
        return IPv6(tc=self.tc, fl=self.fl, nh=self.nh, hlim=self.hlim, src=self.src, dst=self.dst)

    def __repr__(self) -> str:
        return f"<IPv6 {self.src} > {self.dst} nh {self.nh} plen {self.plen}>"


class ExtensionView:
    """One extension header. `length` is its size in bytes (ESP: the 8-byte SPI+sequence)."""

    __slots__ = ("_buf", "_off", "kind", "length")

    def __init__(self, buf: bytes, off: int, kind: int, length: int) -> None:
        self._buf = buf
        self._off = off
        self.kind = kind
        self.length = length

    name = property(lambda self: EXT_NAMES.get(self.kind, str(self.kind)))

    @property
    def nh(self) -> int | None:
        return None if self.kind == IPProto.ESP else self._buf[self._off]

    @property
    def data(self) -> bytes:
        """Everything after the next-header and length bytes."""
        return self._buf[self._off + 2 : self._off + self.length]

    @property
    def options(self) -> list[tuple[int, bytes]]:
        """Hop-by-hop / destination options as (type, data); Pad1 and PadN included."""
        return parse_tlv_options(self._buf[self._off + 2 : self._off + self.length])[0]

    # routing header
    routing_type = property(lambda self: self._buf[self._off + 2])
    segleft = property(lambda self: self._buf[self._off + 3])

    @property
    def addresses(self) -> list[str]:
        """Type 0 / segment-routing address list."""
        raw = self._buf[self._off + 8 : self._off + self.length]
        return [ip6_text(raw[i : i + 16]) for i in range(0, len(raw) - 15, 16)]

    # fragment header
    @property
    def offset(self) -> int:
        """Fragment offset in 8-byte units."""
        return (self._buf[self._off + 2] << 8 | self._buf[self._off + 3]) >> 3

    m = property(lambda self: bool(self._buf[self._off + 3] & 1))

    @property
    def id(self) -> int:
        return int.from_bytes(self._buf[self._off + 4 : self._off + 8], "big")

    # AH / ESP
    @property
    def spi(self) -> int:
        start = self._off + (0 if self.kind == IPProto.ESP else 4)
        return int.from_bytes(self._buf[start : start + 4], "big")

    @property
    def sequence(self) -> int:
        start = self._off + (4 if self.kind == IPProto.ESP else 8)
        return int.from_bytes(self._buf[start : start + 4], "big")

    def __repr__(self) -> str:
        return f"<IPv6 {self.name} header, {self.length} bytes>"


def extension_length(buf: bytes, off: int, kind: int) -> int:
    """Size in bytes of the extension header at `off` (caller has checked 8 bytes exist)."""
    if kind == IPProto.FRAGMENT or kind == IPProto.ESP:
        return 8
    if kind == IPProto.AH:
        return (buf[off + 1] + 2) * 4
    return (buf[off + 1] + 1) * 8


def final_destination(routing_type: int, addresses: bytes) -> bytes | None:
    """Where a routing header with segments left finally delivers: what the upper-layer pseudo-header
    holds (RFC 8200 8.1). Type 4 (segment routing) lists it first, types 0 and 2 last."""
    whole = len(addresses) - len(addresses) % 16
    if whole == 0 or routing_type not in (0, 2, 4):
        return None
    return addresses[:16] if routing_type == 4 else addresses[whole - 16 : whole]


def parse_tlv_options(raw: bytes) -> tuple[list[tuple[int, bytes]], str | None]:
    options: list[tuple[int, bytes]] = []
    index, end = 0, len(raw)
    while index < end:
        kind = raw[index]
        if kind == 0:  # Pad1
            options.append((0, b""))
            index += 1
            continue
        if index + 1 >= end:
            return options, f"option {kind} has no length byte"
        length = raw[index + 1]
        if index + 2 + length > end:
            return options, f"option {kind} length {length} overruns the header"
        options.append((kind, raw[index + 2 : index + 2 + length]))
        index += 2 + length
    return options, None


_FIXED = struct.Struct("!IHBB16s16s")


class IPv6(Layer):
    FIELDS = {"version": 6, "tc": 0, "fl": 0, "plen": None, "nh": None, "hlim": 64,
              "src": "::", "dst": "::1"}
    ETHERTYPE = EtherType.IPV6
    IP_PROTO = IPProto.IPV6

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        plen = self.plen if self.plen is not None else len(payload)
        nh = self.nh if self.nh is not None else type_of(above, "IP_PROTO", IPProto.NONE)
        first = self.version << 28 | (self.tc & 0xFF) << 20 | (self.fl & 0xFFFFF)
        header = _FIXED.pack(first, plen & 0xFFFF, nh, self.hlim, ip6_bytes(self.src), ip6_bytes(self.dst))
        return header + payload

    def pseudo_header_sum(self, proto: int, length: int, final_dst: bytes | None = None) -> int:
        """`final_dst`: a routing header's final destination, which replaces ours (see l4_checksum)."""
        return pseudo_header_sum(ip6_bytes(self.src), final_dst or ip6_bytes(self.dst), proto, length)


class IPv6HopByHop(Layer):
    """Options as (type, data) pairs or raw bytes; padded to 8 bytes with PadN."""

    FIELDS = {"nh": None, "len": None, "options": ()}
    IP_PROTO = IPProto.HOPOPTS

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        if isinstance(self.options, bytes | bytearray):
            body = bytes(self.options)
        else:
            body = b"".join(bytes((kind,)) if kind == 0 else bytes((kind, len(data))) + data
                            for kind, data in self.options)
        body = _pad_options(body)
        return _ext_header(self, above, body, (len(body) + 2) // 8 - 1) + payload


class IPv6DestOpts(IPv6HopByHop):
    IP_PROTO = IPProto.DSTOPTS


class IPv6Routing(Layer):
    """Routing header; `addresses` fills type 0 / type 4 style address lists."""

    FIELDS = {"nh": None, "len": None, "type": 0, "segleft": None, "reserved": b"\x00\x00\x00\x00",
              "addresses": ()}
    IP_PROTO = IPProto.ROUTING

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        segleft = len(self.addresses) if self.segleft is None else self.segleft
        body = bytes((self.type, segleft)) + bytes(self.reserved)
        body += b"".join(ip6_bytes(address) for address in self.addresses)
        return _ext_header(self, above, body, len(self.addresses) * 2) + payload

    def final_destination(self) -> bytes | None:
        """The destination TCP/UDP/ICMPv6 checksums use when segments are left (None: the IPv6 header's)."""
        segleft = len(self.addresses) if self.segleft is None else self.segleft
        if not segleft:
            return None
        return final_destination(self.type, b"".join(ip6_bytes(address) for address in self.addresses))


class IPv6Fragment(Layer):
    """`offset` in 8-byte units; `m` is the more-fragments flag."""

    FIELDS = {"nh": None, "reserved": 0, "offset": 0, "m": 0, "id": 0}
    IP_PROTO = IPProto.FRAGMENT

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        nh = self.nh if self.nh is not None else type_of(above, "IP_PROTO", IPProto.NONE)
        word = (self.offset & 0x1FFF) << 3 | (1 if self.m else 0)
        return struct.pack("!BBHI", nh, self.reserved, word, self.id) + payload


def _pad_options(body: bytes) -> bytes:
    missing = -(len(body) + 2) % 8
    if missing == 1:
        return body + b"\x00"
    if missing:
        return body + bytes((1, missing - 2)) + b"\x00" * (missing - 2)
    return body


def _ext_header(layer: Layer, above: Layer | None, body: bytes, units: int) -> bytes:
    nh = layer.nh if layer.nh is not None else type_of(above, "IP_PROTO", IPProto.NONE)
    length = layer.len if layer.len is not None else units
    return bytes((nh, length)) + body

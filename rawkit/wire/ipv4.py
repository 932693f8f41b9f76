"""IPv4 (RFC 791): header with options, fragments (DF/MF), header checksum."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from rawkit.wire.addresses import cached_ip4_text, ip4_bytes, ip4_int_text
from rawkit.wire.checksum import internet_checksum, pseudo_header_sum, verify
from rawkit.wire.constants import EtherType, IPProto
from rawkit.wire.layer import Layer, type_of

MIN_HEADER_LEN = 20
FLAG_MF = 1
FLAG_DF = 2
FLAG_EVIL = 4

OPT_EOL = 0
OPT_NOP = 1


_ADDRESSES = struct.Struct("!12xII").unpack_from


class IPv4View:
    """View of an IPv4 header; construction requires 20 bytes, header_len may be longer.

    `src` and `dst` are texts set when the view is made, not properties: nearly every reader of a
    packet reads them, a property call costs more than the cache lookup that makes the text, and the
    decoder's fast path has their values from its one unpack of the header."""

    __slots__ = ("_buf", "_off", "header_len", "src", "dst")

    def __init__(self, buf: bytes, off: int) -> None:
        self._buf = buf
        self._off = off
        self.header_len = (buf[off] & 0x0F) * 4
        src, dst = _ADDRESSES(buf, off)
        self.src = cached_ip4_text(src) or ip4_int_text(src)
        self.dst = cached_ip4_text(dst) or ip4_int_text(dst)

    version = property(lambda self: self._buf[self._off] >> 4)
    ihl = property(lambda self: self._buf[self._off] & 0x0F)
    tos = property(lambda self: self._buf[self._off + 1])
    dscp = property(lambda self: self._buf[self._off + 1] >> 2)
    ecn = property(lambda self: self._buf[self._off + 1] & 3)

    @property
    def len(self) -> int:
        return self._buf[self._off + 2] << 8 | self._buf[self._off + 3]

    @property
    def id(self) -> int:
        return self._buf[self._off + 4] << 8 | self._buf[self._off + 5]

    @property
    def flags(self) -> int:
        return self._buf[self._off + 6] >> 5

    df = property(lambda self: bool(self._buf[self._off + 6] & 0x40))
    mf = property(lambda self: bool(self._buf[self._off + 6] & 0x20))

    @property
    def frag(self) -> int:
        """Fragment offset in 8-byte units, as in the header."""
        return (self._buf[self._off + 6] & 0x1F) << 8 | self._buf[self._off + 7]

    @property
    def frag_offset(self) -> int:
        """Fragment offset in bytes."""
        return self.frag * 8

    @property
    def is_fragment(self) -> bool:
        return bool(self._buf[self._off + 6] & 0x3F or self._buf[self._off + 7])

    ttl = property(lambda self: self._buf[self._off + 8])
    proto = property(lambda self: self._buf[self._off + 9])

    @property
    def checksum(self) -> int:
        return self._buf[self._off + 10] << 8 | self._buf[self._off + 11]

    @property
    def src_bytes(self) -> bytes:
        return self._buf[self._off + 12 : self._off + 16]

    @property
    def dst_bytes(self) -> bytes:
        return self._buf[self._off + 16 : self._off + 20]

    @property
    def options_bytes(self) -> bytes:
        return self._buf[self._off + MIN_HEADER_LEN : self._off + self.header_len]

    @property
    def options(self) -> list[tuple[int, bytes]]:
        """(type, data) pairs; EOL and NOP have empty data. Stops at a malformed option."""
        return parse_options(self.options_bytes)[0]

    @property
    def checksum_ok(self) -> bool | None:
        """None when the header is not all captured."""
        end = self._off + self.header_len
        if self.header_len < MIN_HEADER_LEN or end > len(self._buf):
            return None
        return verify(self._buf[self._off : end])

    def pseudo_header_sum(self, proto: int, length: int) -> int:
        dst = self.dst_bytes
        if self.header_len > MIN_HEADER_LEN:
            dst = final_destination(self.options_bytes) or dst
        return pseudo_header_sum(self.src_bytes, dst, proto, length)

    def builder(self) -> IPv4:
        return IPv4(tos=self.tos, id=self.id, flags=self.flags, frag=self.frag, ttl=self.ttl,
                    proto=self.proto, src=self.src, dst=self.dst, options=self.options_bytes)

    def __repr__(self) -> str:
        return f"<IPv4 {self.src} > {self.dst} proto {self.proto} len {self.len}>"


def parse_options(raw: bytes) -> tuple[list[tuple[int, bytes]], str | None]:
    """Split IPv4 option bytes into (type, data); the second item names a malformation."""
    options: list[tuple[int, bytes]] = []
    index, end = 0, len(raw)
    while index < end:
        kind = raw[index]
        if kind == OPT_EOL:
            options.append((kind, b""))
            break
        if kind == OPT_NOP:
            options.append((kind, b""))
            index += 1
            continue
        if index + 1 >= end:
            return options, f"option {kind} has no length byte"
        length = raw[index + 1]
        if length < 2:
            return options, f"option {kind} has bad length {length}"
        if index + length > end:
            return options, f"option {kind} length {length} overruns the header"
        options.append((kind, raw[index + 2 : index + length]))
        index += length
    return options, None


OPT_LSRR = 131
OPT_SSRR = 137


def final_destination(raw: bytes) -> bytes | None:
    """The last address of a loose/strict source route not yet run to its end: the destination
    TCP/UDP put in their pseudo-header (RFC 9293 3.1). None without such a route."""
    for kind, data in parse_options(raw)[0]:
        if kind in (OPT_LSRR, OPT_SSRR) and len(data) >= 5:
            pointer, route = data[0], data[1:]
            if pointer <= len(data) + 2:  # counted from the option's start; past its length: route done
                whole = len(route) - len(route) % 4
                return route[whole - 4 : whole]
    return None


def encode_options(options: Sequence[tuple[int, bytes]] | bytes) -> bytes:
    if isinstance(options, bytes | bytearray):
        raw = bytes(options)
    else:
        raw = b"".join(
            bytes((kind,)) if kind in (OPT_EOL, OPT_NOP) else bytes((kind, len(data) + 2)) + data
            for kind, data in options
        )
    return raw + b"\x00" * (-len(raw) % 4)


_FLAG_NAMES = {"MF": FLAG_MF, "DF": FLAG_DF, "EVIL": FLAG_EVIL, "RESERVED": FLAG_EVIL}
_HEADER = struct.Struct("!BBHHHBBH4s4s")


def flag_bits(flags: int | str) -> int:
    """Accepts 2, 'DF', 'DF+MF', 'MF|DF'."""
    if isinstance(flags, int):
        return flags
    bits = 0
    for name in flags.replace("|", "+").replace(",", "+").split("+"):
        if name.strip():
            bits |= _FLAG_NAMES[name.strip().upper()]
    return bits


class IPv4(Layer):
    FIELDS = {
        "version": 4, "ihl": None, "tos": 0, "len": None, "id": 1, "flags": 0, "frag": 0, "ttl": 64,
        "proto": None, "checksum": None, "src": "0.0.0.0", "dst": "127.0.0.1", "options": b"",
    }
    ETHERTYPE = EtherType.IPV4
    IP_PROTO = IPProto.IPIP

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        options = encode_options(self.options)
        ihl = self.ihl if self.ihl is not None else (MIN_HEADER_LEN + len(options)) // 4
        total = self.len if self.len is not None else MIN_HEADER_LEN + len(options) + len(payload)
        proto = self.proto if self.proto is not None else type_of(above, "IP_PROTO", IPProto.NONE)
        frag = flag_bits(self.flags) << 13 | (self.frag & 0x1FFF)
        header = _HEADER.pack(self.version << 4 | (ihl & 0x0F), self.tos, total & 0xFFFF, self.id & 0xFFFF,
                              frag, self.ttl, proto, 0, ip4_bytes(self.src), ip4_bytes(self.dst)) + options
        checksum = self.checksum if self.checksum is not None else internet_checksum(header)
        return header[:10] + checksum.to_bytes(2, "big") + header[12:] + payload

    def pseudo_header_sum(self, proto: int, length: int, final_dst: bytes | None = None) -> int:
        dst = final_dst or ip4_bytes(self.dst)
        if self.options:
            dst = final_destination(encode_options(self.options)) or dst
        return pseudo_header_sum(ip4_bytes(self.src), dst, proto, length)

"""Write pcapng files: several interfaces and link types, packet comments and flags."""

from __future__ import annotations

import struct
from collections.abc import Iterable

from rawkit.pcap.formats import (
    BYTE_ORDER_MAGIC,
    DEFAULT_SNAPLEN,
    ENHANCED_PACKET,
    EPB_FLAGS,
    IF_NAME,
    IF_TSOFFSET,
    IF_TSRESOL,
    INTERFACE_DESCRIPTION,
    OPT_COMMENT,
    SECTION_HEADER,
    SHB_USERAPPL,
)
from rawkit.pcap.output import CaptureOutput, Destination
from rawkit.wire.packet import Packet

_SECTION_LENGTH_UNKNOWN = -1


class _Interface:
    __slots__ = ("linktype", "snaplen", "units_per_second", "offset_seconds")

    def __init__(self, linktype: int, snaplen: int, units_per_second: int, offset_seconds: int) -> None:
        self.linktype = linktype
        self.snaplen = snaplen
        self.units_per_second = units_per_second
        self.offset_seconds = offset_seconds


def _resolution_option(units_per_second: int) -> bytes:
    """The if_tsresol byte for 10**k or 2**k units per second."""
    for exponent in range(20):
        if 10**exponent == units_per_second:
            return bytes([exponent])
    if units_per_second > 0 and units_per_second & (units_per_second - 1) == 0:
        return bytes([0x80 | units_per_second.bit_length() - 1])
    raise ValueError(f"timestamp resolution must be 10**k or 2**k units per second, not {units_per_second}")


class PcapNgWriter(CaptureOutput):
    """A pcapng file with one section, interfaces added as needed; little-endian unless
    `byte_order=">"`.

    The section header goes out on open; interface description blocks go out when added, so
    packets of a new link type can appear at any point of the file.
    """

    def __init__(self, dest: Destination, byte_order: str = "<") -> None:
        super().__init__(dest, byte_order)
        self._order = byte_order
        self._epb_head = struct.Struct(byte_order + "IIIIIII")
        self._word = struct.Struct(byte_order + "I")
        self._interfaces: list[_Interface] = []
        body = struct.pack(byte_order + "IHHq", BYTE_ORDER_MAGIC, 1, 0, _SECTION_LENGTH_UNKNOWN)
        self.write_block(SECTION_HEADER, body + self.options([(SHB_USERAPPL, b"rawkit")]))

    @property
    def interfaces(self) -> list[tuple[int, int]]:
        """(linktype, snaplen) of each interface, by index."""
        return [(interface.linktype, interface.snaplen) for interface in self._interfaces]

    def add_interface(self, linktype: int, snaplen: int = DEFAULT_SNAPLEN, name: str | None = None,
                      tsresol_ns: bool = True, ts_resolution: int | None = None, ts_offset: int = 0) -> int:
        """Describe an interface and return its index. Timestamps are stored in ns, or µs (the
        format's default) if not `tsresol_ns`, or `ts_resolution` units per second (10**k or 2**k)
        if given; `ts_offset` (seconds) is the if_tsoffset added to every stored timestamp."""
        if ts_resolution is None:
            ts_resolution = 1_000_000_000 if tsresol_ns else 1_000_000
        options = []
        if name is not None:
            options.append((IF_NAME, name.encode()))
        if ts_resolution != 1_000_000:
            options.append((IF_TSRESOL, _resolution_option(ts_resolution)))
        if ts_offset:
            options.append((IF_TSOFFSET, struct.pack(self._order + "q", ts_offset)))
        body = struct.pack(self._order + "HHI", int(linktype), 0, int(snaplen)) + self.options(options)
        self.write_block(INTERFACE_DESCRIPTION, body)
        self._interfaces.append(_Interface(int(linktype), int(snaplen), ts_resolution, ts_offset))
        return len(self._interfaces) - 1

    def write(self, data: bytes, ts_ns: int = 0, interface: int = 0, wirelen: int | None = None,
              comment: str | Iterable[str] | None = None, flags: int | None = None) -> None:
        """Append one enhanced packet block; `comment` may be one string or several."""
        if not 0 <= interface < len(self._interfaces):
            raise ValueError(f"no interface {interface}: add_interface() it first "
                             f"({len(self._interfaces)} described)")
        described = self._interfaces[interface]
        if wirelen is None:
            wirelen = len(data)
        if len(data) > described.snaplen > 0:
            data = data[: described.snaplen]
        stored_ns = ts_ns - described.offset_seconds * 1_000_000_000
        stamp = stored_ns * described.units_per_second // 1_000_000_000 & 0xFFFFFFFFFFFFFFFF
        options = []
        if comment is not None:
            for text in [comment] if isinstance(comment, str) else comment:
                options.append((OPT_COMMENT, text.encode()))
        if flags is not None:
            options.append((EPB_FLAGS, self._word.pack(flags)))
        caplen = len(data)
        tail = bytes(-caplen % 4) + self.options(options)
        total = 32 + caplen + len(tail)
        self._file.write(self._epb_head.pack(ENHANCED_PACKET, total, interface, stamp >> 32,
                                             stamp & 0xFFFFFFFF, caplen, max(wirelen, caplen)))
        self._file.write(data)
        self._file.write(tail + self._word.pack(total))

    def write_packet(self, pkt: Packet) -> None:
        """Append a Packet with its comments and flags, on its own interface when that interface has
        the packet's link type, else on the first interface that has it (added if none)."""
        index = pkt.interface
        if index is None or not 0 <= index < len(self._interfaces) \
                or self._interfaces[index].linktype != pkt.linktype:
            index = next((number for number, interface in enumerate(self._interfaces)
                          if interface.linktype == pkt.linktype), None)
            if index is None:
                index = self.add_interface(pkt.linktype)
        self.write(pkt.data, pkt.ts_ns, index, pkt.wirelen, pkt.comments or None, pkt.epb_flags)

    def options(self, options: Iterable[tuple[int, bytes]]) -> bytes:
        """Encode (code, value) options, padded, with the end-of-options marker; b"" for none."""
        encoded = b"".join(struct.pack(self._order + "HH", code, len(value)) + value + bytes(-len(value) % 4)
                           for code, value in options)
        return encoded + struct.pack(self._order + "HH", 0, 0) if encoded else b""

    def write_block(self, block_type: int, body: bytes) -> None:
        """Append any block (padded to 4 bytes): for block types this writer has no method for."""
        body += bytes(-len(body) % 4)
        total = 12 + len(body)
        self._file.write(self._word.pack(block_type) + self._word.pack(total) + body + self._word.pack(total))

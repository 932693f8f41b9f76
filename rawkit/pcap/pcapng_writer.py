"""Write pcapng files: several interfaces and link types, packet comments and flags."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType

from rawkit.pcap.formats import (
    BYTE_ORDER_MAGIC,
    DEFAULT_SNAPLEN,
    ENHANCED_PACKET,
    EPB_FLAGS,
    IF_NAME,
    IF_TSRESOL,
    INTERFACE_DESCRIPTION,
    OPT_COMMENT,
    SECTION_HEADER,
    SHB_USERAPPL,
)
from rawkit.pcap.output import Destination, open_destination
from rawkit.wire.packet import Packet

_BLOCK_HEAD = struct.Struct("<II")
_SECTION_BODY = struct.Struct("<IHHq")
_INTERFACE_BODY = struct.Struct("<HHI")
_EPB_HEAD = struct.Struct("<IIIIIII")
_OPTION_HEAD = struct.Struct("<HH")
_UINT32 = struct.Struct("<I")
_SECTION_LENGTH_UNKNOWN = -1


def _option(code: int, value: bytes) -> bytes:
    return _OPTION_HEAD.pack(code, len(value)) + value + bytes(-len(value) % 4)


def _options(options: list[bytes]) -> bytes:
    return b"".join(options) + _OPTION_HEAD.pack(0, 0) if options else b""


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return _BLOCK_HEAD.pack(block_type, total) + body + _UINT32.pack(total)


@dataclass(frozen=True)
class _Interface:
    linktype: int
    snaplen: int
    units_per_second: int


class PcapNgWriter:
    """A pcapng file in little-endian byte order, one section, interfaces added as needed.

    The section header goes out on open; interface description blocks go out when added, so
    packets of a new link type can appear at any point of the file.
    """

    def __init__(self, dest: Destination) -> None:
        self._file, self._owned = open_destination(dest)
        self._interfaces: list[_Interface] = []
        body = _SECTION_BODY.pack(BYTE_ORDER_MAGIC, 1, 0, _SECTION_LENGTH_UNKNOWN)
        body += _options([_option(SHB_USERAPPL, b"rawkit")])
        self._file.write(_block(SECTION_HEADER, body))

    @property
    def interfaces(self) -> list[tuple[int, int]]:
        """(linktype, snaplen) of each interface, by index."""
        return [(interface.linktype, interface.snaplen) for interface in self._interfaces]

    def add_interface(self, linktype: int, snaplen: int = DEFAULT_SNAPLEN, name: str | None = None,
                      tsresol_ns: bool = True) -> int:
        """Describe an interface and return its index; timestamps in ns (else µs, the default)."""
        options = []
        if name is not None:
            options.append(_option(IF_NAME, name.encode()))
        if tsresol_ns:
            options.append(_option(IF_TSRESOL, b"\x09"))
        body = _INTERFACE_BODY.pack(int(linktype), 0, int(snaplen)) + _options(options)
        self._file.write(_block(INTERFACE_DESCRIPTION, body))
        self._interfaces.append(_Interface(int(linktype), int(snaplen),
                                           1_000_000_000 if tsresol_ns else 1_000_000))
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
        stamp = ts_ns * described.units_per_second // 1_000_000_000 & 0xFFFFFFFFFFFFFFFF
        options = []
        if comment is not None:
            for text in [comment] if isinstance(comment, str) else comment:
                options.append(_option(OPT_COMMENT, text.encode()))
        if flags is not None:
            options.append(_option(EPB_FLAGS, _UINT32.pack(flags)))
        caplen = len(data)
        tail = bytes(-caplen % 4) + _options(options)
        total = 32 + caplen + len(tail)
        self._file.write(_EPB_HEAD.pack(ENHANCED_PACKET, total, interface, stamp >> 32, stamp & 0xFFFFFFFF,
                                        caplen, max(wirelen, caplen)))
        self._file.write(data)
        self._file.write(tail + _UINT32.pack(total))

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

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it."""
        if self._file is None:
            return
        self._file.flush()
        if self._owned:
            self._file.close()
        self._file = None

    def __enter__(self) -> PcapNgWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

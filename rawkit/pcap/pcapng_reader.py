"""Read pcapng files: sections in either byte order, many interfaces, packet comments and flags.

Enhanced, simple and obsolete packet blocks give packets; name resolution, interface statistics,
custom and unknown blocks are skipped by their length. Packet timestamps are converted from each
interface's if_tsresol (power of 10 or of 2) and if_tsoffset to nanoseconds (rounding down).
`pkt.interface` is the index in `reader.interfaces`, which numbers interfaces across all sections.

A packet longer than its interface's snap length (when that is not 0) is an error, as in libpcap
(tcpdump), although Wireshark accepts it (and so does this reader with `libpcap_snaplen=False`).
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable, Iterator

from rawkit.pcap.base import CaptureReader, Interface
from rawkit.pcap.formats import (
    BYTE_ORDER_MAGIC,
    ENHANCED_PACKET,
    EPB_FLAGS,
    IF_NAME,
    IF_TSOFFSET,
    IF_TSRESOL,
    INTERFACE_DESCRIPTION,
    MAX_RECORD_LEN,
    OBSOLETE_PACKET,
    OPT_COMMENT,
    SECTION_HEADER,
    SIMPLE_PACKET,
)
from rawkit.pcap.source import Feed
from rawkit.wire.packet import Packet

_MIN_SECTION_LEN = 28


class _Layout:
    """The structs of one section's byte order."""

    def __init__(self, order: str) -> None:
        self.order = order
        self.enhanced = struct.Struct(order + "IIIIIII").unpack_from  # block head + EPB fields
        self.pair = struct.Struct(order + "II").unpack_from
        self.word = struct.Struct(order + "I").unpack_from
        self.option = struct.Struct(order + "HH").unpack_from
        self.interface = struct.Struct(order + "HHI").unpack_from
        self.obsolete = struct.Struct(order + "HHIIII").unpack_from
        self.section = struct.Struct(order + "HHq").unpack_from
        self.offset = struct.Struct(order + "q").unpack_from


def section_byte_order(head: bytes) -> str | None:
    """"<" or ">" if `head` starts with a pcapng section header, else None."""
    if len(head) < 12 or head[:4] != b"\x0a\x0d\x0d\x0a":
        return None
    for order in "<>":
        if int.from_bytes(head[8:12], "little" if order == "<" else "big") == BYTE_ORDER_MAGIC:
            return order
    return None


class PcapNgReader(CaptureReader):
    format = "pcapng"
    # Passes over the enhanced packet blocks a filter drops, in the buffer (rawkit.pcap.scan), and
    # returns where the hot loop goes on; may be set after the first packet.
    skip: Callable[[bytes, int, int, list, str], int] | None = None

    def __init__(self, feed: Feed, libpcap_snaplen: bool = True) -> None:
        super().__init__(feed, libpcap_snaplen)
        # interfaces as (linktype, ts multiplier, ts divisor or 0, ts offset ns, global index, largest
        # caplen), indexed by the section's own interface numbers
        self._section_interfaces: list[tuple[int, int, int, int, int, int]] = []
        # read on to the first packet, so that the interfaces (and .linktype) are known before
        # the caller iterates; a packet block before any interface description is an error
        try:
            first = next(self._packets)
        except StopIteration:
            return
        self._iterator = itertools.chain((first,), self._packets)

    def _generate(self) -> Iterator[Packet]:
        feed = self._feed
        buf = feed.buf
        end = len(buf)
        off = 0
        table = self._section_interfaces
        order = section_byte_order(buf[:12])
        if order is None:
            raise self._fail(0, "not a pcapng section header")
        layout = _Layout(order)
        enhanced, word = layout.enhanced, layout.word
        skip = self.skip
        while True:
            # the hot loop: enhanced packet blocks wholly in the buffer, on a known interface
            while off + 28 <= end:
                if skip is not None:
                    off = skip(buf, off, end, table, layout.order)
                    if off + 28 > end:
                        break
                btype, blen, index, high, low, caplen, wirelen = enhanced(buf, off)
                stop = off + blen
                if (btype != ENHANCED_PACKET or stop > end or caplen > blen - 32 or index >= len(table)
                        or word(buf, stop - 4)[0] != blen):
                    break
                linktype, multiplier, divisor, offset, number, snaplen = table[index]
                if caplen > snaplen:
                    break
                stamp = (high << 32 | low) * multiplier
                if divisor:
                    stamp = stamp // divisor + offset
                start = off + 28
                pkt = Packet(buf[start:start + caplen], linktype, stamp, wirelen)
                pkt.interface = number
                if blen != 32 + (caplen + 3 & -4):
                    if blen & 3:
                        raise self._fail(off, "bad block length", f"{blen} is not a multiple of 4")
                    _packet_options(pkt, buf, start + (caplen + 3 & -4), stop - 4, layout)
                off = stop
                yield pkt
                skip = self.skip
            # any other block, the end of the buffer, or damage
            if off + 8 > end:
                off = feed.refill(off, 8)
                buf, end = feed.buf, len(feed.buf)
                if off == end:
                    return
                if off + 8 > end:
                    raise self._fail(off, "truncated block header", f"needs 8 bytes, {end - off} left")
            btype, blen = layout.pair(buf, off)
            if btype == SECTION_HEADER:
                if off + 12 > end:
                    off = feed.refill(off, 12)
                    buf, end = feed.buf, len(feed.buf)
                    if off + 12 > end:
                        raise self._fail(off, "truncated section header", f"needs 12 bytes, {end - off} left")
                order = section_byte_order(buf[off:off + 12])
                if order is None:
                    raise self._fail(off + 8, "bad byte-order magic in a pcapng section header")
                layout = _Layout(order)
                enhanced, word = layout.enhanced, layout.word
                btype, blen = layout.pair(buf, off)
            if blen < 12 or blen & 3:
                raise self._fail(off, "bad block length", f"{blen} (type {btype:#x})")
            if blen > MAX_RECORD_LEN:
                raise self._fail(off, "impossible block length", f"{blen} exceeds {MAX_RECORD_LEN}")
            if off + blen > end:
                off = feed.refill(off, blen)
                buf, end = feed.buf, len(feed.buf)
                if off + blen > end:
                    raise self._fail(off, "truncated block", f"needs {blen} bytes, {end - off} left")
            stop = off + blen
            trailer = word(buf, stop - 4)[0]
            if trailer != blen:
                raise self._fail(off, "block length mismatch",
                                 f"header says {blen}, trailer says {trailer}")
            if btype == SECTION_HEADER:
                self._section(buf, off, stop, layout)
            elif btype == INTERFACE_DESCRIPTION:
                self._interface(buf, off, stop, layout)
            elif btype == ENHANCED_PACKET or btype == OBSOLETE_PACKET:
                yield self._packet(buf, off, stop, btype, layout)
            elif btype == SIMPLE_PACKET:
                yield self._simple_packet(buf, off, stop, layout)
            off = stop

    def _section(self, buf: bytes, off: int, stop: int, layout: _Layout) -> None:
        if stop - off < _MIN_SECTION_LEN:
            raise self._fail(off, "truncated section header", f"block length {stop - off}")
        major, minor, _length = layout.section(buf, off + 12)
        if major != 1:
            raise self._fail(off, f"unsupported pcapng version {major}.{minor}")
        self._section_interfaces.clear()

    def _interface(self, buf: bytes, off: int, stop: int, layout: _Layout) -> None:
        if stop - off < 20:
            raise self._fail(off, "truncated interface description", f"block length {stop - off}")
        linktype, _reserved, snaplen = layout.interface(buf, off + 8)
        name, resolution, offset_seconds = None, 1_000_000, 0
        for code, start, length in _options(buf, off + 16, stop - 4, layout):
            if code == IF_NAME:
                name = bytes(buf[start:start + length]).decode("utf-8", "replace").rstrip("\0")
            elif code == IF_TSRESOL and length >= 1:
                exponent = buf[start]
                if exponent & 0x80:
                    if exponent & 0x7F > 63:
                        raise self._fail(start, "unsupported timestamp resolution", f"2^-{exponent & 0x7F}")
                    resolution = 1 << (exponent & 0x7F)
                else:
                    if exponent > 19:
                        raise self._fail(start, "unsupported timestamp resolution", f"10^-{exponent}")
                    resolution = 10**exponent
            elif code == IF_TSOFFSET and length >= 8:
                offset_seconds = layout.offset(buf, start)[0]
        if resolution <= 1_000_000_000 and 1_000_000_000 % resolution == 0 and not offset_seconds:
            multiplier, divisor = 1_000_000_000 // resolution, 0
        else:
            multiplier, divisor = 1_000_000_000, resolution
        number = len(self.interfaces)
        self.interfaces.append(Interface(linktype, snaplen, name, resolution, offset_seconds))
        self._section_interfaces.append((linktype, multiplier, divisor, offset_seconds * 1_000_000_000,
                                         number, snaplen or MAX_RECORD_LEN))

    def _described(self, off: int, index: int) -> tuple[int, int, int, int, int, int]:
        if index >= len(self._section_interfaces):
            raise self._fail(off, "packet for an undescribed interface",
                             f"interface {index}, {len(self._section_interfaces)} described")
        return self._section_interfaces[index]

    def _packet(self, buf: bytes, off: int, stop: int, btype: int, layout: _Layout) -> Packet:
        """An enhanced packet block that the hot loop did not take, or an obsolete packet block."""
        if stop - off < 32:
            raise self._fail(off, "truncated packet block", f"block length {stop - off}")
        if btype == ENHANCED_PACKET:
            _type, _length, index, high, low, caplen, wirelen = layout.enhanced(buf, off)
        else:
            index, _drops, high, low, caplen, wirelen = layout.obsolete(buf, off + 8)
        if caplen > stop - off - 32:
            raise self._fail(off, "impossible packet length",
                             f"captured length {caplen} exceeds the block's {stop - off - 32} bytes")
        linktype, multiplier, divisor, offset, number, snaplen = self._described(off, index)
        if caplen > snaplen and self.libpcap_snaplen:
            raise self._fail(off, "impossible packet length",
                             f"captured length {caplen} exceeds the interface's snap length {snaplen}")
        stamp = (high << 32 | low) * multiplier
        if divisor:
            stamp = stamp // divisor + offset
        start = off + 28
        pkt = Packet(buf[start:start + caplen], linktype, stamp, wirelen)
        pkt.interface = number
        _packet_options(pkt, buf, start + (caplen + 3 & -4), stop - 4, layout)
        return pkt

    def _simple_packet(self, buf: bytes, off: int, stop: int, layout: _Layout) -> Packet:
        """A simple packet block: interface 0, no timestamp; its length is the original length, the
        data is what the block holds up to the interface's snap length."""
        if stop - off < 16:
            raise self._fail(off, "truncated simple packet block", f"block length {stop - off}")
        linktype, _multiplier, _divisor, _offset, number, snaplen = self._described(off, 0)
        wirelen = layout.word(buf, off + 8)[0]
        caplen = min(wirelen, stop - off - 16, snaplen)
        pkt = Packet(buf[off + 12:off + 12 + caplen], linktype, 0, wirelen)
        pkt.interface = number
        return pkt


def _options(buf: bytes, off: int, stop: int, layout: _Layout) -> Iterator[tuple[int, int, int]]:
    """(code, value offset, value length) of each option in buf[off:stop], up to opt_endofopt.
    Options that run past the block end the list: what came before them stays usable."""
    while off + 4 <= stop:
        code, length = layout.option(buf, off)
        if code == 0 or off + 4 + length > stop:
            return
        yield code, off + 4, length
        off += 4 + (length + 3 & -4)


def _packet_options(pkt: Packet, buf: bytes, off: int, stop: int, layout: _Layout) -> None:
    comments = []
    for code, start, length in _options(buf, off, stop, layout):
        if code == OPT_COMMENT:
            comments.append(bytes(buf[start:start + length]).decode("utf-8", "replace"))
        elif code == EPB_FLAGS and length >= 4:
            pkt.epb_flags = layout.word(buf, start)[0]
    if comments:
        pkt.comments = tuple(comments)

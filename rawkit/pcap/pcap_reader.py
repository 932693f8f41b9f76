"""Read classic pcap files: either byte order, microsecond or nanosecond timestamps.

Oversized records follow libpcap (and so tcpdump): a record whose captured length exceeds the
file's snap length is still accepted, cut to the snap length, as long as it stays within the
largest snap length libpcap allows for the link type (262144 for nearly all); beyond that the file
is taken as damaged and reading stops with an error, before anything is allocated for the record.
A snap length of 0 or above that maximum counts as the maximum, as libpcap does.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Generator, Iterator
from itertools import starmap

from rawkit.pcap.base import CaptureReader, Interface
from rawkit.pcap.formats import (
    PCAP_HEADER_LEN,
    PCAP_MAGIC_MICRO,
    PCAP_MAGIC_NANO,
    PCAP_RECORD_HEADER_LEN,
)
from rawkit.pcap.source import Feed
from rawkit.wire.packet import Packet

_LINKTYPE_MASK = 0x03FFFFFF  # the upper bits carry FCS information, not the link type
_LIBPCAP_MAX_SNAPLEN = 262144
# libpcap's exceptions to that maximum: D-Bus, EBHSCR and USBPcap frames may be larger
_MAX_SNAPLEN_FOR_LINKTYPE = {231: 128 * 1024 * 1024, 279: 8 * 1024 * 1024, 249: 1024 * 1024}


def magic_byte_order(head: bytes) -> str | None:
    """"<" or ">" if `head` starts with a pcap magic number in that byte order, else None."""
    for order in "<>":
        if int.from_bytes(head[:4], "little" if order == "<" else "big") in (PCAP_MAGIC_MICRO,
                                                                           PCAP_MAGIC_NANO):
            return order
    return None


class PcapReader(CaptureReader):
    format = "pcap"
    # A test of each record's bytes and wire length made before its Packet is built (a compiled
    # filter: most records are dropped unseen). Set it before iterating.
    keep: Callable[[bytes, int], bool] | None = None
    # The same test inlined into a walk of the records in the buffer (rawkit.pcap.scan), tried
    # first at each buffer position; `keep` decides the records it leaves.
    scan: Callable[[bytes, int, int], Generator[tuple[bytes, int, int, int], None, int]] | None = None

    def __init__(self, feed: Feed, libpcap_snaplen: bool = True) -> None:
        super().__init__(feed, libpcap_snaplen)
        if len(feed.buf) < PCAP_HEADER_LEN:
            feed.refill(0, PCAP_HEADER_LEN)
        head = feed.buf
        if len(head) < PCAP_HEADER_LEN:
            raise self._fail(0, "truncated pcap file header",
                             f"needs {PCAP_HEADER_LEN} bytes, {len(head)} present")
        order = magic_byte_order(head)
        magic, major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack_from(order + "IHHiIII", head)
        if major != 2:
            raise self._fail(4, f"unsupported pcap version {major}.{minor}")
        self.byte_order = order
        linktype &= _LINKTYPE_MASK
        resolution = 1_000_000_000 if magic == PCAP_MAGIC_NANO else 1_000_000
        self.interfaces.append(Interface(linktype, snaplen, None, resolution))
        self._record = struct.Struct(order + "IIII")
        largest = _MAX_SNAPLEN_FOR_LINKTYPE.get(linktype, _LIBPCAP_MAX_SNAPLEN)
        self._largest = largest
        self._snapshot = snaplen if 0 < snaplen <= largest and libpcap_snaplen else largest

    def _generate(self) -> Iterator[Packet]:
        # Packets are made from the raw records, so records() and iteration share one position
        self._raw = self._raw_records()
        return starmap(Packet, self._raw)

    def records(self) -> Iterator[tuple[bytes, int, int, int]]:
        return self._raw

    def close(self) -> None:
        self._raw.close()  # (the starmap over it has nothing to close)
        self._feed.close()

    def _raw_records(self) -> Iterator[tuple[bytes, int, int, int]]:
        """(data, linktype, ts_ns, wirelen) per record that `keep` accepts, in Packet's argument order."""
        feed = self._feed
        unpack_from = self._record.unpack_from
        keep = self.keep
        scan = self.scan
        linktype = self.linktype
        snapshot = self._snapshot
        scale = 1 if self.nanosecond else 1000
        buf = feed.buf
        end = len(buf)
        off = PCAP_HEADER_LEN
        second = second_ns = -1
        while True:
            if scan is not None:
                off = yield from scan(buf, off, end)
            elif keep is None:
                # the hottest loop (no filter): a record starting before `safe` ends inside the
                # buffer whatever its length up to the snap length, so only that length is checked;
                # a record's second is mostly the previous one's, its nanoseconds kept
                safe = end - 16 - snapshot
                while off <= safe:
                    sec, frac, caplen, wirelen = unpack_from(buf, off)
                    if caplen > snapshot:
                        break
                    if sec != second:
                        second, second_ns = sec, sec * 1_000_000_000
                    off += 16
                    yield buf[off : (off := off + caplen)], linktype, second_ns + frac * scale, wirelen
            # the hot loop: one unpack and one slice per record
            while off + 16 <= end:
                sec, frac, caplen, wirelen = unpack_from(buf, off)
                start = off + 16
                stop = start + caplen
                if stop > end or caplen > snapshot:
                    break
                off = stop
                data = buf[start:stop]
                if keep is None or keep(data, wirelen):
                    yield data, linktype, sec * 1_000_000_000 + frac * scale, wirelen
            # the end of the buffer, or an oversized record
            if off + 16 > end:
                off = feed.refill(off, PCAP_RECORD_HEADER_LEN)
                buf = feed.buf
                end = len(buf)
                if off == end:
                    return
                if off + 16 > end:
                    raise self._fail(off, "truncated record header",
                                     f"needs {PCAP_RECORD_HEADER_LEN} bytes, {end - off} left")
                continue
            sec, frac, caplen, wirelen = unpack_from(buf, off)
            if caplen > self._largest:
                raise self._fail(off, "impossible record length",
                                 f"captured length {caplen} exceeds the maximum of {self._largest}")
            if off + 16 + caplen > end:
                off = feed.refill(off, 16 + caplen)
                buf = feed.buf
                end = len(buf)
                if off + 16 + caplen > end:
                    raise self._fail(off, "truncated record",
                                     f"needs {16 + caplen} bytes, {end - off} left")
            if caplen > snapshot:
                start = off + 16
                off = start + caplen
                data = buf[start:start + snapshot]
                if keep is None or keep(data, wirelen):
                    yield data, linktype, sec * 1_000_000_000 + frac * scale, wirelen

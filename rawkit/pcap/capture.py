"""`open_capture`: one entry point for pcap and pcapng, plain or gzip'd, from a path, stdin or a file."""

from __future__ import annotations

from rawkit.pcap.base import CaptureReader
from rawkit.pcap.errors import CaptureError
from rawkit.pcap.pcap_reader import PcapReader, magic_byte_order
from rawkit.pcap.pcapng_reader import PcapNgReader, section_byte_order
from rawkit.pcap.source import Feed, Source

_SNIFF_LEN = 12
_SECTION_HEADER_TYPE = b"\x0a\x0d\x0d\x0a"


def open_capture(source: Source, libpcap_snaplen: bool = True) -> CaptureReader:
    """Open a capture for reading: `source` is a path, "-" for stdin, or a binary file object.

    The format (pcap or pcapng, either byte order, gzip'd or not) comes from the file's first bytes.
    Records longer than the snap length: as libpcap reads them, or with `libpcap_snaplen=False` as
    wiretap (tshark) does, whole (see CaptureReader).
    Raises `CaptureError` (one line naming the file) if it cannot be opened or is not a capture.
    """
    feed = Feed(source)
    try:
        if len(feed.buf) < _SNIFF_LEN:
            feed.refill(0, _SNIFF_LEN)
        head = bytes(feed.buf[:_SNIFF_LEN])
        if magic_byte_order(head) is not None:
            return PcapReader(feed, libpcap_snaplen)
        if section_byte_order(head) is not None:
            return PcapNgReader(feed, libpcap_snaplen)
        if head[:4] == _SECTION_HEADER_TYPE:
            if len(head) < _SNIFF_LEN:
                raise CaptureError(f"{feed.name}: truncated pcapng section header at byte 0: "
                                   f"needs {_SNIFF_LEN} bytes, {len(head)} present")
            raise CaptureError(f"{feed.name}: bad byte-order magic {head[8:12].hex()} in the pcapng section "
                               "header at byte 8")
        if not head:
            raise CaptureError(f"{feed.name}: empty file, not a capture")
        if len(head) < 4:
            raise CaptureError(f"{feed.name}: truncated file header: {len(head)} bytes, not a capture")
        raise CaptureError(f"{feed.name}: not a pcap or pcapng file (bad magic {head[:4].hex()} at byte 0)")
    except BaseException:
        feed.close()
        raise

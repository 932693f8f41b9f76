"""Write classic pcap files (one link type per file)."""

from __future__ import annotations

import struct

from rawkit.pcap.formats import DEFAULT_SNAPLEN, PCAP_MAGIC_MICRO, PCAP_MAGIC_NANO, PCAP_VERSION
from rawkit.pcap.output import CaptureOutput, Destination
from rawkit.wire.packet import Packet


class PcapWriter(CaptureOutput):
    """A pcap file, microsecond or nanosecond timestamps, little-endian unless `byte_order=">"`.

    Frames longer than `snaplen` are cut to it and keep their original wire length, as a capture
    with that snap length would have recorded them.
    """

    def __init__(self, dest: Destination, linktype: int = 1, snaplen: int = DEFAULT_SNAPLEN,
                 nanosecond: bool = False, byte_order: str = "<") -> None:
        self.linktype = int(linktype)
        self.snaplen = int(snaplen)
        self.nanosecond = nanosecond
        super().__init__(dest, byte_order)
        magic = PCAP_MAGIC_NANO if nanosecond else PCAP_MAGIC_MICRO
        self._record_header = struct.Struct(byte_order + "IIII")
        header = struct.pack(byte_order + "IHHiIII", magic, *PCAP_VERSION, 0, 0, self.snaplen, self.linktype)
        self._file.write(header)
        self._divisor = 1 if nanosecond else 1000

    def write(self, data: bytes, ts_ns: int = 0, wirelen: int | None = None) -> None:
        """Append one record; `wirelen` defaults to the length of `data`."""
        if wirelen is None:
            wirelen = len(data)
        if len(data) > self.snaplen > 0:
            data = data[: self.snaplen]
        seconds, fraction = divmod(ts_ns, 1_000_000_000)
        self._file.write(self._record_header.pack(seconds & 0xFFFFFFFF, fraction // self._divisor,
                                                  len(data), max(wirelen, len(data))))
        self._file.write(data)

    def write_packet(self, pkt: Packet) -> None:
        """Append a Packet (its data, timestamp and wire length); its link type must be the file's."""
        if pkt.linktype != self.linktype:
            raise ValueError(f"a pcap file holds one link type ({self.linktype}); this packet has "
                             f"{pkt.linktype}: use PcapNgWriter for mixed link types")
        self.write(pkt.data, pkt.ts_ns, pkt.wirelen)

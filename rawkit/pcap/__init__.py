"""pcap and pcapng capture files: readers (autodetecting format and gzip) and writers.

    with rawkit.pcap.open_capture("x.pcapng") as capture:
        for pkt in capture: ...          # rawkit Packets; CaptureError where the file is damaged
"""

from rawkit.pcap.base import CaptureReader, Interface
from rawkit.pcap.capture import open_capture
from rawkit.pcap.errors import CaptureError
from rawkit.pcap.pcap_reader import PcapReader
from rawkit.pcap.pcap_writer import PcapWriter
from rawkit.pcap.pcapng_reader import PcapNgReader
from rawkit.pcap.pcapng_writer import PcapNgWriter

__all__ = ["CaptureError", "CaptureReader", "Interface", "PcapNgReader", "PcapNgWriter", "PcapReader",
           "PcapWriter", "open_capture"]

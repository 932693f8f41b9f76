"""pcap and pcapng capture files: readers (autodetecting format and gzip) and writers."""

from rawkit.pcap.errors import CaptureError
from rawkit.pcap.pcap_writer import PcapWriter
from rawkit.pcap.pcapng_writer import PcapNgWriter

__all__ = ["CaptureError", "PcapNgWriter", "PcapWriter"]

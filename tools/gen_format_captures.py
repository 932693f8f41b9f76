"""Write the small capture files that exercise the file formats and their damage.

    python3 tools/gen_format_captures.py [--out captures]

Deterministic (seeded): running it twice gives identical bytes, so the files can be committed and
regenerated. captures/formats/ holds valid files in every variant rawkit reads (pcap in both byte
orders and resolutions, pcapng with several sections, interfaces, link types, timestamp
resolutions, block types, comments and flags, gzip); captures/corrupt/ holds files damaged in one
place each, after a few good packets, to check that readers deliver those and then fail cleanly.
"""

from __future__ import annotations

import argparse
import gzip
import io
import random
import struct
from collections.abc import Callable
from pathlib import Path

import rawkit
from rawkit.pcap import PcapNgWriter, PcapWriter
from rawkit.pcap.formats import (
    INTERFACE_STATISTICS,
    NAME_RESOLUTION,
    OBSOLETE_PACKET,
    OPT_COMMENT,
    SIMPLE_PACKET,
)

SEED = 20261123
START_NS = 1_700_000_000_000_000_000
CUSTOM_BLOCK = 0x00000BAD
UNKNOWN_BLOCK = 0x00C0FFEE
A, B = "198.18.0.1", "198.18.0.2"
A6, B6 = "fd00:18::1", "fd00:18::2"


class Traffic:
    """Seeded frames and timestamps: a little TCP, UDP, ICMP and ICMPv6 between two lab hosts."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.now = START_NS

    def stamp(self) -> int:
        self.now += self.random.randrange(1, 50_000_000)
        return self.now

    def ip_packet(self) -> rawkit.Layer:
        """An IP packet (no link header) of a random kind."""
        payload = self.random.randbytes(self.random.choice([0, 0, 5, 40, 120]))
        kind = self.random.randrange(4)
        port = self.random.randrange(1024, 65535)
        if kind == 0:
            return rawkit.IPv4(src=A, dst=B) / rawkit.TCP(sport=port, dport=8000, flags="PA",
                                                          seq=self.random.getrandbits(32)) / payload
        if kind == 1:
            return rawkit.IPv4(src=B, dst=A) / rawkit.UDP(sport=port, dport=5000) / payload
        if kind == 2:
            return rawkit.IPv4(src=A, dst=B) / rawkit.ICMP(id=7, seq=self.random.randrange(100)) / payload
        return rawkit.IPv6(src=A6, dst=B6) / rawkit.ICMPv6(id=9, seq=self.random.randrange(100)) / payload

    def ethernet(self) -> bytes:
        packet = self.ip_packet()
        return bytes(rawkit.Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / packet)

    def raw_ip(self) -> bytes:
        return bytes(self.ip_packet())

    def cooked(self) -> bytes:
        return bytes(rawkit.CookedLinux(pkttype=self.random.choice([0, 4]), addr="02:00:00:00:00:01")
                     / self.ip_packet())


def pcap_bytes(traffic: Traffic, count: int, **options) -> bytes:
    out = io.BytesIO()
    with PcapWriter(out, **options) as writer:
        for _ in range(count):
            writer.write(traffic.ethernet(), traffic.stamp())
    return out.getvalue()


def pcapng_bytes(build: Callable[[PcapNgWriter], None], byte_order: str = "<") -> bytes:
    out = io.BytesIO()
    with PcapNgWriter(out, byte_order=byte_order) as writer:
        build(writer)
    return out.getvalue()


def formats(traffic: Traffic) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    files["big_endian.pcap"] = pcap_bytes(traffic, 6, byte_order=">")
    files["nanosecond.pcap"] = pcap_bytes(traffic, 6, nanosecond=True)
    files["big_endian_nanosecond.pcap"] = pcap_bytes(traffic, 6, nanosecond=True, byte_order=">")
    files["snaplen_64.pcap"] = pcap_bytes(traffic, 6, snaplen=64)
    files["header_only.pcap"] = pcap_bytes(traffic, 0)
    # records longer than the header's snap length: libpcap cuts them to it, wireshark does not
    files["caplen_over_snaplen.pcap"] = _with_snaplen(pcap_bytes(traffic, 4), 64)
    files["gzipped.pcap.gz"] = gzip.compress(pcap_bytes(traffic, 6), mtime=0)

    out = io.BytesIO()
    with PcapWriter(out, linktype=rawkit.LINKTYPE_RAW) as writer:
        for _ in range(5):
            writer.write(traffic.raw_ip(), traffic.stamp())
    files["raw_ip.pcap"] = out.getvalue()

    def several_linktypes(writer: PcapNgWriter) -> None:
        writer.add_interface(rawkit.LINKTYPE_ETHERNET, name="veth0")
        writer.add_interface(rawkit.LINKTYPE_RAW, tsresol_ns=False, name="tun0")
        writer.add_interface(rawkit.LINKTYPE_LINUX_SLL, name="any")
        makers = [traffic.ethernet, traffic.raw_ip, traffic.cooked]
        for number in range(12):
            interface = traffic.random.randrange(3) if number > 2 else number
            writer.write(makers[interface](), traffic.stamp(), interface=interface)

    files["several_linktypes.pcapng"] = pcapng_bytes(several_linktypes)

    def comments_and_flags(writer: PcapNgWriter) -> None:
        writer.add_interface(rawkit.LINKTYPE_ETHERNET)
        notes = [None, "first comment", ["two", "comments"], "ünïcode ✓", None, "flags and comment"]
        for number in range(8):
            flags = [None, 1, 2, 1 | 1 << 2, None, 2, 1, 0][number]
            writer.write(traffic.ethernet(), traffic.stamp(), comment=notes[number % len(notes)], flags=flags)

    files["comments_flags.pcapng"] = pcapng_bytes(comments_and_flags)

    def plain(writer: PcapNgWriter) -> None:
        writer.add_interface(rawkit.LINKTYPE_ETHERNET, name="eth0")
        for _ in range(6):
            writer.write(traffic.ethernet(), traffic.stamp())

    files["big_endian.pcapng"] = pcapng_bytes(plain, ">")
    files["two_sections.pcapng"] = pcapng_bytes(plain, "<") + pcapng_bytes(plain, ">") + pcapng_bytes(plain)
    files["interface_only.pcapng"] = pcapng_bytes(lambda writer: writer.add_interface(1))

    def resolutions(writer: PcapNgWriter) -> None:
        for resolution in (10**6, 10**9, 10**3, 2**20, 2**30, 10**4):
            writer.add_interface(rawkit.LINKTYPE_ETHERNET, ts_resolution=resolution)
        writer.add_interface(rawkit.LINKTYPE_ETHERNET, ts_resolution=10**6, ts_offset=86400)
        for number in range(14):
            writer.write(traffic.ethernet(), traffic.stamp(), interface=number % 7)

    files["tsresol_variants.pcapng"] = pcapng_bytes(resolutions)

    def block_types(writer: PcapNgWriter) -> None:
        writer.add_interface(rawkit.LINKTYPE_ETHERNET, snaplen=1500, tsresol_ns=False)
        word, pair = struct.Struct("<I"), struct.Struct("<HH")
        frame = traffic.ethernet()
        writer.write_block(SIMPLE_PACKET, word.pack(len(frame)) + frame)
        writer.write(traffic.ethernet(), traffic.stamp())
        address = struct.pack("<HH4s", 1, 4 + 11, bytes([198, 18, 0, 2])) + b"lab-host-b\0"
        writer.write_block(NAME_RESOLUTION, address + bytes(-len(address) % 4) + pair.pack(0, 0))
        frame, stamp = traffic.ethernet(), traffic.stamp() // 1000
        body = struct.pack("<HHIIII", 0, 0, stamp >> 32, stamp & 0xFFFFFFFF, len(frame), len(frame)) + frame
        body += bytes(-len(body) % 4) + writer.options([(OPT_COMMENT, b"an obsolete packet block")])
        writer.write_block(OBSOLETE_PACKET, body)
        writer.write_block(CUSTOM_BLOCK, struct.pack("<I", 32473) + b"rawkit custom data")
        writer.write_block(UNKNOWN_BLOCK, b"a block type nobody knows")
        writer.write(traffic.ethernet(), traffic.stamp())
        stamp = traffic.stamp() // 1000
        writer.write_block(INTERFACE_STATISTICS, struct.pack("<III", 0, stamp >> 32, stamp & 0xFFFFFFFF))
        writer.write(traffic.ethernet(), traffic.stamp())

    files["block_types.pcapng"] = pcapng_bytes(block_types)
    return files


def corrupt(traffic: Traffic) -> dict[str, bytes]:
    """Each file: three good packets (where the damage allows), then one kind of damage."""
    files: dict[str, bytes] = {}
    good = pcap_bytes(traffic, 3)
    files["bad_magic.pcap"] = b"\x00\x01\x02\x03" + good[4:]
    files["truncated_file_header.pcap"] = good[:10]
    files["truncated_record_header.pcap"] = good + bytes(7)
    record = struct.pack("<IIII", 1_700_000_100, 5, 98, 98) + traffic.ethernet()[:40].ljust(40, b"\0")
    files["truncated_record_data.pcap"] = good + record
    huge = struct.pack("<IIII", 1_700_000_100, 5, 0x7FFFFFF0, 0x7FFFFFF0) + bytes(64)
    files["huge_caplen.pcap"] = good + huge
    oversized = struct.pack("<IIII", 1_700_000_100, 5, 300_000, 300_000) + bytes(64)
    files["caplen_over_maximum.pcap"] = good + oversized
    files["truncated.pcap.gz"] = gzip.compress(good + pcap_bytes(traffic, 3)[24:], mtime=0)[:-30]

    def three(writer: PcapNgWriter) -> None:
        writer.add_interface(rawkit.LINKTYPE_ETHERNET)
        for _ in range(3):
            writer.write(traffic.ethernet(), traffic.stamp())

    head = pcapng_bytes(three)
    epb = bytearray(_last_block(head))
    files["bad_block_length.pcapng"] = head + _with_length(epb, len(epb) + 1)
    mismatched = bytearray(epb)
    mismatched[-4:] = struct.pack("<I", len(epb) + 8)
    files["trailer_mismatch.pcapng"] = head + bytes(mismatched)
    files["zero_length_block.pcapng"] = head + struct.pack("<II", 6, 0) + bytes(24)
    files["truncated_block.pcapng"] = head + bytes(epb[: len(epb) // 2])
    unknown_interface = bytearray(epb)
    unknown_interface[8:12] = struct.pack("<I", 5)
    files["undescribed_interface.pcapng"] = head + bytes(unknown_interface)
    caplen_past_block = bytearray(epb)
    caplen_past_block[20:24] = struct.pack("<I", len(epb))
    files["caplen_past_block.pcapng"] = head + bytes(caplen_past_block)

    def short_then_long(writer: PcapNgWriter) -> None:
        writer.add_interface(rawkit.LINKTYPE_ETHERNET, snaplen=0)
        for size in (0, 10, 100):
            frame = bytes(rawkit.Ether() / rawkit.IPv4(src=A, dst=B) / rawkit.UDP() / bytes(size))
            writer.write(frame, traffic.stamp())

    # the interface says snap length 64, the last packet is longer: libpcap refuses it
    over = bytearray(pcapng_bytes(short_then_long))
    section_length = struct.unpack_from("<I", over, 4)[0]
    struct.pack_into("<I", over, section_length + 12, 64)
    files["caplen_over_snaplen.pcapng"] = bytes(over)
    section = bytearray(pcapng_bytes(three)[:28])
    section[8:12] = b"\xde\xad\xbe\xef"
    files["bad_byte_order_magic.pcapng"] = head + bytes(section)
    return files


def _with_snaplen(pcap: bytes, snaplen: int) -> bytes:
    return pcap[:16] + struct.pack("<I", snaplen) + pcap[20:]


def _last_block(data: bytes) -> bytes:
    """The last pcapng block of a little-endian file (its length sits in its last four bytes)."""
    length = struct.unpack_from("<I", data, len(data) - 4)[0]
    return data[-length:]


def _with_length(block: bytearray, length: int) -> bytes:
    block = bytearray(block)
    block[4:8] = struct.pack("<I", length)
    return bytes(block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "captures")
    args = parser.parse_args()
    traffic = Traffic(SEED)
    for folder, files in (("formats", formats(traffic)), ("corrupt", corrupt(traffic))):
        directory = args.out / folder
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (directory / name).write_bytes(data)
            print(f"{directory / name}: {len(data)} bytes")


if __name__ == "__main__":
    main()

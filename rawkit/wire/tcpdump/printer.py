"""The stateful printer behind `rawkit read`: one tcpdump line (and dump) per frame.

State is what tcpdump keeps between packets: the sequence-number bases of each TCP connection
(relative numbers unless -S) and the previous/first timestamp for -ttt/-ttttt. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import starmap
from time import localtime, strftime
from typing import Any

from rawkit.wire.tcpdump import link
from rawkit.wire.tcpdump.fast import Flow, TcpFlow, ethernet_line
from rawkit.wire.tcpdump.hexdump import ascii_dump, hex_lines
from rawkit.wire.tcpdump.timestamps import DEFAULT, DIGITS, Clock

# link type -> bytes of link header that -x/-X/-A leave out (the link printer adds VLAN tags, LLC)
_LINK_HEADER_LEN = {1: 14, 113: 16, 276: 20, 0: 4, 108: 4, 101: 0, 228: 0, 229: 0}


_LINK_TRUNCATIONS = ("[|ether]", "[|vlan]", "[|sll]", "[|sll2]", "[|null]")
_WHOLE_FRAME_TRUNCATIONS = ("[|arp]", "[|icmp6]", "[|igmp]", "[remaining caplen", ":  [|ip]")


class Printer:
    """Options mirror tcpdump's: link_headers (-e), verbose (-v count), absolute (-S), quiet (-q),
    timestamps (timestamps.DEFAULT/NONE/EPOCH/DELTA/DATE/SINCE_FIRST), hex ('x', 'xx', 'X', 'XX',
    'A' or None)."""

    def __init__(self, *, link_headers: bool = False, verbose: int = 0, absolute: bool = False,
                 quiet: bool = False, timestamps: int = DEFAULT, nano: bool = False,
                 hex: str | None = None) -> None:
        self.link_headers = link_headers
        # with -e the link header names the protocol, so tcpdump leaves out these labels
        labels = ("", "", "") if link_headers else ("IP ", "IP6 ", "ARP, ")
        self.ip_label, self.ip6_label, self.arp_label = labels
        self.verbose = verbose
        self.absolute = absolute
        self.quiet = quiet
        self.clock = Clock(timestamps, nano)
        self._plain_ethernet = not (link_headers or verbose or quiet)  # fast.py's shapes apply
        self.hex = hex
        self._inline = self._plain_ethernet and hex is None and timestamps == DEFAULT and not nano
        self.tcp_seqs: dict[tuple[bytes, int], tuple[int, int]] = {}
        self.network_offset = 0  # where the last frame's network layer starts (set by body())
        self.address_names: dict[bytes, tuple[str, str, str, str]] = {}
        # fast.py's per-direction line starts and application printers
        self.tcp_flows: dict[tuple[bytes, int], TcpFlow] = {}
        self.udp_flows: dict[tuple[bytes, int], Flow] = {}

    def format(self, pkt: Any) -> str:
        """The lines tcpdump prints for `pkt` (a rawkit Packet), without the final newline."""
        return self.format_frame(pkt.data, pkt.linktype, pkt.ts_ns, pkt.wirelen)

    def format_frame(self, data: bytes, linktype: int, ts_ns: int, wirelen: int) -> str:
        """The lines tcpdump prints for one captured frame, without the final newline."""
        if not data:
            return f"[Invalid header: caplen==0, len=={wirelen}]"
        stamp = self.clock.text(ts_ns)
        line = None
        if linktype == 1 and self._plain_ethernet and len(data) >= 54:
            line = ethernet_line(self, stamp, data, wirelen)
        if line is None:
            line = stamp + self.body(data, linktype, wirelen)
        else:
            self.network_offset = 14
        if self.hex is not None:
            line += self._dump(data, line, wirelen)
        return line

    def lines(self, records: Iterable[tuple[bytes, int, int, int]]) -> Iterator[str]:
        """`format_frame` of each (data, linktype, ts_ns, wirelen) record: the loop of `rawkit read`,
        benchmarked against tcpdump, with tcpdump's default case (time of day, no -e/-v/-q/-x) inline
        and its state in local variables."""
        if not self._inline:
            yield from starmap(self.format_frame, records)
            return
        second = -1
        second_text = ""
        digits = DIGITS
        fast = ethernet_line
        body = self.body
        for data, linktype, ts_ns, wirelen in records:
            seconds, ns = divmod(ts_ns, 1_000_000_000)
            if seconds != second:
                second = seconds
                second_text = strftime("%H:%M:%S.", localtime(seconds))
            usec = ns // 1000
            stamp = f"{second_text}{digits[usec // 1000]}{digits[usec % 1000]} "
            if linktype == 1 and len(data) >= 54:
                line = fast(self, stamp, data, wirelen)
                if line is not None:
                    yield line
                    continue
            elif not data:
                yield self.format_frame(data, linktype, ts_ns, wirelen)
                continue
            yield stamp + body(data, linktype, wirelen)

    def body(self, data: bytes, linktype: int, wirelen: int) -> str:
        """The packet's text without the timestamp."""
        self.network_offset = _LINK_HEADER_LEN.get(linktype, 0)
        if linktype == 1:
            return link.ethernet(self, data, wirelen)
        if linktype == 276:
            return link.cooked(self, data, wirelen, 2)
        if linktype == 113:
            return link.cooked(self, data, wirelen, 1)
        if linktype == 0 or linktype == 108:
            return link.loopback(self, data, wirelen, linktype == 108)
        if linktype in (101, 228, 229, 12, 14):
            return link.raw_ip(self, data, wirelen)
        return f"[unsupported link type {linktype}]" + hex_lines(data, True)

    def _dump(self, data: bytes, line: str, wirelen: int) -> str:
        mode = self.hex
        if mode in ("x", "X", "A"):
            # tcpdump dumps from the network layer; but the whole frame when some printers (ARP, the
            # IPv4 header, ICMP, TCP option kinds) ran out of bytes, and nothing when the link
            # header did (as measured against tcpdump 4.99)
            if any(mark in line for mark in _LINK_TRUNCATIONS):
                return ""
            whole = (any(mark in line for mark in _WHOLE_FRAME_TRUNCATIONS)
                     or self.network_offset >= len(data)
                     or ("options [" in line and "[|tcp]" in line and "[|tcp]>" not in line)
                     or ("[|icmp]" in line and (len(data) >= wirelen or self._icmp_captured(data) > 16)))
            if not whole:
                data = data[self.network_offset :]
        if mode == "A":
            return ascii_dump(data)
        return hex_lines(data, mode in ("X", "XX"))

    def remember_names(self, addresses: bytes, src: str, dst: str) -> tuple[str, str, str, str]:
        """Cache the text of an address pair (src, dst, 'src.', 'dst.'): most packets repeat one."""
        if len(self.address_names) >= 65536:
            self.address_names.clear()
        names = self.address_names[addresses] = (src, dst, src + ".", dst + ".")
        return names

    def _icmp_captured(self, data: bytes) -> int:
        """Bytes of ICMP message captured after the IPv4 header at the network offset."""
        start = self.network_offset
        return len(data) - start - (data[start] & 0x0F) * 4 if start < len(data) else 0

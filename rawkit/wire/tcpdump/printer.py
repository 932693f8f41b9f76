"""The stateful printer behind `rawkit read`: one tcpdump line (and dump) per frame.

State is what tcpdump keeps between packets: the sequence-number bases of each TCP connection
(relative numbers unless -S) and the previous/first timestamp for -ttt/-ttttt. Pure: no I/O.
"""

from __future__ import annotations

from time import localtime, strftime
from typing import Any

from rawkit.wire.tcpdump import link
from rawkit.wire.tcpdump.fast import ethernet_tcp
from rawkit.wire.tcpdump.hexdump import ascii_dump, hex_lines
from rawkit.wire.tcpdump.ipv4 import ipv4
from rawkit.wire.tcpdump.ipv6 import ipv6
from rawkit.wire.tcpdump.timestamps import DEFAULT, Clock

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
        self._time_of_day = timestamps == DEFAULT and not nano  # tcpdump's default, inlined
        self._plain_ethernet = not (link_headers or verbose or quiet)  # fast.py's shapes apply
        self._second = -1
        self._second_text = ""
        self.hex = hex
        self.tcp_seqs: dict[tuple[bytes, int], tuple[int, int]] = {}
        self.network_offset = 0  # where the last frame's network layer starts (set by body())
        self.address_names: dict[bytes, tuple[str, str, str, str]] = {}
        self.line_heads: dict[tuple[bytes, int], str] = {}  # fast.py's per-direction line starts

    def format(self, pkt: Any) -> str:
        """The lines tcpdump prints for `pkt` (a rawkit Packet), without the final newline."""
        return self.format_frame(pkt.data, pkt.linktype, pkt.ts_ns, pkt.wirelen)

    def format_frame(self, data: bytes, linktype: int, ts_ns: int, wirelen: int) -> str:
        """The hot path of `rawkit read`: the usual case (time of day, Ethernet, no -e) inline."""
        if not data:
            return f"[Invalid header: caplen==0, len=={wirelen}]"
        if self._time_of_day:
            seconds = ts_ns // 1_000_000_000
            if seconds != self._second:
                self._second = seconds
                self._second_text = strftime("%H:%M:%S", localtime(seconds))
            stamp = f"{self._second_text}.{ts_ns // 1000 % 1_000_000:06d} "
        else:
            stamp = self.clock.text(ts_ns)
        if linktype == 1 and self._plain_ethernet and len(data) >= 14:
            self.network_offset = 14
            ethertype = data[12] << 8 | data[13]
            text = ethernet_tcp(self, data, wirelen)
            if text is not None:
                line = stamp + text
            elif ethertype == 0x0800:
                line = stamp + ipv4(self, data, 14, wirelen - 14)
            elif ethertype == 0x86DD:
                line = stamp + ipv6(self, data, 14, wirelen - 14)
            else:
                line = stamp + link.ethernet(self, data, wirelen)
        else:
            line = stamp + self.body(data, linktype, wirelen)
        if self.hex is not None:
            line += self._dump(data, line, wirelen)
        return line

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

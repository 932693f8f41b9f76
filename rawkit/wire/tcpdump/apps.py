"""Application protocols tcpdump recognises by port, reached from the TCP and UDP printers.

Each protocol has its own module (dns, http, dhcp, ntp, syslog); this one only knows which port
leads where, in tcpdump's order (DNS on one port beats DHCP on the other, and so on).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rawkit.wire.tcpdump.dhcp import format_dhcp
from rawkit.wire.tcpdump.dns import format_dns
from rawkit.wire.tcpdump.http import format_http
from rawkit.wire.tcpdump.ntp import format_ntp
from rawkit.wire.tcpdump.syslog import format_syslog

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

_HTTP_PORTS = frozenset((80, 8080))
_TEXT_PORTS = {21: "FTP", 25: "SMTP"}
# every TCP port with a printer here: the TCP printer checks this set before calling in
APPLICATION_PORTS = frozenset((*_HTTP_PORTS, 53, *_TEXT_PORTS))
# UDP port -> printer of the text replacing "UDP, length N" (DNS is looked at first)
_UDP_PRINTERS = {67: format_dhcp, 68: format_dhcp, 123: format_ntp, 514: format_syslog}
_TOKEN = re.compile(rb"[\x21-\x7e]*")
_LONG_TOKEN = re.compile(rb"[\x21-\x7e]{17}")  # longer than any HTTP method tcpdump knows


def tcp_application(p: Printer, sport: int, dport: int, data: bytes, off: int, length: int) -> str:
    """What tcpdump appends after ', length N' for a TCP payload on a port it dissects ('' if none)."""
    if sport in _HTTP_PORTS or dport in _HTTP_PORTS:
        end = min(off + length, len(data))
        if off < end and not 0x21 <= data[off] <= 0x7E:
            return ": HTTP"  # no first word at all: not HTTP for tcpdump (binary bulk data)
        if _LONG_TOKEN.match(data, off, end):
            # bulk data (a first word longer than any method, not followed by a status code) is
            # not a request or status line for tcpdump: skip the byte-by-byte HTTP check
            token_end = _TOKEN.match(data, off, end).end()
            if token_end == end or data[token_end] != 0x20:
                return ": HTTP"
        # a payload the snap length cut away entirely is still "HTTP" to tcpdump
        return format_http(data[off : off + length], p.verbose) or ": HTTP"
    if sport == 53 or dport == 53:
        return format_dns(data[off : off + length], True, p.verbose, length=length)
    name = _TEXT_PORTS.get(sport) or _TEXT_PORTS.get(dport)
    if name is not None and not p.verbose:
        line = data[off : off + length].split(b"\r\n", 1)[0].split(b"\n", 1)[0]
        return f": {name}: {line.decode('latin-1')}"
    return ""


def udp_application(p: Printer, sport: int, dport: int, data: bytes, off: int, length: int) -> str | None:
    """The text replacing 'UDP, length N' for a port tcpdump dissects, or None."""
    if sport == 53 or dport == 53 or sport == 5353 or dport == 5353:
        mdns = (sport == 5353 or dport == 5353) and sport != 53 and dport != 53
        return format_dns(data[off : off + length], False, p.verbose, mdns=mdns, length=length)
    printer = _UDP_PRINTERS.get(sport) or _UDP_PRINTERS.get(dport)
    if printer is not None:
        return printer(data[off : off + length], p.verbose, length=length)
    return None

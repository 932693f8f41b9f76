"""Application protocols tcpdump recognises by port, reached from the TCP and UDP printers.

DNS and HTTP have their own modules (dns.py, http.py); they are looked up on first use so this
package works while they are missing, printing those ports as plain transport lines meanwhile.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

_HTTP_PORTS = frozenset((80, 8080))
_DNS_PORTS = frozenset((53, 5353))
_TEXT_PORTS = {21: "FTP", 25: "SMTP"}
# every TCP port with a printer here: the TCP printer checks this set before calling in
APPLICATION_PORTS = frozenset((*_HTTP_PORTS, 53, *_TEXT_PORTS))
_TOKEN = re.compile(rb"[\x21-\x7e]*")
_LONG_TOKEN = re.compile(rb"[\x21-\x7e]{17}")  # longer than any HTTP method tcpdump knows
_missing = object()
_printers: dict[str, object] = {}


def _printer(module: str, name: str):
    """The optional printer `name` from rawkit.wire.tcpdump.<module>, or None while it is absent."""
    found = _printers.get(name, _missing)
    if found is _missing:
        try:
            imported = __import__(f"rawkit.wire.tcpdump.{module}", fromlist=[name])
            found = getattr(imported, name)
        except (ImportError, AttributeError):
            found = None
        _printers[name] = found
    return found


def tcp_application(p: Printer, sport: int, dport: int, data: bytes, off: int, length: int) -> str:
    """What tcpdump appends after ', length N' for a TCP payload on a port it dissects ('' if none)."""
    if sport in _HTTP_PORTS or dport in _HTTP_PORTS:
        format_http = _printer("http", "format_http")
        if format_http is None:
            return ""
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
        format_dns = _printer("dns", "format_dns")
        if format_dns is None:
            return ""
        return format_dns(data[off : off + length], True, p.verbose)
    name = _TEXT_PORTS.get(sport) or _TEXT_PORTS.get(dport)
    if name is not None and not p.verbose:
        line = data[off : off + length].split(b"\r\n", 1)[0].split(b"\n", 1)[0]
        return f": {name}: {line.decode('latin-1')}"
    return ""


def udp_application(p: Printer, sport: int, dport: int, data: bytes, off: int, length: int) -> str | None:
    """The text replacing 'UDP, length N' for a port tcpdump dissects, or None."""
    if sport in _DNS_PORTS or dport in _DNS_PORTS:
        format_dns = _printer("dns", "format_dns")
        if format_dns is None:
            return None
        return format_dns(data[off : off + length], False, p.verbose, mdns=5353 in (sport, dport))
    return None

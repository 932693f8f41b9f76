"""Application protocols tcpdump recognises by port, reached from the TCP and UDP printers.

Each protocol has its own module; this one only knows which port leads where. tcpdump hands a
payload to the first printer in its order whose port is on either side (see text_protocols.py),
even when that printer then prints nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from rawkit.wire.tcpdump.dhcp import format_dhcp
from rawkit.wire.tcpdump.dhcp6 import format_dhcp6
from rawkit.wire.tcpdump.dns import format_dns
from rawkit.wire.tcpdump.http import format_http
from rawkit.wire.tcpdump.ntp import format_ntp
from rawkit.wire.tcpdump.ssh import format_ssh
from rawkit.wire.tcpdump.syslog import format_syslog
from rawkit.wire.tcpdump.text_protocols import TCP_TEXT_PROTOCOLS, UDP_TEXT_PROTOCOLS, format_text_protocol

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

# (payload as captured, verbosity, payload length on the wire) -> the text tcpdump prints
Handler = Callable[[bytes, int, int], str]


def _text(port: int, udp: bool = False) -> Handler:
    name, commands = (UDP_TEXT_PROTOCOLS if udp else TCP_TEXT_PROTOCOLS)[port]
    if udp:  # on UDP the text replaces "UDP, length N": no leading ": "
        return lambda payload, verbose, length: format_text_protocol(payload, name, commands, verbose,
                                                                     length=length)[2:]
    return lambda payload, verbose, length: format_text_protocol(payload, name, commands, verbose,
                                                                 length=length)


def http_summary(payload: bytes, verbose: int, length: int) -> str:
    return format_http(payload, verbose, length=length) or ": HTTP"


_TCP_ORDER: tuple[tuple[frozenset[int], Handler], ...] = (
    (frozenset((25,)), _text(25)),
    (frozenset((43,)), _text(43)),
    (frozenset((22,)), lambda payload, verbose, length: format_ssh(payload, length=length)),
    (frozenset((21,)), _text(21)),
    (frozenset((80, 8080)), http_summary),
    (frozenset((554, 8554)), _text(554)),
    (frozenset((53,)), lambda payload, verbose, length: format_dns(payload, True, verbose, length=length)),
)
_UDP_ORDER: tuple[tuple[frozenset[int], Handler], ...] = (
    (frozenset((53,)), lambda payload, verbose, length: format_dns(payload, False, verbose, length=length)),
    (frozenset((5353,)), lambda payload, verbose, length: format_dns(payload, False, verbose, mdns=True,
                                                                     length=length)),
    (frozenset((67, 68)), lambda payload, verbose, length: format_dhcp(payload, verbose, length=length)),
    (frozenset((123,)), lambda payload, verbose, length: format_ntp(payload, verbose, length=length)),
    (frozenset((546, 547)), lambda payload, verbose, length: format_dhcp6(payload)),
    (frozenset((5060,)), _text(5060, udp=True)),
    (frozenset((514,)), lambda payload, verbose, length: format_syslog(payload, verbose, length=length)),
)
# every TCP port with a printer: the TCP printers check this set before calling in
APPLICATION_PORTS = frozenset(port for ports, _ in _TCP_ORDER for port in ports)
# port -> (rank in tcpdump's order, handler): when both ports have one, the lower rank wins
_TCP_BY_PORT = {port: (rank, handler) for rank, (ports, handler) in enumerate(_TCP_ORDER) for port in ports}
_UDP_BY_PORT = {port: (rank, handler) for rank, (ports, handler) in enumerate(_UDP_ORDER) for port in ports}
_TOKEN = re.compile(rb"[\x21-\x7e]*")
_LONG_TOKEN = re.compile(rb"[\x21-\x7e]{17}")  # longer than any HTTP method tcpdump knows


def tcp_printer(sport: int, dport: int) -> Handler | None:
    """The printer tcpdump runs on a TCP payload between these ports (None: none). A connection
    keeps its ports, so callers may keep the answer per connection."""
    return _choose(_TCP_BY_PORT.get(sport), _TCP_BY_PORT.get(dport))


def udp_printer(sport: int, dport: int) -> Handler | None:
    """The printer for a UDP payload between these ports, as `tcp_printer`."""
    return _choose(_UDP_BY_PORT.get(sport), _UDP_BY_PORT.get(dport))


def tcp_text(chosen: Handler, p: Printer, data: bytes, off: int, length: int) -> str:
    """What `chosen` (from tcp_printer) appends after ', length N' for the payload at `off`."""
    if chosen is http_summary and _bulk_data(data, off, min(off + length, len(data))):
        return ": HTTP"
    return chosen(data[off : off + length], p.verbose, length)


def tcp_application(p: Printer, sport: int, dport: int, data: bytes, off: int, length: int) -> str:
    """What tcpdump appends after ', length N' for a TCP payload on a port it dissects ('' if none)."""
    chosen = tcp_printer(sport, dport)
    return "" if chosen is None else tcp_text(chosen, p, data, off, length)


def udp_application(p: Printer, sport: int, dport: int, data: bytes, off: int, length: int) -> str | None:
    """The text replacing 'UDP, length N' for a port tcpdump dissects, or None."""
    chosen = udp_printer(sport, dport)
    return None if chosen is None else chosen(data[off : off + length], p.verbose, length)


def _choose(source: tuple[int, Handler] | None, destination: tuple[int, Handler] | None) -> Handler | None:
    if source is None:
        return None if destination is None else destination[1]
    if destination is None or source[0] <= destination[0]:
        return source[1]
    return destination[1]


def _bulk_data(data: bytes, start: int, end: int) -> bool:
    """True when an HTTP-port payload cannot start a request or status line: binary data, or a first
    word longer than any method and not followed by a status code. Such segments are most of a
    transfer; recognising them here spares the byte-by-byte check."""
    if start < end and not 0x21 <= data[start] <= 0x7E:
        return True
    if _LONG_TOKEN.match(data, start, end):
        token_end = _TOKEN.match(data, start, end).end()
        return token_end == end or data[token_end] != 0x20
    return False


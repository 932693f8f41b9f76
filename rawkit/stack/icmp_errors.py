"""ICMP and ICMPv6 errors as raw sockets deliver them, split into who sent the error, what it says
and the datagram it quotes (decoded by the wire layer), so each probe kind only has to recognise
its own packet in the quote."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from rawkit.link.rxstamp import Received
from rawkit.wire import Packet
from rawkit.wire.packet import decode_quoted

ICMP_ERRORS = frozenset((3, 4, 5, 11, 12))
ICMPV6_ERRORS = frozenset((1, 2, 3, 4))


@dataclass(slots=True)
class IcmpError:
    source: str
    icmp_type: int
    icmp_code: int
    info: int  # the 4 bytes after the checksum: MTU, pointer or gateway
    quoted: Packet  # raw IP, usually cut short
    ts_ns: int
    ttl: int | None = None  # of the error itself

    @property
    def quoted_destination(self) -> bytes:
        """The destination address (raw bytes) of the datagram the error quotes."""
        data = self.quoted.data
        return data[24:40] if data[:1] and data[0] >> 4 == 6 else data[16:20]

    @property
    def quoted_transport(self) -> tuple[int, bytes]:
        """(protocol, transport bytes) of the quoted datagram, read directly: a router may quote
        only 8 bytes of TCP, too few for a TCP view but enough for ports and sequence number."""
        data = self.quoted.data
        if len(data) >= 40 and data[0] >> 4 == 6:
            return data[6], data[40:]
        if len(data) >= 20 and data[0] >> 4 == 4:
            return data[9], data[(data[0] & 0x0F) * 4 :]
        return -1, b""


def parse_error(received: Received, family: int) -> IcmpError | None:
    """The error in a datagram from a raw ICMP (whole IPv4 packet) or ICMPv6 (message only) socket,
    or None when it is not an error."""
    data = received.data
    if family == socket.AF_INET6:
        offset = 0
        errors = ICMPV6_ERRORS
        source = received.address  # a link-local sender keeps its %scope
    else:
        offset = (data[0] & 0x0F) * 4 if data else 0
        errors = ICMP_ERRORS
        source = socket.inet_ntop(socket.AF_INET, data[12:16]) if len(data) >= 20 else ""
    if len(data) < offset + 8 or data[offset] not in errors:
        return None
    info = int.from_bytes(data[offset + 4 : offset + 8], "big")
    ttl = received.ttl if offset == 0 else data[8]
    return IcmpError(source, data[offset], data[offset + 1], info, decode_quoted(data[offset + 8 :]),
                     received.ts_ns, ttl)

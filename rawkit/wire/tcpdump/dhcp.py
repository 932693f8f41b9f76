"""tcpdump's BOOTP/DHCP summary (`tcpdump -nn`, 4.99), written from its observed output.

When tcpdump 4.99 uses it: UDP with source or destination port 67 or 68 (DNS on the other port
wins). The text replaces "UDP, length N": "BOOTP/DHCP, Request from 02:00:00:00:00:01, length 300"
or "BOOTP/DHCP, Reply, length 300". With -v the header grows (xid, flags, ...) and the fields and
options follow on tab-indented lines.
"""

from __future__ import annotations

import socket
import struct

from rawkit.wire.tcpdump.app_text import escaped
from rawkit.wire.tcpdump.hexdump import hex_lines

_OPS = {1: "Request", 2: "Reply"}
_CHADDR = slice(28, 34)
_HEADER = struct.Struct(">BBBBIHH4s4s4s4s16s")  # op to chaddr; sname and file (64 + 128) follow
_FIXED_SIZE = _HEADER.size + 64 + 128
_COOKIE = b"\x63\x82\x53\x63"
_PAD, _END = 0, 255
_MESSAGE_TYPES = {1: "Discover", 2: "Offer", 3: "Request", 4: "Decline", 5: "ACK", 6: "NACK", 7: "Release",
                  8: "Inform", 10: "LeaseQuery", 11: "LeaseUnassigned", 12: "LeaseUnknown", 13: "LeaseActive"}
_NETBIOS_NODES = {1: "b-node", 2: "p-node", 4: "m-node", 8: "h-node"}
_OVERLOAD = {1: "file", 2: "sname", 3: "file+sname"}
_NEEDS_A_BYTE = (46, 52, 61)
_LENGTH_ERRORS = {77: 2, 81: 3, 121: 5, 249: 5}
_HEADER_FIELDS = 10  # op to secs
_FLAGS_END = 12
_HARDWARE_TYPES = {1: "ether", 6: "ieee802", 7: "arcnet", 15: "frelay", 23: "strip", 24: "ieee1394"}

_KINDS = {
    "ip": (1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 16, 28, 32, 41, 42, 44, 45, 48, 49, 50, 54, 65, 68, 69, 70, 71, 72,
           73, 74, 75, 76, 92, 112, 118, 150),
    "i32": (2, 91),
    "u32": (24, 35, 38, 51, 58, 59),
    "u16": (13, 22, 25, 26, 57, 64, 93, 117),
    "bool": (19, 20, 27, 29, 30, 31, 34, 36, 39, 116),
    "bytes": (23, 37, 43, 78, 79, 83, 89, 90, 94, 97),
    "text": (12, 14, 15, 17, 18, 40, 47, 56, 60, 66, 67, 80, 88, 95, 98, 100, 101, 113, 114, 161),
    "pairs": (21, 33),
}
_KIND_OF = {code: kind for kind, codes in _KINDS.items() for code in codes}
_NAMES = {
    0: "PAD", 255: "END", 1: "Subnet-Mask", 2: "Time-Zone", 3: "Default-Gateway", 4: "Time-Server",
    5: "IEN-Name-Server",
    6: "Domain-Name-Server", 7: "LOG", 8: "CS", 9: "LPR-Server", 10: "IM", 11: "RL", 12: "Hostname", 13: "BS",
    14: "DP", 15: "Domain-Name", 16: "SS", 17: "RP", 18: "EP", 19: "IPF", 20: "SRT", 21: "PF", 22: "RSZ",
    23: "TTL", 24: "MTU-Timeout", 25: "MTU-Table", 26: "MTU", 27: "LSN", 28: "BR", 29: "MD", 30: "MS",
    31: "Router-Discovery", 32: "RSA", 33: "Static-Route", 34: "UT", 35: "AT", 36: "IE", 37: "TT", 38: "KI",
    39: "KG", 40: "YD", 41: "YS", 42: "NTP", 43: "Vendor-Option", 44: "Netbios-Name-Server", 45: "WDD",
    46: "Netbios-Node", 47: "Netbios-Scope", 48: "XFS", 49: "XDM", 50: "Requested-IP", 51: "Lease-Time",
    52: "OO", 53: "DHCP-Message", 54: "Server-ID", 55: "Parameter-Request", 56: "MSG", 57: "MSZ", 58: "RN",
    59: "RB", 60: "Vendor-Class", 61: "Client-ID", 64: "N+D", 65: "N+S", 66: "TFTP", 67: "BF", 68: "MH",
    69: "SMTP", 70: "POP3", 71: "NNTP", 72: "WWW", 73: "FG", 74: "IRC", 75: "STS", 76: "STDA",
    77: "User-Class", 78: "SLP-DA", 79: "SLP-SCOPE", 80: "SLP-NA", 81: "FQDN", 82: "Agent-Information",
    83: "ARMT", 88: "TZSTR", 89: "FQDNS", 90: "AUTH", 91: "Last-Transaction-Time", 92: "Associated-IP",
    93: "ARCH", 94: "NDI", 95: "LDAP", 97: "GUID", 98: "UAP", 100: "POSIX-TZ", 101: "TZ-Name", 112: "NI",
    113: "NITAG", 114: "URL", 116: "NOAUTO", 117: "NSSEARCH", 118: "SUBNET", 121: "Classless-Static-Route",
    150: "TFTP-Server-Address", 161: "MUD-URL", 249: "Classless-Static-Route-Microsoft",
}
_TRAILING = "\n\t  trailing data length {}"


class _Truncated(Exception):
    """The capture ends inside the message: tcpdump ends the text with " [|bootp]"."""


def _ip(value: bytes) -> str:
    return socket.inet_ntoa(value)


def _list(value: bytes, size: int, render) -> str:
    whole = len(value) - len(value) % size
    text = ",".join(render(value[start : start + size]) for start in range(0, whole, size))
    return text + (_TRAILING.format(len(value) - whole) if whole < len(value) else "")


def _number(value: bytes) -> str:
    return str(int.from_bytes(value, "big"))


def _boolean(byte: int) -> str:
    return {0: "N", 1: "Y"}.get(byte, f"{byte}?")


def _option_value(code: int, value: bytes) -> str:
    """The text after "Name (code), length L: " for a non-empty option."""
    kind = _KIND_OF.get(code)
    if kind == "ip":
        return _list(value, 4, _ip)
    if kind == "u32":
        return _list(value, 4, _number)
    if kind == "i32":
        return _list(value, 4, lambda word: str(int.from_bytes(word, "big", signed=True)))
    if kind == "u16":
        return _list(value, 2, _number)
    if kind == "bool":
        return ",".join(_boolean(byte) for byte in value)
    if kind == "bytes":
        return ".".join(str(byte) for byte in value)
    if kind == "text":
        return f'"{escaped(value)}"'
    if kind == "pairs":
        return _list(value, 8, lambda pair: f"({_ip(pair[:4])}:{_ip(pair[4:])})")
    if code == 53 and len(value) == 1:
        return _MESSAGE_TYPES.get(value[0]) or f"Unknown ({value[0]})"
    if code == 55:
        return "".join(("\n\t      " if index % 4 == 0 else ", ") + _option_name(requested)
                       for index, requested in enumerate(value))
    if code == 61:
        if value[0] == 0:
            return f'"{escaped(value[1:])}"'
        hardware = _HARDWARE_TYPES.get(value[0]) or f"hardware-type {value[0]},"
        return f"{hardware} {value[1:].hex(':')}"
    if code in _SPECIAL:
        return _SPECIAL[code](value)
    if code in (46, 52):
        names = _NETBIOS_NODES if code == 46 else _OVERLOAD
        text = names.get(value[0]) or f"#{value[0]}"
        return text + (_TRAILING.format(len(value) - 1) if len(value) > 1 else "")
    if code != 53 and len(value) % 4 == 0:
        return _list(value, 4, _number)
    if code != 53 and len(value) % 2 == 0:
        return _list(value, 2, _number)
    return ".".join(str(byte) for byte in value)


def _classless_routes(value: bytes) -> str:
    """RFC 3442 routes: "(198.18.0.0/24:198.18.0.1),(default:198.18.0.1)"."""
    if len(value) < 5:
        return "[ERROR: length < 5 bytes]"
    routes = []
    offset = 0
    while offset < len(value):
        width = value[offset]
        offset += 1
        if width > 32:
            routes.append(f"[ERROR: Mask width ({width}) > 32]")
            break
        significant = (width + 7) // 8
        remaining = len(value) - offset
        if remaining < significant + 4:
            routes.append(f"[ERROR: Remaining length ({remaining}) < {significant + 4} bytes]")
            break
        destination = _ip(value[offset : offset + significant].ljust(4, b"\0"))
        router = _ip(value[offset + significant : offset + significant + 4])
        routes.append(f"({'default' if width == 0 else f'{destination}/{width}'}:{router})")
        offset += significant + 4
    return ",".join(routes)


def _agent_information(value: bytes) -> str:
    """RFC 3046 relay agent sub-options, one per line."""
    parts = []
    offset = 0
    while len(value) - offset >= 2:
        code, size = value[offset], value[offset + 1]
        offset += 2
        name = _AGENT_SUBOPTIONS.get(code, "Unknown")
        parts.append(f"\n\t      {name} SubOption {code}, length {size}: ")
        if size > len(value) - offset:
            parts.append("length goes past end of option")
            return "".join(parts)
        content = value[offset : offset + size]
        parts.append(escaped(content) if code in _AGENT_SUBOPTIONS else hex_lines(content, False, "\n\t\t"))
        offset += size
    if offset < len(value):
        parts.append(_TRAILING.format(len(value) - offset))
    return "".join(parts)


def _client_fqdn(value: bytes) -> str:
    """RFC 4702: flags as [SOEN], the two response codes when set, the name bytes as text."""
    if len(value) < 3:
        return "[ERROR: length < 3 bytes]"
    flags, first_code, second_code = value[0], value[1], value[2]
    text = f"[ERROR: MBZ nibble 0x{flags >> 4:x} != 0] " if flags & 0xF0 else ""
    if flags & 0x0F:
        text += "[" + "".join(letter for bit, letter in zip((1, 2, 4, 8), "SOEN", strict=True) if flags & bit)
        text += "] "
    if first_code or second_code:
        text += f"{first_code}/{second_code} "
    return text + f'"{escaped(value[3:])}"'


def _user_class(value: bytes) -> str:
    """RFC 3004 instances, one per line."""
    if len(value) < 2:
        return "[ERROR: length < 2 bytes]"
    parts = []
    offset = 0
    instance = 1
    while offset < len(value):
        size = value[offset]
        parts.append(f"\n\t      instance#{instance}: ")
        if size == 0:
            parts.append("[ERROR: suboption length must be non-zero]")
            break
        if size > len(value) - offset - 1:
            parts.append("[ERROR: invalid option]")
            break
        parts.append(f'"{escaped(value[offset + 1 : offset + 1 + size])}", length {size}')
        offset += 1 + size
        instance += 1
    return "".join(parts)


_SPECIAL = {77: _user_class, 81: _client_fqdn, 82: _agent_information, 121: _classless_routes,
            249: _classless_routes}
_AGENT_SUBOPTIONS = {1: "Circuit-ID", 2: "Remote-ID", 6: "Subscriber-ID"}


def _option_name(code: int) -> str:
    return f"{_NAMES.get(code) or 'Unknown'} ({code})"


def _options(payload: bytes, offset: int) -> str:
    parts = []
    while offset < len(payload):
        code = payload[offset]
        offset += 1
        if code == _PAD:
            continue
        if code == _END:
            break
        if offset >= len(payload):
            raise _Truncated("".join(parts))
        size = payload[offset]
        offset += 1
        value = payload[offset : offset + size]
        parts.append(f"\n\t    {_option_name(code)}, length {size}")
        if len(value) < size:
            raise _Truncated("".join(parts) + ": ")
        if size:
            parts.append(": " + _option_value(code, value))
        elif _KIND_OF.get(code) == "text":
            parts.append('""')
        elif code in _NEEDS_A_BYTE:
            parts.append("[ERROR: length < 1 bytes]")
        elif code in _LENGTH_ERRORS:
            parts.append(f"[ERROR: length < {_LENGTH_ERRORS[code]} bytes]")
        offset += size
    return "".join(parts)


def _zero_terminated(payload: bytes, start: int, size: int) -> str:
    """A NUL-terminated text field; the capture must hold it up to its NUL."""
    field = payload[start : start + size]
    end = field.find(b"\0")
    if end < 0:
        raise _Truncated(f'"{escaped(field)}"')
    return f'"{escaped(field[:end])}"'


def _details(payload: bytes, verbose: int, length: int) -> str:
    """The -v text: the longer first line and the field and option lines, up to where the capture ends."""
    (op, htype, hlen, hops, xid, seconds, flags, client, yours, server, gateway,
     hardware) = _HEADER.unpack_from(payload.ljust(_HEADER.size, b"\0"))
    ethernet = htype == 1 and hlen == 6
    pieces = [(1, "BOOTP/DHCP, " + (_OPS.get(op) or f"unknown (0x{op:02x})"))]
    if op == 1 and ethernet:
        pieces.append((_CHADDR.stop, " from " + hardware[:6].hex(":")))
    pieces.append((3, f", length {length}"))
    header = _HEADER_FIELDS  # tcpdump prints none of these unless all were captured
    if htype != 1:
        pieces.append((header, f", htype {htype}"))
    if htype != 1 or hlen != 6:
        pieces.append((header, f", hlen {hlen}"))
    if hops:
        pieces.append((header, f", hops {hops}"))
    pieces.append((header, f", xid 0x{xid:x}"))
    if seconds:
        pieces.append((header, f", secs {seconds}"))
    pieces.append((_FLAGS_END, f", Flags [{'Broadcast' if flags & 0x8000 else 'none'}]"))
    if verbose > 1:
        pieces.append((_FLAGS_END, f" (0x{flags:04x})"))
    for index, (name, address) in enumerate((("Client-IP", client), ("Your-IP", yours),
                                             ("Server-IP", server), ("Gateway-IP", gateway))):
        if address != bytes(4):
            pieces.append((16 + 4 * index, f"\n\t  {name} {_ip(address)}"))
    if ethernet:
        pieces.append((_CHADDR.stop, f"\n\t  Client-Ethernet-Address {hardware[:6].hex(':')}"))
    parts = []
    for needed, text in pieces:
        if needed > len(payload):
            return "".join(parts) + " [|bootp]"
        parts.append(text)
    try:
        for name, start, size in (("sname", 44, 64), ("file", 108, 128)):
            if start >= len(payload):
                raise _Truncated("")
            if payload[start]:
                parts.append(f"\n\t  {name} ")
                parts.append(_zero_terminated(payload, start, size))
        cookie = payload[_FIXED_SIZE : _FIXED_SIZE + 4]
        if len(cookie) < 4:
            raise _Truncated("")
        if cookie == _COOKIE:
            parts.append("\n\t  Vendor-rfc1048 Extensions\n\t    Magic Cookie 0x63825363")
            parts.append(_options(payload, _FIXED_SIZE + 4))
        elif cookie != bytes(4):
            parts.append(f"\n\t  Vendor-#0x{int.from_bytes(cookie, 'big'):x}")
    except _Truncated as cut:
        return "".join(parts) + cut.args[0] + " [|bootp]"
    return "".join(parts)


def format_dhcp(payload: bytes, verbose: int = 0, *, length: int | None = None) -> str:
    """What replaces "UDP, length N" for this BOOTP/DHCP payload; `length` is the wire length if cut.

    A request from Ethernet hardware (type 1, length 6) names the client's MAC address.
    Never raises.
    """
    if not payload:
        return " [|bootp]"
    op = payload[0]
    text = "BOOTP/DHCP, " + (_OPS.get(op) or f"unknown (0x{op:02x})")
    if len(payload) < 3:
        return text + " [|bootp]"
    if op == 1 and payload[1] == 1 and payload[2] == 6:
        if len(payload) < _CHADDR.stop:
            return text + " [|bootp]"
        text += " from " + payload[_CHADDR].hex(":")
    length = max(length or 0, len(payload))
    if not verbose:
        return f"{text}, length {length}"
    return _details(payload, verbose, length)

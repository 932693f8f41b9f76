"""tcpdump's one-line DNS summary (`tcpdump -nn`, 4.99), written from its observed output.

When tcpdump 4.99 uses it (measured with crafted captures):
  - UDP with source or destination port 53 or 5353: the summary replaces "UDP, length N", e.g.
    "IP 198.18.0.1.1234 > 198.18.0.2.53: 12345+ A? example.com. (29)". Port 5353 on either side
    (and 53 on neither) is mDNS, which prints the top bit of the class as "(QU)"/"(QM)" in questions
    and "(Cache flush)" in records: pass `mdns=True` then. On UDP, DNS wins over every other
    dissector when both ports have one (53 to 123 is DNS, not NTP).
  - TCP with source or destination port 53 (not 5353): the summary follows ", length N" after one
    space (nothing for an empty segment); the payload starts with the 2-byte length prefix, which
    tcpdump checks against the rest of the segment ("[prefix length(P) != length(R)] (invalid)"),
    so a message split over segments, or two in one, is never decoded.
  - Not for LLMNR (5355), DoT (853) or any other port.
Verbosity changes the text: -v adds record names, -vv the question of responses and the authority and
additional sections, -vvv the TTLs. The number in parentheses is the message length on the wire
(without the TCP prefix); " [|domain]" ends a summary whose message runs out early. When a short
snap length cut the payload, pass the wire length as `length`: tcpdump reads only what was
captured but still prints and checks the wire length.
"""

from __future__ import annotations

import socket
import struct

from rawkit.wire.tcpdump.app_text import escaped as _text
from rawkit.wire.tcpdump.dns_edns import OptionCutShort, bitstring_text, format_option, option_name

_HEADER = struct.Struct(">HHHHHH")
_U16 = struct.Struct(">H")
_RECORD_FIXED = struct.Struct(">HHIH")
_TYPE_CLASS = struct.Struct(">HH")

_TYPE_NAMES = {
    1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG", 9: "MR", 10: "NULL",
    11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO", 15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB", 19: "X25",
    20: "ISDN", 21: "RT", 22: "NSAP", 23: "NSAP_PTR", 24: "SIG", 25: "KEY", 26: "PX", 27: "GPOS",
    28: "AAAA", 29: "LOC", 30: "NXT", 31: "EID", 32: "NIMLOC", 33: "SRV", 34: "ATMA", 35: "NAPTR",
    36: "KX", 37: "CERT", 38: "A6", 39: "DNAME", 40: "SINK", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP",
    45: "IPSECKEY", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 99: "SPF", 100: "UINFO", 101: "UID",
    102: "GID", 103: "UNSPEC", 104: "UNSPECA", 249: "TKEY", 250: "TSIG", 251: "IXFR", 252: "AXFR",
    253: "MAILB", 254: "MAILA", 255: "ANY", 256: "URI",
}
_CLASS_NAMES = {1: "IN", 3: "CHAOS", 4: "HS", 255: "ANY"}
_OPCODE_NAMES = ("", " inv_q", " stat", " op3", " notify", " update", " op6", " op7", " op8", " updateA",
                 " updateD", " updateDA", " updateM", " updateMA", " zoneInit", " zoneRef")
# tcpdump prints 17 and 21 without the leading space; kept so the lines stay identical.
_RCODE_NAMES = {0: "", 1: " FormErr", 2: " ServFail", 3: " NXDomain", 4: " NotImp", 5: " Refused",
                6: " YXDomain", 7: " YXRRSet", 8: " NXRRSet", 9: " NotAuth", 10: " NotZone",
                15: " NoChange", 16: " BadVers", 17: "Resp17", 21: "Resp21", 23: " BadCookie"}

_TYPE_OPT = 41
_OPCODE_IQUERY = 1
_QUERY_ODD_BITS = 0x06CF  # AA, TC, RA, Z and RCODE: shown raw as [b2&3=...] in a query
_NAME_LIMIT = 255  # label bytes after which tcpdump gives up printing a name
# the header flags tcpdump marks: AA "*", no RA "-", TC "|", AD "$" in responses; RD "+", CD "%" in queries
_RESPONSE_MARKS = {bits: "*" * bool(bits & 0x0400) + "-" * (not bits & 0x0080) + "|" * bool(bits & 0x0200)
                   + "$" * bool(bits & 0x0020)
                   for bits in range(0x0800) if bits & 0x06A0 == bits}
_QUERY_MARKS = {bits: "+" * bool(bits & 0x0100) + "%" * bool(bits & 0x0010)
                for bits in (0, 0x0010, 0x0100, 0x0110)}
_TTL_UNITS = ((365 * 86400, "y"), (7 * 86400, "w"), (86400, "d"), (3600, "h"), (60, "m"), (1, "s"))


class _Truncated(Exception):
    """The message ran out (or a name was unreadable): tcpdump ends the line with " [|domain]"."""


def type_name(rtype: int) -> str:
    return _TYPE_NAMES.get(rtype) or f"Type{rtype}"


def class_name(rclass: int) -> str:
    return _CLASS_NAMES.get(rclass) or f"(Class {rclass})"


def duration(seconds: int) -> str:
    """A TTL as tcpdump -vvv prints it: 3600 -> "1h", 90061 -> "1d1h1m1s", 0 -> "0s"."""
    if seconds == 0:
        return "0s"
    parts = []
    for size, unit in _TTL_UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


class _Summary:
    """One message being summarised; `out` collects the text as tcpdump would have printed it so far."""

    __slots__ = ("data", "captured", "end", "verbose", "mdns", "out")

    def __init__(self, data: bytes, length: int, verbose: int, mdns: bool) -> None:
        self.data = data
        self.captured = len(data)  # what can be read; the loops stop here too
        self.end = length  # the message length on the wire, printed as "(N)"
        self.verbose = verbose
        self.mdns = mdns
        self.out: list[str] = []

    def need(self, offset: int, count: int) -> None:
        if offset + count > self.captured:
            raise _Truncated

    def u16(self, offset: int) -> int:
        self.need(offset, 2)
        return _U16.unpack_from(self.data, offset)[0]

    # names

    def skip_name(self, offset: int) -> int:
        """The offset after the name at `offset`, reading only its length bytes."""
        data, captured = self.data, self.captured
        while offset < captured:
            length = data[offset]
            if length < 0x40:
                if length == 0:
                    return offset + 1
                offset += length + 1
            elif length >= 0xC0:
                return offset + 2
            elif length == 0x41 and offset + 1 < captured:
                offset += 2 + _bitstring_bytes(data[offset + 1])
            else:
                break
        raise _Truncated

    def name(self, offset: int) -> int:
        """Print the name at `offset`; return the offset after it in place (not after pointers).

        Like tcpdump, stop printing label text once the labels reach 256 bytes, skip the rest of
        each label, and say so where the name ends.
        """
        data, out, captured = self.data, self.out, self.captured
        if offset >= captured:
            raise _Truncated
        if data[offset] == 0:
            out.append(".")
            return offset + 1
        plain = _plain_name(data, offset, captured)
        if plain is not None:
            out.append(plain[0])
            return plain[1]
        after: int | None = None
        chunk_start = offset
        label_bytes = 0
        while True:
            if offset >= captured:
                raise _Truncated
            length = data[offset]
            kind = length & 0xC0
            if length and offset + 1 == captured and (
                    kind == 0 or (kind == 0xC0 and (offset != chunk_start or after is not None))):
                return captured  # tcpdump stops quietly when a name's last kept byte starts a label
            if length == 0:
                if label_bytes > _NAME_LIMIT:
                    out.append("<DOMAIN NAME TOO LONG>")
                return offset + 1 if after is None else after
            if kind == 0xC0:
                self.need(offset, 2)
                target = ((length & 0x3F) << 8) | data[offset + 1]
                if after is None:
                    after = offset + 2
                if target >= chunk_start:
                    out.append("<BAD PTR>")
                    raise _Truncated
                if label_bytes > _NAME_LIMIT:
                    out.append("<DOMAIN NAME TOO LONG>")
                    return after
                offset = chunk_start = target
                continue
            if kind == 0x40:
                if length != 0x41:
                    out.append(f"<ELT {length & 0x3F}>")
                    raise _Truncated
                offset = self.bitstring(offset + 1)
                out.append(".")
                continue
            if kind == 0x80:
                out.append("<BAD LABEL TYPE>")
                raise _Truncated
            label_bytes += 1
            room = _NAME_LIMIT + 1 - label_bytes  # label text tcpdump still prints
            shown = length if length <= room else max(0, room)
            label = data[offset + 1 : offset + 1 + shown]
            if len(label) < shown:
                out.append(_text(label))
                raise _Truncated
            label_bytes += length
            offset += 1 + length
            out.append(_text(label) + "." if shown == length else _text(label))

    def bitstring(self, offset: int) -> int:
        """Print an extended bit-string label (RFC 2673) whose count byte is at `offset`."""
        self.need(offset, 1)
        bits = self.data[offset] or 256
        size = _bitstring_bytes(self.data[offset])
        value = self.data[offset + 1 : offset + 1 + size]
        if len(value) < size:
            self.out.append("\\[x" + value.hex())
            raise _Truncated
        self.out.append(bitstring_text(value, bits))
        return offset + 1 + size

    # questions and records

    def question(self, offset: int) -> int:
        after_name = self.skip_name(offset)
        self.need(after_name, 4)
        qtype, qclass = _TYPE_CLASS.unpack_from(self.data, after_name)
        text = " " + type_name(qtype)
        unicast = False
        if self.mdns:
            unicast, qclass = bool(qclass & 0x8000), qclass & 0x7FFF
        if qclass != 1:
            text += " " + class_name(qclass)
        if self.mdns:
            text += " (QU)" if unicast else " (QM)"
        self.out.append(text + "? ")
        self.name(offset)
        return after_name + 4

    def record(self, offset: int) -> int:
        out = self.out
        if self.verbose:
            out.append(" ")
            after_name = self.name(offset)
        else:
            try:
                after_name = self.skip_name(offset)
            except _Truncated:
                return self.captured
        if after_name + 10 > self.captured:
            return self.captured
        rtype, rclass, ttl, rdlength = _RECORD_FIXED.unpack_from(self.data, after_name)
        rdata = after_name + 10
        text = " "
        flush = False
        if self.mdns:
            flush, rclass = bool(rclass & 0x8000), rclass & 0x7FFF
        if rtype != _TYPE_OPT and rclass != 1:
            text += class_name(rclass) + " "
        if flush:
            text += "(Cache flush) "
        if rtype != _TYPE_OPT and self.verbose > 2:
            text += f"[{duration(ttl)}] "
        out.append(text + type_name(rtype))
        self.need(rdata, rdlength)
        self.rdata(rtype, rclass, ttl, rdata, rdlength)
        return rdata + rdlength

    def rdata(self, rtype: int, rclass: int, ttl: int, offset: int, length: int) -> None:
        data, out = self.data, self.out
        if rtype == 1:
            self.need(offset, 4)
            out.append(" " + socket.inet_ntop(socket.AF_INET, data[offset : offset + 4]))
        elif rtype == 28:
            self.need(offset, 16)
            out.append(" " + socket.inet_ntop(socket.AF_INET6, data[offset : offset + 16]))
        elif rtype in (2, 5, 12, 39):
            out.append(" ")
            self.name(offset)
        elif rtype == 15:
            out.append(" ")
            self.name(offset + 2)
            out.append(f" {self.u16(offset)}")
        elif rtype == 33:
            out.append(" ")
            self.name(offset + 6)
            self.need(offset, 6)
            priority, weight, port = struct.unpack_from(">HHH", data, offset)
            out.append(f":{port} {priority} {weight}")
        elif rtype == 16:
            self.txt(offset, offset + length)
        elif rtype == 6 and self.verbose:
            out.append(" ")
            offset = self.name(offset)
            out.append(" ")
            offset = self.name(offset)
            self.need(offset, 20)
            out.append(" " + " ".join(str(value) for value in struct.unpack_from(">5I", data, offset)))
        elif rtype == _TYPE_OPT:
            out.append(f" UDPsize={rclass}")
            if ttl & 0x8000:
                out.append(" DO")
            if length:
                self.edns_options(offset, offset + length)
        elif rtype == 104:
            self.need(offset, length)
            out.append(_text(data[offset : offset + length]))
        elif rtype == 256:
            self.uri(offset, length)
        elif rtype == 38:
            self.a6(offset)
        elif rtype == 250 and self.verbose:
            self.tsig(offset)

    def txt(self, offset: int, end: int) -> None:
        data, out = self.data, self.out
        while offset < end:
            self.need(offset, 1)
            size = data[offset]
            out.append(' "')
            available = data[offset + 1 : offset + 1 + size]
            out.append(_text(available))
            if len(available) < size:
                raise _Truncated
            out.append('"')
            offset += 1 + size

    def a6(self, offset: int) -> None:
        self.need(offset, 1)
        prefix_bits = self.data[offset]
        if prefix_bits > 128:
            self.out.append(f" {prefix_bits}(bad plen)")
            return
        if prefix_bits == 128:
            self.out.append(" ")
            self.name(offset + 1)
            return
        suffix_bytes = 16 - prefix_bits // 8
        self.need(offset + 1, suffix_bytes)
        address = bytes(16 - suffix_bytes) + self.data[offset + 1 : offset + 1 + suffix_bytes]
        self.out.append(f" {prefix_bits} {socket.inet_ntop(socket.AF_INET6, address)}")
        if prefix_bits:
            self.out.append(" ")
            self.name(offset + 1 + suffix_bytes)

    def uri(self, offset: int, length: int) -> None:
        """Priority, weight and target; a record too short for them makes tcpdump read to the end."""
        self.need(offset, 4)
        priority, weight = struct.unpack_from(">HH", self.data, offset)
        end = offset + length if length >= 4 else self.captured + 1
        target = self.data[offset + 4 : end]
        self.out.append(f" {priority} {weight} {_text(target)}")
        self.need(offset + 4, end - offset - 4)

    def tsig(self, offset: int) -> None:
        out = self.out
        out.append(" ")
        offset = self.name(offset)
        self.need(offset, 8)
        out.append(f" fudge={self.u16(offset + 6)}")
        mac_length = self.u16(offset + 8)
        out.append(f" maclen={mac_length}")
        offset += 10 + mac_length
        for index, field in enumerate(("origid", "error", "otherlen")):
            out.append(f" {field}={self.u16(offset + 2 * index)}")

    def edns_options(self, offset: int, end: int) -> None:
        out = self.out
        out.append(" [")
        first = True
        while offset < end:
            if not first:
                out.append(",")
            first = False
            code = self.u16(offset)
            size = self.u16(offset + 2) if offset + 4 <= self.captured else None
            if size is None or offset + 4 + size > self.captured:
                out.append(option_name(code))
                raise _Truncated
            try:
                out.append(format_option(code, self.data[offset + 4 : offset + 4 + size]))
            except OptionCutShort as cut:
                out.append(cut.text)
                raise _Truncated from None
            offset += 4 + size
        out.append("]")

    def section(self, offset: int, count: int, label: str = "") -> int:
        """Print `count` records after `label`, separated by commas; stop early when the capture ends.

        tcpdump tries the first answer even past the end; the labelled sections start only while
        data is left.
        """
        if count and (offset < self.captured or not label):
            self.out.append(label)
            offset = self.record(offset)
            count -= 1
            while count and offset < self.captured:
                self.out.append(",")
                offset = self.record(offset)
                count -= 1
        if count:
            raise _Truncated
        return offset

    def extended_rcode(self, offset: int, counts: tuple[int, int, int, int]) -> int:
        """The high bits of the response code from the first OPT record of the additional section."""
        qdcount, ancount, nscount, arcount = counts
        try:
            for _ in range(qdcount):
                offset = self.skip_name(offset) + 4
            for _ in range(ancount + nscount):
                offset = self.skip_name(offset)
                offset += 10 + self.u16(offset + 8)
            for _ in range(arcount):
                offset = self.skip_name(offset)
                if self.u16(offset) == _TYPE_OPT:
                    self.need(offset + 4, 1)
                    return self.data[offset + 4] << 4
                offset += 10 + self.u16(offset + 8)
        except _Truncated:
            pass
        return 0

    # whole messages

    def message(self) -> None:
        ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(self.data)
        out = self.out
        opcode = (flags >> 11) & 0xF
        offset = _HEADER.size
        if flags & 0x8000:
            rcode = flags & 0xF
            if arcount:
                rcode |= self.extended_rcode(offset, (qdcount, ancount, nscount, arcount))
            out.append(f"{ident}{_OPCODE_NAMES[opcode]}{_RCODE_NAMES.get(rcode, f' Resp{rcode}')}")
            out.append(_RESPONSE_MARKS[flags & 0x06A0])
            if qdcount != 1:
                out.append(f" [{qdcount}q]")
            for index in range(qdcount):
                if index:
                    out.append(",")
                if self.verbose > 1:
                    out.append(" q:")
                    offset = self.question(offset)
                else:
                    offset = self.skip_name(offset) + 4
            out.append(f" {ancount}/{nscount}/{arcount}")
            offset = self.section(offset, ancount)
        else:
            out.append(f"{ident}{_OPCODE_NAMES[opcode]}{_QUERY_MARKS[flags & 0x0110]}")
            if flags & _QUERY_ODD_BITS:
                out.append(f" [b2&3=0x{flags:x}]")
            if opcode == _OPCODE_IQUERY:
                if qdcount:
                    out.append(f" [{qdcount}q]")
                if ancount != 1:
                    out.append(f" [{ancount}a]")
            else:
                if ancount:
                    out.append(f" [{ancount}a]")
                if qdcount != 1:
                    out.append(f" [{qdcount}q]")
            if nscount:
                out.append(f" [{nscount}n]")
            if arcount:
                out.append(f" [{arcount}au]")
            for _ in range(qdcount):
                offset = self.question(offset)
            if self.verbose > 1:
                offset = self.section(offset, ancount)
        if self.verbose > 1:
            offset = self.section(offset, nscount, " ns:")
            self.section(offset, arcount, " ar:")
        out.append(f" ({self.end})")


def _plain_name(data: bytes, offset: int, captured: int) -> tuple[str, int] | None:
    """The usual name at once: (text, offset after it) for plain labels ending in a captured zero
    byte, short of tcpdump's limit; None for anything else (pointers, truncation, odd labels)."""
    labels = []
    end = offset
    length = data[end]
    while 0 < length < 0x40 and end + length + 1 < captured:
        labels.append(data[end + 1 : end + length + 1])
        end += length + 1
        length = data[end]
    if length or not labels or end - offset > _NAME_LIMIT:
        return None
    return _text(b".".join(labels)) + ".", end + 1


def _usual(data: bytes, length: int) -> str | None:
    """The summary of the commonest messages without the general walk, or None: a standard query
    for one IN-class name, or the response to one with only IN-class A/AAAA answers and nothing
    else; wholly captured, not mDNS, no -v. Their text must equal the general path's (tests)."""
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(data)
    if qdcount != 1 or nscount or arcount or flags & 0x780F:  # opcode 0, no error, one question
        return None
    captured = len(data)
    if not flags & 0x8000:
        if ancount or flags & _QUERY_ODD_BITS:
            return None
        plain = _plain_name(data, 12, captured) if captured > 12 else None
        if plain is None or plain[1] + 4 > captured:
            return None
        qtype, qclass = _TYPE_CLASS.unpack_from(data, plain[1])
        if qclass != 1:
            return None
        return f"{ident}{_QUERY_MARKS[flags & 0x0110]} {type_name(qtype)}? {plain[0]} ({length})"
    answers = []
    try:
        offset = _skip_plain(data, 12, captured) + 4
        for _ in range(ancount):
            offset = _skip_plain(data, offset, captured)
            if offset + 10 > captured:
                return None
            rtype, rclass, _ttl, rdlength = _RECORD_FIXED.unpack_from(data, offset)
            offset += 10
            if rclass != 1 or offset + rdlength > captured:
                return None
            if rtype == 1 and rdlength == 4:
                answers.append(" A " + socket.inet_ntop(socket.AF_INET, data[offset : offset + 4]))
            elif rtype == 28 and rdlength == 16:
                answers.append(" AAAA " + socket.inet_ntop(socket.AF_INET6, data[offset : offset + 16]))
            else:
                return None
            offset += rdlength
    except _Truncated:
        return None
    return f"{ident}{_RESPONSE_MARKS[flags & 0x06A0]} {ancount}/0/0{','.join(answers)} ({length})"


def _skip_plain(data: bytes, offset: int, captured: int) -> int:
    """The offset after a name of plain labels, or of a pointer; _Truncated for anything else."""
    while offset < captured:
        length = data[offset]
        if length == 0:
            return offset + 1
        if length >= 0xC0:
            return offset + 2
        if length >= 0x40:
            break
        offset += length + 1
    raise _Truncated


def _bitstring_bytes(count: int) -> int:
    return ((count or 256) + 7) // 8


def format_dns(payload: bytes, over_tcp: bool = False, verbose: int = 0, *, mdns: bool = False,
               length: int | None = None) -> str:
    """The DNS part of tcpdump's line for this UDP or TCP payload; never raises.

    UDP: the text replacing "UDP, length N". TCP (`over_tcp`, payload starting with the 2-byte
    length prefix): the text to append right after ", length N", starting with a space.
    `length` is the payload's length on the wire when the capture kept less (short snap length).
    """
    if length is None or length < len(payload):
        length = len(payload)
    if over_tcp:
        if not length:
            return ""  # tcpdump prints nothing for a segment without data
        if length < 2:
            return f" [DNS over TCP: length {length} < 2] (invalid)"
        if len(payload) < 2:
            return " [|domain]"
        prefix = _U16.unpack_from(payload)[0]
        if prefix != length - 2:
            return f" [prefix length({prefix}) != length({length - 2})] (invalid)"
        return " " + format_dns(payload[2:], False, verbose, mdns=mdns, length=length - 2)
    if length < _HEADER.size:
        return f"domain [length {length} < {_HEADER.size}] (invalid)"
    if len(payload) < _HEADER.size:
        return " [|domain]"
    if not (verbose or mdns):
        text = _usual(payload, length)
        if text is not None:
            return text
    summary = _Summary(payload, length, verbose, mdns)
    try:
        summary.message()
    except _Truncated:
        summary.out.append(" [|domain]")
    return "".join(summary.out)

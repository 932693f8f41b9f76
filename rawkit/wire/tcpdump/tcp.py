"""TCP as tcpdump prints it: flags, relative sequence numbers per connection, options, checksum."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from rawkit.wire.checksum import ones_sum
from rawkit.wire.tcpdump.apps import APPLICATION_PORTS, tcp_application

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

_HEADER = struct.Struct("!HHIIBBHHH")
_U32 = struct.Struct("!I")
_TS = struct.Struct("!II")
_WORDS3 = struct.Struct("!III")
# connection directions whose sequence bases are kept (about 250 bytes each); past that the table
# starts afresh, so a capture with more live connections than this prints some numbers absolute
MAX_TRACKED_DIRECTIONS = 1 << 20
_NOP_NOP_TS = 0x0101080A  # the options Linux puts on every segment: nop, nop, timestamps
_FLAG_LETTERS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."), (0x20, "U"), (0x40, "E"),
                 (0x80, "W"))
FLAGS = tuple("".join(letter for bit, letter in _FLAG_LETTERS if value & bit) or "none"
              for value in range(256))
_MASK32 = 0xFFFFFFFF


def tcp(p: Printer, data: bytes, off: int, length: int, src: str, dst: str, key_addrs: bytes,
        pseudo: int | None) -> str:
    """The TCP part after 'IP ' (ports included). `length` is the segment length by the IP header;
    `src`/`dst` the addresses followed by '.' ('' when tcpdump shows bare ports); `key_addrs` the
    source+destination address bytes (flow key); `pseudo` the pseudo-header sum (None: no check).
    The hot path of `rawkit read`: one unpack, one f-string, a fast path for the usual options."""
    if len(data) - off < 20:
        return _short(data, off, src, dst)
    sport, dport, seq, ack, offset_byte, flags, window, checksum, urgent = _HEADER.unpack_from(data, off)
    header_len = (offset_byte >> 4) * 4
    if header_len < 20 or header_len > length:
        return _bad_header_length(sport, dport, src, dst, header_len, length, flags, p.quiet)
    payload_len = length - header_len
    if p.quiet:
        return f"{src}{sport} > {dst}{dport}: tcp {payload_len}"
    ack_base = 0
    if flags & 0x10:  # ACK
        if not p.absolute:
            # tcpdump's rule: the first ACK of a connection (or any SYN with ACK, a new connection
            # on the same ports) sets both directions' bases and prints absolute numbers
            key = (key_addrs, sport << 16 | dport)  # the address bytes' hash is already cached
            bases = p.tcp_seqs.get(key)
            if bases is None or flags & 0x02:
                half = len(key_addrs) // 2
                reverse = (key_addrs[half:] + key_addrs[:half], dport << 16 | sport)
                ack_base = (ack - 1) & 0xFFFFFFFF  # SACK blocks are relative even now
                if len(p.tcp_seqs) >= MAX_TRACKED_DIRECTIONS:
                    p.tcp_seqs.clear()  # bounded memory; tcpdump's table grows without limit
                    p.tcp_flows.clear()
                p.tcp_seqs[key] = (seq, ack_base)
                p.tcp_seqs[reverse] = (ack_base, seq)
                p.tcp_flows.pop(key, None)  # fast.py's copies of the old bases
                p.tcp_flows.pop(reverse, None)
            else:
                seq = (seq - bases[0]) & 0xFFFFFFFF
                ack_base = bases[1]
                ack = (ack - ack_base) & 0xFFFFFFFF
        if payload_len > 0:
            numbers = f", seq {seq}:{(seq + payload_len) & 0xFFFFFFFF}, ack {ack}, win {window}"
        elif flags & 0x07 or p.verbose > 1:  # SYN, FIN, RST
            numbers = f", seq {seq}, ack {ack}, win {window}"
        else:
            numbers = f", ack {ack}, win {window}"
    elif payload_len > 0:
        numbers = f", seq {seq}:{(seq + payload_len) & 0xFFFFFFFF}, win {window}"
    elif flags & 0x07 or p.verbose > 1:
        numbers = f", seq {seq}, win {window}"
    else:
        numbers = f", win {window}"
    if flags & 0x20:  # URG
        numbers = f"{numbers}, urg {urgent}"
    checksum_text = _checksum_text(data, off, length, checksum, pseudo) if p.verbose else ""
    options = ""
    if header_len == 32 and len(data) >= off + 32:
        first, tsval, tsecr = _WORDS3.unpack_from(data, off + 20)
        if first == _NOP_NOP_TS:
            options = f", options [nop,nop,TS val {tsval} ecr {tsecr}]"
    if header_len > 20 and not options:
        text, complete = _options(data, off + 20, off + header_len, ack_base)
        if not complete:
            head = f"{src}{sport} > {dst}{dport}: Flags [{FLAGS[flags]}]"
            return f"{head}{checksum_text}{numbers}, options [{text}"
        options = f", options [{text}]"
    line = (f"{src}{sport} > {dst}{dport}: Flags [{FLAGS[flags]}]{checksum_text}{numbers}{options}, "
            f"length {payload_len}")
    if payload_len > 0 and (sport in APPLICATION_PORTS or dport in APPLICATION_PORTS):
        return line + tcp_application(p, sport, dport, data, off + header_len, payload_len)
    return line


def _short(data: bytes, off: int, src: str, dst: str) -> str:
    """A header cut by the capture: ports if they made it, then tcpdump's truncation mark."""
    if len(data) - off < 4:
        return f"{src[:-1]} > {dst[:-1]}: [|tcp]"
    sport, dport = data[off] << 8 | data[off + 1], data[off + 2] << 8 | data[off + 3]
    return f"{src}{sport} > {dst}{dport}:  [|tcp]"


def _bad_header_length(sport: int, dport: int, src: str, dst: str, header_len: int, length: int,
                       flags: int, quiet: bool) -> str:
    head = f"{src}{sport} > {dst}{dport}: "
    too_long = f"[bad hdr length {header_len} - too long, > {length}]"
    if header_len < 20:
        return f"{head} tcp {length - header_len} [bad hdr length {header_len} - too short, < 20]"
    if quiet:
        return f"{head}tcp {(length - header_len) & _MASK32} {too_long}"
    return f"{head}Flags [{FLAGS[flags]}] {too_long}"


def _checksum_text(data: bytes, off: int, length: int, checksum: int, pseudo: int | None) -> str:
    if pseudo is None or off + length > len(data):
        return ""
    total = ones_sum(data[off : off + length], pseudo)
    if total == 0xFFFF:
        return f", cksum 0x{checksum:04x} (correct)"
    expected = ~ones_sum(data[off : off + 16] + b"\0\0" + data[off + 18 : off + length], pseudo) & 0xFFFF
    return f", cksum 0x{checksum:04x} (incorrect -> 0x{expected:04x})"


def _options(data: bytes, start: int, end: int, ack_base: int) -> tuple[str, bool]:
    """Render the options; False when the capture ends inside them (tcpdump's '[|tcp]' marker)."""
    out: list[str] = []
    captured = min(end, len(data))
    index = start
    while index < end:
        if index >= captured:
            return "".join(f"{text}," for text in out) + " [|tcp]", False
        kind = data[index]
        if kind == 0:
            out.append("eol")
            break
        if kind == 1:
            out.append("nop")
            index += 1
            continue
        if index + 1 >= min(end, captured):
            return "".join(f"{text}," for text in out) + " [|tcp]", False
        size = data[index + 1]
        if size < 2 or index + size > end:
            return "".join(f"{text}," for text in out) + "[bad opt]", False
        name = _OPTION_NAMES.get(kind, f"unknown-{kind}")
        if index + size > captured:
            out.append(f"{name} [|tcp]>")
            return ",".join(out), False
        expected = _SIZES.get(kind)
        if expected is not None and size - 2 != expected:
            # tcpdump decodes the value at its usual size anyway, then notes the odd length
            value = data[index + 2 : index + 2 + expected]
            shown = _option(kind, name, value, ack_base) if len(value) == expected else name
            out.append(f"{shown}[len {size}]")
            if size - 2 < expected:
                break
        else:
            out.append(_option(kind, name, data[index + 2 : index + size], ack_base))
        index += size
    return ",".join(out), True


_OPTION_NAMES = {2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 8: "TS", 19: "md5", 34: "tfo", 30: "mptcp",
                 29: "tcp-ao", 6: "echo", 7: "echoreply", 14: "altsum", 15: "altsumreq", 28: "uto", 27: "qs"}
_SIZES = {2: 2, 3: 1, 4: 0, 8: 8, 19: 16}


def _option(kind: int, name: str, body: bytes, ack_base: int) -> str:
    if kind == 2:
        return f"mss {body[0] << 8 | body[1]}"
    if kind == 3:
        return f"wscale {body[0]}"
    if kind == 4:
        return "sackOK"
    if kind == 8:
        return f"TS val {_U32.unpack_from(body)[0]} ecr {_U32.unpack_from(body, 4)[0]}"
    if kind == 5:
        if len(body) % 8:
            return "sack invalid sack"
        blocks = "".join(
            f"{{{(_U32.unpack_from(body, i)[0] - ack_base) & _MASK32}:"
            f"{(_U32.unpack_from(body, i + 4)[0] - ack_base) & _MASK32}}}"
            for i in range(0, len(body), 8))
        return f"sack {len(body) // 8} {blocks}"
    if kind == 19:
        return f"md5 shared secret not supplied with -M, can't check - {body.hex()}"
    if kind == 34:
        return "tfo  cookiereq" if not body else f"tfo  cookie {body.hex()}"
    if kind == 28 and len(body) == 2:
        value = body[0] << 8 | body[1]
        return f"uto {value & 0x7FFF} {'min' if value & 0x8000 else 'sec'}"
    if body:
        return f"{name} 0x{body.hex()}"
    return name

"""TCP header (RFC 9293): ports, sequence numbers, flags, window, checksum, options."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from enum import IntFlag

from rawkit.wire import tcp_options
from rawkit.wire.checksum import l4_checksum, verify_l4
from rawkit.wire.constants import IPProto
from rawkit.wire.layer import Layer

MIN_HEADER_LEN = 20


class Flags(IntFlag):
    FIN = 0x01
    SYN = 0x02
    RST = 0x04
    PSH = 0x08
    ACK = 0x10
    URG = 0x20
    ECE = 0x40
    CWR = 0x80
    AE = 0x100


# tcpdump's letters, in tcpdump's order
_TCPDUMP_LETTERS = ((0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"), (0x10, "."), (0x20, "U"),
                    (0x40, "E"), (0x80, "W"))
_FLAGSTR = tuple(
    "".join(letter for bit, letter in _TCPDUMP_LETTERS if value & bit) or "none" for value in range(256)
)
_LETTER_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, ".": 0x10, "U": 0x20, "E": 0x40,
                "C": 0x80, "W": 0x80, "N": 0x100}
_PORTS = struct.Struct("!HH")
_FIXED = struct.Struct("!HHIIHHHH")  # ports, seq, ack, offset+flags, window, checksum, urgent


def flag_bits(flags: int | str) -> int:
    """'S', 'SA', 'S.', 'PA', 'FA', 'R' (scapy or tcpdump letters) or an int."""
    if isinstance(flags, int):
        return flags
    try:
        bits = 0
        for letter in flags.upper():
            bits |= _LETTER_BITS[letter]
        return bits
    except KeyError:
        raise ValueError(f"bad TCP flags {flags!r} (letters: F S R P A . U E C W N)") from None


def flag_text(flags: int) -> str:
    """tcpdump's rendering: 'S', 'S.', 'P.', 'F.', 'R', 'none'."""
    return _FLAGSTR[flags & 0xFF]


class TCPView:
    """View of a TCP header. `end` is where the segment ends by the IP length (may exceed the
    captured bytes when the capture was cut by a snap length); `ip` is the header underneath.

    The fixed 20 bytes are unpacked into plain attributes when the view is made: one C call, after
    which every field read costs an attribute read (decoders read several fields of each segment,
    and a property call per field cost more than that unpack). Options, payload and checksum stay
    lazy. Needs 20 bytes at `off`."""

    __slots__ = ("_buf", "_off", "header_len", "end", "ip", "sport", "dport", "seq", "ack", "flags", "window",
                 "checksum", "urgptr")

    def __init__(self, buf: bytes, off: int, end: int, ip: object = None) -> None:
        self._buf = buf
        self._off = off
        self.end = end
        self.ip = ip
        (self.sport, self.dport, self.seq, self.ack, offset_flags, self.window, self.checksum,
         self.urgptr) = _FIXED.unpack_from(buf, off)
        self.header_len = offset_flags >> 12 << 2
        self.flags = offset_flags & 0x1FF

    dataofs = property(lambda self: self._buf[self._off + 12] >> 4)
    reserved = property(lambda self: self._buf[self._off + 12] >> 1 & 7)

    @property
    def flagstr(self) -> str:
        return _FLAGSTR[self._buf[self._off + 13]]

    syn = property(lambda self: bool(self._buf[self._off + 13] & 0x02))
    fin = property(lambda self: bool(self._buf[self._off + 13] & 0x01))
    rst = property(lambda self: bool(self._buf[self._off + 13] & 0x04))
    psh = property(lambda self: bool(self._buf[self._off + 13] & 0x08))
    ack_flag = property(lambda self: bool(self._buf[self._off + 13] & 0x10))

    @property
    def options_bytes(self) -> bytes:
        return self._buf[self._off + MIN_HEADER_LEN : self._off + self.header_len]

    @property
    def options(self) -> list[tcp_options.Option]:
        """Decoded options, up to the first malformed one (see `pkt.errors`)."""
        if self.header_len <= MIN_HEADER_LEN:
            return []
        return tcp_options.parse(self.options_bytes)[0]

    def option(self, name: str | int) -> object:
        """The value of the first option called `name` (e.g. 'MSS'), or None."""
        for key, value in self.options:
            if key == name:
                return value
        return None

    @property
    def payload_len(self) -> int:
        """Payload length by the IP header (not what was captured)."""
        return max(self.end - self._off - self.header_len, 0)

    @property
    def checksum_ok(self) -> bool | None:
        """None when it cannot be checked: segment not all captured, a fragment, or no IP header."""
        return verify_l4(self._buf, self._off, self.end, self.ip, IPProto.TCP)

    def builder(self) -> TCP:
        return TCP(sport=self.sport, dport=self.dport, seq=self.seq, ack=self.ack, reserved=self.reserved,
                   flags=self.flags, window=self.window, urgptr=self.urgptr, options=self.options_bytes)

    def __repr__(self) -> str:
        return f"<TCP {self.sport} > {self.dport} [{self.flagstr}] seq {self.seq} ack {self.ack}>"


_HEADER = struct.Struct("!HHIIBBHHH")


class TCP(Layer):
    FIELDS = {"sport": 20, "dport": 80, "seq": 0, "ack": 0, "dataofs": None, "reserved": 0, "flags": "S",
              "window": 8192, "checksum": None, "urgptr": 0, "options": ()}
    IP_PROTO = IPProto.TCP

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        options = tcp_options.encode(self.options)
        dataofs = self.dataofs if self.dataofs is not None else (MIN_HEADER_LEN + len(options)) // 4
        flags = flag_bits(self.flags)
        header = _HEADER.pack(self.sport, self.dport, self.seq & 0xFFFFFFFF, self.ack & 0xFFFFFFFF,
                              (dataofs & 0x0F) << 4 | (self.reserved & 7) << 1 | flags >> 8 & 1, flags & 0xFF,
                              self.window & 0xFFFF, 0, self.urgptr & 0xFFFF) + options
        segment = header + payload
        checksum = self.checksum if self.checksum is not None else l4_checksum(segment, below, IPProto.TCP)
        return segment[:16] + checksum.to_bytes(2, "big") + segment[18:]

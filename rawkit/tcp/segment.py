"""The engine's segment: a representation holding only the fields TCP acts on, with conversion to and
from the wire layer (`rawkit.wire.tcp`) and a fast path to bytes for bulk sending."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from rawkit.wire import tcp_options
from rawkit.wire.checksum import ones_sum
from rawkit.wire.constants import IPProto
from rawkit.wire.tcp import TCP, Flags, TCPView, flag_text

# plain ints: IntFlag arithmetic costs a enum construction per operation on the hot path
FIN, SYN, RST, PSH, ACK = (int(flag) for flag in (Flags.FIN, Flags.SYN, Flags.RST, Flags.PSH, Flags.ACK))
_HEADER = struct.Struct("!HHIIBBHHH")
_MSS = struct.Struct("!BBH")
_TIMESTAMP = struct.Struct("!BBBBII")   # NOP NOP kind len TSval TSecr: Linux's layout
_SACK_BLOCK = struct.Struct("!II")
_SYN_OPTIONS = struct.Struct("!BBHBBBBIIBBBB")    # MSS, SAckOK, Timestamp, NOP, WScale: 20 bytes
_FIXED = struct.Struct("!HHIIHHHH")               # the header without options
_TIMESTAMP_LAYOUT = b"\x01\x01\x08\x0a"
_TIMESTAMP_VALUES = struct.Struct("!II")


class SegmentError(ValueError):
    """Bytes that are not a TCP segment the engine can take (too short, bad data offset)."""


@dataclass(slots=True)
class Segment:
    """One TCP segment. Options the engine negotiates are fields; `None`/empty means absent."""

    sport: int
    dport: int
    seq: int
    ack: int = 0
    flags: int = 0
    window: int = 0
    payload: bytes = b""
    mss: int | None = None
    wscale: int | None = None
    sack_permitted: bool = False
    sack_blocks: tuple[tuple[int, int], ...] = ()
    timestamp: tuple[int, int] | None = None       # (TSval, TSecr)
    urgptr: int = 0
    extra_options: tuple[tuple[str | int, object], ...] = field(default=())  # kept, not acted on

    syn = property(lambda self: bool(self.flags & SYN))
    fin = property(lambda self: bool(self.flags & FIN))
    rst = property(lambda self: bool(self.flags & RST))
    has_ack = property(lambda self: bool(self.flags & ACK))

    @property
    def seq_len(self) -> int:
        """Sequence space the segment occupies: payload plus one each for SYN and FIN."""
        return len(self.payload) + (self.flags & SYN and 1) + (self.flags & FIN and 1)

    @property
    def flagstr(self) -> str:
        return flag_text(self.flags)

    # ---- options -------------------------------------------------------------------------------
    def options_list(self) -> list[tcp_options.Option]:
        """The options in the order Linux sends them, as (name, value) pairs for the wire builder."""
        options: list[tcp_options.Option] = []
        if self.mss is not None:
            options.append(("MSS", self.mss))
        if self.sack_permitted and self.timestamp is not None:
            options += [("SAckOK", b""), ("Timestamp", self.timestamp)]
        elif self.sack_permitted:
            options += [("NOP", None), ("NOP", None), ("SAckOK", b"")]
        elif self.timestamp is not None:
            options += [("NOP", None), ("NOP", None), ("Timestamp", self.timestamp)]
        if self.wscale is not None:
            options += [("NOP", None), ("WScale", self.wscale)]
        if self.sack_blocks:
            options += [("NOP", None), ("NOP", None), ("SAck", self.sack_blocks)]
        options += list(self.extra_options)
        return options

    def options_bytes(self) -> bytes:
        if not (self.sack_blocks or self.sack_permitted or self.extra_options) and self.mss is None \
                and self.wscale is None:   # the common data-segment cases, kept cheap
            return b"" if self.timestamp is None else _TIMESTAMP.pack(1, 1, 8, 10, *self.timestamp)
        if self.mss is not None and self.sack_permitted and self.timestamp is not None \
                and self.wscale is not None and not (self.sack_blocks or self.extra_options):
            # a SYN as Linux sends it (MSS, SACK-permitted, timestamps, NOP, window scale): one pack
            return _SYN_OPTIONS.pack(2, 4, self.mss, 4, 2, 8, 10, *self.timestamp, 1, 3, 3, self.wscale)
        return tcp_options.encode(self.options_list())

    # ---- to the wire ---------------------------------------------------------------------------
    def to_bytes(self, pseudo_sum: int | None = None) -> bytes:
        """The segment as bytes. `pseudo_sum` is `address_sum(src, dst)` of the IP pair (the
        pseudo-header without its length); None leaves the checksum zero."""
        options = self.options_bytes()
        header_len = 20 + len(options)
        offset_byte = header_len << 2 | self.flags >> 8 & 1
        fields = (self.sport, self.dport, self.seq, self.ack, offset_byte, self.flags & 0xFF, self.window)
        payload = self.payload
        checksum = 0
        if pseudo_sum is not None:
            # the ones' complement sum is the big integer of the bytes mod 0xFFFF (checksum.py), so the
            # header and the payload are summed apart and the segment is joined only once; the header
            # is an even length, so the payload's weight is 1, or 256 when the whole is padded
            head = int.from_bytes(_HEADER.pack(*fields, 0, self.urgptr) + options, "big")
            body = int.from_bytes(payload, "big")
            total = head + (body << 8 if len(payload) & 1 else body) + pseudo_sum + header_len + len(payload)
            checksum = ~(total % 0xFFFF or 0xFFFF) & 0xFFFF
        return b"".join((_HEADER.pack(*fields, checksum, self.urgptr), options, payload))

    def builder(self) -> TCP:
        """A `rawkit.wire.TCP` builder for this segment (checksum computed when the frame is built)."""
        return TCP(sport=self.sport, dport=self.dport, seq=self.seq, ack=self.ack, flags=int(self.flags),
                   window=self.window, urgptr=self.urgptr, options=self.options_list())

    # ---- from the wire -------------------------------------------------------------------------
    @classmethod
    def from_view(cls, view: TCPView, payload: bytes) -> Segment:
        """From a wire-layer view and its payload (e.g. `pkt.tcp`, `pkt.payload`)."""
        segment = cls(view.sport, view.dport, view.seq, view.ack, view.flags, view.window, bytes(payload),
                      urgptr=view.urgptr)
        if view.header_len > 20:
            segment._take_options(tcp_options.parse(view.options_bytes)[0])
        return segment

    @classmethod
    def parse(cls, data: bytes) -> Segment:
        """From the bytes of a TCP segment (header + payload). Raises SegmentError on malformed input.
        The header is one unpack and the options Linux puts on every segment (NOP NOP timestamps)
        one more: this is the stack's path for every segment its fast path does not take."""
        data = bytes(data)
        if len(data) < 20:
            raise SegmentError(f"tcp: {len(data)} bytes is shorter than a header")
        sport, dport, sequence, ack, offset_flags, window, _checksum, urgptr = _FIXED.unpack_from(data)
        header_len = offset_flags >> 12 << 2
        if not 20 <= header_len <= len(data):
            raise SegmentError(f"tcp: bad data offset {header_len}")
        segment = cls(sport, dport, sequence, ack, offset_flags & 0x1FF, window, data[header_len:],
                      urgptr=urgptr)
        if header_len == 32 and data[20:24] == _TIMESTAMP_LAYOUT:
            segment.timestamp = _TIMESTAMP_VALUES.unpack_from(data, 24)
        elif header_len == 40 and data[20:22] == b"\x02\x04" and data[24:28] == b"\x04\x02\x08\x0a" \
                and data[36:39] == b"\x01\x03\x03":       # a SYN or SYN-ACK as Linux lays it out
            fields = _SYN_OPTIONS.unpack_from(data, 20)
            segment.mss, segment.timestamp, segment.wscale = fields[2], fields[7:9], fields[12]
            segment.sack_permitted = True
        elif header_len > 20:
            segment._take_options(tcp_options.parse(data[20:header_len])[0])
        return segment

    def _take_options(self, options: list[tcp_options.Option]) -> None:
        extra = []
        for name, value in options:
            if name == "MSS":
                self.mss = value
            elif name == "WScale":
                self.wscale = value
            elif name == "SAckOK":
                self.sack_permitted = True
            elif name == "SAck":
                self.sack_blocks = tuple(value)
            elif name == "Timestamp":
                self.timestamp = tuple(value)
            elif name not in ("NOP", "EOL"):
                extra.append((name, value))
        self.extra_options = tuple(extra)

    def __str__(self) -> str:
        text = f"{self.sport} > {self.dport} [{self.flagstr}] seq {self.seq}"
        if self.flags & ACK:
            text += f" ack {self.ack}"
        return text + f" win {self.window} len {len(self.payload)}"


def address_sum(src: bytes, dst: bytes) -> int:
    """Pseudo-header sum of the addresses and protocol (IPv4 or IPv6), for `Segment.to_bytes`."""
    return ones_sum(src + dst + bytes((0, IPProto.TCP)))

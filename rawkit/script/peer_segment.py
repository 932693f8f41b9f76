"""What a `Peer` step sends or expects: one TCP segment described with sequence numbers relative to
the ISNs (as packetdrill writes them), and the comparison of an arrived segment against it.

Why a separate description and not a wire builder: the same `syn_ack(mss=1460)` must be both a
template to fill in when sending (current sequence numbers, our timestamp clock) and a pattern to
check when expecting (only the fields given are checked). `None` means "fill in" or "don't check";
`ANY` asks for presence with any value; `False` asks for absence.

Sequence spaces: a segment the peer sends has `seq` relative to the peer's ISN and `ack` (and SACK
blocks) relative to the target's ISN; a segment the target sends, the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from rawkit.wire.packet import Packet
from rawkit.wire.tcp import flag_bits, flag_text

MASK = 0xFFFFFFFF
_SYN, _FIN, _ACK = 0x02, 0x01, 0x10


class _Any:
    """Matches any value of a field that must be present."""

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()


@dataclass(frozen=True)
class Segment:
    """A TCP segment by its fields. `payload` is bytes (exact), an int (that many bytes; zeros when
    sent) or ANY. Option fields: `mss`, `wscale` (int), `sack_ok` (bool), `ts` (True: present, our
    clock when sent; or (tsval, tsecr) with ANY allowed), `sack` ((left, right) relative blocks);
    `options` is an exact option list (wire codec pairs) that replaces all of them."""

    flags: str
    seq: int | None = None
    ack: int | None = None
    win: int | None = None
    payload: bytes | int | _Any = b""
    mss: int | bool | _Any | None = None
    wscale: int | bool | _Any | None = None
    sack_ok: bool | None = None
    ts: bool | tuple[Any, Any] | _Any | None = None
    sack: tuple[tuple[int, int], ...] | bool | _Any | None = None
    options: tuple[tuple[str | int, Any], ...] | None = field(default=None)

    def __post_init__(self) -> None:
        flag_bits(self.flags)  # a bad letter fails here, where the segment is written
        if self.options is not None:
            object.__setattr__(self, "options", tuple(self.options))
        if isinstance(self.sack, list | tuple):
            object.__setattr__(self, "sack", tuple(tuple(block) for block in self.sack))

    @property
    def bits(self) -> int:
        return flag_bits(self.flags)

    @property
    def length(self) -> int | None:
        """Payload length, None when any length matches."""
        if isinstance(self.payload, _Any):
            return None
        return self.payload if isinstance(self.payload, int) else len(self.payload)

    def but(self, **changes: Any) -> Segment:
        """A copy with some fields changed: `syn().but(win=0)`."""
        return replace(self, **changes)

    def describe(self) -> str:
        """packetdrill-like text with relative numbers: `S. 0:0(0) ack 1 win 65535 <mss 1460>`."""
        parts = [flag_text(self.bits) if self.bits & 0xFF else "none"]
        length = self.length
        if self.seq is not None:
            parts.append(f"{self.seq}:{self.seq + length}({length})" if length is not None
                         else f"seq {self.seq}")
        elif length is not None:
            parts.append(f"length {length}")
        if self.ack is not None:
            parts.append(f"ack {self.ack}")
        if self.win is not None:
            parts.append(f"win {self.win}")
        options = self._describe_options()
        if options:
            parts.append(f"<{options}>")
        return " ".join(parts)

    def _describe_options(self) -> str:
        if self.options is not None:
            return ",".join(_option_text(name, value) for name, value in self.options)
        shown = []
        for name, value in (("mss", self.mss), ("wscale", self.wscale), ("sackOK", self.sack_ok)):
            if value is False:
                shown.append(f"no {name}")
            elif value is True:
                shown.append(name)
            elif value is not None:
                shown.append(f"{name} {value}")
        if self.ts is False:
            shown.append("no TS")
        elif isinstance(self.ts, tuple):
            shown.append(f"TS val {self.ts[0]} ecr {self.ts[1]}")
        elif self.ts is not None:
            shown.append("TS")
        if self.sack is False:
            shown.append("no sack")
        elif isinstance(self.sack, tuple):
            shown.append("sack " + " ".join(f"{left}:{right}" for left, right in self.sack))
        elif self.sack is not None:
            shown.append("sack")
        return ",".join(shown)


def _option_text(name: str | int, value: Any) -> str:
    if name in ("NOP", "EOL"):
        return str(name).lower()
    if name == "SAckOK":
        return "sackOK"
    if name == "Timestamp":
        return f"TS val {value[0]} ecr {value[1]}"
    if name == "SAck":
        return "sack " + " ".join(f"{left}:{right}" for left, right in value)
    return f"{str(name).lower()} {value}"


def _with_flags(flags: str, seq: int | None, ack: int | None, fields: dict[str, Any]) -> Segment:
    return Segment(flags, seq=seq, ack=ack, **fields)


def syn(seq: int | None = None, **fields: Any) -> Segment:
    """A SYN (options: mss=, wscale=, sack_ok=, ts=)."""
    return _with_flags("S", seq, None, fields)


def syn_ack(seq: int | None = None, ack: int | None = None, **fields: Any) -> Segment:
    return _with_flags("S.", seq, ack, fields)


def ack(seq: int | None = None, ack: int | None = None, **fields: Any) -> Segment:
    """A pure ACK (no payload unless `payload=` is given)."""
    return _with_flags(".", seq, ack, fields)


def data(payload: bytes | int | _Any, seq: int | None = None, ack: int | None = None, *, flags: str = "P.",
         **fields: Any) -> Segment:
    """A data segment, PSH+ACK unless `flags` says otherwise; `payload` bytes or a length."""
    return Segment(flags, seq=seq, ack=ack, payload=payload, **fields)


def fin(seq: int | None = None, ack: int | None = None, **fields: Any) -> Segment:
    return _with_flags("F.", seq, ack, fields)


def rst(seq: int | None = None, ack: int | None = None, **fields: Any) -> Segment:
    """A RST; with `ack` given it is RST+ACK (what Linux answers to a SYN for a closed port)."""
    return _with_flags("R." if ack is not None else "R", seq, ack, fields)


@dataclass(frozen=True)
class Relative:
    """An arrived segment's numbers made relative: `seq` to the sender's ISN, `ack` and the SACK
    blocks to the receiver's."""

    seq: int
    ack: int
    sack: tuple[tuple[int, int], ...] = ()

    @classmethod
    def of(cls, pkt: Packet, sender_isn: int, receiver_isn: int) -> Relative:
        tcp = pkt.tcp
        blocks = tcp.option("SAck") or ()
        return cls((tcp.seq - sender_isn) & MASK, (tcp.ack - receiver_isn) & MASK,
                   tuple(((left - receiver_isn) & MASK, (right - receiver_isn) & MASK)
                         for left, right in blocks))

    def describe(self, pkt: Packet) -> str:
        """The arrived segment as `describe()` writes an expectation, with relative numbers."""
        tcp = pkt.tcp
        length = tcp.payload_len
        text = f"{flag_text(tcp.flags)} {self.seq}:{(self.seq + length) & MASK}({length})"
        if tcp.flags & _ACK:
            text += f" ack {self.ack}"
        text += f" win {tcp.window}"
        options = [_option_text(*option) for option in tcp.options if option[0] != "SAck"]
        if self.sack:
            options.append(_option_text("SAck", self.sack))
        return text + (f" <{','.join(options)}>" if options else "")


def sequence_space(pkt: Packet) -> int:
    """How far the segment advances the sender's sequence number (payload plus SYN and FIN)."""
    tcp = pkt.tcp
    return tcp.payload_len + bool(tcp.flags & _SYN) + bool(tcp.flags & _FIN)


def mismatches(expected: Segment, pkt: Packet, relative: Relative) -> list[str]:
    """Every way the arrived `pkt` differs from `expected` ([] when it matches), one short line each."""
    tcp = pkt.tcp
    problems = []
    if tcp.flags != expected.bits:
        problems.append(f"flags: expected {flag_text(expected.bits)}, got {flag_text(tcp.flags)}")
    if expected.seq is not None and relative.seq != expected.seq & MASK:
        problems.append(f"seq: expected {expected.seq}, got {relative.seq} (absolute {tcp.seq})")
    if expected.ack is not None and relative.ack != expected.ack & MASK:
        problems.append(f"ack: expected {expected.ack}, got {relative.ack} (absolute {tcp.ack})")
    if expected.win is not None and tcp.window != expected.win:
        problems.append(f"win: expected {expected.win}, got {tcp.window}")
    problems += _payload_mismatch(expected, pkt)
    problems += _option_mismatches(expected, tcp.options, relative)
    if tcp.checksum_ok is False:
        problems.append("TCP checksum is wrong (checksum offload on the sender? ethtool -K DEV tx off)")
    return problems


def _payload_mismatch(expected: Segment, pkt: Packet) -> list[str]:
    length = pkt.tcp.payload_len
    if expected.length is not None and length != expected.length:
        return [f"payload length: expected {expected.length}, got {length}"]
    if isinstance(expected.payload, bytes) and expected.payload and pkt.payload != expected.payload:
        return [f"payload: expected {expected.payload[:40]!r}, got {pkt.payload[:40]!r}"]
    return []


def _option_mismatches(expected: Segment, options: list[tuple[str | int, Any]],
                       relative: Relative) -> list[str]:
    if expected.options is not None:
        got = [option for option in options if option[0] != "EOL"]
        want = [option for option in expected.options if option[0] != "EOL"]
        if got != want:
            return [f"options: expected <{','.join(_option_text(*o) for o in want)}>, "
                    f"got <{','.join(_option_text(*o) for o in got)}>"]
        return []
    present = {name: value for name, value in reversed(options)}
    problems = []
    checks = (("mss", "MSS", expected.mss), ("wscale", "WScale", expected.wscale),
              ("sackOK", "SAckOK", expected.sack_ok), ("TS", "Timestamp", expected.ts),
              ("sack", "SAck", expected.sack))
    for label, name, want in checks:
        if want is None:
            continue
        if want is False:
            if name in present:
                problems.append(f"{label}: expected no option, got {_option_text(name, present[name])}")
            continue
        if name not in present:
            problems.append(f"{label}: expected the option, it is missing")
        elif name == "Timestamp" and isinstance(want, tuple):
            for part, wanted, got in zip(("val", "ecr"), want, present[name], strict=True):
                if not isinstance(wanted, _Any) and wanted != got:
                    problems.append(f"TS {part}: expected {wanted}, got {got}")
        elif name == "SAck" and isinstance(want, tuple) and want != relative.sack:
            problems.append(f"sack: expected {want}, got {relative.sack} (relative)")
        elif name in ("MSS", "WScale") and want is not True and not isinstance(want, _Any) \
                and present[name] != want:
            problems.append(f"{label}: expected {want}, got {present[name]}")
    return problems

"""tcpdump's NTP summary (`tcpdump -nn`, 4.99), written from its observed output.

When tcpdump 4.99 uses it: UDP with source or destination port 123. The text replaces
"UDP, length N": "NTPv4, Client, length 48". With -v tcpdump adds tab-indented lines: for time
messages (modes 0-5) leap indicator, stratum, poll, precision, root delay and dispersion, reference
ID, the four timestamps and two differences; for control messages (mode 6) the control header.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

from rawkit.wire.tcpdump.app_text import escaped

_MODES = ("unspecified", "symmetric active", "symmetric passive", "Client", "Server", "Broadcast",
          "Control Message", "Reserved")
_LEAP = ("", "+1s", "-1s", "clock unsynchronized")
_TIME_MESSAGE = struct.Struct(">BBbbII4s4Q")
_CONTROL_MESSAGE = struct.Struct(">BBHHHHH")
_MODE_CONTROL, _MODE_RESERVED = 6, 7
_INFO_STRATA = {62: "INFO_QUERY", 63: "INFO_REPLY"}
_NTP_EPOCH = datetime(1900, 1, 1, tzinfo=UTC)
_TIMESTAMP_NAMES = ("Reference Timestamp:  ", "Originator Timestamp: ", "Receive Timestamp:    ",
                    "Transmit Timestamp:   ")


def _stratum(stratum: int) -> str:
    if stratum == 0:
        return "unspecified"
    if stratum == 1:
        return "primary reference"
    return "secondary reference" if stratum < 16 else "reserved"


def _poll(poll: int) -> str:
    if 0 <= poll < 32:
        return f"poll {poll} ({1 << poll}s)"
    if -32 < poll < 0:
        return f"poll {poll} (1/{1 << -poll}s)"
    return f"poll {poll}"


def _short(value: int) -> str:
    """A 16.16 fixed-point value, microseconds truncated."""
    return f"{value >> 16}.{((value & 0xFFFF) * 1_000_000) >> 16:06d}"


def _nanoseconds(fraction: int) -> int:
    return (fraction * 1_000_000_000) >> 32


def _timestamp(value: int) -> str:
    """A 32.32 NTP timestamp with its UTC date (none for a zero seconds part)."""
    seconds, fraction = value >> 32, value & 0xFFFFFFFF
    text = f"{seconds}.{_nanoseconds(fraction):09d}"
    if seconds:
        text += f" ({(_NTP_EPOCH + timedelta(seconds=seconds)):%Y-%m-%dT%H:%M:%SZ})"
    return text


def _difference(origin: int, other: int) -> str:
    """other - origin, signed ("-" also for zero); the other timestamp itself when origin is zero."""
    if origin == 0:
        return _timestamp(other)
    sign = "+" if other > origin else "-"
    magnitude = abs(other - origin)
    return f"{sign}{magnitude >> 32}.{_nanoseconds(magnitude & 0xFFFFFFFF):09d}"


def _reference_id(stratum: int, raw: bytes) -> str:
    if stratum in _INFO_STRATA:
        return ""
    if stratum == 0:
        return "(unspec)"
    if stratum == 1:
        return escaped(raw)
    return f"0x{raw.hex()}"


Piece = tuple[int, str]  # (bytes of the payload it needs, text)


def _time_message(payload: bytes, leap: str, length: int) -> list[Piece]:
    header = payload[: _TIME_MESSAGE.size].ljust(_TIME_MESSAGE.size, b"\0")
    (_, stratum, poll, precision, delay, dispersion, reference_id,
     reference, origin, receive, transmit) = _TIME_MESSAGE.unpack(header)
    pieces = [(1, leap), (2, f", Stratum {stratum} ({_stratum(stratum)})"), (3, f", {_poll(poll)}"),
              (4, f", precision {precision}"), (8, f"\n\tRoot Delay: {_short(delay)}"),
              (12, f", Root dispersion: {_short(dispersion)}"),
              (16, f", Reference-ID: {_reference_id(stratum, reference_id)}")]
    if stratum in _INFO_STRATA:  # tcpdump names the reference and stops there
        pieces.append((16, f"{'.'.join(map(str, reference_id))} {_INFO_STRATA[stratum]}"))
        return pieces
    timestamps = zip(_TIMESTAMP_NAMES, (reference, origin, receive, transmit), strict=True)
    for index, (name, value) in enumerate(timestamps):
        pieces.append((24 + 8 * index, f"\n\t  {name}{_timestamp(value)}"))
    pieces.append((48, f"\n\t    Originator - Receive Timestamp:  {_difference(origin, receive)}"))
    pieces.append((48, f"\n\t    Originator - Transmit Timestamp: {_difference(origin, transmit)}"))
    extra = length - _TIME_MESSAGE.size
    if extra in (4, 20, 24):
        key_id = int.from_bytes(payload[48:52].ljust(4, b"\0"), "big")
        pieces.append((52, f"\n\tKey id: {key_id}"))
        if extra > 4:
            pieces.append((length, f"\n\tAuthentication: {payload[52:length].hex()}"))
    elif extra:
        pieces.append((48, f"\n\t({extra} more bytes after the header)"))
    return pieces


def _control_message(payload: bytes, leap: str, length: int) -> list[Piece]:
    header = payload[: _CONTROL_MESSAGE.size].ljust(_CONTROL_MESSAGE.size, b"\0")
    _, flags, sequence, status, association, offset, count = _CONTROL_MESSAGE.unpack(header)
    kind = ("Response" if flags & 0x80 else "Request", "Error" if flags & 0x40 else "OK",
            "More" if flags & 0x20 else "Last", f"OpCode={flags & 0x1F}")
    pieces = [(1, leap), (2, ", " + ", ".join(kind) + "\n"), (4, f"\tSequence={sequence}"),
              (6, f", Status={f'0x{status:x}' if status else '0'}"), (8, f", Assoc.={association}"),
              (10, f", Offset={offset}"), (12, f", Count={count}")]
    if count:
        if _CONTROL_MESSAGE.size + count > length:
            pieces.append((12, " (invalid)"))
        else:
            pieces.append((12 + count, "\n\tTO-BE-DONE: data not interpreted"))
    pieces.append((length, ""))  # tcpdump checks the whole message was captured
    return pieces


def format_ntp(payload: bytes, verbose: int = 0, *, length: int | None = None) -> str:
    """What replaces "UDP, length N" for this NTP payload; `length` is the wire length if cut.

    Never raises. With `verbose` the detail lines follow, each after a newline and a tab, up to
    " [|ntp]" where a capture cut short ends.
    """
    if not payload:
        return " [|ntp]"
    length = max(length or 0, len(payload))
    first = payload[0]
    mode = first & 7
    text = f"NTPv{(first >> 3) & 7}, {_MODES[mode]}, length {length}"
    if not verbose:
        return text
    leap = f"\n\tLeap indicator: {_LEAP[first >> 6]} ({first & 0xC0})"
    if mode == _MODE_RESERVED:
        return text + leap
    message = _CONTROL_MESSAGE if mode == _MODE_CONTROL else _TIME_MESSAGE
    if length < message.size:
        return f"{text}{leap} (invalid)"
    pieces = (_control_message if mode == _MODE_CONTROL else _time_message)(payload, leap, length)
    parts = [text]
    for needed, piece in pieces:
        if needed > len(payload):
            parts.append(" [|ntp]")
            break
        parts.append(piece)
    return "".join(parts)

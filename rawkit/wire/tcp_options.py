"""TCP option codec. Options are (name, value) pairs, scapy's habit, so they read well in scripts:
("MSS", 1460), ("WScale", 7), ("SAckOK", b""), ("SAck", ((left, right), ...)),
("Timestamp", (tsval, tsecr)), ("MD5", 16 bytes), ("NOP", None), ("EOL", None),
and (kind, bytes) for any other kind, or for a known kind whose length is wrong."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

EOL, NOP, MSS, WSCALE, SACK_PERMITTED, SACK, TIMESTAMP, MD5 = 0, 1, 2, 3, 4, 5, 8, 19
FAST_OPEN, MPTCP, TCP_AO = 34, 30, 29

_SIZES = {MSS: 4, WSCALE: 3, SACK_PERMITTED: 2, TIMESTAMP: 10, MD5: 18}
NAMES = {EOL: "EOL", NOP: "NOP", MSS: "MSS", WSCALE: "WScale", SACK_PERMITTED: "SAckOK", SACK: "SAck",
         TIMESTAMP: "Timestamp", MD5: "MD5"}
KINDS = {name: kind for kind, name in NAMES.items()}
_TS = struct.Struct("!II")

Option = tuple[str | int, Any]


def parse(raw: bytes) -> tuple[list[Option], str | None]:
    """Decode options; stop at the first malformed one and say why in the second item."""
    options: list[Option] = []
    index, end = 0, len(raw)
    while index < end:
        kind = raw[index]
        if kind == EOL:
            options.append(("EOL", None))
            break
        if kind == NOP:
            options.append(("NOP", None))
            index += 1
            continue
        if index + 1 >= end:
            return options, f"option {kind} has no length byte"
        length = raw[index + 1]
        if length < 2:
            return options, f"option {kind} has bad length {length}"
        if index + length > end:
            return options, f"option {kind} length {length} overruns the header"
        options.append(_decode_one(kind, raw[index + 2 : index + length]))
        index += length
    return options, None


def _decode_one(kind: int, data: bytes) -> Option:
    expected = _SIZES.get(kind)
    if expected is not None and len(data) != expected - 2:
        return kind, data
    if kind == MSS:
        return "MSS", data[0] << 8 | data[1]
    if kind == WSCALE:
        return "WScale", data[0]
    if kind == SACK_PERMITTED:
        return "SAckOK", b""
    if kind == TIMESTAMP:
        return "Timestamp", _TS.unpack(data)
    if kind == MD5:
        return "MD5", data
    if kind == SACK:
        if len(data) % 8:
            return kind, data
        return "SAck", tuple(_TS.unpack_from(data, i) for i in range(0, len(data), 8))
    return kind, data


def encode(options: Iterable[Option] | bytes) -> bytes:
    """Encode and pad with EOL (zero) bytes to a multiple of 4, as the data offset needs."""
    if isinstance(options, bytes | bytearray):
        raw = bytes(options)
    else:
        raw = b"".join(_encode_one(name, value) for name, value in options)
    return raw + b"\x00" * (-len(raw) % 4)


def _encode_one(name: str | int, value: Any) -> bytes:
    kind = KINDS.get(name, name) if isinstance(name, str) else name
    if not isinstance(kind, int):
        raise ValueError(f"unknown TCP option {name!r}")
    if kind in (EOL, NOP):
        return bytes((kind,))
    if isinstance(value, bytes | bytearray) and (name not in KINDS or kind in (SACK_PERMITTED, MD5)):
        data = bytes(value)
    elif kind == MSS:
        data = int(value).to_bytes(2, "big")
    elif kind == WSCALE:
        data = bytes((int(value),))
    elif kind == SACK_PERMITTED:
        data = b""
    elif kind == TIMESTAMP:
        data = _TS.pack(*value)
    elif kind == SACK:
        data = b"".join(_TS.pack(left, right) for left, right in value)
    else:
        data = bytes(value or b"")
    return bytes((kind, len(data) + 2)) + data

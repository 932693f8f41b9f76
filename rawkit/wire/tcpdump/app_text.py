"""Bytes shown as text the way tcpdump's application printers show them: ^X for control bytes, M- for
the high half ("\\x00" -> "^@", "\\x7f" -> "^?", "\\xff" -> "M-^?")."""

from __future__ import annotations

import re


def _char(byte: int) -> str:
    prefix = ""
    if byte >= 0x80:
        prefix, byte = "M-", byte & 0x7F
    if byte < 0x20:
        return f"{prefix}^{chr(byte + 0x40)}"
    if byte == 0x7F:
        return f"{prefix}^?"
    return prefix + chr(byte)


CHARS = tuple(_char(byte) for byte in range(256))


_PLAIN = re.compile(rb"[\x20-\x7e]*")


def escaped(data: bytes) -> str:
    if _PLAIN.fullmatch(data):
        return data.decode("ascii")
    return "".join([CHARS[byte] for byte in data])

"""tcpdump's hex dumps: -x (hex), -X (hex and ASCII), -A (ASCII), and the dump of undecoded data."""

from __future__ import annotations

_PRINTABLE = "".join(chr(b) if 0x20 < b < 0x7F else "." for b in range(256))
_ASCII_TABLE = str.maketrans({b: (chr(b) if 0x20 <= b < 0x7F or b in (9, 10) else ".") for b in range(256)})


def _words(chunk: bytes) -> str:
    text = chunk.hex()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def hex_lines(data: bytes, ascii_column: bool, indent: str = "\n\t") -> str:
    """Lines of 16 bytes: '\\n\\t0x0010:  4500 0028 ...' with the optional ASCII column."""
    parts = []
    for start in range(0, len(data), 16):
        chunk = data[start : start + 16]
        if ascii_column:
            parts.append(f"{indent}0x{start:04x}:  {_words(chunk):<39s}  "
                         f"{''.join(_PRINTABLE[b] for b in chunk)}")
        else:
            parts.append(f"{indent}0x{start:04x}:  {_words(chunk)}")
    return "".join(parts)


def ascii_dump(data: bytes) -> str:
    """-A: the bytes as text, non-printables as dots, tabs and newlines kept, CR before LF dropped."""
    if not data:
        return ""
    return "\n" + data.decode("latin-1").replace("\r\n", "\n").translate(_ASCII_TABLE)


def undecoded(hex_mode: str | None, data: bytes) -> str:
    """The dump tcpdump adds for a link payload it cannot decode; left out when -x/-X dump it anyway."""
    return "" if hex_mode and hex_mode != "A" else hex_lines(data, True)

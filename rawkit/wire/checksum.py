"""The Internet checksum (RFC 1071) and the TCP/UDP/ICMPv6 pseudo-headers.

The ones' complement sum of 16-bit words equals the big integer of the (even-padded) bytes
modulo 0xFFFF, because 2**16 == 1 (mod 0xFFFF). One `int.from_bytes` is far faster in Python
than a loop over words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Buffer = bytes | bytearray | memoryview


def ones_sum(data: Buffer, initial: int = 0) -> int:
    """Ones' complement sum of `data` as 16-bit big-endian words, plus `initial` (0..0xFFFF)."""
    raw = bytes(data)
    if len(raw) & 1:
        raw += b"\x00"
    total = int.from_bytes(raw, "big") + initial
    if total == 0:
        return 0
    folded = total % 0xFFFF
    return folded or 0xFFFF


def internet_checksum(data: Buffer, initial: int = 0) -> int:
    """The value to store in a checksum field: complement of the ones' complement sum."""
    return ~ones_sum(data, initial) & 0xFFFF


def pseudo_header_sum(src: bytes, dst: bytes, proto: int, length: int) -> int:
    """Sum of the IPv4 (4-byte addresses) or IPv6 (16-byte addresses) pseudo-header."""
    if len(src) == 4:
        extra = bytes((0, proto)) + length.to_bytes(2, "big")
    else:
        extra = length.to_bytes(4, "big") + bytes((0, 0, 0, proto))
    return ones_sum(src + dst + extra)


def verify(data: Buffer, initial: int = 0) -> bool:
    """True when a block that includes its own checksum field sums to all ones."""
    return ones_sum(data, initial) == 0xFFFF


def verify_l4(buf: bytes, off: int, end: int, ip: Any, proto: int) -> bool | None:
    """Check a TCP/UDP/ICMPv6 checksum over buf[off:end] under the IP view `ip`.

    None when it cannot be checked: not all captured, a fragment, or no IP header."""
    if ip is None or end > len(buf) or ip.is_fragment:
        return None
    return ones_sum(buf[off:end], ip.pseudo_header_sum(proto, end - off)) == 0xFFFF


def l4_checksum(segment: bytes, below: Sequence[Any], proto: int) -> int:
    """Checksum for a segment built above the nearest IP builder in `below` (no pseudo-header without one)."""
    final_dst = None  # an IPv6 routing header in between may name the final destination
    for layer in reversed(below):
        if hasattr(layer, "pseudo_header_sum"):
            return internet_checksum(segment, layer.pseudo_header_sum(proto, len(segment), final_dst))
        if hasattr(layer, "final_destination"):
            final_dst = final_dst or layer.final_destination()  # the innermost routing header wins
    return internet_checksum(segment)

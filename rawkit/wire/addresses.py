"""Address text <-> bytes for MAC, IPv4 and IPv6, as packet people write them."""

from __future__ import annotations

import socket

# IPv4 text by the address as a 32-bit int: what a struct unpack of a header gives, and an int
# hashes for free where a 4-byte slice costs a copy and a hash
_ip4_cache: dict[int, str] = {}
_CACHE_LIMIT = 1 << 16


cached_ip4_text = _ip4_cache.get  # a hit-only lookup by int, for hot paths that fall back to ip4_int_text


def ip4_int_text(value: int) -> str:
    """Dotted quad of an address given as an int. Captures repeat the same few addresses, so a
    bounded cache beats formatting."""
    text = _ip4_cache.get(value)
    if text is None:
        if len(_ip4_cache) >= _CACHE_LIMIT:
            _ip4_cache.clear()
        text = _ip4_cache[value] = socket.inet_ntoa(value.to_bytes(4, "big"))
    return text


def ip4_text(raw: bytes) -> str:
    """Dotted quad of 4 address bytes."""
    if len(raw) != 4:
        return socket.inet_ntoa(raw)  # raises, as for any wrong length
    return ip4_int_text(int.from_bytes(raw, "big"))


_ip6_cache: dict[bytes, str] = {}
cached_ip6_text = _ip6_cache.get  # as cached_ip4_text


def ip6_text(raw: bytes) -> str:
    text = _ip6_cache.get(raw)
    if text is None:
        if len(_ip6_cache) >= _CACHE_LIMIT:
            _ip6_cache.clear()
        text = _ip6_cache[raw] = socket.inet_ntop(socket.AF_INET6, raw)
    return text


def mac_text(raw: bytes) -> str:
    return raw.hex(":")


def mac_bytes(text: str | bytes) -> bytes:
    """Accepts 'aa:bb:cc:dd:ee:ff', 'aa-bb-...', or 6 raw bytes."""
    if isinstance(text, bytes | bytearray):
        if len(text) != 6:
            raise ValueError(f"MAC address must be 6 bytes, got {len(text)}")
        return bytes(text)
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6:
        raise ValueError(f"bad MAC address {text!r}")
    try:
        return bytes(int(part, 16) for part in parts)
    except ValueError:
        raise ValueError(f"bad MAC address {text!r}") from None


def ip4_bytes(text: str | bytes) -> bytes:
    if isinstance(text, bytes | bytearray):
        if len(text) != 4:
            raise ValueError(f"IPv4 address must be 4 bytes, got {len(text)}")
        return bytes(text)
    try:
        return socket.inet_aton(text) if text.count(".") == 3 else _bad_ip4(text)
    except OSError:
        return _bad_ip4(text)


def _bad_ip4(text: str) -> bytes:
    raise ValueError(f"bad IPv4 address {text!r}")


def ip6_bytes(text: str | bytes) -> bytes:
    if isinstance(text, bytes | bytearray):
        if len(text) != 16:
            raise ValueError(f"IPv6 address must be 16 bytes, got {len(text)}")
        return bytes(text)
    try:
        return socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        raise ValueError(f"bad IPv6 address {text!r}") from None

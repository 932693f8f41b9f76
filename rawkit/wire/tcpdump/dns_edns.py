"""EDNS(0) options inside an OPT record as tcpdump 4.99 prints them, e.g. "ECS 198.18.0.0/24/0".

Written from tcpdump's observed output: an empty option prints its name alone, an option whose
length does not fit its kind prints "NAME  (invalid)", unknown codes print "OptN" and the value in hex.
"""

from __future__ import annotations

import socket
import struct

from rawkit.wire.tcpdump.app_text import escaped

_OPTION_NAMES = {1: "LLQ", 2: "UL", 3: "NSID", 5: "DAU", 6: "DHU", 7: "N3U", 8: "ECS", 9: "EXPIRE",
                 10: "COOKIE", 11: "KEEPALIVE", 12: "PADDING", 13: "CHAIN", 14: "KEY-TAG",
                 16: "CLIENT-TAG", 17: "SERVER-TAG"}
_DNSSEC_ALGORITHMS = {0: "DELETE", 1: "RSAMD5", 2: "DH", 3: "DS", 5: "RSASHA1", 6: "DSA-NSEC3-SHA1",
                      7: "RSASHA1-NSEC3-SHA1", 8: "RSASHA256", 10: "RSASHA512", 12: "ECC-GOST",
                      13: "ECDSAP256SHA256", 14: "ECDSAP384SHA384", 15: "ED25519", 16: "ED448",
                      253: "PRIVATEDNS", 254: "PRIVATEOID"}
_DS_DIGESTS = {1: "SHA-1", 2: "SHA-256", 3: "GOST_R_34.11-94", 4: "SHA-384"}
_NSEC3_HASHES = {1: "SHA-1"}
_ECS_FAMILIES = {1: (socket.AF_INET, 4), 2: (socket.AF_INET6, 16)}
_DAU, _DHU, _N3U, _ECS, _EXPIRE, _COOKIE, _KEEPALIVE, _PADDING, _CHAIN, _KEY_TAG = (
    5, 6, 7, 8, 9, 10, 11, 12, 13, 14)


class _Invalid(Exception):
    """The option's length or contents do not fit its kind."""


class OptionCutShort(Exception):
    """The option runs past the captured bytes; `text` is what tcpdump printed of it before " [|domain]"."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def option_name(code: int) -> str:
    return _OPTION_NAMES.get(code) or f"Opt{code}"


def format_option(code: int, value: bytes) -> str:
    """One option as "NAME value"."""
    name = option_name(code)
    if not value:
        return name
    try:
        return f"{name} {_value(code, value)}"
    except _Invalid:
        return f"{name}  (invalid)"
    except OptionCutShort as cut:
        raise OptionCutShort(f"{name} {cut.text}") from None


def _value(code: int, value: bytes) -> str:
    if code == _DAU:
        return " ".join(_DNSSEC_ALGORITHMS.get(byte) or f"Alg_{byte}" for byte in value)
    if code == _DHU:
        return " ".join(_DS_DIGESTS.get(byte) or f"Alg_{byte}" for byte in value)
    if code == _N3U:
        return " ".join(_NSEC3_HASHES.get(byte) or f"Alg_{byte}" for byte in value)
    if code == _ECS:
        return _client_subnet(value)
    if code == _EXPIRE:
        _expect(len(value) == 4)
        return f"{struct.unpack('>I', value)[0]} sec"
    if code == _COOKIE:
        _expect(len(value) == 8 or 16 <= len(value) <= 40)
        return value[:8].hex() + (f" {value[8:].hex()}" if len(value) > 8 else "")
    if code == _KEEPALIVE:
        _expect(len(value) == 2)
        tenths = struct.unpack(">H", value)[0]
        return f"{tenths // 10}.{tenths % 10} sec"
    if code == _PADDING:
        return f"({len(value)})"
    if code == _CHAIN:
        return _chain_name(value)
    if code == _KEY_TAG:
        _expect(len(value) % 2 == 0)
        return " ".join(str(tag) for (tag,) in struct.iter_unpack(">H", value))
    return value.hex()


def _expect(condition: bool) -> None:
    if not condition:
        raise _Invalid


def _client_subnet(value: bytes) -> str:
    _expect(len(value) >= 4)
    family, source_bits, scope_bits = struct.unpack_from(">HBB", value)
    _expect(family in _ECS_FAMILIES)
    address_family, size = _ECS_FAMILIES[family]
    _expect(source_bits <= size * 8 and scope_bits <= size * 8)
    address = value[4:]
    _expect(len(address) == (source_bits + 7) // 8)
    address = address + bytes(size - len(address))
    return f"{socket.inet_ntop(address_family, address)}/{source_bits}/{scope_bits}"


def _chain_name(value: bytes) -> str:
    """The closest trust point name: uncompressed, cut off quietly at the option's end."""
    if value[0] == 0:
        return "."
    parts = []
    offset = 0
    while offset < len(value):
        length = value[offset]
        kind = length & 0xC0
        if length == 0 or kind == 0xC0:
            break
        if length == 0x41:
            if offset + 1 == len(value):
                break
            bits = value[offset + 1]
            size = ((bits or 256) + 7) // 8
            label = value[offset + 2 : offset + 2 + size]
            if len(label) < size:
                raise OptionCutShort("".join(parts) + "\\[x" + label.hex())
            parts.append(bitstring_text(label, bits or 256) + ".")
            offset += 2 + size
            continue
        if kind == 0x40:
            parts.append(f"<ELT {length & 0x3F}>")
            break
        if kind == 0x80:
            parts.append("<BAD LABEL TYPE>")
            break
        label = value[offset + 1 : offset + 1 + length]
        parts.append(escaped(label))
        if len(label) < length:
            break
        parts.append(".")
        offset += 1 + length
    return "".join(parts)


def bitstring_text(value: bytes, bits: int) -> str:
    """An RFC 2673 bit-string label as tcpdump prints it: \\[xHEX/BITS]."""
    whole, rest = divmod(bits, 8)
    digits = value[:whole].hex()
    if rest:
        last = value[whole] & (0xFF << (8 - rest)) & 0xFF
        digits += f"{last >> 4:x}" if rest <= 4 else f"{last:02x}"
    return f"\\[x{digits}/{bits}]"

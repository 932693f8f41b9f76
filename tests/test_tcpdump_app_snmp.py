"""SNMP (v1, v2c, v3) against tcpdump -nn and -v: a table of messages, then mutations of it."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tcpdump_app_support import tcpdump_texts

from rawkit.wire.tcpdump.snmp import format_snmp
from tests.conftest import needs_tool


def _tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 128:
        return bytes([tag, size]) + content
    return bytes([tag, 0x82]) + size.to_bytes(2, "big") + content


def _integer(value: int) -> bytes:
    return _tlv(2, value.to_bytes((value.bit_length() + 8) // 8 or 1, "big", signed=True))


def _octets(value: bytes) -> bytes:
    return _tlv(4, value)


def _oid(dotted: str) -> bytes:
    numbers = [int(part) for part in dotted.split(".")]
    encoded = bytes([numbers[0] * 40 + numbers[1]])
    for number in numbers[2:]:
        groups = [number & 0x7F]
        number >>= 7
        while number:
            groups.append(0x80 | (number & 0x7F))
            number >>= 7
        encoded += bytes(reversed(groups))
    return _tlv(6, encoded)


def _sequence(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _binding(name: str, value: bytes = b"\x05\x00") -> bytes:
    return _sequence(_oid(name), value)


def _pdu(tag: int, bindings: list[bytes], request_id: int = 5, status: int = 0, index: int = 0) -> bytes:
    return _tlv(tag, _integer(request_id) + _integer(status) + _integer(index) + _sequence(*bindings))


def _message(version: int, community: bytes, pdu: bytes) -> bytes:
    return _sequence(_integer(version), _octets(community), pdu)


SYS_DESCR = "1.3.6.1.2.1.1.1.0"
VALUES = [_octets(b"abc"), _octets(b"a\x00b\xff"), _octets(b""), _octets(b"a b~\t"), _integer(0),
          _integer(-1), _integer(2**31), _tlv(2, b"\x01\x02\x03\x04\x05"), _tlv(2, b""),
          _tlv(0x40, b"\x0a\x00\x00\x01"),
          _tlv(0x40, b"\x0a\x00\x01"), _tlv(0x41, b"\x05"), _tlv(0x42, b"\x00\xff\xff\xff\xff"),
          _tlv(0x43, b"\xff" * 5),
          _tlv(0x44, b"\x01\x02"), _tlv(0x46, b"\x01" * 9), _oid("1.3.6.1.4.1.311"), _tlv(6, b""),
          _tlv(6, b"\xff\xff\xcd\xff\x7f"), _tlv(6, b"\xb3\x03"), _sequence()]


def _trap(generic: int, specific: int) -> bytes:
    uptime = _tlv(0x43, b"\x05")
    return _tlv(0xA4, _oid("1.3.6.1.4.1.8072") + _tlv(0x40, b"\x0a\x00\x00\x01") + _integer(generic)
                + _integer(specific) + uptime + _sequence(_binding("1.3.6.1.2.1.1.3.0", uptime)))


def _version3(flags: int, pdu: bytes, model: int = 3) -> bytes:
    security = _sequence(_octets(b"\x80\x00\x1f\x88\x80"), _integer(3), _integer(100), _octets(b"user"),
                         _octets(b"\xaa" * 12), _octets(b"\xbb" * 8))
    header = _sequence(_integer(7), _integer(65507), _octets(bytes([flags])), _integer(model))
    scoped = _sequence(_octets(b"\x80\x00\x1f\x88"), _octets(b""), pdu)
    return _sequence(_integer(3), header, _octets(security), scoped)


def _table() -> list[bytes]:
    messages = [_message(version, community, _pdu(tag, [_binding(SYS_DESCR)]))
                for version in (0, 1) for community in (b"public", b"private", b"", b"pub\x01")
                for tag in range(0xA0, 0xA9)]
    messages += [_message(1, b"public", _pdu(0xA2, [_binding(SYS_DESCR, bytes([identifier, 2, 1, 2]))]))
                 for identifier in range(256) if identifier & 0x1F != 0x1F]
    messages += [_message(1, b"public", _pdu(0xA2, [_binding(SYS_DESCR, value)])) for value in VALUES]
    messages += [_message(1, b"public", _pdu(0xA2, [_binding(SYS_DESCR)], status=status, index=index))
                 for status in (0, 1, 2, 5, 18, 19, -1) for index in (0, 2)]
    messages += [_message(0, b"public", _trap(generic, specific))
                 for generic in range(-1, 9) for specific in (0, 17)]
    messages += [_version3(flags, _pdu(tag, [_binding(SYS_DESCR, _octets(b"x"))]))
                 for flags in range(8) for tag in (0xA0, 0xA2, 0xA4, 0xA8)]
    messages += [_version3(4, _pdu(0xA0, []), model=1)]
    good = _message(1, b"public", _pdu(0xA0, [_binding(SYS_DESCR)]))
    messages += [good[:size] for size in range(len(good))]
    messages += [b"\x31" + good[1:], b"\x30\x80" + good[2:], good + b"\x00\x00", b"\xdf"]
    return messages


TABLE = _table()


def _mutations(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    sources = [message for message in TABLE if message]
    mutated = []
    for _ in range(count):
        message = bytearray(rng.choice(sources))
        for _ in range(rng.randrange(1, 3)):
            message[rng.randrange(len(message))] = rng.randrange(256)
        mutated.append(bytes(message))
    return mutated


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 1])
def test_snmp_matches_tcpdump(verbose: int) -> None:
    payloads = TABLE + _mutations(verbose + 161, 3000)
    items = [("udp", 40000, 161, payload) for payload in payloads]
    items += [("udp", 162, 40000, payload) for payload in TABLE[:20]]
    items += [("udp", 40000, 161, TABLE[0], kept) for kept in (0, 5, len(TABLE[0]) - 1)]
    expected = tcpdump_texts(items, *(("-v",) if verbose else ()))
    got = [format_snmp(item[3][: item[4]] if len(item) > 4 else item[3], verbose, length=len(item[3]))
           for item in items]
    assert [(item[3].hex(), ours, theirs) for item, ours, theirs in zip(items, got, expected, strict=True)
            if ours != theirs] == []


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.integers(0, 2))
def test_random_bytes_never_raise(payload: bytes, verbose: int) -> None:
    assert format_snmp(payload, verbose).startswith(" ")

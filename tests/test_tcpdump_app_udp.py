"""NTP, BOOTP/DHCP, DHCPv6 and syslog against tcpdump -nn, -v and -vv."""

from __future__ import annotations

import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tcpdump_app_support import a, tcpdump_texts

from rawkit.wire.tcpdump.dhcp import format_dhcp
from rawkit.wire.tcpdump.dhcp6 import format_dhcp6
from rawkit.wire.tcpdump.ntp import format_ntp
from rawkit.wire.tcpdump.syslog import format_syslog
from tests.conftest import needs_tool


def _bootp(op: int, htype: int = 1, hlen: int = 6, options: bytes = b"\x63\x82\x53\x63\x35\x01\x01\xff",
           **addresses: bytes) -> bytes:
    fields = [addresses.get(name, bytes(4)) for name in ("ciaddr", "yiaddr", "siaddr", "giaddr")]
    return (struct.pack(">BBBBIHH", op, htype, hlen, 0, 0x12345678, 0, 0) + b"".join(fields)
            + bytes.fromhex("020000000001").ljust(16, b"\0") + bytes(192) + options)


NTP_PAYLOADS = [bytes([(leap << 6) | (version << 3) | mode]) + bytes(47)
                for leap in (0, 3) for version in range(8) for mode in range(8)]
NTP_PAYLOADS += [b"", b"\x23", b"\x23" + bytes(10), b"\x23" + bytes(67), b"\x16\x02\x00\x01" + bytes(8)]
DHCP_PAYLOADS = [_bootp(1), _bootp(2), _bootp(3), _bootp(0), _bootp(1, options=b""), _bootp(1, htype=6),
                 _bootp(1, hlen=8), _bootp(1, hlen=0), _bootp(2, yiaddr=a("198.18.0.9")), b"", b"\x01"]
DHCP_PAYLOADS += [_bootp(op)[:size] for op in (1, 2, 5) for size in range(1, 40)]
DHCP_PAYLOADS += [_bootp(1, htype=6)[:size] for size in range(1, 8)]
SYSLOG_PAYLOADS = [b"<%d>x" % priority for priority in range(200)] + [
    b"", b"<", b"<1", b"<1>", b"<a>x", b"x<1>", b"<0001>x", b"<191>", b"<9999>x", b"<1x>", b"< 1>x", b"<>x",
    b"<3", b"<12", b"<123", b"<1234", b"<34>" + bytes(range(256)), b"<34>Oct 11 22:14:15 host su: fail\n"]


@needs_tool("tcpdump")
def test_ntp_matches_tcpdump() -> None:
    items = [("udp", 123, 123, payload) for payload in NTP_PAYLOADS]
    items += [("udp", 40000, 123, NTP_PAYLOADS[1]), ("udp6", 123, 40000, NTP_PAYLOADS[2])]
    items += [("udp", 123, 40000, NTP_PAYLOADS[35], kept) for kept in (0, 1, 20)]
    expected = tcpdump_texts(items)
    got = [format_ntp(payload[: item[4]] if len(item) > 4 else payload, length=len(payload))
           for item in items for payload in [item[3]]]
    assert [(item[3].hex(), ours, theirs) for item, ours, theirs in zip(items, got, expected, strict=True)
            if ours != theirs] == []


@needs_tool("tcpdump")
def test_dhcp_matches_tcpdump() -> None:
    items = [("udp", 68, 67, payload) for payload in DHCP_PAYLOADS]
    items += [("udp", 67, 68, DHCP_PAYLOADS[1]), ("udp", 40000, 67, DHCP_PAYLOADS[0]),
              ("udp", 68, 40000, DHCP_PAYLOADS[0])]
    items += [("udp", 68, 67, DHCP_PAYLOADS[0], kept) for kept in (0, 2, 3, 33, 34, 100)]
    expected = tcpdump_texts(items)
    got = [format_dhcp(payload[: item[4]] if len(item) > 4 else payload, length=len(payload))
           for item in items for payload in [item[3]]]
    assert [(item[3].hex(), ours, theirs) for item, ours, theirs in zip(items, got, expected, strict=True)
            if ours != theirs] == []


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_syslog_matches_tcpdump(verbose: int) -> None:
    items = [("udp", 40000, 514, payload) for payload in SYSLOG_PAYLOADS]
    items += [("udp", 514, 40000, b"<34>x"), ("udp6", 514, 514, b"<34>x")]
    items += [("udp", 40000, 514, b"<34>abcdef", kept) for kept in (0, 2, 4, 6)]
    expected = tcpdump_texts(items, *(("-" + "v" * verbose,) if verbose else ()))
    got = [format_syslog(payload[: item[4]] if len(item) > 4 else payload, verbose, length=len(payload))
           for item in items for payload in [item[3]]]
    assert [(item[3].hex(), ours, theirs) for item, ours, theirs in zip(items, got, expected, strict=True)
            if ours != theirs] == []


@needs_tool("tcpdump")
def test_random_payloads_match_tcpdump() -> None:
    rng = random.Random(123)
    payloads = [rng.randbytes(rng.randrange(0, 60)) for _ in range(200)]
    payloads += [b"<" + rng.choice([b"1", b"12", b"999", b"a", b""]) + rng.choice([b">", b"", b">x"])
                 for _ in range(50)]
    items = [("udp", 40000, port, payload) for port in (123, 67, 514) for payload in payloads]
    expected = tcpdump_texts(items)
    printers = {123: format_ntp, 67: format_dhcp, 514: format_syslog}
    got = [printers[port](payload) for _, _, port, payload in items]
    assert [(port, payload.hex(), ours, theirs)
            for (_, _, port, payload), ours, theirs in zip(items, got, expected, strict=True)
            if ours != theirs] == []


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 3), st.integers(0, 600))
def test_random_bytes_never_raise(payload: bytes, verbose: int, length: int) -> None:
    for printer in (format_ntp, format_dhcp, format_syslog):
        assert isinstance(printer(payload, verbose), str)
        assert isinstance(printer(payload, verbose, length=length), str)
    assert format_dhcp6(payload).startswith("dhcp6 ")


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=236, max_size=236), st.binary(max_size=200), st.integers(0, 2))
def test_random_dhcp_options_never_raise(header: bytes, options: bytes, verbose: int) -> None:
    payload = header + b"\x63\x82\x53\x63" + options
    assert format_dhcp(payload, verbose).startswith("BOOTP/DHCP")


def _random_ntp(seed: int, count: int) -> list[tuple[bytes, int]]:
    """(message, bytes captured): time and control messages with random fields, trailers and cuts."""
    rng = random.Random(seed)
    messages = []
    for _ in range(count):
        header = bytearray(rng.randbytes(48))
        header[0] = (header[0] & 0xF8) | rng.randrange(8)
        if rng.random() < 0.3:
            header[1] = rng.choice((0, 1, 2, 16, 62, 63))
        if rng.random() < 0.3:
            for start in range(16, 48, 8):
                if rng.random() < 0.5:
                    header[start : start + 8] = bytes(8)
        if rng.random() < 0.2:
            header[24:32] = header[32:40]
        trailer = rng.choice((b"", bytes(4), rng.randbytes(20), rng.randbytes(24),
                              rng.randbytes(rng.randrange(1, 40))))
        payload = bytes(header) + trailer
        if payload[0] & 7 == 6 and rng.random() < 0.7:
            payload = payload[: 12 + rng.randrange(0, 20)]
        kept = rng.randrange(len(payload) + 1) if rng.random() < 0.4 else len(payload)
        messages.append((payload, kept))
    return messages


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_ntp_details_match_tcpdump(verbose: int) -> None:
    messages = _random_ntp(verbose, 1500)
    server = bytes([0x24, 2, 3, 0xE9]) + bytes(8) + b"\xc6\x12\x00\x01" + struct.pack(">8I", *range(8))
    control = b"\x16\x02\x00\x01\x00\x00\x00\x00\x00\x00\x00\x04abcd"
    messages += [(server, 48), (control[:12], 12), (control, 16)]
    items = [("udp", 123, 123, payload, kept) for payload, kept in messages]
    expected = tcpdump_texts(items, *(("-" + "v" * verbose,) if verbose else ()))
    got = [format_ntp(payload[:kept], verbose, length=len(payload)) for payload, kept in messages]
    assert [(payload.hex(), kept, ours, theirs)
            for (payload, kept), ours, theirs in zip(messages, got, expected, strict=True)
            if ours != theirs] == []


def _dhcp_with_options(options: bytes, op: int = 1) -> bytes:
    return _bootp(op, options=b"\x63\x82\x53\x63" + options + b"\xff")


def _random_dhcp(seed: int, count: int) -> list[tuple[bytes, int]]:
    """(message, bytes captured): random header fields, names, cookies and typed option values."""
    rng = random.Random(seed)
    common = (0, 53, 53, 55, 61, 12, 50, 54, 51, 1, 3, 6, 15, 58, 59, 60, 28, 57, 2, 19, 23, 46, 52, 21, 33,
              62, 99, 252, 77, 81, 82, 121, 249, 91)
    messages = []
    for _ in range(count):
        htype, hlen = rng.choice([(1, 6)] * 6 + [(6, 6), (1, 8), (1, 0)])
        fixed = struct.pack(">BBBBIHH", rng.choice((1, 1, 2, 2, 3)), htype, hlen, rng.choice((0, 0, 1, 4)),
                            rng.randrange(1 << 32), rng.choice((0, 0, 3, 65535)), rng.choice((0, 0x8000, 1)))
        fixed += b"".join(rng.randbytes(4) if rng.random() < 0.3 else bytes(4) for _ in range(4))
        fixed += rng.randbytes(16)
        sname = rng.choice((b"", b"srv", b"a\x01\xff")).ljust(64, b"\0") if rng.random() < 0.95 else b"x" * 64
        boot_file = rng.choice((b"", b"boot.img")).ljust(128, b"\0") if rng.random() < 0.95 else b"y" * 128
        cookie = b"\x63\x82\x53\x63"
        if rng.random() < 0.1:
            cookie = rng.choice((b"", bytes(4), b"\x00\x00\x00\x01"))
        options = b""
        for _ in range(rng.randrange(0, 8)):
            code = rng.choice(common) if rng.random() < 0.85 else rng.randrange(1, 255)
            if code == 0:
                options += b"\0"
                continue
            if code == 53:
                value = bytes([rng.randrange(20)])
            elif code == 55:
                value = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12)))
            elif code == 61:
                value = rng.choice((b"\x01" + rng.randbytes(6), b"\x00abc",
                                    rng.randbytes(rng.randrange(0, 9))))
            elif code in (121, 249):
                value = b"".join(bytes([width]) + rng.randbytes(min(width, 40) // 8 + 4)
                                 for width in rng.choices((0, 8, 16, 24, 32, 9, 33), k=rng.randrange(1, 4)))
            elif code == 82:
                value = b"".join(bytes([sub, size]) + rng.randbytes(size)
                                 for sub, size in ((rng.choice((1, 2, 6, 9)), rng.randrange(0, 6)),) * 2)
            elif code == 77:
                value = b"".join(bytes([size]) + rng.randbytes(size) for size in (rng.randrange(0, 5), 3))
            elif code == 81:
                name = rng.choice((b"host", b"\x04h\x00"))
                value = bytes([rng.randrange(256), rng.choice((0, 255)), 0]) + name
            else:
                value = rng.randbytes(rng.choice((0, 1, 2, 3, 4, 4, 5, 6, 8, 9, 12, 16)))
            if rng.random() < 0.1:
                value = value[: rng.randrange(len(value) + 1)]
            options += bytes([code, len(value)]) + value
        if rng.random() < 0.8:
            options += b"\xff"
        payload = fixed + sname + boot_file + cookie + options + bytes(rng.choice((0, 0, 7)))
        kept = rng.randrange(len(payload) + 1) if rng.random() < 0.2 else len(payload)
        messages.append((payload, kept))
    return messages


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [1, 2])
def test_dhcp_details_match_tcpdump(verbose: int) -> None:
    messages = _random_dhcp(verbose, 1500)
    values = (b"\x01\x02\x03\x04", b"ab", b"\x05", bytes(range(1, 9)), b"")
    messages += [(_dhcp_with_options(bytes([code, len(value)]) + value), -1)
                 for code in range(1, 255) for value in values]
    items = [("udp", 68, 67, payload, kept if kept >= 0 else len(payload)) for payload, kept in messages]
    expected = tcpdump_texts(items, "-" + "v" * verbose)
    got = [format_dhcp(payload[:kept], verbose, length=len(payload)) for *_, payload, kept in items]
    assert [(payload.hex(), kept, ours, theirs)
            for (*_, payload, kept), ours, theirs in zip(items, got, expected, strict=True)
            if ours != theirs] == []


@needs_tool("tcpdump")
def test_dhcp6_matches_tcpdump() -> None:
    rng = random.Random(546)
    payloads = [bytes([kind]) + rng.randbytes(rng.choice((3, 17, 40))) for kind in range(256)]
    payloads += [b"", b"\x01", b"\x01\x12", b"\x01\x12\x34", b"\x0c", b"\x0c\x00\x00"]
    items = [("udp6", 546, 547, payload) for payload in payloads]
    items += [("udp", 40000, 547, payloads[1]), ("udp6", 547, 40000, payloads[7]),
              ("udp6", 546, 547, payloads[3], 2)]
    expected = tcpdump_texts(items)
    got = [format_dhcp6(item[3][: item[4]] if len(item) > 4 else item[3]) for item in items]
    assert [(item, ours, theirs) for item, ours, theirs in zip(items, got, expected, strict=True)
            if ours != theirs] == []

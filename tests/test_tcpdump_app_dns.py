"""DNS one-liners against tcpdump -nn (and -v/-vv/-vvv) on a table of crafted messages."""

from __future__ import annotations

import ipaddress
import random
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tcpdump_app_support import (
    a,
    encode_name,
    message,
    opt_record,
    pointer,
    question,
    record,
    tcpdump_texts,
)

from rawkit.wire.tcpdump.dns import duration, format_dns
from tests.conftest import needs_tool


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack(">HH", code, len(value)) + value


def _labels(*sizes: int) -> bytes:
    return b"".join(bytes([size]) + b"x" * size for size in sizes)


Q = [question("example.com")]
AT_QNAME = pointer(12)


def _answer(rtype: int, rdata: bytes, **kwargs) -> bytes:
    return message(7, qr=True, ra=True, qd=Q, an=[record(AT_QNAME, rtype, rdata, **kwargs)])


def _dns_cases() -> list[bytes]:
    name = encode_name
    cases = [
        message(12345, qd=Q),
        message(12345, qr=True, ra=True, qd=Q, an=[record(AT_QNAME, 1, a("198.18.0.1")),
                                                   record(AT_QNAME, 1, a("198.18.0.2"))]),
        message(0, rd=False, qd=[question("_http._tcp.local", 12, 0x8001)]),
        message(7, qr=True, aa=True, rcode=3, qd=Q, ns=[record("com", 6, name("a.gtld") + name("nstld.v")
                                                            + struct.pack(">5I", 1, 2, 3, 4, 5))]),
        message(7, qr=True, ra=True, rcode=2, qd=Q),
        message(7, qr=True, ra=True, rcode=5, qd=Q),
        message(7, qd=[question("1.0.18.198.in-addr.arpa", 12)]),
        message(7, qd=[question("example.com", 28)], ar=[opt_record()]),
        message(7, qd=[question("example.com", 28)], ar=[opt_record(udp_size=1232, do=True)]),
        message(7, qd=Q + Q),
        message(7, qd=[]),
        message(7, qd=Q, an=[record("x", 1, a("1.2.3.4"))] * 2, ns=[record("x", 1, a("1.2.3.4"))] * 3,
                ar=[record("x", 1, a("1.2.3.4"))] * 2),
        message(7, opcode=1, qd=[], an=[record("x", 1, a("1.2.3.4"))]),
        message(7, opcode=1, qd=Q),
        message(7, qr=True, qd=Q + Q, an=[record("x", 1, a("1.2.3.4"))]),
        message(7, qr=True, qd=[], an=[record("x", 1, a("1.2.3.4"))]),
        message(7, qr=True, qd=Q, an=[record("x", 1, a("1.2.3.4"))], ns=[record("y", 2, name("ns.y"))],
                ar=[record("ns.y", 1, a("1.2.3.5")), opt_record()]),
        # flags and opcodes, queries and responses
        *(message(7, qr=qr, qd=Q, opcode=opcode, **{flag: True})
          for qr in (False, True) for opcode in (0, 1, 2, 4, 5, 6, 15)
          for flag in ("rd", "aa", "tc", "z", "ad", "cd", "ra")),
        *(message(7, qr=qr, rd=False, qd=Q, rcode=rcode) for qr in (False, True) for rcode in range(16)),
        *(message(7, qr=True, ra=True, ar=[opt_record(ext_rcode=ext)], rcode=rcode)
          for ext in (1, 2, 3, 255) for rcode in range(0, 16, 3)),
        # record types and rdata
        *(_answer(rtype, rdata) for rtype, rdata in [
            (28, ipaddress.ip_address("fd00:18::1").packed), (5, name("c.example.com")),
            (12, name("ptr.example")), (15, b"\x00\x0a" + name("mx.e")), (16, b"\x05hello\x00\x03a b"),
            (16, b""), (16, b'\x01"\x01\\\x02\x80\xff\x03a b\x01\x7f'),
            (6, name("ns.e") + name("host.e") + struct.pack(">5I", 1, 2, 3, 4, 5)),
            (6, name("ns.e") + AT_QNAME + struct.pack(">5I", 1, 2, 3, 4, 0xFFFFFFFF)),
            (33, struct.pack(">HHH", 1, 2, 5060) + name("sip.e")), (2, name("ns1.e")), (39, name("d.e")),
            (13, b"\x03x86\x05linux"), (1, b"\x01\x02\x03"), (28, b"\x01\x02\x03"),
            (38, b"\x40" + bytes(8) + name("pfx.e")), (38, b"\x00" + bytes(16)), (38, b"\x81" + bytes(16)),
            (38, b"\x80" + name("p.e")), (38, b"\x80"), (38, b"\x40" + bytes(3)),
            (38, b"\x79\x01" + name("p.e")),
            (104, b"abcd\x01"), (256, b"\x00\x01\x00\x02https://x/"), (257, b"\x00\x05issueca.com"),
            (250, name("hmac-md5.sig-alg.reg.int") + b"\x00\x00\x5f\x00\x00\x00\x01,\x00\x10"
             + b"\xaa" * 16 + b"\x12\x34\x00\x00\x00\x00"),
            (12345, b"abc"), (0, b""), (41, _opt(8, b"\x00\x01\x18\x00\xc6\x12\x00")),
        ]),
        *(_answer(rtype, b"\x01\x02\x03\x04" + name("x.e")) for rtype in [*range(1, 50), 99, 104, 249, 256]),
        *(_answer(1, a("1.2.3.4"), rclass=rclass) for rclass in (2, 3, 4, 254, 255, 0x8001, 0)),
        *(_answer(1, a("1.2.3.4"), ttl=ttl) for ttl in (0, 59, 3600, 90061, 604800 * 3 + 7, 0xFFFFFFFF)),
        *(message(7, qd=[question("e", qtype)])
          for qtype in (0, 1, 28, 41, 251, 252, 255, 256, 12345, 65535)),
        *(message(7, qd=[question("e", 1, qclass)]) for qclass in (0, 2, 3, 4, 255, 0x8001)),
        *(_answer(28, ipaddress.ip_address(address).packed) for address in (
            "::ffff:1.2.3.4", "::1.2.3.4", "::1", "::", "1::", "1:0:0:2:0:0:0:3", "::ffff:0:1.2.3.4",
            "64:ff9b::1.2.3.4", "fe80::1:0:0:1", "::2:0:0:1")),
        # names: escapes, root, compression, loops, bad pointers, label types, length limits
        message(7, qd=[question(b'\x03a.b\x01\\\x03\x80\xff\x7f\x02 "\x00')]),
        message(7, qd=[question(".")]),
        message(7, qr=True, qd=[question(".")], an=[record(AT_QNAME, 1, a("1.2.3.4"))]),
        message(7, qd=[question(pointer(12))]),
        message(7, qd=[question(b"\x01a" + pointer(12))]),
        message(7, qd=[question(pointer(200))]),
        message(7, qd=[question(pointer(3))]),
        message(7, qd=[question(b"\x01a" + pointer(14))]),
        message(7, qd=[question(pointer(19))], an=[record("fw.e", 1, a("1.2.3.4"))]),
        message(7, qr=True, qd=Q, an=[record(b"\x03www" + AT_QNAME, 1, a("1.2.3.4")),
                                      record(b"\x01x" + pointer(29), 1, a("1.2.3.5"))]),
        message(7, qr=True, qd=Q, an=[record(b"\x01c\x01d" + pointer(31), 1, a("1.2.3.4"))]),
        message(7, qr=True, qd=Q, an=[record(b"\x01c" + pointer(16), 1, a("1.2.3.4"))]),
        message(7, qr=True, qd=Q, an=[record(b"\x01c" + pointer(20), 1, a("1.2.3.4"))]),
        message(7, qr=True, qd=Q, an=[record(b"\x80", 1, a("1.2.3.4"))]),
        message(7, qr=True, qd=Q, an=[record(b"\x45", 1, a("1.2.3.4"))]),
        message(7, qr=True, qd=Q, an=[record(b"\x05ab", 1, b"")], counts=(1, 1, 0, 0)),
        *(message(7, qd=[question(label + b"\x00")]) for label in (
            b"\x41a", b"\x81a", b"\x41\x08\xff", b"\x41\x00", b"\x41\x10\xaa\xbb", b"\x41\x0c\xaa\xbb",
            b"\x41\x0c\xaa\xbb\x01a", b"\x41\x01\xab", b"\x41\x05\xab", b"\x41\x09\xab\xab",
            b"\x41\x00" + b"\xcd" * 32, b"\x42abc", b"\x7f", b"\x80", b"\xbf")),
        *(message(7, qd=[question(_labels(*sizes) + b"\x00")]) for sizes in (
            (63,), (63, 63, 63), (63, 63, 63, 62), (63, 63, 63, 63), (63, 63, 63, 61, 1), (63,) * 5,
            (63, 63, 63, 60, 2))),
        message(7, qr=True, qd=Q, an=[record(_labels(*(63,) * 5) + b"\x00", 1, a("1.2.3.4"))] * 2),
        message(7, qr=True, qd=Q, an=[record(_labels(63, 63, 63, 61, 1) + pointer(20), 1, a("1.2.3.4"))]),
        # truncated and inconsistent messages
        *(message(7, qd=Q)[:size] for size in (0, 2, 11, 12, 20, 27, 28)),
        message(7, qd=Q) + b"trailing",
        message(7, qr=True, qd=Q, an=[record(AT_QNAME, 1, a("1.2.3.4"))] * 3)[:-6],
        message(7, qr=True, qd=Q, an=[record(AT_QNAME, 1, a("1.2.3.4"))] * 3, counts=(1, 4, 0, 0))[:-6],
        message(7, qr=True, qd=Q, an=[record(AT_QNAME, 1, a("1.2.3.4"))], ns=[b"\xff\xff"],
                counts=(1, 1, 1, 0)),
        message(7, qr=True, qd=Q, an=[record(AT_QNAME, 1, a("1.2.3.4"))], ar=[b"\xff\xff"],
                counts=(1, 1, 0, 1)),
        message(7, qr=True, qd=Q, an=[record(AT_QNAME, 1, a("1.2.3.4"))], counts=(1, 2, 0, 0)),
        message(7, qr=True, qd=Q, an=[record(AT_QNAME, 1, a("1.2.3.4"))], counts=(1, 1, 1, 0)),
        message(7, qr=True, qd=[b"\xff"], counts=(1, 0, 0, 0)),
        message(7, qr=True, qd=[question("e")], counts=(3, 0, 0, 0)),
        message(7, qr=True, qd=[question("e")], an=[record("e", 1, a("1.2.3.4") + b"\x05")] * 2),
        message(7, qr=True, qd=[question("e")], an=[record("e", 1, a("1.2.3.4")[:2])] * 2),
        message(7, qr=True, qd=[question("e")], an=[record("e", 16, b"\x09abc")] * 2),
        message(7, qr=True, qd=[question("e")], an=[record("e", 16, b'\x01"')], counts=(1, 1, 0, 0)) + b"\0",
        _answer(1, a("1.2.3.4"))[:-6] + struct.pack(">H", 100) + a("1.2.3.4"),
        _answer(99, a("1.2.3.4"))[:-6] + struct.pack(">H", 100) + a("1.2.3.4"),
        # extended rcode search
        message(7, qr=True, rcode=1, qd=Q, an=[record(AT_QNAME, 1, a("1.2.3.4"))], counts=(1, 2, 0, 1)),
        message(7, qr=True, rcode=1, qd=Q, an=[record(AT_QNAME, 1, a("1.2.3.4"))],
                ar=[opt_record(ext_rcode=1)], counts=(1, 1, 0, 2)),
        message(7, qr=True, rcode=1, qd=Q, an=[record(AT_QNAME, 1, a("1.2.3.4"))],
                ar=[record("x", 1, a("1.1.1.1")), opt_record(ext_rcode=1)]),
        message(7, qr=True, rcode=1, qd=Q, ns=[record("y", 1, a("1.1.1.1"))], ar=[opt_record(ext_rcode=1)]),
        message(7, qr=True, rcode=1, qd=Q, an=[opt_record(ext_rcode=1)]),
        message(7, qr=True, rcode=1, qd=Q, ar=[opt_record(ext_rcode=1), opt_record(ext_rcode=2)]),
        message(7, qr=True, rcode=1, qd=Q, ar=[opt_record(ext_rcode=1)[:-3]]),
        message(7, qr=True, rcode=1, qd=Q + Q, ar=[opt_record(ext_rcode=1)], counts=(3, 0, 0, 1)),
        message(7, qd=Q, ar=[opt_record(udp_size=512, ext_rcode=1, version=1, do=True)]),
        message(7, qd=Q, ar=[record("x", 41, b"")]),
        message(7, qd=Q, ar=[opt_record(), opt_record()]),
    ]
    options = [
        _opt(8, b"\x00\x01\x18\x00\xc6\x12\x00"), _opt(8, b"\x00\x02\x38\x00" + bytes(7)),
        _opt(8, b"\x00\x01\x20\x10\x01\x02\x03\x04"), _opt(8, b""), _opt(10, bytes(range(8))),
        _opt(10, bytes(range(24))), _opt(10, b"\x01"), _opt(3, b""), _opt(3, b"ns1"), _opt(12, bytes(20)),
        _opt(11, b""), _opt(11, b"\x00\x64"), _opt(5, b"\x08\x0a"), _opt(6, b"\x01"), _opt(7, b"\x01"),
        _opt(9, b"\x00\x00\x00\x05"), _opt(13, b"\x00\x01"), _opt(14, b"\x01\x02"), _opt(15, b"\x00\x05abc"),
        _opt(99, b"xyz"), _opt(3, b"\x01\x02") + _opt(12, b""), b"\x00",
    ]
    cases += [message(7, qd=Q, ar=[opt_record(options=option)]) for option in options]
    return cases


DNS_CASES = _dns_cases()
MDNS_CASES = [
    message(0, rd=False, qd=[question("_http._tcp.local", 12, 0x8001), question("x.local"),
                             question("y.local", 1, 0x8003)]),
    message(0, qr=True, aa=True, rd=False, an=[record("x.local", 1, a("1.2.3.4"), rclass=rclass)
                                               for rclass in (0x8001, 1, 0x8003, 0x8000)]),
    *(message(0, qd=[question("x.local", 1, qclass)]) for qclass in (0x8000, 0, 0x80FF, 0x00FF)),
]


def _mismatches(items: list, got: list[str], expected: list[str]) -> list[tuple[str, str, str]]:
    """(payload hex, ours, tcpdump's) for every item where the two differ."""
    return [(item[3].hex(), ours, theirs) for item, ours, theirs in zip(items, got, expected, strict=True)
            if ours != theirs]


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 1, 2, 3])
def test_dns_over_udp_matches_tcpdump(verbose: int) -> None:
    flags = ("-" + "v" * verbose,) if verbose else ()
    items = [("udp", 53, 40000, payload) for payload in DNS_CASES]
    items += [("udp6", 40000, 53, payload) for payload in DNS_CASES[:10]]
    items += [("udp", 5353, 5353, payload) for payload in MDNS_CASES + DNS_CASES[:10]]
    items += [("udp", 40000, 5353, payload) for payload in MDNS_CASES]
    items += [("udp", 53, 5353, payload) for payload in MDNS_CASES]
    expected = tcpdump_texts(items, *flags)
    got = [format_dns(payload, False, verbose, mdns=5353 in (sport, dport) and 53 not in (sport, dport))
           for _, sport, dport, payload in items]
    assert _mismatches(items, got, expected) == []


def _prefixed(payload: bytes) -> bytes:
    return struct.pack(">H", len(payload)) + payload


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 2])
def test_dns_over_tcp_matches_tcpdump(verbose: int) -> None:
    query = message(7, qd=Q)
    payloads = [_prefixed(payload) for payload in DNS_CASES[:40] if payload]
    payloads += [b"\x00", b"\x00\x1d", _prefixed(query)[:10], _prefixed(query) * 2,
                 struct.pack(">H", 100) + query, struct.pack(">H", 5) + query, _prefixed(query[:11]),
                 _prefixed(query[:12]), _prefixed(b""), b"GET / HTTP/1.1\r\n"]
    items = [("tcp", 40000, 53, payload) for payload in payloads]
    items += [("tcp6", 53, 40000, payload) for payload in payloads[:5]]
    expected = tcpdump_texts(items, *(("-vv",) if verbose else ()))
    got = [format_dns(payload, True, verbose) for *_, payload in items]
    assert _mismatches(items, got, expected) == []


@needs_tool("tcpdump")
def test_random_records_match_tcpdump() -> None:
    """Random AAAA/A/TXT/MX/CNAME/SRV rdata and random names: address text, escapes and bounds agree."""
    rng = random.Random(4)
    payloads = []
    for _ in range(300):
        rtype = rng.choice((1, 28, 16, 15, 5, 33))
        rdata = rng.randbytes(rng.choice((2, 4, 16, 20)))
        if rtype == 28 and rng.random() < 0.5:
            rdata = bytes(rng.choice((0, 0, 1, 0xFF)) for _ in range(16))
        rname = rng.randbytes(rng.randrange(1, 12)) if rng.random() < 0.3 else AT_QNAME
        payloads.append(message(7, qr=True, qd=Q, an=[record(rname, rtype, rdata)]))
    for verbose in (0, 1):
        items = [("udp", 53, 40000, payload) for payload in payloads]
        expected = tcpdump_texts(items, *(("-v",) if verbose else ()))
        got = [format_dns(payload, False, verbose) for payload in payloads]
        assert _mismatches(items, got, expected) == []


def test_duration_units() -> None:
    assert [duration(s) for s in (0, 59, 3600, 90061, 0xFFFFFFFF)] == [
        "0s", "59s", "1h", "1d1h1m1s", "136y10w6h28m15s"]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.booleans(), st.integers(0, 3), st.booleans(), st.integers(0, 400))
def test_random_bytes_never_raise(payload: bytes, over_tcp: bool, verbose: int, mdns: bool,
                                  length: int) -> None:
    assert isinstance(format_dns(payload, over_tcp, verbose, mdns=mdns), str)
    assert isinstance(format_dns(payload, over_tcp, verbose, mdns=mdns, length=length), str)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=12, max_size=200), st.integers(0, 3))
def test_mutated_messages_never_raise(tail: bytes, verbose: int) -> None:
    payload = message(7, qr=True, qd=Q, counts=(1, 3, 2, 2)) + tail
    assert format_dns(payload, False, verbose).endswith(("]", ")"))


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 1, 2, 3])
def test_dns_cut_by_snap_length_matches_tcpdump(verbose: int) -> None:
    """A short snap length keeps part of the message: tcpdump reads what was captured, counts the rest."""
    messages = DNS_CASES[:20] + DNS_CASES[-30:] + [
        message(7, qr=True, rcode=1, qd=Q, an=[record(AT_QNAME, 16, b"\x05hello\x05world"),
                                               record(AT_QNAME, 1, a("1.2.3.4"))],
                ar=[opt_record(ext_rcode=1, options=_opt(10, bytes(8)))]),
        message(7, qr=True, qd=Q, an=[record(b"\x07example\x03com\x00", 5, b"\x01x\x07example\x00")]),
        message(7, qr=True, qd=Q, an=[record(AT_QNAME, 15, b"\x00\x05\x02mx\xc0\x0c")] * 2),
        message(7, qd=Q, an=[record(AT_QNAME, 1, a("1.2.3.4"))]),
    ]
    items = [("udp", 53, 40000, payload, kept) for payload in messages for kept in range(len(payload))]
    items += [("tcp", 40000, 53, _prefixed(payload), kept) for payload in messages[:2]
              for kept in range(len(payload) + 2)]
    expected = tcpdump_texts(items, *(("-" + "v" * verbose,) if verbose else ()))
    got = [format_dns(payload[:kept], transport == "tcp", verbose, length=len(payload))
           for transport, _, _, payload, kept in items]
    assert _mismatches(items, got, expected) == []


def _mutations(seed: int, count: int) -> list[bytes]:
    """Messages from the table with a few bytes changed, counts bent or the tail cut off."""
    rng = random.Random(seed)
    sources = [payload for payload in DNS_CASES if len(payload) > 12]
    mutated = []
    for _ in range(count):
        payload = bytearray(rng.choice(sources))
        for _ in range(rng.randrange(1, 4)):
            action = rng.randrange(4)
            if action == 0:
                payload[rng.randrange(len(payload))] = rng.randrange(256)
            elif action == 1:
                payload[rng.randrange(len(payload))] ^= 1 << rng.randrange(8)
            elif action == 2 and len(payload) > 13:
                del payload[rng.randrange(12, len(payload)) :]
            else:
                payload[rng.randrange(4, 12)] = rng.choice((0, 1, 2, 3, 255))
        mutated.append(bytes(payload))
    return mutated


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 1, 2, 3])
@pytest.mark.parametrize("port", [53, 5353])
def test_mutated_messages_match_tcpdump(verbose: int, port: int) -> None:
    payloads = _mutations(verbose * 10 + port, 1500)
    items = [("udp", port, 40000, payload) for payload in payloads]
    expected = tcpdump_texts(items, *(("-" + "v" * verbose,) if verbose else ()))
    got = [format_dns(payload, False, verbose, mdns=port == 5353) for payload in payloads]
    assert _mismatches(items, got, expected) == []


def _random_responses(seed: int, count: int) -> list[bytes]:
    """Responses whose records have the types tcpdump decodes, random rdata, names, classes, TTLs."""
    rng = random.Random(seed)
    types = (1, 28, 2, 5, 12, 39, 15, 33, 16, 6, 41, 104, 256, 38, 250, 13, 99)
    prefixes = {15: 2, 33: 6, 38: 1}

    def owner() -> bytes:
        choice = rng.random()
        if choice < 0.3:
            return AT_QNAME
        if choice < 0.6:
            return encode_name(rng.choice(("a.b", "x", ".", "example.com")))
        return rng.randbytes(rng.randrange(1, 8))

    responses = []
    for _ in range(count):
        records = []
        for _ in range(rng.randrange(1, 4)):
            rtype = rng.choice(types)
            rdata = rng.randbytes(rng.randrange(0, 24))
            if rng.random() < 0.5 and rtype in (2, 5, 12, 39, 15, 33, 6, 250, 38):
                target = encode_name(rng.choice(("a.b", "x", "e.com")))
                rdata = rng.randbytes(prefixes.get(rtype, 0)) + target + rng.randbytes(rng.randrange(0, 22))
            records.append(record(owner(), rtype, rdata, ttl=rng.choice((0, 300, 86400 * 400)),
                                  rclass=rng.choice((1, 1, 1, 3, 255, 41, 0x8001))))
        asked = question("example.com", rng.choice((1, 28, 255)))
        response = message(rng.randrange(65536), qr=True, qd=[asked], an=records[:1], ns=records[1:2],
                           ar=records[2:])
        if rng.random() < 0.2:
            response = response[: rng.randrange(12, len(response))]
        responses.append(response)
    return responses


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 1, 2, 3])
def test_random_responses_match_tcpdump(verbose: int) -> None:
    payloads = _random_responses(verbose + 100, 1500)
    items = [("udp", 53, 40000, payload) for payload in payloads]
    expected = tcpdump_texts(items, *(("-" + "v" * verbose,) if verbose else ()))
    got = [format_dns(payload, False, verbose) for payload in payloads]
    assert _mismatches(items, got, expected) == []


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 2])
def test_mutated_tcp_segments_match_tcpdump(verbose: int) -> None:
    """DNS over TCP: right and wrong length prefixes, short segments, captures cut short."""
    rng = random.Random(verbose + 53)
    items = []
    for payload in _mutations(verbose + 530, 1500):
        choice = rng.random()
        if choice < 0.7:
            segment = _prefixed(payload)
        elif choice < 0.85:
            segment = struct.pack(">H", rng.randrange(65536)) + payload
        else:
            segment = payload[: rng.randrange(0, 4)]
        kept = rng.randrange(len(segment) + 1) if rng.random() < 0.3 else len(segment)
        items.append(("tcp", 53, 40000, segment, kept))
    expected = tcpdump_texts(items, *(("-" + "v" * verbose,) if verbose else ()))
    got = [format_dns(segment[:kept], True, verbose, length=len(segment)) for *_, segment, kept in items]
    assert _mismatches(items, got, expected) == []

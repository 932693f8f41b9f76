"""HTTP and the other text protocols (RTSP, SIP, FTP, SMTP, WHOIS, SSH banners) against tcpdump -nn/-v."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_tcpdump_app_support import tcpdump_texts

from rawkit.wire.tcpdump.http import format_http
from rawkit.wire.tcpdump.ssh import format_ssh
from rawkit.wire.tcpdump.text_protocols import TCP_TEXT_PROTOCOLS, UDP_TEXT_PROTOCOLS, format_text_protocol
from tests.conftest import needs_tool

METHODS = (
    "GET PUT COPY HEAD LOCK MOVE POLL POST BCOPY BMOVE MKCOL TRACE LABEL MERGE DELETE SEARCH UNLOCK REPORT "
    "UPDATE NOTIFY BDELETE CONNECT OPTIONS CHECKIN PROPFIND CHECKOUT CCM_POST SUBSCRIBE BPROPFIND PROPPATCH "
    "UNCHECKOUT MKACTIVITY MKWORKSPACE UNSUBSCRIBE RPC_CONNECT VERSION-CONTROL BASELINE-CONTROL BPROPPATCH "
    "PATCH ACL BIND PRI PURGE M-SEARCH DESCRIBE PLAY SETUP FOO"
).split()

PAYLOADS = [
    *(method.encode() + b" / HTTP/1.1\r\n" for method in METHODS),
    # request lines: line ends, truncation, case, separators
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"GET / HTTP/1.1", b"GET / HTTP/1.1\n", b"GET / HTTP/1.1\r",
    b"GET / HTTP/1.1\rX", b"GET /", b"GET", b"GET ", b"get / HTTP/1.1\r\n", b"Get / x\r\n",
    b"GETX / HTTP/1.1\r\n", b"GET\t/ HTTP/1.1\r\n", b"GET  / HTTP/1.1\r\n", b"GET / HTTP/1.1 extra\r\n",
    b"GET /\r\n", b"GET\r\n", b"GET\n", b"\r\nGET / HTTP/1.1\r\n", b" GET / HTTP/1.1\r\n",
    b"GET / HTTP/1.1\r\r\n", b"GET / HTTP/1.1\n\r\n", b"GET / HTTP/1.1\x00\x01\r\n",
    b"GET /\xff\xfe HTTP/1.1\r\n", b"GET /\t HTTP/1.1\r\n", b"GET / HTTP/1.1 ", b"GET\x00/ x\r\n",
    b"GET\r/\r\n", b"GET\r", b"GET\rx", b"GET\x00", b"GET\t\x00", b"GET \x00\x01",
    # status lines and lookalikes
    b"HTTP/1.0 404 Not Found\r\n", b"HTTP/1.1 200", b"HTTP/2 200\r\n", b"HTTP/1.1\r\n", b"HTTP/", b"HTTP",
    b"HTTP/1.1 200 OK\r\nServer: x\r\n", b"http/1.1 200 OK\r\n", b"Http/1.1 200 OK\r\n",
    b"HTTP/1.1 200\r\n", b"HTTP/1.1 200\tOK\r\n", b"HTTP/1.1\t200 OK\r\n", b"HTTP/ 200 OK\r\n",
    b"HTTP/1.1 200OK\r\n", b"HTTP/x\r\n", b"HTTP/1.1 -20 OK\r\n", b"HTTP/1.1 2a0 OK\r\n",
    b"HTTP/1.1  200 OK\r\n", b"HTTP/1.1 \t200 OK\r\n", b"HTTP/1.1 200 OK \r\n", b"HTTP/1.1 200 OK\n",
    b"HTTP/1.1 abc\r\n", b"HTTP/1.1 20\r\n", b"HTTP/1.1 2000\r\n", b"HTTP/1.12 200\r\n",
    b"HTTP/9.9 999 x\r\n", b"HTTP/1.1 ", b"HTTP/1.1 2", b"HTTP/1.1 20", b"HTTP/1.1 200 ", b"HTTP/1.1",
    b"HTTP/1.1 200 OK\xff\r\n", b"HTTP/1.1 200\x00\r\n", b"HTTP/1.1 20\x000", b"FOO 200 OK\r\n",
    b"SIP/2.0 200 OK\r\n", b" 200 OK\r\n", b"  200 OK\r\n", b"200 OK\r\n", b"a 200", b"a\t200\r\n",
    b"x\x00y 200\r\n", b"x\r\n 200\r\n", b"\x00 200", b"\r 200\r\n", b"a\r 200\r\n", b"a\n 200\r\n",
    b"x 123\t", b"x 123\r", b"x 123\rz", b"x 123\x00", b"\xff 200", b"a\tb 200", b"a\x7fb 200", b"a~b 200",
    # not HTTP at all, and odd bytes
    b"H", b"G", b"GE", b"POS", b"\x00", b"\r\n", b"\n", b"\x16\x03\x01\x00\x05hello", b"hello world\r\n",
    b"HTTP/1.1 200 " + b"x" * 300 + b"\r\n", b"GET /" + b"x" * 1400 + b" HTTP/1.1\r\n",
    # later lines (shown with -v)
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody\x00\x01\xff\r\nmore", b"GET / HTTP/1.1\r\nA\rB\r\n\r\n",
    b"GET / HTTP/1.1\nA\n\nB", b"GET / HTTP/1.1\r\nA: \x01\x7f\x80\t\r\n", b"GET / HTTP/1.1\r\n\r\n\r\n\r\n",
    b"GET / HTTP/1.1\r\nab\r", b"GET / HTTP/1.1\r\n\n\nx\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    *(b"GET /" + bytes([byte]) + b" HTTP/1.1\r\n" for byte in range(256)),
    # the first word's length limit, bulk data
    *(b"x" * size + b" 200 OK\r\n" for size in (127, 128, 129, 1000)), b"GET" * 500, b"x" * 1448,
    b"HTTP/1.1" + b" " * 600 + b"200 OK\r\n", b"GET " + b"x" * 1400 + b"\r\n",
]


def _random_payloads(count: int) -> list[bytes]:
    """Lines built from HTTP-ish pieces, so recognition edge cases come up often."""
    rng = random.Random(80)
    pieces = [b"GET", b"get", b"HTTP/", b"http/", b"1.1", b" ", b"  ", b"\t", b"200", b"20", b"2000", b"OK",
              b"/", b"\r\n", b"\n", b"\r", b"\x00", b"\xff", b"x", b"~", b"POST", b"PATCH", b"SIP/2.0"]
    return [b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 9))) for _ in range(count)]


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 1])
def test_http_matches_tcpdump(verbose: int) -> None:
    payloads = PAYLOADS + _random_payloads(600)
    items = [("tcp", 40000, 80, payload) for payload in payloads]
    items += [("tcp", 8080, 40000, payload) for payload in payloads[:60]]
    items += [("tcp6", 80, 40000, payload) for payload in payloads[:20]]
    expected = tcpdump_texts(items, *(("-v",) if verbose else ()))
    mismatches = [(payload, ours, theirs) for (*_, payload), theirs in zip(items, expected, strict=True)
                  if (ours := format_http(payload, verbose) or "") != theirs]
    assert mismatches == []


@needs_tool("tcpdump")
def test_only_ports_80_and_8080_are_http() -> None:
    request = b"GET / HTTP/1.1\r\n\r\n"
    ports = (80, 8080, 8000, 8008, 3128, 443, 8443, 81)
    expected = tcpdump_texts([("tcp", 40000, port, request) for port in ports])
    assert [port for port, text in zip(ports, expected, strict=True) if text] == [80, 8080]


@needs_tool("tcpdump")
def test_empty_segment_prints_nothing() -> None:
    assert tcpdump_texts([("tcp", 40000, 80, b"")]) == [""]
    assert format_http(b"") is None


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 2))
def test_random_bytes_never_raise(payload: bytes, verbose: int) -> None:
    text = format_http(payload, verbose)
    assert text is None or text.startswith(": HTTP")
    for name, commands in (*TCP_TEXT_PROTOCOLS.values(), *UDP_TEXT_PROTOCOLS.values()):
        cut_short = format_text_protocol(payload, name, commands, verbose, length=len(payload) + 3)
        assert cut_short.startswith(": ")


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 1])
def test_http_cut_by_snap_length_matches_tcpdump(verbose: int) -> None:
    """A short snap length: lines the capture cuts short become " [|http]", the -v length stays the wire's."""
    payloads = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"HTTP/1.1 200 OK\r\nA: b\r\n",
                b"GET / HTTP/1.1\x00\r\n", b"x 200\rz", b"GET\r\n", b"hello", b"HTTP/1.1 200 OK\r\r\n"]
    items = [("tcp", 40000, 80, payload, kept) for payload in payloads for kept in range(len(payload))]
    expected = tcpdump_texts(items, *(("-v",) if verbose else ()))
    mismatches = [(payload[:kept], ours, theirs)
                  for (*_, payload, kept), theirs in zip(items, expected, strict=True)
                  if (ours := format_http(payload[:kept], verbose, length=len(payload)) or "") != theirs]
    assert mismatches == []


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 1])
def test_random_pieces_match_tcpdump(verbose: int) -> None:
    """Payloads glued from HTTP-ish pieces, a third of them cut short by the snap length."""
    rng = random.Random(8080 + verbose)
    pieces = [b"GET", b"get", b"POST", b"HTTP/1.1", b"HTTP/", b" ", b"  ", b"\t", b"200", b"20", b"2000",
              b"OK", b"/", b"\r\n", b"\n", b"\r", b"\x00", b"\xff", b"x", b"~", b"Host: a", b"SIP/2.0",
              b"\r\n\r\n", b"\x7f"]
    items = []
    for _ in range(2000):
        payload = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 14)))
        kept = rng.randrange(len(payload) + 1) if rng.random() < 0.3 else len(payload)
        items.append(("tcp", 40000, 80, payload, kept))
    expected = tcpdump_texts(items, *(("-v",) if verbose else ()))
    mismatches = [(payload[:kept], ours, theirs)
                  for (*_, payload, kept), theirs in zip(items, expected, strict=True)
                  if (ours := format_http(payload[:kept], verbose, length=len(payload)) or "") != theirs]
    assert mismatches == []


@needs_tool("tcpdump")
@pytest.mark.parametrize("verbose", [0, 1])
def test_other_text_protocols_match_tcpdump(verbose: int) -> None:
    """FTP, SMTP, WHOIS and RTSP on TCP, SIP on UDP: same engine, their own names and command lists."""
    rng = random.Random(21 + verbose)
    payloads = PAYLOADS[:200] + [b"INVITE sip:a SIP/2.0\r\nVia: x\r\n", b"SETUP rtsp://x RTSP/1.0\r\n",
                                 b"220 ready\r\n", b"USER anonymous\r\n", b"EHLO x\r\n", b""]
    items = []
    for port in (21, 25, 43, 554, 8554):
        items += [("tcp", 40000, port, payload, len(payload)) for payload in payloads if payload]
    items += [("udp", 40000, 5060, payload, len(payload)) for payload in payloads]
    items += [(transport, 40000, port, payload, rng.randrange(len(payload) + 1))
              for transport, port in (("tcp", 21), ("tcp", 554), ("udp", 5060)) for payload in payloads[-40:]
              if payload or transport == "udp"]  # tcpdump skips TCP segments without data
    expected = tcpdump_texts(items, *(("-v",) if verbose else ()))
    got = []
    for transport, _, port, payload, kept in items:
        table = UDP_TEXT_PROTOCOLS if transport == "udp" else TCP_TEXT_PROTOCOLS
        name, commands = table[port]
        text = format_text_protocol(payload[:kept], name, commands, verbose, length=len(payload))
        got.append(text.removeprefix(": ") if transport == "udp" else text)
    assert [(item, ours, theirs) for item, ours, theirs in zip(items, got, expected, strict=True)
            if ours != theirs] == []


@needs_tool("tcpdump")
def test_ssh_banners_match_tcpdump() -> None:
    rng = random.Random(22)
    pieces = [b"SSH-", b"SSH", b"S", b"2.0-", b"OpenSSH_9", b" ", b"\t", b"\r\n", b"\n", b"\r", b"\x00",
              b"\xff", b"x", b"\x7f"]
    items = [("tcp", 40000, 22, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", 32), ("tcp", 22, 40000, b"SSH", 3),
             ("tcp", 40000, 22, b"ab", 2), ("tcp", 40000, 22, b"SSH-2.0-" + b"x" * 300 + b"\r\n", 310)]
    for _ in range(2000):
        payload = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 8)))
        if rng.random() < 0.5:
            payload = b"SSH-" + payload
        items.append(("tcp", 40000, 22, payload, rng.randrange(len(payload) + 1) if rng.random() < 0.3
                      else len(payload)))
    expected = tcpdump_texts(items)
    got = [format_ssh(payload[:kept], length=len(payload)) for *_, payload, kept in items]
    assert [(item, ours, theirs) for item, ours, theirs in zip(items, got, expected, strict=True)
            if ours != theirs] == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 300))
def test_ssh_never_raises(payload: bytes, length: int) -> None:
    assert isinstance(format_ssh(payload, length=length), str)

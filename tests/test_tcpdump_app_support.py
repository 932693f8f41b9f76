"""Helpers for the application-protocol tests: a small DNS encoder and a tcpdump oracle.

No tests here; the encoder is deliberately permissive (any counts, raw names, raw pointers) so the
tests can build the malformed messages a real capture may hold.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import rawkit
from rawkit.pcap.pcap_writer import PcapWriter

Name = str | bytes


def encode_name(name: Name) -> bytes:
    """Labels for a dotted name ("" or "." is the root); bytes pass through untouched (raw pointers)."""
    if isinstance(name, bytes):
        return name
    labels = [label for label in name.split(".") if label]
    return b"".join(bytes([len(label)]) + label.encode("latin-1") for label in labels) + b"\0"


def pointer(offset: int) -> bytes:
    return struct.pack(">H", 0xC000 | offset)


def question(qname: Name, qtype: int = 1, qclass: int = 1) -> bytes:
    return encode_name(qname) + struct.pack(">HH", qtype, qclass)


def record(rname: Name, rtype: int, rdata: bytes, ttl: int = 300, rclass: int = 1) -> bytes:
    return encode_name(rname) + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def opt_record(udp_size: int = 4096, ext_rcode: int = 0, version: int = 0, do: bool = False,
               options: bytes = b"") -> bytes:
    ttl = (ext_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return record(".", 41, options, ttl=ttl, rclass=udp_size)


def message(ident: int = 0x1234, *, qr: bool = False, opcode: int = 0, aa: bool = False, tc: bool = False,
            rd: bool = True, ra: bool = False, z: bool = False, ad: bool = False, cd: bool = False,
            rcode: int = 0, qd: list[bytes] = (), an: list[bytes] = (), ns: list[bytes] = (),
            ar: list[bytes] = (), counts: tuple[int, int, int, int] | None = None) -> bytes:
    """A DNS message; `counts` overrides the section counts to lie about the contents."""
    flags = (qr << 15) | (opcode << 11) | (aa << 10) | (tc << 9) | (rd << 8) | (ra << 7) | (z << 6)
    flags |= (ad << 5) | (cd << 4) | rcode
    if counts is None:
        counts = (len(qd), len(an), len(ns), len(ar))
    return struct.pack(">HHHHHH", ident, flags, *counts) + b"".join([*qd, *an, *ns, *ar])


def a(address: str) -> bytes:
    return bytes(int(part) for part in address.split("."))


# transport ("udp", "tcp", "udp6", "tcp6"), sport, dport, payload[, payload bytes captured (snap length)]
Item = tuple[str, int, int, bytes] | tuple[str, int, int, bytes, int]
_ADDRESSES = re.compile(r"\S+\.\d+ > \S+\.\d+: ")
_TCP_LENGTH = re.compile(r", length \d+")


def frame(transport: str, sport: int, dport: int, payload: bytes) -> bytes:
    if transport.endswith("6"):
        ip = rawkit.IPv6(src="fd00:18::1", dst="fd00:18::2")
    else:
        ip = rawkit.IPv4(src="198.18.0.1", dst="198.18.0.2")
    if transport.startswith("udp"):
        l4 = rawkit.UDP(sport=sport, dport=dport)
    else:
        l4 = rawkit.TCP(sport=sport, dport=dport, flags="PA", seq=1, ack=1)
    return bytes(rawkit.Ether() / ip / l4 / payload)


def tcpdump_texts(items: list[Item], *flags: str) -> list[str]:
    """What tcpdump -nn prints after the transport part for each item, in order.

    An item's optional fifth element keeps only that many payload bytes in the capture, as a
    short snap length would.

    UDP: the text after "a.b.c.d.p > e.f.g.h.q: " (with "[udp sum ok] " removed);
    TCP: the text after ", length N" (with its leading space). Continuation lines are kept,
    joined with a newline.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "app.pcap"
        with PcapWriter(str(path)) as writer:
            for index, (transport, sport, dport, payload, *snap) in enumerate(items):
                data = frame(transport, sport, dport, payload)
                kept = len(data) - len(payload) + snap[0] if snap else len(data)
                writer.write(data[:kept], index * 1000, len(data))
        result = subprocess.run(["tcpdump", "-nn", "-t", *flags, "-r", str(path)], capture_output=True,
                                text=True, env={**os.environ, "TZ": "UTC"}, check=False)
    packets: list[str] = []
    for line in result.stdout.splitlines():
        if line.startswith((" ", "\t")) and packets:
            packets[-1] += "\n" + line
        else:
            packets.append(line)
    assert len(packets) == len(items), result.stdout + result.stderr
    texts = []
    for (transport, *_), text in zip(items, packets, strict=True):
        if transport.startswith("udp"):
            text = text[_ADDRESSES.search(text).end():].removeprefix("[udp sum ok] ")
        else:
            text = text[_TCP_LENGTH.search(text, text.index("Flags [")).end():]
        texts.append(text)
    return texts


def have_tcpdump() -> bool:
    return shutil.which("tcpdump") is not None

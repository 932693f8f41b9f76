"""Damaged frames for comparing rawkit's protocol hierarchy with tshark's io,phs: every cut of a set of
well-formed frames (cut by a snap length, or a frame that really ends there), and headers whose option
lists hold every length of the options rawkit decodes. tshark's tree for such frames ends with a
"_ws.malformed" or "_ws.short" node wherever its dissectors ran out of bytes; rawkit must agree.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import rawkit
from rawkit.pcap import PcapWriter

_ETH = bytes.fromhex("020000000002020000000001")
_V4 = ("198.18.0.1", "198.18.0.2")
_V6 = ("fd00:18::1", "fd00:18::2")


def _ether(ethertype: int, body: bytes) -> bytes:
    return _ETH + struct.pack("!H", ethertype) + body


def _ip4(proto: int, body: bytes, options: bytes = b"", total: int | None = None) -> bytes:
    header_len = 20 + len(options)
    length = header_len + len(body) if total is None else total
    return (struct.pack("!BBHHHBBH4s4s", 0x40 | header_len // 4, 0, length, 1, 0, 64, proto, 0,
                        bytes(map(int, _V4[0].split("."))), bytes(map(int, _V4[1].split("."))))
            + options + body)


def _ip6(nh: int, body: bytes) -> bytes:
    import ipaddress

    return (struct.pack("!IHBB", 0x60000000, len(body), nh, 64) + ipaddress.ip_address(_V6[0]).packed
            + ipaddress.ip_address(_V6[1]).packed + body)


def _tcp(options: bytes = b"", payload: bytes = b"") -> bytes:
    header_len = 20 + len(options)
    header = struct.pack("!HHIIBBHHH", 40000, 8000, 1, 0, header_len // 4 << 4, 0x02, 8192, 0, 0)
    return header + options + payload


def _udp(payload: bytes = b"") -> bytes:
    return struct.pack("!HHHH", 40000, 40001, 8 + len(payload), 0) + payload


def templates() -> list[bytes]:
    """Whole frames of every shape rawkit decodes."""
    mss_ts = bytes.fromhex("020405b40402080a0000000100000000")
    echo = struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping-data"
    quoted = _ip4(17, _udp(b"abcdefgh"))
    unreachable = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    hop_by_hop = bytes.fromhex("3a00050200000100")  # router alert, then ICMPv6
    fragment6 = struct.pack("!BBHI", 17, 0, 0, 99) + _udp(b"x")
    echo6 = struct.pack("!BBHHH", 128, 0, 0, 7, 1) + b"ping6"
    expired = struct.pack("!BBHI", 11, 0, 0, 0) + _ip4(6, _tcp(payload=b"abcdefgh"))
    unreachable6 = struct.pack("!BBHI", 1, 4, 0, 0) + _ip6(17, _udp(b"abcdefgh"))
    solicit = struct.pack("!BBHI16s", 135, 0, 0, 0, bytes(16)) + bytes.fromhex("0101020000000001")
    arp = bytes.fromhex("0001080006040001020000000001c6120001000000000000c6120002")
    return [
        _ether(0x0800, _ip4(6, _tcp(mss_ts, b"hello"))),
        _ether(0x0800, _ip4(17, _udp(b"datagram"), options=bytes.fromhex("94040000"))),
        _ether(0x0800, _ip4(1, echo)),
        _ether(0x0800, _ip4(1, unreachable)),
        _ether(0x0800, _ip4(1, expired)),
        _ether(0x86DD, _ip6(6, _tcp(payload=b"six"))),
        _ether(0x86DD, _ip6(0, hop_by_hop + echo6)),
        _ether(0x86DD, _ip6(44, fragment6)),
        _ether(0x86DD, _ip6(58, solicit)),
        _ether(0x86DD, _ip6(58, unreachable6)),
        _ether(0x8100, struct.pack("!HH", 5, 0x0800) + _ip4(17, _udp(b"tagged"))),
        _ether(0x88A8, struct.pack("!HHHH", 5, 0x8100, 6, 0x0806) + arp),
        _ether(0x0806, arp),
    ]


def _options(kinds: tuple[int, ...], room: int) -> Iterator[bytes]:
    """An option list of `room` bytes holding one option of each kind and each length 0..room."""
    for kind in kinds:
        for length in range(room + 1):
            option = bytes((kind, length)) + bytes(range(0x41, 0x3F + length))
            yield (option + bytes(room))[:room]


def option_frames() -> list[bytes]:
    """TCP and IPv4 options of every length (in headers with room for 12 bytes of options), and ND
    options of a few lengths."""
    frames = [_ether(0x0800, _ip4(6, _tcp(options))) for options in _options((2, 3, 4, 5, 8, 19, 30), 12)]
    frames += [_ether(0x0800, _ip4(17, _udp(b"x"), options=options))
               for options in _options((7, 68, 130, 131, 137, 148, 30), 12)]
    for kind in (1, 2, 3, 5, 30):
        for units in range(4):
            body = struct.pack("!BBHI", 133, 0, 0, 0) + bytes((kind, units)) + bytes(range(1, 15))
            frames.append(_ether(0x86DD, _ip6(58, body)))
    return frames


def damaged_frames() -> Iterator[tuple[bytes, int]]:
    """(captured bytes, wire length) of each frame: the templates cut at every length, as by a snap
    length and as a frame that ends there; then the option frames."""
    for frame in templates():
        for cut in range(len(frame)):
            yield frame[:cut], len(frame)
            yield frame[:cut], cut
    for frame in option_frames():
        yield frame, len(frame)


def write_damaged_capture(path: Path) -> Path:
    with PcapWriter(str(path), linktype=rawkit.LINKTYPE_ETHERNET) as writer:
        for number, (data, wirelen) in enumerate(damaged_frames()):
            writer.write(data, 1_700_000_000_000_000_000 + number * 1000, wirelen)
    return path

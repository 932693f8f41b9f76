"""Crafted captures for the analysis tests: TCP streams with every awkward case (retransmissions,
overlaps, reordering, port reuse, resets, zero windows), UDP, ICMP, and IPv4/IPv6 fragments.

The other test_analyze*.py files import `craft_captures()` from here; the tests in this file check
the crafted files are what tshark sees too (so later comparisons compare like with like).
"""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest
from conftest import needs_tool

import rawkit

MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
V4_A, V4_B, V4_C = "198.18.0.1", "198.18.0.2", "198.18.0.3"
V6_A, V6_B = "fd00:18::1", "fd00:18::2"


def write_pcap(path: Path, frames: Iterable[tuple[int, bytes]], linktype: int = 1,
               snaplen: int = 65535, nanoseconds: bool = False) -> Path:
    """A classic pcap file from (ts_ns, frame) pairs."""
    magic = 0xA1B23C4D if nanoseconds else 0xA1B2C3D4
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        for ts_ns, frame in frames:
            fraction = ts_ns % 1_000_000_000 if nanoseconds else ts_ns % 1_000_000_000 // 1000
            kept = frame[:snaplen]
            out.write(struct.pack("<IIII", ts_ns // 1_000_000_000, fraction, len(kept), len(frame)))
            out.write(kept)
    return path


class Clock:
    """Timestamps for crafted frames, advancing by `step_ns` unless told otherwise."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000, step_ns: int = 1_000_000) -> None:
        self.now = start_ns
        self.step = step_ns

    def tick(self, ns: int | None = None) -> int:
        self.now += self.step if ns is None else ns
        return self.now


class TcpSession:
    """Two endpoints of one TCP connection; `send` builds a frame and advances that side's seq."""

    def __init__(self, clock: Clock, a: str, b: str, sport: int, dport: int, isn_a: int = 1000,
                 isn_b: int = 5000, v6: bool = False) -> None:
        self.clock = clock
        self.addr = {"a": a, "b": b}
        self.port = {"a": sport, "b": dport}
        self.next = {"a": isn_a, "b": isn_b}
        self.v6 = v6
        self.frames: list[tuple[int, bytes]] = []

    def frame(self, side: str, flags: str, payload: bytes = b"", seq: int | None = None,
              ack: int | None = None, window: int = 65535, options: tuple = ()) -> bytes:
        other = "b" if side == "a" else "a"
        seq = self.next[side] if seq is None else seq
        ack = self.next[other] if ack is None else ack
        ip = (rawkit.IPv6(src=self.addr[side], dst=self.addr[other]) if self.v6
              else rawkit.IPv4(src=self.addr[side], dst=self.addr[other]))
        macs = (MAC_A, MAC_B) if side == "a" else (MAC_B, MAC_A)
        return bytes(rawkit.Ether(src=macs[0], dst=macs[1]) / ip
                     / rawkit.TCP(sport=self.port[side], dport=self.port[other], seq=seq,
                                  ack=ack if "A" in flags or "." in flags else 0, flags=flags,
                                  window=window, options=options) / payload)

    def send(self, side: str, flags: str, payload: bytes = b"", seq: int | None = None, advance: bool = True,
             ack: int | None = None, window: int = 65535, at: int | None = None, options: tuple = ()) -> int:
        """Emit one segment; return its seq. `advance=False` leaves the side's next seq alone."""
        seq_used = self.next[side] if seq is None else seq
        self.frames.append((self.clock.tick(at), self.frame(side, flags, payload, seq_used, ack, window,
                                                            options)))
        if advance:
            end = seq_used + len(payload) + ("S" in flags) + ("F" in flags)
            if (end - self.next[side]) % 2**32 < 2**31:
                self.next[side] = end % 2**32
        return seq_used

    def handshake(self, options: tuple = ()) -> None:
        self.send("a", "S", options=options)
        self.send("b", "SA", options=options)
        self.send("a", "A")

    def close(self) -> None:
        self.send("a", "FA")
        self.send("b", "FA")
        self.send("a", "A")


def _timestamps(tsval: int, tsecr: int) -> tuple:
    return (("NOP", None), ("NOP", None), ("Timestamp", (tsval, tsecr)))


def tcp_messy(clock: Clock) -> list[tuple[int, bytes]]:
    """One HTTP-like v4 stream with retransmission, reordering, an overlap, dup ACKs, a zero window."""
    s = TcpSession(clock, V4_A, V4_B, 40000, 80, isn_a=4_294_967_000)  # seq wraps mid-stream
    s.handshake()
    s.send("a", "PA", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    s.send("b", "A")
    first = s.next["b"]
    s.send("b", "A", b"A" * 300)                            # segment 1
    s.send("b", "A", b"B" * 300, advance=False, seq=first + 600)  # segment 3 arrives early
    s.send("a", "A", ack=first + 300)
    s.send("a", "A", ack=first + 300)                       # duplicate ACK
    s.send("b", "A", b"C" * 300, seq=first + 300)           # segment 2, late
    s.next["b"] = first + 900
    s.send("b", "A", b"B" * 300, advance=False, seq=first + 600)  # retransmission of 3
    s.send("b", "PA", b"DDDDEEEE", advance=False, seq=first + 896)  # overlaps the tail of 3
    s.next["b"] = first + 904
    s.send("a", "A", window=0)                              # zero window
    s.send("a", "A", window=4096)
    s.send("b", "PA", b"tail")
    s.close()
    return s.frames


def tcp_port_reuse(clock: Clock) -> list[tuple[int, bytes]]:
    """The same 4-tuple twice (a new ISN the second time): tshark makes two streams."""
    frames = []
    for isn in (100, 900_000):
        s = TcpSession(clock, V4_A, V4_C, 41000, 8080, isn_a=isn, isn_b=isn + 7)
        s.handshake()
        s.send("a", "PA", b"hello %d" % isn)
        s.send("b", "PA", b"world")
        s.close()
        frames += s.frames
    return frames


def tcp_reset_and_v6(clock: Clock) -> list[tuple[int, bytes]]:
    """An IPv6 stream with timestamps that ends in a reset, and a refused v4 connection."""
    s = TcpSession(clock, V6_A, V6_B, 42000, 443, v6=True)
    s.send("a", "S", options=_timestamps(10, 0))
    s.send("b", "SA", options=_timestamps(500, 10))
    s.send("a", "A", options=_timestamps(12, 500))
    for index in range(6):
        s.send("a", "PA", bytes([65 + index]) * 100, options=_timestamps(20 + index, 500 + index))
        s.send("b", "A", options=_timestamps(510 + index, 20 + index))
    s.send("b", "RA")
    refused = TcpSession(clock, V4_B, V4_A, 43000, 9, isn_a=77)
    refused.send("a", "S")
    refused.send("b", "RA", seq=0, ack=78)
    return s.frames + refused.frames


def tcp_bulk_with_loss(clock: Clock, segments: int = 60) -> list[tuple[int, bytes]]:
    """A bulk transfer b->a with timestamps and window scaling; now and then a segment is lost, the
    receiver SACKs what came after it, and the sender retransmits (material for the plots)."""
    s = TcpSession(clock, V4_A, V4_B, 45000, 80)
    s.send("a", "S", options=(("MSS", 1460), ("WScale", 7), *_timestamps(1, 0)))
    s.send("b", "SA", options=(("MSS", 1460), ("WScale", 7), *_timestamps(100, 1)))
    s.send("a", "A", window=512, options=_timestamps(2, 100))
    echo = 3
    for index in range(segments):
        seq = s.next["b"]
        s.send("b", "A", b"x" * 1000, options=_timestamps(100 + index, echo))
        if index % 15 == 7:
            s.send("b", "A", b"y" * 1000, options=_timestamps(100 + index, echo))
            block = ((seq + 1000) % 2**32, (seq + 2000) % 2**32)
            s.send("a", "A", ack=seq, window=400, options=(("NOP", None), ("NOP", None), ("SAck", (block,))))
            s.send("b", "A", b"x" * 1000, seq=seq, advance=False, options=_timestamps(101 + index, echo))
        echo += 1
        s.send("a", "A", window=512, options=_timestamps(echo, 100 + index))
    s.close()
    return s.frames


def tcp_capture_gaps(clock: Clock) -> list[tuple[int, bytes]]:
    """Segments the capture never saw: the peer's ACKs show them lost to the capture, not the peer."""
    s = TcpSession(clock, V4_A, V4_B, 46000, 80)
    s.handshake()
    s.send("a", "PA", b"one-")
    s.next["a"] += 5  # never captured; acknowledged below
    s.send("b", "A")
    s.send("a", "PA", b"six")
    s.next["a"] += 7
    s.send("a", "PA", b"late")
    s.send("b", "A", ack=s.next["a"] - 2)  # past the hole, into the held segment
    s.send("a", "PA", b"end")
    s.close()
    return s.frames


def udp_and_icmp(clock: Clock) -> list[tuple[int, bytes]]:
    frames = []
    for index in range(3):
        query = (rawkit.Ether(src=MAC_A, dst=MAC_B) / rawkit.IPv4(src=V4_A, dst=V4_B)
                 / rawkit.UDP(sport=33000 + index % 2, dport=6000) / (b"q%d" % index))
        answer = (rawkit.Ether(src=MAC_B, dst=MAC_A) / rawkit.IPv4(src=V4_B, dst=V4_A)
                  / rawkit.UDP(sport=6000, dport=33000 + index % 2) / (b"answer%d" % index))
        frames += [(clock.tick(), bytes(query)), (clock.tick(), bytes(answer))]
        v6 = (rawkit.Ether(src=MAC_A, dst=MAC_B) / rawkit.IPv6(src=V6_A, dst=V6_B)
              / rawkit.UDP(sport=6001, dport=6001) / b"v6 datagram")
        frames.append((clock.tick(), bytes(v6)))
        ping = (rawkit.Ether(src=MAC_A, dst=MAC_B) / rawkit.IPv4(src=V4_A, dst=V4_C)
                / rawkit.ICMP(type=8, id=7, seq=index) / b"ping")
        frames.append((clock.tick(), bytes(ping)))
    return frames


def _v4_fragments(datagram: bytes, src: str, dst: str, proto: int, ident: int,
                  cuts: list[tuple[int, int]]) -> list[bytes]:
    """IPv4 fragments of `datagram` (the IP payload) for byte ranges `cuts` (8-aligned starts)."""
    out = []
    for start, end in cuts:
        more = "MF" if end < len(datagram) else 0
        out.append(bytes(rawkit.Ether(src=MAC_A, dst=MAC_B)
                         / rawkit.IPv4(src=src, dst=dst, proto=proto, id=ident, flags=more, frag=start // 8)
                         / datagram[start:end]))
    return out


def _v6_fragments(datagram: bytes, src: str, dst: str, nh: int, ident: int,
                  cuts: list[tuple[int, int]]) -> list[bytes]:
    out = []
    for start, end in cuts:
        out.append(bytes(rawkit.Ether(src=MAC_A, dst=MAC_B) / rawkit.IPv6(src=src, dst=dst)
                         / rawkit.IPv6Fragment(nh=nh, offset=start // 8, m=int(end < len(datagram)), id=ident)
                         / datagram[start:end]))
    return out


def fragments(clock: Clock) -> list[tuple[int, bytes]]:
    """UDP over IPv4 and IPv6 fragments (one set out of order), TCP segments in v4 fragments, one of
    them with a conflicting overlap."""
    udp4 = bytes(rawkit.IPv4(src=V4_A, dst=V4_B) / rawkit.UDP(sport=7000, dport=7001) / (b"x" * 1000))[20:]
    udp6 = bytes(rawkit.IPv6(src=V6_A, dst=V6_B) / rawkit.UDP(sport=7000, dport=7001) / (b"y" * 1000))[40:]
    frames = _v4_fragments(udp4, V4_A, V4_B, 17, 11, [(0, 400), (400, 800), (800, len(udp4))])
    frames += _v4_fragments(udp4, V4_A, V4_B, 17, 12, [(800, len(udp4)), (0, 400), (400, 800)])
    frames += _v6_fragments(udp6, V6_A, V6_B, 17, 99, [(0, 504), (504, len(udp6))])
    s = TcpSession(clock, V4_A, V4_B, 44000, 2000)
    s.handshake()
    timed = s.frames + [(clock.tick(), frame) for frame in frames]
    segment = s.frame("a", "PA", b"z" * 1200)[34:]
    s.next["a"] += 1200
    timed += [(clock.tick(), frame) for frame in _v4_fragments(segment, V4_A, V4_B, 6, 13,
                                                              [(0, 600), (600, len(segment))])]
    # a fragment overlapping the first with different bytes arrives before the real second one
    segment = s.frame("a", "PA", b"A" * 64)[34:]
    s.next["a"] += 64
    forged = segment[:40] + b"Z" * (len(segment) - 40)
    timed += [(clock.tick(), frame) for frame in (
        _v4_fragments(segment, V4_A, V4_B, 6, 14, [(0, 48)])[0],
        _v4_fragments(forged, V4_A, V4_B, 6, 14, [(40, len(segment))])[0],
        _v4_fragments(segment, V4_A, V4_B, 6, 14, [(48, len(segment))])[0])]
    s.frames = []
    s.send("b", "A")
    s.close()
    return timed + s.frames


SCENARIOS = {"tcp-messy": tcp_messy, "tcp-port-reuse": tcp_port_reuse, "tcp-reset-v6": tcp_reset_and_v6,
             "tcp-bulk-loss": tcp_bulk_with_loss, "tcp-gaps": tcp_capture_gaps, "udp-icmp": udp_and_icmp,
             "fragments": fragments}


def craft_captures(directory: Path) -> list[Path]:
    """Every scenario as its own pcap, plus one with all of them interleaved in time order."""
    paths, everything = [], []
    for name, make in SCENARIOS.items():
        frames = make(Clock())
        paths.append(write_pcap(directory / f"{name}.pcap", frames))
        everything += frames
    everything.sort(key=lambda pair: pair[0])
    paths.append(write_pcap(directory / "all.pcap", everything))
    return paths


@pytest.fixture(scope="session")
def crafted(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return craft_captures(tmp_path_factory.mktemp("crafted"))


@needs_tool("tshark")
def test_crafted_captures_decode_cleanly_in_tshark(tmp_path: Path) -> None:
    for path in craft_captures(tmp_path)[-1:]:  # the last holds every scenario
        out = subprocess.run(["tshark", "-r", str(path), "-Y", "_ws.malformed || _ws.expert.severity >= error"
                              " && !tcp.analysis", "-T", "fields", "-e", "frame.number"],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out == [], f"{path.name}: malformed frames {out}"

"""The compiled BPF program, attached with SO_ATTACH_FILTER to a real AF_PACKET socket in a
namespace lab, passes exactly the frames `match` selects among everything an unfiltered socket on
the same interface sees. Traffic: the generated Ethernet mix sent from the peer namespace (bounded),
plus a few pings that bring ARP and neighbour discovery along."""

from __future__ import annotations

import ctypes
import socket
import struct
import time

from test_filter_corpus import ethernet_frames

import rawkit.filter
from tests.conftest import needs_root, needs_tool

ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
EXPRESSIONS = [
    "tcp port 80", "icmp or icmp6", "arp", "udp and dst port 53", "ip6 and net fd00:18::/48",
    "tcp[tcpflags] & tcp-syn != 0 and not port 22", "ether multicast", "ip[2:2] > 100", "len > 100",
    "host 198.18.0.1 and port 80 or 443", "ip[2:2] - ((ip[0] & 0xf) << 2) > 40", "not ip and not ip6",
    "icmp6[icmp6type] = icmp6-neighborsolicit", "tcp[(tcp[12] >> 4) * 4 - 1] != 0", "less 60",
    # long enough that conditional jumps need `ja` trampolines
    "(" + " or ".join(f"host fd00:18::{index:x}" for index in range(40, 0, -1)) + ") and icmp6",
]


def attach(sock: socket.socket, program: list[tuple[int, int, int, int]]) -> ctypes.Array:
    """SO_ATTACH_FILTER with a struct sock_fprog; returns the instruction buffer (keep it alive)."""
    packed = b"".join(struct.pack("HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(packed)
    fprog = struct.pack("HL", len(program), ctypes.addressof(buffer))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    return buffer


def spontaneous(frame: bytes) -> bool:
    """An MLD report or router solicitation: IPv6 housekeeping the kernel sends on its own schedule."""
    if frame[12:14] != b"\x86\xdd":
        return False
    next_header, offset = frame[20], 54
    if next_header == 0:  # hop-by-hop options (MLD always has them)
        next_header, offset = frame[54], 54 + (frame[55] + 1) * 8
    return next_header == 58 and len(frame) > offset and frame[offset] in (131, 133, 143)


def drain(sock: socket.socket) -> list[bytes]:
    frames = []
    sock.setblocking(False)
    while True:
        try:
            frames.append(sock.recv(65536))
        except BlockingIOError:
            return frames


@needs_root
@needs_tool("ip")
@needs_tool("ping")
def test_kernel_runs_the_program_like_match() -> None:
    from rawkit.link.netns import Lab

    with Lab(prefix="rkflt") as lab:
        sender, receiver = lab.namespace("send"), lab.namespace("recv")
        link = lab.link(sender, receiver, ipv4=("198.18.0.1/24", "198.18.0.2/24"),
                        ipv6=("fd00:18::1/64", "fd00:18::2/64"))
        device = link.b.device
        reference = receiver.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        reference.bind((device, ETH_P_ALL))
        reference.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        filtered = []
        for expression in EXPRESSIONS:
            flt = rawkit.filter.compile(expression, 1)
            sock = receiver.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # receives nothing until bound
            buffer = attach(sock, flt.bpf())
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.bind((device, ETH_P_ALL))
            filtered.append((flt, sock, buffer))
        drain(reference)
        for _, sock, _ in filtered:
            drain(sock)

        # pings first: the injected ARP frames below would teach the receiver wrong neighbours
        sender.run(["ping", "-c", "2", "-i", "0.2", "-W", "1", link.b.ip], timeout=10)
        sender.run(["ping", "-6", "-c", "2", "-i", "0.2", "-W", "1", link.b.ip6], timeout=10)
        sender_socket = sender.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        sender_socket.bind((link.a.device, 0))
        sent = 0
        for data, wirelen in ethernet_frames():
            if wirelen != len(data) or len(data) < 14:
                continue
            frame = bytes.fromhex(link.b.mac.replace(":", "")) + data[6:] if data[0] == 2 else data
            sender_socket.send(frame)
            sent += 1
        time.sleep(0.3)

        seen = drain(reference)
        assert len(seen) >= sent
        for flt, sock, _ in filtered:
            passed = drain(sock)
            assert all(flt.match(frame) for frame in passed), flt.expression
            # the kernels' own MLD reports and router solicitations come at any time, so one may
            # fall between draining the reference socket and draining this one: compare the rest
            expected = [frame for frame in seen if flt.match(frame) and not spontaneous(frame)]
            assert [frame for frame in passed if not spontaneous(frame)] == expected, flt.expression
            assert 0 < len(expected) < len(seen) or flt.expression in ("less 60",), flt.expression
            sock.close()
        assert any(len(flt.bpf()) > 256 for flt, _, _ in filtered)
        reference.close()
        sender_socket.close()

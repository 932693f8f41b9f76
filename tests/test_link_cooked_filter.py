"""The cooked-socket rewrite of cBPF programs (rawkit.link.cooked_filter): run by the filter
package's cBPF interpreter, the rewritten program on the network-layer bytes (with the header fields
as the kernel's ancillary values) decides as the original does on the whole cooked frame, and keeps
20 bytes less (the cooked header is added after the kernel's cut)."""

from __future__ import annotations

import struct

import pytest

import rawkit
import rawkit.filter
from rawkit.filter import vm
from rawkit.link.cooked_filter import SKF_AD_OFF, for_cooked_socket

EXPRESSIONS = ["icmp or udp", "tcp port 80", "ip6 and udp", "arp", "tcp[tcpflags] & tcp-syn != 0",
               "ip[2:2] > 40", "udp[8] = 0x41", "host 198.18.0.1 and not port 53"]


def frames() -> list[bytes]:
    v4 = rawkit.IPv4(src="198.18.0.1", dst="198.18.0.2")
    v6 = rawkit.IPv6(src="fd00:18::1", dst="fd00:18::2")
    uppers = [rawkit.TCP(sport=1, dport=80, flags="S"), rawkit.TCP(sport=80, dport=2, flags="A"),
              rawkit.UDP(sport=53, dport=9) / b"A", rawkit.ICMP()]
    cooked = rawkit.CookedLinuxV2(ifindex=3, pkttype=0, addr="02:00:00:00:00:01")
    built = [bytes(cooked / ip / upper) for ip in (v4, v6) for upper in uppers
             if not (ip is v6 and isinstance(upper, rawkit.ICMP))]
    built.append(bytes(cooked / rawkit.ARP(psrc="198.18.0.1", pdst="198.18.0.2")))
    return built


def with_ancillary_values(program, values: dict[int, int]) -> list:
    """The rewritten program with each ancillary load replaced by an immediate load of the value the
    kernel would give, so the filter package's own interpreter can run it."""
    base = SKF_AD_OFF & 0xFFFFFFFF
    return [(0x00, 0, 0, values[k - base]) if code & 0xE7 == 0x20 and k >= base else (code, jt, jf, k)
            for code, jt, jf, k in program]


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_rewritten_program_decides_like_the_original(expression: str) -> None:
    program = rawkit.filter.compile(expression, 276).bpf(262144)
    rewritten = for_cooked_socket(program)
    assert rewritten is not None
    for frame in frames():
        protocol, _, ifindex, hatype, pkttype = struct.unpack_from("!HHIHB", frame)
        ancillary = {0: protocol, 4: pkttype, 8: ifindex, 28: hatype}
        whole = vm.run(program, frame)
        network = vm.run(with_ancillary_values(rewritten, ancillary), frame[20:])
        assert (whole != 0) == (network != 0), (expression, frame.hex())
        if whole:
            assert network == whole - 20


def test_what_cannot_be_rewritten() -> None:
    assert for_cooked_socket([(0x30, 0, 0, 12), (0x06, 0, 0, 0)]) is None  # the link address

"""Path MTU discovery for the stack's TCP (RFC 1191, RFC 8201): ICMP "fragmentation needed" and
ICMPv6 "packet too big" messages about our TCP segments, read down to what the engine needs.

The quoted packet starts with our IP header and at least 8 bytes of TCP, enough for the ports and
the sequence number that the engine checks against its window. Reported MTUs below what a path may
legally have are raised to that floor, as Linux does (min_pmtu 552 for IPv4; 1280 is IPv6's minimum),
so a forged message cannot shrink segments to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

PROTO_TCP = 6
ICMP_UNREACHABLE, ICMP_FRAGMENTATION_NEEDED = 3, 4
ICMPV6_PACKET_TOO_BIG = 2
MIN_MTU = {4: 552, 16: 1280}                   # by address length
IP_HEADER = {4: 20, 16: 40}
TCP_HEADER = 20


@dataclass(frozen=True, slots=True)
class PacketTooBig:
    remote: bytes          # the quoted packet's destination: our peer
    remote_port: int
    local_port: int
    sequence: int          # of the segment that did not fit
    path_mss: int          # TCP payload that fits the path, before options


def fatal_unreachable(family: int, message: bytes) -> tuple[bytes, int, int, int] | None:
    """(remote, remote port, local port, sequence) quoted by an ICMP error that Linux treats as fatal
    for a half-open connection: IPv4 net/host unreachable, time exceeded, parameter problem; IPv6
    the destination-unreachable codes it calls fatal (administratively prohibited, port unreachable,
    policy failure, reject route) and parameter problem. None for anything else."""
    if len(message) < 8:
        return None
    kind, code = message[0], message[1]
    quoted = message[8:]
    if family == 4:
        if not (kind == ICMP_UNREACHABLE and code in (0, 1)) and kind not in (11, 12):
            return None
        if len(quoted) < 20 or quoted[0] >> 4 != 4 or quoted[9] != PROTO_TCP:
            return None
        remote, tcp = quoted[16:20], quoted[(quoted[0] & 0x0F) * 4:]
    else:
        if not (kind == 1 and code in (1, 4, 5, 6)) and kind != 4:
            return None
        if len(quoted) < 40 or quoted[0] >> 4 != 6 or quoted[6] != PROTO_TCP:
            return None
        remote, tcp = quoted[24:40], quoted[40:]
    if len(tcp) < 8:
        return None
    ports_and_sequence = (int.from_bytes(tcp[2:4], "big"), int.from_bytes(tcp[0:2], "big"),
                          int.from_bytes(tcp[4:8], "big"))
    return (remote, *ports_and_sequence)


def packet_too_big(family: int, message: bytes) -> PacketTooBig | None:
    """The report in an ICMP (`family` 4) or ICMPv6 (16) message, or None when it is not one about TCP."""
    if len(message) < 8:
        return None
    if family == 4:
        if message[0] != ICMP_UNREACHABLE or message[1] != ICMP_FRAGMENTATION_NEEDED:
            return None
        mtu = int.from_bytes(message[6:8], "big")
        quoted = message[8:]
        if len(quoted) < 20 or quoted[0] >> 4 != 4 or quoted[9] != PROTO_TCP:
            return None
        remote, tcp = quoted[16:20], quoted[(quoted[0] & 0x0F) * 4:]
    else:
        if message[0] != ICMPV6_PACKET_TOO_BIG:
            return None
        mtu = int.from_bytes(message[4:8], "big")
        quoted = message[8:]
        if len(quoted) < 40 or quoted[0] >> 4 != 6 or quoted[6] != PROTO_TCP:
            return None
        remote, tcp = quoted[24:40], quoted[40:]
    if len(tcp) < 8 or mtu == 0:
        return None
    mtu = max(mtu, MIN_MTU[family])
    return PacketTooBig(remote, int.from_bytes(tcp[2:4], "big"), int.from_bytes(tcp[0:2], "big"),
                        int.from_bytes(tcp[4:8], "big"), mtu - IP_HEADER[family] - TCP_HEADER)

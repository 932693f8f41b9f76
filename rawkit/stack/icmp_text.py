"""How iputils ping words an ICMP or ICMPv6 error ("Destination Host Unreachable", "Time to live
exceeded", "Destination unreachable: No route" ...): ping's users grep for these exact words."""

from __future__ import annotations

import socket

from rawkit.stack.outcome import Outcome

ICMP_UNREACHABLE = {
    0: "Destination Net Unreachable", 1: "Destination Host Unreachable",
    2: "Destination Protocol Unreachable", 3: "Destination Port Unreachable", 5: "Source Route Failed",
    6: "Destination Net Unknown",
    7: "Destination Host Unknown", 8: "Source Host Isolated", 9: "Destination Net Prohibited",
    10: "Destination Host Prohibited", 11: "Destination Net Unreachable for Type of Service",
    12: "Destination Host Unreachable for Type of Service", 13: "Packet filtered", 14: "Precedence Violation",
    15: "Precedence Cutoff",
}
ICMP_REDIRECT = {0: "Redirect Network", 1: "Redirect Host", 2: "Redirect Type of Service and Network",
                 3: "Redirect Type of Service and Host"}
ICMPV6_UNREACHABLE = {0: "No route", 1: "Administratively prohibited", 2: "Beyond scope of source address",
                      3: "Address unreachable", 4: "Port unreachable",
                      5: "Source address failed ingress/egress policy", 6: "Reject route to destination"}

ICMPV6_TIME_EXCEEDED = {0: "Hop limit", 1: "Defragmentation failure"}
ICMPV6_PARAMETER_PROBLEM = {0: "Wrong header field ", 1: "Unknown header ", 2: "Unknown option "}
ICMP_TIME_EXCEEDED = {0: "Time to live exceeded", 1: "Frag reassembly time exceeded"}


def icmp_error_text(outcome: Outcome) -> str:
    """What iputils ping prints after `From ADDR icmp_seq=N ` for an ICMP error."""
    kind, code, info = outcome.icmp_type, outcome.icmp_code, outcome.info
    if outcome.ipv6:
        if kind == 1:
            return "Destination unreachable: " + ICMPV6_UNREACHABLE.get(code, f"Unknown code {code}")
        if kind == 2:
            return f"Packet too big: mtu={info}"
        if kind == 3:
            return "Time exceeded: " + ICMPV6_TIME_EXCEEDED.get(code, f"code {code}")
        if kind == 4:
            what = ICMPV6_PARAMETER_PROBLEM.get(code, f"code {code} ")
            return f"Parameter problem: {what}at {info}"
        return f"Unknown type {kind}"
    if kind == 3:
        if code == 4:
            return f"Frag needed and DF set (mtu = {info & 0xFFFF})"
        return ICMP_UNREACHABLE.get(code, f"Dest Unreachable, Bad Code: {code}")
    if kind == 4:
        return "Source Quench"
    if kind == 5:
        gateway = socket.inet_ntoa(info.to_bytes(4, "big"))
        return ICMP_REDIRECT.get(code, f"Redirect, Bad Code: {code}") + f"(New nexthop: {gateway})"
    if kind == 11:
        return ICMP_TIME_EXCEEDED.get(code, f"Time exceeded, Bad Code: {code}")
    if kind == 12:
        return f"Parameter problem: pointer = {info >> 24}"
    return f"Bad ICMP type: {kind}"

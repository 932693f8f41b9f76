"""Names the filter language knows: the constants of pcap-filter(7), and the system's host,
service and protocol databases (resolved once, at compile time)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from rawkit.filter.errors import FilterError

if TYPE_CHECKING:
    import ipaddress

_ICMP = {
    "icmptype": 0, "icmpcode": 1, "icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4,
    "icmp-redirect": 5, "icmp-echo": 8, "icmp-routeradvert": 9, "icmp-routersolicit": 10,
    "icmp-timxceed": 11, "icmp-paramprob": 12, "icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
    "icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
}
_ICMP6 = {
    "icmp6type": 0, "icmp6code": 1, "icmp6-destinationunreach": 1, "icmp6-packettoobig": 2,
    "icmp6-timeexceeded": 3, "icmp6-parameterproblem": 4, "icmp6-echo": 128, "icmp6-echoreply": 129,
    "icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
    "icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133, "icmp6-routeradvert": 134,
    "icmp6-neighborsolicit": 135, "icmp6-neighboradvert": 136, "icmp6-redirect": 137,
    "icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139, "icmp6-nodeinformationresponse": 140,
    "icmp6-ineighbordiscoverysolicit": 141, "icmp6-ineighbordiscoveryadvert": 142,
    "icmp6-multicastlistenerreportv2": 143, "icmp6-homeagentdiscoveryrequest": 144,
    "icmp6-homeagentdiscoveryreply": 145, "icmp6-mobileprefixsolicit": 146,
    "icmp6-mobileprefixadvert": 147, "icmp6-certpathsolicit": 148, "icmp6-certpathadvert": 149,
    "icmp6-multicastrouteradvert": 151, "icmp6-multicastroutersolicit": 152,
    "icmp6-multicastrouterterm": 153,
}
_TCP = {
    "tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04, "tcp-push": 0x08, "tcp-ack": 0x10,
    "tcp-urg": 0x20, "tcp-ece": 0x40, "tcp-cwr": 0x80,
}
NAMED_CONSTANTS: dict[str, int] = {**_ICMP, **_ICMP6, **_TCP}

# EtherType names accepted after `ether proto` (those with a plain EtherType on every link type)
ETHER_PROTOCOLS = {"ip": 0x0800, "ip6": 0x86DD, "arp": 0x0806, "rarp": 0x8035}

# IP protocol names that are keywords, so `ip proto \tcp` works without the services database
IP_PROTOCOLS = {"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "icmp6": 58, "sctp": 132}


def ip_protocol(name: str) -> int:
    if name in IP_PROTOCOLS:
        return IP_PROTOCOLS[name]
    try:
        return socket.getprotobyname(name)
    except OSError as error:
        raise FilterError(f"unknown ip proto '{name}'") from error


def service_port(name: str) -> tuple[int, str | None]:
    """Port number and the only transport it is defined for (None: tcp and udp agree)."""
    found: dict[str, int] = {}
    for transport in ("tcp", "udp"):
        try:
            found[transport] = socket.getservbyname(name, transport)
        except OSError:
            continue
    if not found:
        raise FilterError(f"unknown port '{name}'")
    if len(found) == 2 and found["tcp"] == found["udp"]:
        return found["tcp"], None
    transport = "tcp" if "tcp" in found else "udp"
    return found[transport], transport


def host_addresses(name: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every address the system resolver gives for `name`, in its order, without repeats."""
    import ipaddress  # imported here: only host names need it

    try:
        answers = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as error:
        raise FilterError(f"unknown host '{name}'") from error
    addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    for family, _, _, _, sockaddr in answers:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FilterError(f"unknown host '{name}'")
    return addresses

"""rawkit: decode and craft frames, capture and replay, ping and trace, analyse captures, and a
userspace TCP behind a Berkeley-style sockets API."""

import socket as _socket

from rawkit._read import read
from rawkit.wire import (
    ARP,
    ICMP,
    RARP,
    TCP,
    UDP,
    ArpOp,
    Chain,
    CookedLinux,
    CookedLinuxV2,
    Dot1AD,
    Dot1Q,
    Ether,
    EtherType,
    Flags,
    ICMPType,
    ICMPv6,
    ICMPv6Type,
    IPProto,
    IPv4,
    IPv6,
    IPv6DestOpts,
    IPv6Fragment,
    IPv6HopByHop,
    IPv6Routing,
    Layer,
    LinkType,
    Loopback,
    Packet,
    Padding,
    Raw,
    decode,
)

__version__ = "0.1.0"

LINKTYPE_NULL = LinkType.NULL
LINKTYPE_ETHERNET = LinkType.ETHERNET
LINKTYPE_RAW = LinkType.RAW
LINKTYPE_LOOP = LinkType.LOOP
LINKTYPE_LINUX_SLL = LinkType.LINUX_SLL
LINKTYPE_LINUX_SLL2 = LinkType.LINUX_SLL2
LINKTYPE_IPV4 = LinkType.IPV4
LINKTYPE_IPV6 = LinkType.IPV6

# the sockets API mirrors Python's socket module, constants included
AF_INET = _socket.AF_INET
AF_INET6 = _socket.AF_INET6
SOCK_STREAM = _socket.SOCK_STREAM
SOCK_DGRAM = _socket.SOCK_DGRAM
SHUT_RD = _socket.SHUT_RD
SHUT_WR = _socket.SHUT_WR
SHUT_RDWR = _socket.SHUT_RDWR

__all__ = [
    "AF_INET", "AF_INET6", "ARP", "ICMP", "LINKTYPE_ETHERNET", "LINKTYPE_IPV4", "LINKTYPE_IPV6",
    "LINKTYPE_LINUX_SLL", "LINKTYPE_LINUX_SLL2", "LINKTYPE_LOOP", "LINKTYPE_NULL", "LINKTYPE_RAW", "RARP",
    "SHUT_RD", "SHUT_RDWR", "SHUT_WR", "SOCK_DGRAM", "SOCK_STREAM", "TCP", "UDP", "ArpOp", "Chain",
    "CookedLinux", "CookedLinuxV2", "Dot1AD", "Dot1Q", "Ether", "EtherType", "Flags", "ICMPType", "ICMPv6",
    "ICMPv6Type", "IPProto", "IPv4", "IPv6", "IPv6DestOpts", "IPv6Fragment", "IPv6HopByHop", "IPv6Routing",
    "Layer", "LinkType", "Loopback", "Packet", "Padding", "Raw", "decode",
    "read",
]

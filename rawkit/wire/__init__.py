"""The wire layer: one module per protocol, each with a zero-copy view (parsing) and a builder.

Imports nothing else of rawkit.
"""

from rawkit.wire.arp import ARP, RARP, ArpOp
from rawkit.wire.constants import EtherType, IPProto, LinkType
from rawkit.wire.ethernet import Ether
from rawkit.wire.icmp import ICMP, ICMPType
from rawkit.wire.icmpv6 import ICMPv6, ICMPv6Type, PrefixInfo
from rawkit.wire.ipv4 import IPv4
from rawkit.wire.ipv6 import IPv6, IPv6DestOpts, IPv6Fragment, IPv6HopByHop, IPv6Routing
from rawkit.wire.layer import Chain, Layer, Padding, Raw
from rawkit.wire.linux_sll import CookedLinux, CookedLinuxV2
from rawkit.wire.loopback import Loopback
from rawkit.wire.packet import Packet, decode
from rawkit.wire.tcp import TCP, Flags
from rawkit.wire.udp import UDP
from rawkit.wire.vlan import Dot1AD, Dot1Q

__all__ = [
    "ARP", "ICMP", "RARP", "TCP", "UDP", "ArpOp", "Chain", "CookedLinux", "CookedLinuxV2", "Dot1AD", "Dot1Q",
    "Ether", "EtherType", "Flags", "ICMPType", "ICMPv6", "ICMPv6Type", "IPProto", "IPv4", "IPv6",
    "IPv6DestOpts", "IPv6Fragment", "IPv6HopByHop", "IPv6Routing", "Layer", "LinkType", "Loopback", "Packet",
    "Padding", "PrefixInfo", "Raw", "decode",
]

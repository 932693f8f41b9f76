"""Protocol numbers shared by several wire modules."""

from enum import IntEnum


class LinkType(IntEnum):
    """pcap LINKTYPE_* values (www.tcpdump.org/linktypes.html)."""

    NULL = 0
    ETHERNET = 1
    RAW = 101
    LOOP = 108
    LINUX_SLL = 113
    IPV4 = 228
    IPV6 = 229
    LINUX_SLL2 = 276


class EtherType(IntEnum):
    IPV4 = 0x0800
    ARP = 0x0806
    RARP = 0x8035
    VLAN = 0x8100
    IPV6 = 0x86DD
    QINQ = 0x88A8
    QINQ_OLD = 0x9100


class IPProto(IntEnum):
    HOPOPTS = 0
    ICMP = 1
    IGMP = 2
    IPIP = 4
    TCP = 6
    UDP = 17
    IPV6 = 41
    ROUTING = 43
    FRAGMENT = 44
    GRE = 47
    ESP = 50
    AH = 51
    ICMPV6 = 58
    NONE = 59
    DSTOPTS = 60
    SCTP = 132

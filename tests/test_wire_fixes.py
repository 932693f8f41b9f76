"""Regression tests for bugs in rawkit/wire found while proving it against the oracles (one per bug)."""

from __future__ import annotations

from scapy.layers.inet6 import ICMPv6ND_RA, ICMPv6NDOptPrefixInfo
from scapy.layers.inet6 import IPv6 as ScapyIPv6

import rawkit
from rawkit.wire.icmpv6 import PrefixInfo


def test_prefix_information_option_decodes_and_builds() -> None:
    """The ND prefix-information option is 32 bytes; its codec used a 34-byte layout and raised."""
    frame = bytes(ScapyIPv6(src="fe80::1", dst="ff02::1") / ICMPv6ND_RA()
                  / ICMPv6NDOptPrefixInfo(prefixlen=64, L=1, A=1, validlifetime=86400,
                                          preferredlifetime=14400, prefix="fd00:18::"))
    pkt = rawkit.decode(frame, rawkit.LINKTYPE_RAW)
    assert pkt.errors == []
    assert pkt.icmp6.options == [("prefix_info", PrefixInfo(64, 0xC0, 86400, 14400, "fd00:18::"))]
    built = bytes(rawkit.IPv6(src="fe80::1", dst="ff02::1", hlim=255) / rawkit.ICMPv6(
        type=134, cur_hop_limit=0, flags=0x08, router_lifetime=1800,
        options=[("prefix_info", (64, 0xC0, 86400, 14400, "fd00:18::"))]))
    assert built == frame


def test_null_loopback_family_10_is_not_ipv6() -> None:
    """AF_INET6 is 24/28/30 in BSD loopback headers (BSDs and Darwin write them); 10 is Linux's value,
    which no NULL/LOOP capture carries. tcpdump prints "AF Unknown (10)" and tshark decodes no IPv6:
    rawkit agrees with both instead of decoding an IPv6 packet."""
    inner = bytes(rawkit.IPv6(src="fd00:18::1", dst="fd00:18::2") / rawkit.UDP())
    for linktype, header in ((rawkit.LINKTYPE_NULL, (10).to_bytes(4, "little")),
                             (rawkit.LINKTYPE_LOOP, (10).to_bytes(4, "big"))):
        pkt = rawkit.decode(header + inner, linktype)
        assert pkt.ip6 is None and pkt.loopback.family == 10
        assert pkt.errors == ["loopback: unknown address family 10 at byte 0"]
    for family in (24, 28, 30):
        assert rawkit.decode(family.to_bytes(4, "little") + inner, rawkit.LINKTYPE_NULL).udp is not None

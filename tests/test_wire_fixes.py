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


def test_source_routed_checksums_use_the_final_destination() -> None:
    """With a loose/strict source route still to run, the TCP/UDP pseudo-header holds the final
    destination, the route's last address (RFC 9293 3.1, RFC 1122 3.2.1.8); scapy, tshark and Linux
    do so. rawkit used the header's destination, the next hop, both to verify and to build."""
    from scapy.layers.inet import IP, UDP, IPOption_LSRR, IPOption_SSRR
    from scapy.layers.l2 import Ether

    for option, kind in ((IPOption_LSRR, 131), (IPOption_SSRR, 137)):
        frame = bytes(Ether() / IP(src="198.18.0.1", dst="198.18.0.254",
                                   options=[option(routers=["198.18.0.254", "198.19.0.7"], pointer=8)])
                      / UDP(sport=40000, dport=9999) / b"x")
        pkt = rawkit.decode(frame)
        assert pkt.errors == [] and pkt.udp.checksum_ok is True
        route = bytes((kind, 11, 8)) + bytes((198, 18, 0, 254, 198, 19, 0, 7))
        built = bytes(rawkit.Ether(dst="ff:ff:ff:ff:ff:ff", src=pkt.eth.src)
                      / rawkit.IPv4(src="198.18.0.1", dst="198.18.0.254", options=route, id=1)
                      / rawkit.UDP(sport=40000, dport=9999) / b"x")
        assert built[14 + 32 :] == frame[14 + 32 :]  # the UDP datagram, checksum included
    # a route already run to its end: the header holds the final destination
    exhausted = bytes(rawkit.IPv4(src="198.18.0.1", dst="198.19.0.7",
                                  options=bytes((131, 7, 8, 198, 18, 0, 254)))
                      / rawkit.UDP() / b"x")
    assert rawkit.decode(exhausted, rawkit.LINKTYPE_RAW).udp.checksum_ok is True


def test_udp_checksum_covers_the_udp_length_not_the_ip_payload() -> None:
    """When the UDP length is shorter than the IP payload, the datagram ends at the UDP length (what
    follows is not UDP's) and so does its checksum, as Linux (udp4_csum_init) and tshark check it.
    rawkit summed up to the end of the IP payload."""
    from scapy.layers.inet import IP, UDP

    # length 10, checksum over those 10 bytes
    datagram = bytes(IP(src="198.18.0.1", dst="198.18.0.2") / UDP(sport=40000, dport=9999) / b"ab")[20:]
    ip = bytes(IP(src="198.18.0.1", dst="198.18.0.2", proto=17, len=20 + len(datagram) + 6))
    pkt = rawkit.decode(ip[:20] + datagram + b"extra!", rawkit.LINKTYPE_RAW)
    assert pkt.udp.len == 10 and pkt.payload == b"ab"
    assert pkt.udp.checksum_ok is True
    assert rawkit.decode(ip[:20] + datagram[:6] + b"\x00\x01" + datagram[8:] + b"extra!",
                         rawkit.LINKTYPE_RAW).udp.checksum_ok is False


def test_ipv6_routing_header_checksums_use_the_final_destination() -> None:
    """With segments left in a routing header, the upper-layer pseudo-header holds the final
    destination (RFC 8200 8.1): the last address of a type 0 header, the first (Segment List[0]) of a
    segment routing header (RFC 8754). scapy and tshark do so; rawkit used the header's destination."""
    from scapy.layers.inet import UDP
    from scapy.layers.inet6 import IPv6, IPv6ExtHdrRouting, IPv6ExtHdrSegmentRouting

    header = IPv6(src="fd00:18::1", dst="fd00:18::2")
    for routing in (IPv6ExtHdrRouting(addresses=["fd00:18::3", "fd00:18::4"], segleft=2),
                    IPv6ExtHdrSegmentRouting(addresses=["fd00:18::9", "fd00:18::2"], segleft=1)):
        frame = bytes(header / routing / UDP(sport=1, dport=2) / b"x")
        pkt = rawkit.decode(frame, rawkit.LINKTYPE_RAW)
        assert pkt.errors == [] and pkt.udp.checksum_ok is True
        addresses = routing.addresses
        built = bytes(rawkit.IPv6(src="fd00:18::1", dst="fd00:18::2")
                      / rawkit.IPv6Routing(type=routing.type, segleft=routing.segleft, addresses=addresses,
                                           reserved=frame[44:48])
                      / rawkit.UDP(sport=1, dport=2) / b"x")
        assert built == frame
    # no segments left: the header's destination is the final one
    done = bytes(header / IPv6ExtHdrRouting(addresses=["fd00:18::3"], segleft=0) / UDP() / b"x")
    assert rawkit.decode(done, rawkit.LINKTYPE_RAW).udp.checksum_ok is True
    # two routing headers with segments left: the innermost names the destination, for views and builders
    twice = bytes(rawkit.IPv6(dst="::") / rawkit.IPv6Routing(segleft=1, addresses=["::"])
                  / rawkit.IPv6Routing(segleft=1, addresses=["::1"]) / rawkit.UDP())
    assert rawkit.decode(twice, rawkit.LINKTYPE_RAW).udp.checksum_ok is True

"""IPv6 Neighbor Discovery (RFC 4861) for the stack's own IPv6 address: answer solicitations for it,
resolve peers with solicitations to their solicited-node group, learn from advertisements.

The same cache, queue and retry rules as ARP (rawkit.stack.neighbours); only the messages differ.
"""

from __future__ import annotations

import struct

from rawkit.stack.ip_link import ETH_P_IPV6, EthernetLink, IPPacket, multicast_mac, solicited_node_bytes
from rawkit.stack.neighbours import Frame, Neighbours
from rawkit.wire.checksum import internet_checksum, pseudo_header_sum

PROTO_ICMPV6 = 58
NEIGHBOR_SOLICITATION, NEIGHBOR_ADVERTISEMENT = 135, 136
OPTION_SOURCE_LINK_ADDRESS, OPTION_TARGET_LINK_ADDRESS = 1, 2
ADVERT_SOLICITED, ADVERT_OVERRIDE = 0x40000000, 0x20000000
ND_HOP_LIMIT = 255                   # RFC 4861 7.1.1: anything less came through a router
_HEAD = struct.Struct("!BBHI16s")    # type, code, checksum, flags/reserved, target


def icmpv6_message(source: bytes, destination: bytes, message: bytes) -> bytes:
    """`message` with its checksum filled in (bytes 2..3 zero on entry)."""
    checksum = internet_checksum(message, pseudo_header_sum(source, destination, PROTO_ICMPV6, len(message)))
    return message[:2] + checksum.to_bytes(2, "big") + message[4:]


def _link_address_option(message: bytes, kind: int) -> bytes | None:
    offset = _HEAD.size
    while offset + 8 <= len(message):
        option_type, length = message[offset], message[offset + 1] * 8
        if length == 0:
            return None
        if option_type == kind and length >= 8:
            return message[offset + 2:offset + 8]
        offset += length
    return None


class NeighbourDiscovery(Neighbours):
    """ND side of one IPv6 address (`ip`, `mac` as bytes)."""

    ethertype = ETH_P_IPV6

    def solicitation(self, ip: bytes) -> Frame:
        group = solicited_node_bytes(ip)
        message = _HEAD.pack(NEIGHBOR_SOLICITATION, 0, 0, 0, ip) + \
            bytes((OPTION_SOURCE_LINK_ADDRESS, 1)) + self.mac
        message = icmpv6_message(self.ip, group, message)
        packet = EthernetLink.ipv6_packet(self.ip, group, PROTO_ICMPV6, message, ND_HOP_LIMIT)
        return multicast_mac(group), ETH_P_IPV6, packet

    def handle_nd(self, packet: IPPacket, now: float) -> list[Frame]:
        """A solicitation for our address gets an advertisement; advertisements fill the cache.
        The caller has checked the ICMPv6 checksum."""
        message = packet.payload
        if packet.hop_limit != ND_HOP_LIMIT or len(message) < _HEAD.size or message[1] != 0:
            return []
        kind, _code, _checksum, _flags, target = _HEAD.unpack_from(message)
        if kind == NEIGHBOR_ADVERTISEMENT:
            mac = _link_address_option(message, OPTION_TARGET_LINK_ADDRESS)
            return self.learn(target, mac, now) if mac is not None else []
        if kind != NEIGHBOR_SOLICITATION or target != self.ip or packet.src == bytes(16) or not self.answers:
            return []                   # not for us, duplicate address detection, or the kernel's to answer
        mac = _link_address_option(message, OPTION_SOURCE_LINK_ADDRESS)
        out = self.learn(packet.src, mac, now) if mac is not None else []
        mac = mac or self.lookup(packet.src, now)
        if mac is None:
            return out
        advert = _HEAD.pack(NEIGHBOR_ADVERTISEMENT, 0, 0, ADVERT_SOLICITED | ADVERT_OVERRIDE, self.ip) + \
            bytes((OPTION_TARGET_LINK_ADDRESS, 1)) + self.mac
        reply = EthernetLink.ipv6_packet(self.ip, packet.src, PROTO_ICMPV6,
                                         icmpv6_message(self.ip, packet.src, advert), ND_HOP_LIMIT)
        return [(mac, ETH_P_IPV6, reply), *out]

"""What the compiler needs to know about each link type: where the network layer starts, and how a
frame says which network protocol it carries."""

from __future__ import annotations

from dataclasses import dataclass

from rawkit.filter.errors import FilterError
from rawkit.filter.ir import FALSE, TRUE, Const, Load, Pred, any_of, arith, cmp, conj, inv
from rawkit.wire.constants import LinkType

ETHERTYPE_IP = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERMTU = 1500
LINUX_SLL_P_802_2 = 4
BSD_AF_INET = 2
BSD_AF_INET6 = (24, 28, 30)  # NetBSD/OpenBSD, FreeBSD, Darwin: what tcpdump tests for ip6


@dataclass(frozen=True)
class LinkLayer:
    linktype: int
    name: str  # as tcpdump names it in error messages
    payload_offset: int  # where the network-layer header starts
    type_offset: int | None  # where the EtherType sits, if the header has one
    ethernet: bool = False
    family_order: str | None = None  # NULL/LOOP: byte order of the 4-byte address family
    only: int | None = None  # the one EtherType every frame carries (raw IPv4 / raw IPv6)


LINK_LAYERS = {
    LinkType.ETHERNET: LinkLayer(LinkType.ETHERNET, "Ethernet", 14, 12, ethernet=True),
    LinkType.RAW: LinkLayer(LinkType.RAW, "Raw IP", 0, None),
    LinkType.LINUX_SLL: LinkLayer(LinkType.LINUX_SLL, "Linux cooked v1", 16, 14),
    LinkType.LINUX_SLL2: LinkLayer(LinkType.LINUX_SLL2, "Linux cooked v2", 20, 0),
    LinkType.NULL: LinkLayer(LinkType.NULL, "BSD loopback", 4, None, family_order="little"),
    LinkType.LOOP: LinkLayer(LinkType.LOOP, "OpenBSD loopback", 4, None, family_order="big"),
    LinkType.IPV4: LinkLayer(LinkType.IPV4, "Raw IPv4", 0, None, only=ETHERTYPE_IP),
    LinkType.IPV6: LinkLayer(LinkType.IPV6, "Raw IPv6", 0, None, only=ETHERTYPE_IPV6),
}


def link_layer(linktype: int) -> LinkLayer:
    try:
        return LINK_LAYERS[linktype]
    except KeyError:
        raise FilterError(f"link type {linktype} is not supported by rawkit's filter compiler") from None


def ethertype_test(link: LinkLayer, shift: int, ethertype: int) -> Pred:
    """True when the frame's network protocol is `ethertype` (after `shift` bytes of VLAN tags)."""
    if link.only is not None:
        return TRUE if ethertype == link.only else FALSE
    if link.family_order is not None:
        return _family_test(link, ethertype)
    if link.type_offset is None:  # raw IP: the version nibble is all there is
        version = {ETHERTYPE_IP: 0x40, ETHERTYPE_IPV6: 0x60}.get(ethertype)
        if version is None:
            return FALSE
        return cmp("eq", arith("&", Load(1, Const(link.payload_offset + shift)), Const(0xF0)), Const(version))
    type_field = Load(2, Const(link.type_offset + shift))
    if ethertype > ETHERMTU:
        return cmp("eq", type_field, Const(ethertype))
    # an 802.2 LLC SAP rather than an EtherType
    payload_byte = cmp("eq", Load(1, Const(link.payload_offset + shift)), Const(ethertype))
    if link.ethernet:
        return conj(inv(cmp("gt", type_field, Const(ETHERMTU))), payload_byte)
    return conj(cmp("eq", type_field, Const(LINUX_SLL_P_802_2)), payload_byte)


def _family_test(link: LinkLayer, ethertype: int) -> Pred:
    families = {ETHERTYPE_IP: (BSD_AF_INET,), ETHERTYPE_IPV6: BSD_AF_INET6}.get(ethertype)
    if families is None:
        return FALSE
    field = Load(4, Const(0))
    return any_of(*(cmp("eq", field, Const(_family_word(link, family))) for family in families))


def _family_word(link: LinkLayer, family: int) -> int:
    """The 4-byte family as the BPF word load sees it (big-endian) for this link's byte order."""
    return int.from_bytes(family.to_bytes(4, link.family_order), "big")

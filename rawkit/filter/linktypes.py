"""What the compiler needs to know about each link type: where the network layer starts, and how a
frame says which network protocol it carries."""

from __future__ import annotations

from rawkit.filter.errors import FilterError
from rawkit.filter.ir import FALSE, TRUE, Const, Load, Pred, any_of, arith, cmp, conj, disj, inv
from rawkit.filter.record import Record
from rawkit.wire.constants import LinkType

ETHERTYPE_IP = 0x0800
ETHERTYPE_IPV6 = 0x86DD
ETHERMTU = 1500
LINUX_SLL_P_802_2 = 4
LINUX_SLL_P_802_3 = 1  # Novell "raw" 802.3 (IPX)
LLC_BOTH_SAPS = (0x06, 0xF0, 0xFE)  # IP, NetBEUI, ISO: tcpdump tests DSAP and SSAP
LLCSAP_IPX = 0xE0
ETHERTYPE_IPX = 0x8137
SNAP_HEADER = 0xAAAA0300  # DSAP, SSAP, UI, first OUI byte 0
SNAP_PROTOCOLS = {0x809B: (0xAAAA0308, 0x0007809B), 0x80F3: (SNAP_HEADER, 0x000080F3)}  # AppleTalk, AARP
BSD_AF_INET = 2
BSD_AF_INET6 = (24, 28, 30)  # NetBSD/OpenBSD, FreeBSD, Darwin: what tcpdump tests for ip6


class LinkLayer(Record):
    __slots__ = ("linktype", "name", "payload_offset", "type_offset", "ethernet", "family_order", "only")
    _defaults = {"ethernet": False, "family_order": None, "only": None}
    linktype: int
    name: str  # as tcpdump names it in error messages
    payload_offset: int  # where the network-layer header starts
    type_offset: int | None  # where the EtherType sits, if the header has one
    ethernet: bool
    family_order: str | None  # NULL/LOOP: byte order of the 4-byte address family
    only: int | None  # the one EtherType every frame carries (raw IPv4 / raw IPv6)


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
    if link.linktype == LinkType.LINUX_SLL2:  # tcpdump compares SLL2's protocol field as it is
        return cmp("eq", type_field, Const(ethertype))
    return _llc_aware_test(link, shift, type_field, ethertype)


def _llc_aware_test(link: LinkLayer, shift: int, type_field: Load, ethertype: int) -> Pred:
    """Ethernet and SLL: small values are 802.2 LLC SAPs, and a few protocols also travel in LLC/SNAP
    frames (IPX, AppleTalk, AARP), which tcpdump tests for too."""
    payload = link.payload_offset + shift

    def equals(value: Load, constant: int) -> Pred:
        return cmp("eq", value, Const(constant))

    if link.ethernet:
        is_llc = inv(cmp("gt", type_field, Const(ETHERMTU)))
    else:
        is_llc = equals(type_field, LINUX_SLL_P_802_2)
    sap, both_saps = Load(1, Const(payload)), Load(2, Const(payload))

    def snap(header_word: int, type_word: int) -> Pred:
        return conj(equals(Load(4, Const(payload + 4)), type_word),
                    equals(Load(4, Const(payload)), header_word))

    if ethertype in LLC_BOTH_SAPS:
        return conj(is_llc, equals(both_saps, ethertype << 8 | ethertype))
    if ethertype == LLCSAP_IPX:
        ipx_forms = any_of(snap(SNAP_HEADER, ETHERTYPE_IPX), equals(sap, LLCSAP_IPX),
                           equals(both_saps, 0xFFFF))
        if link.ethernet:
            return disj(equals(type_field, ETHERTYPE_IPX), conj(is_llc, ipx_forms))
        return any_of(equals(type_field, ETHERTYPE_IPX), equals(type_field, LINUX_SLL_P_802_3),
                      conj(is_llc, disj(equals(sap, LLCSAP_IPX), snap(SNAP_HEADER, ETHERTYPE_IPX))))
    if ethertype in SNAP_PROTOCOLS:
        header_word, type_word = SNAP_PROTOCOLS[ethertype]
        return disj(equals(type_field, ethertype), conj(is_llc, snap(header_word, type_word)))
    if ethertype > ETHERMTU:
        return equals(type_field, ethertype)
    return conj(is_llc, equals(sap, ethertype))


def _family_test(link: LinkLayer, ethertype: int) -> Pred:
    families = {ETHERTYPE_IP: (BSD_AF_INET,), ETHERTYPE_IPV6: BSD_AF_INET6}.get(ethertype)
    if families is None:
        return FALSE
    field = Load(4, Const(0))
    return any_of(*(cmp("eq", field, Const(_family_word(link, family))) for family in families))


def _family_word(link: LinkLayer, family: int) -> int:
    """The 4-byte family as the BPF word load sees it (big-endian) for this link's byte order."""
    return int.from_bytes(family.to_bytes(4, link.family_order), "big")

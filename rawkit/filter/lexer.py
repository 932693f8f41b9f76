"""Tokens of the pcap-filter language.

Identifiers swallow '-' and '.' like libpcap's scanner does (so `80-90` and `tcp-syn` are single
tokens and `len-1` is not `len - 1`), and a backslash turns a keyword into a plain name (`\\tcp`).
"""

from __future__ import annotations

import re

from rawkit.filter.errors import FilterError
from rawkit.filter.names import NAMED_CONSTANTS
from rawkit.filter.record import Record

KEYWORDS = frozenset("""
    host net mask port portrange src dst gateway proto ether link ip ip6 arp rarp tcp udp sctp icmp icmp6
    igmp less greater broadcast multicast and or not len vlan
""".split())

# keywords tcpdump knows that rawkit does not implement: named so the error says so
UNSUPPORTED = frozenset("""
    fddi tr wlan ppp slip protochain inbound outbound ifindex mpls pppoed pppoes geneve vxlan lane llc
    decnet atalk aarp iso esis es-is clnp isis is-is l1 l2 iih lsp snp csnp psnp stp ipx netbeui sca lat
    moprc mopdl igrp pim vrrp carp radio ra ta addr1 addr2 addr3 addr4 type subtype dir hdlc frame-relay
    metac bcc sc ilmi connectmsg metaconnect oam oamf4 oamf4ec oamf4sc vpi vci nsap atm byte
""".split())

OPERATORS2 = ("&&", "||", "<=", ">=", "==", "!=", "<<", ">>")
OPERATORS1 = "()[]:!<>=+-*/%&|^"

_SPACE = re.compile(r"\s+")
_HEX = "[0-9A-Fa-f]"
_MAC = re.compile(
    rf"(?:{_HEX}{{1,2}}(?P<sep>[:.-]){_HEX}{{1,2}}(?:(?P=sep){_HEX}{{1,2}}){{4}}"
    rf"|{_HEX}{{4}}\.{_HEX}{{4}}\.{_HEX}{{4}})(?![-_.:A-Za-z0-9])"
)
_IPV6 = re.compile(r"[0-9A-Fa-f:][0-9A-Fa-f:.]*")
_WORD = re.compile(r"[A-Za-z0-9_](?:[-_.A-Za-z0-9]*[._A-Za-z0-9])?")
_ESCAPED = re.compile(r"\\[^\s!()\[\]]+")
_NUMBER = re.compile(r"0[xX][0-9A-Fa-f]+|[0-9]+")
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+){1,3}")


class Token(Record):
    """kind: 'kw', 'num', 'hid' (dotted IPv4), 'hid6', 'eid' (MAC), 'id', 'op' or 'end'."""

    __slots__ = ("kind", "text", "position", "value")
    _defaults = {"value": None}
    kind: str
    text: str
    position: int
    value: int | None


def number_value(text: str) -> int:
    """Decimal, 0x-hex or 0-leading octal, as libpcap reads numbers."""
    if text[:2] in ("0x", "0X"):
        return int(text, 16)
    if len(text) > 1 and text[0] == "0":
        try:
            return int(text, 8)
        except ValueError as error:
            raise FilterError(f"number {text} contains non-octal digit") from error
    return int(text)


def _word_token(text: str, position: int) -> Token:
    lowered = text.lower()
    if _NUMBER.fullmatch(text):
        return Token("num", text, position, number_value(text))
    if _DOTTED.fullmatch(text):
        return Token("hid", text, position)
    if text in KEYWORDS:
        return Token("kw", text, position)
    if text in UNSUPPORTED:
        raise FilterError(f"'{text}' is not supported by rawkit's filter compiler", position)
    if lowered in NAMED_CONSTANTS:
        return Token("num", text, position, NAMED_CONSTANTS[lowered])
    return Token("id", text, position)


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(source):
        space = _SPACE.match(source, index)
        if space:
            index = space.end()
            continue
        two = source[index : index + 2]
        if two in OPERATORS2:
            tokens.append(Token("op", two, index))
            index += 2
            continue
        mac = _MAC.match(source, index)
        if mac:
            tokens.append(Token("eid", mac.group(), index))
            index = mac.end()
            continue
        six = _IPV6.match(source, index)
        if six and six.group().count(":") >= 2 and _is_ipv6(six.group()):
            tokens.append(Token("hid6", six.group(), index))
            index = six.end()
            continue
        escaped = _ESCAPED.match(source, index)
        if escaped:
            tokens.append(Token("id", escaped.group()[1:], index))
            index = escaped.end()
            continue
        word = _WORD.match(source, index)
        if word:
            tokens.append(_word_token(word.group(), index))
            index = word.end()
            continue
        if source[index] in OPERATORS1:
            tokens.append(Token("op", source[index], index))
            index += 1
            continue
        raise FilterError(f"syntax error in filter expression at '{source[index:index + 10]}'", index)
    tokens.append(Token("end", "", len(source)))
    return tokens


def _is_ipv6(text: str) -> bool:
    import ipaddress  # only IPv6 forms need it; a filter without one starts ~4 ms sooner

    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True

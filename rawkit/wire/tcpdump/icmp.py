"""ICMP for IPv4 as tcpdump prints it, including the datagram an error message quotes."""

from __future__ import annotations

from socket import inet_ntoa
from typing import TYPE_CHECKING

from rawkit.wire.checksum import ones_sum

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

_SIMPLE = {4: "source quench", 10: "router solicitation", 15: "information request",
           16: "information reply", 17: "address mask request"}
# destination unreachable codes with the quoted destination: (prefix, suffix)
_UNREACH = {0: ("net ", " unreachable"), 1: ("host ", " unreachable"),
            5: ("", " unreachable - source route failed"), 6: ("net ", " unreachable - unknown"),
            7: ("host ", " unreachable - unknown"), 8: ("", " unreachable - source host isolated"),
            9: ("net ", " unreachable - admin prohibited"), 10: ("host ", " unreachable - admin prohibited"),
            11: ("net ", " unreachable - tos prohibited"), 12: ("host ", " unreachable - tos prohibited"),
            13: ("host ", " unreachable - admin prohibited filter"),
            14: ("host ", " unreachable - host precedence violation"),
            15: ("host ", " unreachable - precedence cutoff")}
_REDIRECT = ("redirect {} to net {}", "redirect {} to host {}", "redirect-tos {} to net {}",
             "redirect-tos {} to host {}")
_ERRORS = frozenset((3, 4, 5, 11, 12))
QUOTED_LENGTH = 1 << 30  # a quoted datagram is cut short on purpose: never report it as truncated-ip


def icmp(p: Printer, data: bytes, off: int, length: int, more_fragments: int) -> str:
    """The part after 'IP a > b: '; `length` is the ICMP message length by the IP header."""
    caplen = len(data) - off
    if caplen < 4:
        return " [|icmp]"
    kind, code = data[off], data[off + 1]
    text = _message(data, off, kind, code, caplen)
    if text is None:
        return " [|icmp]"
    text = f"ICMP {text}, length {length}"
    if p.verbose and not more_fragments and off + length <= len(data):
        if ones_sum(data[off : off + length]) != 0xFFFF:
            checksum = data[off + 2] << 8 | data[off + 3]
            expected = ~ones_sum(data[off : off + 2] + data[off + 4 : off + length]) & 0xFFFF
            text += f" (wrong icmp cksum {checksum:x} (->{expected:x})!)"
    if p.verbose and kind in _ERRORS and caplen >= 28:
        from rawkit.wire.tcpdump.ipv4 import ipv4

        quoted = data[: off + length] if off + length < len(data) else data
        inner = ipv4(p, quoted, off + 8, QUOTED_LENGTH)
        text += "\n\t" + inner
    return text


def _message(data: bytes, off: int, kind: int, code: int, caplen: int) -> str | None:
    """The message text, or None when the capture stops before what it needs."""
    if kind == 0 or kind == 8:
        if caplen < 8:
            return None
        name = "echo reply" if kind == 0 else "echo request"
        return f"{name}, id {data[off + 4] << 8 | data[off + 5]}, seq {data[off + 6] << 8 | data[off + 7]}"
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind in (3, 5, 11, 12) and caplen < 8 + 20:
        return None
    if kind == 3:
        return _unreachable(data, off, code, caplen)
    if kind == 11:
        return "time exceeded in-transit" if code == 0 else "ip reassembly time exceeded"
    if kind == 5:
        quoted_dst = inet_ntoa(data[off + 24 : off + 28])
        template = _REDIRECT[code] if code < 4 else "redirect-#" + str(code) + " {} to {}"
        return template.format(quoted_dst, inet_ntoa(data[off + 4 : off + 8]))
    if kind == 12:
        return f"parameter problem - octet {data[off + 4]}"
    if kind in (13, 14):
        if caplen < 8:
            return None
        ident, seq = data[off + 4] << 8 | data[off + 5], data[off + 6] << 8 | data[off + 7]
        if kind == 13:
            return f"time stamp query id {ident} seq {seq}"
        if caplen < 20:
            return None
        stamps = [_clock(int.from_bytes(data[off + i : off + i + 4], "big")) for i in (8, 12, 16)]
        return f"time stamp reply id {ident} seq {seq}: org {stamps[0]}, recv {stamps[1]}, xmit {stamps[2]}"
    if kind == 18:
        if caplen < 12:
            return None
        return f"address mask is 0x{int.from_bytes(data[off + 8 : off + 12], 'big'):08x}"
    if kind == 9:
        return _router_advert(data, off, caplen) if caplen >= 8 else None
    return f"type-#{kind}"


def _unreachable(data: bytes, off: int, code: int, caplen: int) -> str:
    quoted = off + 8
    quoted_dst = inet_ntoa(data[quoted + 16 : quoted + 20])
    if code in _UNREACH:
        before, after = _UNREACH[code]
        return f"{before}{quoted_dst}{after}"
    if code == 2:
        return f"{quoted_dst} protocol {data[quoted + 9]} unreachable"
    if code == 3:
        header_len = (data[quoted] & 0x0F) * 4
        proto = data[quoted + 9]
        port_at = quoted + header_len + 2
        if port_at + 2 > len(data):
            return f"{quoted_dst} unreachable"
        port = data[port_at] << 8 | data[port_at + 1]
        name = {6: "tcp", 17: "udp"}.get(proto)
        if name is None:
            return f"{quoted_dst} protocol {proto} port {port} unreachable"
        return f"{quoted_dst} {name} port {port} unreachable"
    if code == 4:
        mtu = data[off + 6] << 8 | data[off + 7]
        if mtu:
            return f"{quoted_dst} unreachable - need to frag (mtu {mtu})"
        return f"{quoted_dst} unreachable - need to frag"
    return f"{quoted_dst} unreachable - #{code}"


def _clock(milliseconds: int) -> str:
    seconds, millis = divmod(milliseconds, 1000)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{millis:03d}"


def _router_advert(data: bytes, off: int, caplen: int) -> str:
    count, size, lifetime = data[off + 4], data[off + 5], data[off + 6] << 8 | data[off + 7]
    minutes, seconds = divmod(lifetime, 60)
    text = f"router advertisement lifetime {minutes}:{seconds:02d} {count}:"
    for index in range(count):
        at = off + 8 + index * size * 4
        if at + 8 > off + caplen:
            break
        text += f" {{{inet_ntoa(data[at : at + 4])} {int.from_bytes(data[at + 4 : at + 8], 'big')}}}"
    return text

"""IPv4 as tcpdump prints it: 'IP a > b: ...', the -v header summary, options and fragments."""

from __future__ import annotations

import struct
from socket import inet_ntoa
from typing import TYPE_CHECKING

from rawkit.wire.checksum import ones_sum
from rawkit.wire.tcpdump import gre, icmp, igmp, tcp, udp

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

_HEADER = struct.Struct("!BBHHHBBH")
PROTO_NAMES = {0: "Options", 1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IPv6", 43: "Routing",
               44: "Fragment", 46: "RSVP", 47: "GRE", 50: "ESP", 51: "AH", 58: "ICMPv6", 89: "OSPF",
               103: "PIM", 112: "VRRP", 132: "SCTP"}
_ECN = ("", ",ECT(1)", ",ECT(0)", ",CE")


def ipv4(p: Printer, data: bytes, off: int, length: int) -> str:
    """'IP ...' for the datagram at `off`; `length` is what the frame had on the wire from `off`."""
    caplen = len(data) - off
    if caplen > 0 and data[off] >> 4 != 4:
        if data[off] >> 4 == 6:
            return "IP6, wrong link-layer encapsulation (invalid)"
        return f"IP{data[off] >> 4} (invalid)"
    if caplen < 20:
        return f"{p.ip_label} [|ip]" if caplen > 0 else " [|ip]"
    first, tos, total, ident, frag_word, ttl, proto, checksum = _HEADER.unpack_from(data, off)
    header_len = (first & 0x0F) * 4
    if header_len < 20:
        return f"{p.ip_label}bad-hlen {header_len}"
    if total < header_len:
        return f"{p.ip_label}bad-len {total}"
    prefix = p.ip_label
    if total > length:  # tcpdump says so, then goes on with the header's length
        prefix += f"truncated-ip - {total - length} bytes missing! "
    addresses = data[off + 12 : off + 20]
    names = p.address_names.get(addresses)
    if names is None:
        names = p.remember_names(addresses, inet_ntoa(addresses[:4]), inet_ntoa(addresses[4:]))
    src, dst, src_dot, dst_dot = names
    if header_len > caplen:
        if p.verbose:
            details = _details(data, off, tos, ident, frag_word, ttl, proto, header_len, total, checksum)
            return f"{prefix}{details}\n    {src} > {dst}:  [|ip]"
        return f"{prefix} [remaining caplen({caplen}) < header length({header_len})] [|ip]"
    l4 = off + header_len
    l4_length = total - header_len
    pseudo = None  # pseudo-header sum without the length: only -v checks transport checksums
    if p.verbose:
        details = _details(data, off, tos, ident, frag_word, ttl, proto, header_len, total, checksum)
        prefix += details + "\n    "
        if not frag_word & 0x2000:
            dst_raw = addresses[4:]
            if header_len > 20:
                dst_raw = _final_destination(data[off + 20 : off + header_len]) or dst_raw
            pseudo = _pseudo(addresses[:4], dst_raw, proto, 0)
    if frag_word & 0x1FFF:
        return f"{prefix}{src} > {dst}: ip-proto-{proto}"
    if proto == 6:
        return prefix + tcp.tcp(p, data, l4, l4_length, src_dot, dst_dot, addresses,
                                None if pseudo is None else pseudo + l4_length)
    if proto == 17:
        if p.verbose < 2:
            pseudo = None
        return prefix + udp.udp(p, data, l4, l4_length, src_dot, dst_dot, pseudo, False,
                               bool(frag_word & 0x2000))
    if proto == 1:
        return f"{prefix}{src} > {dst}: " + icmp.icmp(p, data, l4, l4_length, frag_word & 0x2000)
    if proto == 2:
        return f"{prefix}{src} > {dst}: " + igmp.igmp(p, data, l4, l4_length)
    if proto == 59:
        return f"{prefix}{src} > {dst}: no next header"
    if proto == 47:
        return f"{prefix}{src} > {dst}: " + gre.gre(p, data, l4, l4_length)
    if proto == 4:
        return f"{prefix}{src} > {dst}: " + ipv4(p, data, l4, l4_length)
    if proto == 41:
        from rawkit.wire.tcpdump.ipv6 import ipv6

        return f"{prefix}{src} > {dst}: " + ipv6(p, data, l4, l4_length)
    return f"{prefix}{src} > {dst}:  ip-proto-{proto} {l4_length}"


def _final_destination(options: bytes) -> bytes | None:
    """The last hop of a loose/strict source route: what the TCP/UDP checksum covers, per tcpdump."""
    index = 0
    while index + 1 < len(options):
        kind = options[index]
        if kind == 0:
            return None
        if kind == 1:
            index += 1
            continue
        size = options[index + 1]
        if size < 2:
            return None
        if kind in (131, 137) and size >= 7 and index + size <= len(options):
            hops = (size - 3) // 4
            return options[index + 3 + 4 * (hops - 1) : index + 3 + 4 * hops]
        index += size
    return None


def _pseudo(src: bytes, dst: bytes, proto: int, length: int) -> int:
    return ones_sum(src + dst + bytes((0, proto)) + length.to_bytes(2, "big"))


def _details(data: bytes, off: int, tos: int, ident: int, frag_word: int, ttl: int, proto: int,
             header_len: int, total: int, checksum: int) -> str:
    """The -v parenthesis: '(tos 0x0, ttl 64, id 1, offset 0, flags [DF], proto TCP (6), length 60)'."""
    flags = [name for bit, name in ((0x8000, "rsvd"), (0x2000, "+"), (0x4000, "DF")) if frag_word & bit]
    text = (f"(tos 0x{tos:x}{_ECN[tos & 3]}, ttl {ttl}, id {ident}, offset {(frag_word & 0x1FFF) * 8}, "
            f"flags [{', '.join(flags) or 'none'}], proto {PROTO_NAMES.get(proto, 'unknown')} ({proto}), "
            f"length {total}")
    if header_len > 20:
        text += f", options ({options_text(data[off + 20 : off + header_len], header_len - 20)})"
    if off + header_len <= len(data) and ones_sum(data[off : off + header_len]) != 0xFFFF:
        expected = ~ones_sum(data[off : off + 10] + data[off + 12 : off + header_len]) & 0xFFFF
        text += f", bad cksum {checksum:x} (->{expected:x})!"
    return text + ")"


def options_text(raw: bytes, declared: int) -> str:
    """IPv4 options as tcpdump lists them: 'RR 0.0.0.0 0.0.0.0,EOL', 'RA', 'NOP'. `declared` is
    the options length the header gives (`raw` may be shorter when the capture cut it)."""
    out = []
    index = 0
    while index < len(raw):
        kind = raw[index]
        if kind == 0:
            out.append("EOL")
            break
        if kind == 1:
            out.append("NOP")
            index += 1
            continue
        size = raw[index + 1] if index + 1 < len(raw) else 0
        if size < 2 or index + size > declared:
            out.append(f"{_OPTION_NAMES.get(kind, f'unknown {kind}')} [bad length {size}]")
            break
        if index + size > len(raw):
            out.append(f"{_OPTION_NAMES.get(kind, f'unknown {kind}')} [truncated-option]")
            break
        body = raw[index + 2 : index + size]
        out.append(_option(kind, body))
        index += size
    return ",".join(out)


_OPTION_NAMES = {7: "RR", 131: "LSRR", 137: "SSRR", 148: "RA", 68: "timestamp", 130: "security"}


def _option(kind: int, body: bytes) -> str:
    if kind in (7, 131, 137):
        if not body:
            return f"{_OPTION_NAMES[kind]} [bad length 2]"
        hops = " ".join(inet_ntoa(body[i : i + 4]) for i in range(1, len(body) - 3, 4))
        return f"{_OPTION_NAMES[kind]} {hops}"
    if kind == 148:
        value = int.from_bytes(body, "big") if body else 0
        return "RA" if value == 0 else f"RA value {value}"
    return f"{_OPTION_NAMES.get(kind, f'unknown {kind}')}"

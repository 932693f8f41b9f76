"""IPv6 as tcpdump prints it: 'IP6 a > b: ...', the -v summary and the extension-header chain."""

from __future__ import annotations

from socket import AF_INET6, inet_ntop
from typing import TYPE_CHECKING

from rawkit.wire.checksum import ones_sum
from rawkit.wire.tcpdump import icmpv6, tcp, udp
from rawkit.wire.tcpdump.ipv4 import PROTO_NAMES

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

_NEXT_HEADER_NAMES = {**PROTO_NAMES, 60: "unknown", 59: "unknown"}
_TLV_NAMES = {0: "pad1", 1: "padn", 5: "rtalert", 194: "jumbo", 201: "homeaddr"}


def ipv6(p: Printer, data: bytes, off: int, length: int) -> str:
    """'IP6 ...' for the packet at `off`; `length` is what the frame had on the wire from `off`."""
    caplen = len(data) - off
    if caplen < 40:
        return " [|ip6]"
    if data[off] >> 4 != 6:
        return f"{p.ip6_label}version error: {data[off] >> 4} != 6"
    payload_len = data[off + 4] << 8 | data[off + 5]
    nh = data[off + 6]
    prefix = p.ip6_label
    if payload_len + 40 > length:  # tcpdump says so, then goes on with the header's length
        prefix += f"truncated-ip6 - {payload_len + 40 - length} bytes missing!"
    addresses = data[off + 8 : off + 40]
    names = p.address_names.get(addresses)
    if names is None:
        names = p.remember_names(addresses, inet_ntop(AF_INET6, addresses[:16]),
                                 inet_ntop(AF_INET6, addresses[16:]))
    src, dst, src_dot, dst_dot = names
    src_raw, dst_raw = addresses[:16], addresses[16:]
    if p.verbose:
        word = data[off] << 24 | data[off + 1] << 16 | data[off + 2] << 8 | data[off + 3]
        traffic_class, flow = word >> 20 & 0xFF, word & 0xFFFFF
        extra = f"class 0x{traffic_class:x}, " if traffic_class else ""
        extra += f"flowlabel 0x{flow:05x}, " if flow else ""
        name = _NEXT_HEADER_NAMES.get(nh, "unknown")
        prefix += (f"({extra}hlim {data[off + 7]}, next-header {name} ({nh}) "
                   f"payload length: {data[off + 4] << 8 | data[off + 5]}) ")
    end = off + 40 + payload_len
    here = off + 40
    chain = ""
    fragment = False
    while nh in (0, 43, 44, 60, 51):
        if here + 2 > len(data):
            return f"{prefix}{src} > {dst}: {chain} [|{_EXT_MARKS[nh]}]"
        if nh == 44:
            if here + (8 if p.verbose else 4) > len(data):
                return f"{prefix}{src} > {dst}: {chain} [|{'frag6' if p.verbose else 'frag'}]"
            word = data[here + 2] << 8 | data[here + 3]
            ident = int.from_bytes(data[here + 4 : here + 8], "big")  # -v only, so captured
            offset = word & 0xFFF8
            size = end - here - 8
            ident_text = f"0x{ident:08x}:" if p.verbose else ""
            chain += f"frag ({ident_text}{offset}|{size})"
            nh = data[here]
            here += 8
            fragment = True
            if offset:
                return f"{prefix}{src} > {dst}: {chain}"
            chain += " "
            if here >= len(data):
                return f"{prefix}{src} > {dst}: {chain}"
            continue
        size = (data[here + 1] + 2) * 4 if nh == 51 else (data[here + 1] + 1) * 8
        if here + size > len(data):
            return f"{prefix}{src} > {dst}: {chain} [|{_EXT_MARKS[nh]}]"
        text = _extension(p, nh, data[here : here + size])
        if text is None:
            name = "HBH" if nh == 0 else "DSTOPT"
            return f"{prefix}{src} > {dst}: {chain}{name}  [|{_EXT_MARKS[nh]}]"
        chain += text
        if nh == 43 and data[here + 2] in (0, 2) and data[here + 3] and size >= 24:
            dst_raw = data[here + size - 16 : here + size]  # the checksum covers the final destination
        nh = data[here]
        here += size
    upper_length = end - here
    if chain:
        prefix += f"{src} > {dst}: {chain}"
        src_dot = dst_dot = ""
    if nh == 6:
        pseudo = None if fragment or not p.verbose else _pseudo(src_raw, dst_raw, 6, upper_length)
        if not chain and len(data) - here < 4:
            return f"{prefix}{src} > {dst}: [|tcp]"
        return prefix + tcp.tcp(p, data, here, upper_length, src_dot, dst_dot, addresses, pseudo)
    if nh == 17:
        pseudo = None if fragment or not p.verbose else _pseudo(src_raw, dst_raw, 17, 0)
        return prefix + udp.udp(p, data, here, upper_length, src_dot, dst_dot, pseudo, True, fragment)
    head = prefix if chain else f"{prefix}{src} > {dst}: "
    if nh == 58:
        pseudo = None if fragment or not p.verbose else _pseudo(src_raw, dst_raw, 58, upper_length)
        return head + icmpv6.icmpv6(p, data, here, upper_length, pseudo)
    if nh == 59:
        return head + "no next header"
    if nh == 4:
        from rawkit.wire.tcpdump.ipv4 import ipv4

        return head + ipv4(p, data, here, upper_length)
    if nh == 41:
        return head + ipv6(p, data, here, upper_length)
    if nh == 50:
        return head + _esp(data, here, upper_length)
    return f"{head} ip-proto-{nh} {upper_length}"


_EXT_MARKS = {0: "hbhopt", 43: "srcrt", 44: "frag", 60: "dstopt", 51: "ah"}


def _pseudo(src: bytes, dst: bytes, proto: int, length: int) -> int:
    # a payload length shorter than the extension headers makes `length` negative: sum it modulo 2**32
    return ones_sum(src + dst + (length & 0xFFFFFFFF).to_bytes(4, "big") + bytes((0, 0, 0, proto)))


def _extension(p: Printer, nh: int, header: bytes) -> str | None:
    """One extension header's text; None when its options overrun it (tcpdump's truncation mark)."""
    if nh == 0 or nh == 60:
        name = "HBH" if nh == 0 else "DSTOPT"
        options = _tlv_options(header[2:], nh == 0)
        if options is None:
            return None
        return f"{name} {options}" if p.verbose else f"{name} "
    if nh == 43:
        return _routing(p, header)
    spi, seq = int.from_bytes(header[4:8], "big"), int.from_bytes(header[8:12], "big")
    size = f"length={header[1]}({len(header)}-bytes)," if p.verbose else ""
    return f"AH({size}spi=0x{spi:08x},seq=0x{seq:x},icv=0x{header[12:].hex()}): "


def _tlv_options(raw: bytes, hop_by_hop: bool) -> str | None:
    out = []
    index = 0
    while index < len(raw):
        kind = raw[index]
        if kind == 0:
            out.append("(pad1) ")
            index += 1
            continue
        if index + 1 >= len(raw) or index + 2 + raw[index + 1] > len(raw):
            return None
        size = raw[index + 1]
        body = raw[index + 2 : index + 2 + size]
        if kind == 1:
            out.append("(padn) ")
        elif kind == 5 and size == 2:
            out.append(f"(rtalert: 0x{body.hex()}) ")
        elif kind == 194 and size == 4:
            where = "" if hop_by_hop else " - not a hop-by-hop option"
            out.append(f"(jumbo: {int.from_bytes(body, 'big')}{where}) " + ("" if hop_by_hop else " "))
        else:
            out.append(f"(opt_type 0x{kind:02x}: len={size})")
        index += 2 + size
    return "".join(out)


def _routing(p: Printer, header: bytes) -> str:
    kind, segments_left = header[2], header[3]
    units = header[1]
    text = f"RT6 (len={units}, type={kind}"
    if kind == 0:
        text += " [Deprecated]"
    text += f", segleft={segments_left}, "
    if kind in (0, 2):
        if p.verbose:
            text += f"rsv=0x{int.from_bytes(header[4:8], 'big'):x}, "
        addresses = [inet_ntop(AF_INET6, header[i : i + 16]) for i in range(8, len(header) - 15, 16)]
        text += ", ".join(f"[{index}]{address}" for index, address in enumerate(addresses))
    return text + ") "


def _esp(data: bytes, off: int, length: int) -> str:
    if len(data) - off < 8:
        return "[|ESP]"
    spi = int.from_bytes(data[off : off + 4], "big")
    seq = int.from_bytes(data[off + 4 : off + 8], "big")
    return f"ESP(spi=0x{spi:08x},seq=0x{seq:x}), length {length}"

"""ICMPv6 as tcpdump prints it: errors with the quoted packet's addresses, echo, MLD and neighbour
discovery (with -v, the ND options one per line)."""

from __future__ import annotations

from socket import AF_INET6, inet_ntop
from typing import TYPE_CHECKING

from rawkit.wire.checksum import ones_sum
from rawkit.wire.tcpdump.hexdump import hex_lines

if TYPE_CHECKING:
    from rawkit.wire.tcpdump.printer import Printer

_ND_NAMES = {133: "router solicitation", 134: "router advertisement", 135: "neighbor solicitation",
             136: "neighbor advertisement", 137: "redirect"}
_OTHER_NAMES = {200: "mtrace response", 201: "mtrace", 138: "router renumbering",
                139: "node information query",
                140: "node information reply", 141: "inverse neighbor solicitation",
                142: "inverse neighbor advertisement", 144: "ha discovery request", 145: "ha discovery reply",
                146: "mobile router solicitation", 147: "mobile router advertisement"}
_NAMES = {1: "destination unreachable", 2: "packet too big", 3: "time exceeded", 4: "parameter problem",
          128: "echo request", 129: "echo reply", 130: "multicast listener query",
          131: "multicast listener report", 132: "multicast listener done",
          143: "multicast listener report v2",
          **_ND_NAMES, **_OTHER_NAMES}
_ND_OPTION_NAMES = {1: "source link-address", 2: "destination link-address", 3: "prefix info",
                    4: "redirected header", 5: "mtu", 25: "rdnss", 31: "dnssl", 24: "route info"}
_NA_FLAGS = ((0x80, "router"), (0x40, "solicited"), (0x20, "override"))
_RA_FLAGS = ((0x80, "managed"), (0x40, "other stateful"), (0x20, "home agent"), (0x04, "proxy"))
_PREFERENCE = ("medium", "high", "reserved", "low")


def _address(data: bytes, at: int) -> str:
    return inet_ntop(AF_INET6, data[at : at + 16])


def icmpv6(p: Printer, data: bytes, off: int, length: int, pseudo: int | None) -> str:
    """The part after 'IP6 a > b: '; `length` is the message length by the IPv6 header."""
    caplen = len(data) - off
    if caplen < 2:
        return "[|icmp6]"
    kind, code = data[off], data[off + 1]
    if caplen < 4:
        return f"ICMP6, {_NAMES.get(kind, 'unknown icmp6 type')} [|icmp6]"
    prefix = ""
    if p.verbose and pseudo is not None and off + length <= len(data):
        checksum = data[off + 2] << 8 | data[off + 3]
        if ones_sum(data[off : off + length], pseudo) == 0xFFFF:
            prefix = "[icmp6 sum ok] "
        else:
            expected = ~ones_sum(data[off : off + 2] + data[off + 4 : off + length], pseudo) & 0xFFFF
            prefix = f"[bad icmp6 cksum 0x{checksum:04x} -> 0x{expected:04x}!] "
    body = _body(p, data, off, length, kind, code, min(caplen, length))
    return f"{prefix}ICMP6, {body}"


# bytes a message needs before tcpdump prints more than its name and a truncation mark
_NEEDED = {1: 8, 2: 8, 3: 8, 4: 8, 128: 8, 129: 8, 130: 24, 131: 24, 132: 24, 143: 8, 133: 8, 134: 16,
           135: 24, 136: 24, 137: 40}


def _body(p: Printer, data: bytes, off: int, length: int, kind: int, code: int, caplen: int) -> str:
    if caplen < _NEEDED.get(kind, 0):
        return f"{_NAMES[kind]} [|icmp6]"
    tail = "" if p.verbose else f", length {length}"
    if kind in (128, 129):
        if caplen < 8:
            return "echo request [|icmp6]" if kind == 128 else "echo reply [|icmp6]"
        name = "echo request" if kind == 128 else "echo reply"
        ident, seq = data[off + 4] << 8 | data[off + 5], data[off + 6] << 8 | data[off + 7]
        return f"{name}, id {ident}, seq {seq}{tail}"
    if kind in (1, 3, 4) or kind == 2:
        return _error(p, data, off, length, kind, code, caplen, tail)
    if kind in _ND_NAMES:
        return _neighbor_discovery(p, data, off, length, kind, caplen)
    if kind in (130, 131, 132):
        if caplen < 24:
            return "[|icmp6]"
        name = "multicast listener " + ("query", "report", "done")[kind - 130]
        delay = data[off + 4] << 8 | data[off + 5]
        return f"{name}max resp delay: {delay} addr: {_address(data, off + 8)}{tail}"
    if kind == 143:
        records = data[off + 6] << 8 | data[off + 7]
        text = f"multicast listener report v2, {records} group record(s)"
        if p.verbose:
            text += _mld2_records(data, off + 8, records, off + caplen, p.verbose)
        return text + tail
    name = _OTHER_NAMES.get(kind, f"unknown icmp6 type ({kind})")
    dump = hex_lines(data[off : off + caplen], False) if p.verbose < 2 else ""
    return f"{name}, length {length}" + dump


def _error(p: Printer, data: bytes, off: int, length: int, kind: int, code: int, caplen: int,
           tail: str) -> str:
    quoted = off + 8
    if kind == 2:
        return f"packet too big, mtu {int.from_bytes(data[off + 4 : off + 8], 'big')}{tail}"
    if kind == 4:
        pointer = int.from_bytes(data[off + 4 : off + 8], "big")
        reason = {0: "erroneous", 1: "next header", 2: "option"}.get(code, f"code-#{code}")
        return f"parameter problem, {reason} - octet {pointer}{tail}"
    if caplen < 8 + 40:
        return f"{_error_name(kind)}[|icmp6]"
    quoted_src, quoted_dst = _address(data, quoted + 8), _address(data, quoted + 24)
    if kind == 3:
        if code == 0:
            return f"time exceeded in-transit for {quoted_dst}{tail}"
        return f"time exceeded in-transit (reassembly){tail}"
    if code == 0:
        return f"destination unreachable, unreachable route {quoted_dst}{tail}"
    if code == 1:
        return f"destination unreachable,  unreachable prohibited {quoted_dst}{tail}"
    if code == 2:
        return f"destination unreachable, beyond scope {quoted_dst}, source address {quoted_src}{tail}"
    if code == 3:
        return f"destination unreachable, unreachable address {quoted_dst}{tail}"
    if code == 4:
        nh = data[quoted + 6]
        name = {6: "tcp", 17: "udp"}.get(nh)
        at = quoted + 40
        if name is None or at + 4 > off + caplen:
            return f"destination unreachable, unreachable port, {quoted_dst}{tail}"
        port = data[at + 2] << 8 | data[at + 3]
        return f"destination unreachable, unreachable port, {quoted_dst} {name} port {port}{tail}"
    dump = hex_lines(data[off : off + caplen], False)
    return f"destination unreachable, unknown unreach code ({code})" + (dump if p.verbose < 2 else "")


def _error_name(kind: int) -> str:
    return {1: "destination unreachable", 3: "time exceeded"}.get(kind, "")


def _neighbor_discovery(p: Printer, data: bytes, off: int, length: int, kind: int, caplen: int) -> str:
    name = _ND_NAMES[kind]
    options_at = {133: 8, 134: 16, 135: 24, 136: 24, 137: 40}[kind]
    if caplen < options_at:
        return f"{name}[|icmp6]"
    if kind == 133:
        detail = ""
    elif kind == 134:
        detail = ""
        if p.verbose:
            flags = data[off + 5]
            names = ", ".join(label for bit, label in _RA_FLAGS if flags & bit) or "none"
            detail = (f"\n\thop limit {data[off + 4]}, Flags [{names}], pref {_PREFERENCE[flags >> 3 & 3]}, "
                      f"router lifetime {data[off + 6] << 8 | data[off + 7]}s, "
                      f"reachable time {int.from_bytes(data[off + 8 : off + 12], 'big')}ms, "
                      f"retrans timer {int.from_bytes(data[off + 12 : off + 16], 'big')}ms")
    elif kind == 135:
        detail = f", who has {_address(data, off + 8)}"
    elif kind == 136:
        detail = f", tgt is {_address(data, off + 8)}"
        if p.verbose:
            flags = data[off + 4]
            detail += f", Flags [{', '.join(label for bit, label in _NA_FLAGS if flags & bit) or 'none'}]"
    else:
        detail = f", {_address(data, off + 24)} to {_address(data, off + 8)}"
    if not p.verbose:
        return f"{name}{detail}, length {length}"
    return f"{name}, length {length}{detail}{_nd_options(data, off + options_at, off + caplen, p.verbose)}"


def _nd_options(data: bytes, start: int, end: int, verbose: int) -> str:
    """One line per option; -vv adds each option body in hex. tcpdump dumps an option it does not
    decode starting at the first option (as observed), so that is what is dumped here too."""
    out = []
    index = start
    while index + 2 <= end:
        kind, units = data[index], data[index + 1]
        size = units * 8
        if size == 0 or index + size > end:
            out.append(" [|icmp6]")
            break
        body = data[index + 2 : index + size]
        name = _ND_OPTION_NAMES.get(kind, "unknown")
        head = f"\n\t  {name} option ({kind}), length {size} ({units}): "
        if kind in (1, 2):
            out.append(head + body.hex(":"))
        elif kind == 5:
            out.append(f"{head} {int.from_bytes(body[2:6], 'big')}")
        elif kind == 3 and size == 32:
            flags = body[1]
            names = ", ".join(label for bit, label in ((0x80, "onlink"), (0x40, "auto"), (0x20, "router"))
                              if flags & bit) or "none"
            valid = int.from_bytes(body[2:6], "big")
            preferred = int.from_bytes(body[6:10], "big")
            out.append(f"{head}{_address(body, 14)}/{body[0]}, Flags [{names}], "
                       f"valid time {_lifetime(valid)}, pref. time {_lifetime(preferred)}")
        elif kind == 25 and size >= 24:
            lifetime = int.from_bytes(body[2:6], "big")
            addresses = ", ".join(_address(body, i) for i in range(6, len(body) - 15, 16))
            out.append(f"{head} lifetime {_lifetime(lifetime)}, addr: {addresses}")
        else:
            out.append(head + hex_lines(data[start : start + size], False, "\n\t    "))
        if verbose > 1:
            out.append(hex_lines(body, False, "\n\t    "))
        index += size
    return "".join(out)


def _lifetime(seconds: int) -> str:
    return "infinity" if seconds == 0xFFFFFFFF else f"{seconds}s"


def _mld2_records(data: bytes, at: int, count: int, end: int, verbose: int) -> str:
    out = []
    names = {1: "is_in", 2: "is_ex", 3: "to_in", 4: "to_ex", 5: "allow", 6: "block"}
    for _ in range(count):
        if at + 20 > end:
            return "".join(out) + "[|icmp6]"
        kind, aux, sources = data[at], data[at + 1], data[at + 2] << 8 | data[at + 3]
        mode = names.get(kind, f"[invalid]{kind}")
        if verbose > 1:
            listed = "".join(f"{_address(data, at + 20 + 16 * i)} " for i in range(sources)
                             if at + 36 + 16 * i <= end)
            out.append(f" [gaddr {_address(data, at + 4)} {mode} {{ {listed}}}]")
        else:
            out.append(f" [gaddr {_address(data, at + 4)} {mode}, {sources} source(s)]")
        at += 20 + sources * 16 + aux * 4
    return "".join(out)

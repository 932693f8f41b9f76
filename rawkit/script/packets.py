"""Script packets <-> live frames: build the `<` segments the runner injects, check the `>` segments the
side under test sends. Sequence numbers in a script are relative, as in packetdrill.

Why the mapping: the kernel picks its own initial sequence number (ISN), ports and timestamps, so a
script cannot spell them. The remote side's numbers are written literally (the script is the remote
host: `< S 0:0(0)` really sends seq 0); the local side's are relative to its ISN, learnt from its SYN or
SYN-ACK. Inbound `ack`, SACK blocks and ICMP-quoted sequence numbers are therefore shifted by the local
ISN; outbound `seq` shifted back. Inbound TS ecr values name an outbound TS val of the script, so they
are translated to the live value seen for that script value (or extrapolated from the first one).
Outbound TS val is checked only with `--tcp_ts_tick_usecs`, TS ecr never (packetdrill's defaults).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

import rawkit
from rawkit.script.nodes import IcmpPacket, PacketEvent, SeqRange, TcpOption, TcpPacket

GATEWAY_MAC = "02:00:00:00:00:02"  # the remote side's (gateway's) Ethernet address on the TAP link
FOEXP_MAGIC = b"\xf9\x89"
_FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, ".": 0x10, "U": 0x20, "E": 0x40, "W": 0x80}
_ECN_BITS = {"noecn": 0, "ect1": 1, "ect0": 2, "ce": 3}
_OPTION_KINDS = {"eol": 0, "nop": 1, "mss": 2, "wscale": 3, "sackOK": 4, "sack": 5, "TS": 8, "md5": 19,
                 "FO": 34, "FOEXP": 254}
_KIND_NAMES = {kind: name for name, kind in _OPTION_KINDS.items()}
_ICMP4_CODES = {"net_unreachable": 0, "host_unreachable": 1, "protocol_unreachable": 2, "port_unreachable": 3,
                "frag_needed": 4, "source_route_failed": 5, "net_unknown": 6, "host_unknown": 7,
                "source_host_isolated": 8, "net_prohibited": 9, "host_prohibited": 10,
                "net_unreachable_for_tos": 11, "host_unreachable_for_tos": 12, "packet_filtered": 13,
                "precedence_violation": 14, "precedence_cutoff": 15}
_ICMP6_UNREACH_CODES = {"no_route": 0, "net_unreachable": 0, "admin_prohibited": 1, "beyond_scope": 2,
                        "address_unreachable": 3, "host_unreachable": 3, "port_unreachable": 4}


class PacketError(ValueError):
    """A script packet that cannot be built (unknown name, bad cookie): a broken script."""


def flag_bits(flags: str) -> int:
    return 0 if flags == "-" else sum(_FLAG_BITS[letter] for letter in flags)


def flag_text(bits: int) -> str:
    text = "".join(letter for letter, bit in _FLAG_BITS.items() if bits & bit and letter != ".")
    return (text + ("." if bits & 0x10 else "")) or "-"


@dataclass
class Flow:
    """The connection under test, as the runner knows it (packetdrill's "socket under test")."""

    state: str  # "new", "listening", "connecting", "syn_sent", "passive", "established"
    local_port: int | None
    remote_port: int
    remote_isn: int = 0
    script_local_isn: int = 0
    live_local_isn: int | None = None
    ts_map: dict[int, int] = field(default_factory=dict)  # script TS val -> live TS val
    first_ts: tuple[int, int] | None = None  # (script, live) of the first outbound TS val

    def local_offset(self, syn: bool) -> int:
        """Add to a script local sequence number to get the live one. In a SYN the script's number
        is the script's ISN; after it, numbers count from 0 at the ISN."""
        if self.live_local_isn is None:
            return 0
        return (self.live_local_isn - (self.script_local_isn if syn else 0)) & 0xFFFFFFFF

    def remote_offset(self, syn: bool) -> int:
        """Add to a script remote sequence number to get the live one: a SYN's is written as sent,
        later ones count from the remote ISN."""
        return 0 if syn else self.remote_isn


@dataclass(frozen=True)
class Addresses:
    version: int
    local_ip: str
    remote_ip: str
    local_mac: str


@dataclass(frozen=True)
class Segment:
    """An outbound TCP segment as seen on the wire."""

    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    window: int
    urgent: int
    options: tuple[tuple[int, bytes], ...]
    payload_len: int
    ecn: int


def parse_outbound(frame: bytes, remote_ip: str) -> Segment | None:
    """The TCP segment in an Ethernet frame sent to `remote_ip`, else None (ARP, ND, MLD, ...)."""
    packet = rawkit.decode(frame)
    ip = packet.ip
    tcp = packet.tcp
    if ip is None or tcp is None or ip.dst != remote_ip:
        return None
    ecn = (ip.tos if packet.ip4 is not None else ip.tc) & 3
    return Segment(tcp.sport, tcp.dport, tcp.seq, tcp.ack, tcp.flags, tcp.window, tcp.urgptr,
                   split_options(bytes(tcp.options_bytes)), tcp.payload_len, ecn)


def split_options(raw: bytes) -> tuple[tuple[int, bytes], ...]:
    """TCP options as (kind, data) pairs; trailing EOL padding dropped, as packetdrill's iterator does."""
    options: list[tuple[int, bytes]] = []
    index = 0
    while index < len(raw):
        kind = raw[index]
        if kind == 0:
            break
        if kind == 1:
            options.append((1, b""))
            index += 1
            continue
        length = raw[index + 1] if index + 1 < len(raw) else 0
        if length < 2:
            options.append((kind, raw[index + 1 :]))
            break
        options.append((kind, raw[index + 2 : index + length]))
        index += length
    return tuple(options)


def cookie_bytes(text: str, symbols: dict[str, str]) -> bytes:
    value = symbols.get(text, text)
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise PacketError(f"bad Fast Open cookie {text!r} (hex digits or a -D name)") from None


def script_options(options: tuple[TcpOption, ...], *, sack_offset: int, ecr: Callable[[int], int] | None,
                   symbols: dict[str, str]) -> list[tuple[int, bytes]]:
    """Script options as wire (kind, data) pairs. `ecr` translates TS ecr (inbound with ACK only)."""
    wire: list[tuple[int, bytes]] = []
    for option in options:
        kind = _OPTION_KINDS[option.kind]
        if option.kind in ("nop", "eol", "sackOK"):
            data = b""
        elif option.kind == "mss":
            data = int(option.values[0]).to_bytes(2, "big")
        elif option.kind == "wscale":
            data = bytes((int(option.values[0]) & 0xFF,))
        elif option.kind == "TS":
            value, echo = int(option.values[0]), int(option.values[1])
            if ecr is not None:
                echo = ecr(echo)
            data = struct.pack("!II", value & 0xFFFFFFFF, echo & 0xFFFFFFFF)
        elif option.kind == "sack":
            data = b"".join(struct.pack("!II", (left + sack_offset) & 0xFFFFFFFF,
                                        (right + sack_offset) & 0xFFFFFFFF)
                            for left, right in option.values)  # type: ignore[misc]
        elif option.kind in ("FO", "FOEXP"):
            cookie = cookie_bytes(str(option.values[0]), symbols) if option.values else b""
            data = (FOEXP_MAGIC if option.kind == "FOEXP" else b"") + cookie
        else:  # md5: the signature cannot be known in advance; 16 bytes of the digest text or zeros
            data = bytes(16)
        wire.append((kind, data))
    return wire


def _encode(options: list[tuple[int, bytes]]) -> bytes:
    raw = b"".join(bytes((kind,)) if kind in (0, 1) else bytes((kind, len(data) + 2)) + data
                   for kind, data in options)
    return raw + b"\x00" * (-len(raw) % 4)


def _ip_layer(addresses: Addresses, ecn: str | None, *, inbound: bool = True) -> rawkit.Layer:
    src, dst = addresses.remote_ip, addresses.local_ip
    if not inbound:
        src, dst = dst, src
    bits = _ECN_BITS.get(ecn or "noecn", 2 if ecn == "ect01" else 0)
    if addresses.version == 4:
        return rawkit.IPv4(src=src, dst=dst, tos=bits, ttl=64, flags="DF", id=0)
    return rawkit.IPv6(src=src, dst=dst, tc=bits, hlim=64)


def _ether(addresses: Addresses) -> rawkit.Layer:
    return rawkit.Ether(src=GATEWAY_MAC, dst=addresses.local_mac)


def build_inbound_tcp(event: PacketEvent, flow: Flow, addresses: Addresses, symbols: dict[str, str]) -> bytes:
    """The frame for a `<` TCP line, mapped to live numbers."""
    packet = event.packet
    assert isinstance(packet, TcpPacket)
    bits = flag_bits(packet.flags)
    syn = bool(bits & 0x02)
    if syn:
        flow.remote_isn = packet.seq.start
    offset = flow.local_offset(syn)
    ack = ((packet.ack or 0) + offset) & 0xFFFFFFFF if bits & 0x10 else (packet.ack or 0)
    seq = (packet.seq.start + flow.remote_offset(syn)) & 0xFFFFFFFF
    ecr = _live_ecr(flow) if bits & 0x10 else None
    options = b""
    if isinstance(packet.options, tuple):
        wire = script_options(packet.options, sack_offset=offset, ecr=ecr, symbols=symbols)
        options = _encode(wire)
    tcp = rawkit.TCP(sport=flow.remote_port, dport=flow.local_port or 0, seq=seq,
                     ack=ack, flags=bits, window=packet.window or 0,
                     urgptr=packet.urgent or 0, options=options)
    return bytes(_ether(addresses) / _ip_layer(addresses, event.ecn) / tcp / bytes(packet.seq.length))


def _live_ecr(flow: Flow) -> Callable[[int], int]:
    """Script TS ecr -> live: the live value of that exact earlier outbound TS val, else extrapolated
    from the first one (as packetdrill's tcp_ts_ecr_scaled), else the script's number."""

    def translate(echo: int) -> int:
        if echo in flow.ts_map:
            return flow.ts_map[echo]
        if flow.first_ts is not None:
            return (echo - flow.first_ts[0] + flow.first_ts[1]) & 0xFFFFFFFF
        return echo

    return translate


def build_inbound_icmp(event: PacketEvent, flow: Flow, addresses: Addresses,
                       symbols: dict[str, str]) -> bytes:
    """The frame for `< icmp unreachable [code] [mtu N] [start:end(len)]`: an error about a segment the
    local side sent (quoted: its IP header and TCP header, local sequence number mapped live)."""
    packet = event.packet
    assert isinstance(packet, IcmpPacket)
    if packet.type != "unreachable":
        raise PacketError(f"unsupported ICMP type {packet.type!r} (only unreachable)")
    code_name = packet.code
    if code_name is not None and code_name in symbols:
        code_name = symbols[code_name]
    quoted_range = packet.quoted or SeqRange(0, 0, 0)
    seq = (quoted_range.start + flow.local_offset(False)) & 0xFFFFFFFF
    quoted_tcp = rawkit.TCP(sport=flow.local_port or 0, dport=flow.remote_port, seq=seq, ack=0, flags=0x10,
                            window=0, checksum=0)
    quoted_ip = _ip_layer(addresses, None, inbound=False)
    quoted_len = quoted_range.length
    if addresses.version == 4:
        code = _icmp_code(code_name, _ICMP4_CODES, "net_unreachable")
        quoted_ip.len = 20 + 20 + quoted_len
        quoted = bytes(quoted_ip / quoted_tcp)
        icmp = rawkit.ICMP(type=3, code=code, mtu=packet.mtu or 0)
        return bytes(_ether(addresses) / _ip_layer(addresses, event.ecn) / icmp / quoted)
    quoted_ip.plen = 20 + quoted_len
    quoted = bytes(quoted_ip / quoted_tcp)
    if code_name == "frag_needed":
        icmp6 = rawkit.ICMPv6(type=2, code=0, mtu=packet.mtu or 1280)
    else:
        icmp6 = rawkit.ICMPv6(type=1, code=_icmp_code(code_name, _ICMP6_UNREACH_CODES, "no_route"))
    return bytes(_ether(addresses) / _ip_layer(addresses, event.ecn) / icmp6 / quoted)


def _icmp_code(name: str | None, table: dict[str, int], default: str) -> int:
    if name is None:
        return table[default]
    if name.isdigit():
        return int(name)
    if name not in table:
        raise PacketError(f"unknown ICMP unreachable code {name!r}")
    return table[name]


def learn_outbound(event: PacketEvent, flow: Flow, segment: Segment) -> None:
    """Update the flow from the outbound segment matched to a `>` line, before checking it (as
    packetdrill does): the local ISN from a SYN or SYN-ACK, the script->live TS val mapping."""
    packet = event.packet
    assert isinstance(packet, TcpPacket)
    if segment.flags & 0x02:
        flow.script_local_isn = packet.seq.start
        flow.live_local_isn = segment.seq
        flow.local_port = segment.sport
    if isinstance(packet.options, tuple):
        script_ts = next((o for o in packet.options if o.kind == "TS"), None)
        live_ts = next((data for kind, data in segment.options if kind == 8 and len(data) == 8), None)
        if script_ts is not None and live_ts is not None:
            script_val = int(script_ts.values[0])
            live_val = struct.unpack("!I", live_ts[:4])[0]
            flow.ts_map[script_val] = live_val
            if flow.first_ts is None:
                flow.first_ts = (script_val, live_val)


def check_outbound(event: PacketEvent, flow: Flow, segment: Segment, symbols: dict[str, str],
                   ts_tick_usecs: int = 0, tolerance_usecs: int = 4000) -> str | None:
    """None if `segment` is what the `>` line expects, else "field: expected X vs actual Y"."""
    packet = event.packet
    if not isinstance(packet, TcpPacket):
        return "outbound ICMP lines are not supported"
    want_flags = flag_bits(packet.flags)
    for letter, bit in (*_FLAG_BITS.items(), ("AE", 0x100)):
        if (want_flags ^ segment.flags) & bit:
            name = {"F": "fin", "S": "syn", "R": "rst", "P": "psh", ".": "ack", "U": "urg", "E": "ece",
                    "W": "cwr", "AE": "ae"}[letter]
            return f"live packet field tcp_{name}: expected: {int(bool(want_flags & bit))} vs actual: " \
                   f"{int(bool(segment.flags & bit))}"
    syn = bool(segment.flags & 0x02)
    actual_seq = (segment.seq - flow.local_offset(syn)) & 0xFFFFFFFF
    if actual_seq != packet.seq.start & 0xFFFFFFFF:
        return _field("tcp_seq", packet.seq.start, actual_seq)
    if segment.payload_len != packet.seq.length:
        return (f"live packet payload: expected {packet.seq.length} bytes vs actual "
                f"{segment.payload_len} bytes")
    want_ack = packet.ack if packet.ack is not None else 0
    actual_ack = (segment.ack - flow.remote_offset(syn)) & 0xFFFFFFFF if segment.flags & 0x10 else segment.ack
    if actual_ack != want_ack & 0xFFFFFFFF:
        return _field("tcp_ack_seq", want_ack, actual_ack)
    if packet.window is not None and segment.window != packet.window:
        return _field("tcp_window", packet.window, segment.window)
    if segment.urgent != (packet.urgent or 0):
        return _field("tcp_urg_ptr", packet.urgent or 0, segment.urgent)
    if event.ecn is not None:
        if event.ecn == "ect01":
            if segment.ecn not in (1, 2):
                return f"live packet field ip_ecn: expected: 0x1 or 0x2 vs actual: {segment.ecn:#x}"
        elif segment.ecn != _ECN_BITS[event.ecn]:
            return _field("ip_ecn", _ECN_BITS[event.ecn], segment.ecn)
    if packet.options == "...":
        return None
    expected = script_options(packet.options or (), sack_offset=flow.remote_offset(False), ecr=None,
                              symbols=symbols)
    problem = _compare_options(expected, list(segment.options), ts_tick_usecs, tolerance_usecs, flow)
    if problem:
        return (f"{problem}: expected <{render_options(expected)}> vs actual "
                f"<{render_options(segment.options)}>")
    return None


def _field(name: str, expected: int, actual: int) -> str:
    return f"live packet field {name}: expected: {expected} ({expected:#x}) vs actual: {actual} ({actual:#x})"


def _compare_options(expected: list[tuple[int, bytes]], actual: list[tuple[int, bytes]], tick: int,
                     tolerance_usecs: int, flow: Flow) -> str | None:
    if [kind for kind, _ in expected] != [kind for kind, _ in actual]:
        return "bad outbound TCP options"
    for (kind, want), (_, got) in zip(expected, actual, strict=True):
        if kind == 8:
            if tick and flow.first_ts is not None and len(got) == 8:
                script_val = struct.unpack("!I", want[:4])[0]
                mapped = (struct.unpack("!I", got[:4])[0] - flow.first_ts[1] + flow.first_ts[0]) & 0xFFFFFFFF
                drift = (mapped - script_val + 2**31) % 2**32 - 2**31
                if abs(drift) * tick > tolerance_usecs:
                    return f"bad outbound TCP timestamp value ({drift:+d} ticks)"
            continue
        if want != got:
            return f"bad value outbound TCP option {_KIND_NAMES.get(kind, kind)}"
    return None


def render_options(options: list[tuple[int, bytes]] | tuple[tuple[int, bytes], ...]) -> str:
    """Options in script syntax, for diagnostics."""
    parts = []
    for kind, data in options:
        name = _KIND_NAMES.get(kind, str(kind))
        if kind == 2 and len(data) == 2:
            parts.append(f"mss {int.from_bytes(data, 'big')}")
        elif kind == 3 and len(data) == 1:
            parts.append(f"wscale {data[0]}")
        elif kind == 8 and len(data) == 8:
            value, echo = struct.unpack("!II", data)
            parts.append(f"TS val {value} ecr {echo}")
        elif kind == 5 and len(data) % 8 == 0:
            blocks = [struct.unpack_from("!II", data, i) for i in range(0, len(data), 8)]
            parts.append("sack " + " ".join(f"{left}:{right}" for left, right in blocks))
        elif kind == 254 and data[:2] == FOEXP_MAGIC:
            parts.append(f"FOEXP {data[2:].hex()}".rstrip())
        elif data:
            parts.append(f"{name} {data.hex()}")
        else:
            parts.append(name)
    return ",".join(parts)


def describe(segment: Segment, flow: Flow) -> str:
    """An outbound segment in script syntax (sequence numbers relative), for diagnostics."""
    syn = bool(segment.flags & 0x02)
    seq = (segment.seq - flow.local_offset(syn)) & 0xFFFFFFFF
    end = (seq + segment.payload_len) & 0xFFFFFFFF
    text = f"{flag_text(segment.flags)} {seq}:{end}({segment.payload_len})"
    if segment.flags & 0x10:
        text += f" ack {(segment.ack - flow.remote_offset(syn)) & 0xFFFFFFFF}"
    text += f" win {segment.window}"
    if segment.options:
        text += f" <{render_options(segment.options)}>"
    return text


def neighbour_reply(frame: bytes, answer_for: set[str], mac: str) -> bytes | None:
    """An ARP reply or ND neighbour advertisement if `frame` asks for one of `answer_for` (the
    gateway and the remote address live behind the TAP device, at `mac`)."""
    packet = rawkit.decode(frame)
    if packet.arp is not None and packet.arp.op == 1 and packet.arp.pdst in answer_for:
        arp = packet.arp
        return bytes(rawkit.Ether(src=mac, dst=arp.hwsrc)
                     / rawkit.ARP(op=2, hwsrc=mac, psrc=arp.pdst, hwdst=arp.hwsrc, pdst=arp.psrc))
    icmp6 = packet.icmp6
    if icmp6 is not None and icmp6.type == 135 and packet.ip6 is not None:
        target = str(ipaddress.IPv6Address(bytes(frame[14 + 40 + 8 : 14 + 40 + 24])))
        if target in answer_for:
            source = packet.ip6.src
            reply_to = source if source != "::" else "ff02::1"
            return bytes(rawkit.Ether(src=mac, dst=packet.eth.src)
                         / rawkit.IPv6(src=target, dst=reply_to, hlim=255)
                         / rawkit.ICMPv6(type=136, flags=0xE0 if source != "::" else 0xA0, target=target,
                                         options=[(2, mac)]))
    return None


def continues(first: Segment, previous: Segment, current: Segment, expected_total: int,
              received: int) -> str | None:
    """None if `current` can be glued after `previous` (a TSO burst split by the kernel: same header
    fields, contiguous sequence numbers, every fragment but the last of equal size), else why not."""
    if (current.flags ^ first.flags) & ~0x89 & 0x1FF:  # FIN, PSH and CWR may differ between pieces
        return f"fragment flags {flag_text(current.flags)} differ from {flag_text(first.flags)}"
    if (current.ack, current.window) != (first.ack, first.window):
        return "fragment ack or window differs from the first piece"
    if current.seq != (previous.seq + previous.payload_len) & 0xFFFFFFFF:
        return "fragment sequence number is not contiguous"
    if received + current.payload_len < expected_total and current.payload_len != previous.payload_len:
        return (f"fragment payload: expected {previous.payload_len} bytes vs actual "
                f"{current.payload_len} bytes; total payload: expected {expected_total} bytes vs actual "
                f"{received + current.payload_len} bytes")
    return None


def merge(pieces: list[Segment]) -> Segment:
    """One segment standing for a burst of contiguous pieces (the first's header, the total payload),
    compared with the script's single line as packetdrill does. PSH and FIN come from the last piece:
    segmentation (GSO, or a stack that sends MSS-sized segments) puts them only there."""
    first, last = pieces[0], pieces[-1]
    flags = first.flags & ~0x09 | last.flags & 0x09
    return Segment(first.sport, first.dport, first.seq, first.ack, flags, first.window, first.urgent,
                   first.options, sum(piece.payload_len for piece in pieces), first.ecn)

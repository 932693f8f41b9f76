"""Compare rawkit's decoded fields with tshark's, packet by packet.

One tshark run per capture (`-T fields`, every occurrence of every field) gives, per frame, the
values tshark dissected; the same fields are read from rawkit's views. A protocol can occur more
than once in a frame (the datagram an ICMP error quotes): the occurrences line up with rawkit's
outer packet, then `icmp.quoted` / `icmp6.quoted`.

Frames tshark flags as malformed (an expert item of severity error outside the checksum group) are
left out of the comparison, as the issue says; checksum errors stay in, since checksum verdicts are
compared.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import rawkit

PREFERENCES = {
    "ip.defragment": "FALSE", "ipv6.defragment": "FALSE", "tcp.desegment_tcp_streams": "FALSE",
    "tcp.analyze_sequence_numbers": "FALSE", "tcp.relative_sequence_numbers": "FALSE",
    "ip.check_checksum": "TRUE", "tcp.check_checksum": "TRUE", "udp.check_checksum": "TRUE",
    # tshark guesses a length for IPv4 total length 0 (TCP segmentation offload); rawkit calls it an error
    "ip.tso_support": "FALSE",
}
# Only the protocols rawkit decodes stay enabled: a payload that happens to look like RTCP or DNS to
# tshark must not make it flag the frame malformed and so leave it out of the comparison.
PROTOCOLS_DISSECTED = frozenset((
    "frame", "eth", "ethertype", "vlan", "ieee8021ad", "sll", "null", "loop", "raw", "arp", "ip", "ipv6",
    "ipv6.hopopts", "ipv6.routing", "ipv6.routing.type.rt0", "ipv6.routing.type.srh",
    "ipv6.routing.type.mipv6", "ipv6.routing.type.crh", "ipv6.fraghdr", "ipv6.dstopts", "ah", "esp", "tcp",
    "udp", "icmp", "icmpv6", "data"))
SEVERITY_ERROR = 0x00800000
# IPv4 options every dissector knows (RFC 791, 1108, 2113): EOL, NOP, RR, TS, security, LSRR, SSRR, RA
WELL_KNOWN_IP_OPTIONS = frozenset((0, 1, 7, 68, 130, 131, 137, 148))
GROUP_CHECKSUM = 0x01000000
AGGREGATOR = "\x1f"


def _int(text: str) -> int:
    return int(text, 0)


def _bool(text: str) -> bool:
    return text in ("1", "True")


def _verdict(text: str) -> bool | None:
    """tshark's checksum status: 0 bad, 1 good, 2 unverified, 3 not present, 4 illegal (a zero UDP
    checksum over IPv6, which receivers must drop: rawkit calls it bad)."""
    return {"0": False, "1": True, "4": False}.get(text)


def _option(name: str) -> Callable[[Any], Any]:
    return lambda tcp: tcp.option(name)


def _sack(index: int) -> Callable[[Any], Any]:
    def edges(tcp: Any) -> list[int]:
        return [block[index] for key, value in tcp.options if key == "SAck" for block in value]
    return edges


def _timestamp(index: int) -> Callable[[Any], Any]:
    def read(tcp: Any) -> int | None:
        value = tcp.option("Timestamp")
        return None if value is None else value[index]
    return read


def _through_eol(kinds: list[int]) -> list[int]:
    """tshark lists one EOL per padding byte after the end-of-list option; rawkit lists the one EOL."""
    return kinds[: kinds.index(0) + 1] if 0 in kinds else kinds


def _option_kinds(tcp: Any) -> list[int]:
    kinds = {"EOL": 0, "NOP": 1, "MSS": 2, "WScale": 3, "SAckOK": 4, "SAck": 5, "Timestamp": 8, "MD5": 19}
    return [kinds.get(key, key) for key, _ in tcp.options]


def _ip_option_kinds(ip: Any) -> list[int]:
    return [kind for kind, _ in ip.options]


def _ip6_option_kinds(ip6: Any) -> list[int]:
    """Hop-by-hop and destination options of every extension header, in order, padding included."""
    return [kind for header in ip6.ext if header.kind in (0, 60) for kind, _ in header.options]


def _nd_option_kinds(icmp6: Any) -> list[int]:
    names = {"src_lladdr": 1, "tgt_lladdr": 2, "prefix_info": 3, "redirected": 4, "mtu": 5}
    return [names.get(name, name) for name, _ in icmp6.options]


def _ext_lengths(kind: int) -> Callable[[Any], Any]:
    return lambda ip6: [header.length for header in ip6.ext if header.kind == kind]


def _ext_field(kind: int, read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def get(ip6: Any) -> Any:
        for header in ip6.ext:
            if header.kind == kind:
                return read(header)
        return None
    return get


def _vlan_field(pkt: rawkit.Packet, name: str) -> list[int]:
    """tshark lists 802.1ad service tags (ieee8021ad.*) apart from, and before, 802.1Q tags (vlan.*)."""
    return [getattr(tag, name) for tag in pkt.vlans if tag.tpid == 0x88A8] + [
        getattr(tag, name) for tag in pkt.vlans if tag.tpid != 0x88A8]


def _vlan_ids(pkt: rawkit.Packet) -> list[int]:
    return _vlan_field(pkt, "vid")


@dataclass(frozen=True)
class Check:
    """A tshark field, how to read the same value from a rawkit view, and how to parse tshark's text.
    `many`: the field occurs several times per header (options, tags): compared as a list."""

    tshark: str
    read: Callable[[Any], Any]
    parse: Callable[[str], Any] = _int
    many: bool = False
    normalize: Callable[[Any], Any] = lambda values: values


# protocol -> (the rawkit attribute holding its view, checks); the first check anchors the occurrences
def _when(types: tuple[int, ...], read: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A field that exists only in some ICMP/ICMPv6 message types."""
    return lambda view: read(view) if view.type in types else None


def _sll_address(view: Any) -> str | None:
    """tshark shows a cooked header's address as a MAC for Ethernet (1) and loopback (772) devices."""
    return view.addr if view.hatype in (1, 772) and view.halen == 6 else None


PROTOCOLS: dict[str, tuple[str, list[Check]]] = {
    "eth": ("eth", [Check("eth.src", lambda v: v.src, str), Check("eth.dst", lambda v: v.dst, str)]),
    "sll": ("sll", [
        Check("sll.pkttype", lambda v: v.pkttype), Check("sll.halen", lambda v: v.halen),
        Check("sll.src.eth", _sll_address, str), Check("sll.ifindex", lambda v: v.ifindex),
    ]),
    "null": ("loopback", [Check("null.family", lambda v: v.family)]),
    "arp": ("arp", [
        Check("arp.opcode", lambda v: v.op), Check("arp.hw.type", lambda v: v.hwtype),
        Check("arp.proto.type", lambda v: v.ptype),
        Check("arp.src.hw_mac", lambda v: v.hwsrc, str), Check("arp.src.proto_ipv4", lambda v: v.psrc, str),
        Check("arp.dst.hw_mac", lambda v: v.hwdst, str), Check("arp.dst.proto_ipv4", lambda v: v.pdst, str),
    ]),
    "ip": ("ip4", [
        Check("ip.src", lambda v: v.src, str), Check("ip.dst", lambda v: v.dst, str),
        Check("ip.len", lambda v: v.len), Check("ip.id", lambda v: v.id),
        Check("ip.hdr_len", lambda v: v.header_len),
        Check("ip.ttl", lambda v: v.ttl), Check("ip.proto", lambda v: v.proto),
        Check("ip.dsfield", lambda v: v.tos),
        Check("ip.flags.df", lambda v: v.df, _bool), Check("ip.flags.mf", lambda v: v.mf, _bool),
        Check("ip.frag_offset", lambda v: v.frag),  # tshark 4.0: in 8-byte units
        Check("ip.checksum.status", lambda v: v.checksum_ok, _verdict),
        Check("ip.opt.type", _ip_option_kinds, many=True, normalize=_through_eol),
    ]),
    "ipv6": ("ip6", [
        Check("ipv6.src", lambda v: v.src, str), Check("ipv6.dst", lambda v: v.dst, str),
        Check("ipv6.plen", lambda v: v.plen), Check("ipv6.nxt", lambda v: v.nh),
        Check("ipv6.hlim", lambda v: v.hlim), Check("ipv6.tclass", lambda v: v.tc),
        Check("ipv6.flow", lambda v: v.fl),
        Check("ipv6.hopopts.len_oct", _ext_lengths(0), many=True),
        Check("ipv6.opt.type", _ip6_option_kinds, many=True),
        Check("ipv6.dstopts.len_oct", _ext_lengths(60), many=True),
        Check("ipv6.routing.type", _ext_field(43, lambda h: h.routing_type)),
        Check("ipv6.routing.segleft", _ext_field(43, lambda h: h.segleft)),
        Check("ipv6.fraghdr.offset", _ext_field(44, lambda h: h.offset)),
        Check("ipv6.fraghdr.more", _ext_field(44, lambda h: h.m), _bool),
        Check("ipv6.fraghdr.ident", _ext_field(44, lambda h: h.id)),
    ]),
    "tcp": ("tcp", [
        Check("tcp.srcport", lambda v: v.sport), Check("tcp.dstport", lambda v: v.dport),
        # relative numbering is off, so tcp.seq is absolute; tshark gives tcp.seq_raw only at the top
        # level but tcp.seq inside an ICMP error too, and tcp.ack_raw everywhere
        Check("tcp.seq", lambda v: v.seq), Check("tcp.ack_raw", lambda v: v.ack),
        Check("tcp.flags", lambda v: v.flags), Check("tcp.hdr_len", lambda v: v.header_len),
        Check("tcp.len", lambda v: v.payload_len), Check("tcp.window_size_value", lambda v: v.window),
        Check("tcp.urgent_pointer", lambda v: v.urgptr),
        Check("tcp.checksum.status", lambda v: v.checksum_ok, _verdict),
        Check("tcp.option_kind", _option_kinds, many=True, normalize=_through_eol),
        Check("tcp.options.mss_val", _option("MSS")), Check("tcp.options.wscale.shift", _option("WScale")),
        Check("tcp.options.sack_le", _sack(0), many=True), Check("tcp.options.sack_re", _sack(1), many=True),
        Check("tcp.options.timestamp.tsval", _timestamp(0)),
        Check("tcp.options.timestamp.tsecr", _timestamp(1)),
    ]),
    "udp": ("udp", [
        Check("udp.srcport", lambda v: v.sport), Check("udp.dstport", lambda v: v.dport),
        Check("udp.length", lambda v: v.len), Check("udp.checksum.status", lambda v: v.checksum_ok, _verdict),
    ]),
    "icmp": ("icmp", [
        Check("icmp.type", lambda v: v.type), Check("icmp.code", lambda v: v.code),
        Check("icmp.checksum.status", lambda v: v.checksum_ok, _verdict),
        Check("icmp.ident", _when((0, 8, 13, 14, 15, 16, 17, 18), lambda v: v.id)),
        Check("icmp.seq", _when((0, 8, 13, 14, 15, 16, 17, 18), lambda v: v.seq)),
        Check("icmp.redir_gw", _when((5,), lambda v: v.gateway), str),
        Check("icmp.mtu", lambda v: v.mtu if (v.type, v.code) == (3, 4) else None),
        Check("icmp.pointer", _when((12,), lambda v: v.pointer)),
    ]),
    "icmpv6": ("icmp6", [
        Check("icmpv6.type", lambda v: v.type), Check("icmpv6.code", lambda v: v.code),
        Check("icmpv6.checksum.status", lambda v: v.checksum_ok, _verdict),
        Check("icmpv6.opt.type", _nd_option_kinds, many=True),
        Check("icmpv6.echo.identifier", _when((128, 129), lambda v: v.id)),
        Check("icmpv6.echo.sequence_number", _when((128, 129), lambda v: v.seq)),
        Check("icmpv6.mtu", _when((2,), lambda v: v.mtu)),
        Check("icmpv6.pointer", _when((4,), lambda v: v.pointer)),
    ]),
}
# per-frame checks, read from the Packet itself
FRAME_CHECKS = [
    Check("frame.len", lambda p: p.wirelen), Check("frame.cap_len", lambda p: p.caplen),
    Check("vlan.id", _vlan_ids, many=True),
    Check("vlan.priority", lambda p: _vlan_field(p, "pcp"), many=True),
    Check("vlan.dei", lambda p: _vlan_field(p, "dei"), _bool, many=True),
]
EXPERT_FIELDS = ["_ws.expert.severity", "_ws.expert.group", "_ws.expert.message"]
FIELDS = ([c.tshark for c in FRAME_CHECKS] + ["ieee8021ad.id", "ieee8021ad.priority", "ieee8021ad.dei"]
          + [c.tshark for _, checks in PROTOCOLS.values() for c in checks] + EXPERT_FIELDS)


@cache
def other_protocols() -> tuple[str, ...]:
    """Every protocol tshark 4.0 knows but rawkit does not decode (it has no --disable-protocol ALL)."""
    listing = subprocess.run(["tshark", "-G", "protocols"], capture_output=True, text=True, check=True,
                             timeout=120).stdout
    names = (line.split("\t")[2] for line in listing.splitlines() if line.count("\t") >= 2)
    return tuple(name for name in names if name not in PROTOCOLS_DISSECTED)


def tshark_frames(path: Path) -> list[dict[str, list[str]]]:
    """Every field occurrence of every frame, one tshark run."""
    command = ["tshark", "-n", "-r", str(path), "-T", "fields", "-E", "occurrence=a",
               "-E", f"aggregator={AGGREGATOR}", "-E", "separator=\t", "-E", "quote=n"]
    for name in other_protocols():
        command += ["--disable-protocol", name]
    for name, value in PREFERENCES.items():
        command += ["-o", f"{name}:{value}"]
    for name in FIELDS:
        command += ["-e", name]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=300)
    frames = []
    for line in result.stdout.splitlines():
        cells = line.split("\t")
        frames.append({name: cell.split(AGGREGATOR) if cell else []
                       for name, cell in zip(FIELDS, cells, strict=False)})
    return frames


def malformation(record: dict[str, list[str]]) -> str | None:
    """tshark's error-severity expert messages outside the checksum group (None if there are none)."""
    found = [message for severity, group, message in zip(record["_ws.expert.severity"],
                                                          record["_ws.expert.group"],
                                                          record["_ws.expert.message"], strict=False)
             if int(severity) >= SEVERITY_ERROR and int(group) != GROUP_CHECKSUM]
    return "; ".join(found) or None


def levels(pkt: rawkit.Packet) -> list[rawkit.Packet]:
    """The packet, then the datagram its ICMP error quotes, and so on: tshark's occurrence order."""
    found = [pkt]
    while True:
        icmp = found[-1].icmp or found[-1].icmp6
        quoted = icmp.quoted if icmp is not None else None
        if quoted is None or len(found) > 3:
            return found
        found.append(quoted)


@dataclass
class Disagreement:
    frame: int  # 1-based, as tshark numbers frames
    field: str
    tshark: Any
    rawkit: Any
    level: int | None  # 0: the packet, 1: the datagram its ICMP error quotes; None: not known
    chain: list[rawkit.Packet]

    def __str__(self) -> str:
        errors = [level.errors for level in self.chain]
        return (f"frame {self.frame}: {self.field}: tshark {self.tshark!r} rawkit {self.rawkit!r} "
                f"(level {self.level}, rawkit errors {errors})")


def _cut_short(chain: list[rawkit.Packet], level: int | None) -> bool:
    """Was the header at `level` cut short: by the snap length, or by the ICMP error that quotes it?"""
    levels_to_check = range(len(chain)) if level is None else [level]
    for index in levels_to_check:
        if index >= len(chain):
            continue
        pkt = chain[index]
        if (index > 0 or pkt.caplen < pkt.wirelen) and pkt.errors:
            return True
    return False


def _source_routed_to(pkt: rawkit.Packet, destination: Any) -> bool:
    from rawkit.wire.ipv4 import final_destination

    final = final_destination(pkt.ip4.options_bytes) if pkt.ip4 is not None else None
    return final is not None and rawkit.wire.addresses.ip4_text(final) == destination


def _checksum_field(d: Any) -> int | None:
    views = {"ip": "ip4", "tcp": "tcp", "udp": "udp", "icmp": "icmp", "icmpv6": "icmp6"}
    attribute = views[d.field.split(".")[0]]
    view = getattr(d.chain[d.level], attribute)
    return None if view is None else view.checksum


def _transport_cut(pkt: rawkit.Packet) -> bool:
    transport = pkt.tcp or pkt.udp or pkt.icmp6
    return transport is not None and transport.end > len(pkt.data)


def _less_decoded(theirs: Any, ours: Any, field_name: str) -> bool:
    """One side decoded less of a cut-short header: a value missing, fewer occurrences, or a list of
    options that stops early; never two different values."""
    if field_name.endswith(" occurrences"):
        return True
    if isinstance(theirs, list) and isinstance(ours, list):
        if len(theirs) != len(ours):
            shorter, longer = sorted((theirs, ours), key=len)
            return longer[: len(shorter)] == shorter
        return all(a is None or b is None or a == b for a, b in zip(theirs, ours, strict=False))
    return theirs is None or ours is None


# Disagreements that are tshark's way and not a rawkit bug, each with its reason (the test lists them)
EXPLANATIONS: list[tuple[str, Callable[[Disagreement], bool]]] = [
    ("a header cut short (snap length, or the 8 bytes an ICMP error quotes): tshark shows the captured "
     "part of a header, rawkit decodes a header only when it is all there (and notes it in errors); "
     "fields both sides decoded must still agree",
     lambda d: _cut_short(d.chain, d.level) and _less_decoded(d.tshark, d.rawkit, d.field)),
    ("IPv4 fragment: tshark gives no tcp.len without reassembly; rawkit gives what this fragment carries",
     lambda d: d.field == "tcp.len" and d.tshark is None and d.level is not None
     and d.chain[d.level].ip is not None and d.chain[d.level].ip.is_fragment),
    ("inside an ICMP error tshark decodes only the first 8 bytes of TCP (ports, sequence number) even "
     "when more is quoted; rawkit decodes a whole quoted header",
     lambda d: d.field.startswith("tcp.") and d.level is not None and d.level > 0 and d.tshark is None),
    ("an IP length that runs past a frame not cut by a snap length: rawkit records the error and stops at "
     "the IP layer; tshark warns (\"exceeds framing length\") and decodes the bytes present",
     lambda d: d.field.endswith(" occurrences") and d.tshark > d.rawkit
     and d.chain[0].caplen == d.chain[0].wirelen
     and any("exceeds the" in error and error.startswith("ip") for error in d.chain[-1].errors)),
    ("tshark gives no ip.opt.type for an IPv4 option kind it does not know (it shows \"Unknown (0x1e)\")",
     lambda d: d.field == "ip.opt.type"
     and [kind for kind in d.rawkit if kind in WELL_KNOWN_IP_OPTIONS] == d.tshark),
    ("tshark shows a pending IPv4 source route's final destination as ip.dst; rawkit's ip.dst is the "
     "header's (the final one is used, as by tshark, in the TCP/UDP pseudo-header)",
     lambda d: d.field == "ip.dst" and d.level is not None and _source_routed_to(d.chain[d.level], d.tshark)),
    ("an ND redirect's Redirected Header option carries a packet: tshark decodes it, rawkit gives its "
     "bytes in icmp6.options ('redirected', bytes)",
     lambda d: d.field.endswith(" occurrences") and d.tshark > d.rawkit and d.chain[-1].icmp6 is not None
     and d.chain[-1].icmp6.type == 137),
    ("tshark 'verifies' the checksum of a segment that an ICMP error quotes only in part, over the bytes "
     "present; rawkit says it cannot be checked (None)",
     lambda d: d.field.endswith("checksum.status") and d.level is not None and d.level > 0
     and d.rawkit is None and _transport_cut(d.chain[d.level])),
    ("a checksum field of 0xffff where the sender's sum gave 0x0000: both are ones'-complement zero, a "
     "receiver summing the segment (Linux, rawkit) accepts it; tshark calls it bad (citing RFC 1624)",
     lambda d: d.field.endswith("checksum.status") and d.tshark is False and d.rawkit is True
     and d.level is not None and _checksum_field(d) == 0xFFFF),
    ("tshark does not verify checksums inside the datagram an ICMP error quotes",
     lambda d: d.field.endswith("checksum.status") and d.level is not None and d.level > 0
     and d.tshark in (None, [None])),
]


def explain(disagreement: Disagreement) -> str | None:
    for reason, applies in EXPLANATIONS:
        if applies(disagreement):
            return reason
    return None


@dataclass
class Comparison:
    compared_frames: int = 0
    excluded: list[tuple[int, str]] = field(default_factory=list)
    # frames whose bytes the two readers give differently (a record longer than the file's snap length:
    # rawkit.pcap cuts it to the snap length as libpcap does, tshark keeps it): the pcap tests' business
    read_differently: list[int] = field(default_factory=list)
    values_compared: dict[str, int] = field(default_factory=dict)
    explained: dict[str, int] = field(default_factory=dict)
    disagreements: list[Disagreement] = field(default_factory=list)

    def add(self, disagreement: Disagreement) -> None:
        reason = explain(disagreement)
        if reason is None:
            self.disagreements.append(disagreement)
        else:
            self.explained[reason] = self.explained.get(reason, 0) + 1


def compare(packets: Iterable[rawkit.Packet], records: list[dict[str, list[str]]],
            result: Comparison | None = None) -> Comparison:
    result = Comparison() if result is None else result
    for number, (pkt, record) in enumerate(zip(packets, records, strict=True), start=1):
        reason = malformation(record)
        if reason is not None:
            result.excluded.append((number, reason))
            continue
        if record["frame.cap_len"] != [str(pkt.caplen)]:
            result.read_differently.append(number)
            continue
        result.compared_frames += 1
        chain = levels(pkt)
        record = dict(record)  # the caller's records stay as tshark gave them (they may be compared again)
        for name in ("id", "priority", "dei"):
            record[f"vlan.{name}"] = record[f"ieee8021ad.{name}"] + record[f"vlan.{name}"]
        for check in FRAME_CHECKS:
            _compare_value(result, number, check, record[check.tshark], [(0, pkt)], chain)
        for protocol, (attribute, checks) in PROTOCOLS.items():
            views = [(index, getattr(level, attribute)) for index, level in enumerate(chain)]
            views = [(index, view) for index, view in views if view is not None]
            count = len(record[checks[0].tshark])
            if count != len(views):
                result.add(Disagreement(number, f"{protocol} occurrences", count, len(views), None, chain))
                continue
            for check in checks:
                _compare_value(result, number, check, record[check.tshark], views, chain)
    return result


def _compare_value(result: Comparison, number: int, check: Check, texts: list[str],
                   views: list[tuple[int, Any]], chain: list[rawkit.Packet]) -> None:
    if check.many:
        if len(views) != 1:
            return  # several headers' worth of a repeated field cannot be told apart
        level, view = views[0]
        pairs = [(level, check.normalize([check.parse(text) for text in texts]), check.read(view))]
    elif not texts:
        pairs = [(level, None, check.read(view)) for level, view in views]
    elif len(texts) == len(views):
        pairs = [(level, check.parse(text), check.read(view))
                 for text, (level, view) in zip(texts, views, strict=True)]
    else:
        return  # the field is missing from some occurrences: no way to line them up
    for level, theirs, ours in pairs:
        result.values_compared[check.tshark] = result.values_compared.get(check.tshark, 0) + 1
        if theirs != ours:
            result.add(Disagreement(number, check.tshark, theirs, ours, level, chain))


def main(paths: list[str]) -> int:
    """`python3 -m tests.tshark_fields FILE...`: the same comparison on any capture (big ones too)."""
    from tests.wire_frames import read_capture

    result = Comparison()
    for path in paths:
        compare(list(read_capture(Path(path))), tshark_frames(Path(path)), result)
    values = sum(result.values_compared.values())
    print(f"{result.compared_frames} frames compared, {len(result.excluded)} excluded as malformed by "
          f"tshark, {len(result.read_differently)} read differently, {values} values, "
          f"{len(result.disagreements)} unexplained disagreements")
    for reason, count in result.explained.items():
        print(f"  explained {count}: {reason}")
    for disagreement in result.disagreements[:50]:
        print(f"  {disagreement}")
    return 1 if result.disagreements else 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))

"""rawkit's decoded fields against scapy's and dpkt's, frame by frame, on every bundled capture and the
generated corpus. Both peers are cross-checks, not the truth (tshark and tcpdump are): every kind of
disagreement that is the peer's doing is listed in PEER_FAULTS with its reason; any other fails.

Fields: link addresses and VLAN ids, ARP, IPv4 (addresses, length, id, ttl, protocol, DF/MF, fragment
offset), IPv6 (addresses, payload length, next header, hop limit), TCP (ports, seq, ack, flags, data
offset, option kinds and values), UDP (ports, length), ICMP/ICMPv6 type and code, and the IP header
and ports of the datagram an ICMP error quotes.
"""

from __future__ import annotations

import socket
import struct
from collections import Counter
from collections.abc import Callable
from functools import cache
from pathlib import Path

import dpkt
import pytest

import rawkit
from tests import wire_frames
from tests.conftest import bundled_captures

Record = dict[str, object]
OPTION_KINDS = {"EOL": 0, "NOP": 1, "MSS": 2, "WScale": 3, "SAckOK": 4, "SAck": 5, "Timestamp": 8, "MD5": 19}
SCAPY_OPTION_KINDS = {"TFO": 34, "MPTCP": 30, "AltChkSum": 14, "AltChkSumOpt": 15, "Mood": 25, "UTO": 28,
                      "TCPAO": 29, **OPTION_KINDS}


# --- rawkit ----------------------------------------------------------------------------------------

def rawkit_record(pkt: rawkit.Packet) -> Record:
    record: Record = {}
    if pkt.eth is not None:
        record.update({"eth.src": pkt.eth.src, "eth.dst": pkt.eth.dst})
    if pkt.vlans:
        record["vlan.ids"] = [tag.vid for tag in pkt.vlans]
    if pkt.arp is not None:
        arp = pkt.arp
        record.update({"arp.op": arp.op, "arp.hwsrc": arp.hwsrc, "arp.psrc": arp.psrc, "arp.hwdst": arp.hwdst,
                       "arp.pdst": arp.pdst})
    _rawkit_ip(pkt, "", record)
    icmp = pkt.icmp or pkt.icmp6
    if icmp is not None and icmp.quoted is not None:
        _rawkit_ip(icmp.quoted, "quoted.", record)
    return record


def _rawkit_ip(pkt: rawkit.Packet, prefix: str, record: Record) -> None:
    if pkt.ip4 is not None:
        ip = pkt.ip4
        _put(record, prefix, {"ip.src": ip.src, "ip.dst": ip.dst, "ip.len": ip.len, "ip.id": ip.id,
                              "ip.ttl": ip.ttl, "ip.proto": ip.proto, "ip.df": ip.df, "ip.mf": ip.mf,
                              "ip.frag": ip.frag})
    if pkt.ip6 is not None:
        ip6 = pkt.ip6
        _put(record, prefix, {"ip6.src": ip6.src, "ip6.dst": ip6.dst, "ip6.plen": ip6.plen, "ip6.nh": ip6.nh,
                              "ip6.hlim": ip6.hlim})
    if pkt.tcp is not None:
        tcp = pkt.tcp
        record.update({prefix + "tcp.sport": tcp.sport, prefix + "tcp.dport": tcp.dport})
        if not prefix:
            record.update({"tcp.seq": tcp.seq, "tcp.ack": tcp.ack, "tcp.flags": tcp.flags,
                           "tcp.dataofs": tcp.dataofs, "tcp.options": _rawkit_options(tcp)})
    if pkt.udp is not None:
        record.update({prefix + "udp.sport": pkt.udp.sport, prefix + "udp.dport": pkt.udp.dport})
        if not prefix:
            record["udp.len"] = pkt.udp.len
    if not prefix:
        for name, view in (("icmp", pkt.icmp), ("icmp6", pkt.icmp6)):
            if view is not None:
                record.update({f"{name}.type": view.type, f"{name}.code": view.code})


def _rawkit_options(tcp) -> list[tuple[int, object]]:
    options = []
    for name, value in tcp.options:
        kind = OPTION_KINDS.get(name, name)
        if name == "SAck":
            value = [edge for block in value for edge in block]
        elif kind in (0, 1, 4):
            value = None
        elif isinstance(value, bytes):
            value = value.hex()
        options.append(_comparable(kind, value))
    return options


def _comparable(kind: object, value: object) -> tuple[int, object]:
    """Option values the three libraries decode alike; others (TFO, MPTCP, ...) by kind alone."""
    if isinstance(kind, str):
        kind = SCAPY_OPTION_KINDS.get(kind, kind)
    return kind, value if kind in (2, 3, 5, 8) else None


def _through_eol(options: list[tuple[int, object]]) -> list[tuple[int, object]]:
    kinds = [kind for kind, _ in options]
    return options[: kinds.index(0) + 1] if 0 in kinds else options


# --- scapy -----------------------------------------------------------------------------------------

@cache
def _scapy():
    import scapy.layers.inet
    import scapy.layers.inet6
    import scapy.layers.l2
    from scapy.config import conf

    return conf, scapy.layers.inet, scapy.layers.inet6, scapy.layers.l2


def scapy_record(data: bytes, linktype: int) -> Record:
    conf, inet, inet6, l2 = _scapy()
    try:
        outer = conf.l2types[linktype]
    except KeyError:
        return {}
    try:
        packet = outer(data)
    except Exception:  # scapy raises on some short frames
        return {"failed": "scapy raised"}
    record: Record = {}
    if packet.haslayer(l2.Ether):
        record.update({"eth.src": packet[l2.Ether].src, "eth.dst": packet[l2.Ether].dst})
    tags = [layer.vlan for layer in _layers(packet) if isinstance(layer, l2.Dot1Q | l2.Dot1AD)]
    if tags:
        record["vlan.ids"] = tags
    if packet.haslayer(l2.ARP):
        arp = packet[l2.ARP]
        record.update({"arp.op": arp.op, "arp.hwsrc": arp.hwsrc, "arp.psrc": arp.psrc, "arp.hwdst": arp.hwdst,
                       "arp.pdst": arp.pdst})
    for layer in _layers(packet):
        name = type(layer).__name__
        quoted = name in ("IPerror", "IPerror6", "TCPerror", "UDPerror", "ICMPerror")
        prefix = "quoted." if quoted else ""
        if name in ("IP", "IPerror") and prefix + "ip.src" not in record:
            flags = int(layer.flags)
            _put(record, prefix, {"ip.src": layer.src, "ip.dst": layer.dst, "ip.len": layer.len,
                                  "ip.id": layer.id, "ip.ttl": layer.ttl, "ip.proto": layer.proto,
                                  "ip.df": bool(flags & 2), "ip.mf": bool(flags & 1), "ip.frag": layer.frag})
        elif name in ("IPv6", "IPerror6") and prefix + "ip6.src" not in record:
            _put(record, prefix, {"ip6.src": layer.src, "ip6.dst": layer.dst, "ip6.plen": layer.plen,
                                  "ip6.nh": layer.nh, "ip6.hlim": layer.hlim})
        elif name in ("TCP", "TCPerror") and prefix + "tcp.sport" not in record:
            record.update({prefix + "tcp.sport": layer.sport, prefix + "tcp.dport": layer.dport})
            if not quoted:
                record.update({"tcp.seq": layer.seq, "tcp.ack": layer.ack, "tcp.flags": int(layer.flags),
                               "tcp.dataofs": layer.dataofs, "tcp.options": _scapy_options(layer.options)})
        elif name in ("UDP", "UDPerror") and prefix + "udp.sport" not in record:
            record.update({prefix + "udp.sport": layer.sport, prefix + "udp.dport": layer.dport})
            if not quoted:
                record["udp.len"] = layer.len
        elif name == "ICMP" and "icmp.type" not in record:
            record.update({"icmp.type": layer.type, "icmp.code": layer.code})
        elif name.startswith("ICMPv6") and hasattr(layer, "code") and "icmp6.type" not in record:
            record.update({"icmp6.type": layer.type, "icmp6.code": layer.code})
    return record


def _put(record: Record, prefix: str, fields: Record) -> None:
    record.update({prefix + name: value for name, value in fields.items()})


def _layers(packet) -> list:
    found = []
    while packet is not None and type(packet).__name__ != "NoPayload":
        found.append(packet)
        packet = packet.payload
    return found


def _scapy_options(options: list) -> list[tuple[int, object]]:
    decoded = []
    for name, value in options:
        kind = OPTION_KINDS.get(name, name)
        if kind == 5 and isinstance(value, tuple):
            value = list(value)
        elif kind in (0, 1, 4):
            value = None
        elif kind == 8:
            value = tuple(value)
        elif isinstance(value, bytes):
            value = value.hex()
        decoded.append(_comparable(kind, value))
    return decoded


# --- dpkt ------------------------------------------------------------------------------------------

DPKT_LINKS: dict[int, Callable[[bytes], object]] = {
    1: dpkt.ethernet.Ethernet, 113: dpkt.sll.SLL, 276: dpkt.sll2.SLL2, 0: dpkt.loopback.Loopback,
    101: lambda data: (dpkt.ip6.IP6 if data[:1] and data[0] >> 4 == 6 else dpkt.ip.IP)(data),
}


def _mac(raw: bytes) -> str:
    return raw.hex(":")


def _addr(raw: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw)


def dpkt_record(data: bytes, linktype: int) -> Record:
    link = DPKT_LINKS.get(linktype)
    if link is None:
        return {}
    try:
        frame = link(data)
    except Exception as error:  # dpkt raises on malformed frames, and on a few valid ones (see DPKT_CRASHES)
        return {"failed": f"{type(error).__name__}: {error}"}
    record: Record = {}
    if isinstance(frame, dpkt.ethernet.Ethernet):
        record.update({"eth.src": _mac(frame.src), "eth.dst": _mac(frame.dst)})
        if getattr(frame, "vlan_tags", None):
            record["vlan.ids"] = [tag.id for tag in frame.vlan_tags]
    network = frame if linktype == 101 else frame.data
    if isinstance(network, dpkt.arp.ARP):
        record.update({"arp.op": network.op, "arp.hwsrc": _mac(network.sha), "arp.psrc": _addr(network.spa)
                       if len(network.spa) == 4 else network.spa.hex(":"), "arp.hwdst": _mac(network.tha),
                       "arp.pdst": _addr(network.tpa) if len(network.tpa) == 4 else network.tpa.hex(":")})
    _dpkt_ip(network, "", record)
    transport = getattr(network, "data", None)
    if isinstance(transport, dpkt.icmp.ICMP | dpkt.icmp6.ICMP6):
        quoted = getattr(transport.data, "data", None)
        if isinstance(quoted, dpkt.ip.IP | dpkt.ip6.IP6):
            _dpkt_ip(quoted, "quoted.", record)
    return record


def _dpkt_ip(ip: object, prefix: str, record: Record) -> None:
    if isinstance(ip, dpkt.ip.IP):
        _put(record, prefix, {"ip.src": _addr(ip.src), "ip.dst": _addr(ip.dst), "ip.len": ip.len,
                              "ip.id": ip.id, "ip.ttl": ip.ttl, "ip.proto": ip.p, "ip.df": bool(ip.df),
                              "ip.mf": bool(ip.mf), "ip.frag": ip.offset})  # dpkt's offset: in 8-byte units
    elif isinstance(ip, dpkt.ip6.IP6):
        record.update({prefix + "ip6.src": _addr(ip.src), prefix + "ip6.dst": _addr(ip.dst),
                       prefix + "ip6.plen": ip.plen, prefix + "ip6.nh": ip.nxt, prefix + "ip6.hlim": ip.hlim})
    else:
        return
    transport = ip.data
    if isinstance(transport, dpkt.tcp.TCP):
        record.update({prefix + "tcp.sport": transport.sport, prefix + "tcp.dport": transport.dport})
        if not prefix:
            record.update({"tcp.seq": transport.seq, "tcp.ack": transport.ack,
                           "tcp.flags": transport.flags,
                           "tcp.dataofs": transport.off, "tcp.options": _dpkt_options(transport.opts)})
    elif isinstance(transport, dpkt.udp.UDP):
        record.update({prefix + "udp.sport": transport.sport, prefix + "udp.dport": transport.dport})
        if not prefix:
            record["udp.len"] = transport.ulen
    elif isinstance(transport, dpkt.icmp.ICMP) and not prefix:
        record.update({"icmp.type": transport.type, "icmp.code": transport.code})
    elif isinstance(transport, dpkt.icmp6.ICMP6) and not prefix:
        record.update({"icmp6.type": transport.type, "icmp6.code": transport.code})


def _dpkt_options(raw: bytes) -> list[tuple[int, object]]:
    decoded = []
    for option in dpkt.tcp.parse_opts(raw):
        if option is None:  # dpkt's mark for a malformed option
            decoded.append((-1, None))
            break
        kind, data = option
        if kind in (0, 1, 4):
            value = None
        elif kind == 2 and len(data) == 2:
            value = struct.unpack("!H", data)[0]
        elif kind == 3 and len(data) == 1:
            value = data[0]
        elif kind == 8 and len(data) == 8:
            value = struct.unpack("!II", data)
        elif kind == 5 and len(data) % 8 == 0:
            value = list(struct.unpack(f"!{len(data) // 4}I", data))
        else:
            value = data.hex()
        decoded.append(_comparable(kind, value))
    return decoded


# --- the comparison --------------------------------------------------------------------------------

def _rarp(key: str, theirs: object, pkt: rawkit.Packet) -> bool:
    return key.startswith("arp.") and theirs is None and pkt.ethertype == 0x8035


def _cut(pkt: rawkit.Packet) -> bool:
    return pkt.caplen < pkt.wirelen or bool(pkt.errors)


def _quoted_errors(pkt: rawkit.Packet) -> bool:
    icmp = pkt.icmp or pkt.icmp6
    return icmp is not None and icmp.quoted is not None and bool(icmp.quoted.errors)


# (reason, applies(key, rawkit value, peer value, packet)): disagreements that are the peer's doing
Fault = tuple[str, Callable[[str, object, object, rawkit.Packet], bool]]
SHARED_FAULTS: list[Fault] = [
    ("a malformed or cut-short frame: rawkit stops where the bytes end or lie and says so in errors; "
     "the peer reads on (scapy: zero-filled or Raw fields; dpkt: an exception or partial object)",
     lambda key, ours, theirs, pkt: _cut(pkt)),
    ("the datagram an ICMP error quotes is cut short (8 bytes of transport header by RFC 792): the peer "
     "reads the partial header, rawkit decodes a header only when it is whole (errors say so)",
     lambda key, ours, theirs, pkt: key.startswith("quoted.") and _quoted_errors(pkt) and ours is None),
    ("the pre-standard QinQ TPID 0x9100 (tcpdump and tshark know it): neither peer decodes past it",
     lambda key, ours, theirs, pkt: theirs is None and any(tag.tpid == 0x9100 for tag in pkt.vlans)),
    ("a SACK option whose length is not 2 + 8n: rawkit keeps its bytes, as for any option of a wrong "
     "length; scapy unpacks 4-byte words of it, dpkt does likewise",
     lambda key, ours, theirs, pkt: key == "tcp.options"
     and any(kind == 5 and isinstance(value, str) for kind, value in ours)),
    ("TCP options after EOL: the peer keeps reading (scapy) or lists the padding (dpkt); rawkit stops at EOL "
     "as RFC 9293 says",
     lambda key, ours, theirs, pkt: key == "tcp.options" and isinstance(theirs, list)
     and _through_eol(theirs) == ours),
]
PEER_FAULTS: dict[str, list[Fault]] = {
    "scapy": SHARED_FAULTS + [
        ("scapy has no RARP layer (EtherType 0x8035)",
         lambda key, ours, theirs, pkt: _rarp(key, theirs, pkt)),
    ],
    "dpkt": SHARED_FAULTS + [
        ("dpkt has no decoder for the datagram an ICMP parameter problem (type 12) quotes: it stays bytes",
         lambda key, ours, theirs, pkt: key.startswith("quoted.") and theirs is None and pkt.icmp is not None
         and pkt.icmp.type == 12),
        ("dpkt drops the whole datagram an ICMP error quotes when its transport header is cut short (the "
         "inner IP unpack fails on it); rawkit keeps the IP header and notes the cut transport header",
         lambda key, ours, theirs, pkt: key.startswith("quoted.") and theirs is None and _quoted_errors(pkt)),
        ("dpkt keeps only the innermost of three or more stacked VLAN tags",
         lambda key, ours, theirs, pkt: key == "vlan.ids" and len(ours) >= 3 and theirs == ours[-1:]),
        ("dpkt has no RARP decoder (EtherType 0x8035)",
         lambda key, ours, theirs, pkt: _rarp(key, theirs, pkt)),
    ],
}


# a peer raising on a frame rawkit decodes without error: (reason, text of the exception)
PEER_CRASHES: dict[str, list[tuple[str, str]]] = {
    "dpkt": [
        ("dpkt 1.9.8 bug: an IPv6 fragment header after another extension header makes IP6.unpack read "
         "frag_off from the wrong header (AttributeError)", "no attribute 'frag_off'"),
    ],
}


def compare(peer: str, packets: list[rawkit.Packet]) -> tuple[Counter, list[str]]:
    """Explained disagreements counted by reason; unexplained ones listed."""
    record_of = scapy_record if peer == "scapy" else dpkt_record
    explained: Counter = Counter()
    unexplained: list[str] = []
    for number, pkt in enumerate(packets, start=1):
        ours = rawkit_record(pkt)
        theirs = record_of(pkt.data, pkt.linktype)
        if not theirs:
            continue  # a link type the peer does not decode
        if theirs.get("failed"):
            if not pkt.errors and pkt.caplen == pkt.wirelen:
                crashes = PEER_CRASHES.get(peer, ())
                crash = next((reason for reason, text in crashes if text in theirs["failed"]), None)
                if crash is None:
                    unexplained.append(f"frame {number}: {peer} failed on a valid frame: {theirs['failed']}")
                else:
                    explained[crash] += 1
                continue
            theirs = {}
        for key in sorted(ours.keys() | theirs.keys()):
            mine, other = ours.get(key), theirs.get(key)
            if mine == other:
                continue
            reason = next((reason for reason, applies in PEER_FAULTS[peer]
                           if applies(key, mine, other, pkt)), None)
            if reason is None:
                unexplained.append(f"frame {number} (link type {pkt.linktype}): {key}: rawkit {mine!r} "
                                   f"{peer} {other!r} errors {pkt.errors}")
            else:
                explained[reason] += 1
    return explained, unexplained


@cache
def _corpus_packets() -> list[rawkit.Packet]:
    return [rawkit.decode(frame.data, frame.linktype, 0, frame.wirelen) for frame in wire_frames.corpus()]


@pytest.mark.parametrize("peer", ["scapy", "dpkt"])
def test_generated_frames_agree_with_peer(peer: str) -> None:
    explained, unexplained = compare(peer, _corpus_packets())
    assert not unexplained, "\n".join(unexplained[:40])


@pytest.mark.parametrize("peer", ["scapy", "dpkt"])
@pytest.mark.parametrize("path", bundled_captures(), ids=lambda path: str(path.relative_to(path.parents[1])))
def test_bundled_capture_agrees_with_peer(path: Path, peer: str) -> None:
    try:
        packets = list(wire_frames.read_capture(path))
    except Exception as error:  # a corrupt file: the pcap layer's own tests cover how it fails
        pytest.skip(f"rawkit cannot read it: {error}")
    explained, unexplained = compare(peer, packets)
    assert not unexplained, "\n".join(unexplained[:40])

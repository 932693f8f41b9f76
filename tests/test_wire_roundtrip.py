"""Build -> decode -> rebuild, for every builder, with field values drawn by hypothesis:

- decoding a built frame gives back every field that was given;
- rebuilding from the decoded views (`view.builder()`, see `rebuild`) gives back the same bytes;
- the lengths and checksums rawkit computes are the ones scapy computes for the same frame;
- lengths and checksums given explicitly, even wrong ones, are kept.
"""

from __future__ import annotations

import socket

from hypothesis import given, settings
from hypothesis import strategies as st

import rawkit
from rawkit import (
    ARP,
    ICMP,
    RARP,
    TCP,
    UDP,
    CookedLinux,
    CookedLinuxV2,
    Dot1AD,
    Dot1Q,
    Ether,
    ICMPv6,
    IPv4,
    IPv6,
    IPv6DestOpts,
    IPv6Fragment,
    IPv6HopByHop,
    IPv6Routing,
    Loopback,
    Padding,
)
from rawkit.wire import ipv4 as ipv4_module
from rawkit.wire import tcp as tcp_module
from rawkit.wire.ipv6 import ExtensionView

u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
macs = st.binary(min_size=6, max_size=6).map(lambda raw: raw.hex(":"))
ip4s = st.binary(min_size=4, max_size=4).map(socket.inet_ntoa)
ip6s = st.binary(min_size=16, max_size=16).map(lambda raw: socket.inet_ntop(socket.AF_INET6, raw))
payloads = st.binary(max_size=64)

tcp_option_lists = st.lists(st.one_of(
    st.tuples(st.just("MSS"), u16), st.tuples(st.just("WScale"), st.integers(0, 14)),
    st.tuples(st.just("SAckOK"), st.just(b"")), st.tuples(st.just("Timestamp"), st.tuples(u32, u32)),
    st.tuples(st.just("NOP"), st.none()),
    st.tuples(st.just("SAck"), st.lists(st.tuples(u32, u32), min_size=1, max_size=3).map(tuple)),
), max_size=5).filter(lambda options: len(tcp_module.tcp_options.encode(options)) <= 40)

ip4_option_lists = st.sampled_from([
    (), [(148, b"\x00\x00")], [(1, b""), (1, b""), (1, b""), (1, b"")], [(7, bytes([4]) + bytes(8))],
    [(68, bytes([5, 0]) + bytes(8))], [(130, bytes(9))],
])

tcps = st.builds(TCP, sport=u16, dport=u16, seq=u32, ack=u32, flags=st.integers(0, 0x1FF),
                 window=u16, urgptr=u16, options=tcp_option_lists)
udps = st.builds(UDP, sport=u16, dport=u16)
icmps = st.one_of(
    st.builds(ICMP, type=st.sampled_from([0, 8, 13, 14, 15, 16, 17, 18]), code=u8, id=u16, seq=u16),
    st.builds(ICMP, type=st.just(5), code=st.integers(0, 3), gateway=ip4s),
    st.builds(ICMP, type=st.just(3), code=st.integers(0, 15), mtu=u16),
    st.builds(ICMP, type=st.just(12), code=st.integers(0, 2), pointer=u8),
    st.builds(ICMP, type=st.sampled_from([4, 11]), code=st.integers(0, 1)),
)
icmp6s = st.one_of(
    st.builds(ICMPv6, type=st.sampled_from([128, 129]), code=st.just(0), id=u16, seq=u16),
    st.builds(ICMPv6, type=st.just(2), mtu=u32),
    st.builds(ICMPv6, type=st.just(4), code=st.integers(0, 3), pointer=u32),
    st.builds(ICMPv6, type=st.sampled_from([1, 3]), code=st.integers(0, 6)),
    st.builds(ICMPv6, type=st.just(135), target=ip6s,
              options=st.sampled_from([(), [("src_lladdr", "02:00:00:00:00:01")]])),
    st.builds(ICMPv6, type=st.just(136), target=ip6s, flags=st.sampled_from([0, 0x20, 0x40, 0xE0]),
              options=st.sampled_from([(), [("tgt_lladdr", "02:00:00:00:00:02")]])),
    st.builds(ICMPv6, type=st.just(134), cur_hop_limit=u8, flags=u8, router_lifetime=u16, reachable_time=u32,
              retrans_timer=u32, options=st.sampled_from([(), [("mtu", 1500)], [
                  ("prefix_info", (64, 0xC0, 86400, 14400, "fd00:18::"))]])),
    st.builds(ICMPv6, type=st.just(133)),
)
ip4_headers = st.builds(IPv4, tos=u8, id=u16, flags=st.sampled_from([0, 2]), ttl=u8, src=ip4s, dst=ip4s,
                        options=ip4_option_lists)
ip6_headers = st.builds(IPv6, tc=u8, fl=st.integers(0, 0xFFFFF), hlim=u8, src=ip6s, dst=ip6s)
extensions = st.lists(st.one_of(
    st.builds(IPv6HopByHop, options=st.sampled_from([[(5, b"\x00\x00")], [(1, b"\x00\x00\x00\x00")], []])),
    st.builds(IPv6DestOpts, options=st.sampled_from([[(1, b"")], [(0xC9, bytes(16))]])),
    st.builds(IPv6Routing, type=st.sampled_from([0, 4]), segleft=st.integers(0, 2),
              addresses=st.lists(ip6s, min_size=1, max_size=2)),
    st.builds(IPv6Fragment, id=u32),  # offset 0, no more fragments: an atomic fragment, still decodable
), max_size=2)


@st.composite
def networks(draw) -> list[rawkit.Layer]:
    kind = draw(st.sampled_from(["ip4", "ip6", "arp"]))
    if kind == "arp":
        arp = draw(st.sampled_from([ARP, RARP]))
        return [arp(op=draw(st.integers(1, 4)), hwsrc=draw(macs), hwdst=draw(macs), psrc=draw(ip4s),
                    pdst=draw(ip4s))]
    if kind == "ip4":
        return [draw(ip4_headers), draw(st.one_of(tcps, udps, icmps))]
    return [draw(ip6_headers), *draw(extensions), draw(st.one_of(tcps, udps, icmp6s))]


@st.composite
def frames(draw) -> tuple[rawkit.Chain, int]:
    network = draw(networks())
    is_arp = isinstance(network[0], ARP)
    linktype = draw(st.sampled_from([1, 113, 276] if is_arp else [0, 1, 101, 108, 113, 276]))
    if linktype == 1:
        link = [Ether(src=draw(macs), dst=draw(macs))]
        vids = st.integers(0, 4095)
        link += draw(st.sampled_from([
            [], [Dot1Q(vid=draw(vids), pcp=draw(st.integers(0, 7)), dei=draw(st.integers(0, 1)))],
            [Dot1AD(vid=draw(vids)), Dot1Q(vid=draw(vids))]]))
    elif linktype in (0, 108):
        link = [Loopback(network_order=linktype == 108)]
    elif linktype == 113:
        link = [CookedLinux(pkttype=draw(st.integers(0, 4)), addr=draw(macs))]
    elif linktype == 276:
        link = [CookedLinuxV2(pkttype=draw(st.integers(0, 4)), addr=draw(macs), ifindex=draw(u32))]
    else:
        link = []
    chain = rawkit.Chain(link + network)
    top = network[-1]
    if not is_arp and not (isinstance(top, ICMPv6) and top.type in (133, 134, 135, 136, 137)):
        chain = chain / draw(payloads)  # (ND messages: what follows is options)
    return chain, linktype


# --- decoded fields against the fields given -------------------------------------------------------

def _views(pkt: rawkit.Packet) -> list[object]:
    """The decoded views in the order a builder chain lists its layers."""
    views: list[object] = [pkt.eth or pkt.sll or pkt.loopback, *pkt.vlans, pkt.arp, pkt.ip4, pkt.ip6]
    if pkt.ip6 is not None:
        views += pkt.ip6.ext
    views += [pkt.tcp or pkt.udp or pkt.icmp or pkt.icmp6]
    return [view for view in views if view is not None]


def _given(layer: rawkit.Layer, name: str, value: object) -> object:
    """A builder field as the view would report it."""
    if name == "flags" and isinstance(layer, TCP):
        return tcp_module.flag_bits(value)
    if name == "flags" and isinstance(layer, IPv4):
        return ipv4_module.flag_bits(value)
    if isinstance(layer, IPv6 | ICMPv6 | IPv6Routing) and name in ("src", "dst", "target"):
        return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, value))
    if isinstance(value, str):
        return value.lower()  # MAC addresses
    return value


# compared elsewhere (options), computed (lengths, checksums), or meaningful only for some message types
NOT_COMPARED = {"options", "nh", "len", "checksum", "ihl", "dataofs", "plen", "proto", "reserved",
                "family", "network_order", "halen", "protocol", "hwlen", "body", "rest", "dst_",
                "addresses", "version", "m", "offset", "mtu", "pointer", "gateway", "id", "seq",
                "cur_hop_limit", "router_lifetime", "reachable_time", "retrans_timer", "target", "flags"}


def _check_fields(chain: rawkit.Chain, pkt: rawkit.Packet) -> None:
    layers = [layer for layer in chain.layers if not isinstance(layer, rawkit.Raw)]
    views = _views(pkt)
    assert len(views) == len(layers), (layers, views, pkt.errors)
    for layer, view in zip(layers, views, strict=True):
        for name, value in vars(layer).items():
            if value is None or not hasattr(view, name):
                continue
            if name in NOT_COMPARED and not _specific(layer, name):
                continue
            assert getattr(view, name) == _given(layer, name, value), (type(layer).__name__, name)
    _check_specifics(chain, pkt)


def _specific(layer: rawkit.Layer, name: str) -> bool:
    """Fields whose meaning depends on the message type: compared where they apply."""
    if isinstance(layer, TCP):
        return name in ("flags", "seq", "reserved")
    if isinstance(layer, IPv4):
        return name in ("flags", "id")
    if isinstance(layer, ICMP):
        return (name in ("id", "seq") and layer.type in (0, 8, 13, 14, 15, 16, 17, 18)
                or name == "gateway" and layer.type == 5 or name == "mtu" and layer.type == 3
                or name == "pointer" and layer.type == 12)
    if isinstance(layer, ICMPv6):
        return (name in ("id", "seq") and layer.type in (128, 129) or name == "mtu" and layer.type == 2
                or name == "pointer" and layer.type == 4 or name == "target" and layer.type in (135, 136)
                or name == "flags" and layer.type in (134, 136)
                or name in ("cur_hop_limit", "router_lifetime", "reachable_time", "retrans_timer")
                and layer.type == 134)
    if isinstance(layer, IPv6Fragment):
        return name in ("id", "m", "offset")
    return False


def _check_specifics(chain: rawkit.Chain, pkt: rawkit.Packet) -> None:
    if TCP in chain:
        given = [option for option in chain[TCP].options]
        decoded = [option for option in pkt.tcp.options]
        while decoded and decoded[-1] == ("EOL", None) and (not given or given[-1] != ("EOL", None)):
            decoded.pop()  # the padding builders add
        assert decoded == [(name, tuple(value) if name == "SAck" else value) for name, value in given]
    if IPv4 in chain and chain[IPv4].options:
        given = list(chain[IPv4].options)
        decoded = pkt.ip4.options
        assert decoded[: len(given)] == given and all(kind == 0 for kind, _ in decoded[len(given):])
    if ICMPv6 in chain and chain[ICMPv6].type in (133, 134, 135, 136):
        given = [(name, tuple(value) if name == "prefix_info" else value)
                 for name, value in chain[ICMPv6].options]
        assert [(name, tuple(value) if name == "prefix_info" else value)
                for name, value in pkt.icmp6.options] == given
    if IPv6Routing in chain:
        header = next(h for h in pkt.ip6.ext if h.kind == 43)
        assert header.addresses == [_given(chain[IPv6Routing], "dst", address)
                                    for address in chain[IPv6Routing].addresses]
    assert pkt.payload == (chain.layers[-1].load if isinstance(chain.layers[-1], rawkit.Raw) else b"")


# --- rebuilding from views -------------------------------------------------------------------------

def _extension_builder(header: ExtensionView) -> rawkit.Layer:
    """ExtensionView has no builder(): the test makes one from its fields."""
    if header.kind == 0:
        return IPv6HopByHop(nh=header.nh, options=header.data)
    if header.kind == 60:
        return IPv6DestOpts(nh=header.nh, options=header.data)
    if header.kind == 43:
        return IPv6Routing(nh=header.nh, type=header.routing_type, segleft=header.segleft,
                           reserved=header.data[2:6], addresses=header.addresses)
    return IPv6Fragment(nh=header.nh, reserved=header.data[0], offset=header.offset, m=header.m, id=header.id)


def rebuild(pkt: rawkit.Packet) -> bytes:
    """The frame again, from the decoded views' builders (and the few views that lack one)."""
    layers: list[rawkit.Layer] = []
    if pkt.eth is not None:
        layers.append(pkt.eth.builder())
    elif pkt.sll is not None:  # no SLLView.builder(): made from its fields
        sll = pkt.sll
        if sll.version == 1:
            layers.append(CookedLinux(pkttype=sll.pkttype, hatype=sll.hatype, addr=sll.addr_bytes,
                                      protocol=sll.protocol))
        else:
            layers.append(CookedLinuxV2(pkttype=sll.pkttype, hatype=sll.hatype, addr=sll.addr_bytes,
                                        protocol=sll.protocol, ifindex=sll.ifindex))
    elif pkt.loopback is not None:  # no LoopbackView.builder()
        layers.append(Loopback(family=pkt.loopback.family, network_order=pkt.linktype == 108))
    layers += [tag.builder() for tag in pkt.vlans]
    for view in (pkt.arp, pkt.ip4, pkt.ip6):
        if view is not None:
            layers.append(view.builder())
    if pkt.ip6 is not None:
        layers += [_extension_builder(header) for header in pkt.ip6.ext]
    transport = pkt.tcp or pkt.udp or pkt.icmp
    payload = pkt.payload
    if transport is not None:
        layers.append(transport.builder())
    elif pkt.icmp6 is not None:  # no ICMPv6View.builder()
        layers.append(ICMPv6(type=pkt.icmp6.type, code=pkt.icmp6.code, body=pkt.icmp6.data))
        payload = b""
    return bytes(rawkit.Chain(layers) / payload / Padding(load=pkt.data[pkt.payload_end:]))


# --- scapy computes the same lengths and checksums -------------------------------------------------

COMPUTED_FIELDS = ("len", "plen", "chksum", "cksum", "ihl", "dataofs", "hwlen", "plen")


def _scapy_recomputed(network: bytes, version: int, tail_at: int) -> bytes:
    """scapy parses the IP datagram, forgets every length and checksum, and builds it again. What
    follows the transport header (`network[tail_at:]`) stays opaque bytes: scapy would parse a quoted
    datagram or an application and might not rebuild random bytes exactly."""
    from scapy.layers.inet import IP
    from scapy.layers.inet6 import IPv6 as ScapyIPv6
    from scapy.packet import NoPayload, Raw

    packet = (IP if version == 4 else ScapyIPv6)(network)
    layer = packet
    while not isinstance(layer, NoPayload):
        for name in COMPUTED_FIELDS:
            if name in layer.fields:
                del layer.fields[name]
        name = type(layer).__name__
        quoting = name == "ICMP" and layer.type in (3, 4, 5, 11, 12) or name in (
            "ICMPv6DestUnreach", "ICMPv6PacketTooBig", "ICMPv6TimeExceeded", "ICMPv6ParamProblem")
        if (name in ("TCP", "UDP") or quoting) and not isinstance(layer.payload, NoPayload):
            layer.remove_payload()
            layer.add_payload(Raw(load=network[tail_at:]))
            break
        layer = layer.payload
    return bytes(packet)


@settings(max_examples=250, deadline=None)
@given(frames())
def test_build_decode_rebuild(frame: tuple[rawkit.Chain, int]) -> None:
    chain, linktype = frame
    data = bytes(chain)
    pkt = rawkit.decode(data, linktype)
    assert pkt.errors == []
    _check_fields(chain, pkt)
    assert rebuild(pkt) == data
    for view in (pkt.ip4, pkt.tcp, pkt.udp, pkt.icmp, pkt.icmp6):
        if view is not None:
            assert view.checksum_ok is not False
    if pkt.ip is not None:
        network = data[pkt.ip._off :]
        icmp = pkt.icmp or pkt.icmp6
        tail_at = (icmp._off + 8 if icmp is not None else pkt.payload_off) - pkt.ip._off
        assert _scapy_recomputed(network, pkt.ip.version, tail_at) == network


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["ip4", "ip6"]), st.sampled_from(["tcp", "udp", "icmp"]), u16, u16, u16, payloads)
def test_explicit_lengths_and_checksums_are_kept(version: str, transport: str, checksum: int,
                                                 ip_checksum: int, length: int, payload: bytes) -> None:
    if transport == "tcp":
        top = TCP(checksum=checksum, dataofs=length & 0x0F)
    elif transport == "udp":
        top = UDP(checksum=checksum, len=length)
    else:
        top = ICMP(checksum=checksum) if version == "ip4" else ICMPv6(checksum=checksum)
    ip = IPv4(checksum=ip_checksum, len=length, ihl=5) if version == "ip4" else IPv6(plen=length)
    data = bytes(ip / top / payload)
    pkt = rawkit.decode(data, rawkit.LINKTYPE_RAW, 0, 1 << 20)  # wirelen: lengths may exceed the bytes
    if version == "ip4":
        assert (pkt.ip4.checksum, pkt.ip4.len) == (ip_checksum, length)
    else:
        assert pkt.ip6.plen == length
    view = pkt.tcp or pkt.udp or pkt.icmp or pkt.icmp6
    if view is not None:  # absent when the length given leaves no room for it
        assert view.checksum == checksum
        if transport == "tcp":
            assert view.dataofs == length & 0x0F
        if transport == "udp":
            assert view.len == length

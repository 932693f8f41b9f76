"""The decoder's fast path (Ethernet/IPv4/TCP|UDP) must give exactly what the general walk gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import rawkit
from rawkit.wire import packet as packet_module

ATTRIBUTES = ("eth", "sll", "loopback", "vlans", "arp", "ip", "ip4", "ip6", "tcp", "udp", "icmp", "icmp6",
              "ethertype", "payload_off", "payload_end", "errors", "payload")


def _general(data: bytes) -> rawkit.Packet:
    pkt = rawkit.Packet(data)
    packet_module._walk(pkt, data, len(data))
    return pkt


def _state(pkt: rawkit.Packet) -> dict:
    state = {}
    for name in ATTRIBUTES:
        value = getattr(pkt, name)
        state[name] = repr(value) if hasattr(value, "_buf") else value
    if pkt.tcp is not None:
        tcp = pkt.tcp
        state["tcp.fields"] = (tcp.sport, tcp.seq, tcp.header_len, tcp.end, tcp.payload_len)
    if pkt.udp is not None:
        state["udp.fields"] = (pkt.udp.sport, pkt.udp.len, pkt.udp.end, pkt.udp.payload_len)
    if pkt.ip is not None:
        state["ip.fields"] = (pkt.ip.src, pkt.ip.dst, pkt.ip.header_len)
    return state


frames = st.builds(
    lambda network, transport, payload, pad, cut: (bytes(rawkit.Ether() / network / transport / payload)
                                                   + b"\x00" * pad)[: cut or None],
    st.sampled_from([rawkit.IPv4(src="198.18.0.1", dst="198.18.0.2"), rawkit.IPv6(src="fd00:18::1")]),
    st.one_of(st.builds(rawkit.TCP, sport=st.integers(0, 65535), flags=st.sampled_from(["S", "PA", "F"]),
                        options=st.sampled_from([(), [("MSS", 1460)], [("NOP", None), ("WScale", 7)]])),
              st.builds(rawkit.UDP, dport=st.integers(0, 65535)),
              st.builds(rawkit.ICMP, type=st.sampled_from([0, 3, 8, 11])),
              st.builds(rawkit.ICMPv6, type=st.sampled_from([1, 2, 128, 129, 133, 134, 135, 136, 137]))),
    st.binary(max_size=64), st.integers(0, 20), st.integers(0, 120),
)


@settings(max_examples=400, deadline=None)
@given(frames, st.integers(0, 200), st.integers(0, 255))
def test_fast_path_matches_general_walk(frame: bytes, position: int, value: int) -> None:
    mutated = bytearray(frame)
    if position < len(mutated):
        mutated[position] = value
    for data in (frame, bytes(mutated)):
        assert _state(rawkit.decode(data)) == _state(_general(data))


def test_fast_path_is_taken_for_plain_tcp() -> None:
    frame = bytes(rawkit.Ether() / rawkit.IPv4() / rawkit.TCP() / b"x")
    pkt = rawkit.decode(frame)
    assert pkt.tcp is not None and type(pkt).__name__.startswith("_Fast")
    assert pkt.eth.type == 0x0800 and pkt.ip is pkt.ip4 and pkt.payload == b"x"

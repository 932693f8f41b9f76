"""rawkit.script.Peer against the Linux kernel in a namespace lab (IPv4 and IPv6), and its segment
descriptions and mismatch messages without a network.

The lab: namespace "peer" holds the veth the Peer sits on (the kernel there has no address on it);
namespace "target" holds the other end with 198.18.0.2 / fd00:18::2 and the kernel under test.
"""

from __future__ import annotations

import socket
import threading

import pytest

from rawkit.script.peer import ANY, Peer, PeerError, Segment, ack, data, fin, rst, syn, syn_ack
from rawkit.script.peer_segment import Relative, mismatches
from rawkit.wire import TCP, Ether, IPv4, decode
from tests.conftest import needs_root

ADDRESSES = {
    socket.AF_INET: ("198.18.0.1", "198.18.0.2", "198.18.0.2/24"),
    socket.AF_INET6: ("fd00:18::1", "fd00:18::2", "fd00:18::2/64"),
}
SERVER_PORT = 8000
CLOSED_PORT = 9


@pytest.fixture(params=[socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
def lab(request):
    from rawkit.link.netns import Lab

    family = request.param
    ours, theirs, theirs_prefixed = ADDRESSES[family]
    with Lab() as lab:
        peer_ns, target_ns = lab.namespace("peer"), lab.namespace("target")
        link = lab.link(peer_ns, target_ns)
        target_ns.add_address(link.b.device, theirs_prefixed)
        if family == socket.AF_INET6:
            target_ns.wait_ipv6_ready(link.b.device)
        server = target_ns.socket(family)
        server.bind((theirs, SERVER_PORT))
        server.listen(8)
        server.settimeout(5)

        def make_peer(**kwargs) -> Peer:
            kwargs.setdefault("target_port", SERVER_PORT)
            made = peer_ns.call(Peer, link.a.device, ours, theirs, **kwargs)
            peers.append(made)
            return made

        peers: list[Peer] = []
        try:
            yield make_peer, server, lambda: target_ns.socket(family)
        finally:
            for made in peers:
                made.close()
            server.close()



@needs_root
def test_handshake_with_a_listening_server(lab):
    make_peer, server, _client = lab
    peer = make_peer(isn=1000)
    peer.send(syn(mss=1460, wscale=7, sack_ok=True, ts=True))
    reply = peer.expect(syn_ack(seq=0, ack=1, mss=ANY, wscale=ANY, sack_ok=True, ts=(ANY, ANY)), within=1.0)
    assert reply.tcp.ack == 1001
    assert peer.target_isn == reply.tcp.seq
    assert peer.relative(reply).seq == 0
    peer.send(ack(ts=True))
    connection, address = server.accept()
    with connection:
        assert address[1] == peer.port
        assert address[0] == str(peer.ip)
    assert peer.snd_nxt == 1 and peer.rcv_nxt == 1


@needs_root
def test_data_is_acknowledged_and_answered(lab):
    make_peer, server, _client = lab
    peer = make_peer()
    peer.connect()
    connection, _ = server.accept()
    with connection:
        peer.send(data(b"hello"))
        peer.expect(ack(seq=1, ack=6), within=1.0)
        assert connection.recv(100) == b"hello"
        connection.sendall(b"world!")
        answer = peer.expect(data(b"world!", seq=1, ack=6), within=1.0)
        assert answer.payload == b"world!"
        assert peer.rcv_nxt == 7
        peer.send(ack())
        peer.expect_nothing(for_=0.3)


@needs_root
def test_out_of_order_data_is_acknowledged_with_a_sack_block(lab):
    make_peer, server, _client = lab
    peer = make_peer()
    reply = peer.connect(sack_ok=True, ts=True)
    assert reply.tcp.option("SAckOK") is not None
    connection, _ = server.accept()
    with connection:
        peer.send(data(100, seq=101, ts=True))               # bytes 1..100 are missing
        peer.expect(ack(seq=1, ack=1, sack=((101, 201),), ts=(ANY, ANY)), within=1.0)
        peer.send(data(100, seq=1, ts=True))                 # the hole is filled: everything is acked
        peer.expect(ack(ack=201, sack=False), within=1.0)
        assert connection.recv(300) == bytes(200)


@needs_root
def test_peer_as_server_learns_the_clients_port_and_isn(lab):
    make_peer, _server, make_client = lab
    peer = make_peer(target_port=None, port=9000, isn=77)
    client = make_client()
    client.settimeout(5)
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(error=client.connect_ex((str(peer.ip), 9000))))
    thread.start()
    first = peer.expect(syn(seq=0, mss=ANY), within=2.0)
    assert peer.target_port == first.tcp.sport and peer.target_isn == first.tcp.seq
    peer.send(syn_ack(mss=1400))                     # ack 1 filled in from the learned ISN
    peer.expect(ack(seq=1, ack=1), within=1.0)
    thread.join(5)
    assert outcome == {"error": 0}
    assert client.getpeername()[1] == 9000
    client.close()


@needs_root
def test_closed_port_answers_syn_with_rst(lab):
    make_peer, _server, _client = lab
    peer = make_peer(target_port=CLOSED_PORT, isn=5000)
    peer.send(syn(mss=1460))
    reset = peer.expect(rst(seq=0, ack=1, win=0), within=1.0)
    assert reset.tcp.ack == 5001
    peer.expect_nothing(for_=0.3)


@needs_root
def test_syn_ack_is_retransmitted_with_backoff_when_the_peer_stays_silent(lab):
    make_peer, _server, _client = lab
    peer = make_peer()
    peer.send(syn(mss=1460))
    first = peer.expect(syn_ack(seq=0, ack=1), within=1.0)
    # Linux: initial RTO 1 s for the SYN-ACK, doubled on each retry (1 s, then 2 s)
    second = peer.expect(syn_ack(seq=0, ack=1), after=0.8, within=1.5)
    third = peer.expect(syn_ack(seq=0, ack=1), after=1.7, within=2.6)
    assert 0.8 < (second.ts_ns - first.ts_ns) / 1e9 < 1.5
    assert 1.7 < (third.ts_ns - second.ts_ns) / 1e9 < 2.6


@needs_root
def test_fin_exchange_both_ways(lab):
    make_peer, server, _client = lab
    peer = make_peer()
    peer.connect()
    connection, _ = server.accept()
    with connection:
        peer.send(fin())
        peer.expect(ack(seq=1, ack=2), within=1.0)
        assert connection.recv(100) == b""      # end of stream reached the application
        connection.close()
        peer.expect(fin(seq=1, ack=2), within=1.0)
        peer.send(ack())
        peer.expect_nothing(for_=0.3)


@needs_root
def test_a_wrong_expectation_says_what_arrived(lab):
    make_peer, _server, _client = lab
    peer = make_peer()
    peer.send(syn(mss=1460, wscale=7))
    with pytest.raises(PeerError) as failure:
        peer.expect(syn_ack(ack=1, mss=536, wscale=False), within=1.0)
    message = str(failure.value)
    assert "expected S. length 0 ack 1 <mss 536,no wscale>" in message
    assert "mss: expected 536, got 14" in message      # 1460 (IPv4) or 1440 (IPv6)
    assert "wscale: expected no option, got wscale" in message
    assert "Flags [S.]" in message and "frames seen since the last step" in message


@needs_root
def test_silence_and_unexpected_segments_fail(lab):
    make_peer, _server, _client = lab
    peer = make_peer(target_port=CLOSED_PORT)
    with pytest.raises(PeerError, match="nothing matching arrived"):
        peer.expect(syn_ack(), within=0.2)
    peer.send(syn())
    with pytest.raises(PeerError, match=r"expected nothing for 1 s, got at .*Flags \[R\.\]"):
        peer.expect_nothing(for_=1.0)


@needs_root
def test_peer_against_rawkit_own_stack():
    """Any host of a lab: here rawkit's userspace Stack is the target, listening on port 8000."""
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    with Lab() as lab:
        peer_ns, target_ns = lab.namespace("peer"), lab.namespace("target")
        link = lab.link(peer_ns, target_ns)
        stack = target_ns.call(Stack, link.b.device, "198.18.0.2/24")
        peer = peer_ns.call(Peer, link.a.device, "198.18.0.1", "198.18.0.2", target_port=SERVER_PORT)
        try:
            listener = stack.socket()
            listener.bind(("198.18.0.2", SERVER_PORT))
            listener.listen()
            peer.connect(mss=1460, wscale=7, sack_ok=True, ts=True)
            listener.settimeout(5)
            connection, address = listener.accept()
            assert address == (str(peer.ip), peer.port)
            peer.send(data(b"ping", ts=True))
            connection.settimeout(5)
            assert connection.recv(10) == b"ping"
            connection.sendall(b"pong")
            peer.expect(data(b"pong", seq=1, ack=5, ts=(ANY, ANY)), within=1.0, strict=False)
            connection.close()
            peer.expect(fin(seq=5, ack=5), within=1.0, strict=False)
        finally:
            peer.close()
            stack.close()


# ---------------------------------------------------------------- without a network

def _segment(flags: str = "SA", seq: int = 7000, ack_number: int = 1001, options=(), payload=b"") -> object:
    frame = bytes(Ether(dst="02:00:00:00:00:01", src="02:00:00:00:00:02")
                  / IPv4(src="198.18.0.2", dst="198.18.0.1")
                  / TCP(sport=8000, dport=40000, seq=seq, ack=ack_number, flags=flags, window=1000,
                        options=list(options)) / payload)
    return decode(frame)


def test_relative_numbers_and_description():
    pkt = _segment(options=[("MSS", 1460), ("NOP", None), ("NOP", None), ("SAck", ((1101, 1201),))])
    relative = Relative.of(pkt, sender_isn=7000, receiver_isn=1000)
    assert (relative.seq, relative.ack, relative.sack) == (0, 1, ((101, 201),))
    assert relative.describe(pkt) == "S. 0:0(0) ack 1 win 1000 <mss 1460,nop,nop,sack 101:201>"
    assert syn_ack(seq=0, ack=1, mss=1460, ts=False).describe() == "S. 0:0(0) ack 1 <mss 1460,no TS>"
    assert data(5, seq=1).describe() == "P. 1:6(5)"


@pytest.mark.parametrize(("expected", "problem"), [
    (syn_ack(seq=0, ack=1, mss=1460), None),
    (Segment("S.", options=(("MSS", 1460),)), None),
    (ack(), "flags: expected ., got S."),
    (syn_ack(seq=1), "seq: expected 1, got 0 (absolute 7000)"),
    (syn_ack(ack=2), "ack: expected 2, got 1 (absolute 1001)"),
    (syn_ack(win=29200), "win: expected 29200, got 1000"),
    (syn_ack(mss=536), "mss: expected 536, got 1460"),
    (syn_ack(sack_ok=True), "sackOK: expected the option, it is missing"),
    (syn_ack(mss=False), "mss: expected no option, got mss 1460"),
    (syn_ack(payload=3), "payload length: expected 3, got 0"),
    (Segment("S.", options=()), "options: expected <>, got <mss 1460>"),
])
def test_mismatch_lines(expected, problem):
    pkt = _segment(options=[("MSS", 1460)])
    found = mismatches(expected, pkt, Relative.of(pkt, 7000, 1000))
    assert found == ([] if problem is None else [problem])


def test_timestamp_and_payload_checks():
    pkt = _segment(flags="PA", options=[("NOP", None), ("NOP", None), ("Timestamp", (5, 9))], payload=b"abc")
    relative = Relative.of(pkt, 7000, 1000)
    assert mismatches(data(b"abc", ts=(ANY, 9)), pkt, relative) == []
    assert mismatches(data(b"abd", ts=(5, 8)), pkt, relative) == [
        "payload: expected b'abd', got b'abc'", "TS ecr: expected 8, got 9"]
    assert mismatches(data(ANY), pkt, relative) == []


def test_bad_flags_fail_where_the_segment_is_written():
    with pytest.raises(ValueError, match="bad TCP flags"):
        Segment("SX")

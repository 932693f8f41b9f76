"""Opening connections: three-way handshake in both roles, simultaneous open, option negotiation,
backlog limits, connect timeout, resets to closed ports."""

from __future__ import annotations

import pytest

from rawkit.tcp import Closed, Connected, Connection, Listener, Reset, Segment, Settings, State, TimedOut
from rawkit.tcp import seq as seqmath
from rawkit.tcp.connection import window_scale_for
from rawkit.tcp.segment import ACK, RST, SYN
from rawkit.tcp.testing import CLIENT, SERVER, Pair


def flags_of(channel) -> list[str]:
    return [segment.flagstr for _, segment in channel.sent]


def test_three_way_handshake_segments_and_states():
    pair = Pair()
    pair.handshake()
    syn, = [s for _, s in pair.to_server.sent if s.syn]
    synack, = [s for _, s in pair.to_client.sent if s.syn]
    assert syn.flags == SYN and syn.seq == pair.c.iss and syn.ack == 0
    assert synack.flags == SYN | ACK and synack.seq == pair.s.iss and synack.ack == seqmath.add(syn.seq, 1)
    final = pair.to_server.sent[1][1]
    assert final.flags == ACK and final.seq == seqmath.add(syn.seq, 1)
    assert final.ack == seqmath.add(synack.seq, 1)
    assert (syn.mss, syn.sack_permitted, syn.wscale) == (1460, True, window_scale_for(131072))
    assert synack.mss == 1460 and synack.sack_permitted and synack.timestamp[1] == syn.timestamp[0]
    assert pair.c.state is State.ESTABLISHED and pair.s.state is State.ESTABLISHED
    assert Connected() in pair.client.events and Connected() in pair.server.events
    assert pair.listener.accept() is pair.s and pair.listener.accept() is None
    # both sides agree on what was negotiated
    for connection in (pair.c, pair.s):
        assert connection.sack_ok and connection.ts_ok
        assert connection.send_mss == 1460 - 12
        assert connection.snd_wscale == connection.rcv_wscale == window_scale_for(131072) == 2


def test_options_off_negotiate_nothing_and_default_mss():
    plain = Settings(sack=False, timestamps=False, window_scaling=False)
    pair = Pair(client_settings=plain)
    pair.handshake()
    syn = pair.to_server.sent[0][1]
    assert syn.wscale is None and syn.timestamp is None and not syn.sack_permitted
    synack = pair.to_client.sent[0][1]
    assert synack.wscale is None and synack.timestamp is None and not synack.sack_permitted
    assert not pair.s.sack_ok and not pair.s.ts_ok and pair.s.snd_wscale == pair.s.rcv_wscale == 0
    assert pair.s.send_mss == 1460


def test_peer_without_mss_option_gets_536():
    listener = Listener(80)
    syn = Segment(1234, 80, 5000, 0, SYN, 65535)
    connection = listener.receive(syn, 0.0, ("10.0.0.2", 80), ("10.0.0.1", 1234)).connection
    assert connection is not None and connection.send_mss == 536
    synack, = connection.poll(0.0)
    assert synack.flags == SYN | ACK and synack.ack == 5001 and synack.wscale is None


def test_simultaneous_open():
    a = Connection(CLIENT, SERVER, secret=b"a")
    b = Connection(SERVER, CLIENT, secret=b"b")
    a.connect(0.0)
    b.connect(0.0)
    syn_a, = a.poll(0.0)
    syn_b, = b.poll(0.0)
    assert a.receive(syn_b, 0.01) == [] and b.receive(syn_a, 0.01) == []
    assert a.state is State.SYN_RECEIVED and b.state is State.SYN_RECEIVED
    synack_a, = a.poll(0.01)
    synack_b, = b.poll(0.01)
    assert synack_a.flags == SYN | ACK and synack_a.seq == a.iss and synack_a.ack == seqmath.add(b.iss, 1)
    assert a.receive(synack_b, 0.02) == [Connected()]
    assert b.receive(synack_a, 0.02) == [Connected()]
    assert a.state is State.ESTABLISHED and b.state is State.ESTABLISHED
    # data flows afterwards
    a.send(b"hello", 0.02)
    for segment in a.poll(0.02):
        b.receive(segment, 0.03)
    assert b.read() == b"hello"


def test_retransmitted_syn_gets_synack_again():
    listener = Listener(80)
    syn = Segment(1234, 80, 77, 0, SYN, 65535, mss=1460)
    connection = listener.receive(syn, 0.0, ("10.0.0.2", 80), ("10.0.0.1", 1234)).connection
    first, = connection.poll(0.0)
    connection.receive(syn, 0.5)
    second, = connection.poll(0.5)
    assert second.flags == SYN | ACK and second.seq == first.seq and second.ack == 78


def test_synack_retries_then_handshake_timeout():
    listener = Listener(80)
    syn = Segment(1234, 80, 77, 0, SYN, 65535, mss=1460)
    connection = listener.receive(syn, 0.0, ("10.0.0.2", 80), ("10.0.0.1", 1234)).connection
    sent, events, now = [], [], 0.0
    while connection.state is not State.CLOSED:
        sent += [now for segment in connection.poll(now) if segment.flags == SYN | ACK]
        events += connection.events()
        now = connection.next_deadline() or now
    events += connection.events()
    assert sent == [0, 1, 3, 7, 15, 31] and now == 63
    assert events == [TimedOut("handshake"), Closed()]
    assert listener.accept() is None


def test_connect_timeout_follows_linux_backoff():
    pair = Pair()
    pair.to_server.rule = lambda segment: None          # the network eats everything
    start = pair.now
    pair.connect()
    pair.run(until=lambda: pair.c.state is State.CLOSED, limit=500)
    syn_times = [round(t - start, 6) for t, s in pair.to_server.sent if s.syn]
    assert syn_times == [0, 1, 2, 3, 4, 5, 7]         # as measured on Linux 6.18 (tcp_syn_linear_timeouts 4)
    assert round(pair.now - start, 6) == 11
    assert TimedOut("connect") in pair.client.events and pair.client.events[-1] == Closed()


def test_connect_timeout_configurable():
    pair = Pair(client_settings=Settings(syn_retries=2, initial_rto=0.5, syn_linear_timeouts=0))   # RFC 6298
    pair.to_server.rule = lambda segment: None
    start = pair.now
    pair.connect()
    pair.run(until=lambda: pair.c.state is State.CLOSED, limit=500)
    assert [round(t - start, 6) for t, s in pair.to_server.sent] == [0, 0.5, 1.5]
    assert round(pair.now - start, 6) == 3.5


def test_lost_syn_then_rto_of_three_seconds():
    lost = iter([True])
    pair = Pair(client_settings=Settings(timestamps=False))
    pair.to_server.rule = lambda segment: None if segment.syn and next(lost, False) else 0.0
    start = pair.now
    pair.handshake()
    assert pair.c.state is State.ESTABLISHED and round(pair.now - start, 6) == 1
    # Karn: the retransmitted SYN gives no sample, so RFC 6298 5.7 sets the RTO to 3 s
    assert pair.c.rtt.srtt is None and pair.c.rtt.rto == 3.0


def test_connect_to_closed_port_is_refused():
    client = Connection(CLIENT, SERVER)
    client.connect(0.0)
    syn, = client.poll(0.0)
    closed = Connection(SERVER, CLIENT)               # a CLOSED connection answers like a closed port
    closed.receive(syn, 0.0)
    rst, = closed.poll(0.0)
    assert rst.flags == RST | ACK and rst.seq == 0 and rst.ack == seqmath.add(syn.seq, 1)
    assert client.receive(rst, 0.01) == [Reset(refused=True), Closed()]
    assert client.state is State.CLOSED


def test_syn_sent_ignores_rst_with_bad_ack_and_resets_bad_ack():
    client = Connection(CLIENT, SERVER)
    client.connect(0.0)
    syn, = client.poll(0.0)
    assert client.receive(Segment(SERVER[1], CLIENT[1], 0, seqmath.add(syn.seq, 5), RST | ACK), 0.1) == []
    assert client.state is State.SYN_SENT
    client.receive(Segment(SERVER[1], CLIENT[1], 9, seqmath.add(syn.seq, 5), ACK), 0.1)
    rst, = client.poll(0.1)
    assert rst.flags == RST and rst.seq == seqmath.add(syn.seq, 5)
    assert client.state is State.SYN_SENT


def test_syn_received_answers_bad_ack_with_rst():
    listener = Listener(80)
    connection = listener.receive(Segment(1234, 80, 77, 0, SYN, 65535), 0.0,
                                  ("10.0.0.2", 80), ("10.0.0.1", 1234)).connection
    connection.poll(0.0)
    connection.receive(Segment(1234, 80, 78, 12345, ACK, 65535), 0.1)
    rst, = connection.poll(0.1)
    assert rst.flags == RST and rst.seq == 12345 and connection.state is State.SYN_RECEIVED


def test_listener_answers_stray_ack_with_rst_and_ignores_rst():
    listener = Listener(80)
    result = listener.receive(Segment(1234, 80, 5, 999, ACK, 100), 0.0, ("a", 80), ("b", 1234))
    assert result.connection is None and [(r.flags, r.seq) for r in result.replies] == [(RST, 999)]
    assert listener.receive(Segment(1234, 80, 5, 999, RST, 100), 0.0, ("a", 80), ("b", 1234)).replies == []


def test_syn_to_full_backlog_is_dropped_then_retried():
    listener = Listener(80, backlog=1)
    endpoints = []
    established = []
    for port in (1001, 1002):
        client = Connection(("10.0.0.1", port), ("10.0.0.2", 80))
        client.connect(0.0)
        syn, = client.poll(0.0)
        result = listener.receive(syn, 0.0, ("10.0.0.2", 80), ("10.0.0.1", port))
        endpoints.append((client, result.connection))
    first_client, first_server = endpoints[0]
    assert endpoints[1][1] is not None                # half-open: room in the SYN queue
    for client, server in endpoints:
        synack, = server.poll(0.0)
        client.receive(synack, 0.01)
        for segment in client.poll(0.01):
            server.receive(segment, 0.02)
        established.append(server.state)
    assert established == [State.ESTABLISHED, State.ESTABLISHED]
    # the accept queue now holds 2 > backlog: a third SYN is dropped silently
    third = Connection(("10.0.0.1", 1003), ("10.0.0.2", 80))
    third.connect(0.0)
    syn, = third.poll(0.0)
    result = listener.receive(syn, 0.1, ("10.0.0.2", 80), ("10.0.0.1", 1003))
    assert result.connection is None and result.replies == [] and listener.dropped_syns == 1
    assert listener.accept() is first_server
    assert listener.accept() is endpoints[1][1]
    # after accept() made room, the retransmitted SYN gets through
    retry_at = third.next_deadline()
    retry, = third.poll(retry_at)
    assert retry.syn and listener.receive(retry, retry_at, ("10.0.0.2", 80), ("10.0.0.1", 1003)).connection


def test_listener_close_aborts_pending():
    pair = Pair()
    pair.handshake()
    aborted = pair.listener.close(pair.now)
    assert aborted == [pair.s] and pair.s.state is State.CLOSED
    rst, = pair.s.poll(pair.now)
    assert rst.rst


def test_user_calls_in_wrong_state_raise_local_protocol_error():
    from rawkit.tcp import LocalProtocolError
    connection = Connection(CLIENT, SERVER)
    with pytest.raises(LocalProtocolError, match="send in state CLOSED"):
        connection.send(b"x", 0.0)
    connection.connect(0.0)
    with pytest.raises(LocalProtocolError, match="connect in state SYN-SENT"):
        connection.connect(0.0)
    connection.shutdown_write(0.0)                    # close before the handshake: just gone
    assert connection.state is State.CLOSED
    with pytest.raises(LocalProtocolError, match="shutdown write in state CLOSED"):
        connection.shutdown_write(0.0)

"""Closing: half-close both ways, simultaneous close, TIME_WAIT, RST in every state, linger 0,
keepalive, FIN_WAIT_2 timeout of an orphaned connection."""

from __future__ import annotations

import pytest

from rawkit.tcp import Closed, PeerClosed, Reset, Segment, Settings, State, TimedOut
from rawkit.tcp import seq as seqmath
from rawkit.tcp.segment import ACK, RST
from rawkit.tcp.testing import Pair

BLOCK = staticmethod(lambda segment: None)


def established(delay: float = 0.01, **kwargs) -> Pair:
    pair = Pair(delay=delay, **kwargs)
    pair.handshake()
    return pair


def test_client_half_close_server_keeps_sending():
    pair = established()
    pair.c.shutdown_write(pair.now)
    pair.run(until=lambda: pair.s.state is State.CLOSE_WAIT and pair.c.state is State.FIN_WAIT_2)
    assert PeerClosed() in pair.server.events and pair.s.eof
    pair.server.outbox += b"still talking"
    pair.run(until=lambda: len(pair.client.inbox) == 13)
    assert bytes(pair.client.inbox) == b"still talking" and pair.c.state is State.FIN_WAIT_2
    pair.s.shutdown_write(pair.now)
    pair.run(until=lambda: pair.c.state is State.TIME_WAIT and pair.s.state is State.CLOSED)
    assert pair.server.events[-1] == Closed() and pair.c.eof


def test_server_half_close_client_keeps_sending():
    pair = established()
    pair.s.shutdown_write(pair.now)
    pair.run(until=lambda: pair.c.state is State.CLOSE_WAIT)
    pair.client.outbox += b"upload after EOF"
    pair.run(until=lambda: len(pair.server.inbox) == 16)
    assert pair.s.state is State.FIN_WAIT_2
    pair.c.shutdown_write(pair.now)
    pair.run(until=lambda: pair.s.state is State.TIME_WAIT and pair.c.state is State.CLOSED)


def test_send_after_shutdown_is_a_local_protocol_error():
    from rawkit.tcp import LocalProtocolError
    pair = established()
    pair.c.shutdown_write(pair.now)
    with pytest.raises(LocalProtocolError, match="FIN-WAIT-1"):
        pair.c.send(b"x", pair.now)


def test_simultaneous_close_goes_through_closing():
    pair = established(delay=0.05)
    pair.c.shutdown_write(pair.now)
    pair.s.shutdown_write(pair.now)
    pair.exchange()
    assert pair.c.state is State.FIN_WAIT_1 and pair.s.state is State.FIN_WAIT_1
    seen = set()
    pair.run(until=lambda: seen.update({pair.c.state, pair.s.state}) or
             (pair.c.state is State.TIME_WAIT and pair.s.state is State.TIME_WAIT))
    assert State.CLOSING in seen
    fins = [s for _, s in pair.to_server.sent + pair.to_client.sent if s.fin]
    assert len(fins) == 2


def test_time_wait_lasts_its_configured_length_and_reacks_a_resent_fin():
    pair = established(client_settings=Settings(time_wait=2.0))
    pair.c.shutdown_write(pair.now)
    pair.run(until=lambda: pair.s.state is State.CLOSE_WAIT)
    pair.s.shutdown_write(pair.now)
    pair.run(until=lambda: pair.c.state is State.TIME_WAIT)
    entered = pair.now
    server_fin = next(s for _, s in pair.to_client.sent if s.fin)
    pair.run(duration=1.0)
    events = pair.c.receive(server_fin, pair.now)           # the peer resends its FIN
    reack, = pair.c.poll(pair.now)
    assert events == [] and reack.flags == ACK and reack.ack == seqmath.add(server_fin.seq, 1)
    pair.run(until=lambda: pair.c.state is State.CLOSED)
    assert round(pair.now - entered, 6) == 3.0 and pair.client.events[-1] == Closed()


def test_default_time_wait_is_sixty_seconds():
    pair = established()
    pair.c.shutdown_write(pair.now)
    pair.s.shutdown_write(pair.now)
    pair.run(until=lambda: pair.c.state is State.TIME_WAIT)
    entered = pair.now
    pair.run(until=lambda: pair.c.state is State.CLOSED)
    assert 59.9 < pair.now - entered <= 60.0


def test_lost_fin_is_retransmitted_from_last_ack():
    pair = established()
    pair.c.shutdown_write(pair.now)
    pair.run(until=lambda: pair.s.state is State.CLOSE_WAIT)
    lost = iter([True])
    pair.to_client.rule = lambda s: None if s.fin and next(lost, False) else 0.0
    pair.s.shutdown_write(pair.now)
    pair.run(until=lambda: pair.s.state is State.CLOSED, limit=10)
    fins = [t for t, s in pair.to_client.sent if s.fin]
    assert len(fins) == 2 and round(fins[1] - fins[0], 6) == pair.s.rtt.rto


# ---------------------------------------------------------------- RST in every state
def reach(state: State) -> tuple[Pair, object]:
    """A pair with one of its connections in `state`; returns (pair, that connection)."""
    pair = Pair(delay=0.01)
    if state is State.SYN_SENT:
        pair.to_server.rule = BLOCK
        pair.connect()
        pair.exchange()
        return pair, pair.c
    if state is State.SYN_RECEIVED:
        pair.to_client.rule = BLOCK
        pair.connect()
        pair.run(duration=0.05)
        return pair, pair.s
    pair.handshake()
    if state is State.ESTABLISHED:
        return pair, pair.c
    if state is State.FIN_WAIT_1:
        pair.to_server.rule = BLOCK
        pair.c.shutdown_write(pair.now)
        pair.exchange()
        return pair, pair.c
    if state in (State.FIN_WAIT_2, State.CLOSE_WAIT):
        pair.c.shutdown_write(pair.now)
        pair.run(until=lambda: pair.c.state is State.FIN_WAIT_2)
        return pair, (pair.c if state is State.FIN_WAIT_2 else pair.s)
    if state is State.CLOSING:
        pair.to_server.rule = BLOCK
        pair.c.shutdown_write(pair.now)
        pair.s.shutdown_write(pair.now)
        pair.run(until=lambda: pair.c.state is State.CLOSING, limit=0.05)
        return pair, pair.c
    if state is State.LAST_ACK:
        pair.c.shutdown_write(pair.now)
        pair.run(until=lambda: pair.s.state is State.CLOSE_WAIT)
        pair.to_client.rule = BLOCK
        pair.s.shutdown_write(pair.now)
        pair.exchange()
        return pair, pair.s
    if state is State.TIME_WAIT:
        pair.c.shutdown_write(pair.now)
        pair.s.shutdown_write(pair.now)
        pair.run(until=lambda: pair.c.state is State.TIME_WAIT)
        return pair, pair.c
    raise AssertionError(state)


RESET_EVENTS = {
    State.SYN_SENT: [Reset(refused=True), Closed()],
    State.SYN_RECEIVED: [Reset(refused=False), Closed()],   # passive open: back to the listener
    State.ESTABLISHED: [Reset(), Closed()],
    State.FIN_WAIT_1: [Reset(), Closed()],
    State.FIN_WAIT_2: [Reset(), Closed()],
    State.CLOSE_WAIT: [Reset(), Closed()],
    State.CLOSING: [Closed()],
    State.LAST_ACK: [Closed()],
    State.TIME_WAIT: [Closed()],
}


@pytest.mark.parametrize("state", list(RESET_EVENTS), ids=lambda s: s.value)
def test_rst_in_each_state(state):
    pair, connection = reach(state)
    assert connection.state is state
    if state is State.SYN_SENT:
        rst = Segment(connection.remote[1], connection.local[1], 0, connection.snd_nxt, RST | ACK)
    else:
        rst = Segment(connection.remote[1], connection.local[1], connection.rcv_nxt, 0, RST)
    out_of_window = Segment(rst.sport, rst.dport, seqmath.add(connection.rcv_nxt, 1 << 20), 0, RST)
    if state is not State.SYN_SENT:
        assert connection.receive(out_of_window, pair.now) == [] and connection.state is state
    assert connection.receive(rst, pair.now) == RESET_EVENTS[state]
    assert connection.state is State.CLOSED and connection.next_deadline() is None
    assert [s for s in connection.poll(pair.now) if s.rst] == []     # never answer a RST


def test_abort_sends_rst_and_peer_sees_reset():
    pair = established()
    pair.c.abort(pair.now)
    assert pair.c.state is State.CLOSED
    pair.run(until=lambda: pair.s.state is State.CLOSED)
    rst = pair.to_server.sent[-1][1]
    assert rst.flags == RST | ACK and rst.seq == pair.c.snd_max
    assert pair.server.events[-2:] == [Reset(), Closed()]


def test_linger_zero_close_is_an_abort():
    pair = established(client_settings=Settings(linger=0))
    pair.client.outbox += b"unsent data is discarded"
    pair.c.close(pair.now)
    pair.run(until=lambda: pair.s.state is State.CLOSED)
    assert [s.flagstr for _, s in pair.to_server.sent][-1] == "R."
    assert pair.server.events[-2:] == [Reset(), Closed()] and not pair.server.inbox


def test_close_with_unread_data_sends_rst_like_linux():
    pair = established()
    pair.client.auto_read = False
    pair.server.outbox += b"never read"
    pair.run(until=lambda: pair.c.readable == 10)
    pair.c.close(pair.now)
    pair.run(until=lambda: pair.s.state is State.CLOSED)
    assert pair.to_server.sent[-1][1].rst and Reset() in pair.server.events


def test_data_arriving_after_close_is_answered_with_rst():
    pair = established()
    pair.c.close(pair.now)
    pair.run(until=lambda: pair.c.state is State.FIN_WAIT_2)
    pair.server.outbox += b"too late"
    pair.run(until=lambda: pair.s.state is State.CLOSED)
    assert pair.c.state is State.CLOSED and Reset() in pair.server.events


def test_orphaned_fin_wait_2_times_out():
    pair = established(client_settings=Settings(fin_wait2_timeout=5.0))
    pair.c.close(pair.now)
    pair.run(until=lambda: pair.c.state is State.FIN_WAIT_2)
    entered = pair.now
    pair.run(until=lambda: pair.c.state is State.CLOSED)
    assert round(pair.now - entered, 6) == 5.0
    # a mere half-close (shutdown_write) has no such limit
    pair = established()
    pair.c.shutdown_write(pair.now)
    pair.run(duration=600)
    assert pair.c.state is State.FIN_WAIT_2


# ---------------------------------------------------------------- keepalive
KEEPALIVE = Settings(keepalive=True, keepalive_idle=10.0, keepalive_interval=2.0, keepalive_count=3)


def keepalive_probes(pair: Pair) -> list[float]:
    """Probe send times, relative to the last thing the client heard before them (the SYN-ACK)."""
    heard = pair.to_client.sent[0][0] + pair.to_client.delay
    return [round(t - heard, 3) for t, s in pair.to_server.sent
            if not s.payload and not s.syn and not s.rst and s.seq == seqmath.add(pair.c.snd_una, -1)]


def test_keepalive_probes_are_answered_and_keep_the_connection():
    pair = established(client_settings=KEEPALIVE.copy())
    pair.run(duration=25)
    # answered after one RTT (20 ms): the idle period starts again from the answer
    assert keepalive_probes(pair)[:2] == [10.0, 20.02]
    assert pair.c.state is State.ESTABLISHED


def test_keepalive_times_out_after_count_probes():
    pair = established(client_settings=KEEPALIVE.copy())
    pair.to_client.rule = BLOCK
    pair.run(until=lambda: pair.c.state is State.CLOSED, limit=60)
    assert keepalive_probes(pair) == [10.0, 12.0, 14.0]
    assert round(pair.now - pair.to_client.sent[0][0] - pair.to_client.delay, 3) == 16.0
    assert pair.client.events[-2:] == [TimedOut("keepalive"), Closed()]
    assert pair.to_server.sent[-1][1].rst


def test_keepalive_off_by_default():
    pair = established()
    pair.run(duration=8000)
    assert keepalive_probes(pair) == [] and len(pair.to_server.sent) == 2


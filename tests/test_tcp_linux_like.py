"""Engine behaviours chosen to match Linux where the RFCs leave room (sans-IO)."""

from __future__ import annotations

from rawkit.tcp.congestion import Congestion

MSS = 1000


def test_slow_start_grows_by_every_acked_byte_as_linux():
    """Linux's tcp_slow_start adds all newly acked segments (no RFC 3465 per-ACK limit): one ACK
    for a full initial window of 10 doubles it."""
    control = Congestion(MSS, 10, "reno")
    control.on_new_ack(ack=10 * MSS, acked=10 * MSS, flight_after=0)
    assert control.cwnd == 20 * MSS


def test_slow_start_stops_at_ssthresh():
    control = Congestion(MSS, 10, "reno")
    control.ssthresh = 14 * MSS
    control.on_new_ack(ack=10 * MSS, acked=10 * MSS, flight_after=0)
    assert control.cwnd == 14 * MSS

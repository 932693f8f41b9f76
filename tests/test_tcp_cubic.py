"""CUBIC (RFC 9438) as the default controller, Reno selectable: the window curve against the RFC's
equations, the Reno-friendly region, fast convergence, the loss reduction inside a connection, and
TCP_CONGESTION on rawkit sockets behaving as on a kernel socket."""

from __future__ import annotations

import errno
import socket

import pytest

from rawkit.tcp import Settings
from rawkit.tcp.congestion import Congestion
from rawkit.tcp.cubic import ALPHA, BETA, C, cubic_window
from rawkit.tcp.testing import Pair, drop_nth
from tests.conftest import needs_root
from tests.test_stack_lab import lab  # noqa: F401 - the fixture

MSS = 1000


def after_loss(window_segments: int, now: float = 0.0) -> Congestion:
    """A CUBIC window of `window_segments` that just went through one loss and its recovery."""
    congestion = Congestion(MSS, 10, "cubic")
    congestion.cwnd = window_segments * MSS
    assert congestion.enter_recovery(0, 1_000_000, congestion.cwnd, now)
    congestion.on_new_ack(1_000_000, MSS, congestion.ssthresh, now)   # recovery over: avoidance
    return congestion


def ack_clock(congestion: Congestion, start: float, end: float, rtt: float) -> list[tuple[float, float]]:
    """One ACK of one MSS per cwnd/RTT of time from `start` to `end`; (time, cwnd in segments) after each."""
    now, samples = start, []
    while now < end:
        congestion.on_new_ack(0, MSS, congestion.cwnd, now, rtt)
        samples.append((now, congestion.cwnd / MSS))
        now += rtt / (congestion.cwnd / MSS)
    return samples


def test_loss_reduces_by_beta_and_sets_w_max_and_k():
    congestion = after_loss(100)
    assert congestion.ssthresh == int(100 * MSS * BETA) == congestion.cwnd
    cubic = congestion.controller
    assert cubic.w_max == 100
    congestion.on_new_ack(0, MSS, congestion.cwnd, 0.0, 0.1)              # opens the epoch
    assert cubic.k == pytest.approx(((100 - 70) / C) ** (1 / 3))          # RFC 9438 eq. 2: 4.217 s


def test_window_follows_the_cubic_curve():
    rtt = 0.1
    congestion = after_loss(100)
    samples = ack_clock(congestion, 0.0, 10.0, rtt)
    k = ((100 - 70) / C) ** (1 / 3)
    checked, estimate, previous = 0, 70.0, 70.0
    for now, window in samples:
        estimate += (ALPHA if estimate < 100 else 1.0) / previous     # the Reno estimate, one MSS per ACK
        previous = window
        if now < 0.5:
            continue
        # each ACK moves cwnd (target - cwnd)/cwnd towards W_cubic(t + RTT): cwnd trails the curve by
        # at most about one RTT; where Reno's estimate is ahead, cwnd is that estimate
        low = max(cubic_window(now - rtt, k, 100), estimate) - 1
        high = max(cubic_window(now + rtt, k, 100), estimate) + 1
        assert low <= window <= high, now
        checked += 1
    assert checked > 500
    plateau = [window for now, window in samples if abs(now - k) < 0.3]
    assert all(99 <= window <= 101 for window in plateau)               # flat around W_max
    final_time, final_window = samples[-1]
    assert final_window == pytest.approx(cubic_window(final_time, k, 100), abs=3)   # convex: probing on,
    assert final_window > estimate + 20                                             # well past Reno


def test_reno_friendly_region_on_a_short_path():
    """With a 1 ms RTT the cubic curve (a function of time) grows slower than Reno's per-RTT
    increase would; the window follows W_est = cwnd_epoch + alpha * acked / cwnd (RFC 9438 4.3)."""
    congestion = after_loss(20)
    samples = ack_clock(congestion, 0.0, 0.2, 0.001)
    estimate, epoch = 14.0, 14.0
    for _ in samples:
        estimate += (ALPHA if estimate < 20 else 1.0) * 1 / epoch
        epoch = estimate
    final_time, final_window = samples[-1]
    k = ((20 - 14) / C) ** (1 / 3)
    assert final_window > cubic_window(final_time, k, 20) + 3           # Reno's estimate is ahead
    assert final_window == pytest.approx(estimate, abs=1)


def test_fast_convergence_releases_bandwidth():
    congestion = after_loss(100)
    congestion.cwnd = 80 * MSS                                            # lost again below W_max
    congestion.recover = None
    assert congestion.enter_recovery(0, 1, congestion.cwnd, 1.0)
    assert congestion.controller.w_max == pytest.approx(80 * (1 + BETA) / 2)
    assert congestion.ssthresh == int(80 * MSS * BETA)


def test_reno_halves_and_grows_one_segment_per_window():
    congestion = Congestion(MSS, 10, "reno")
    congestion.cwnd = 100 * MSS
    assert congestion.enter_recovery(0, 1_000_000, 100 * MSS, 0.0)
    congestion.on_new_ack(1_000_000, MSS, 50 * MSS, 0.0)
    assert congestion.cwnd == 50 * MSS
    for _ in range(50):
        congestion.on_new_ack(0, MSS, 0, 0.0)
    assert congestion.cwnd == pytest.approx(51 * MSS, abs=MSS // 10)   # 1 MSS per window, rounded down


@pytest.mark.parametrize("name,factor", [("cubic", BETA), ("reno", 0.5)])
def test_connection_uses_the_configured_controller(name, factor):
    pair = Pair(client_settings=Settings(nodelay=True, congestion_control=name), delay=0.05)
    pair.handshake()
    mss = pair.c.send_mss
    assert pair.c.congestion.controller.name == name
    pair.to_server.rule = drop_nth(2)
    pair.client.outbox += bytes(8 * mss)
    pair.run(until=lambda: pair.c.congestion.in_recovery, limit=5)
    if name == "cubic":                         # cwnd at the loss: 10 initial + 2 from the first
        assert pair.c.congestion.controller.w_max == 12     # (delayed) ACK, slow start as Linux's
    basis = 12 * mss if name == "cubic" else 6 * mss                      # cubic: cwnd; reno: flight size
    assert pair.c.congestion.ssthresh == int(basis * factor)
    assert pair.run(until=lambda: len(pair.server.inbox) == 8 * mss, limit=5)


def test_settings_reject_unknown_controller():
    with pytest.raises(ValueError, match="congestion_control"):
        Settings(congestion_control="vegas")
    assert Settings().congestion_control == "cubic"


@needs_root
def test_tcp_congestion_socket_option_like_the_kernel(lab):  # noqa: F811
    _lab, _ours, _peer, stack = lab
    kernel = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with kernel, stack.socket() as ours:
        assert ours.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16) == b"cubic".ljust(16, b"\0")
        for sock in (kernel, ours):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"reno")
        for buflen in (16, 4):
            assert ours.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, buflen) == \
                kernel.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, buflen)
        for sock in (kernel, ours):
            with pytest.raises(OSError) as raised:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"no-such-cc")
            assert raised.value.errno == errno.ENOENT
        assert ours.settings.congestion_control == "reno"

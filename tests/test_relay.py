"""The impairment relay: its scheduling decisions sans-IO (explicit times, seeded), and one lab run
that measures the configured loss and duplication on kernel UDP traffic through it."""

from __future__ import annotations

import socket
import time

import pytest

from rawkit.link.impairment import Impairment, Scheduler
from rawkit.link.relay import is_address_resolution
from tests.conftest import needs_root

SO_RCVBUFFORCE = 33
FRAME = bytes(14) + bytes(range(100))


def drain(scheduler: Scheduler, until: float, step: float = 0.0005) -> list[tuple[float, int, bytes]]:
    """Every (time, direction, frame) released up to `until`, stepping the clock in small increments."""
    out = []
    now = 0.0
    while now <= until:
        out += [(now, direction, frame) for direction, frame in scheduler.due(now)]
        now += step
    return out


def test_no_impairment_is_a_fifo_delay_line():
    scheduler = Scheduler(Impairment(delay=0.010))
    for index in range(5):
        scheduler.offer(0, bytes([index]), index * 0.001)
    assert scheduler.next_deadline() == pytest.approx(0.010)
    assert scheduler.due(0.0099) == []
    assert scheduler.due(0.0125) == [(0, b"\x00"), (0, b"\x01"), (0, b"\x02")]
    assert scheduler.due(1.0) == [(0, b"\x03"), (0, b"\x04")]
    assert scheduler.next_deadline() is None
    assert scheduler.counters[0].forwarded == 5 and scheduler.counters[1].received == 0


def test_loss_rate_follows_the_setting_and_the_seed_repeats_it():
    def lost_indices(seed: int) -> list[int]:
        scheduler = Scheduler(Impairment(loss=0.05, seed=seed))
        for index in range(20000):
            scheduler.offer(index % 2, index.to_bytes(4, "big"), 0.0)
        kept = {int.from_bytes(frame, "big") for _direction, frame in scheduler.due(0.0)}
        assert sum(c.lost for c in scheduler.counters) == 20000 - len(kept)
        return sorted(set(range(20000)) - kept)

    first = lost_indices(7)
    assert 850 <= len(first) <= 1150            # 1000 expected, sd about 31
    assert lost_indices(7) == first
    assert lost_indices(8) != first


def test_duplicates_are_two_copies_of_the_frame():
    scheduler = Scheduler(Impairment(duplicate=1.0))
    scheduler.offer(1, FRAME, 0.0)
    assert scheduler.due(0.0) == [(1, FRAME), (1, FRAME)]
    assert scheduler.counters[1].duplicated == 1 and scheduler.counters[1].forwarded == 2


def test_reordered_frame_is_overtaken_and_never_waits_for_a_later_one():
    scheduler = Scheduler(Impairment(reorder=1.0, reorder_delay=0.004, delay=0.001))
    scheduler.offer(0, b"held", 0.0)
    released = drain(scheduler, 0.01)
    assert released == [(pytest.approx(0.005), 0, b"held")]   # alone on the wire: leaves on time

    scheduler = Scheduler(Impairment(reorder=0.5, reorder_delay=0.004, seed=3))
    for index in range(200):
        scheduler.offer(0, index.to_bytes(2, "big"), index * 0.001)
    order = [int.from_bytes(frame, "big") for _t, _d, frame in drain(scheduler, 0.3)]
    assert sorted(order) == list(range(200))
    assert order != list(range(200))
    assert 70 <= scheduler.counters[0].reordered <= 130
    # a held frame is passed by at most the frames that arrive during its extra delay
    assert all(order.index(i) - i <= 5 for i in range(200))


def test_rate_serialises_frames_on_the_bottleneck():
    scheduler = Scheduler(Impairment(rate=1500 * 8, delay=0.5))     # one 1500-byte frame per second
    for _ in range(3):
        scheduler.offer(0, bytes(1500), 0.0)
        scheduler.offer(1, bytes(1500), 0.0)           # the other direction has its own bottleneck
    times = [at for at, direction, _frame in drain(scheduler, 4.0, step=0.01) if direction == 0]
    assert times == [pytest.approx(t, abs=0.011) for t in (1.5, 2.5, 3.5)]


def test_queue_limit_drops_and_counts():
    scheduler = Scheduler(Impairment(delay=1.0, queue_limit=3))
    for _ in range(5):
        scheduler.offer(0, FRAME, 0.0)
    assert scheduler.queued(0) == 3 and scheduler.counters[0].overflowed == 2
    scheduler.due(1.0)
    scheduler.offer(0, FRAME, 1.0)
    assert scheduler.queued(0) == 1


def test_unimpaired_frames_are_only_delayed():
    scheduler = Scheduler(Impairment(loss=1.0, duplicate=1.0, reorder=1.0, delay=0.002))
    scheduler.offer(0, FRAME, 0.0, impair=False)
    assert scheduler.due(0.002) == [(0, FRAME)]
    assert scheduler.counters[0].passed == 1 and scheduler.counters[0].lost == 0


@pytest.mark.parametrize("settings", [dict(loss=1.5), dict(duplicate=-0.1), dict(delay=-1),
                                      dict(rate=0), dict(queue_limit=0)])
def test_bad_settings_are_refused(settings):
    with pytest.raises(ValueError, match="impairment: "):
        Impairment(**settings)


def test_address_resolution_frames_are_recognised():
    ethernet = bytes(12)
    arp = ethernet + b"\x08\x06" + bytes(28)
    ipv6_header = b"\x60" + bytes(5) + b"\x3a\xff" + bytes(32)
    neighbour_solicitation = ethernet + b"\x86\xdd" + ipv6_header + bytes([135]) + bytes(23)
    echo_request = ethernet + b"\x86\xdd" + ipv6_header + bytes([128]) + bytes(7)
    ipv4_udp = ethernet + b"\x08\x00" + bytes(28)
    assert is_address_resolution(arp) and is_address_resolution(neighbour_solicitation)
    assert not is_address_resolution(echo_request) and not is_address_resolution(ipv4_udp)
    assert not is_address_resolution(b"\x00")


@needs_root
def test_lab_relay_loses_and_duplicates_about_as_configured():
    """2000 UDP datagrams A -> B at 20% loss and 10% duplication: B gets about 2000 * 0.8 * 1.1."""
    from rawkit.link.relay import RelayLab

    count = 2000
    with RelayLab(Impairment(loss=0.2, duplicate=0.1, delay=0.002, seed=11), ipv6=False) as lab:
        receiver = lab.b.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sender = lab.a.socket(socket.AF_INET, socket.SOCK_DGRAM)
        with receiver, sender:
            receiver.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)   # holds every datagram
            receiver.bind((lab.b_end.ip, 0))
            receiver.settimeout(0.5)
            lab.a.run(["ping", "-c", "1", "-W", "2", lab.b_end.ip])   # ARP resolved before counting
            counters_before = lab.relay.counters()["a_to_b"]
            for index in range(count):
                sender.sendto(b"x%d" % index, receiver.getsockname())
                if index % 100 == 99:
                    time.sleep(0.005)           # paced: the relay's queue, not the socket, is measured
            received = 0
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    receiver.recv(64)
                except TimeoutError:
                    break
                received += 1
        counters = lab.relay.counters()["a_to_b"]
    offered = counters["received"] - counters_before["received"]
    lost = counters["lost"] - counters_before["lost"]
    assert offered >= count
    assert 0.16 <= lost / offered <= 0.24
    assert 1600 <= received <= 1920               # 1760 expected
    assert counters["duplicated"] - counters_before["duplicated"] >= 120

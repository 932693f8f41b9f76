"""The ping loop and printer without a network: a fake probe over a socketpair answers (or not, or
twice), so duplicates, loss, -c/-W/-w stopping rules and the exit status are checked without root.
(The lab tests in test_ping.py compare the real thing with iputils.)"""

from __future__ import annotations

import socket
import time

from rawkit.cli.ping import PlainPrinter, Target, milliseconds
from rawkit.stack.outcome import Outcome
from rawkit.stack.ping import Pinger, exit_status


class FakeProbe:
    """Answers probe i with `copies(i)` replies, delivered through a socketpair."""

    timing = True

    def __init__(self, copies) -> None:
        self.copies = copies
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.sent_ns = [0] * (1 << 16)
        self.answers: list[int] = []

    def sockets(self) -> list[socket.socket]:
        return [self.reader]

    def send(self, index: int) -> int:
        now = time.time_ns()
        self.sent_ns[index & 0xFFFF] = now
        for _ in range(self.copies(index)):
            self.answers.append(index)
            self.writer.send(b"!")
        return now

    def receive(self, sock: socket.socket) -> list[Outcome]:
        outcomes = []
        for _ in sock.recv(64):
            index = self.answers.pop(0)
            outcomes.append(Outcome(index, "reply", "198.18.0.2", time.time_ns() + 1000, size=64, ttl=64))
        return outcomes

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


def run(probe: FakeProbe, capsys, **options):
    printer = PlainPrinter(Target("198.18.0.2", socket.AF_INET, "198.18.0.2", True), mode="icmp", port=0,
                           quiet=False, flood=False, print_timestamps=False, data_len=56)
    pinger = Pinger(probe, printer, **options)
    started = time.monotonic()
    stats = pinger.run()
    elapsed = time.monotonic() - started
    printer.summary(stats, interval=options.get("interval", 1.0), flood=False, timing=True)
    probe.close()
    return stats, capsys.readouterr().out.splitlines(), elapsed


def test_duplicates_are_marked_and_counted(capsys):
    stats, lines, _ = run(FakeProbe(lambda index: 2 if index == 2 else 1), capsys, count=3, interval=0.01)
    replies = [line for line in lines if "bytes from" in line]
    assert [line.endswith("(DUP!)") for line in replies] == [False, False, True, False]
    assert "icmp_seq=2" in replies[2]
    assert stats.received == 3 and stats.duplicates == 1
    assert "3 packets transmitted, 3 received, +1 duplicates, 0% packet loss" in "\n".join(lines)
    assert exit_status(stats, 3, None) == 0


def test_no_reply_waits_the_linger_time_then_exit_1(capsys):
    stats, lines, elapsed = run(FakeProbe(lambda index: 0), capsys, count=2, interval=0.01, linger=0.3)
    assert 0.3 <= elapsed < 1.0
    assert stats.transmitted == 2 and stats.received == 0
    assert "2 packets transmitted, 0 received, 100% packet loss" in "\n".join(lines)
    assert exit_status(stats, 2, None) == 1


def test_deadline_keeps_sending_until_count_replies(capsys):
    # with -w, -c counts replies: every other probe is lost, so 4 replies need 7 probes
    stats, _, elapsed = run(FakeProbe(lambda index: index % 2), capsys, count=4, interval=0.01, deadline=2)
    assert stats.received == 4 and stats.transmitted == 7 and elapsed < 1.0
    assert exit_status(stats, 4, 2) == 0


def test_loss_is_printed_like_a_c_float(capsys):
    stats, lines, _ = run(FakeProbe(lambda index: index == 1), capsys, count=3, interval=0.01, linger=0.05)
    assert "3 packets transmitted, 1 received, 66.6667% packet loss" in "\n".join(lines)


def test_round_trip_time_precision_follows_iputils():
    assert [milliseconds(value) for value in (45, 999, 1234, 9994, 9995, 12345, 99949, 99950, 123456)] == [
        "0.045", "0.999", "1.23", "9.99", "10.0", "12.3", "99.9", "100", "123"]

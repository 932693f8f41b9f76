"""The ping loop: when to send, how long to wait, when to stop, and the statistics, with the timing
rules of iputils ping, for any probe kind (ICMP echo, TCP SYN, UDP, ARP).

Why these rules: users compare `rawkit ping` with `ping` line by line, and scripts rely on its exit
status, so the schedule (interval, -c, -w deadline, -W linger, flood) and the counters (pipe, dups,
errors, mdev in integer microseconds) follow what iputils does.

A probe is any object with `sockets()`, `send(index) -> send_ns`, `receive(sock) -> [Outcome]`,
`sent_ns` (indexed by index & 0xffff) and `close()`. Events go to a `PingListener`.
"""

from __future__ import annotations

import math
import select
import socket
import struct
import time
from dataclasses import dataclass
from typing import Protocol

from rawkit.stack.outcome import Outcome

FLOOD_RESEND = 0.010  # flood mode without an answer: send again after 10 ms, as iputils does
SEQ_SPACE = 1 << 16


class Probe(Protocol):
    sent_ns: list[int]

    def sockets(self) -> list[socket.socket]: ...
    def send(self, index: int) -> int: ...
    def receive(self, sock: socket.socket) -> list[Outcome]: ...
    def close(self) -> None: ...


class PingListener(Protocol):
    def sent(self, index: int) -> None: ...
    def send_failed(self, index: int, error: OSError) -> None: ...
    def outcome(self, outcome: Outcome, rtt_us: int | None, duplicate: bool) -> None: ...
    def no_answer_yet(self, index: int) -> None: ...
    def status(self, statistics: Statistics) -> None: ...


@dataclass
class Statistics:
    """Counters as iputils keeps them; round-trip times in integer microseconds."""

    transmitted: int = 0
    received: int = 0
    duplicates: int = 0
    errors: int = 0
    pipe: int = 0
    rtt_sum: int = 0
    rtt_sum2: int = 0
    rtt_min: int = 0
    rtt_max: int = 0
    rtt_ewma8: int = 0  # iputils' smoothed RTT, times 8
    start_ns: int = 0
    last_ns: int = 0
    rtt_count: int = 0  # replies and duplicates with a time

    def add_rtt(self, rtt_us: int) -> None:
        if not self.rtt_count or rtt_us < self.rtt_min:
            self.rtt_min = rtt_us
        self.rtt_max = max(self.rtt_max, rtt_us)
        self.rtt_sum += rtt_us
        self.rtt_sum2 += rtt_us * rtt_us
        self.rtt_ewma8 = rtt_us * 8 if not self.rtt_ewma8 else self.rtt_ewma8 + rtt_us - self.rtt_ewma8 // 8
        self.rtt_count += 1

    @property
    def loss_percent(self) -> float:
        """Packet loss as iputils computes and prints it (through a C float)."""
        if not self.transmitted:
            return 0.0
        value = (self.transmitted - self.received) * 100.0 / self.transmitted
        return struct.unpack("f", struct.pack("f", value))[0]

    @property
    def elapsed_ms(self) -> int:
        return (max(self.last_ns - self.start_ns, 0) // 1000 + 500) // 1000

    @property
    def rtt_summary(self) -> tuple[int, int, int, int] | None:
        """(min, avg, max, mdev) in microseconds over replies and duplicates, or None without any."""
        samples = self.rtt_count
        if not samples:
            return None
        average = self.rtt_sum // samples
        variance = self.rtt_sum2 / samples - average * average
        return self.rtt_min, average, self.rtt_max, math.isqrt(max(int(variance), 0))


class Pinger:
    """Runs one ping session over a probe; `stop()` and `request_status()` may be called from signal
    handlers (pass the read end of `signal.set_wakeup_fd`'s socket as `wakeup` so they act at once)."""

    def __init__(self, probe: Probe, listener: PingListener, *, count: int = 0, interval: float = 1.0,
                 deadline: float | None = None, linger: float = 10.0, flood: bool = False,
                 report_outstanding: bool = False, wakeup: socket.socket | None = None) -> None:
        self.probe = probe
        self.listener = listener
        self.count = count
        self.interval = interval
        self.deadline = deadline
        self.linger = linger
        self.flood = flood
        self.report_outstanding = report_outstanding
        self.wakeup = wakeup
        self.statistics = Statistics()
        self.answered = bytearray(SEQ_SPACE)
        self._exiting = False
        self._status_requested = False
        self._timing = getattr(probe, "timing", True)  # no RTTs when the data is too short for a timeval

    def stop(self) -> None:
        self._exiting = True

    def request_status(self) -> None:
        self._status_requested = True

    def run(self) -> Statistics:
        stats = self.statistics
        poller = select.poll()
        by_fd = {sock.fileno(): sock for sock in self.probe.sockets()}
        for fd in by_fd:
            poller.register(fd, select.POLLIN | select.POLLERR)
        if self.wakeup is not None:
            poller.register(self.wakeup.fileno(), select.POLLIN)
        start = time.monotonic()
        deadline_at = start + self.deadline if self.deadline is not None else math.inf
        next_send = start
        linger_at = math.inf
        last_send = -math.inf
        stats.start_ns = time.time_ns()
        if self.flood and self.interval == 0:
            self._flood(poller, by_fd, deadline_at)
        while True:
            if self._status_requested:
                self._status_requested = False
                self.listener.status(stats)
            if self._exiting:
                break
            if self.count and stats.received + stats.errors >= self.count:
                break
            if self.deadline is not None and stats.errors:
                break
            now = time.monotonic()
            if now >= deadline_at or now >= linger_at:
                break
            sending = not (self.count and stats.transmitted >= self.count and self.deadline is None)
            if sending and self.flood and self.interval == 0:
                previous = stats.transmitted
                if previous and not self.answered[previous & 0xFFFF] and now - last_send < FLOOD_RESEND:
                    next_send = last_send + FLOOD_RESEND
                else:
                    next_send = now
            if sending and now >= next_send:
                self._send()
                last_send = now
                next_send = max(next_send + self.interval, now - self.interval)
                if self.count and stats.transmitted >= self.count and self.deadline is None:
                    wait = max(2 * stats.rtt_max / 1e6, self.interval) if stats.received else self.linger
                    linger_at = now + wait
                continue
            wake_at = min(deadline_at, linger_at, next_send if sending else math.inf)
            timeout_ms = max(0, math.ceil((wake_at - now) * 1000)) if wake_at < math.inf else None
            for fd, _events in poller.poll(timeout_ms):
                if fd in by_fd:
                    for outcome in self.probe.receive(by_fd[fd]):
                        self._account(outcome)
                else:
                    self._drain_wakeup()
        return stats

    def _flood(self, poller: select.poll, by_fd: dict[int, socket.socket], deadline_at: float) -> None:
        """Flood with no interval: the next probe leaves as soon as the last is answered, or after 10 ms
        without an answer. A tight loop of its own, as this is what bounds the packet rate; it returns
        when every probe is sent (the general loop then waits for late replies) or on a stop."""
        stats = self.statistics
        answered = self.answered
        count = self.count
        monotonic = time.monotonic
        receive, account = self.probe.receive, self._account
        sockets = list(by_fd.values())
        has_deadline = self.deadline is not None
        while not self._exiting:
            if self._status_requested:
                self._status_requested = False
                self.listener.status(stats)
            if count and stats.transmitted >= count:
                return
            if has_deadline and (stats.errors or monotonic() >= deadline_at):
                return
            self._send()
            seq = stats.transmitted & 0xFFFF
            # on a veth the kernel has usually queued the reply before sendto returns: read first, poll after
            for sock in sockets:
                for outcome in receive(sock):
                    account(outcome)
            if answered[seq]:
                continue
            give_up = monotonic() + FLOOD_RESEND
            while not answered[seq] and not self._exiting:
                remaining = give_up - monotonic()
                if remaining <= 0:
                    break
                for fd, _events in poller.poll(math.ceil(remaining * 1000)):
                    if fd in by_fd:
                        for outcome in self.probe.receive(by_fd[fd]):
                            self._account(outcome)
                    else:
                        self._drain_wakeup()

    def _send(self) -> None:
        stats = self.statistics
        index = stats.transmitted + 1
        if self.report_outstanding and stats.transmitted and not self.answered[stats.transmitted & 0xFFFF]:
            self.listener.no_answer_yet(stats.transmitted)
        self.answered[index & 0xFFFF] = 0
        try:
            sent_ns = self.probe.send(index)
        except OSError as error:
            sent_ns = time.time_ns()
            stats.transmitted = index
            self.listener.send_failed(index, error)
        else:
            stats.transmitted = index
            self.listener.sent(index)
        if index == 1:
            stats.start_ns = sent_ns
        if sent_ns > stats.last_ns:
            stats.last_ns = sent_ns

    def _account(self, outcome: Outcome) -> None:
        stats = self.statistics
        if outcome.ts_ns > stats.last_ns:
            stats.last_ns = outcome.ts_ns
        lag = stats.transmitted - outcome.index
        # iputils counts an ICMPv6 error's probe as acknowledged for "pipe" only on IPv4
        if lag >= stats.pipe and lag < SEQ_SPACE // 2 and not (outcome.kind == "error" and outcome.ipv6):
            stats.pipe = lag + 1
        if outcome.kind == "error":
            stats.errors += 1
            self.listener.outcome(outcome, None, False)
            return
        seq = outcome.index & 0xFFFF
        duplicate = bool(self.answered[seq])
        if duplicate:
            stats.duplicates += 1
        else:
            stats.received += 1
            self.answered[seq] = 1
        rtt_us = outcome.ts_ns // 1000 - self.probe.sent_ns[seq] // 1000
        if self._timing:
            stats.add_rtt(rtt_us)
        else:
            rtt_us = None
        self.listener.outcome(outcome, rtt_us, duplicate)

    def _drain_wakeup(self) -> None:
        try:
            while self.wakeup.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass


def exit_status(stats: Statistics, count: int, deadline: float | None) -> int:
    """iputils' exit status: 1 when no reply came (or, with a deadline, fewer than `count`), else 0."""
    if not stats.received:
        return 1
    return 1 if deadline is not None and count and stats.received < count else 0

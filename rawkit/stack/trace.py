"""Traceroute over any probe kind (UDP, ICMP echo, TCP SYN): probes with growing TTL, the hop that
answered each, its round-trip time and traceroute's annotations (!H !N !P !X ...), stopping at the
destination or at an unreachable, as Debian's traceroute does.

Why probes of one hop go out together: a silent hop then costs one wait, not one per probe.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass

from rawkit.stack.outcome import Outcome
from rawkit.stack.ping import Probe

# destination unreachable codes -> traceroute's annotation ("" = the destination itself answered)
UNREACHABLE_V4 = {0: "!N", 1: "!H", 2: "!P", 3: "", 4: "!F", 5: "!S", 9: "!X", 10: "!X", 13: "!X", 14: "!V",
                  15: "!C"}
UNREACHABLE_V6 = {0: "!N", 1: "!X", 2: "!S", 3: "!H", 4: "", 5: "!X", 6: "!X"}


@dataclass(slots=True)
class HopProbe:
    """One probe of one hop: who answered (None: silence), after how long, and what it meant."""

    ttl: int
    address: str | None = None
    rtt_us: int | None = None
    annotation: str = ""
    final: bool = False  # the destination answered, or an unreachable ends the trace


def classify(outcome: Outcome) -> tuple[str, bool]:
    """(annotation, final) for an outcome, as traceroute reads ICMP."""
    if outcome.kind == "reply":
        return "", True
    kind, code = outcome.icmp_type, outcome.icmp_code
    if outcome.ipv6:
        if kind == 3:
            return "", False
        if kind == 1:
            return UNREACHABLE_V6.get(code, f"!<{code}>"), True
        if kind == 2:
            return f"!F-{outcome.info}", True
        return "", False
    if kind == 11:
        return "", False
    if kind == 3:
        if code == 4:
            return f"!F-{outcome.info & 0xFFFF}", True
        return UNREACHABLE_V4.get(code, f"!<{code}>"), True
    return "", False


class Tracer:
    """Runs a trace; `hops()` yields each hop's probes once all answered or `wait` passed."""

    def __init__(self, probe: Probe, destination: str, *, first_ttl: int = 1, max_ttl: int = 30,
                 queries: int = 3, wait: float = 5.0) -> None:
        self.probe = probe
        self.destination = destination
        self.first_ttl = first_ttl
        self.max_ttl = max_ttl
        self.queries = queries
        self.wait = wait

    def hops(self) -> Iterator[list[HopProbe]]:
        poller = select.poll()
        by_fd = {sock.fileno(): sock for sock in self.probe.sockets()}
        for fd in by_fd:
            poller.register(fd, select.POLLIN | select.POLLERR)
        index = 0
        for ttl in range(self.first_ttl, self.max_ttl + 1):
            results = {}
            self.probe.set_ttl(ttl)
            for _ in range(self.queries):
                index += 1
                self.probe.send(index)
                results[index] = HopProbe(ttl)
            give_up = time.monotonic() + self.wait
            waiting = set(results)
            while waiting:
                remaining = give_up - time.monotonic()
                if remaining <= 0:
                    break
                for fd, _events in poller.poll(max(1, int(remaining * 1000))):
                    for outcome in self.probe.receive(by_fd[fd]):
                        if outcome.index in waiting:
                            waiting.discard(outcome.index)
                            self._record(results[outcome.index], outcome)
            hop_probes = [results[number] for number in sorted(results)]
            yield hop_probes
            if any(hop.final for hop in hop_probes):
                return

    def _record(self, hop: HopProbe, outcome: Outcome) -> None:
        hop.address = outcome.source
        hop.rtt_us = outcome.ts_ns // 1000 - self.probe.sent_ns[outcome.index & 0xFFFF] // 1000
        hop.annotation, hop.final = classify(outcome)


def hop_line(hop_probes: list[HopProbe]) -> str:
    """The line traceroute prints for one hop (`` 1  198.18.0.254  0.123 ms  0.101 ms *``)."""
    line = f"{hop_probes[0].ttl:2d} "
    previous = None
    for hop in hop_probes:
        if hop.address is None:
            line += " *"
            continue
        if hop.address != previous:
            line += f" {hop.address}"
            previous = hop.address
        line += f"  {hop.rtt_us / 1000:.3f} ms"
        if hop.annotation:
            line += f" {hop.annotation}"
    return line


def packet_length(family: int) -> int:
    """The probe size traceroute announces by default (IPv4 60 bytes, IPv6 80)."""
    return 80 if family == socket.AF_INET6 else 60

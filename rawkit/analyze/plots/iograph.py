"""IO graph: packets and bytes per interval, in total and per protocol (like Wireshark's IO graph)."""

from __future__ import annotations

from collections.abc import Iterable

from rawkit.analyze.plots.figure import pyplot, save
from rawkit.wire import Packet

PROTOCOLS = ("tcp", "udp", "icmp", "other")


def _protocol(pkt: Packet) -> str:
    if pkt.tcp is not None:
        return "tcp"
    if pkt.udp is not None:
        return "udp"
    if pkt.icmp is not None or pkt.icmp6 is not None:
        return "icmp"
    return "other"


class IOGraph:
    """Counts per interval bucket: {protocol: {bucket: [packets, bytes]}}, plus totals. Buckets are
    indexes from the first packet's time; memory grows with the capture's duration, not its size."""

    def __init__(self, interval_s: float = 1.0) -> None:
        if interval_s <= 0:
            raise ValueError("interval must be positive")
        self.interval_ns = int(interval_s * 1e9)
        self.origin_ns: int | None = None
        self.buckets: dict[str, dict[int, list[int]]] = {name: {} for name in ("all", *PROTOCOLS)}

    def add(self, pkt: Packet) -> None:
        if self.origin_ns is None:
            self.origin_ns = pkt.ts_ns
        bucket = (pkt.ts_ns - self.origin_ns) // self.interval_ns
        for name in ("all", _protocol(pkt)):
            counts = self.buckets[name].setdefault(bucket, [0, 0])
            counts[0] += 1
            counts[1] += pkt.wirelen

    def feed(self, packets: Iterable[Packet]) -> IOGraph:
        for pkt in packets:
            self.add(pkt)
        return self

    def series(self, name: str, column: int) -> tuple[list[float], list[int]]:
        """(bucket start times in seconds, values) with empty buckets as zeros."""
        counts = self.buckets[name]
        every = self.buckets["all"]
        if not every:
            return [], []
        last = max(every)
        seconds = self.interval_ns / 1e9
        return ([index * seconds for index in range(last + 1)],
                [counts.get(index, (0, 0))[column] for index in range(last + 1)])


def draw_io_graph(graph: IOGraph, path: str, title: str = "") -> None:
    plt = pyplot()
    figure, (packets_axis, bytes_axis) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for name in ("all", *PROTOCOLS):
        if not graph.buckets[name]:
            continue
        style = {"color": "black", "linewidth": 2} if name == "all" else {"linewidth": 1}
        times, packets = graph.series(name, 0)
        packets_axis.step(times, packets, where="post", label=name, **style)
        times, sizes = graph.series(name, 1)
        bytes_axis.step(times, sizes, where="post", label=name, **style)
    interval = graph.interval_ns / 1e9
    packets_axis.set_ylabel(f"packets / {interval:g} s")
    bytes_axis.set_ylabel(f"bytes / {interval:g} s")
    bytes_axis.set_xlabel("time since first packet (s)")
    packets_axis.legend(loc="upper right")
    packets_axis.set_title(title or "IO graph")
    for axis in (packets_axis, bytes_axis):
        axis.grid(alpha=0.3)
    save(figure, path)

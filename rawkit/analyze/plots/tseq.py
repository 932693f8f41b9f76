"""TCP time-sequence graph, Stevens style: each data segment a vertical bar from its first to its
last sequence number, the peer's ACK line and receive-window line beneath and above it,
retransmissions in red, SACK blocks as short bars. Sequence numbers relative to the sender's ISN."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from rawkit.analyze.conversations import ConversationTable
from rawkit.analyze.plots.figure import pyplot, save
from rawkit.analyze.tcp_health import seq_after
from rawkit.wire import Packet

_MOD = 1 << 32
_SYN, _FIN, _ACK = 0x02, 0x01, 0x10


@dataclass
class _Direction:
    base: int | None = None
    max_end: int | None = None
    window_scale: int | None = None
    bytes_sent: int = 0
    segments: list[tuple[float, int, int]] = field(default_factory=list)
    retransmissions: list[tuple[float, int, int]] = field(default_factory=list)
    acks: list[tuple[float, int]] = field(default_factory=list)  # acks and windows it received
    windows: list[tuple[float, int]] = field(default_factory=list)
    sacks: list[tuple[float, int, int]] = field(default_factory=list)


class TimeSequence:
    """Collects one TCP stream (tshark's tcp.stream numbering) in both directions."""

    def __init__(self, stream: int) -> None:
        self.stream = stream
        self.directions = (_Direction(), _Direction())
        self.endpoints: tuple[str, str] | None = None
        self.origin_ns: int | None = None

    def feed(self, packets: Iterable[Packet]) -> TimeSequence:
        table = ConversationTable(("tcp",), health=False)
        for pkt in packets:
            if self.origin_ns is None:
                self.origin_ns = pkt.ts_ns
            seen = table.add(pkt)
            if seen is None or seen[0].stream != self.stream:
                continue
            conv, forward, datagram = seen
            if self.endpoints is None:
                record = conv.record(conv.first_ns)
                self.endpoints = (f"{record['a']}:{conv.a_port}", f"{record['b']}:{conv.b_port}")
            self._segment(forward, datagram, (pkt.ts_ns - self.origin_ns) / 1e9)
        return self

    def _segment(self, forward: bool, pkt: Packet, when: float) -> None:
        tcp = pkt.tcp
        sender = self.directions[0 if forward else 1]
        receiver = self.directions[1 if forward else 0]
        flags, seq = tcp.flags, tcp.seq
        options = tcp.options if tcp.header_len > 20 else []
        if flags & _SYN:
            sender.window_scale = next((value for name, value in options if name == "WScale"), None)
        if sender.base is None:
            sender.base = seq if flags & _SYN else (seq - 1) % _MOD
        length = tcp.payload_len + (1 if flags & _SYN else 0) + (1 if flags & _FIN else 0)
        if length:
            start = (seq - sender.base) % _MOD
            end = (seq + length) % _MOD
            point = (when, start, start + length)
            if sender.max_end is not None and seq_after(sender.max_end, seq):
                sender.retransmissions.append(point)
            else:
                sender.segments.append(point)
            if sender.max_end is None or seq_after(end, sender.max_end):
                sender.max_end = end
            sender.bytes_sent += tcp.payload_len
        if flags & _ACK and receiver.base is not None:
            acked = (tcp.ack - receiver.base) % _MOD
            scale = 0
            if not flags & _SYN and sender.window_scale is not None and receiver.window_scale is not None:
                scale = sender.window_scale
            receiver.acks.append((when, acked))
            receiver.windows.append((when, acked + (tcp.window << scale)))
            for name, value in options:
                if name == "SAck":
                    base = receiver.base
                    for left, right in value:
                        receiver.sacks.append((when, (left - base) % _MOD, (right - base) % _MOD))

    def busier(self) -> bool:
        """True when a->b carried at least as many payload bytes as b->a."""
        return self.directions[0].bytes_sent >= self.directions[1].bytes_sent


def draw_time_sequence(graph: TimeSequence, path: str, forward: bool | None = None) -> None:
    """Draw the direction `forward` (a->b when True; None: the one that sent more data)."""
    if graph.endpoints is None:
        raise ValueError(f"no TCP stream {graph.stream} in the capture")
    if forward is None:
        forward = graph.busier()
    data = graph.directions[0 if forward else 1]
    sender, receiver = graph.endpoints if forward else graph.endpoints[::-1]
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(10, 6))
    if data.windows:
        times, values = zip(*data.windows, strict=True)
        axis.step(times, values, where="post", color="tab:green", linewidth=1, label="receive window")
    if data.acks:
        times, values = zip(*data.acks, strict=True)
        axis.step(times, values, where="post", color="tab:orange", linewidth=1, label="ACK")
    for points, color, label in ((data.segments, "tab:blue", "segment"),
                                 (data.retransmissions, "tab:red", "retransmission"),
                                 (data.sacks, "tab:purple", "SACK block")):
        if points:
            axis.vlines([p[0] for p in points], [p[1] for p in points], [p[2] for p in points], colors=color,
                        linewidth=2 if label != "segment" else 1.5, label=label)
    if data.retransmissions:
        axis.scatter([p[0] for p in data.retransmissions], [p[2] for p in data.retransmissions],
                     color="tab:red", marker="x", s=20, zorder=3)
    tops = [point[2] for point in data.segments + data.retransmissions] + [value for _, value in data.acks]
    if tops:
        # a window opened wide at the end would flatten everything else: keep the data in view
        axis.set_ylim(bottom=0, top=max(tops) * 1.25 + 1)
    axis.set_xlabel("time since first packet (s)")
    axis.set_ylabel(f"relative sequence number ({sender})")
    axis.set_title(f"TCP stream {graph.stream}: {sender} → {receiver}")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper left")
    save(figure, path)

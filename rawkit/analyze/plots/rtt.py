"""RTT over time: from TCP timestamps (a TSval sent, then first echoed back in a TSecr) or from an
iputils ping log ("... icmp_seq=N ttl=T time=X ms")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from rawkit.analyze.conversations import ConversationTable
from rawkit.analyze.plots.figure import pyplot, save
from rawkit.wire import Packet

_MAX_PENDING = 4096  # TSvals awaiting their echo, per direction
_PING_REPLY = re.compile(r"icmp_seq=(\d+).*?time=([\d.]+) ms")


@dataclass
class RttSeries:
    """Samples (seconds since start, RTT in ms) per label (one per measured direction or host)."""

    title: str = "RTT"
    samples: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def tcp_timestamp_rtt(packets: Iterable[Packet], stream: int | None = None) -> RttSeries:
    """RTT samples from TCP timestamp echoes, for one stream or all of them. The RTT measured is
    from a segment leaving its sender to the first segment echoing its TSval."""
    table = ConversationTable(("tcp",), health=False)
    pending: dict[tuple[int, bool], dict[int, int]] = {}
    series = RttSeries("RTT from TCP timestamps")
    origin = None
    for pkt in packets:
        if origin is None:
            origin = pkt.ts_ns
        seen = table.add(pkt)
        if seen is None or (stream is not None and seen[0].stream != stream):
            continue
        conv, forward, datagram = seen
        tcp = datagram.tcp
        if tcp.header_len <= 20:
            continue
        stamp = tcp.option("Timestamp")
        if stamp is None:
            continue
        tsval, tsecr = stamp
        sent = pending.setdefault((conv.stream, forward), {})
        if tsval not in sent and len(sent) < _MAX_PENDING:
            sent[tsval] = pkt.ts_ns
        echoed = pending.get((conv.stream, not forward), {}).pop(tsecr, None)
        if echoed is not None and tcp.flags & 0x10:
            record = conv.record(conv.first_ns)
            ends = (f"{record['a']}:{conv.a_port}", f"{record['b']}:{conv.b_port}")
            label = f"{ends[1]} → {ends[0]} → back" if forward else f"{ends[0]} → {ends[1]} → back"
            series.samples.setdefault(label, []).append(((pkt.ts_ns - origin) / 1e9,
                                                         (pkt.ts_ns - echoed) / 1e6))
    return series


def ping_log_rtt(lines: Iterable[str]) -> RttSeries:
    """RTT samples from ping output, against icmp_seq (ping logs carry no absolute times)."""
    series = RttSeries("RTT from ping")
    target = "ping"
    for line in lines:
        if line.startswith("PING "):
            target = line.split()[1]
        found = _PING_REPLY.search(line)
        if found:
            series.samples.setdefault(target, []).append((float(found[1]), float(found[2])))
    return series


def draw_rtt(series: RttSeries, path: str, x_label: str = "time since first packet (s)") -> None:
    if not any(series.samples.values()):
        raise ValueError("no RTT samples (no TCP timestamps echoed, or no ping replies)")
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(10, 5))
    for label, points in series.samples.items():
        axis.plot([p[0] for p in points], [p[1] for p in points], marker=".", linewidth=1, label=label)
    axis.set_xlabel(x_label)
    axis.set_ylabel("RTT (ms)")
    axis.set_title(series.title)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper right", fontsize="small")
    save(figure, path)

"""Capture summaries as capinfos reports them, and a protocol hierarchy as `tshark -z io,phs` shows it
(down to the transport layer: frames and bytes per protocol path, damaged frames' "_ws.malformed" and
"_ws.short" nodes included)."""

from __future__ import annotations

from collections.abc import Iterable

from rawkit.analyze.defrag import Defragmenter
from rawkit.analyze.hierarchy import frame_path
from rawkit.wire import Packet

# wiretap's short encapsulation names, which capinfos prints
ENCAPSULATION_NAMES = {0: "null", 1: "ether", 101: "rawip", 108: "loop", 113: "linux-sll", 228: "rawip4",
                       229: "rawip6", 276: "linux-sll2", 12: "rawip", 14: "rawip"}
_TRANSPORTS = (("tcp", "tcp"), ("udp", "udp"), ("icmp", "icmp"), ("icmp6", "icmpv6"))


class ProtocolHierarchy:
    """Frames and bytes per protocol path ("eth", "eth/ip", "eth/ip/tcp"...), in order of first sight."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[str, ...], list[int]] = {}
        self.defragmenter = Defragmenter()

    def add(self, pkt: Packet) -> None:
        size = pkt.wirelen
        path = frame_path(pkt)
        if path is None:
            return
        ip = pkt.ip
        if ip is not None and ip.is_fragment and path[-1] in ("ip", "ipv6"):
            datagram = self.defragmenter.feed(pkt)
            if datagram is None:
                path.append("data")  # a fragment held for reassembly
            else:
                for attribute, name in _TRANSPORTS:
                    if getattr(datagram, attribute) is not None:
                        path.append(name)
                        break
        for depth in range(1, len(path) + 1):
            node = self.nodes.setdefault(tuple(path[:depth]), [0, 0])
            node[0] += 1
            node[1] += size

    def merge(self, other: ProtocolHierarchy) -> None:
        for path, (frames, size) in other.nodes.items():
            node = self.nodes.setdefault(path, [0, 0])
            node[0] += frames
            node[1] += size

    def rows(self) -> list[tuple[tuple[str, ...], int, int]]:
        """(path, frames, bytes) depth-first, children in order of first sight (as tshark lists them)."""
        children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for path in self.nodes:
            children.setdefault(path[:-1], []).append(path)
        rows: list[tuple[tuple[str, ...], int, int]] = []

        def visit(parent: tuple[str, ...]) -> None:
            for path in children.get(parent, ()):
                rows.append((path, *self.nodes[path]))
                visit(path)

        visit(())
        return rows


class CaptureStats:
    """What capinfos says about one capture, gathered in one streaming pass."""

    def __init__(self, name: str = "", file_format: str = "", snaplen: int | None = None,
                 linktypes: Iterable[int] = (), interfaces: int = 1, file_size: int | None = None) -> None:
        self.name, self.format, self.snaplen = name, file_format, snaplen
        self.linktypes = list(linktypes)
        self.interfaces = interfaces
        self.file_size = file_size
        self.packets = self.bytes = self.captured_bytes = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.previous_ns: int | None = None
        self.in_order = True
        self.truncated_min: int | None = None
        self.truncated_max: int | None = None
        self.hierarchy = ProtocolHierarchy()
        # pcapng Simple Packet Blocks carry no time (they read as 0); capinfos then gives no times
        self.zero_is_untimed = file_format == "pcapng"
        self.untimed = False

    def add(self, pkt: Packet) -> None:
        ts_ns, caplen = pkt.ts_ns, len(pkt.data)
        if ts_ns == 0 and self.zero_is_untimed:
            self.untimed = True
        self.packets += 1
        self.bytes += pkt.wirelen
        self.captured_bytes += caplen
        if self.first_ns is None:
            self.first_ns = self.last_ns = ts_ns
        elif ts_ns < self.first_ns:
            self.first_ns = ts_ns
        elif ts_ns > self.last_ns:
            self.last_ns = ts_ns
        if self.previous_ns is not None and ts_ns < self.previous_ns:
            self.in_order = False
        self.previous_ns = ts_ns
        if caplen < pkt.wirelen:
            self.truncated_min = caplen if self.truncated_min is None else min(self.truncated_min, caplen)
            self.truncated_max = caplen if self.truncated_max is None else max(self.truncated_max, caplen)
        if pkt.linktype not in self.linktypes:
            self.linktypes.append(pkt.linktype)
        self.hierarchy.add(pkt)

    @property
    def duration(self) -> float | None:
        if self.first_ns is None or self.untimed:
            return None
        return (self.last_ns - self.first_ns) / 1e9

    def as_dict(self) -> dict:
        duration = self.duration
        rate = (lambda value: value / duration) if duration else (lambda value: None)
        return {
            "file": self.name, "format": self.format,
            "encapsulation": (ENCAPSULATION_NAMES.get(self.linktypes[0], str(self.linktypes[0]))
                              if len(self.linktypes) == 1 else "per-packet"),
            "linktypes": self.linktypes, "snaplen": self.snaplen,
            "snaplen_inferred_min": self.truncated_min, "snaplen_inferred_max": self.truncated_max,
            "interfaces": self.interfaces, "file_size": self.file_size, "packets": self.packets,
            "bytes": self.bytes, "captured_bytes": self.captured_bytes,
            "first": None if duration is None else self.first_ns / 1e9,
            "last": None if duration is None else self.last_ns / 1e9,
            "first_ns": None if duration is None else self.first_ns,
            "last_ns": None if duration is None else self.last_ns, "duration": duration,
            "data_byte_rate": rate(self.bytes), "data_bit_rate": rate(self.bytes * 8),
            "average_packet_size": self.bytes / self.packets if self.packets else None,
            "average_packet_rate": rate(self.packets),
            "strict_time_order": None if self.untimed else self.in_order,
            "hierarchy": [{"protocol": "/".join(path), "frames": frames, "bytes": size}
                          for path, frames, size in self.hierarchy.rows()],
        }


def merge_summaries(summaries: list[dict]) -> dict:
    """One summary for many files (as `as_dict` gives them): counts add up, times span them all,
    protocol hierarchies add node by node."""
    timed = [summary for summary in summaries if summary["first_ns"] is not None]
    first = min((summary["first_ns"] for summary in timed), default=None)
    last = max((summary["last_ns"] for summary in timed), default=None)
    duration = None if first is None or len(timed) < len(summaries) else (last - first) / 1e9
    packets = sum(summary["packets"] for summary in summaries)
    size = sum(summary["bytes"] for summary in summaries)
    hierarchy: dict[str, list[int]] = {}
    for summary in summaries:
        for node in summary["hierarchy"]:
            counts = hierarchy.setdefault(node["protocol"], [0, 0])
            counts[0] += node["frames"]
            counts[1] += node["bytes"]
    if duration is None:
        first = last = None
    return {"files": len(summaries), "packets": packets, "bytes": size,
            "first": None if first is None else first / 1e9, "last": None if last is None else last / 1e9,
            "first_ns": first, "last_ns": last, "duration": duration,
            "data_byte_rate": size / duration if duration else None,
            "average_packet_rate": packets / duration if duration else None,
            "hierarchy": [{"protocol": name, "frames": frames, "bytes": total}
                          for name, (frames, total) in hierarchy.items()]}

"""What every capture reader shares: interface descriptions, error messages, closing."""

from __future__ import annotations

from collections.abc import Iterator
from types import TracebackType

from rawkit.pcap.errors import CaptureError
from rawkit.pcap.source import Feed
from rawkit.wire.packet import Packet


class Interface:
    """One capture interface: a pcap file has one; a pcapng file one per interface description.

    `ts_resolution` is timestamp units per second as stored in the file (10**6, 10**9, 2**k...);
    packets always carry nanoseconds. `ts_offset` is the pcapng if_tsoffset, in seconds.
    An immutable value, written out rather than a @dataclass: creating one costs every command's
    start-up about as much as the rest of this module.
    """

    __slots__ = ("linktype", "snaplen", "name", "ts_resolution", "ts_offset")
    linktype: int
    snaplen: int
    name: str | None
    ts_resolution: int
    ts_offset: int

    def __init__(self, linktype: int, snaplen: int, name: str | None = None, ts_resolution: int = 1_000_000,
                 ts_offset: int = 0) -> None:
        values = (linktype, snaplen, name, ts_resolution, ts_offset)
        for field, value in zip(self.__slots__, values, strict=True):
            object.__setattr__(self, field, value)

    def _values(self) -> tuple[int, int, str | None, int, int]:
        return self.linktype, self.snaplen, self.name, self.ts_resolution, self.ts_offset

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Interface is immutable")

    def __eq__(self, other: object) -> bool:
        return self._values() == other._values() if type(other) is Interface else NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        pairs = zip(self.__slots__, self._values(), strict=True)
        fields = ", ".join(f"{field}={value!r}" for field, value in pairs)
        return f"Interface({fields})"


class CaptureReader:
    """Iterate the packets of a capture file, once, in file order.

    Iteration raises `CaptureError` where the file is damaged, after every packet before the damage.
    A record longer than its snap length is handled as libpcap (tcpdump) does when `libpcap_snaplen`
    is true (cut to it in pcap, an error in pcapng), or kept whole as wiretap (tshark, capinfos) does.
    """

    format = ""

    def __init__(self, feed: Feed, libpcap_snaplen: bool = True) -> None:
        self.name = feed.name
        self.libpcap_snaplen = libpcap_snaplen
        self.interfaces: list[Interface] = []
        self._feed = feed
        self._packets = self._generate()
        self._iterator: Iterator[Packet] = self._packets

    @property
    def linktype(self) -> int | None:
        """Link type of the first interface (None for a pcapng file that describes none)."""
        return self.interfaces[0].linktype if self.interfaces else None

    @property
    def snaplen(self) -> int:
        return self.interfaces[0].snaplen if self.interfaces else 0

    @property
    def nanosecond(self) -> bool:
        """Whether the first interface's timestamps have nanosecond (or finer) resolution."""
        return bool(self.interfaces) and self.interfaces[0].ts_resolution >= 1_000_000_000

    def _generate(self) -> Iterator[Packet]:
        raise NotImplementedError

    def _fail(self, offset: int, what: str, detail: str = "") -> CaptureError:
        """The error for damage at `offset` of the current buffer: "file: what at byte N: detail"."""
        message = f"{self.name}: {what} at byte {self._feed.base + offset}"
        return CaptureError(f"{message}: {detail}" if detail else message)

    def records(self) -> Iterator[tuple[bytes, int, int, int]]:
        """The remaining records as (data, linktype, ts_ns, wirelen) tuples, without building Packets:
        for loops that only copy or print the bytes. Shares the position with iterating the reader."""
        return ((pkt.data, pkt.linktype, pkt.ts_ns, pkt.wirelen) for pkt in self._iterator)

    def __iter__(self) -> Iterator[Packet]:
        return self._iterator

    def __next__(self) -> Packet:
        return next(self._iterator)

    def close(self) -> None:
        self._packets.close()
        self._feed.close()

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.format} linktype={self.linktype}>"

"""Follow TCP streams: the reassembled bytes of each direction, numbered as tshark's `tcp.stream`,
and the text forms of `tshark -z follow,tcp,ascii|hex|raw`."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from rawkit.analyze.conversations import Conversation, ConversationTable
from rawkit.analyze.defrag import Defragmenter
from rawkit.analyze.reassembly import Gap, TcpReassembler
from rawkit.wire import Packet

FORMATS = ("ascii", "hex", "raw")
_RULE = "=" * 67
_ACK = 0x10


def tcp_chunks(packets: Iterable[Packet], streams: Container[int] | None = None,
               defragmenter: Defragmenter | None = None) -> Iterator[tuple[Conversation, bool, bytes | Gap]]:
    """(stream, forward, bytes) each time reassembly delivers in-order data, or a `Gap` where the
    peer acknowledged bytes the capture lacks; `streams` limits which stream indexes are followed
    (None: all). Memory grows with open streams, not with the capture."""
    table = ConversationTable(("tcp",), health=False, defragmenter=defragmenter)
    reassemblers: dict[int, TcpReassembler] = {}
    for pkt in packets:
        seen = table.add(pkt)
        if seen is None:
            continue
        conv, forward, datagram = seen
        reassembler = reassemblers.get(conv.stream)
        if reassembler is None:
            if streams is not None and conv.stream not in streams:
                continue
            reassembler = reassemblers[conv.stream] = TcpReassembler()
        tcp = datagram.tcp
        if tcp.flags & _ACK:
            for chunk in reassembler.acked(not forward, tcp.ack):
                yield conv, not forward, chunk
        for chunk in reassembler.feed(forward, tcp.seq, tcp.flags, datagram.payload):
            yield conv, forward, chunk


def gap_text(gap: Gap) -> bytes:
    """What tshark's follow prints for bytes the capture missed (its own words, NUL included)."""
    return b"[%d bytes missing in capture file]\x00" % gap


def find_stream(packets: Iterable[Packet], match: Callable[[Packet], bool]) -> int | None:
    """The index of the first TCP stream with a packet that `match` accepts."""
    table = ConversationTable(("tcp",), health=False)
    for pkt in packets:
        seen = table.add(pkt)
        if seen is not None and match(pkt):
            return seen[0].stream
    return None


def endpoint_text(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


class FollowPrinter:
    """Writes one stream the way `tshark -q -z follow,tcp,MODE,N` prints it."""

    def __init__(self, out: TextIO, mode: str, index: int) -> None:
        if mode not in FORMATS:
            raise ValueError(f"follow format must be one of {', '.join(FORMATS)}")
        self.out, self.mode, self.index = out, mode, index
        self.offsets = [0, 0]
        self.started = False

    def header(self, conv: Conversation) -> None:
        record = conv.record(conv.first_ns)
        self.out.write(f"\n{_RULE}\nFollow: tcp,{self.mode}\nFilter: tcp.stream eq {self.index}\n"
                       f"Node 0: {endpoint_text(record['a'], conv.a_port)}\n"
                       f"Node 1: {endpoint_text(record['b'], conv.b_port)}\n")
        self.started = True

    def chunk(self, forward: bool, data: bytes | Gap) -> None:
        if type(data) is Gap:
            data = gap_text(data)
        indent = "" if forward else "\t"
        if self.mode == "raw":
            self.out.write(f"{indent}{data.hex()}\n")
        elif self.mode == "ascii":
            self.out.write(f"{indent}{len(data)}\n{_printable(data, keep_breaks=True)}\n")
        else:
            side = 0 if forward else 1
            for start in range(0, len(data), 16):
                self.out.write(f"{indent}{_hex_line(self.offsets[side] + start, data[start : start + 16])}\n")
            self.offsets[side] += len(data)

    def footer(self) -> None:
        self.out.write(f"{_RULE}\n")


_PRINTABLE = bytes(byte if 0x20 <= byte < 0x7F else 0x2E for byte in range(256))
_PRINTABLE_BREAKS = bytes(byte if 0x20 <= byte < 0x7F or byte in (9, 10, 13) else 0x2E for byte in range(256))


def _printable(data: bytes, keep_breaks: bool = False) -> str:
    return data.translate(_PRINTABLE_BREAKS if keep_breaks else _PRINTABLE).decode("ascii")


def _hex_line(offset: int, row: bytes) -> str:
    hex_part = " ".join(f"{byte:02x}" for byte in row[:8]) + " "
    if len(row) > 8:
        hex_part += " " + " ".join(f"{byte:02x}" for byte in row[8:]) + " "
    text = _printable(row[:8]) + (" " + _printable(row[8:]) if len(row) > 8 else "")
    return f"{offset:08X}  {hex_part:<50}{text}"


def write_streams(chunks: Iterable[tuple[Conversation, bool, bytes | Gap]], directory: Path) -> list[Path]:
    """Append each direction of each stream to its own file in `directory`; return the files made.
    Names say stream, sender and receiver: 000003-198.18.0.1.40000-198.18.0.2.80.bin. Files hold
    the captured bytes only: where the capture missed some, nothing stands in for them."""
    directory.mkdir(parents=True, exist_ok=True)
    made: dict[tuple[int, bool], Path] = {}
    for conv, forward, data in chunks:
        if type(data) is Gap:
            continue
        path = made.get((conv.stream, forward))
        if path is None:
            record = conv.record(conv.first_ns)
            ends = [f"{record['a']}.{conv.a_port}", f"{record['b']}.{conv.b_port}"]
            if not forward:
                ends.reverse()
            path = made[(conv.stream, forward)] = directory / f"{conv.stream:06d}-{ends[0]}-{ends[1]}.bin"
            path.write_bytes(b"")
        with path.open("ab") as out:
            out.write(data)
    return sorted(made.values())

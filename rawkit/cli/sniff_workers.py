"""`rawkit sniff --workers N -w FILE`: N processes share one capture through PACKET_FANOUT (flow hash,
so each flow stays in one process, in order), each writing its own part file; at the end the parts
are merged by timestamp into FILE and the counts added up.

Why processes: the per-frame work is Python, so one core is the limit of one process; fanout lets
the kernel spread frames over cores without any frame going to two workers.
"""

from __future__ import annotations

import heapq
import json
import os
import signal
from pathlib import Path
from typing import Any

from rawkit.cli import Failure


def run_workers(session_type: Any, settings: Any, path: str, pcapng: bool, nano: bool, count: int,
                announce: Any, report: Any) -> None:
    """Fork `count` capturing workers, wait for them, merge their files into `path`, report."""
    group = os.getpid() & 0xFFFF
    parts = [f"{path}.worker{number}" for number in range(count)]
    children: list[tuple[int, Any]] = []
    for part in parts:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            code = 2
            try:
                code = _worker(session_type, settings, group, part, pcapng, nano, write_end)
            finally:
                os._exit(code)
        os.close(write_end)
        children.append((pid, os.fdopen(read_end, "r")))
    pids = [pid for pid, _ in children]

    def forward(_number: int, _frame: object) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {number: signal.signal(number, forward) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        first = [json.loads(pipe.readline() or '{"error": "worker died"}') for _, pipe in children]
        failed = next((message["error"] for message in first if "error" in message), None)
        if failed is not None:
            forward(signal.SIGTERM, None)
        else:
            announce(first[0]["device"], first[0]["linktype"], first[0]["snaplen"], count)
        finals = [json.loads(pipe.readline() or '{"error": "worker died"}') for _, pipe in children]
        for pid, pipe in children:
            pipe.close()
            os.waitpid(pid, 0)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if failed is not None:
        _remove(parts)
        raise Failure(failed, 2)
    captured = _merge(parts, path, pcapng, nano)
    _remove(parts)
    report(captured, sum(final.get("received", 0) for final in finals),
           sum(final.get("dropped", 0) for final in finals))
    stopped = next((final["stopped"] for final in finals if final.get("stopped")), None)
    if stopped:
        raise Failure(stopped, 1)


def _worker(session_type: Any, settings: Any, group: int, part: str, pcapng: bool, nano: bool,
            write_end: int) -> int:
    """One capturing process: tells the parent it is ready (or why not), then its counts."""
    pipe = os.fdopen(write_end, "w")

    def tell(message: dict[str, Any]) -> None:
        pipe.write(json.dumps(message) + "\n")
        pipe.flush()

    try:
        session = session_type(settings, fanout_group=group)
        session.open()
        writer = _writer(part, pcapng, nano, session.capture)
    except Failure as error:
        tell({"error": error.format_message()})
        return 2
    except OSError as error:
        tell({"error": f"{settings.interface}: {error.strerror or error}"})
        return 2
    capture = session.capture
    tell({"device": capture.device, "linktype": capture.linktype, "snaplen": capture.snaplen})
    if pcapng:
        def output(record: Any) -> None:
            writer.write(record[0], record[1], 0, record[2])
    else:
        def output(record: Any) -> None:
            writer.write(record[0], record[1], record[2])
    session.after_batch = _nothing
    try:
        stopped = session.run(output)
    finally:
        writer.close()
    stats = session.final_stats()
    tell({"captured": session.captured, "received": stats.received, "dropped": stats.dropped,
          "stopped": stopped})
    return 0


def _nothing() -> None:
    pass


def _writer(path: str, pcapng: bool, nano: bool, capture: Any) -> Any:
    from rawkit.pcap import PcapNgWriter, PcapWriter

    try:
        if pcapng:
            writer = PcapNgWriter(path)
            writer.add_interface(capture.linktype, capture.snaplen, name=capture.device)
            return writer
        # nanoseconds in the parts: the merge orders by the full timestamp
        return PcapWriter(path, capture.linktype, capture.snaplen, nanosecond=True)
    except OSError as error:
        raise Failure(f"{path}: {error.strerror or error}", 2) from None


def _merge(parts: list[str], path: str, pcapng: bool, nano: bool) -> int:
    """Merge the workers' files by timestamp into `path`; returns the number of packets."""
    from rawkit.pcap import PcapNgWriter, PcapWriter, open_capture

    captures = [open_capture(part) for part in parts]
    try:
        linktype, snaplen = captures[0].linktype, captures[0].snaplen
        if pcapng:
            writer: Any = PcapNgWriter(path)
            writer.add_interface(linktype, snaplen)
        else:
            writer = PcapWriter(path, linktype, snaplen, nanosecond=nano)
        written = 0
        with writer:
            streams = [((pkt.ts_ns, index, pkt) for pkt in capture)
                       for index, capture in enumerate(captures)]
            for _ts, _index, pkt in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
                if pcapng:
                    writer.write(pkt.data, pkt.ts_ns, 0, pkt.wirelen)
                else:
                    writer.write(pkt.data, pkt.ts_ns, pkt.wirelen)
                written += 1
        return written
    finally:
        for capture in captures:
            capture.close()


def _remove(parts: list[str]) -> None:
    for part in parts:
        Path(part).unlink(missing_ok=True)


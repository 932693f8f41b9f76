"""`rawkit replay -i IFACE FILE`: send a capture's frames again, at their original pace, `--speed X`
times faster, or `--topspeed`; a final count on stderr.

Why pacing from the first timestamp rather than from packet to packet: sleeping for each gap adds
up every oversleep, so a long capture drifts; aiming each frame at (its offset / speed) from the
start does not. Ethernet captures go out whole at layer 2; raw IP captures through raw IP sockets.
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

import click

from rawkit.cli import Failure

ETHERNET = 1
RAW_IP_TYPES = (101, 228, 229, 12, 14)


@click.command("replay", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", metavar="FILE")
@click.option("-i", "interface", required=True, metavar="IFACE", help="Interface to send on.")
@click.option("--speed", type=click.FloatRange(min=0.001, max=1e6), default=1.0, show_default=True,
              help="Pace multiplier (2: twice as fast).")
@click.option("--topspeed", is_flag=True, help="Send as fast as possible.")
@click.option("-c", "--count", "limit", type=click.IntRange(min=1), help="Send at most N frames.")
def replay(path: str, interface: str, speed: float, topspeed: bool, limit: int | None) -> None:
    """Send the frames of FILE through IFACE."""
    from rawkit.link import interfaces
    from rawkit.pcap import CaptureError, open_capture

    try:
        interfaces.index(interface)
    except interfaces.UnknownInterface as error:
        raise Failure(str(error.args[0]), 2) from None
    try:
        capture = open_capture(path)
    except CaptureError as error:
        raise Failure(str(error), 1) from None
    except OSError as error:
        raise Failure(f"{path}: {error.strerror or error}", 1) from None
    with capture:
        outcome = _Replay(interface, None if topspeed else speed)
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            outcome.run(capture, limit)
        except CaptureError as error:
            outcome.report()
            raise Failure(str(error), 1) from None
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            outcome.close()
    outcome.report()
    if outcome.failed:
        raise Failure(f"{outcome.failed} packet{'' if outcome.failed == 1 else 's'} could not be sent "
                      f"({outcome.first_error})", 1)


def _interrupt(_number: int, _frame: object) -> None:
    raise KeyboardInterrupt


class _Replay:
    def __init__(self, interface: str, speed: float | None) -> None:
        self.interface = interface
        self.speed = speed
        self.sent = 0
        self.bytes = 0
        self.failed = 0
        self.first_error = ""
        self.started = time.monotonic()
        self._senders: dict[Any, Any] = {}

    def run(self, capture: Any, limit: int | None) -> None:
        first_ts: int | None = None
        for pkt in capture:
            if first_ts is None:
                first_ts = pkt.ts_ns
                self.started = time.monotonic()
            if self.speed is not None:
                due = self.started + (pkt.ts_ns - first_ts) / 1e9 / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self._send(pkt)
            if limit is not None and self.sent + self.failed >= limit:
                return

    def _send(self, pkt: Any) -> None:
        try:
            if pkt.linktype == ETHERNET:
                self._sender(ETHERNET).send(pkt.data)
            elif pkt.linktype in RAW_IP_TYPES:
                from rawkit.link.send import packet_family

                self._sender(packet_family(pkt.data)).send(pkt.data)
            else:
                raise Failure(f"replay sends Ethernet or raw IP captures, not link type {pkt.linktype}", 2)
        except (OSError, ValueError) as error:
            if isinstance(error, PermissionError):
                raise Failure(f"replay needs root or CAP_NET_RAW ({error.strerror})", 2) from None
            self.failed += 1
            self.first_error = self.first_error or str(getattr(error, "strerror", None) or error)
            return
        self.sent += 1
        self.bytes += len(pkt.data)

    def _sender(self, kind: int) -> Any:
        sender = self._senders.get(kind)
        if sender is None:
            from rawkit.link.send import FrameSender, PacketSender

            sender = FrameSender(self.interface) if kind == ETHERNET else PacketSender(kind, self.interface)
            self._senders[kind] = sender
        return sender

    def close(self) -> None:
        for sender in self._senders.values():
            sender.close()

    def report(self) -> None:
        elapsed = time.monotonic() - self.started
        sys.stderr.write(f"{self.sent} packet{'' if self.sent == 1 else 's'} sent ({self.bytes} bytes) "
                         f"in {elapsed:.3f} s\n")
        sys.stderr.flush()

"""What `rawkit connect` and `rawkit listen` share: the stack they run on, moving stdin to the peer and
the peer to stdout (TCP with half-close, or UDP datagrams), and the -v trace.

Why stdin is read by its own thread into a small queue: a blocking read of a terminal or pipe is the
only portable way to send data the moment it arrives, and the bounded queue keeps a large input
streaming (never buffered whole) while the main thread writes what the peer sends.
"""

from __future__ import annotations

import ipaddress
import os
import queue
import socket
import sys
import threading
import time
from typing import Any

from rawkit.cli import Failure

DEFAULT_PREFIX = {4: 24, 6: 64}      # --src without /len: the usual lab and LAN sizes
CHUNK = 65536
UDP_CHUNK = 16384                    # largest datagram made from stdin (OpenBSD nc's read size)
QUEUED_CHUNKS = 16                   # stdin read ahead of the socket: at most 1 MiB
CLOSE_TIMEOUT = 10.0                 # for our FIN and last data to be acknowledged before exiting
POLL = 0.1


def error_line(action: str, error: OSError) -> Failure:
    """`rawkit: connect: Connection refused` (exit 1): the errno text, as netcat prints it."""
    text = os.strerror(error.errno) if error.errno else str(error) or "timed out"
    return Failure(f"{action}: {text}", 1)


def make_stack(iface: str | None, src: str | None, peer: str | None, trace_port: int | None = None) -> Any:
    """The stack: rawkit owns `src` on `iface` (mode "own address"), or without `src` shares the
    kernel's address on `iface` (mode "host address"). Without `iface`, the interface the kernel
    routes `peer` through. With `trace_port`, the stack prints that port's TCP traffic (-v)."""
    from rawkit.stack.host_mode import HostModeError, route_interface
    from rawkit.stack.stack import Stack

    if iface is None:
        if peer is None:
            raise Failure("-i IFACE is needed to listen", 2)
        try:
            iface = route_interface(peer)
        except HostModeError as error:
            raise Failure(str(error), 2) from None

    def build(**kwargs: Any) -> Any:
        return Stack(**kwargs) if trace_port is None else tracing_stack(trace_port, **kwargs)

    if src is None:
        try:
            return build(iface=iface, host_address=True)
        except (HostModeError, ValueError) as error:
            raise Failure(f"{iface}: {error}", 2) from None
    try:
        address = ipaddress.ip_interface(src if "/" in src else f"{src}/{DEFAULT_PREFIX[_version(src)]}")
    except ValueError:
        raise Failure(f"--src {src}: not an IP address", 2) from None
    text = str(address)
    try:
        return build(iface=iface, ip=text) if address.version == 4 else build(iface=iface, ip6=text)
    except PermissionError:
        raise                                   # rawkit's main says "need root or CAP_NET_RAW"
    except OSError as error:
        raise Failure(f"{iface}: {error.strerror or error}", 2) from None


def _version(text: str) -> int:
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        raise Failure(f"--src {text}: not an IP address", 2) from None


def resolve(host: str, port: int, kind: int) -> tuple[int, str]:
    """(family, address text) of HOST: an IP literal or a name the resolver knows."""
    try:
        return (socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET), host
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, type=kind)
    except socket.gaierror as error:
        raise Failure(f"{host}: {error.strerror}", 2) from None
    family, _kind, _proto, _name, address = found[0]
    return family, address[0]


class StdinReader:
    """Chunks of stdin as they arrive (b"" at end of input, then forever)."""

    def __init__(self, fd: int = 0) -> None:
        self.fd = fd
        self.chunks: queue.Queue[bytes] = queue.Queue(QUEUED_CHUNKS)
        self.ended = False
        threading.Thread(target=self._read, name="rawkit-stdin", daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, CHUNK)
            except OSError:
                chunk = b""
            self.chunks.put(chunk)
            if not chunk:
                return

    def get(self, timeout: float) -> bytes | None:
        """The next chunk, b"" at the end, None if nothing came within `timeout`."""
        if self.ended:
            return b""
        try:
            chunk = self.chunks.get(timeout=timeout)
        except queue.Empty:
            return None
        self.ended = not chunk
        return chunk


def write_out(data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(sys.stdout.fileno(), view):]


def tracing_stack(port: int, **kwargs: Any) -> Any:
    """-v: a Stack that prints, on stderr, every TCP segment to or from `port` (local or remote) as
    tcpdump would, and every state change of those connections, in the order the engine saw them.
    Why a subclass of the stack's receive and send steps: a capture would print segments in blocks,
    out of order with the state changes; this sees each one where the engine does (the bulk fast
    path is off, so every segment passes through them)."""
    import rawkit
    from rawkit.stack.stack import Stack
    from rawkit.tcp import address_sum

    class TracingStack(Stack):
        def __init__(self) -> None:
            self._traced: dict[tuple, list] = {}     # connection key -> [connection, last state]
            super().__init__(**kwargs)

        def _take_frames(self, frames: list[bytes], now: float) -> None:
            for frame in frames:          # no bulk fast path: every segment goes through _on_tcp
                self._on_frame(frame, now)

        def _on_tcp(self, source: bytes, local: bytes, data: bytes, now: float, *more: Any) -> None:
            if len(data) >= 4 and port in (int.from_bytes(data[:2], "big"), int.from_bytes(data[2:4], "big")):
                self._print_segment(source, local, data)
            super()._on_tcp(source, local, data, now, *more)
            self.note_states()

        def _send_tcp(self, destination: bytes, segment: Any, now: float, *more: Any) -> None:
            self.note_states()
            if port in (segment.sport, segment.dport):
                source = self.address.packed if len(destination) == 4 else self.address6.packed
                self._print_segment(source, destination, segment.to_bytes(address_sum(source, destination)))
            super()._send_tcp(destination, segment, now, *more)

        def _print_segment(self, source: bytes, destination: bytes, data: bytes) -> None:
            ip = rawkit.IPv4(src=_text(source), dst=_text(destination), proto=6) if len(source) == 4 \
                else rawkit.IPv6(src=_text(source), dst=_text(destination), nh=6)
            packet = rawkit.decode(bytes(ip / rawkit.Raw(load=data)), linktype=rawkit.LINKTYPE_RAW)
            print(packet.summary(), file=sys.stderr, flush=True)

        def note_states(self) -> None:
            for key, connection in self.connections.items():
                if port in (key[1], key[2]) and key not in self._traced:
                    self._traced[key] = [connection, None]
            for entry in self._traced.values():
                connection, last = entry
                if connection.state is not last:
                    before = "" if last is None else f"{last.value} -> "
                    print(f"rawkit: state {before}{connection.state.value}", file=sys.stderr, flush=True)
                    entry[1] = connection.state

        def close(self) -> None:
            with self.lock:
                self.note_states()
            super().close()

    return TracingStack()


def _text(address: bytes) -> str:
    return str(ipaddress.ip_address(address))


def stream(sock: Any, stdin: StdinReader) -> None:
    """Until both directions are done: stdin to the peer (FIN at its end), the peer to stdout.
    If the peer finishes first, stdin is still sent to its end, unless stdin is a terminal."""
    failure: list[OSError] = []
    finished = threading.Event()

    def send() -> None:
        try:
            while not finished.is_set():
                chunk = stdin.get(POLL)
                if chunk is None:
                    continue
                if not chunk:
                    sock.shutdown(socket.SHUT_WR)
                    return
                sock.sendall(chunk)
        except OSError as error:
            failure.append(error)
        finally:
            finished.set()

    sender = threading.Thread(target=send, name="rawkit-send", daemon=True)
    sender.start()
    try:
        while data := sock.recv(CHUNK):
            write_out(data)
    except OSError as error:
        finished.set()
        raise error_line("recv", error) from None
    if os.isatty(stdin.fd):
        finished.set()
    sender.join()
    if failure:
        raise error_line("send", failure[0])
    sock.close()
    connection = sock.connection
    stack = sock.stack
    with stack.lock:
        stack.changed.wait_for(lambda: connection.state.value in ("TIME-WAIT", "CLOSED") or stack.closed,
                               CLOSE_TIMEOUT)


def datagrams(sock: Any, stdin: StdinReader, quiet: float, peer_from: str = "connect",
              verbose: bool = False) -> None:
    """UDP: each stdin chunk (cut to UDP_CHUNK) is one datagram, each datagram received goes to
    stdout. The peer is the connected one (`peer_from` "connect"), the first sender, to which the
    socket then connects ("first"), or whoever sent last ("last"); stdin is read only once there is a
    peer. Ends `quiet` seconds after stdin ended and nothing more arrived (never when `quiet` is
    negative). `verbose` prints each datagram as tcpdump does on stderr."""
    def trace(source: tuple, destination: tuple, length: int) -> None:
        if verbose:
            layer = "IP6" if ":" in source[0] else "IP"
            ends = f"{source[0]}.{source[1]} > {destination[0]}.{destination[1]}"
            print(f"{layer} {ends}: UDP, length {length}", file=sys.stderr, flush=True)

    peer = sock.getpeername() if peer_from == "connect" else None
    ended_at: float | None = None
    last_data = time.monotonic()
    sock.settimeout(POLL)
    while True:
        if ended_at is None and peer is not None:
            chunk = stdin.get(0)
            if chunk == b"":
                ended_at = time.monotonic()
            elif chunk is not None:
                for start in range(0, len(chunk), UDP_CHUNK):
                    try:
                        sent = sock.sendto(chunk[start:start + UDP_CHUNK], peer)
                    except OSError as error:
                        raise error_line("send", error) from None
                    trace(sock.getsockname(), peer, sent)
        try:
            data, sender = sock.recvfrom(CHUNK)
        except TimeoutError:
            pass
        except OSError as error:
            raise error_line("recv", error) from None
        else:
            trace(sender, sock.getsockname(), len(data))
            write_out(data)
            last_data = time.monotonic()
            if peer is None and peer_from == "first":
                sock.connect(sender)
            if peer is None or peer_from == "last":
                peer = sender
        if ended_at is not None and quiet >= 0 and time.monotonic() - max(ended_at, last_data) >= quiet:
            return

#!/usr/bin/env python3
"""Benchmark rawkit's userspace TCP against the kernel's and scapy's TCP_client, in one lab (needs root).

One veth (MTU 1500, offloads off) joins namespaces "rk" and "peer". On the rk end the kernel owns
198.18.0.1 and rawkit's Stack owns 198.18.0.10 (same device, so the same wire for both); the peer's
kernel (198.18.0.2) runs the servers in a separate process, so they never share a GIL with the
client being measured. Measured, each --rounds times:

  download     bytes from a kernel server to the client: rawkit, kernel, scapy (smaller size)
  upload       bytes from the client to a kernel sink (it answers the count)
  connections  connect, one request, the response, close; repeated (connections per second)

Printed: median and spread (min..max) per client, and rawkit's ratio to each peer. Bounded: every
socket has a timeout and scapy's download has a deadline. Traffic stays inside the namespaces this
script creates; they are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

RAWKIT_IP, KERNEL_IP, PEER_IP, SCAPY_IP = "198.18.0.10", "198.18.0.1", "198.18.0.2", "198.18.0.11"
DOWNLOAD_PORT, UPLOAD_PORT, REQUEST_PORT = 9000, 9001, 9002
CHUNK = 1 << 18
TIMEOUT = 30.0
REQUEST, RESPONSE = b"GET /\n", b"OK\n"


# ---------------------------------------------------------------------------------------- server side
def serve(size: int) -> None:
    """The peer's servers (run as `bench_tcp.py serve SIZE` inside the peer namespace)."""
    payload = os.urandom(size)

    def listener(port: int) -> socket.socket:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("0.0.0.0", port))
        server.listen(4096)
        return server

    def loop(server: socket.socket, handle: Callable[[socket.socket], None]) -> None:
        while True:
            connection, _ = server.accept()
            connection.settimeout(TIMEOUT)
            try:
                handle(connection)
            except OSError:
                pass
            finally:
                connection.close()

    def download(connection: socket.socket) -> None:
        amount = int(connection.recv(64))        # the client says how much it wants
        connection.sendall(payload[:amount])

    def upload(connection: socket.socket) -> None:
        total = 0
        while chunk := connection.recv(CHUNK):
            total += len(chunk)
        connection.sendall(str(total).encode())

    def request(connection: socket.socket) -> None:
        connection.recv(64)
        connection.sendall(RESPONSE)

    for port, handle in ((DOWNLOAD_PORT, download), (UPLOAD_PORT, upload), (REQUEST_PORT, request)):
        threading.Thread(target=loop, args=(listener(port), handle), daemon=True).start()
    print("serving", file=sys.stderr, flush=True)
    threading.Event().wait(3600)


# ---------------------------------------------------------------------------------------- client side
def download(make: Callable[[], socket.socket], size: int) -> float:
    """Seconds from connect() to the last of `size` bytes."""
    client = make()
    client.settimeout(TIMEOUT)
    started = time.perf_counter()
    client.connect((PEER_IP, DOWNLOAD_PORT))
    client.sendall(str(size).encode())
    received = 0
    while chunk := client.recv(CHUNK):
        received += len(chunk)
    elapsed = time.perf_counter() - started
    client.close()
    if received != size:
        raise SystemExit(f"bench_tcp: downloaded {received} bytes, expected {size}")
    return elapsed


def upload(make: Callable[[], socket.socket], payload: bytes) -> float:
    client = make()
    client.settimeout(TIMEOUT)
    started = time.perf_counter()
    client.connect((PEER_IP, UPLOAD_PORT))
    client.sendall(payload)
    client.shutdown(socket.SHUT_WR)
    answer = client.recv(64)
    elapsed = time.perf_counter() - started
    client.close()
    if int(answer or b"-1") != len(payload):
        raise SystemExit(f"bench_tcp: sink counted {answer!r}, expected {len(payload)}")
    return elapsed


def connections(make: Callable[[], socket.socket], count: int) -> float:
    """Seconds for `count` sequential connect / request / response / close."""
    started = time.perf_counter()
    for _ in range(count):
        client = make()
        client.settimeout(TIMEOUT)
        client.connect((PEER_IP, REQUEST_PORT))
        client.sendall(REQUEST)
        answer = b""
        while chunk := client.recv(64):
            answer += chunk
        client.close()
        if answer != RESPONSE:
            raise SystemExit(f"bench_tcp: response {answer!r}")
    return time.perf_counter() - started


SCAPY_CLIENT = """
import sys, time
from scapy.config import conf
from scapy.layers.inet import TCP_client
from scapy.packet import Raw
conf.verb = 0
server, port, source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
size, limit = int(sys.argv[4]), float(sys.argv[5])
started = time.perf_counter()
link = TCP_client.tcplink(Raw, server, port, srcip=source)
link.send(str(size).encode())
received = 0
while received < size and time.perf_counter() - started < limit:
    packet = link.recv()
    if packet is not None:
        received += len(packet)
elapsed = time.perf_counter() - started
link.close()
print(received, elapsed)
"""


def scapy_download(namespace, size: int, limit: float) -> float:
    """scapy's TCP_client in a subprocess in the client namespace, from an address the kernel there
    does not own (so it sends no RSTs); returns seconds for `size` bytes."""
    command = [sys.executable, "-c", SCAPY_CLIENT, PEER_IP, str(DOWNLOAD_PORT), SCAPY_IP, str(size),
               str(limit)]
    result = subprocess.run(namespace.command(command), capture_output=True, text=True, timeout=limit + 30)
    fields = result.stdout.split()
    if result.returncode != 0 or len(fields) != 2 or int(fields[0]) != size:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"bench_tcp: scapy download failed ({result.stdout.strip()!r}): {last}")
    return float(fields[1])


# ---------------------------------------------------------------------------------------- reporting
def summary(values: list[float]) -> str:
    return f"{statistics.median(values):9.2f}  ({min(values):.2f}..{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=16, help="download and upload size (default 16)")
    parser.add_argument("--scapy-kilobytes", type=int, default=256, help="scapy download size (default 256)")
    parser.add_argument("--connections", type=int, default=500, help="connections per round (default 500)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-scapy", action="store_true")
    parser.add_argument("--only", choices=("download", "upload", "connections"), action="append",
                        help="measure only this (repeatable; default all three)")
    parser.add_argument("serve", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    size = int(args.megabytes * (1 << 20))
    if args.serve == "serve":
        serve(size)
        return
    from rawkit.link.netns import Lab, LabError
    from rawkit.stack.stack import Stack

    try:
        with Lab() as lab:
            ours, peer = lab.namespace("rk"), lab.namespace("peer")
            link = lab.link(ours, peer, ipv4=(f"{KERNEL_IP}/24", f"{PEER_IP}/24"), mtu=1500)
            peer.run(["ip", "neigh", "add", SCAPY_IP, "lladdr", link.a.mac, "dev", link.b.device])
            server = [sys.executable, os.path.abspath(__file__), "--megabytes", str(args.megabytes), "serve"]
            peer.spawn(server, ready_text="serving", timeout=20)
            stack = ours.call(Stack, link.a.device, f"{RAWKIT_IP}/24")
            try:
                run(args, size, ours, stack)
            finally:
                stack.close()
    except LabError as error:
        raise SystemExit(f"bench_tcp: {error}") from None


def run(args: argparse.Namespace, size: int, ours, stack) -> None:
    """Every client runs on a thread inside the rk namespace (ours.call), so a kernel socket is made
    directly there, with no per-socket thread hop."""
    payload = os.urandom(size)
    clients = {"rawkit": stack.socket, "kernel": socket.socket}
    results: dict[str, dict[str, list[float]]] = {name: {} for name in ("rawkit", "kernel", "scapy")}
    megabytes = size / 1e6
    wanted = set(args.only or ("download", "upload", "connections"))
    for _ in range(args.rounds):
        for name, make in clients.items():
            measures = results[name]
            if "download" in wanted:
                measures.setdefault("download", []).append(megabytes / ours.call(download, make, size))
            if "upload" in wanted:
                measures.setdefault("upload", []).append(megabytes / ours.call(upload, make, payload))
            if "connections" in wanted:
                seconds = ours.call(connections, make, args.connections)
                measures.setdefault("connections", []).append(args.connections / seconds)
        if not args.skip_scapy and "download" in wanted:
            scapy_size = args.scapy_kilobytes << 10
            seconds = scapy_download(ours, scapy_size, 120.0)
            results["scapy"].setdefault("download", []).append(scapy_size / 1e6 / seconds)
    print(f"bench_tcp: MTU 1500, offloads off, {args.rounds} rounds; median (min..max)")
    units = {measure: unit for measure, unit in (("download", "MB/s"), ("upload", "MB/s"),
                                                 ("connections", "conn/s")) if measure in wanted}
    for measure, unit in units.items():
        for name in ("rawkit", "kernel", "scapy"):
            if measure in results[name]:
                print(f"  {measure:11} {name:6} {summary(results[name][measure])} {unit}")
    rawkit, kernel = results["rawkit"], results["kernel"]
    for measure in units:
        ratio = statistics.median(rawkit[measure]) / statistics.median(kernel[measure])
        print(f"  ratio {measure:11} rawkit/kernel {ratio:.3f}")
    if results["scapy"]:
        ratio = statistics.median(rawkit["download"]) / statistics.median(results["scapy"]["download"])
        print(f"  ratio download    rawkit/scapy  {ratio:.1f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark rawkit's userspace TCP (rawkit.stack.Stack) against the kernel's on the same lab (needs root).

Two veth pairs join the same two namespaces: on the first, rawkit's Stack owns 198.18.0.10 and the
kernel of the other namespace serves at 198.18.0.2; on the second, both ends are kernel addresses
(198.18.1.1 -> 198.18.1.2). One kernel sink server per link reads everything and answers with the byte
count; a transfer is timed from connect() to that answer. Printed: MB/s of each, per direction
(rawkit sending, rawkit receiving), and the rawkit/kernel ratio, as the median of --rounds.

Traffic stays inside the namespaces this script creates; they are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import threading
import time

from rawkit.link.netns import Lab, LabError
from rawkit.stack.stack import Stack


def serve(server: socket.socket, payload: bytes, upload: bool, rounds: int) -> None:
    """Per connection: read to EOF and answer the count (upload), or send `payload` and close."""
    for _ in range(rounds):
        connection, _ = server.accept()
        with connection:
            if upload:
                total = 0
                while chunk := connection.recv(1 << 16):
                    total += len(chunk)
                connection.sendall(str(total).encode())
            else:
                connection.sendall(payload)


def transfer(client, address: tuple[str, int], payload: bytes, upload: bool) -> float:
    started = time.perf_counter()
    client.connect(address)
    if upload:
        client.sendall(payload)
        client.shutdown(socket.SHUT_WR)
        answer = client.recv(64)
        if int(answer) != len(payload):
            raise SystemExit(f"bench_stack_tcp: server counted {answer!r}, expected {len(payload)}")
    else:
        received = 0
        while chunk := client.recv(1 << 16):
            received += len(chunk)
        if received != len(payload):
            raise SystemExit(f"bench_stack_tcp: received {received}, expected {len(payload)}")
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    payload = os.urandom(args.megabytes << 20)
    try:
        with Lab() as lab:
            ours, peer = lab.namespace("rk"), lab.namespace("peer")
            rawkit_link = lab.link(ours, peer)
            peer.add_address(rawkit_link.b.device, "198.18.0.2/24")
            lab.link(ours, peer, ipv4=("198.18.1.1/24", "198.18.1.2/24"))
            stack = ours.call(Stack, rawkit_link.a.device, "198.18.0.10/24")
            try:
                for upload in (True, False):
                    results = {}
                    for name, ip, make in (("rawkit", "198.18.0.2", stack.socket),
                                           ("kernel", "198.18.1.2", lambda: ours.socket())):
                        server = peer.socket()
                        server.bind((ip, 0))
                        server.listen()
                        thread = threading.Thread(target=serve, args=(server, payload, upload, args.rounds),
                                                  daemon=True)
                        thread.start()
                        times = [transfer(make(), server.getsockname(), payload, upload)
                                 for _ in range(args.rounds)]
                        thread.join(30)
                        server.close()
                        results[name] = len(payload) / statistics.median(times) / 1e6
                    direction = "rawkit sends   " if upload else "rawkit receives"
                    ratio = results["rawkit"] / results["kernel"]
                    print(f"{direction} {args.megabytes} MB: rawkit {results['rawkit']:8.1f} MB/s  "
                          f"kernel {results['kernel']:8.1f} MB/s  ratio {ratio:.3f}")
            finally:
                stack.close()
    except LabError as error:
        raise SystemExit(f"bench_stack_tcp: {error}") from None


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Record a large realistic capture (>= 200k packets) in a namespace lab, for benchmarks.

Why: decode/filter/analysis benchmarks need a capture shaped like real traffic (bulk transfers
with full-size segments and their ACKs, many short HTTP connections, pings, DNS over UDP), far too
big to commit. This builds it on demand; the file is never committed. Everything runs at once, so
the kinds of traffic interleave as on a busy host, and every part is bounded in count and time.

    python3 tools/make_bench_capture.py [PATH] [--scale 1.0] [--max-seconds 180]

PATH defaults to /tmp/rawkit-bench.pcap. Prints the packet count and how long it took. Needs root.
"""

from __future__ import annotations

import argparse
import http.client
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from record_lab import CLIENT_V4, CLIENT_V6, SERVER_V4, SERVER_V6, DnsResponder, dns_query

from rawkit.link.netns import Lab, LabError, Namespace

HTTP_PORT = 80
BULK_FILES = 5
BULK_SIZE = 24 * 1024 * 1024
SMALL_REQUESTS = 3000
PINGS_V4, PINGS_V6 = 20000, 10000
DNS_QUERIES = 15000


class Budget:
    """A shared deadline: every loop checks it, so the whole run is bounded in time."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    @property
    def over(self) -> bool:
        return self.left() <= 0


def write_webroot(directory: Path, bulk_size: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "small.txt").write_text("small response from the rawkit bench lab\n")
    block = bytes(range(256)) * 4096
    with open(directory / "bulk.bin", "wb") as bulk:
        for _ in range(bulk_size // len(block)):
            bulk.write(block)


def http_gets(client: Namespace, host: str, path: str, count: int, budget: Budget) -> int:
    """`count` sequential GETs, each on its own connection (the server speaks HTTP/1.0)."""

    def run() -> int:
        done = 0
        for _ in range(count):
            if budget.over:
                break
            connection = http.client.HTTPConnection(host, HTTP_PORT, timeout=10)
            connection.request("GET", path)
            response = connection.getresponse()
            while response.read(1 << 20):
                pass
            connection.close()
            done += 1
        return done

    return client.call(run, timeout=max(budget.left(), 1))


def dns_queries(client: Namespace, server: str, count: int, budget: Budget) -> int:
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    answered = 0
    with client.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        for number in range(count):
            if budget.over:
                break
            sock.sendto(dns_query(number & 0xFFFF, f"host{number % 500}.rawkit.test", 1 + 27 * (number % 2)),
                        (server, 53))
            try:
                sock.recv(512)
                answered += 1
            except TimeoutError:
                continue
    return answered


def flood_ping(client: Namespace, address: str, count: int, budget: Budget) -> int:
    deadline = max(int(budget.left()), 1)
    client.run(["ping", "-f", "-q", "-c", str(count), "-w", str(deadline), address], check=False,
               timeout=deadline + 5)
    return count


def record(path: Path, scale: float, max_seconds: float) -> tuple[str, float]:
    budget = Budget(max_seconds)
    with Lab() as lab:
        client, server = lab.namespace("bclient"), lab.namespace("bserver")
        link = lab.link(client, server, ipv4=(CLIENT_V4, SERVER_V4), ipv6=(CLIENT_V6, SERVER_V6))
        webroot = Path(lab.workdir) / "www"
        write_webroot(webroot, BULK_SIZE)
        server.spawn(["python3", "-m", "http.server", str(HTTP_PORT), "--bind", "::", "--directory",
                      str(webroot)], stderr=subprocess.DEVNULL)
        server.wait_listening(HTTP_PORT)
        responder = DnsResponder(server, link.b.ip, link.b.ip6)
        log = Path(lab.workdir) / "tcpdump.log"
        tcpdump = client.spawn(["tcpdump", "-i", link.a.device, "-n", "-B", "262144", "-Z", "root", "-w",
                                str(path)], stderr=log, ready_text="listening on", timeout=10)
        started = time.monotonic()
        v4, v6 = link.b.ip, link.b.ip6
        jobs = [
            lambda: http_gets(client, v4, "/bulk.bin", round(BULK_FILES * scale / 2 + 0.5), budget),
            lambda: http_gets(client, v6, "/bulk.bin", round(BULK_FILES * scale / 2), budget),
            lambda: http_gets(client, v4, "/small.txt", round(SMALL_REQUESTS * scale * 2 / 3), budget),
            lambda: http_gets(client, v6, "/small.txt", round(SMALL_REQUESTS * scale / 3), budget),
            lambda: flood_ping(client, v4, round(PINGS_V4 * scale), budget),
            lambda: flood_ping(client, v6, round(PINGS_V6 * scale), budget),
            lambda: dns_queries(client, v4, round(DNS_QUERIES * scale / 2), budget),
            lambda: dns_queries(client, v6, round(DNS_QUERIES * scale / 2), budget),
        ]
        failures: list[BaseException] = []

        def run(job) -> None:
            try:
                job()
            except BaseException as error:  # reported after the capture is closed
                failures.append(error)

        threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(budget.left(), 0) + 10)
        elapsed = time.monotonic() - started
        time.sleep(1.5)  # tcpdump hands over ring blocks at least every second
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(30)
        responder.close()
        statistics = "; ".join(line for line in log.read_text().splitlines() if "packets" in line)
        if failures:
            raise LabError(f"traffic failed: {failures[0]!r}")
        return statistics, elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=Path("/tmp/rawkit-bench.pcap"))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every traffic count")
    parser.add_argument("--max-seconds", type=float, default=180.0, help="stop generating traffic then")
    args = parser.parse_args(argv)
    try:
        statistics, elapsed = record(args.path.resolve(), args.scale, args.max_seconds)
    except LabError as error:
        print(f"make_bench_capture: {error}", file=sys.stderr)
        return 2
    print(f"{args.path}: {statistics}")
    print(f"{args.path}: {args.path.stat().st_size} bytes, traffic took {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

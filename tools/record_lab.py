#!/usr/bin/env python3
"""Record real traffic in a namespace lab into captures/lab-traffic.pcap (Ethernet, tcpdump on the
client's veth) and captures/lab-any.pcap (Linux SLL2, tcpdump -i any inside the client namespace).

Why: decoders and tcpdump-identical output need captures of what a real kernel sends, not only
crafted frames. The traffic is bounded and always has the same shape: ARP and neighbour discovery
(caches flushed first), pings over IPv4 and IPv6 including 3000-byte ones that fragment, HTTP GETs
over both (one ~20 KB response, so several segments; a 404), a TCP connection the client closes
first, a refused TCP port (RST), a closed UDP port (ICMP port unreachable), DNS A and AAAA queries
to a small responder on port 53; then a closed UDP port and a ping on the client's loopback, which
only the `-i any` capture sees. Nothing leaves the lab's namespaces. Needs root.

    python3 tools/record_lab.py [--output-dir captures]
"""

from __future__ import annotations

import argparse
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from rawkit.link.netns import Lab, LabError, Link, Namespace

CLIENT_V4, SERVER_V4 = "198.18.0.1/24", "198.18.0.2/24"
CLIENT_V6, SERVER_V6 = "fd00:18::1/64", "fd00:18::2/64"
HTTP_PORT = 80
DNS_PORT = 53
DNS_NAME = "lab.rawkit.test"
REFUSED_TCP_PORT = 81
CLOSED_UDP_PORT = 9
QUIET_AFTER_LINK_UP = 2.5  # seconds for the kernel's own MLD reports and router solicitations to end
PAUSE = 0.05  # between exchanges, so the capture reads as separate steps

QTYPE_A, QTYPE_AAAA = 1, 28


# -- a tiny DNS responder ------------------------------------------------------------------------
def dns_query(query_id: int, name: str, qtype: int) -> bytes:
    """A standard recursive query for one name."""
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes((len(part),)) + part.encode() for part in name.split(".")) + b"\x00"
    return header + labels + struct.pack("!HH", qtype, 1)


def dns_answer(request: bytes, ipv4: str, ipv6: str) -> bytes | None:
    """Answer an A or AAAA question with the given address (other types: no answer records);
    None for anything that is not a well-formed single-question query."""
    if len(request) < 12:
        return None
    query_id, flags, questions = struct.unpack_from("!HHH", request)
    if flags & 0x8000 or questions != 1:
        return None
    index = 12
    while index < len(request) and request[index]:
        index += 1 + request[index]
    if index + 5 > len(request):
        return None
    question = request[12 : index + 5]
    qtype = struct.unpack_from("!H", request, index + 1)[0]
    records = b""
    if qtype in (QTYPE_A, QTYPE_AAAA):
        family, address = (socket.AF_INET, ipv4) if qtype == QTYPE_A else (socket.AF_INET6, ipv6)
        rdata = socket.inet_pton(family, address)
        records = struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(rdata)) + rdata
    header = struct.pack("!HHHHHH", query_id, 0x8180, 1, 1 if records else 0, 0, 0)
    return header + question + records


class DnsResponder:
    """Answers queries on a dual-stack UDP socket made in the server namespace, from a thread."""

    def __init__(self, server: Namespace, ipv4: str, ipv6: str, port: int = DNS_PORT) -> None:
        self.sock = server.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        self.sock.bind(("::", port))
        self.sock.settimeout(0.1)
        self.addresses = (ipv4, ipv6)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="dns-responder", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                request, peer = self.sock.recvfrom(512)
            except TimeoutError:
                continue
            reply = dns_answer(request, *self.addresses)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(2)
        self.sock.close()


# -- the lab --------------------------------------------------------------------------------------
def write_webroot(directory: Path) -> None:
    """A small page, a ~20 KB one (several TCP segments) and nothing else (so /missing is a 404)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "index.html").write_text("<html><body>rawkit lab</body></html>\n")
    lines = [f"line {number:05d} of the rawkit lab's twenty-kilobyte response\n" for number in range(400)]
    (directory / "big.txt").write_text("".join(lines)[:20000])


def start_capture(namespace: Namespace, interface: str, path: Path) -> subprocess.Popen:
    """tcpdump writing every frame at once (-U, immediate mode), default snap length, as root
    (-Z root), with a 32 MB ring: an `-i any` ring has 64 KB slots, a default one holds too few of
    them for a burst of segments. Its stderr goes to `path` + ".log"."""
    log = path.parent / f"{path.name}.log"
    return namespace.spawn(["tcpdump", "-i", interface, "-n", "-U", "--immediate-mode", "-B", "32768",
                            "-Z", "root", "-w", str(path)],
                           stderr=log, ready_text="listening on", timeout=10)


def stop_capture(process: subprocess.Popen, path: Path) -> str:
    """Stop tcpdump cleanly (SIGINT) and return its statistics ("N packets captured ...");
    a capture that lost frames is an error, not a capture to commit."""
    time.sleep(0.3)  # let the last frames arrive
    process.send_signal(signal.SIGINT)
    process.wait(10)
    log = path.parent / f"{path.name}.log"
    lines = log.read_text().splitlines()
    log.unlink()
    statistics = "; ".join(line for line in lines if "packets" in line)
    if "; 0 packets dropped by kernel" not in statistics:
        raise LabError(f"tcpdump lost frames writing {path.name}: {statistics or 'no statistics'}")
    return statistics


def http_get(client: Namespace, url: str) -> None:
    client.run(["curl", "-s", "-o", "/dev/null", "--max-time", "5", "-g", url])


def connect_and_close(client: Namespace, address: str, port: int) -> None:
    """A TCP connection the client closes first without sending (FIN from each side)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with client.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        sock.connect((address, port))
        sock.shutdown(socket.SHUT_WR)
        sock.recv(1)  # the server's FIN


def refused_connect(client: Namespace, address: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with client.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(3)
        result = sock.connect_ex((address, port))
    if result != 111:  # ECONNREFUSED
        raise LabError(f"expected a refused connection to {address} port {port}, got errno {result}")


def closed_udp_port(client: Namespace, address: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with client.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.connect((address, port))
        sock.send(b"is anyone there?\n")
        try:
            sock.recv(64)
        except ConnectionRefusedError:  # the ICMP port unreachable, reported on the socket
            return
    raise LabError(f"no port unreachable from {address} port {port}")


def dns_lookup(client: Namespace, server: str, query_id: int, qtype: int) -> bytes:
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    with client.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(dns_query(query_id, DNS_NAME, qtype), (server, DNS_PORT))
        reply = sock.recv(512)
    if reply[:2] != query_id.to_bytes(2, "big") or reply[6:8] != b"\x00\x01":
        raise LabError(f"DNS query {query_id:#06x} to {server} got no answer record")
    return reply


def build_lab(lab: Lab) -> tuple[Namespace, Namespace, Link]:
    client, server = lab.namespace("client"), lab.namespace("server")
    for namespace in (client, server):
        namespace.sysctl("net.ipv6.conf.default.router_solicitations", 0)
    link = lab.link(client, server, ipv4=(CLIENT_V4, SERVER_V4), ipv6=(CLIENT_V6, SERVER_V6))
    return client, server, link


def generate_traffic(client: Namespace, server_v4: str, server_v6: str) -> None:
    """The fixed sequence of exchanges; each one checks it got the answer it should."""
    steps = [
        lambda: client.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", server_v4]),  # ARP first
        lambda: client.run(["ping", "-c", "2", "-i", "0.2", "-W", "2", server_v6]),  # NS/NA first
        lambda: client.run(["ping", "-c", "1", "-s", "3000", "-W", "2", server_v4]),  # fragments
        lambda: client.run(["ping", "-c", "1", "-s", "3000", "-W", "2", server_v6]),
    ]
    for host in (server_v4, f"[{server_v6}]"):
        for path in ("/", "/big.txt", "/missing"):
            steps.append(lambda host=host, path=path: http_get(client, f"http://{host}:{HTTP_PORT}{path}"))
    for address in (server_v4, server_v6):
        steps += [
            lambda address=address: connect_and_close(client, address, HTTP_PORT),
            lambda address=address: refused_connect(client, address, REFUSED_TCP_PORT),
            lambda address=address: closed_udp_port(client, address, CLOSED_UDP_PORT),
        ]
    steps += [
        lambda: dns_lookup(client, server_v4, 0x1A01, QTYPE_A),
        lambda: dns_lookup(client, server_v4, 0x1A02, QTYPE_AAAA),
        lambda: dns_lookup(client, server_v6, 0x1A03, QTYPE_AAAA),
        lambda: dns_lookup(client, server_v6, 0x1A04, QTYPE_A),
    ]
    steps += [  # inside the client: only the `-i any` capture sees loopback
        lambda: closed_udp_port(client, "127.0.0.1", CLOSED_UDP_PORT),
        lambda: client.run(["ping", "-c", "1", "-W", "2", "::1"]),
    ]
    for step in steps:
        step()
        time.sleep(PAUSE)


def record(output_dir: Path) -> list[Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    ethernet_path, any_path = output_dir / "lab-traffic.pcap", output_dir / "lab-any.pcap"
    with Lab() as lab:
        client, server, link = build_lab(lab)
        webroot = Path(lab.workdir) / "www"
        write_webroot(webroot)
        server.spawn(["python3", "-m", "http.server", str(HTTP_PORT), "--bind", "::", "--directory",
                      str(webroot)], stderr=subprocess.DEVNULL)
        server.wait_listening(HTTP_PORT)
        responder = DnsResponder(server, link.b.ip, link.b.ip6)
        try:
            time.sleep(QUIET_AFTER_LINK_UP)
            for namespace in (client, server):
                namespace.flush_neighbours()
            captures = [start_capture(client, link.a.device, ethernet_path),
                        start_capture(client, "any", any_path)]
            generate_traffic(client, link.b.ip, link.b.ip6)
            for capture, path in zip(captures, (ethernet_path, any_path), strict=True):
                print(f"{path.name}: {stop_capture(capture, path)}")
        finally:
            responder.close()
    return [ethernet_path, any_path]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_dir = Path(__file__).resolve().parent.parent / "captures"
    parser.add_argument("--output-dir", type=Path, default=default_dir)
    args = parser.parse_args(argv)
    try:
        paths = record(args.output_dir)
    except LabError as error:
        print(f"record_lab: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(f"{path}: {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

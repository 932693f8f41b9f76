"""rawkit's TCP against the kernel's through the impairment relay (5% loss, 2% reordering, 1%
duplication, 10 ms one-way delay in each direction), IPv4 and IPv6: data intact both ways, no hang,
rawkit's retransmissions and SACK blocks seen on the wire, completion time printed next to the
kernel's own through the same relay.

The default size keeps each test near 30 s; RAWKIT_UNDER_FIRE_MB=10 runs the full 10 MB of the
issue's acceptance (minutes).
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time

import pytest

from tests.conftest import needs_root, needs_tool

pytestmark = [needs_root, needs_tool("tcpdump")]

MEGABYTES = float(os.environ.get("RAWKIT_UNDER_FIRE_MB", "1"))
TIMEOUT = 60 + 40 * MEGABYTES           # per transfer: far beyond what a working stack needs
SINK_PORT, SOURCE_PORT = 8101, 8102
FAMILIES = {"ipv4": (socket.AF_INET, "198.18.0.10/24", None),
            "ipv6": (socket.AF_INET6, None, "fd00:18::10/64")}


def kernel_servers(namespace, family: int, address: str, payload: bytes) -> list[socket.socket]:
    """In B: a sink answering the sha256 of what it read, and a source sending `payload`; each serves
    any number of connections, one at a time, on a daemon thread."""
    def serve(server: socket.socket, handle) -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return                              # closed at the end of the test
            with connection:
                connection.settimeout(TIMEOUT)
                try:
                    handle(connection)
                except OSError:
                    pass

    def sink(connection: socket.socket) -> None:
        digest = hashlib.sha256()
        while chunk := connection.recv(1 << 16):
            digest.update(chunk)
        connection.sendall(digest.digest())

    def source(connection: socket.socket) -> None:
        connection.sendall(payload)

    servers = []
    for port, handle in ((SINK_PORT, sink), (SOURCE_PORT, source)):
        server = namespace.socket(family, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((address, port))
        server.listen()
        threading.Thread(target=serve, args=(server, handle), daemon=True).start()
        servers.append(server)
    return servers


def upload(make, address: str, payload: bytes) -> tuple[float, bytes]:
    """(seconds, the sink's sha256) for sending `payload` and half-closing."""
    client = make()
    client.settimeout(TIMEOUT)
    started = time.monotonic()
    client.connect((address, SINK_PORT))
    client.sendall(payload)
    client.shutdown(socket.SHUT_WR)
    answer = b""
    while chunk := client.recv(64):
        answer += chunk
    client.close()
    return time.monotonic() - started, answer


def download(make, address: str) -> tuple[float, bytes]:
    """(seconds, sha256 of what arrived) for reading the source to its end."""
    client = make()
    client.settimeout(TIMEOUT)
    started = time.monotonic()
    client.connect((address, SOURCE_PORT))
    digest = hashlib.sha256()
    while chunk := client.recv(1 << 16):
        digest.update(chunk)
    client.close()
    return time.monotonic() - started, digest.digest()


def wire_evidence(capture: str, rawkit_ip: str) -> tuple[int, int]:
    """(data segments rawkit sent again with a sequence number already seen, rawkit's segments that
    carry SACK blocks), read back from the capture with rawkit's own reader."""
    import rawkit

    seen: set[int] = set()
    retransmitted = with_sack = 0
    for packet in rawkit.read(capture):
        if packet.tcp is None or packet.ip is None or packet.ip.src != rawkit_ip:
            continue
        if packet.payload:
            if packet.tcp.seq in seen:
                retransmitted += 1
            seen.add(packet.tcp.seq)
        if any(name == "SAck" for name, _value in packet.tcp.options):
            with_sack += 1
    return retransmitted, with_sack


@pytest.mark.parametrize("family_name", list(FAMILIES))
def test_bulk_both_ways_through_loss_reordering_and_duplication(family_name, tmp_path):
    from rawkit.link.impairment import Impairment
    from rawkit.link.relay import RelayLab
    from rawkit.stack.stack import Stack

    family, ip, ip6 = FAMILIES[family_name]
    payload = os.urandom(int(MEGABYTES * (1 << 20)))
    expected = hashlib.sha256(payload).digest()
    impairment = Impairment(loss=0.05, reorder=0.02, duplicate=0.01, delay=0.010, seed=2026)
    with RelayLab(impairment) as lab:
        peer = lab.b_end.ip if family == socket.AF_INET else lab.b_end.ip6
        rawkit_ip = (ip or ip6).split("/")[0]
        capture = str(tmp_path / "b.pcap")
        tcpdump = lab.b.spawn(["tcpdump", "-i", lab.b_end.device, "-U", "-s", "128", "-w", capture,
                               f"tcp and host {rawkit_ip}"], ready_text="listening on", timeout=10)
        servers = kernel_servers(lab.b, family, peer, payload)
        stack = lab.a.call(Stack, lab.a_end.device, ip, ip6=ip6)
        try:
            rawkit_up = lab.a.call(upload, lambda: stack.socket(family), peer, payload)
            rawkit_down = lab.a.call(download, lambda: stack.socket(family), peer)
        finally:
            stack.close()
        kernel_up = lab.a.call(upload, lambda: socket.socket(family), peer, payload)
        kernel_down = lab.a.call(download, lambda: socket.socket(family), peer)
        for server in servers:
            server.close()
        tcpdump.terminate()
        tcpdump.wait(5)
        counters = lab.relay.counters()
        # the namespaces inherit the host's default controller (bbr here, which does not back off for
        # random loss, while rawkit runs CUBIC): say which one the kernel figures are for
        kernel_cc = lab.a.run(["sysctl", "-n", "net.ipv4.tcp_congestion_control"]).stdout.strip()
    print(f"\n{family_name} {MEGABYTES:g} MB through 5% loss, 2% reorder, 1% dup, 10 ms each way: "
          f"rawkit (cubic) up {rawkit_up[0]:.1f} s, down {rawkit_down[0]:.1f} s; "
          f"kernel ({kernel_cc}) up {kernel_up[0]:.1f} s, down {kernel_down[0]:.1f} s")
    assert rawkit_up[1] == expected, "the kernel sink saw different bytes from rawkit"
    assert rawkit_down[1] == expected, "rawkit received different bytes from the kernel"
    assert kernel_up[1] == expected and kernel_down[1] == expected
    for direction in ("a_to_b", "b_to_a"):
        assert counters[direction]["lost"] > 0 and counters[direction]["reordered"] > 0
        assert counters[direction]["duplicated"] > 0
    retransmitted, with_sack = wire_evidence(capture, rawkit_ip)
    assert retransmitted > 0, "no retransmission by rawkit reached the peer"
    assert with_sack > 0, "rawkit sent no SACK blocks although segments were lost and reordered"


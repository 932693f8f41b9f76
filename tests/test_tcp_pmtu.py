"""Path MTU: ICMP fragmentation-needed / ICMPv6 packet-too-big lower the engine's MSS and what was in
flight goes again at once (no timeout, no congestion response); messages quoting a sequence number
we do not have in flight are ignored. The stack reads such messages off the wire (a lab with a
router whose next link has a smaller MTU) and hands them to the engine."""

from __future__ import annotations

import hashlib
import os
import socket
import struct
import threading
import time

from rawkit.stack.pmtu import PacketTooBig, packet_too_big
from rawkit.tcp import Segment, State
from rawkit.tcp import seq as seqmath
from rawkit.tcp.testing import Pair
from rawkit.wire.ipv4 import IPv4
from rawkit.wire.ipv6 import IPv6
from rawkit.wire.tcp import TCP as TcpBuilder
from tests.conftest import needs_root
from tests.test_stack_ipv6 import PEER_IP6, RAWKIT_IP6, lab6  # noqa: F401 - the fixture


def path_with_mtu(pair: Pair, mtu: int, reports: list[tuple[float, int]]):
    """A channel rule acting as a router before a link of `mtu`: it drops what does not fit and at
    once tells the sender, as ICMP would."""
    def rule(segment: Segment) -> float | None:
        size = 40 + len(segment.options_bytes()) + len(segment.payload)
        if size > mtu:
            reports.append((pair.now, segment.seq))
            pair.c.packet_too_big(mtu - 40, segment.seq, pair.now)
            return None
        return 0.0
    return rule


def test_transfer_shrinks_to_the_path_without_a_timeout():
    pair = Pair(delay=0.02)
    pair.handshake()
    assert pair.c.send_mss == 1448
    reports: list[tuple[float, int]] = []
    pair.to_server.rule = path_with_mtu(pair, 1000, reports)
    data = os.urandom(300_000)
    pair.client.outbox += data
    assert pair.run(until=lambda: len(pair.server.inbox) == len(data), limit=20)
    assert bytes(pair.server.inbox) == data
    assert pair.c.send_mss == 1000 - 40 - 12                     # less the timestamp option
    assert reports and pair.c.retries == 0 and pair.c.backoff == 0
    first = reports[0][0]
    late = [s for t, s in pair.to_server.sent if t > first and s.payload]
    assert late and all(len(s.payload) <= 948 for s in late)
    assert pair.c.congestion.ssthresh > 1 << 29                  # never treated as congestion


def test_messages_not_quoting_data_in_flight_are_ignored():
    pair = Pair(delay=0.02)
    pair.handshake()
    assert not pair.c.packet_too_big(500, pair.c.snd_una, pair.now)            # nothing in flight
    pair.client.outbox += bytes(5000)
    pair.exchange()
    client = pair.c
    assert client.snd_una != client.snd_max
    assert not client.packet_too_big(500, seqmath.add(client.snd_una, -1), pair.now)   # before the window
    assert not client.packet_too_big(500, client.snd_max, pair.now)                    # beyond it
    assert not client.packet_too_big(2000, client.snd_una, pair.now)                   # no larger MSS
    assert client.send_mss == 1448
    assert client.packet_too_big(500, seqmath.add(client.snd_una, 1448), pair.now)
    assert client.send_mss == 488 and client.snd_nxt == client.snd_una


def test_ignored_before_the_handshake_completes():
    pair = Pair(delay=0.02)
    pair.connect()
    pair.c.poll(pair.now)
    assert pair.c.state is State.SYN_SENT and not pair.c.packet_too_big(500, pair.c.iss, pair.now)


def quoted_tcp(ip, sport: int = 40000, dport: int = 80, seq: int = 123456) -> bytes:
    return bytes(ip / TcpBuilder(sport=sport, dport=dport, seq=seq, flags="PA") / bytes(1400))


def test_parses_ipv4_fragmentation_needed():
    quoted = quoted_tcp(IPv4(src="198.18.0.10", dst="198.18.2.2"))
    message = bytes((3, 4, 0, 0, 0, 0)) + (1000).to_bytes(2, "big") + quoted[:28]   # IP + 8 bytes of TCP
    assert packet_too_big(4, message) == PacketTooBig(socket.inet_aton("198.18.2.2"), 80, 40000, 123456, 960)
    tiny = message[:6] + (68).to_bytes(2, "big") + message[8:]
    assert packet_too_big(4, tiny).path_mss == 552 - 40                          # raised to min_pmtu
    assert packet_too_big(4, bytes((3, 3)) + message[2:]) is None                # port unreachable
    assert packet_too_big(4, message[:8 + 27]) is None                           # less than 8 TCP bytes
    udp = bytes(IPv4(src="198.18.0.10", dst="198.18.2.2", proto=17)) + bytes(8)
    assert packet_too_big(4, message[:8] + udp) is None


def test_parses_icmpv6_packet_too_big():
    quoted = quoted_tcp(IPv6(src="fd00:18::10", dst="fd00:18:2::2"))
    message = bytes((2, 0, 0, 0)) + (1400).to_bytes(4, "big") + quoted[:1232]
    report = packet_too_big(16, message)
    assert report == PacketTooBig(socket.inet_pton(socket.AF_INET6, "fd00:18:2::2"), 80, 40000, 123456,
                                  1400 - 60)
    tiny = message[:4] + (600).to_bytes(4, "big") + message[8:]
    assert packet_too_big(16, tiny).path_mss == 1280 - 60                        # IPv6's minimum MTU
    assert packet_too_big(16, bytes((1,)) + message[1:]) is None                 # unreachable, not PTB


def hash_until_eof(server: socket.socket, timeout: float) -> tuple[threading.Thread, dict[str, str]]:
    """The kernel peer's side of a bulk transfer, on a thread: accept one connection, hash all it
    sends until EOF, then answer b"done"; the digest lands in the returned dict under "got"."""
    digest: dict[str, str] = {}

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            connection.settimeout(timeout)
            hasher = hashlib.sha256()
            while chunk := connection.recv(65536):
                hasher.update(chunk)
            digest["got"] = hasher.hexdigest()
            connection.sendall(b"done")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread, digest


@needs_root
def test_stack_follows_a_router_that_reports_a_smaller_mtu():
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    with Lab() as lab:
        ours, router, peer = lab.namespace("rk"), lab.namespace("rt", forwarding=True), lab.namespace("pe")
        near = lab.link(ours, router, ipv4=(None, "198.18.1.1/24"))
        far = lab.link(router, peer, ipv4=("198.18.2.1/24", "198.18.2.2/24"))
        router.run(["ip", "link", "set", far.a.device, "mtu", "1000"])     # the peer still says MSS 1460
        peer.route("198.18.1.0/24", via="198.18.2.1")
        server = peer.socket()
        server.bind(("198.18.2.2", 8200))
        server.listen()
        server.settimeout(10)
        thread, digest = hash_until_eof(server, timeout=10)
        stack = ours.call(Stack, near.a.device, "198.18.1.10/24", gateway="198.18.1.1")
        try:
            data = os.urandom(300_000)
            with server, stack.socket() as client:
                client.settimeout(10)
                client.connect(("198.18.2.2", 8200))
                client.sendall(data)
                client.shutdown(socket.SHUT_WR)
                assert client.recv(10) == b"done"
                assert client.connection.send_mss <= 1000 - 40 - 12
        finally:
            stack.close()
        thread.join(5)
        assert digest.get("got") == hashlib.sha256(data).hexdigest()



@needs_root
def test_stack_takes_an_icmpv6_packet_too_big_from_the_wire(lab6):  # noqa: F811
    """The kernel peer drops our data (nft), so it stays in flight; the peer then sends a real ICMPv6
    packet-too-big quoting it. The MSS drops to IPv6's minimum and the data arrives once let through."""
    peer, stack = lab6
    server = peer.socket(socket.AF_INET6)
    server.bind((PEER_IP6, 8300))
    server.listen()
    server.settimeout(10)
    thread, digest = hash_until_eof(server, timeout=15)
    table = f"rkpmtu{os.getpid()}"
    data = os.urandom(30_000)
    with server, stack.socket(socket.AF_INET6) as client:
        client.settimeout(15)
        client.connect((PEER_IP6, 8300))
        peer.run(["nft", "add", "table", "inet", table, "{ chain in { type filter hook input priority 0; "
                  "tcp dport 8300 meta length > 200 drop; }; }"])
        try:
            client.sendall(data)
            connection = client.connection
            for _ in range(100):                         # sendall returns once queued: wait until sent
                with stack.lock:
                    in_flight = connection.snd_una
                    if connection.snd_max != in_flight:
                        break
                time.sleep(0.01)
            addresses = [socket.inet_pton(socket.AF_INET6, address) for address in (RAWKIT_IP6, PEER_IP6)]
            quoted = struct.pack("!IHBB16s16s", 6 << 28, 1420, 6, 64, *addresses)
            quoted += struct.pack("!HHI", connection.local[1], 8300, in_flight) + bytes(12)
            icmp = peer.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            negotiated = connection.send_mss             # 1428 over IPv6: waiting for "< 1448" was no wait
            with icmp:                                   # the kernel fills in the ICMPv6 checksum
                icmp.sendto(bytes((2, 0, 0, 0)) + (1280).to_bytes(4, "big") + quoted, (RAWKIT_IP6, 0))
            for _ in range(100):
                if connection.send_mss < negotiated:
                    break
                time.sleep(0.02)
            assert connection.send_mss == 1280 - 40 - 20 - 12
        finally:
            peer.run(["nft", "delete", "table", "inet", table], check=False)
        client.shutdown(socket.SHUT_WR)
        assert client.recv(10) == b"done"
    thread.join(5)
    assert digest.get("got") == hashlib.sha256(data).hexdigest()

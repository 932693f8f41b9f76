"""rawkit UDP sockets against the kernel in a namespace lab, IPv4 and IPv6: echo both ways, connected
filtering, ECONNREFUSED from port unreachable (both directions), EMSGSIZE (the kernel as oracle),
select readiness, timeouts and EAGAIN, the receive-buffer bound, bad checksums dropped.

rawkit owns 198.18.0.10 / fd00:18::10 on a veth whose namespace gives the kernel no address; the
kernel of the peer namespace is at 198.18.0.2 / fd00:18::2.
"""

from __future__ import annotations

import errno
import select
import socket
import time

import pytest

from tests.conftest import needs_root

pytestmark = needs_root

ADDRESSES = {socket.AF_INET: ("198.18.0.10", "198.18.0.2"), socket.AF_INET6: ("fd00:18::10", "fd00:18::2")}
FAMILIES = pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])


class UdpLab:
    def __init__(self, peer, stack, family: int) -> None:
        self.peer, self.stack, self.family = peer, stack, family
        self.ours, self.theirs = ADDRESSES[family]

    def kernel(self, port: int = 0, *, connect: tuple | None = None) -> socket.socket:
        sock = self.peer.socket(self.family, socket.SOCK_DGRAM)
        sock.settimeout(5)
        sock.bind((self.theirs, port))
        if connect is not None:
            sock.connect(connect)
        return sock

    def rawkit(self, port: int | None = None):
        sock = self.stack.socket(self.family, socket.SOCK_DGRAM)
        sock.settimeout(5)
        if port is not None:
            sock.bind(("", port))
        return sock


@pytest.fixture(scope="module")
def lab():
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    with Lab() as built:
        ours, peer = built.namespace("rk"), built.namespace("peer")
        link = built.link(ours, peer)
        peer.add_address(link.b.device, "198.18.0.2/24")
        peer.add_address(link.b.device, "fd00:18::2/64")
        peer.wait_ipv6_ready(link.b.device)
        stack = ours.call(Stack, link.a.device, "198.18.0.10/24", ip6="fd00:18::10/64")
        try:
            yield peer, stack, link
        finally:
            stack.close()


@pytest.fixture(params=[socket.AF_INET, socket.AF_INET6], ids=["ipv4", "ipv6"])
def udp(lab, request):
    peer, stack, _link = lab
    return UdpLab(peer, stack, request.param)


def test_echo_rawkit_client_kernel_server(udp):
    with udp.kernel(5000) as server, udp.rawkit() as client:
        for size in (0, 1, 1000, 1472 if udp.family == socket.AF_INET else 1452):
            payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
            assert client.sendto(payload, (udp.theirs, 5000)) == size
            data, address = server.recvfrom(65535)
            assert data == payload and address[:2] == client.getsockname()[:2]
            assert address[0] == udp.ours
            server.sendto(data[::-1], address)
            reply, source = client.recvfrom(65535)
            assert reply == payload[::-1] and source[:2] == (udp.theirs, 5000)


def test_echo_kernel_client_rawkit_server(udp):
    with udp.rawkit(6000) as server, udp.kernel(connect=(udp.ours, 6000)) as client:
        for index in range(20):
            client.send(b"ping %d" % index)
            data, address = server.recvfrom(100)
            assert data == b"ping %d" % index and address[:2] == client.getsockname()[:2]
            server.sendto(b"pong %d" % index, address)
            assert client.recv(100) == b"pong %d" % index


def test_connected_socket_receives_only_from_its_peer(udp):
    with udp.kernel(5100) as wanted, udp.kernel(5101) as other, udp.rawkit(6100) as client:
        client.connect((udp.theirs, 5100))
        assert client.getpeername()[:2] == (udp.theirs, 5100)
        other.sendto(b"not for you", (udp.ours, 6100))
        wanted.sendto(b"for you", (udp.ours, 6100))
        assert client.recv(100) == b"for you"
        client.setblocking(False)
        other.sendto(b"again not", (udp.ours, 6100))
        time.sleep(0.1)
        with pytest.raises(BlockingIOError) as raised:
            client.recv(100)
        assert raised.value.errno == errno.EAGAIN
        client.send(b"to the peer")
        assert wanted.recv(100) == b"to the peer"


def test_port_unreachable_gives_econnrefused_on_a_connected_socket(udp):
    with udp.rawkit() as client:
        client.connect((udp.theirs, 5999))
        client.send(b"anyone?")
        with pytest.raises(ConnectionRefusedError):
            client.recv(100)                      # the blocked call is woken by the error
        client.send(b"again")                     # the error was reported once
        deadline = time.monotonic() + 5
        while client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != errno.ECONNREFUSED:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        client.send(b"third")
        time.sleep(0.2)
        with pytest.raises(ConnectionRefusedError):
            client.send(b"fourth")                # the pending error is reported by send too
    with udp.rawkit() as unconnected:             # Linux reports nothing to an unconnected socket
        unconnected.sendto(b"anyone?", (udp.theirs, 5999))
        unconnected.settimeout(0.3)
        with pytest.raises(TimeoutError):
            unconnected.recvfrom(100)


def test_closed_rawkit_port_answers_port_unreachable(udp):
    with udp.kernel(connect=(udp.ours, 6999)) as client:
        client.send(b"hello?")
        with pytest.raises(ConnectionRefusedError):
            client.recv(100)


def _dest_unreachables_received(peer, family: int) -> int:
    """The peer namespace's count of ICMP(v6) destination unreachables received."""
    if family == socket.AF_INET:
        lines = [line.split() for line in peer.run(["cat", "/proc/net/snmp"]).stdout.splitlines()
                 if line.startswith("Icmp:")]
        return int(lines[1][lines[0].index("InDestUnreachs")])
    for line in peer.run(["cat", "/proc/net/snmp6"]).stdout.splitlines():
        if line.startswith("Icmp6InDestUnreachs"):
            return int(line.split()[1])
    raise AssertionError("no Icmp6InDestUnreachs counter")


def test_port_unreachable_is_rate_limited_per_peer(udp, lab):
    peer_ns, _stack, link = lab
    sender_ip = "198.18.0.3" if udp.family == socket.AF_INET else "fd00:18::3"   # a peer of its own
    if sender_ip not in peer_ns.run(["ip", "addr", "show", link.b.device]).stdout:
        peer_ns.add_address(link.b.device, sender_ip + ("/24" if udp.family == socket.AF_INET else "/64"))
    sender = peer_ns.socket(udp.family, socket.SOCK_DGRAM)
    sender.bind((sender_ip, 0))
    with sender:
        before = _dest_unreachables_received(peer_ns, udp.family)
        for index in range(20):
            sender.sendto(b"%d" % index, (udp.ours, 6999))
        time.sleep(0.5)
        received = _dest_unreachables_received(peer_ns, udp.family) - before
    assert 6 <= received <= 7          # a burst of six, then one a second


def test_emsgsize_like_the_kernel(udp):
    limit = 65507 if udp.family == socket.AF_INET else 65527
    with udp.kernel() as kernel, udp.rawkit() as client:
        for sock in (kernel, client):
            with pytest.raises(OSError) as raised:
                sock.sendto(bytes(limit + 1), (udp.theirs if sock is client else udp.ours, 9))
            assert raised.value.errno == errno.EMSGSIZE


def test_datagrams_larger_than_the_mtu_are_fragmented_both_ways(udp):
    limit = 65507 if udp.family == socket.AF_INET else 65527
    with udp.kernel(5300) as kernel, udp.rawkit(6300) as sock:
        for size in (1473, 1500, 8000, 30001, limit):
            payload = bytes(range(251)) * (size // 251) + bytes(size % 251)
            assert sock.sendto(payload, (udp.theirs, 5300)) == size
            data, address = kernel.recvfrom(65535)                   # the kernel reassembled ours
            assert data == payload and address[:2] == (udp.ours, 6300)
            kernel.sendto(payload[::-1], (udp.ours, 6300))           # the kernel fragments
            data, source = sock.recvfrom(65535)
            assert data == payload[::-1] and source[:2] == (udp.theirs, 5300)
        assert udp.stack.fragments.pending == {} and udp.stack.fragments.held == 0


def test_select_readiness_and_timeouts(udp):
    with udp.kernel(5200) as kernel, udp.rawkit(6200) as sock:
        assert select.select([sock], [], [], 0) == ([], [], [])
        sock.settimeout(0.2)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            sock.recvfrom(100)
        assert time.monotonic() - started >= 0.2
        with pytest.raises(BlockingIOError):
            sock.recv(100, socket.MSG_DONTWAIT)
        kernel.sendto(b"one", (udp.ours, 6200))
        readable, _, _ = select.select([sock], [], [], 5)
        assert readable == [sock]
        assert sock.recv(100, socket.MSG_PEEK) == b"one"
        assert select.select([sock], [], [], 0)[0] == [sock]    # still queued after a peek
        assert sock.recv(2) == b"on"                         # the rest of the datagram is discarded
        assert select.select([sock], [], [], 0)[0] == []
        kernel.sendto(b"two", (udp.ours, 6200))
        assert select.select([sock], [], [], 5)[0] == [sock]
        assert sock.recv(100) == b"two"
        assert select.select([sock], [], [], 0)[0] == []


def test_bind_errors(udp):
    with udp.rawkit(6310) as first, udp.rawkit() as second:
        with pytest.raises(OSError) as raised:
            second.bind(("", 6310))
        assert raised.value.errno == errno.EADDRINUSE
        with pytest.raises(OSError) as raised:
            second.bind((udp.theirs, 6311))
        assert raised.value.errno == errno.EADDRNOTAVAIL
        second.bind((udp.ours, 0))
        assert 32768 <= second.getsockname()[1] < 61000
        second.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        assert second.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
        assert second.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_DGRAM
        with pytest.raises(OSError) as raised:
            second.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert raised.value.errno == errno.ENOPROTOOPT
        first.close()
        with udp.rawkit(6310):                               # released at close
            pass


def test_unbound_socket_recv_and_options_do_not_bind(udp):
    with udp.rawkit() as sock:
        sock.settimeout(0.1)
        with pytest.raises(TimeoutError):
            sock.recvfrom(10)                                # as Linux: waits, unbound
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 10000)
        assert sock.getsockname()[1] == 0
        sock.bind(("", 0))
        assert sock.endpoint.rcvbuf == 20000 == sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def test_receive_buffer_drops_when_full(udp):
    with udp.kernel(5400) as kernel, udp.rawkit(6400) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 8192
        for index in range(50):
            kernel.sendto(b"%04d" % index + bytes(996), (udp.ours, 6400))
        endpoint = sock.endpoint
        deadline = time.monotonic() + 5
        while len(endpoint.queue) + endpoint.drops < 50:          # every datagram queued or dropped
            assert time.monotonic() < deadline
            time.sleep(0.01)
        sock.setblocking(False)
        received = []
        while True:
            try:
                received.append(sock.recv(2000))
            except BlockingIOError:
                break
        assert 1 <= len(received) < 50
        assert [int(data[:4]) for data in received] == list(range(len(received)))   # the first ones
        assert endpoint.drops == 50 - len(received)


def test_bad_checksums_are_dropped(lab):
    import rawkit

    peer, stack, link = lab
    raw = peer.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    raw.bind((link.b.device, 0))
    with raw, stack.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock6, \
            stack.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock4:
        sock4.bind(("", 6500))
        sock6.bind(("", 6500))
        ether = rawkit.Ether(src=link.b.mac, dst=link.a.mac)
        frames = [
            ether / rawkit.IPv4(src="198.18.0.2", dst="198.18.0.10") / rawkit.UDP(sport=1, dport=6500,
                                                                            checksum=0x1234) / b"bad",
            ether / rawkit.IPv4(src="198.18.0.2", dst="198.18.0.10") / rawkit.UDP(sport=1, dport=6500,
                                                                            checksum=0) / b"none ok",
            ether / rawkit.IPv6(src="fd00:18::2", dst="fd00:18::10") / rawkit.UDP(sport=1, dport=6500,
                                                                            checksum=0) / b"none bad",
            ether / rawkit.IPv6(src="fd00:18::2", dst="fd00:18::10") / rawkit.UDP(sport=1, dport=6500)
            / b"good",
        ]
        for frame in frames:
            raw.send(bytes(frame))
        sock4.settimeout(5)
        sock6.settimeout(5)
        assert sock4.recv(100) == b"none ok"
        assert sock6.recv(100) == b"good"
        sock4.setblocking(False)
        sock6.setblocking(False)
        for sock in (sock4, sock6):
            with pytest.raises(BlockingIOError):
                sock.recv(100)


@FAMILIES
def test_sockets_fail_cleanly_after_the_stack_closes(family):
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    with Lab() as built:
        ours, peer = built.namespace("rk"), built.namespace("peer")
        link = built.link(ours, peer)
        stack = ours.call(Stack, link.a.device, "198.18.0.10/24", ip6="fd00:18::10/64")
        sock = stack.socket(family, socket.SOCK_DGRAM)
        sock.bind(("", 7000))
        stack.close()
        with pytest.raises(OSError) as raised:
            sock.recv(10)
        assert raised.value.errno == errno.ENETDOWN
        sock.close()

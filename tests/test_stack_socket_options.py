"""SO_SNDBUF, SO_RCVBUF and TCP_MAXSEG on rawkit sockets behave as on Linux: buffer sizes doubled on
get, the receive buffer choosing the window scale, TCP_MAXSEG clamping the MSS offered and reading
back the MSS in use. The kernel peer's tcp_info is the oracle for what went on the wire."""

from __future__ import annotations

import errno
import socket
import struct

import pytest

from tests.conftest import needs_root
from tests.test_stack_ipv6 import PEER_IP6, lab6  # noqa: F401 - the fixture
from tests.test_stack_lab import PEER_IP, lab  # noqa: F401 - the fixture

pytestmark = needs_root
TCP_INFO_SIZE = 104


def _peer_info(sock: socket.socket) -> tuple[int, int, int]:
    """(snd_wscale, rcv_wscale, snd_mss) of a kernel socket, from struct tcp_info."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_SIZE)
    wscales = raw[6]
    snd_mss = struct.unpack_from("I", raw, 16)[0]
    return wscales & 0x0F, wscales >> 4, snd_mss


def test_buffer_sizes_read_back_doubled_with_linux_minimums(lab):  # noqa: F811
    _lab, _ours, _peer, stack = lab
    with stack.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 21000)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 42000
        assert sock.connection is None and sock.settings.send_buffer_size == 42000
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 100000)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 200000
        assert sock.settings.receive_buffer_size == 100000        # the window Linux would offer
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == 4608
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) == 2304


@pytest.mark.parametrize(("rcvbuf", "wscale"), [(100000, 1), (1 << 20, 5)])
def test_receive_buffer_before_connect_sets_the_window_scale(lab, rcvbuf, wscale):  # noqa: F811
    _lab, _ours, peer, stack = lab
    server = peer.socket()
    server.bind((PEER_IP, 8120))
    server.listen()
    server.settimeout(5)
    with server, stack.socket() as client:
        client.settimeout(5)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        client.connect((PEER_IP, 8120))
        accepted, _ = server.accept()
        with accepted:
            assert _peer_info(accepted)[0] == wscale      # the scale the kernel applies to our window


def test_maxseg_clamps_the_offered_mss_and_reads_back_the_mss_in_use(lab):  # noqa: F811
    _lab, _ours, peer, stack = lab
    server = peer.socket()
    server.bind((PEER_IP, 8121))
    server.listen()
    server.settimeout(5)
    with server, stack.socket() as client:
        client.settimeout(5)
        assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) == 536
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1100)
        assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG) == 1100
        client.connect((PEER_IP, 8121))
        accepted, _ = server.accept()
        with accepted:
            in_use = client.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
            assert in_use == client.connection.send_mss
            assert in_use == 1100 - 12                       # timestamps on: 12 option bytes less
            assert _peer_info(accepted)[2] == 1100 - 12      # the kernel heard our 1100
    with stack.socket() as other, pytest.raises(OSError) as raised:
        other.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 40)
    assert raised.value.errno == errno.EINVAL


def test_ipv6_offers_the_mtu_less_60_as_linux(lab6):  # noqa: F811
    """MSS from the device MTU (1500): 1440 over IPv6, where a fixed 1460 would be too big."""
    peer, stack = lab6
    server = peer.socket(socket.AF_INET6)
    server.bind((PEER_IP6, 8122))
    server.listen()
    server.settimeout(5)
    with server, stack.socket(socket.AF_INET6) as client:
        client.settimeout(5)
        assert client.settings.mss == 1440
        client.connect((PEER_IP6, 8122))
        accepted, _ = server.accept()
        with accepted:
            assert _peer_info(accepted)[2] == 1440 - 12     # what the kernel heard, less timestamps


def test_reuseaddr_binds_the_port_of_a_closed_listener_whose_connection_lives_on(lab):  # noqa: F811
    """As Linux: the accepted connection inherits SO_REUSEADDR, so a new socket that sets it may bind
    the port once the listener has closed; one without it gets EADDRINUSE, and so does a second listener."""
    _lab, _ours, peer, stack = lab
    listener = stack.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) == 1
    listener.bind(("", 8123))
    listener.listen()
    listener.settimeout(5)
    client = peer.socket()
    client.settimeout(5)
    with client:
        client.connect((str(stack.address), 8123))
        accepted, _ = listener.accept()
        with stack.socket() as blocked:
            blocked.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with pytest.raises(OSError) as raised:
                blocked.bind(("", 8123))                 # the listener is still there
            assert raised.value.errno == errno.EADDRINUSE
        listener.close()
        with accepted, stack.socket() as plain, stack.socket() as reusing:
            with pytest.raises(OSError) as raised:
                plain.bind(("", 8123))
            assert raised.value.errno == errno.EADDRINUSE
            reusing.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            reusing.bind(("", 8123))


def test_user_timeout_is_set_and_read_in_milliseconds(lab):  # noqa: F811
    _lab, _ours, _peer, stack = lab
    with stack.socket() as sock:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 0
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, 3000)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == 3000
        assert sock.settings.user_timeout == 3.0
        with pytest.raises(OSError) as raised:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, -1)
        assert raised.value.errno == errno.EINVAL

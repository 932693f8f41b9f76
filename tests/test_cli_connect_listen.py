"""`rawkit connect` and `rawkit listen` (netcat over rawkit's TCP/UDP) against the kernel in a lab:
kernel server <-> rawkit connect, kernel client <-> rawkit listen, 1 MB through pipes with sha256,
half-close, refused -> one line and exit 1, -u round trips, -v output, usage errors.

rawkit runs as a subprocess in its namespace and owns 198.18.0.10 / fd00:18::10 (--src) on a veth that
has no kernel address; the kernel peer is 198.18.0.2 / fd00:18::2.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import needs_root, needs_tool

pytestmark = needs_root

RAWKIT = [sys.executable, "-m", "rawkit"]
ROOT = Path(__file__).resolve().parent.parent
ADDRESSES = {4: ("198.18.0.10", "198.18.0.2"), 6: ("fd00:18::10", "fd00:18::2")}
HOST_ADDRESSES = {4: "198.18.0.1", 6: "fd00:18::1"}    # the kernel's own, on rawkit's veth


class NetcatLab:
    def __init__(self, lab, ours, peer, device: str, version: int) -> None:
        self.lab, self.ours_ns, self.peer = lab, ours, peer
        self.device, self.version = device, version
        self.ours, self.theirs = ADDRESSES[version]
        self.family = socket.AF_INET if version == 4 else socket.AF_INET6
        self.src = f"{self.ours}/24" if version == 4 else f"{self.ours}/64"

    def rawkit(self, *args: str, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
               own_address: bool = True) -> subprocess.Popen:
        """`rawkit ARGS -i DEV --src OURS` in our namespace; without `own_address`, `rawkit ARGS -i DEV`
        (the host-address mode: the kernel's HOST_ADDRESSES on DEV)."""
        mode = ["--src", self.src] if own_address else []
        command = self.ours_ns.command([*RAWKIT, *args[:1], "-i", self.device, *mode, *args[1:]])
        process = subprocess.Popen(command, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                                   cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        self.lab._processes.append(process)     # stopped at cleanup if a test fails half-way
        return process

    def kernel_server(self, port: int, handle) -> threading.Thread:
        """A kernel TCP server in the peer namespace serving one connection with handle(conn)."""
        server = self.peer.socket(self.family)
        server.bind((self.theirs, port))
        server.listen()
        server.settimeout(20)

        def run() -> None:
            with server:
                connection, _ = server.accept()
                with connection:
                    connection.settimeout(20)
                    handle(connection)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


@pytest.fixture(scope="module")
def lab_pair():
    from rawkit.link.netns import Lab

    with Lab() as lab:
        ours, peer = lab.namespace("rk"), lab.namespace("peer")
        link = lab.link(ours, peer, ipv4=("198.18.0.1/24", "198.18.0.2/24"),
                        ipv6=("fd00:18::1/64", "fd00:18::2/64"))
        yield lab, ours, peer, link.a.device


@pytest.fixture(params=[4, 6], ids=["ipv4", "ipv6"])
def nc(lab_pair, request):
    lab, ours, peer, device = lab_pair
    return NetcatLab(lab, ours, peer, device, request.param)


@pytest.fixture
def nc4(lab_pair):
    """IPv4 only, for behaviour that does not depend on the family."""
    lab, ours, peer, device = lab_pair
    return NetcatLab(lab, ours, peer, device, 4)


def echo(connection: socket.socket) -> None:
    while data := connection.recv(65536):
        connection.sendall(data)


def test_connect_pipes_1mb_through_a_kernel_echo_server(nc, tmp_path):
    payload = os.urandom(1 << 20)
    source, output = tmp_path / "in", tmp_path / "out"
    source.write_bytes(payload)
    server = nc.kernel_server(7001, echo)
    with source.open("rb") as stdin, output.open("wb") as stdout:
        client = nc.rawkit("connect", nc.theirs, "7001", stdin=stdin, stdout=stdout)
        _, errors = client.communicate(timeout=60)
    server.join(10)
    assert client.returncode == 0, errors
    assert hashlib.sha256(output.read_bytes()).hexdigest() == hashlib.sha256(payload).hexdigest()


@needs_tool("socat")
def test_socat_server_and_client_with_rawkit(nc, tmp_path):
    """socat as the kernel's peer both ways: 1 MB from rawkit connect into a socat listener's file, and
    1 MB from a socat client out of rawkit listen's stdout."""
    payload = os.urandom(1 << 20)
    source, received, output = tmp_path / "in", tmp_path / "received", tmp_path / "out"
    source.write_bytes(payload)
    tcp = "TCP4" if nc.version == 4 else "TCP6"
    bind = nc.theirs if nc.version == 4 else f"[{nc.theirs}]"
    server = nc.peer.spawn(["socat", "-u", f"{tcp}-LISTEN:7021,bind={bind},reuseaddr", f"CREATE:{received}"])
    nc.peer.wait_listening(7021)
    with source.open("rb") as stdin:
        client = nc.rawkit("connect", nc.theirs, "7021", stdin=stdin)
        _, errors = client.communicate(timeout=60)
    assert client.returncode == 0, errors
    assert server.wait(20) == 0
    assert hashlib.sha256(received.read_bytes()).digest() == hashlib.sha256(payload).digest()

    with output.open("wb") as stdout:
        listener = nc.rawkit("listen", "7022", stdout=stdout)
        target = nc.ours if nc.version == 4 else f"[{nc.ours}]"
        for _ in range(50):                          # until rawkit listens (socat does not retry)
            sent = nc.peer.run(["socat", "-u", f"OPEN:{source}", f"{tcp}:{target}:7022"], check=False)
            if sent.returncode == 0:
                break
            time.sleep(0.2)
        _, errors = listener.communicate(timeout=60)
    assert sent.returncode == 0, sent.stderr
    assert listener.returncode == 0, errors
    assert hashlib.sha256(output.read_bytes()).digest() == hashlib.sha256(payload).digest()


def test_connect_half_closes_and_prints_until_the_peer_closes(nc):
    seen: dict = {}

    def reply_after_eof(connection: socket.socket) -> None:
        received = b""
        while data := connection.recv(65536):         # ends at rawkit's FIN
            received += data
        seen["request"] = received
        connection.sendall(b"reply after your FIN: " + hashlib.sha256(received).hexdigest().encode())

    server = nc.kernel_server(7002, reply_after_eof)
    client = nc.rawkit("connect", nc.theirs, "7002", stdin=subprocess.PIPE)
    output, errors = client.communicate(b"request\x00\xff binary", timeout=30)
    server.join(10)
    assert client.returncode == 0, errors
    assert seen["request"] == b"request\x00\xff binary"
    assert output == b"reply after your FIN: " + hashlib.sha256(seen["request"]).hexdigest().encode()


def test_connect_sends_stdin_as_it_arrives(nc):
    """Interactive use: each line reaches the peer (and comes back) before stdin ends."""
    server = nc.kernel_server(7003, echo)
    client = nc.rawkit("connect", nc.theirs, "7003", stdin=subprocess.PIPE)
    try:
        for line in (b"first\n", b"second\n"):
            client.stdin.write(line)
            client.stdin.flush()
            assert client.stdout.readline() == line        # echoed while stdin is still open
        client.stdin.close()
        assert client.stdout.read() == b""
        assert client.wait(20) == 0
    finally:
        client.kill()
    server.join(10)


def test_connect_refused_is_one_line_and_exit_1(nc):
    client = nc.rawkit("connect", nc.theirs, "7999")
    output, errors = client.communicate(timeout=30)
    assert client.returncode == 1
    assert errors.decode() == "rawkit: connect: Connection refused\n"
    assert output == b""


def test_connect_in_host_address_mode_leaves_no_nft_table(nc, tmp_path):
    payload = os.urandom(1 << 20)
    source, output = tmp_path / "in", tmp_path / "out"
    source.write_bytes(payload)
    seen: dict = {}

    def echo_and_note_peer(connection: socket.socket) -> None:
        seen["peer"] = connection.getpeername()[0]
        echo(connection)

    server = nc.kernel_server(7011, echo_and_note_peer)
    with source.open("rb") as stdin, output.open("wb") as stdout:
        client = nc.rawkit("connect", nc.theirs, "7011", stdin=stdin, stdout=stdout, own_address=False)
        _, errors = client.communicate(timeout=60)
    server.join(10)
    assert client.returncode == 0, errors
    assert seen["peer"] == HOST_ADDRESSES[nc.version]
    assert hashlib.sha256(output.read_bytes()).digest() == hashlib.sha256(payload).digest()
    assert "rawkit" not in nc.ours_ns.run(["nft", "list", "tables"]).stdout


def test_listen_in_host_address_mode(nc, tmp_path):
    output = tmp_path / "out"
    with output.open("wb") as stdout:
        server = nc.rawkit("listen", "7012", stdout=stdout, own_address=False)
        received = nc.peer.call(_kernel_client, nc.family, HOST_ADDRESSES[nc.version], 7012, b"to the host",
                                timeout=60)
        _, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors
    assert received == b"" and output.read_bytes() == b"to the host"
    assert "rawkit" not in nc.ours_ns.run(["nft", "list", "tables"]).stdout


def test_connect_reset_mid_stream_is_one_line_and_exit_1(nc4):
    nc = nc4
    def reset(connection: socket.socket) -> None:
        connection.sendall(b"about to reset\n")
        connection.recv(100)                             # rawkit's first line
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    server = nc.kernel_server(7013, reset)
    client = nc.rawkit("connect", nc.theirs, "7013", stdin=subprocess.PIPE)
    try:
        client.stdin.write(b"hello\n")
        client.stdin.flush()
        assert client.wait(30) == 1                      # stdin still open: the RST ends it
        server.join(10)
        assert client.stderr.read().decode() == "rawkit: recv: Connection reset by peer\n"
    finally:
        client.kill()


def test_connect_to_a_silent_address_is_one_line_and_exit_1(nc):
    silent = "198.18.0.99" if nc.version == 4 else "fd00:18::99"
    client = nc.rawkit("connect", silent, "7014")
    output, errors = client.communicate(timeout=60)
    assert client.returncode == 1
    assert errors.decode() == "rawkit: connect: No route to host\n"       # ARP/ND got no answer


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_listen_in_host_address_mode_killed_leaves_no_nft_table(nc4, signal_number):
    nc = nc4
    server = nc.rawkit("listen", "7015", own_address=False)
    deadline = time.monotonic() + 20
    while "rawkit" not in nc.ours_ns.run(["nft", "list", "tables"]).stdout:     # the guard is up
        assert server.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    server.send_signal(signal_number)
    server.communicate(timeout=20)
    assert server.returncode != 0
    assert "rawkit" not in nc.ours_ns.run(["nft", "list", "tables"]).stdout


def test_kernel_client_to_rawkit_listen_both_ways(nc, tmp_path):
    payload = os.urandom(1 << 20)
    to_kernel = b"from rawkit listen\n" * 1000
    source, output = tmp_path / "in", tmp_path / "out"
    source.write_bytes(to_kernel)
    with source.open("rb") as stdin, output.open("wb") as stdout:
        server = nc.rawkit("listen", "7004", stdin=stdin, stdout=stdout)
        received = nc.peer.call(_kernel_client, nc.family, nc.ours, 7004, payload, timeout=60)
        _, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors
    assert received == to_kernel
    assert hashlib.sha256(output.read_bytes()).digest() == hashlib.sha256(payload).digest()


def _kernel_client(family: int, host: str, port: int, payload: bytes) -> bytes:
    """Connect (retrying while rawkit starts), send `payload`, half-close, return all received."""
    deadline = time.monotonic() + 15
    while True:
        sock = socket.socket(family)
        sock.settimeout(20)
        try:
            sock.connect((host, port))
            break
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    with sock:
        received = bytearray()

        def reader() -> None:
            while data := sock.recv(65536):
                received.extend(data)

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        sock.sendall(payload)
        sock.shutdown(socket.SHUT_WR)
        thread.join(30)
        return bytes(received)


def test_listen_keep_open_serves_connections_one_after_another(nc4, tmp_path):
    nc = nc4
    output = tmp_path / "out"
    with output.open("wb") as stdout:
        server = nc.rawkit("listen", "-k", "7005", stdout=stdout)
    try:
        for index in range(3):
            received = nc.peer.call(_kernel_client, nc.family, nc.ours, 7005, b"client %d\n" % index,
                                    timeout=30)
            assert received == b""          # stdin was empty: rawkit half-closed at once
        deadline = time.monotonic() + 10
        while output.read_bytes() != b"client 0\nclient 1\nclient 2\n":
            assert time.monotonic() < deadline, output.read_bytes()
            time.sleep(0.05)
        assert server.poll() is None        # still listening
    finally:
        server.terminate()
        server.communicate(timeout=10)


@pytest.mark.parametrize("own_address", [True, False], ids=["own", "host"])
def test_udp_connect_round_trip(nc, own_address):
    kernel = nc.peer.socket(nc.family, socket.SOCK_DGRAM)
    kernel.bind((nc.theirs, 7006))
    kernel.settimeout(20)

    def answer() -> None:
        data, address = kernel.recvfrom(65535)
        kernel.sendto(b"got " + data, address)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    with kernel:
        client = nc.rawkit("connect", "-u", "-q", "0", nc.theirs, "7006", stdin=subprocess.PIPE,
                           own_address=own_address)
        try:
            client.stdin.write(b"hello udp")
            client.stdin.flush()
            assert client.stdout.read(13) == b"got hello udp"      # stdin still open: no -q race
            client.stdin.close()
            assert client.wait(20) == 0                           # -q 0: done at stdin's end
        finally:
            client.kill()
        thread.join(10)
    assert client.stdout.read() == b""


def test_udp_large_input_is_cut_into_datagrams_and_verbose_prints_them(nc, tmp_path):
    kernel = nc.peer.socket(nc.family, socket.SOCK_DGRAM)
    kernel.bind((nc.theirs, 7009))
    kernel.settimeout(20)
    payload = os.urandom(40000)
    with kernel:
        client = nc.rawkit("connect", "-u", "-v", "-q", "0", nc.theirs, "7009", stdin=subprocess.PIPE)
        try:
            client.stdin.write(payload)                     # read in one or a few pieces
            client.stdin.flush()
            received = [kernel.recvfrom(65535)]
            while sum(len(data) for data, _ in received) < len(payload):
                received.append(kernel.recvfrom(65535))
            kernel.sendto(b"thanks", received[0][1])
            assert client.stdout.read(6) == b"thanks"
            client.stdin.close()
            assert client.wait(20) == 0
        finally:
            client.kill()
        errors = client.stderr.read()
    assert b"".join(data for data, _ in received) == payload
    assert max(len(data) for data, _ in received) <= 16384          # pieces of at most UDP_CHUNK
    port = received[0][1][1]
    layer = "IP" if nc.version == 4 else "IP6"
    assert errors.decode().splitlines() == [
        *(f"{layer} {nc.ours}.{port} > {nc.theirs}.7009: UDP, length {len(data)}" for data, _ in received),
        f"{layer} {nc.theirs}.7009 > {nc.ours}.{port}: UDP, length 6",
    ]


def test_udp_connect_to_a_closed_port_is_refused(nc):
    client = nc.rawkit("connect", "-u", "-q", "5", nc.theirs, "7998", stdin=subprocess.PIPE)
    output, errors = client.communicate(b"anyone?", timeout=30)
    assert client.returncode == 1
    assert errors.decode() == "rawkit: recv: Connection refused\n"


@pytest.mark.parametrize("own_address", [True, False], ids=["own", "host"])
def test_udp_listen_answers_the_first_sender(nc, tmp_path, own_address):
    (tmp_path / "in").write_bytes(b"hello back")
    ours = nc.ours if own_address else HOST_ADDRESSES[nc.version]   # host: both families listen
    with (tmp_path / "in").open("rb") as stdin:
        server = nc.rawkit("listen", "-u", "-q", "0", "7007", stdin=stdin, own_address=own_address)
    kernel = nc.peer.socket(nc.family, socket.SOCK_DGRAM)
    kernel.settimeout(0.5)
    with kernel:
        for _ in range(40):                 # until rawkit has started and answers
            kernel.sendto(b"hello", (ours, 7007))
            try:
                reply = kernel.recv(100)
                break
            except TimeoutError:
                continue
    output, errors = server.communicate(timeout=30)
    assert server.returncode == 0, errors
    assert reply == b"hello back"
    assert output.startswith(b"hello")


def test_verbose_prints_handshake_and_states(nc):
    server = nc.kernel_server(7008, echo)
    client = nc.rawkit("connect", "-v", nc.theirs, "7008", stdin=subprocess.PIPE)
    output, errors = client.communicate(b"hi", timeout=30)
    server.join(10)
    text = errors.decode()
    assert client.returncode == 0, text
    assert output == b"hi"
    lines = text.splitlines()
    flags = [line.split("Flags [")[1].split("]")[0] for line in lines if "Flags [" in line]
    assert flags[:3] == ["S", "S.", "."]
    assert "F." in flags
    states = [line.split()[-1] for line in lines if line.startswith("rawkit: state ")]
    assert states[:3] == ["SYN-SENT", "ESTABLISHED", "FIN-WAIT-1"]
    assert states[-1] == "TIME-WAIT"
    first_syn = next(i for i, line in enumerate(lines) if "Flags [S]" in line)
    assert lines.index("rawkit: state SYN-SENT") < first_syn


def test_verbose_listen_prints_the_passive_open(nc4):
    nc = nc4
    server = nc.rawkit("listen", "-v", "7016")
    received = nc.peer.call(_kernel_client, nc.family, nc.ours, 7016, b"hi", timeout=30)
    output, errors = server.communicate(timeout=30)
    text = errors.decode()
    assert server.returncode == 0, text
    assert (received, output) == (b"", b"hi")
    lines = text.splitlines()
    flags = [line.split("Flags [")[1].split("]")[0] for line in lines if "Flags [" in line]
    assert flags[:3] == ["S", "S.", "."]
    states = [line.split()[-1] for line in lines if line.startswith("rawkit: state ")]
    assert states[:2] == ["SYN-RECEIVED", "ESTABLISHED"] and states[-1] in ("CLOSED", "TIME-WAIT")
    assert any(line.startswith(f"rawkit: connection from {nc.theirs} port ") for line in lines)


def test_usage_errors_exit_2():
    result = subprocess.run([*RAWKIT, "connect", "--src", "not-an-ip", "-i", "lo", "198.18.0.2", "80"],
                            capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 2
    assert result.stderr == "rawkit: --src not-an-ip: not an IP address\n"
    result = subprocess.run([*RAWKIT, "listen", "80"], capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert result.returncode == 2 and result.stderr.startswith("rawkit: ")
    missing = [*RAWKIT, "connect", "-i", "rkmissing0", "--src", "198.18.0.10", "198.18.0.2", "80"]
    result = subprocess.run(missing, capture_output=True, text=True, cwd=ROOT, timeout=30)
    assert (result.returncode, result.stderr) == (2, "rawkit: rkmissing0: No such device\n")


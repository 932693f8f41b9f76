"""Acceptance of issue 8 in the three Stack modes, IPv4 and IPv6, against the kernel's TCP.

    own   rawkit owns 198.18.0.10 / fd00:18::10 on a veth whose namespace gives the kernel no address;
          the kernel peer (198.18.0.2 / fd00:18::2) is in the other namespace
    tap   rawkit is the far end of a TAP device; the kernel side of the device has the peer's
          addresses, so the kernel peer shares rawkit's namespace
    host  the kernel has 198.18.0.10 / fd00:18::10 itself and rawkit shares it (host_address=True),
          hiding its ports from the kernel with an nft table; the peer is in the other namespace

One lab per mode for the whole module (built once). The payloads go through sha256 on both ends;
RAWKIT_LAB_BULK_MB (default 10) sets their size.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, needs_root, needs_tool

pytestmark = [needs_root, needs_tool("nft")]

RAWKIT = {4: "198.18.0.10", 6: "fd00:18::10"}
PEER = {4: "198.18.0.2", 6: "fd00:18::2"}
FAMILY = {4: socket.AF_INET, 6: socket.AF_INET6}
BIG = int(float(os.environ.get("RAWKIT_LAB_BULK_MB", "10")) * (1 << 20))   # each way, every mode and family
UP, DOWN = os.urandom(BIG), os.urandom(BIG)
TIMEOUT = 30.0


@dataclass
class Env:
    mode: str
    stack: object          # rawkit.stack.Stack
    home: object           # Namespace the Stack lives in
    peer: object           # Namespace of the kernel peer
    peer_device: str       # where the peer's namespace sees rawkit's frames (for captures)
    workdir: Path
    ports: object          # itertools-like counter of fresh port numbers

    def port(self) -> int:
        return next(self.ports)

    def peer_socket(self, family: int) -> socket.socket:
        sock = self.peer.socket(FAMILY[family])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.settimeout(TIMEOUT)
        return sock

    def rawkit_socket(self, family: int):
        sock = self.stack.socket(FAMILY[family])
        sock.settimeout(TIMEOUT)
        return sock


def _ports():
    port = 20000
    while True:
        port += 1
        yield port


@pytest.fixture(scope="module", params=["own", "tap", "host"])
def env(request):
    from rawkit.link.netns import Lab
    from rawkit.stack.stack import Stack

    mode = request.param
    with Lab() as lab:
        if mode == "tap":
            home = peer = lab.namespace("tap")
            stack = home.call(Stack, tap="rkt0", ip=f"{RAWKIT[4]}/24", ip6=f"{RAWKIT[6]}/64")
            for family in (4, 6):
                home.add_address("rkt0", f"{PEER[family]}/{24 if family == 4 else 64}")
            home.wait_ipv6_ready("rkt0")
            device = "rkt0"
        else:
            home, peer = lab.namespace(mode), lab.namespace("peer")
            mine = (f"{RAWKIT[4]}/24", f"{RAWKIT[6]}/64") if mode == "host" else None
            link = lab.link(home, peer, ipv4=(mine[0] if mine else None, f"{PEER[4]}/24"),
                            ipv6=(mine[1] if mine else None, f"{PEER[6]}/64"))
            if mode == "host":
                stack = home.call(Stack, link.a.device, host_address=True)
            else:
                stack = home.call(Stack, link.a.device, f"{RAWKIT[4]}/24", ip6=f"{RAWKIT[6]}/64")
            device = link.b.device
        try:
            yield Env(mode, stack, home, peer, device, Path(lab.workdir), _ports())
        finally:
            stack.close()
            if mode == "host":
                assert "rawkit_" not in home.run(["nft", "list", "tables"]).stdout


def test_mode_arguments_are_checked():
    from rawkit.stack.stack import Stack

    for kwargs in ({}, {"iface": "a", "tap": "b"}, {"tap": "b", "host_address": True}):
        with pytest.raises(ValueError, match="a Stack needs iface or tap"):
            Stack(ip="198.18.0.10/24", **kwargs)
    with pytest.raises(ValueError, match="a Stack needs ip and/or ip6"):
        Stack(tap="b")


def _in_thread(function, *args) -> dict:
    """Run `function(*args)` on a thread; the dict gets "result" or "error", and "thread"."""
    outcome: dict = {}

    def body() -> None:
        try:
            outcome["result"] = function(*args)
        except BaseException as error:      # re-raised by _join in the test's thread
            outcome["error"] = error

    outcome["thread"] = threading.Thread(target=body, daemon=True)
    outcome["thread"].start()
    return outcome


def _join(outcome: dict, timeout: float = TIMEOUT):
    outcome["thread"].join(timeout)
    assert not outcome["thread"].is_alive(), "helper thread did not finish"
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def _read_all(sock) -> bytes:
    data = bytearray()
    while chunk := sock.recv(1 << 16):
        data += chunk
    return bytes(data)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()




# ---------------------------------------------------------------------------------- bulk, both ways
@pytest.mark.parametrize("family", [4, 6])
def test_rawkit_client_kernel_server_10mb_each_way_after_half_close(env, family):
    """rawkit sends 10 MB and half-closes; the kernel server then sends 10 MB back on the same connection."""
    port = env.port()
    server = env.peer_socket(family)
    server.bind((PEER[family], port))
    server.listen()

    def serve() -> str:
        connection, _ = server.accept()
        with connection:
            connection.settimeout(TIMEOUT)
            received = _read_all(connection)
            connection.sendall(DOWN)
        return _sha(received)

    served = _in_thread(serve)
    with server, env.rawkit_socket(family) as client:
        client.connect((PEER[family], port))
        client.sendall(UP)
        client.shutdown(socket.SHUT_WR)
        downloaded = _read_all(client)
    assert _join(served) == _sha(UP)
    assert _sha(downloaded) == _sha(DOWN)


def _rawkit_listener(env, family: int):
    listener = env.rawkit_socket(family)
    port = env.port()
    listener.bind(("", port))
    listener.listen()
    return listener, port


@needs_tool("curl")
@pytest.mark.parametrize("family", [4, 6])
def test_curl_downloads_10mb_from_rawkit_listener(env, family):
    listener, port = _rawkit_listener(env, family)

    def serve() -> bytes:
        connection, _ = listener.accept()
        with connection:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = connection.recv(4096)
                assert chunk, "curl closed before its request ended"
                request += chunk
            connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(DOWN) + DOWN)
        return request

    served = _in_thread(serve)
    target = env.workdir / f"curl-{family}.bin"
    host = RAWKIT[4] if family == 4 else f"[{RAWKIT[6]}]"
    with listener:
        env.peer.run(["curl", "-sS", "-g", "--max-time", str(TIMEOUT), "-o", str(target),
                      f"http://{host}:{port}/file"])
        assert _join(served).startswith(b"GET /file HTTP/1.1\r\n")
    assert _sha(target.read_bytes()) == _sha(DOWN)
    target.unlink()


@needs_tool("socat")
@pytest.mark.parametrize("family", [4, 6])
def test_socat_uploads_10mb_to_rawkit_listener(env, family):
    listener, port = _rawkit_listener(env, family)
    source = env.workdir / "up.bin"
    if not source.exists():
        source.write_bytes(UP)

    def serve() -> str:
        connection, _ = listener.accept()
        with connection:
            return _sha(_read_all(connection))

    served = _in_thread(serve)
    address = f"TCP4:{RAWKIT[4]}:{port}" if family == 4 else f"TCP6:[{RAWKIT[6]}]:{port}"
    with listener:
        env.peer.run(["socat", "-u", f"OPEN:{source}", address])
        assert _join(served) == _sha(UP)


@pytest.mark.parametrize("family", [4, 6])
def test_rawkit_half_closes_first_and_kernel_client_keeps_sending(env, family):
    """rawkit's accepted socket sends 1 MB and shuts down writing; the kernel (python) client reads to
    EOF, then sends 1 MB back, which rawkit still receives."""
    listener, port = _rawkit_listener(env, family)
    first, second = UP[:1 << 20], DOWN[:1 << 20]

    def kernel_client() -> bytes:
        with env.peer_socket(family) as client:
            client.connect((RAWKIT[family], port))
            received = _read_all(client)
            client.sendall(second)
            client.shutdown(socket.SHUT_WR)
            return received

    outcome = _in_thread(kernel_client)
    with listener:
        connection, peer_address = listener.accept()
        assert peer_address[0] == PEER[family]
        with connection:
            connection.sendall(first)
            connection.shutdown(socket.SHUT_WR)
            assert _read_all(connection) == second
    assert _join(outcome) == first


# ---------------------------------------------------------------------------------- many at once
@pytest.mark.parametrize("family", [4, 6])
def test_100_concurrent_connections_each_way(env, family):
    count = 100
    # rawkit clients -> kernel echo server
    port = env.port()
    server = env.peer_socket(family)
    server.bind((PEER[family], port))
    server.listen(count)

    def echo_all() -> int:
        accepted = [server.accept()[0] for _ in range(count)]
        for connection in accepted:
            connection.settimeout(TIMEOUT)
            connection.sendall(connection.recv(100))
        for connection in accepted:
            connection.close()
        return len(accepted)

    served = _in_thread(echo_all)
    clients = []
    with server:
        for _ in range(count):
            client = env.rawkit_socket(family)
            client.connect((PEER[family], port))
            clients.append(client)
        assert len({c.getsockname()[1] for c in clients}) == count
        for index, client in enumerate(clients):
            client.sendall(b"%05d" % index)
        for index, client in enumerate(clients):
            assert client.recv(100) == b"%05d" % index
            client.close()
        assert _join(served) == count

    # kernel clients -> rawkit listener (accepts all, then answers each)
    listener, port = _rawkit_listener(env, family)
    listener.listen(count)

    def kernel_clients() -> list[bytes]:
        sockets = [env.peer_socket(family) for _ in range(count)]
        for sock in sockets:
            sock.connect((RAWKIT[family], port))
        for index, sock in enumerate(sockets):
            sock.sendall(b"%05d" % index)
        answers = [sock.recv(100) for sock in sockets]
        for sock in sockets:
            sock.close()
        return answers

    outcome = _in_thread(kernel_clients)
    with listener:
        accepted = [listener.accept()[0] for _ in range(count)]
        for connection in accepted:
            connection.sendall(b"re:" + connection.recv(100))
        answers = _join(outcome)
        for connection in accepted:
            connection.close()
    assert answers == [b"re:%05d" % index for index in range(count)]


# ---------------------------------------------------------------------------------- open and close races
def _nft(env, rules: str) -> str:
    """A table `rktest` in the peer's namespace with one counted drop rule per line of `rules`."""
    chains = (
        "add table inet rktest; "
        "add chain inet rktest pre { type filter hook prerouting priority -350; }; "
        "add chain inet rktest out { type filter hook output priority -350; }; ")
    env.peer.run(["nft", chains + rules])
    return "rktest"


def _drop_count(env) -> int:
    listing = env.peer.run(["nft", "list", "table", "inet", "rktest"]).stdout
    return sum(int(n) for n in re.findall(r"counter packets (\d+)", listing))


def _remove_nft(env) -> None:
    env.peer.run(["nft", "delete", "table", "inet", "rktest"], check=False)


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("who_receives_syn_in_syn_sent", ["rawkit", "kernel"])
def test_simultaneous_open(env, family, who_receives_syn_in_syn_sent):
    """Both ends connect to each other. The first SYN is dropped in the peer's namespace, so the
    second side's SYN reaches a socket in SYN-SENT: that side goes SYN-SENT -> SYN-RECEIVED."""
    ip = "ip" if family == 4 else "ip6"
    rawkit_port, kernel_port = env.port(), env.port()
    if who_receives_syn_in_syn_sent == "rawkit":       # rawkit connects first, its SYN is lost
        rule = (f"add rule inet rktest pre {ip} saddr {RAWKIT[family]} tcp sport {rawkit_port} "
                f"tcp flags & (syn|ack) == syn counter drop")
    else:                                               # the kernel connects first, its SYN is lost
        rule = (f"add rule inet rktest out {ip} daddr {RAWKIT[family]} tcp sport {kernel_port} "
                f"tcp flags & (syn|ack) == syn counter drop")
    _nft(env, rule)
    kernel = env.peer_socket(family)
    kernel.bind((PEER[family], kernel_port))
    ours = env.rawkit_socket(family)
    ours.bind(("", rawkit_port))
    try:
        if who_receives_syn_in_syn_sent == "rawkit":
            ours.setblocking(False)
            assert ours.connect_ex((PEER[family], kernel_port)) == errno.EINPROGRESS
            kernel.connect((RAWKIT[family], rawkit_port))
        else:
            kernel.setblocking(False)
            assert kernel.connect_ex((RAWKIT[family], rawkit_port)) == errno.EINPROGRESS
            time.sleep(0.05)
            ours.connect((PEER[family], kernel_port))
            kernel.setblocking(True)
            kernel.settimeout(TIMEOUT)
        ours.settimeout(TIMEOUT)
        assert _drop_count(env) >= 1
        assert ours.getpeername()[:2] == (PEER[family], kernel_port)
        ours.sendall(b"from rawkit")
        kernel.sendall(b"from kernel")
        assert kernel.recv(100) == b"from rawkit"
        assert ours.recv(100) == b"from kernel"
    finally:
        _remove_nft(env)
        ours.close()
        kernel.close()


def _kernel_states(env, port: int) -> str:
    return env.peer.run(["ss", "-Htan", f"sport = :{port}"]).stdout


@pytest.mark.parametrize("family", [4, 6])
def test_simultaneous_close_leaves_both_ends_in_time_wait(env, family):
    """rawkit's FIN is held back until the kernel has sent its own: both ends see a FIN while in
    FIN-WAIT-1, go through CLOSING, and both end in TIME-WAIT (a one-sided close leaves one)."""
    from rawkit.tcp import State

    ip = "ip" if family == 4 else "ip6"
    port = env.port()
    server = env.peer_socket(family)
    server.bind((PEER[family], port))
    server.listen()
    with server, env.rawkit_socket(family) as ours:
        ours.connect((PEER[family], port))
        kernel, _ = server.accept()
        rawkit_port = ours.getsockname()[1]
        _nft(env, f"add rule inet rktest pre {ip} saddr {RAWKIT[family]} tcp sport {rawkit_port} "
                  f"tcp flags & fin == fin counter drop")
        try:
            connection = ours.connection
            ours.shutdown(socket.SHUT_WR)             # FIN lost: rawkit stays in FIN-WAIT-1
            time.sleep(0.05)
            kernel.shutdown(socket.SHUT_WR)           # the kernel's FIN reaches rawkit in FIN-WAIT-1
            deadline = time.monotonic() + 2
            while connection.state is not State.CLOSING and time.monotonic() < deadline:
                time.sleep(0.01)
            assert connection.state is State.CLOSING
            assert _drop_count(env) >= 1
        finally:
            _remove_nft(env)
        deadline = time.monotonic() + 5                # rawkit's FIN retransmits after its RTO
        while time.monotonic() < deadline and (connection.state is not State.TIME_WAIT or
                                               "TIME-WAIT" not in _kernel_states(env, port)):
            time.sleep(0.02)
        assert connection.state is State.TIME_WAIT
        assert "TIME-WAIT" in _kernel_states(env, port)
        assert ours.recv(10) == b""
        kernel.close()


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("family", [4, 6])
def test_refused_port_is_econnrefused_both_ways(env, family):
    port = env.port()
    with env.rawkit_socket(family) as ours:
        with pytest.raises(ConnectionRefusedError) as caught:
            ours.connect((PEER[family], port))
        assert caught.value.errno == errno.ECONNREFUSED
    with env.peer_socket(family) as kernel:
        assert kernel.connect_ex((RAWKIT[family], port)) == errno.ECONNREFUSED


@pytest.mark.parametrize("family", [4, 6])
def test_peer_reset_mid_stream_is_econnreset(env, family):
    port = env.port()
    server = env.peer_socket(family)
    server.bind((PEER[family], port))
    server.listen()

    def send_then_reset() -> None:
        connection, _ = server.accept()
        connection.sendall(b"x" * 100000)
        connection.recv(1)             # wait until rawkit says it has read some
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()             # RST

    served = _in_thread(send_then_reset)
    with server, env.rawkit_socket(family) as ours:
        ours.connect((PEER[family], port))
        assert ours.recv(1000)
        ours.sendall(b"!")
        _join(served)
        with pytest.raises(ConnectionResetError) as caught:
            while ours.recv(1 << 16):
                pass
        assert caught.value.errno == errno.ECONNRESET


# ---------------------------------------------------------------------------------- keepalive
@needs_tool("tcpdump")
@pytest.mark.parametrize("family", [4, 6])
def test_keepalive_probes_on_the_wire_and_answered(env, family):
    import rawkit

    env.peer.sysctl("net.ipv4.tcp_invalid_ratelimit", 0)   # the kernel answers every out-of-window probe
    port = env.port()
    server = env.peer_socket(family)
    server.bind((PEER[family], port))
    server.listen()
    capture = env.workdir / f"keepalive-{family}.pcap"
    tcpdump = env.peer.spawn(["tcpdump", "-i", env.peer_device, "-nn", "--immediate-mode", "-U",   # no 1 s
                              "-w", str(capture), f"tcp port {port}"], ready_text="listening on")  # buffering
    with server, env.rawkit_socket(family) as ours:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        ours.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 0.2)
        ours.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 0.15)
        ours.connect((PEER[family], port))
        kernel, _ = server.accept()
        time.sleep(0.8)                  # idle: probes at about 0.2, 0.35, 0.5, 0.65 s
        ours.sendall(b"still here")      # answered probes kept the connection up
        assert kernel.recv(100) == b"still here"
        kernel.close()
    time.sleep(0.1)
    tcpdump.send_signal(signal.SIGINT)
    tcpdump.wait(5)
    packets = [p for p in rawkit.read(str(capture)) if p.tcp is not None]
    rawkit_port = next(p.tcp.sport for p in packets if p.ip.src == RAWKIT[family])
    from_rawkit = [p for p in packets if p.ip.src == RAWKIT[family]]
    handshake_ack = from_rawkit[1]        # SYN, then the ACK that completed the handshake
    probes = [p for p in from_rawkit
              if len(p.payload) <= 1 and p.tcp.seq == (handshake_ack.tcp.seq - 1) % (1 << 32)]
    answers = [p for p in packets if p.ip.src == PEER[family] and p.tcp.dport == rawkit_port
               and p.tcp.ack == handshake_ack.tcp.seq and not p.payload and not p.tcp.flags & 0x02]
    assert len(probes) >= 3, [p.summary() for p in packets]
    assert len(answers) >= 3
    assert not [p for p in packets if p.tcp.flags & 0x04], "no RST from anyone (host mode: the kernel)"


# ---------------------------------------------------------------------------------- UDP
@pytest.mark.parametrize("family", [4, 6])
def test_udp_exchange_without_port_unreachable(env, family):
    """A kernel client's connected UDP socket talks to a rawkit UDP socket; an ICMP port unreachable
    from anyone (the kernel, in host mode) would surface as ECONNREFUSED on the kernel socket. In host
    mode a kernel UDP server on the shared address keeps working too, and rawkit stays silent about it."""
    port = env.port()
    ours = env.stack.socket(FAMILY[family], socket.SOCK_DGRAM)
    ours.settimeout(TIMEOUT)
    ours.bind(("", port))
    with ours, env.peer.socket(FAMILY[family], socket.SOCK_DGRAM) as client:
        client.settimeout(TIMEOUT)
        client.connect((RAWKIT[family], port))
        for index in range(3):
            client.send(b"ping %d" % index)
            data, sender = ours.recvfrom(100)
            assert data == b"ping %d" % index and sender[0] == PEER[family]
            ours.sendto(b"pong %d" % index, sender)
            assert client.recv(100) == b"pong %d" % index
    if env.mode != "host":
        return
    kernel_port = env.port()
    with env.home.socket(FAMILY[family], socket.SOCK_DGRAM) as server, \
            env.peer.socket(FAMILY[family], socket.SOCK_DGRAM) as client:
        server.settimeout(TIMEOUT)
        server.bind((RAWKIT[family], kernel_port))
        client.settimeout(0.3)
        client.connect((RAWKIT[family], kernel_port))
        for index in range(3):
            client.send(b"to kernel %d" % index)
            data, sender = server.recvfrom(100)
            server.sendto(data.upper(), sender)
            assert client.recv(100) == b"TO KERNEL %d" % index
        with pytest.raises(TimeoutError):             # not ConnectionRefusedError: rawkit said nothing
            client.recv(100)


# ---------------------------------------------------------------------------------- guard cleanup
CHILD = """
import signal, sys
sys.path.insert(0, {root!r})
from rawkit.stack.stack import Stack
ending = sys.argv[1]
if ending == "own-handler":
    signal.signal(signal.SIGTERM, lambda *_: (print("own handler ran", flush=True), sys.exit(3)))
stack = Stack({device!r}, host_address=True)
listener = stack.socket()
listener.bind(("", 0))
listener.listen()
print("ready", flush=True)
if ending in ("exit", "exception"):
    sys.stdin.readline()       # the test has seen the table
else:
    listener.accept()          # signals arrive while blocked in a rawkit call
if ending == "exception":
    raise RuntimeError("boom")
stack.close()
"""
ENDINGS = {   # how the child ends -> (signal sent or None, exit status)
    "exit": (None, 0), "exception": (None, 1), "SIGINT": (signal.SIGINT, -signal.SIGINT),
    "SIGTERM": (signal.SIGTERM, -signal.SIGTERM), "own-handler": (signal.SIGTERM, 3),
    "SIGKILL": (signal.SIGKILL, -signal.SIGKILL),
}


def _tables(env) -> str:
    return env.home.run(["nft", "list", "tables"]).stdout


@pytest.mark.parametrize("env", ["host"], indirect=True)
def test_no_nft_table_left_after_any_exit_of_a_host_mode_process(env):
    """Six child processes run a host-address Stack, each ending differently: normal exit, an
    uncaught exception, SIGINT, SIGTERM, SIGTERM with the program's own handler (which must still
    run), SIGKILL. Each one's table (rawkit_<pid>_0) is there while it runs and gone afterwards;
    the SIGKILLed one's is removed by the next guard made in that namespace (remove_stale)."""
    from rawkit.link import nft_guard

    script = CHILD.format(root=str(ROOT), device=env.stack.link.device)
    children: dict[str, subprocess.Popen] = {}

    def kill_all() -> None:        # a child that never gets ready must not hang the test (readline)
        for child in children.values():
            if child.poll() is None:
                child.kill()

    watchdog = threading.Timer(TIMEOUT, kill_all)
    watchdog.start()
    try:
        for ending in ENDINGS:          # `ip netns exec` execs python: the child keeps its pid
            children[ending] = subprocess.Popen(env.home.command([sys.executable, "-c", script, ending]),
                                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, text=True)
        for ending, child in children.items():
            assert child.stdout.readline() == "ready\n", (ending, child.stderr.read())
        running = _tables(env)
        for child in children.values():
            assert f"rawkit_{child.pid}_0" in running
        for ending, child in children.items():
            signum = ENDINGS[ending][0]
            if signum is None:
                child.stdin.write("end\n")
                child.stdin.flush()
            else:
                child.send_signal(signum)
        for child in children.values():
            child.wait(10)
    finally:
        watchdog.cancel()
        kill_all()
        for child in children.values():
            child.wait(5)
    for ending, child in children.items():
        assert child.returncode == ENDINGS[ending][1], (ending, child.stderr.read())
    assert "own handler ran" in children["own-handler"].stdout.read()
    killed = f"rawkit_{children['SIGKILL'].pid}_0"
    others = [name for name in re.findall(r"rawkit_\d+_\d+", _tables(env))
              if not name.startswith(f"rawkit_{os.getpid()}_")]
    assert others == [killed], "only the SIGKILLed child's table may be left"
    assert env.home.call(nft_guard.remove_stale) == [killed]
    assert killed not in _tables(env)
    assert f"rawkit_{os.getpid()}_" in _tables(env)       # the module's own stack keeps its table

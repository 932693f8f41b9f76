"""The engine against recorded Linux segments.

A real exchange between two Linux sockets in two network namespaces is captured with tcpdump:
handshake, a request, a half-close, a reply, the close. Then each side is replaced by the engine:
the other side's recorded segments are fed in at their recorded times (sequence, acknowledgment and
timestamp-echo numbers shifted from the Linux ISN to ours), and what the engine sends must carry the
same flags, relative sequence/acknowledgment numbers, payload bytes and window semantics as Linux.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import needs_root, needs_tool

import rawkit
from rawkit.tcp import Connection, Listener, PeerClosed, Segment, Settings, State
from rawkit.tcp import seq as seqmath
from rawkit.tcp.segment import ACK, FIN, SYN

dpkt = pytest.importorskip("dpkt")

pytestmark = [needs_root, needs_tool("ip"), needs_tool("tcpdump"), pytest.mark.lab]

CLIENT_IP, SERVER_IP, PORT = "198.18.97.1", "198.18.97.2", 8097
REQUEST = b"hello linux " * 200                 # 2400 bytes: two segments
REPLY_PREFIX = b"pong:"

SERVER_CODE = f"""
import socket
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("{SERVER_IP}", {PORT}))
listener.listen(1)
print("ready", flush=True)
connection, _ = listener.accept()
data = b""
while chunk := connection.recv(65536):
    data += chunk
connection.sendall({REPLY_PREFIX!r} + data)
connection.close()
"""

CLIENT_CODE = f"""
import socket
connection = socket.create_connection(("{SERVER_IP}", {PORT}), timeout=5)
connection.sendall({REQUEST!r})
connection.shutdown(socket.SHUT_WR)
data = b""
while chunk := connection.recv(65536):
    data += chunk
connection.close()
assert data == {REPLY_PREFIX!r} + {REQUEST!r}, len(data)
"""


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=10)


@dataclass
class Recorded:
    time: float
    from_client: bool
    segment: Segment


@pytest.fixture(scope="module")
def linux_exchange(tmp_path_factory) -> list[Recorded]:
    """Capture one client/server exchange between two namespaces joined by a veth pair."""
    tag = f"{os.getpid() % 100000}"
    client_ns, server_ns = f"rktc{tag}", f"rkts{tag}"
    client_if, server_if = f"rkc{tag}", f"rks{tag}"
    pcap = tmp_path_factory.mktemp("linux") / "exchange.pcap"
    capture = None
    try:
        run("ip", "netns", "add", client_ns)
        run("ip", "netns", "add", server_ns)
        run("ip", "link", "add", client_if, "netns", client_ns, "type", "veth", "peer", "name", server_if,
            "netns", server_ns)
        ends = ((client_ns, client_if, CLIENT_IP), (server_ns, server_if, SERVER_IP))
        for namespace, interface, address in ends:
            run("ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", interface)
            run("ip", "-n", namespace, "link", "set", interface, "up")
            run("ip", "-n", namespace, "link", "set", "lo", "up")
            subprocess.run(["ip", "netns", "exec", namespace, "ethtool", "-K", interface, "tx", "off", "rx",
                            "off", "gso", "off", "gro", "off", "tso", "off"], capture_output=True, timeout=10)
        capture = subprocess.Popen(["ip", "netns", "exec", server_ns, "tcpdump", "-i", server_if, "-U", "-n",
                                    "--immediate-mode", "-Z", "root", "-w", str(pcap),
                                    "tcp", "port", str(PORT)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert b"listening on" in capture.stderr.readline(), "tcpdump did not start"
        server = subprocess.Popen(["ip", "netns", "exec", server_ns, sys.executable, "-c", SERVER_CODE],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert server.stdout.readline().strip() == b"ready"
        client = subprocess.run(["ip", "netns", "exec", client_ns, sys.executable, "-c", CLIENT_CODE],
                                capture_output=True, timeout=10)
        assert client.returncode == 0, client.stderr.decode()
        server.wait(timeout=10)
        time.sleep(0.3)
    finally:
        if capture is not None:
            capture.terminate()
            capture.wait(timeout=10)
        subprocess.run(["ip", "netns", "del", client_ns], capture_output=True)
        subprocess.run(["ip", "netns", "del", server_ns], capture_output=True)
    recorded = []
    with open(pcap, "rb") as handle:
        for timestamp, frame in dpkt.pcap.Reader(handle):
            packet = rawkit.decode(bytes(frame))
            if packet.tcp is None:
                continue
            segment = Segment.from_view(packet.tcp, packet.payload)
            recorded.append(Recorded(float(timestamp), packet.tcp.dport == PORT, segment))
    assert recorded and recorded[0].segment.flags == SYN
    return recorded


class Translation:
    """Shifts the recorded peer's view of the replaced side's numbers onto the engine's."""

    def __init__(self, linux_iss: int, our_iss: int, linux_ts: int, our_ts: int) -> None:
        self.seq_shift = seqmath.delta(our_iss, linux_iss)
        self.ts_shift = seqmath.delta(our_ts, linux_ts)

    def incoming(self, segment: Segment) -> Segment:
        copy = Segment(**{name: getattr(segment, name) for name in Segment.__slots__})
        if copy.flags & ACK:
            copy.ack = seqmath.add(copy.ack, self.seq_shift)
        if copy.timestamp is not None and copy.timestamp[1]:
            copy.timestamp = (copy.timestamp[0], seqmath.add(copy.timestamp[1], self.ts_shift))
        copy.sack_blocks = tuple((seqmath.add(a, self.seq_shift), seqmath.add(b, self.seq_shift))
                                 for a, b in copy.sack_blocks)
        return copy


def relative(segments: list[Segment], own_iss: int, peer_iss: int) -> list[tuple]:
    """(flags, relative seq, relative ack, payload) of the segments that matter: SYN, data, FIN."""
    return [(s.flags & (SYN | FIN | ACK), seqmath.distance(s.seq, own_iss),
             seqmath.distance(s.ack, peer_iss) if s.flags & ACK else 0, bytes(s.payload))
            for s in segments if s.flags & (SYN | FIN) or s.payload]


def stream(segments: list[Segment], iss: int) -> bytes:
    data = {}
    for segment in segments:
        for index, byte in enumerate(segment.payload):
            data[seqmath.distance(segment.seq, iss) - 1 + index] = byte
    return bytes(data[i] for i in range(len(data)))


def replay(recorded: list[Recorded], feed_from_client: bool, engine_step) -> list[Segment]:
    """Feed one side's recorded segments at their times; returns everything the engine sent."""
    sent: list[Segment] = []
    inputs = [r for r in recorded if r.from_client == feed_from_client]
    for index, item in enumerate(inputs):
        sent += engine_step(item.segment, item.time)
        upcoming = inputs[index + 1].time if index + 1 < len(inputs) else item.time + 1.0
        sent += engine_step(None, upcoming)
    return sent


def test_engine_as_server_answers_like_linux(linux_exchange):
    client_segments = [r.segment for r in linux_exchange if r.from_client]
    linux_server = [r.segment for r in linux_exchange if not r.from_client]
    client_syn, linux_synack = client_segments[0], linux_server[0]
    listener = Listener(PORT, settings=Settings(), secret=b"replay")
    state: dict = {"connection": None, "translation": None, "request": bytearray(), "replied": False}

    def step(segment: Segment | None, now: float) -> list[Segment]:
        connection = state["connection"]
        out = []
        if segment is not None:
            if connection is None:
                result = listener.receive(segment, now, (SERVER_IP, PORT), (CLIENT_IP, segment.sport))
                connection = state["connection"] = result.connection
                out += result.replies
            else:
                events = connection.receive(state["translation"].incoming(segment), now)
                state["request"] += connection.read()
                if PeerClosed() in events and not state["replied"]:
                    state["replied"] = True
                    assert connection.send(REPLY_PREFIX + bytes(state["request"]), now) == len(REQUEST) + 5
                    out += connection.poll(now)       # sendall returns once the kernel took the data
                    connection.close(now)
        if connection is not None:
            deadline = connection.next_deadline()
            if segment is None and deadline is not None and deadline <= now:
                out += connection.poll(deadline)
            out += connection.poll(now)
            if state["translation"] is None:
                synack = out[0]
                state["translation"] = Translation(linux_synack.seq, synack.seq, linux_synack.timestamp[0],
                                                   synack.timestamp[0])
        return out

    ours = replay(linux_exchange, True, step)
    connection = state["connection"]
    synack = ours[0]
    # the handshake reply: same flags, ack, negotiated options as Linux's SYN-ACK
    assert synack.flags == linux_synack.flags == SYN | ACK
    assert synack.ack == linux_synack.ack == seqmath.add(client_syn.seq, 1)
    assert synack.mss == linux_synack.mss
    assert synack.sack_permitted == linux_synack.sack_permitted
    assert (synack.wscale is None) == (linux_synack.wscale is None)
    assert synack.timestamp[1] == linux_synack.timestamp[1] == client_syn.timestamp[0]
    # what we sent (SYN, data, FIN) is what Linux sent, relative to each side's ISN
    linux_relative = relative(linux_server, linux_synack.seq, client_syn.seq)
    assert relative(ours, synack.seq, client_syn.seq) == linux_relative
    assert bytes(state["request"]) == REQUEST
    assert stream(ours, synack.seq) == stream(linux_server, linux_synack.seq) == REPLY_PREFIX + REQUEST
    # every byte and the FIN of the client got acknowledged, to the same final point as Linux
    final_ack = max(seqmath.distance(s.ack, client_syn.seq) for s in ours if s.flags & ACK)
    assert final_ack == max(seqmath.distance(s.ack, client_syn.seq) for s in linux_server)
    assert all(s.window << connection.rcv_wscale <= connection.settings.receive_buffer_size for s in ours[1:])
    assert all(s.window > 0 for s in ours)
    assert connection.state is State.CLOSED                 # the client's last ACK closed LAST-ACK


def test_engine_as_client_answers_like_linux(linux_exchange):
    linux_client = [r.segment for r in linux_exchange if r.from_client]
    server_segments = [r.segment for r in linux_exchange if not r.from_client]
    linux_syn, server_synack = linux_client[0], server_segments[0]
    connection = Connection((CLIENT_IP, linux_syn.sport), (SERVER_IP, PORT), Settings(), secret=b"replay")
    connection.connect(linux_exchange[0].time)
    syn, = connection.poll(linux_exchange[0].time)
    translation = Translation(linux_syn.seq, syn.seq, linux_syn.timestamp[0], syn.timestamp[0])
    reply = bytearray()

    def step(segment: Segment | None, now: float) -> list[Segment]:
        out = []
        if segment is not None:
            events = connection.receive(translation.incoming(segment), now)
            if events and events[0].__class__.__name__ == "Connected":
                assert connection.send(REQUEST, now) == len(REQUEST)
                out += connection.poll(now)
                connection.shutdown_write(now)
            reply.extend(connection.read())
            if connection.eof and connection.state is State.CLOSE_WAIT:
                connection.close(now)
        deadline = connection.next_deadline()
        if segment is None and deadline is not None and deadline <= now:
            out += connection.poll(deadline)
        return out + connection.poll(now)

    ours = [syn] + replay(linux_exchange, False, step)
    assert (syn.flags, syn.mss) == (linux_syn.flags, linux_syn.mss)
    assert syn.sack_permitted == linux_syn.sack_permitted
    assert (syn.wscale is None) == (linux_syn.wscale is None)
    assert syn.timestamp[1] == linux_syn.timestamp[1] == 0
    # the ACK completing the handshake, then request data and FIN at the same relative numbers
    third = ours[1]
    assert third.flags & ACK and third.ack == seqmath.add(server_synack.seq, 1) == linux_client[1].ack
    linux_relative = relative(linux_client, linux_syn.seq, server_synack.seq)
    assert relative(ours, syn.seq, server_synack.seq) == linux_relative
    assert stream(ours, syn.seq) == stream(linux_client, linux_syn.seq) == REQUEST
    assert bytes(reply) == REPLY_PREFIX + REQUEST
    # the last segment acknowledges the server's FIN exactly like Linux's last one did
    assert seqmath.distance(ours[-1].ack, server_synack.seq) == \
        seqmath.distance(linux_client[-1].ack, server_synack.seq)
    assert connection.state is State.TIME_WAIT


def test_recorded_exchange_is_what_the_test_assumes(linux_exchange):
    """Guards the two tests above: the capture really holds a handshake, data both ways and FINs."""
    flags = [(r.from_client, r.segment.flagstr) for r in linux_exchange]
    assert flags[:3] == [(True, "S"), (False, "S."), (True, ".")]
    assert sum(1 for r in linux_exchange if r.segment.fin) == 2
    assert {r.from_client for r in linux_exchange if r.segment.payload} == {True, False}
    assert Path("/proc/net").exists()


# ---------------------------------------------------------------- live: the engine against the kernel
KERNEL_IP, ENGINE_IP, KERNEL_PORT, ENGINE_PORT = "198.18.98.1", "198.18.98.2", 8098, 40123
UPLOAD_SIZE, DOWNLOAD_SIZE = 1_500_000, 700_000     # client -> server, server -> client

# The kernel's side: a Linux socket server (role "server") or client (role "client"). The client
# uploads, half-closes and reads; the server reads to EOF, answers and closes. Prints what it got.
KERNEL_PEER = f"""
import hashlib, random, socket, sys
upload, download = random.Random(4).randbytes({UPLOAD_SIZE}), random.Random(5).randbytes({DOWNLOAD_SIZE})
if sys.argv[1] == "server":
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("{KERNEL_IP}", {KERNEL_PORT}))
    listener.listen(1)
    listener.settimeout(20)
    print("ready", flush=True)
    connection, _ = listener.accept()
else:
    print("ready", flush=True)
    sys.stdin.readline()                                   # the engine listens now
    connection = socket.create_connection(("{ENGINE_IP}", {ENGINE_PORT}), timeout=20)
    connection.sendall(upload)
    connection.shutdown(socket.SHUT_WR)
connection.settimeout(20)
received = bytearray()
while chunk := connection.recv(65536):
    received += chunk
if sys.argv[1] == "server":
    connection.sendall(download)
connection.close()
print(len(received), hashlib.sha256(received).hexdigest(), flush=True)
"""

# The engine's side, inside a namespace where the veth has no address: that kernel ignores the
# traffic, so it neither answers the engine's segments with RSTs nor competes with it.
LIVE_ENGINE = f"""
import hashlib, os, random, select, socket, sys, time
import rawkit
from rawkit.tcp import Connection, Listener, Segment, Settings, State, address_sum
from rawkit.wire.addresses import ip4_bytes

role, interface, own_mac, peer_mac = sys.argv[1:5]
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
sock.bind((interface, 0))
clock = time.monotonic
local, remote = ("{ENGINE_IP}", {ENGINE_PORT}), ("{KERNEL_IP}", {KERNEL_PORT})
pseudo = address_sum(ip4_bytes("{ENGINE_IP}"), ip4_bytes("{KERNEL_IP}"))
ethernet = bytes.fromhex(peer_mac.replace(":", "")) + bytes.fromhex(own_mac.replace(":", "")) + b"\\x08\\x00"
if role == "client":
    outgoing = random.Random(4).randbytes({UPLOAD_SIZE})
else:
    outgoing = random.Random(5).randbytes({DOWNLOAD_SIZE})
offset, received, ip_id = 0, bytearray(), 0
started = clock()
connection, listener = None, None
if role == "client":
    connection = Connection(local, remote, Settings(), secret=os.urandom(16))
    connection.connect(started)
else:
    listener = Listener({ENGINE_PORT}, backlog=1, secret=os.urandom(16))
print("ready", flush=True)
finished = (State.CLOSED, State.TIME_WAIT) if role == "client" else (State.CLOSED,)
while clock() < started + 25 and (connection is None or connection.state not in finished):
    now = clock()
    if connection is not None:
        may_send = role == "client" or connection.eof
        if may_send and offset < len(outgoing) and connection.state in (State.ESTABLISHED, State.CLOSE_WAIT):
            offset += connection.send(outgoing[offset:offset + connection.send_space], now)
            if offset == len(outgoing):
                connection.shutdown_write(now)
        received += connection.read()
        for segment in connection.poll(now):
            tcp = segment.to_bytes(pseudo)
            ip_id = (ip_id + 1) & 0xFFFF
            ip = rawkit.IPv4(src="{ENGINE_IP}", dst="{KERNEL_IP}", id=ip_id, flags=2, proto=6)
            sock.send(ethernet + bytes(ip / tcp)[:20] + tcp)
        connection.events()
    wake = connection.next_deadline() if connection is not None else None
    timeout = 0.05 if wake is None else min(max(wake - clock(), 0), 0.05)
    if select.select([sock], [], [], timeout)[0]:
        for _ in range(256):
            try:
                frame = sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                break
            packet = rawkit.decode(frame)
            if packet.tcp is None or packet.ip.dst != "{ENGINE_IP}" or packet.tcp.dport != {ENGINE_PORT}:
                continue
            assert packet.tcp.checksum_ok
            segment = Segment.from_view(packet.tcp, packet.payload)
            if connection is None:
                peer = (packet.ip.src, segment.sport)
                connection = listener.receive(segment, clock(), local, peer).connection
            else:
                connection.receive(segment, clock())
received += connection.read()
print(connection.state.value, len(received), hashlib.sha256(received).hexdigest(),
      hashlib.sha256(outgoing).hexdigest(), round(clock() - started, 3), flush=True)
"""


@pytest.mark.parametrize("engine_role", ["client", "server"])
def test_engine_talks_to_the_linux_kernel_live(engine_role):
    """A real connection over AF_PACKET between the engine and a Linux socket, both roles:
    handshake, 1.5 MB up, half-close, 0.7 MB down, close; sha256 on both ends."""
    tag = f"{os.getpid() % 100000}"
    kernel_ns, engine_ns = f"rklk{tag}", f"rkle{tag}"
    kernel_if, engine_if = f"rklk{tag}", f"rkle{tag}"
    kernel = engine = None
    try:
        run("ip", "netns", "add", kernel_ns)
        run("ip", "netns", "add", engine_ns)
        run("ip", "link", "add", kernel_if, "netns", kernel_ns, "type", "veth", "peer", "name", engine_if,
            "netns", engine_ns)
        macs = {}
        for namespace, interface in ((kernel_ns, kernel_if), (engine_ns, engine_if)):
            run("ip", "-n", namespace, "link", "set", interface, "up")
            subprocess.run(["ip", "netns", "exec", namespace, "ethtool", "-K", interface, "tx", "off", "rx",
                            "off", "gso", "off", "gro", "off", "tso", "off"], capture_output=True, timeout=10)
            macs[interface] = subprocess.run(["ip", "netns", "exec", namespace, "cat",
                                              f"/sys/class/net/{interface}/address"],
                                             capture_output=True, text=True, check=True).stdout.strip()
        run("ip", "-n", kernel_ns, "addr", "add", f"{KERNEL_IP}/24", "dev", kernel_if)
        run("ip", "-n", kernel_ns, "neigh", "add", ENGINE_IP, "lladdr", macs[engine_if], "dev", kernel_if)
        kernel_role = "server" if engine_role == "client" else "client"
        kernel = subprocess.Popen(["ip", "netns", "exec", kernel_ns, sys.executable, "-c", KERNEL_PEER,
                                   kernel_role], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        assert kernel.stdout.readline().strip() == b"ready"
        engine = subprocess.Popen(["ip", "netns", "exec", engine_ns, sys.executable, "-c", LIVE_ENGINE,
                                   engine_role, engine_if, macs[engine_if], macs[kernel_if]],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert engine.stdout.readline().strip() == b"ready"
        kernel.stdin.write(b"go\n")
        kernel.stdin.flush()
        kernel_out, kernel_err = kernel.communicate(timeout=30)
        engine_out, engine_err = engine.communicate(timeout=30)
        assert kernel.returncode == 0, kernel_err.decode()
        assert engine.returncode == 0, engine_err.decode()
    finally:
        for process in (kernel, engine):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
        subprocess.run(["ip", "netns", "del", kernel_ns], capture_output=True)
        subprocess.run(["ip", "netns", "del", engine_ns], capture_output=True)
    state, engine_got, engine_got_digest, engine_sent_digest, _ = engine_out.decode().split()
    kernel_got, kernel_got_digest = kernel_out.decode().split()
    assert kernel_got_digest == engine_sent_digest
    expected_size = DOWNLOAD_SIZE if engine_role == "client" else UPLOAD_SIZE
    assert int(engine_got) == expected_size and int(kernel_got) == UPLOAD_SIZE + DOWNLOAD_SIZE - expected_size
    seed = 5 if engine_role == "client" else 4
    assert engine_got_digest == hashlib.sha256(random.Random(seed).randbytes(expected_size)).hexdigest()
    # the engine's FIN went first as client (it holds TIME-WAIT); as server it closed second (LAST-ACK)
    assert state == ("TIME-WAIT" if engine_role == "client" else "CLOSED")

"""`rawkit sniff` against tcpdump on the same lab veth at the same time: a bounded traffic mix (ICMP,
TCP with options, UDP, ARP, IPv4 and IPv6, some VLAN-tagged, plus real pings) must give the same
packets, bytes and count in both files, with and without a filter; Ctrl-C and SIGTERM leave a
valid file holding every packet counted; an interface going down stops the capture cleanly.
Only interfaces inside namespaces made here are captured on."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rawkit
import rawkit.pcap
from tests.conftest import needs_root, needs_tool

A_V4, B_V4 = "198.18.0.1", "198.18.0.2"
A_V6, B_V6 = "fd00:18::1", "fd00:18::2"
SNIFF = [sys.executable, "-m", "rawkit", "sniff"]


def traffic_mix(src_mac: str, dst_mac: str) -> list[bytes]:
    """Crafted frames from A to B: every kind the acceptance names, some with 802.1Q tags."""
    eth = rawkit.Ether(src=src_mac, dst=dst_mac)
    frames = []
    for number in range(6):
        v4 = rawkit.IPv4(src=A_V4, dst=B_V4, id=100 + number)
        v6 = rawkit.IPv6(src=A_V6, dst=B_V6)
        kinds = [
            v4 / rawkit.ICMP(id=7, seq=number) / (b"ping" * number),
            v4 / rawkit.TCP(sport=40000 + number, dport=80, flags="S", seq=1000 * number,
                            options=[("MSS", 1460), ("SAckOK", b""), ("WScale", 7)]),
            v4 / rawkit.UDP(sport=5000, dport=9999) / (b"udp payload %d" % number),
            v6 / rawkit.ICMPv6(id=9, seq=number) / b"v6 ping",
            v6 / rawkit.UDP(sport=6000, dport=53) / (b"x" * (50 * number + 1)),
            v6 / rawkit.TCP(sport=41000, dport=443, flags="PA", seq=5, ack=6) / b"data",
        ]
        for kind in kinds:
            frames.append(bytes(eth / kind))
        frames.append(bytes(eth / rawkit.Dot1Q(vid=10 + number, pcp=number % 8) / kinds[number % 3]))
        frames.append(bytes(rawkit.Ether(src=src_mac, dst="ff:ff:ff:ff:ff:ff")
                            / rawkit.ARP(op=1, hwsrc=src_mac, psrc=A_V4, pdst=f"198.18.0.{50 + number}")))
    return frames


def send_mix(lab_a, device: str, frames: list[bytes]) -> None:
    from rawkit.link.send import FrameSender

    def run() -> None:
        with FrameSender(device) as out:
            for frame in frames:
                out.send(frame)
                time.sleep(0.001)

    lab_a.call(run)


def housekeeping(frame: bytes) -> bool:
    """MLD reports and router solicitations the kernel sends on its own schedule."""
    if frame[12:14] != b"\x86\xdd":
        return False
    next_header, offset = frame[20], 54
    if next_header == 0:
        next_header, offset = frame[54], 54 + (frame[55] + 1) * 8
    return next_header == 58 and len(frame) > offset and frame[offset] in (131, 133, 143)


def records(path: Path) -> list[tuple[bytes, int]]:
    with rawkit.pcap.open_capture(str(path)) as capture:
        return [(pkt.data, pkt.wirelen) for pkt in capture if not housekeeping(pkt.data)]


def wait_listening(process: subprocess.Popen, log: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while "listening on" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"capture did not start: {log.read_text()}")
        time.sleep(0.05)


def stop(process: subprocess.Popen, how: int = signal.SIGINT) -> int:
    process.send_signal(how)
    return process.wait(timeout=10)


def counts(text: str) -> tuple[int, int, int]:
    found = [int(re.search(rf"(\d+) packets? {what}", text).group(1))
             for what in ("captured", "received by filter", "dropped by kernel")]
    return found[0], found[1], found[2]


@pytest.fixture(scope="module")
def lab():
    from rawkit.link.netns import Lab

    with Lab(prefix="rksniff") as made:
        a, b = made.namespace("a"), made.namespace("b")
        link = made.link(a, b, ipv4=(f"{A_V4}/24", f"{B_V4}/24"), ipv6=(f"{A_V6}/64", f"{B_V6}/64"))
        yield made, a, b, link


def start_both(b, device: str, tmp_path: Path, words: list[str]):
    ours, theirs = tmp_path / "rawkit.pcap", tmp_path / "tcpdump.pcap"
    our_log, their_log = tmp_path / "rawkit.log", tmp_path / "tcpdump.log"
    our_process = b.spawn([*SNIFF, "-i", device, "-w", str(ours), *words], stderr=our_log)
    their_process = b.spawn(["tcpdump", "-i", device, "-nn", "-U", "--immediate-mode", "-B", "4096",
                             "-Z", "root", "-w", str(theirs), *words], stderr=their_log)
    wait_listening(our_process, our_log)
    wait_listening(their_process, their_log)
    return (our_process, ours, our_log), (their_process, theirs, their_log)


@needs_root
@needs_tool("tcpdump")
@needs_tool("ping")
@pytest.mark.parametrize("words", [[], ["udp or icmp6 or arp"], ["vlan"], ["tcp[tcpflags] & tcp-syn != 0"]],
                         ids=["all", "udp-icmp6-arp", "vlan", "syn"])
def test_same_packets_as_tcpdump(lab, tmp_path: Path, words: list[str]) -> None:
    _made, a, b, link = lab
    (ours, our_file, our_log), (theirs, their_file, _) = start_both(b, link.b.device, tmp_path, words)
    send_mix(a, link.a.device, traffic_mix(link.a.mac, link.b.mac))
    a.run(["ping", "-c", "3", "-i", "0.05", B_V4])
    a.run(["ping", "-c", "2", "-i", "0.05", B_V6])
    time.sleep(0.3)
    assert stop(ours) == 0
    stop(theirs)
    mine, reference = records(our_file), records(their_file)
    assert len(reference) > 0
    assert mine == reference
    captured, received, dropped = counts(our_log.read_text())
    with rawkit.pcap.open_capture(str(our_file)) as capture:
        assert captured == sum(1 for _ in capture)
    assert dropped == 0 and received >= captured


@needs_root
@needs_tool("ping")
@pytest.mark.parametrize(("how", "form"), [(signal.SIGINT, []), (signal.SIGTERM, ["--pcapng"])],
                         ids=["SIGINT-pcap", "SIGTERM-pcapng"])
def test_signal_leaves_every_counted_packet(lab, tmp_path: Path, how: int, form: list[str]) -> None:
    _made, a, b, link = lab
    path, log = tmp_path / "cap", tmp_path / "log"
    process = b.spawn([*SNIFF, "-i", link.b.device, "-w", str(path), *form, "-B", "256"], stderr=log)
    wait_listening(process, log)
    flood = a.spawn(["ping", "-f", "-c", "20000", "-s", "100", B_V4])
    time.sleep(0.5)
    assert stop(process, how) == 0
    flood.kill()
    flood.wait()
    captured, received, dropped = counts(log.read_text())
    with rawkit.pcap.open_capture(str(path)) as capture:
        stored = sum(1 for _ in capture)
    assert stored == captured > 0
    assert received >= captured
    if shutil.which("capinfos"):
        subprocess.run(["capinfos", str(path)], check=True, capture_output=True)


@needs_root
@needs_tool("ping")
def test_count_text_and_json(lab, tmp_path: Path) -> None:
    _made, a, b, link = lab
    out, log = tmp_path / "out", tmp_path / "log"
    process = b.spawn([*SNIFF, "-i", link.b.device, "-c", "4", "icmp"], stdout=out.open("w"), stderr=log)
    wait_listening(process, log)
    a.run(["ping", "-c", "3", "-i", "0.05", B_V4])
    assert process.wait(timeout=10) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and all("ICMP echo" in line for line in lines)
    assert counts(log.read_text())[0] == 4
    process = b.spawn([*SNIFF, "-i", link.b.device, "-c", "2", "--json", "-Q", "in", "icmp"],
                      stdout=out.open("w"), stderr=log)
    wait_listening(process, log)
    a.run(["ping", "-c", "3", "-i", "0.05", B_V4])
    assert process.wait(timeout=10) == 0
    import json

    objects = [json.loads(line) for line in out.read_text().splitlines()]
    assert [record["icmp"]["type"] for record in objects] == [8, 8]  # -Q in: only the requests
    assert all(record["direction"] == "in" for record in objects)


@needs_root
@needs_tool("ping")
def test_interface_going_down_stops_cleanly(lab, tmp_path: Path) -> None:
    made, _a, _b, _link = lab
    c, d = made.namespace("c"), made.namespace("d")
    link = made.link(c, d, ipv4=("198.18.1.1/24", "198.18.1.2/24"))
    path, log = tmp_path / "cap.pcap", tmp_path / "log"
    process = d.spawn([*SNIFF, "-i", link.b.device, "-w", str(path)], stderr=log)
    wait_listening(process, log)
    c.run(["ping", "-c", "3", "-i", "0.05", "198.18.1.2"])
    time.sleep(0.2)
    d.run(["ip", "link", "set", link.b.device, "down"])
    assert process.wait(timeout=10) == 1
    text = log.read_text()
    assert "went down" in text
    captured = counts(text)[0]
    with rawkit.pcap.open_capture(str(path)) as capture:
        assert sum(1 for _ in capture) == captured >= 6


@needs_root
def test_errors(lab, tmp_path: Path) -> None:
    _made, _a, b, _link = lab
    result = b.run([*SNIFF, "-i", "nosuch0"], check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("rawkit: nosuch0: no such interface (interfaces: lo")
    assert result.stderr.count("\n") == 1
    dropped = b.run(["setpriv", "--inh-caps=-all",
                     "--bounding-set=-all", *SNIFF, "-i", "lo"], check=False)
    assert dropped.returncode == 2, dropped.stderr
    assert dropped.stderr == "rawkit: sniff needs root or CAP_NET_RAW (Operation not permitted)\n"


@needs_root
@needs_tool("ping")
def test_drop_root_after_opening(lab, tmp_path: Path) -> None:
    _made, a, b, link = lab
    path, log = tmp_path / "z.pcap", tmp_path / "log"
    process = b.spawn([*SNIFF, "-i", link.b.device, "-w", str(path), "-Z", "nobody", "icmp"], stderr=log)
    wait_listening(process, log)
    status = Path(f"/proc/{process.pid}/status").read_text()
    uids = next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]
    assert uids == ["65534"] * 4
    a.run(["ping", "-c", "2", "-i", "0.05", B_V4])
    time.sleep(0.2)
    assert stop(process) == 0
    captured = counts(log.read_text())[0]
    with rawkit.pcap.open_capture(str(path)) as capture:
        assert sum(1 for _ in capture) == captured == 4


@needs_root
@needs_tool("tcpdump")
@needs_tool("ping")
def test_printed_lines_are_tcpdumps(lab, tmp_path: Path) -> None:
    """Same lines as a live `tcpdump -nn -i` (the formatter is `rawkit read`'s)."""
    _made, a, b, link = lab
    our_out, their_out = tmp_path / "ours.txt", tmp_path / "theirs.txt"
    our_log, their_log = tmp_path / "ours.log", tmp_path / "theirs.log"
    ours = subprocess.Popen(b.command([*SNIFF, "-i", link.b.device]), stdout=our_out.open("w"),
                            stderr=our_log.open("w"))
    theirs = subprocess.Popen(b.command(["tcpdump", "-i", link.b.device, "-nn", "-l", "--immediate-mode"]),
                              stdout=their_out.open("w"), stderr=their_log.open("w"))
    try:
        wait_listening(ours, our_log)
        wait_listening(theirs, their_log)
        send_mix(a, link.a.device, traffic_mix(link.a.mac, link.b.mac))
        a.run(["ping", "-c", "2", "-i", "0.05", B_V4])
        time.sleep(0.3)
    finally:
        assert stop(ours) == 0
        stop(theirs)
    spontaneous = ("multicast listener report", "router solicitation")

    def lines(path: Path) -> list[str]:
        """Lines without their timestamps (each packet socket stamps a frame itself)."""
        return [line.split(" ", 1)[1] for line in path.read_text().splitlines()
                if line and not any(s in line for s in spontaneous)]

    reference = lines(their_out)
    assert len(reference) > 60 and lines(our_out) == reference


@needs_root
@needs_tool("ping")
def test_write_to_stdout(lab, tmp_path: Path) -> None:
    _made, a, b, link = lab
    out, log = tmp_path / "stdout.pcap", tmp_path / "log"
    process = b.spawn([*SNIFF, "-i", link.b.device, "-c", "3", "-U", "-w", "-", "icmp"],
                      stdout=out.open("wb"), stderr=log)
    wait_listening(process, log)
    a.run(["ping", "-c", "2", "-i", "0.05", B_V4])
    assert process.wait(timeout=10) == 0
    with rawkit.pcap.open_capture(str(out)) as capture:
        assert [pkt.icmp.type for pkt in capture] == [8, 0, 8]


@needs_root
@needs_tool("ping")
def test_filter_too_long_for_the_kernel_runs_here(lab, tmp_path: Path) -> None:
    import rawkit.filter

    _made, a, b, link = lab
    expression = "icmp or " + " or ".join(f"port {1000 + number}" for number in range(300))
    path, log = tmp_path / "long.pcap", tmp_path / "log"
    # the sniffer compiles the filter (seconds for this one) on the other core while this one does
    process = b.spawn([*SNIFF, "-i", link.b.device, "-c", "2", "-w", str(path), expression], stderr=log)
    with pytest.raises(rawkit.filter.FilterError):  # more than classic BPF can hold
        rawkit.filter.compile(expression, 1).bpf()
    wait_listening(process, log, timeout=60)
    a.run(["ping", "-c", "2", "-i", "0.05", B_V4])
    assert process.wait(timeout=10) == 0
    with rawkit.pcap.open_capture(str(path)) as capture:
        assert [pkt.icmp.type for pkt in capture] == [8, 0]

#!/usr/bin/env python3
"""The highest packet rate `rawkit sniff -w` keeps with no kernel drops, against `tcpdump -w` with the
same ring size, snap length and filter, measured in the same run on a namespace-lab veth.

Why a search rather than one flood: "no drops" is a threshold; each trial sends a bounded number of
small UDP frames at a fixed rate (a tiny C sender on AF_PACKET, compiled here; Python's own loop
when no C compiler is present), captures them on the peer, and reads the capturer's closing
statistics. The rate doubles until a trial loses frames, then a bisection narrows it. Trials of the
two capturers alternate so both see the same machine state. Needs root; nothing leaves the lab.

On two cores the sender (which also runs the kernel's receive path, ring copy included) often tops
out before either capturer drops; so each trial also reports the capturer's CPU time per packet
(from /proc, after start-up), whose inverse is the rate one core could keep up with. With
--same-cpu the sender and the capturer share one core (taskset), so the capturer's own cost is
what limits the rate it keeps without drops.

    python3 tools/bench_sniff.py [--seconds 1.0] [--buffer-kib 2048] [--snaplen 262144] [--max-rate N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rawkit.link.netns import Lab, LabError

A_V4, B_V4 = "198.18.9.1", "198.18.9.2"
PORT = 9
FILTER = f"udp dst port {PORT}"

SENDER_C = r"""
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* usage: sender IFACE FRAME_HEX COUNT RATE ; sends COUNT copies (a counter in the last 4 bytes),
   paced at RATE frames per second, in bursts of 32 */
static double now(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 5) return 2;
    unsigned char frame[2048]; size_t len = strlen(argv[2]) / 2;
    for (size_t i = 0; i < len; i++) sscanf(argv[2] + 2 * i, "%2hhx", &frame[i]);
    long count = atol(argv[3]); double rate = atof(argv[4]);
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) { perror("socket"); return 1; }
    struct sockaddr_ll addr = {0};
    addr.sll_family = AF_PACKET; addr.sll_ifindex = if_nametoindex(argv[1]);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
    double start = now(); long sent = 0;
    while (sent < count) {
        double due = start + sent / rate;
        while (now() < due) ;
        for (int burst = 0; burst < 32 && sent < count; burst++, sent++) {
            uint32_t number = htonl((uint32_t)sent);
            memcpy(frame + len - 4, &number, 4);
            if (send(fd, frame, len, 0) < 0) { perror("send"); return 1; }
        }
    }
    printf("%ld %.6f\n", sent, now() - start);
    return 0;
}
"""


def build_sender(workdir: Path) -> list[str] | None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    source, binary = workdir / "sender.c", workdir / "sender"
    source.write_text(SENDER_C)
    subprocess.run([compiler, "-O2", "-o", str(binary), str(source)], check=True)
    return [str(binary)]


PY_SENDER = """
import socket, sys, time
device, frame, count, rate = sys.argv[1], bytes.fromhex(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0); sock.bind((device, 0))
start = time.monotonic(); sent = 0
while sent < count:
    while time.monotonic() < start + sent / rate: pass
    for _ in range(min(32, count - sent)):
        sock.send(frame[:-4] + sent.to_bytes(4, "big")); sent += 1
print(sent, time.monotonic() - start)
"""


def udp_frame(src_mac: str, dst_mac: str) -> bytes:
    import rawkit

    return bytes(rawkit.Ether(src=src_mac, dst=dst_mac) / rawkit.IPv4(src=A_V4, dst=B_V4)
                 / rawkit.UDP(sport=4000, dport=PORT) / bytes(18))


def capturer(name: str, device: str, path: Path, buffer_kib: int, snaplen: int) -> list[str]:
    if name == "tcpdump":
        return ["tcpdump", "-i", device, "-nn", "-B", str(buffer_kib), "-s", str(snaplen), "-Z", "root",
                "-w", str(path), FILTER]
    return [sys.executable, "-m", "rawkit", "sniff", "-i", device, "-B", str(buffer_kib), "-s", str(snaplen),
            "-w", str(path), FILTER]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def trial(lab_parts, name: str, rate: int, seconds: float, settings: argparse.Namespace,
          sender: list[str], frame: bytes) -> tuple[bool, int, int, float, float]:
    """(kept every frame, captured, dropped, achieved send rate, capturer CPU µs per packet) for one
    bounded flood."""
    a, b, link, workdir = lab_parts
    path, log = workdir / f"{name}.pcap", workdir / f"{name}.log"
    count = max(1000, int(rate * seconds))
    pin = ["taskset", "-c", "0"] if settings.same_cpu else []
    process = b.spawn([*pin, *capturer(name, link.b.device, path, settings.buffer_kib, settings.snaplen)],
                      stderr=log)
    deadline = time.monotonic() + 10
    while "listening on" not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{name} did not start: {log.read_text().strip()}")
        time.sleep(0.02)
    time.sleep(0.2)
    cpu_before = cpu_seconds(process.pid)
    result = a.run([*pin, *sender, link.a.device, frame.hex(), str(count), str(rate)], timeout=120)
    sent, elapsed = result.stdout.split()
    time.sleep(1.2)  # longer than tcpdump's 1 s ring timeout: every block handed over
    cpu = cpu_seconds(process.pid) - cpu_before
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    text = log.read_text()
    captured = int(re.search(r"(\d+) packets? captured", text).group(1))
    dropped = int(re.search(r"(\d+) packets? dropped by kernel", text).group(1))
    path.unlink(missing_ok=True)
    return (captured == count and dropped == 0, captured, dropped, int(sent) / float(elapsed),
            cpu / max(captured, 1) * 1e6)


def search(lab_parts, settings: argparse.Namespace, sender: list[str],
           frame: bytes) -> tuple[dict[str, float], dict[str, list[tuple[float, int]]]]:
    """Highest achieved send rate kept without loss, and (CPU seconds, packets) of every trial."""
    names = ("rawkit", "tcpdump")
    best = dict.fromkeys(names, 0)
    achieved_best: dict[str, float] = dict.fromkeys(names, 0.0)
    costs: dict[str, list[tuple[float, int]]] = {name: [] for name in names}

    def run(name: str, rate: int) -> bool:
        kept, captured, dropped, achieved, cost = trial(lab_parts, name, rate, settings.seconds, settings,
                                                        sender, frame)
        print(f"  {name:8s} {rate:>9,d} pps asked, {achieved:>9,.0f} sent: {captured:>9,d} captured, "
              f"{dropped:>7,d} dropped, {cost:5.2f} CPU us/packet", flush=True)
        costs[name].append((cost * captured / 1e6, captured))
        if kept:
            achieved_best[name] = max(achieved_best[name], achieved)
        return kept

    failed: dict[str, int | None] = dict.fromkeys(names, None)
    rate = settings.start_rate
    while rate <= settings.max_rate and any(failed[name] is None for name in names):
        for name in names:
            if failed[name] is None:
                if run(name, rate):
                    best[name] = rate
                else:
                    failed[name] = rate
        rate *= 2
    for _ in range(settings.bisect_steps):
        for name in names:
            high = failed[name]
            if high is None or high - best[name] <= max(1000, best[name] // 20):
                continue
            middle = (best[name] + high) // 2
            if run(name, middle):
                best[name] = middle
            else:
                failed[name] = middle
    return achieved_best, costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each flood")
    parser.add_argument("--buffer-kib", type=int, default=2048, help="ring size for both (-B)")
    parser.add_argument("--snaplen", type=int, default=262144)
    parser.add_argument("--start-rate", type=int, default=25_000)
    parser.add_argument("--max-rate", type=int, default=3_200_000)
    parser.add_argument("--bisect-steps", type=int, default=4)
    parser.add_argument("--same-cpu", action="store_true", help="sender and capturer on CPU 0 (taskset)")
    settings = parser.parse_args()
    if shutil.which("tcpdump") is None:
        raise SystemExit("bench_sniff: tcpdump is not installed (the peer)")
    try:
        with Lab(prefix="rkbench") as lab, tempfile.TemporaryDirectory(prefix="rkbench") as temporary:
            workdir = Path(temporary)
            a, b = lab.namespace("a"), lab.namespace("b")
            link = lab.link(a, b, ipv4=(f"{A_V4}/24", f"{B_V4}/24"))
            sender = build_sender(workdir) or [sys.executable, "-c", PY_SENDER]
            frame = udp_frame(link.a.mac, link.b.mac)
            print(f"bench_sniff: {len(frame)}-byte UDP frames, -B {settings.buffer_kib} KiB, "
                  f"-s {settings.snaplen}, {'one shared CPU, ' if settings.same_cpu else ''}"
                  f"filter '{FILTER}', {settings.seconds:g} s floods, sender: "
                  f"{'C' if sender[0] != sys.executable else 'Python'}")
            best, costs = search((a, b, link, workdir), settings, sender, frame)
    except LabError as error:
        raise SystemExit(f"bench_sniff: {error}") from None
    print(f"highest achieved rate with no drops: rawkit sniff -w {best['rawkit']:,.0f} pps, "
          f"tcpdump -w {best['tcpdump']:,.0f} pps", end="")
    print(f" (ratio {best['rawkit'] / best['tcpdump']:.2f})" if best["tcpdump"] else "")
    # over all trials together: a single trial's CPU time is only as fine as the clock tick
    cost = {name: sum(cpu for cpu, _ in values) / max(sum(count for _, count in values), 1) * 1e6
            for name, values in costs.items()}
    print(f"capturer CPU per packet over all trials: rawkit {cost['rawkit']:.3f} us, "
          f"tcpdump {cost['tcpdump']:.3f} us", end="")
    if cost["rawkit"] > 0 and cost["tcpdump"] > 0:
        print(f"; one core keeps up with about rawkit {1e6 / cost['rawkit']:,.0f} pps, "
              f"tcpdump {1e6 / cost['tcpdump']:,.0f} pps "
              f"(rawkit/tcpdump {cost['tcpdump'] / cost['rawkit']:.2f})")
    else:
        print(" (below the CPU clock's resolution)")


if __name__ == "__main__":
    main()

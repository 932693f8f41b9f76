#!/usr/bin/env python3
"""Profile rawkit's Stack on bench_tcp's lab (needs root): cProfile of the stack's loop thread and of
the calling thread during a download, an upload or a run of connections, plus the process CPU per
unit (os.times, every thread and the system time our calls cost) and the Python calls per unit in
each thread, printed in that order. (A blocking socket call takes the frames itself, so most of a
request/response exchange shows in the calling thread: see Stack.wait.)

    tools/profile_stack_tcp.py download --megabytes 16
    tools/profile_stack_tcp.py connections --count 500 --top 30

cProfile slows Python code several times over, so its shares matter, not its seconds; run with
--no-profile for the CPU per unit alone. Traffic stays inside the namespaces this script creates.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys

import bench_tcp

from rawkit.link.netns import Lab, LabError
from rawkit.stack import stack as stack_module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", choices=("download", "upload", "connections"))
    parser.add_argument("--megabytes", type=float, default=16)
    parser.add_argument("--count", type=int, default=500, help="connections (default 500)")
    parser.add_argument("--top", type=int, default=25, help="functions shown per thread")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()
    size = int(args.megabytes * (1 << 20))
    loop_profile = cProfile.Profile()
    if not args.no_profile:
        run_loop = stack_module.Stack._run
        stack_module.Stack._run = lambda stack: loop_profile.runcall(run_loop, stack)
    caller_profile = cProfile.Profile()
    try:
        with Lab() as lab:
            ours, peer = lab.namespace("rk"), lab.namespace("peer")
            addresses = (f"{bench_tcp.KERNEL_IP}/24", f"{bench_tcp.PEER_IP}/24")
            link = lab.link(ours, peer, ipv4=addresses, mtu=1500)
            server = [sys.executable, bench_tcp.__file__, "--megabytes", str(args.megabytes), "serve"]
            peer.spawn(server, ready_text="serving", timeout=20)
            stack = ours.call(stack_module.Stack, link.a.device, f"{bench_tcp.RAWKIT_IP}/24")
            try:
                if args.workload == "download":
                    work, unit, amount = (bench_tcp.download, stack.socket, size), "MB", size / 1e6
                elif args.workload == "upload":
                    work, unit, amount = (bench_tcp.upload, stack.socket, os.urandom(size)), "MB", size / 1e6
                else:
                    work, unit, amount = (bench_tcp.connections, stack.socket, args.count), "conn", args.count
                before = os.times()
                if args.no_profile:
                    seconds = ours.call(*work)
                else:
                    seconds = ours.call(caller_profile.runcall, *work)
                after = os.times()
            finally:
                stack.close()
    except LabError as error:
        raise SystemExit(f"profile_stack_tcp: {error}") from None
    user = (after.user - before.user) / amount * 1e6
    system = (after.system - before.system) / amount * 1e6
    print(f"{args.workload}: {amount / seconds:.1f} {unit}/s, CPU per {unit}: user {user:.0f} us, "
          f"system {system:.0f} us{'' if args.no_profile else ' (under cProfile)'}")
    if not args.no_profile:
        calls = {title: sum(entry[1] for entry in pstats.Stats(profile).stats.values()) / amount
                 for title, profile in (("loop", loop_profile), ("caller", caller_profile))}
        print(f"Python calls per {unit}: {calls['loop'] + calls['caller']:.0f} (stack loop thread "
              f"{calls['loop']:.0f}, calling thread {calls['caller']:.0f})")
        for title, profile in (("stack loop thread", loop_profile), ("calling thread", caller_profile)):
            print(f"===== {title}")
            pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()

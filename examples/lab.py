"""Run an example pair in a throwaway network-namespace lab, with one command (as root):

    sudo python3 examples/lab.py tcp_echo            # TCP echo server (port 1100) and its client
    sudo python3 examples/lab.py udp_hello           # UDP "Hello World!" server (port 7654) and its client
    sudo python3 examples/lab.py tcp_echo --ipv6     # the same over IPv6

Two namespaces joined by a veth pair (offloads off); neither kernel gets an address: rawkit owns
198.18.0.10 (server) and 198.18.0.20 (client), or fd00:18::10 and fd00:18::20, and answers ARP/ND
itself. Nothing outside the lab is touched; the namespaces are removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PAIRS = {
    "tcp_echo": ("tcp_echo_server.py", "tcp_echo_client.py", ["Hello, echo!", "second line"]),
    "udp_hello": ("udp_hello_server.py", "udp_hello_client.py", []),
}
ADDRESSES = {4: ("198.18.0.10", "198.18.0.20", 24), 6: ("fd00:18::10", "fd00:18::20", 64)}


def main() -> int:
    parser = argparse.ArgumentParser(description="Run a rawkit example server and client in a namespace lab.")
    parser.add_argument("example", choices=sorted(PAIRS))
    parser.add_argument("--ipv6", action="store_true", help="use fd00:18::/64 instead of 198.18.0.0/24")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))             # run from a checkout without installing
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE.parent), os.environ.get("PYTHONPATH")]))
    from rawkit.link.netns import Lab, LabError

    server_script, client_script, messages = PAIRS[args.example]
    server_ip, client_ip, prefix = ADDRESSES[6 if args.ipv6 else 4]
    python = [sys.executable]
    try:
        with Lab(prefix="rkex") as lab:
            server_ns, client_ns = lab.namespace("server"), lab.namespace("client")
            link = lab.link(server_ns, client_ns)
            log = Path(lab.workdir) / "server.log"
            server = server_ns.spawn([*python, str(HERE / server_script), "-i", link.a.device,
                                      "--ip", f"{server_ip}/{prefix}", "--count", "1"],
                                     stderr=log, ready_text="listening", timeout=20)
            client = client_ns.run([*python, str(HERE / client_script), "-i", link.b.device,
                                    "--ip", f"{client_ip}/{prefix}", server_ip, *messages],
                                   check=False, timeout=60)
            server.wait(20)
            sys.stdout.write(client.stdout)
            sys.stderr.write(log.read_text())
            sys.stderr.write(client.stderr)
            return client.returncode or server.returncode
    except (LabError, subprocess.TimeoutExpired) as error:
        print(f"lab: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

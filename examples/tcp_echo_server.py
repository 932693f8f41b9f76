"""TCP echo server on port 1100, written against rawkit's sockets (rawkit's own TCP on raw frames).

One command, in a throwaway namespace lab (as root; builds it on 198.18.0.0/15, removes it after):
    sudo python3 examples/lab.py tcp_echo

By hand, on an interface whose kernel does not have the address (rawkit answers ARP/ND for it):
    sudo python3 examples/tcp_echo_server.py -i veth0 --ip 198.18.0.10/24
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading

from rawkit.stack import Stack


def serve(connection: socket.socket, peer: tuple) -> None:
    """Send back everything the client sends until it closes its side, then close ours."""
    with connection:
        while data := connection.recv(65536):
            connection.sendall(data)
    print(f"closed {peer[0]} port {peer[1]}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--iface", required=True, help="interface rawkit attaches to")
    parser.add_argument("--ip", required=True,
                        help="the address rawkit owns, e.g. 198.18.0.10/24 or fd00:18::10/64")
    parser.add_argument("--port", type=int, default=1100)
    parser.add_argument("--count", type=int, default=0, help="exit after this many connections (0: never)")
    args = parser.parse_args()
    ipv6 = ":" in args.ip
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    with Stack(args.iface, ip6=args.ip) if ipv6 else Stack(args.iface, args.ip) as stack:
        with stack.socket(family, socket.SOCK_STREAM) as server:
            server.bind(("", args.port))
            server.listen(16)
            print(f"listening on {args.ip.split('/')[0]} port {args.port}", file=sys.stderr, flush=True)
            workers = []
            served = 0
            while not args.count or served < args.count:
                connection, peer = server.accept()
                print(f"connection from {peer[0]} port {peer[1]}", file=sys.stderr, flush=True)
                worker = threading.Thread(target=serve, args=(connection, peer), daemon=True)
                worker.start()
                workers.append(worker)
                served += 1
            for worker in workers:
                worker.join()


if __name__ == "__main__":
    main()

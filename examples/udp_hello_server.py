"""UDP "Hello World!" server on port 7654: answers every datagram with b"Hello World!", written
against rawkit's sockets (rawkit's own UDP on raw frames).

One command, in a throwaway namespace lab (as root; builds it on 198.18.0.0/15, removes it after):
    sudo python3 examples/lab.py udp_hello

By hand, on an interface whose kernel does not have the address (rawkit answers ARP/ND for it):
    sudo python3 examples/udp_hello_server.py -i veth0 --ip 198.18.0.10/24
"""

from __future__ import annotations

import argparse
import socket
import sys

from rawkit.stack import Stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--iface", required=True, help="interface rawkit attaches to")
    parser.add_argument("--ip", required=True,
                        help="the address rawkit owns, e.g. 198.18.0.10/24 or fd00:18::10/64")
    parser.add_argument("--port", type=int, default=7654)
    parser.add_argument("--count", type=int, default=0, help="exit after this many datagrams (0: never)")
    args = parser.parse_args()
    ipv6 = ":" in args.ip
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    with Stack(args.iface, ip6=args.ip) if ipv6 else Stack(args.iface, args.ip) as stack:
        with stack.socket(family, socket.SOCK_DGRAM) as server:
            server.bind(("", args.port))
            print(f"listening on {args.ip.split('/')[0]} udp port {args.port}", file=sys.stderr, flush=True)
            answered = 0
            while not args.count or answered < args.count:
                data, peer = server.recvfrom(65535)
                print(f"{len(data)} bytes from {peer[0]} port {peer[1]}", file=sys.stderr, flush=True)
                server.sendto(b"Hello World!", peer)
                answered += 1


if __name__ == "__main__":
    main()

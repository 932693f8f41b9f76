"""Client of the UDP "Hello World!" server (port 7654): sends one datagram, prints the answer; written
against rawkit's sockets. A connected socket, so an ICMP port unreachable ends it with
"Connection refused" and only the server's datagrams are accepted.

One command, in a throwaway namespace lab (as root; builds it on 198.18.0.0/15, removes it after):
    sudo python3 examples/lab.py udp_hello

By hand, with rawkit owning the client's address on an interface:
    sudo python3 examples/udp_hello_client.py -i veth1 --ip 198.18.0.20/24 198.18.0.10
"""

from __future__ import annotations

import argparse
import socket

from rawkit.stack import Stack

TRIES = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--iface", required=True, help="interface rawkit attaches to")
    parser.add_argument("--ip", required=True, help="the address rawkit owns, e.g. 198.18.0.20/24")
    parser.add_argument("--port", type=int, default=7654)
    parser.add_argument("server", help="the server's address")
    args = parser.parse_args()
    ipv6 = ":" in args.ip
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    with Stack(args.iface, ip6=args.ip) if ipv6 else Stack(args.iface, args.ip) as stack:
        with stack.socket(family, socket.SOCK_DGRAM) as client:
            client.settimeout(2)
            client.connect((args.server, args.port))
            for _ in range(TRIES):                  # UDP may lose a datagram: ask again
                client.send(b"Hello?")
                try:
                    print(client.recv(65535).decode())
                    return
                except TimeoutError:
                    continue
            raise SystemExit(f"no answer after {TRIES} tries")


if __name__ == "__main__":
    main()

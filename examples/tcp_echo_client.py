"""Client of the TCP echo server (port 1100): sends each MESSAGE, prints what comes back, written
against rawkit's sockets.

One command, in a throwaway namespace lab (as root; builds it on 198.18.0.0/15, removes it after):
    sudo python3 examples/lab.py tcp_echo

By hand, with rawkit owning the client's address on an interface:
    sudo python3 examples/tcp_echo_client.py -i veth1 --ip 198.18.0.20/24 198.18.0.10 hello world
"""

from __future__ import annotations

import argparse
import socket

from rawkit.stack import Stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-i", "--iface", required=True, help="interface rawkit attaches to")
    parser.add_argument("--ip", required=True, help="the address rawkit owns, e.g. 198.18.0.20/24")
    parser.add_argument("--port", type=int, default=1100)
    parser.add_argument("server", help="the echo server's address")
    parser.add_argument("messages", nargs="*", default=["Hello, echo!"])
    args = parser.parse_args()
    ipv6 = ":" in args.ip
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    with Stack(args.iface, ip6=args.ip) if ipv6 else Stack(args.iface, args.ip) as stack:
        with stack.socket(family, socket.SOCK_STREAM) as client:
            client.settimeout(10)
            client.connect((args.server, args.port))
            for message in args.messages:
                data = message.encode()
                client.sendall(data)
                echoed = b""
                while len(echoed) < len(data):
                    chunk = client.recv(65536)
                    if not chunk:
                        raise SystemExit("echo server closed early")
                    echoed += chunk
                print(echoed.decode())
            client.shutdown(socket.SHUT_WR)         # done: the server closes its side in turn
            if client.recv(1) != b"":
                raise SystemExit("echo server sent more than we sent")


if __name__ == "__main__":
    main()

"""`rawkit connect [-i IFACE] [--src ADDR] [-u] [-v] HOST PORT`: netcat's client over rawkit's own TCP
(or UDP with -u). stdin goes to the peer, the peer to stdout; at the end of stdin rawkit half-closes
(FIN) and keeps printing until the peer closes. Refused, timed out or reset: one line, exit 1."""

from __future__ import annotations

import socket

import click

from rawkit.cli.netcat import StdinReader, datagrams, error_line, make_stack, resolve, stream


@click.command()
@click.option("-i", "--interface", "iface", metavar="IFACE",
              help="Interface to use (default: the one the kernel routes HOST through).")
@click.option("--src", metavar="ADDR[/LEN]",
              help="Own this address on IFACE (answering ARP/ND for it); default: share the host's address.")
@click.option("-u", "--udp", is_flag=True, help="UDP: each stdin chunk is one datagram.")
@click.option("-v", "--verbose", is_flag=True, help="Print every segment (TCP: and state change) on stderr.")
@click.option("-q", "--wait", "quiet", type=float, default=1.0, show_default=True, metavar="SECONDS",
              help="UDP: after stdin ends, exit once no datagram came for this long (negative: never).")
@click.argument("host")
@click.argument("port", type=click.IntRange(1, 65535))
def connect(iface: str | None, src: str | None, udp: bool, verbose: bool, quiet: float, host: str,
            port: int) -> None:
    """Connect to HOST PORT over rawkit's TCP/IP and copy stdin and stdout (netcat)."""
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    family, address = resolve(host, port, kind)
    stack = make_stack(iface, src, address, port if verbose and not udp else None)
    try:
        try:
            sock = stack.socket(family, kind)
        except OSError as error:
            raise error_line("socket", error) from None
        try:
            sock.connect((address, port))
        except OSError as error:
            raise error_line("connect", error) from None
        if udp:
            datagrams(sock, StdinReader(), quiet, verbose=verbose)
        else:
            stream(sock, StdinReader())
    finally:
        stack.close()

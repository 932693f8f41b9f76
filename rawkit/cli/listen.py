"""`rawkit listen [-i IFACE] [--src ADDR] [-k] [-u] [-v] PORT`: netcat's server over rawkit's own TCP
(or UDP with -u). Takes one connection, copies stdin to it and it to stdout, exits when it ends;
-k keeps listening for the next one. With -u the first sender becomes the peer (-k: whoever sent last;
on a stack with both families, the family of the first datagram is kept)."""

from __future__ import annotations

import select
import socket
import sys

import click

from rawkit.cli import Failure
from rawkit.cli.netcat import StdinReader, datagrams, error_line, make_stack, stream


@click.command()
@click.option("-i", "--interface", "iface", metavar="IFACE", required=True, help="Interface to listen on.")
@click.option("--src", metavar="ADDR[/LEN]",
              help="Own this address on IFACE (answering ARP/ND for it); default: share the host's address.")
@click.option("-k", "--keep-open", is_flag=True, help="After a connection ends, accept the next one.")
@click.option("-u", "--udp", is_flag=True, help="UDP: each stdin chunk is one datagram.")
@click.option("-v", "--verbose", is_flag=True, help="Print every segment (TCP: and state change) on stderr.")
@click.option("-q", "--wait", "quiet", type=float, default=1.0, show_default=True, metavar="SECONDS",
              help="UDP: after stdin ends, exit once no datagram came for this long (negative: never).")
@click.argument("port", type=click.IntRange(1, 65535))
def listen(iface: str, src: str | None, keep_open: bool, udp: bool, verbose: bool, quiet: float,
           port: int) -> None:
    """Listen on PORT over rawkit's TCP/IP and copy stdin and stdout (netcat -l)."""
    stack = make_stack(iface, src, None, port if verbose and not udp else None)
    families = [f for f, a in ((socket.AF_INET, stack.address), (socket.AF_INET6, stack.address6)) if a]
    try:
        stdin = StdinReader()
        if udp:
            sockets = [stack.socket(family, socket.SOCK_DGRAM) for family in families]
            for sock in sockets:
                try:
                    sock.bind(("", port))
                except OSError as error:
                    raise error_line("bind", error) from None
            # the family of the first datagram is the one served from then on
            first = select.select(sockets, [], [])[0][0] if len(sockets) > 1 else sockets[0]
            for sock in sockets:
                if sock is not first:
                    sock.close()
            datagrams(first, stdin, -1.0 if keep_open else quiet, "last" if keep_open else "first", verbose)
            return
        listeners = [stack.socket(family, socket.SOCK_STREAM) for family in families]
        for listener in listeners:        # all bound before any listens: one port, both families
            try:
                listener.bind(("", port))
            except OSError as error:
                raise error_line("bind", error) from None
        for listener in listeners:
            listener.listen(8)
        while True:
            ready, _, _ = select.select(listeners, [], [])
            connection, peer = ready[0].accept()
            if verbose:
                print(f"rawkit: connection from {peer[0]} port {peer[1]}", file=sys.stderr, flush=True)
            if not keep_open:
                for listener in listeners:
                    listener.close()
            try:
                stream(connection, stdin)
            except Failure as failure:
                if not keep_open:
                    raise
                print(f"rawkit: {failure.format_message()}", file=sys.stderr, flush=True)
            if not keep_open:
                return
    finally:
        stack.close()

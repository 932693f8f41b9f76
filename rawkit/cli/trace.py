"""`rawkit trace HOST`: traceroute with UDP (default), ICMP echo (`--icmp`) or TCP SYN (`--tcp PORT`)
probes, printed as Debian's `traceroute -n` prints them."""

from __future__ import annotations

import socket
import sys

import click

from rawkit.cli import Failure
from rawkit.cli.ping import resolve

TRACEROUTE_PORT = 33434


@click.command("trace", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("host")
@click.option("--udp", "method", flag_value="udp", default=True, help="UDP probes (default).")
@click.option("--icmp", "-I", "method", flag_value="icmp", help="ICMP echo probes.")
@click.option("--tcp", "tcp_port", type=click.IntRange(1, 65535), help="TCP SYN probes to PORT.")
@click.option("-p", "port", type=click.IntRange(1, 65535), help="UDP: first destination port (33434).")
@click.option("-q", "queries", type=click.IntRange(1, 10), default=3, show_default=True,
              help="Probes per hop.")
@click.option("-m", "max_ttl", type=click.IntRange(1, 255), default=30, show_default=True, help="Max hops.")
@click.option("-f", "first_ttl", type=click.IntRange(1, 255), default=1, show_default=True, help="First TTL.")
@click.option("-w", "wait", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seconds to wait for a hop's answers.")
@click.option("-n", "numeric", is_flag=True, help="Accepted: addresses are always printed numerically.")
@click.option("-4", "ipv4", is_flag=True, help="IPv4 only.")
@click.option("-6", "ipv6", is_flag=True, help="IPv6 only.")
@click.option("-i", "interface", help="Send through this interface.")
def trace(host: str, method: str, tcp_port: int | None, port: int | None, queries: int, max_ttl: int,
          first_ttl: int, wait: float, numeric: bool, ipv4: bool, ipv6: bool, interface: str | None) -> int:
    """Print the route to HOST like `traceroute -n`."""
    from rawkit.link.rawsock import NeedsPrivilege
    from rawkit.stack.trace import Tracer, hop_line, packet_length

    if ipv4 and ipv6:
        raise click.UsageError("only one of -4 and -6")
    if first_ttl > max_ttl:
        raise Failure("first hop out of range", 2)
    if tcp_port is not None:
        method = "tcp"
    family = socket.AF_INET6 if ipv6 else socket.AF_INET if ipv4 else socket.AF_UNSPEC
    target = resolve(host, family, True)
    try:
        probe = _probe(method, target.address, target.family, tcp_port or 0, port or TRACEROUTE_PORT,
                       interface)
    except NeedsPrivilege as error:
        raise Failure(f"trace needs root or CAP_NET_RAW ({error.strerror})", 2) from None
    except OSError as error:
        raise Failure(f"connect: {error.strerror}", 2) from None
    print(f"traceroute to {host} ({target.address}), {max_ttl} hops max, {packet_length(target.family)} "
          "byte packets", flush=True)
    tracer = Tracer(probe, target.address, first_ttl=first_ttl, max_ttl=max_ttl, queries=queries, wait=wait)
    try:
        for hop_probes in tracer.hops():
            sys.stdout.write(hop_line(hop_probes) + "\n")
            sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    except OSError as error:  # e.g. the route went away mid-trace
        raise Failure(f"send: {error.strerror or error}", 2) from None
    finally:
        probe.close()
    return 0


def _probe(method: str, address: str, family: int, tcp_port: int, udp_port: int, device: str | None):
    """The probe for `method`, sized like traceroute's (60 bytes on IPv4, 80 on IPv6)."""
    data_len = 32
    if method == "icmp":
        from rawkit.stack.echo import EchoProbe

        return EchoProbe(address, family, size=data_len, device=device)
    if method == "tcp":
        from rawkit.stack.synprobe import SynProbe

        return SynProbe(address, family, tcp_port, device=device)
    from rawkit.stack.udpprobe import UdpProbe

    return UdpProbe(address, family, udp_port, size=data_len, device=device, vary="dport")

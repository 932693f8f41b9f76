"""TFO_COOKIE: the Fast Open cookie the kernel gives the run's remote address.

Why: the `fastopen/server` scripts send `FOEXP TFO_COOKIE` and expect the kernel to accept their SYN
data, so the cookie must be the one the kernel computes from its Fast Open key and the two addresses.
Rather than reimplement the kernel's cipher, ask it: in a scratch namespace with the same key and
addresses, a Fast Open listener answers a cookie request; the cookie is read from its SYN-ACK.
"""

from __future__ import annotations

import socket
import time

import rawkit
from rawkit.script.host_setup import DEFAULT_SYSCTLS, write_sysctls
from rawkit.script.packets import FOEXP_MAGIC, GATEWAY_MAC, parse_outbound
from rawkit.script.peer_link import NetConfig, PeerLink

PROBE_PORT = 8081
PROBE_TIMEOUT = 3.0
RETRY = 0.3
TCP_FASTOPEN = 23
_cache: dict[NetConfig, str] = {}


class CookieError(RuntimeError):
    """The kernel did not hand out a cookie (no SYN-ACK, or one without a Fast Open option)."""


def _listen(family: int, address: str) -> socket.socket:
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.IPPROTO_TCP, TCP_FASTOPEN, 16)
    listener.bind((address, PROBE_PORT))
    listener.listen(4)
    return listener


def fetch_cookie(config: NetConfig) -> str:
    """The cookie (hex) the kernel's default Fast Open key gives `config.remote_ip` talking to
    `config.local_ip`."""
    if config in _cache:
        return _cache[config]
    with PeerLink(config, label="tfo") as link:
        net = link.net
        net.configure_kernel()
        net.call(write_sysctls, [pair for pair in DEFAULT_SYSCTLS if "fastopen" in pair[0]])
        family = socket.AF_INET if config.ip_version == 4 else socket.AF_INET6
        listener = net.call(_listen, family, config.local_ip)
        try:
            ip: rawkit.Layer = rawkit.IPv6(src=config.remote_ip, dst=config.local_ip)
            if config.ip_version == 4:
                ip = rawkit.IPv4(src=config.remote_ip, dst=config.local_ip, flags="DF")
            syn = (rawkit.Ether(src=GATEWAY_MAC, dst=link.mac) / ip
                   / rawkit.TCP(sport=40000, dport=PROBE_PORT, seq=1, flags="S", window=65535,
                                options=[("MSS", 1460), (254, FOEXP_MAGIC)]))
            deadline = time.monotonic() + PROBE_TIMEOUT
            while time.monotonic() < deadline:
                link.send(bytes(syn))  # again every RETRY s: the first may arrive before IPv6 is ready
                retry_at = min(deadline, time.monotonic() + RETRY)
                while (item := link.receive(retry_at)) is not None:
                    segment = parse_outbound(item[1], config.remote_ip)
                    if segment is None or segment.flags & 0x12 != 0x12:
                        continue
                    for kind, data in segment.options:
                        if kind == 254 and data[:2] == FOEXP_MAGIC and len(data) > 2:
                            _cache[config] = data[2:].hex()
                            return _cache[config]
                    raise CookieError("the kernel's SYN-ACK to a Fast Open cookie request carried no cookie")
            raise CookieError("no SYN-ACK to the Fast Open cookie request")
        finally:
            listener.close()

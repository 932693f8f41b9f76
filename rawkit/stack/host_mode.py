"""Mode "host address": rawkit's TCP uses the address the kernel already has on an interface.

Why each piece: the kernel and rawkit both receive the frames to that address, so for every port
rawkit uses (1) the kernel must not hand the same port to one of its own sockets: rawkit holds a
kernel socket bound to it (never listening: it receives nothing), which also tells rawkit when the
kernel already uses the port; and (2) the kernel must not answer rawkit's segments with RSTs: a
PortGuard (nft, fallback iptables) hides the port from the kernel's TCP. UDP ports the same way
(the kernel would answer them with port unreachable), and rawkit in turn stays silent about
datagrams to ports that are not its own. ARP, neighbour discovery and ping stay the kernel's business.

The kernel behaviours this takes care of, and how:
  RST to a SYN for a port the kernel does not listen on      prerouting drop (nft_guard)
  RST to the SYN-ACK answering rawkit's own connect          prerouting drop
  a kernel socket picking or binding rawkit's port           holder socket bound to it
  conntrack state for rawkit's flows                         the drop runs before conntrack
  port unreachable for rawkit's UDP ports                    prerouting drop
  duplicate ARP/ND/echo replies                              rawkit does not answer for the address
Not covered: the host talking to rawkit's ports over loopback (rawkit sees only its interface).
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import subprocess

from rawkit.link.nft_guard import PortGuard
from rawkit.link.nsexec import NetNamespace
from rawkit.stack.udp import Endpoint, UdpHost


class HostModeError(OSError):
    """The interface has no usable address, or `ip` failed; one line."""


def _ip_json(*args: str) -> list[dict]:
    try:
        result = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, timeout=10, check=False)
    except FileNotFoundError:
        raise HostModeError("the ip command (iproute2) is not installed") from None
    if result.returncode != 0:
        raise HostModeError(f"ip {' '.join(args)}: {result.stderr.strip() or result.returncode}")
    return json.loads(result.stdout or "[]")


def host_addresses(iface: str) -> tuple[str | None, str | None, str | None]:
    """The kernel's first global IPv4 and IPv6 address on `iface` ("addr/len", or None) and its IPv4
    default gateway through `iface` (or None), as the calling thread's namespace sees them."""
    ipv4 = ipv6 = gateway = None
    for link in _ip_json("addr", "show", "dev", iface):
        for info in link.get("addr_info", []):
            if info.get("scope") != "global" or info.get("tentative"):
                continue
            text = f"{info['local']}/{info['prefixlen']}"
            if info.get("family") == "inet" and ipv4 is None:
                ipv4 = text
            elif info.get("family") == "inet6" and ipv6 is None:
                ipv6 = text
    for route in _ip_json("-4", "route", "show", "default", "dev", iface):
        if route.get("gateway"):
            gateway = route["gateway"]
            break
    if ipv4 is None and ipv6 is None:
        raise HostModeError(f"{iface}: the kernel has no global address on it to share")
    return ipv4, ipv6, gateway


def route_interface(destination: str) -> str:
    """The interface the kernel routes `destination` through (for picking the host-address mode's
    interface from a peer's address)."""
    routes = _ip_json("route", "get", str(ipaddress.ip_address(destination)))
    if not routes or "dev" not in routes[0]:
        raise HostModeError(f"no route to {destination}")
    return routes[0]["dev"]


_KINDS = {"tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}


class HostPorts:
    """The ports rawkit uses on the kernel's addresses (made in the calling thread's namespace).
    `port in host_ports` asks about TCP (the per-segment question); UDP goes through `holds`."""

    def __init__(self, addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> None:
        self.addresses = addresses
        self.namespace = NetNamespace.current()
        self._holders: dict[tuple[str, int], list[socket.socket]] = {}
        self._tcp: set[int] = set()
        try:
            self.guard = PortGuard([str(a) for a in addresses])
        except BaseException:
            self.namespace.close()
            raise

    def __contains__(self, port: int) -> bool:
        return port in self._tcp

    def holds(self, port: int, proto: str = "tcp") -> bool:
        return (proto, port) in self._holders

    def claim(self, port: int, proto: str = "tcp") -> bool:
        """Take `port` ("tcp" or "udp") from the kernel for every address; False if a kernel socket
        uses it."""
        if (proto, port) in self._holders:
            return True
        holders = self.namespace.call(self._bind_all, port, proto)
        if holders is None:
            return False
        try:
            self.guard.add(port, proto)
        except BaseException:
            for holder in holders:
                holder.close()
            raise
        self._holders[(proto, port)] = holders
        if proto == "tcp":
            self._tcp.add(port)
        return True

    def _bind_all(self, port: int, proto: str) -> list[socket.socket] | None:
        holders: list[socket.socket] = []
        try:
            for address in self.addresses:
                family = socket.AF_INET if address.version == 4 else socket.AF_INET6
                holder = socket.socket(family, _KINDS[proto])
                holders.append(holder)
                if family == socket.AF_INET6:
                    holder.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                holder.bind((str(address), port))
        except OSError:
            for holder in holders:
                holder.close()
            return None
        return holders

    def release(self, port: int, proto: str = "tcp") -> None:
        """Give `port` back to the kernel."""
        holders = self._holders.pop((proto, port), None)
        if holders is None:
            return
        if proto == "tcp":
            self._tcp.discard(port)
        self.guard.discard(port, proto)
        for holder in holders:
            holder.close()

    def close(self) -> None:
        try:
            self.guard.close()
        finally:
            for holders in self._holders.values():
                for holder in holders:
                    holder.close()
            self._holders.clear()
            self._tcp.clear()
            self.namespace.close()


class HostUdp(UdpHost):
    """UDP on the kernel's address: bound ports are taken from the kernel, and datagrams to other
    ports are the kernel's (no port unreachable from rawkit)."""

    def __init__(self, host_ports: HostPorts) -> None:
        super().__init__()
        self.host_ports = host_ports

    def bind(self, family: int, port: int) -> Endpoint:
        for _ in range(64 if port == 0 else 1):
            candidate = port or self._free_port(family)
            if (family, candidate) in self.ports or self.host_ports.claim(candidate, "udp"):
                return super().bind(family, candidate)
        raise OSError(errno.EADDRINUSE, os.strerror(errno.EADDRINUSE))

    def release(self, endpoint: Endpoint) -> None:
        super().release(endpoint)
        if not any(port == endpoint.port for _family, port in self.ports):
            self.host_ports.release(endpoint.port, "udp")

    def receive(self, source: bytes, destination: bytes, ip_packet: bytes, payload: bytes,
                now: float, checked: bool = False) -> tuple[int, bytes] | None:
        if len(payload) < 8 or (len(source), int.from_bytes(payload[2:4], "big")) not in self.ports:
            return None
        return super().receive(source, destination, ip_packet, payload, now, checked)

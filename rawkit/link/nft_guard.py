"""Hide some TCP and UDP ports of the host's own address from the kernel, so a userspace stack can use
that address: an nft table (fallback: iptables chains in the raw table) that rawkit adds at start and
always removes.

Why these rules and no others: rawkit receives its frames through AF_PACKET, which sees them before
netfilter, and sends through AF_PACKET, which netfilter never sees. The kernel, also receiving them,
would answer a SYN to a port it does not listen on, or a SYN-ACK to a connect it never made, with RST.
So for rawkit's ports only: drop arriving TCP to our address at prerouting (before conntrack), so the
kernel never sees those segments; and drop any RST the kernel would still send from those ports.
UDP ports (a second set) are only dropped on arrival: the kernel would answer them with ICMP port
unreachable.

    guard = PortGuard(["198.18.0.2", "fd00:18::2"])    # table inet rawkit_<pid>_<n>, no ports yet
    guard.add(40000); guard.discard(40000); guard.add(5353, "udp")
    guard.close()                                         # table gone

Removal happens on close(), at interpreter exit, and on SIGINT/SIGTERM (handlers installed when the
first guard is made from the main thread; they remove every guard's rules, then run the handler that
was there before, or the default action). A process killed with SIGKILL leaves its table behind:
the next guard made in that namespace removes tables whose owner pid no longer runs
(`remove_stale()` does the same on demand).
"""

from __future__ import annotations

import atexit
import ctypes
import ipaddress
import itertools
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Sequence
from typing import Any

from rawkit.link.nsexec import NetNamespace

TABLE_PREFIX = "rawkit_"
CHAIN_PREFIX = "RAWKIT_"
_STALE_TABLE = re.compile(rf"^table inet ({TABLE_PREFIX}(\d+)_\d+)$", re.MULTILINE)
_STALE_CHAIN = re.compile(rf"^-N ({CHAIN_PREFIX}(\d+)_\d+)$", re.MULTILINE)
PRIORITY = -300          # before conntrack (-200): rawkit's flows leave no conntrack state
COMMAND_TIMEOUT = 10.0
_counter = itertools.count()
_SETS = {"tcp": "ports", "udp": "udp_ports"}
_active: dict[str, PortGuard] = {}
_previous_handlers: dict[int, Any] = {}
_registry_lock = threading.RLock()


class GuardError(RuntimeError):
    """The rules could not be added or changed (no nft/iptables, no privilege); one line."""


def _alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


class _Nft:
    """nft commands through libnftables (fast, no process per port) or, without it, the nft binary.
    A libnftables context keeps the namespace of the thread that made it."""

    def __init__(self, namespace: NetNamespace) -> None:
        self.namespace = namespace
        self._lock = threading.RLock()
        self._lib: Any = None
        self._ctx: Any = None
        try:
            lib = ctypes.CDLL("libnftables.so.1")
        except OSError:
            if shutil.which("nft") is None:
                raise GuardError("neither libnftables nor the nft command is available") from None
            return
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        for name in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
        for name in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, name).argtypes = [ctypes.c_void_p]
            getattr(lib, name).restype = ctypes.c_char_p
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        self._lib = lib
        self._ctx = namespace.call(self._new_context)

    def _new_context(self) -> Any:
        ctx = self._lib.nft_ctx_new(0)
        if not ctx:
            raise GuardError("libnftables: cannot make a context")
        self._lib.nft_ctx_buffer_output(ctx)
        self._lib.nft_ctx_buffer_error(ctx)
        return ctx

    def run(self, commands: str) -> str:
        """Run nft commands; their output, or GuardError with nft's first error line."""
        with self._lock:
            if self._ctx is not None:
                status = self._lib.nft_run_cmd_from_buffer(self._ctx, commands.encode())
                output = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
                error = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
            else:
                result = self.namespace.call(_command, ["nft", "-f", "-"], commands)
                status, output, error = result.returncode, result.stdout, result.stderr
        if status != 0:
            first = error.strip().splitlines()[0] if error.strip() else f"status {status}"
            raise GuardError(f"nft: {first}")
        return output

    def close(self) -> None:
        with self._lock:
            if self._ctx is not None:
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = None


def _command(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
                              check=False)
    except FileNotFoundError:
        raise GuardError(f"{argv[0]} is not installed") from None


class PortGuard:
    """Rules hiding rawkit's TCP ports on `addresses` (the kernel's own, IPv4 and/or IPv6) from the
    kernel, in the calling thread's namespace. `backend`: "nft", "iptables" or "auto" (nft first)."""

    def __init__(self, addresses: Sequence[str], *, backend: str = "auto") -> None:
        self.addresses = [ipaddress.ip_address(a) for a in addresses]
        if not self.addresses:
            raise GuardError("a port guard needs at least one address")
        self.namespace = NetNamespace.current()
        self.ports: set[tuple[str, int]] = set()      # ("tcp" or "udp", port)
        self._lock = threading.RLock()
        self._closed = False
        self._nft: _Nft | None = None
        try:
            self.backend = self._choose(backend)
            number = next(_counter)
            if self.backend == "nft":
                self._nft = _Nft(self.namespace)
                self.name = f"{TABLE_PREFIX}{os.getpid()}_{number}"
                _remove_stale_tables(self._nft)
                self._nft.run(self._table_text())
            else:
                self.name = f"{CHAIN_PREFIX}{os.getpid()}_{number}"
                _remove_stale_chains(self.namespace, [tool for tool, _ in self._tools()])
                self._iptables_create()
        except BaseException:
            self._release_handles()
            raise
        with _registry_lock:
            _active[self.name] = self
        install_signal_handlers()

    @staticmethod
    def _choose(backend: str) -> str:
        if backend not in ("auto", "nft", "iptables"):
            raise GuardError(f"unknown guard backend {backend!r} (nft, iptables, auto)")
        if backend == "auto":
            if shutil.which("nft") is not None or _has_libnftables():
                return "nft"
            if shutil.which("iptables") is not None:
                return "iptables"
            raise GuardError("host-address mode needs nft or iptables to hide rawkit's ports from the kernel")
        return backend

    # ------------------------------------------------------------------ nft
    def _table_text(self) -> str:
        arriving, leaving = [], []
        for address in self.addresses:
            family = "ip" if address.version == 4 else "ip6"
            arriving.append(f"{family} daddr {address} tcp dport @ports drop")
            arriving.append(f"{family} daddr {address} udp dport @udp_ports drop")
            leaving.append(f"{family} saddr {address} tcp sport @ports tcp flags & rst == rst drop")
        return (f"table inet {self.name} {{\n"
                f"  set ports {{ type inet_service; }}\n"
                f"  set udp_ports {{ type inet_service; }}\n"
                f"  chain prerouting {{ type filter hook prerouting priority {PRIORITY}; policy accept;\n"
                + "".join(f"    {rule}\n" for rule in arriving) +
                f"  }}\n"
                f"  chain output {{ type filter hook output priority {PRIORITY}; policy accept;\n"
                + "".join(f"    {rule}\n" for rule in leaving) +
                "  }\n}\n")

    # ------------------------------------------------------------------ iptables
    def _tools(self) -> list[tuple[str, list[ipaddress.IPv4Address | ipaddress.IPv6Address]]]:
        tools = []
        for tool, version in (("iptables", 4), ("ip6tables", 6)):
            addresses = [a for a in self.addresses if a.version == version]
            if addresses:
                tools.append((tool, addresses))
        return tools

    def _iptables(self, tool: str, *args: str, check: bool = True) -> str:
        return _iptables(self.namespace, tool, *args, check=check)

    def _iptables_create(self) -> None:
        for tool, _addresses in self._tools():
            self._iptables(tool, "-N", self.name)
            self._iptables(tool, "-I", "PREROUTING", "-j", self.name)
            self._iptables(tool, "-I", "OUTPUT", "-j", self.name)

    def _iptables_rules(self, port: int, proto: str) -> list[tuple[str, list[str]]]:
        rules = []
        for tool, addresses in self._tools():
            for address in addresses:
                rules.append((tool, ["-d", str(address), "-p", proto, "--dport", str(port), "-j", "DROP"]))
                if proto == "tcp":
                    rules.append((tool, ["-s", str(address), "-p", "tcp", "--sport", str(port),
                                         "--tcp-flags", "RST", "RST", "-j", "DROP"]))
        return rules


    # ------------------------------------------------------------------ ports
    def add(self, port: int, proto: str = "tcp") -> None:
        """Hide `port` ("tcp" or "udp") from the kernel, on every guarded address."""
        with self._lock:
            if self._closed:
                raise GuardError("port guard is closed")
            if (proto, port) in self.ports:
                return
            if self._nft is not None:
                self._nft.run(f"add element inet {self.name} {_SETS[proto]} {{ {port} }}")
            else:
                for tool, rule in self._iptables_rules(port, proto):
                    self._iptables(tool, "-A", self.name, *rule)
            self.ports.add((proto, port))

    def discard(self, port: int, proto: str = "tcp") -> None:
        """Give `port` back to the kernel."""
        with self._lock:
            if self._closed or (proto, port) not in self.ports:
                return
            self.ports.discard((proto, port))
            if self._nft is not None:
                self._nft.run(f"delete element inet {self.name} {_SETS[proto]} {{ {port} }}")
            else:
                for tool, rule in self._iptables_rules(port, proto):
                    self._iptables(tool, "-D", self.name, *rule, check=False)

    def close(self) -> None:
        """Remove every rule of this guard; safe to call twice, and from a signal handler."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            with _registry_lock:
                _active.pop(self.name, None)
            try:
                if self._nft is not None:
                    self._nft.run(f"delete table inet {self.name}")
                else:
                    _remove_chain(self.namespace, [tool for tool, _ in self._tools()], self.name)
            finally:
                self._release_handles()

    def _release_handles(self) -> None:
        if self._nft is not None:
            self._nft.close()
        self.namespace.close()

    def __enter__(self) -> PortGuard:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _has_libnftables() -> bool:
    try:
        ctypes.CDLL("libnftables.so.1")
    except OSError:
        return False
    return True


def _iptables(namespace: NetNamespace, tool: str, *args: str, check: bool = True) -> str:
    result = namespace.call(_command, [tool, "-w", "-t", "raw", *args])
    if check and result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        raise GuardError(f"{tool}: {lines[0] if lines else f'status {result.returncode}'}")
    return result.stdout


def _remove_chain(namespace: NetNamespace, tools: list[str], name: str) -> None:
    for tool in tools:
        steps = (("-D", "PREROUTING", "-j", name), ("-D", "OUTPUT", "-j", name), ("-F", name), ("-X", name))
        for args in steps:
            _iptables(namespace, tool, *args, check=False)


def _remove_stale_chains(namespace: NetNamespace, tools: list[str]) -> list[str]:
    removed: list[str] = []
    for tool in tools:
        for match in _STALE_CHAIN.finditer(_iptables(namespace, tool, "-S", check=False)):
            name, pid = match.group(1), int(match.group(2))
            if pid != os.getpid() and not _alive(pid) and name not in removed:
                _remove_chain(namespace, tools, name)
                removed.append(name)
    return removed


def _remove_stale_tables(nft: _Nft) -> list[str]:
    removed = []
    for match in _STALE_TABLE.finditer(nft.run("list tables inet")):
        name, pid = match.group(1), int(match.group(2))
        if pid != os.getpid() and not _alive(pid):
            try:
                nft.run(f"delete table inet {name}")
                removed.append(name)
            except GuardError:
                pass          # removed meanwhile by another process's start
    return removed


def remove_stale(backend: str = "auto") -> list[str]:
    """Remove guards left in the calling thread's namespace by processes that no longer run; their
    names. (Every new PortGuard does this first.)"""
    choice = PortGuard._choose(backend)
    namespace = NetNamespace.current()
    try:
        if choice == "nft":
            nft = _Nft(namespace)
            try:
                return _remove_stale_tables(nft)
            finally:
                nft.close()
        tools = [tool for tool in ("iptables", "ip6tables") if shutil.which(tool)]
        return _remove_stale_chains(namespace, tools)
    finally:
        namespace.close()


def active_guards() -> list[str]:
    """Names of this process's guards still in place."""
    with _registry_lock:
        return sorted(_active)


def close_all() -> None:
    """Remove every guard of this process (atexit and the signal handlers call this)."""
    with _registry_lock:
        guards = list(_active.values())
    for guard in guards:
        try:
            guard.close()
        except GuardError:
            pass


def _on_signal(signum: int, frame: Any) -> None:
    close_all()
    previous = _previous_handlers.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:     # default action (or a handler not set from Python): die of it
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def install_signal_handlers() -> None:
    """Once, from the main thread (Python allows no other): SIGINT/SIGTERM remove the guards first.
    Every guard calls this; a program whose guards are made on other threads calls it itself."""
    if threading.current_thread() is not threading.main_thread():
        return
    with _registry_lock:
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signum in _previous_handlers:
                continue
            _previous_handlers[signum] = signal.getsignal(signum)
            signal.signal(signum, _on_signal)


atexit.register(close_all)

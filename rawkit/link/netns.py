"""Network-namespace labs: small private networks that tests, tools and `rawkit script` build, use
and always tear down, so no traffic ever reaches the host's real interfaces.

Why a library: every lab needs the same dozen careful steps (unique names, offloads off so captures
see real frames, IPv6 without duplicate address detection, cleanup even when a test fails); written
once here they are done right everywhere.

    from rawkit.link.netns import Lab

    with Lab() as lab:                                   # raises LabError("... needs root") if not root
        client, server = lab.namespace("client"), lab.namespace("server")
        link = lab.link(client, server,                  # veth pair, offloads off, links up
                        ipv4=("198.18.0.1/24", "198.18.0.2/24"),
                        ipv6=("fd00:18::1/64", "fd00:18::2/64"))
        link.a, link.b                                   # Endpoint(namespace, device, mac, ipv4, ipv6)
        server.spawn(["python3", "-m", "http.server", "8000"])   # background, killed at cleanup
        server.wait_listening(8000)
        client.run(["curl", "-s", "http://198.18.0.2:8000/"])    # CompletedProcess, raises on failure
        client.call(some_function, arg)                  # Python code in the namespace (setns'd thread)
        sock = client.socket(socket.AF_PACKET, socket.SOCK_RAW, 0x0300)  # a socket that lives there

Names: namespaces are `<prefix>-<label>-<pid>-<counter>` (prefix "rk" by default), so concurrent
labs never collide and leftovers of a dead process can be found (`remove_stale()`). Veth devices
are created directly inside their namespaces, never on the host, so their short names (default
"<label>0", "<label>1", ...) only need to be unique within one namespace.

Every namespace gets loopback up, `accept_dad=0` (and every IPv6 address `nodad`), and ICMP error
rate limiting off, so tests are deterministic. `Lab.link` also waits until IPv6 is usable on both
ends (until then the kernel ignores neighbour solicitations and the first packet stalls a second).

The API, in short:
    Lab(prefix="rk")                       context manager; close(); workdir (temp dir, removed)
    Lab.namespace(label, forwarding=False) -> Namespace (a router when forwarding)
    Lab.link(a, b, names=, ipv4=, ipv6=, mtu=, offloads=False) -> Link(a=Endpoint, b=Endpoint)
    Endpoint: namespace, device, mac, ipv4 / ipv6 ("addr/len"), ip / ip6 (address only)
    Namespace.run(cmd, check=True, timeout=30, input_text=None) -> CompletedProcess (text)
    Namespace.command(cmd) -> the argv that runs cmd inside (for your own Popen)
    Namespace.spawn(cmd, stdout=, stderr=Path|file, ready_text=None, timeout=5) -> Popen
    Namespace.wait_listening(port, udp=False)    polls `ss`, sends nothing
    Namespace.call(fn, *args, timeout=None, **kwargs) -> fn's result (or its exception)
    Namespace.socket(family, type, proto) -> socket.socket living in the namespace
    Namespace.sysctl(key, value), forwarding(enabled=True), route(destination, via),
              add_address(device, "addr/len"), offloads_off(device), mac(device),
              flush_neighbours(), wait_ipv6_ready(device)
    require_root(), our_namespaces(prefix), remove_stale(prefix), LabError

Cleanup runs on `Lab.close()`, on leaving the `with` block (also by an exception), and at interpreter
exit (atexit) for labs never closed: background processes are terminated (then killed), namespaces
deleted (which deletes their veths). Errors are `LabError` with a one-line message.

`Namespace.call(fn, ...)` runs `fn` on a fresh thread that has joined the namespace with setns(2)
(network namespaces are per thread on Linux), so Python code and sockets made there see only the
lab's interfaces; threads it starts inherit the namespace; sockets keep their namespace when used
from other threads afterwards. Paths under
/sys still show the host's view inside `call` (only `ip netns exec` remounts /sys); use
`socket.if_nametoindex` or `run(["ip", ...])` instead.
"""

from __future__ import annotations

import atexit
import ctypes
import ipaddress
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

CLONE_NEWNET = 0x40000000
NETNS_DIR = Path("/run/netns")
DEFAULT_PREFIX = "rk"
OFFLOADS = ("tx", "rx", "gso", "gro", "tso")
COMMAND_TIMEOUT = 30.0
STOP_GRACE = 2.0

T = TypeVar("T")


class LabError(RuntimeError):
    """A lab could not be built or used; the message is one line meant for a human."""


def require_root() -> None:
    """Raise LabError unless this process can create namespaces (root with `ip` installed)."""
    if os.geteuid() != 0:
        raise LabError("network namespace lab needs root")
    if shutil.which("ip") is None:
        raise LabError("network namespace lab needs the `ip` command (iproute2)")


def _run(cmd: Sequence[str], *, check: bool = True, timeout: float = COMMAND_TIMEOUT,
         input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, input=input_text)
    except subprocess.TimeoutExpired:
        raise LabError(f"`{' '.join(cmd)}` did not finish within {timeout:g} s") from None
    except FileNotFoundError:
        raise LabError(f"`{cmd[0]}` is not installed") from None
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        last = detail[-1] if detail else "no output"
        raise LabError(f"`{' '.join(cmd)}` failed ({result.returncode}): {last}")
    return result


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        error = ctypes.get_errno()
        raise LabError(f"setns failed: {os.strerror(error)}")


@dataclass(frozen=True)
class Endpoint:
    """One end of a veth pair: its namespace, device name, MAC address and the addresses given to it."""

    namespace: Namespace
    device: str
    mac: str
    ipv4: str | None = None  # "198.18.0.1/24"
    ipv6: str | None = None  # "fd00:18::1/64"

    @property
    def ip(self) -> str | None:
        """The IPv4 address without its prefix length."""
        return self.ipv4.split("/")[0] if self.ipv4 else None

    @property
    def ip6(self) -> str | None:
        return self.ipv6.split("/")[0] if self.ipv6 else None


@dataclass(frozen=True)
class Link:
    a: Endpoint
    b: Endpoint


class Namespace:
    """One network namespace of a lab. Create them with `Lab.namespace`."""

    def __init__(self, lab: Lab, name: str, label: str) -> None:
        self.lab = lab
        self.name = name
        self.label = label
        self._device_counter = itertools.count()

    def __repr__(self) -> str:
        return f"<Namespace {self.name}>"

    # -- commands -----------------------------------------------------------------------------
    def command(self, cmd: Sequence[str]) -> list[str]:
        """`cmd` wrapped to run inside this namespace."""
        return ["ip", "netns", "exec", self.name, *cmd]

    def run(self, cmd: Sequence[str], *, check: bool = True, timeout: float = COMMAND_TIMEOUT,
            input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `cmd` to completion inside the namespace; output captured as text.
        Raises LabError if it fails (with check) or outlives `timeout`."""
        return _run(self.command(cmd), check=check, timeout=timeout, input_text=input_text)

    def spawn(self, cmd: Sequence[str], *, stdout: Any = subprocess.DEVNULL, stderr: Any = None,
              ready_text: str | None = None, timeout: float = 5.0) -> subprocess.Popen:
        """Start `cmd` in the background inside the namespace; the lab stops it at cleanup.

        `stderr` may be a Path: the child's stderr is written there (readable afterwards, e.g. for
        tcpdump's drop counts). With `ready_text`, this waits until that text appears in the stderr
        file (e.g. tcpdump's "listening on"), so the caller knows the process is ready."""
        stderr_path = stderr if isinstance(stderr, Path) else None
        if ready_text is not None and stderr_path is None:
            stderr_path = Path(self.lab.workdir) / f"spawn-{next(self.lab._spawn_counter)}.stderr"
        stderr_file = open(stderr_path, "w") if stderr_path is not None else stderr  # noqa: SIM115
        try:
            process = subprocess.Popen(self.command(cmd), stdout=stdout, stderr=stderr_file,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        except FileNotFoundError:
            raise LabError(f"`{cmd[0]}` is not installed") from None
        finally:
            if stderr_path is not None:
                stderr_file.close()
        self.lab._processes.append(process)
        if ready_text is not None:
            deadline = time.monotonic() + timeout
            while ready_text not in stderr_path.read_text(errors="replace"):
                if process.poll() is not None:
                    last = stderr_path.read_text(errors="replace").strip().splitlines()
                    raise LabError(f"`{cmd[0]}` exited ({process.returncode}) before it was ready: "
                                   f"{last[-1] if last else 'no output'}")
                if time.monotonic() > deadline:
                    raise LabError(f"`{cmd[0]}` not ready within {timeout:g} s")
                time.sleep(0.02)
        return process

    def wait_listening(self, port: int, *, udp: bool = False, timeout: float = 5.0) -> None:
        """Wait until something in the namespace listens on `port` (checked with `ss`, no traffic)."""
        deadline = time.monotonic() + timeout
        flags = "-Hlun" if udp else "-Hltn"
        while True:
            if self.run(["ss", flags, f"sport = :{port}"]).stdout.strip():
                return
            if time.monotonic() > deadline:
                raise LabError(f"nothing listens on {'udp' if udp else 'tcp'} port {port} in {self.name}")
            time.sleep(0.02)

    # -- in-process --------------------------------------------------------------------------
    def call(self, function: Callable[..., T], *args: Any, timeout: float | None = None, **kwargs: Any) -> T:
        """Run `function(*args, **kwargs)` on a thread inside the namespace; return its result or
        raise its exception here."""
        outcome: dict[str, Any] = {}

        def body() -> None:
            try:
                with open(NETNS_DIR / self.name) as handle:
                    _setns(handle.fileno())
                outcome["result"] = function(*args, **kwargs)
            except BaseException as error:  # handed back to the caller's thread
                outcome["error"] = error

        thread = threading.Thread(target=body, name=f"netns-{self.name}", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise LabError(f"call in {self.name} did not finish within {timeout:g} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]

    def socket(self, family: int = socket.AF_INET, kind: int = socket.SOCK_STREAM,
               proto: int = 0) -> socket.socket:
        """A socket created inside the namespace (usable from any thread afterwards)."""
        return self.call(socket.socket, family, kind, proto)

    # -- configuration -----------------------------------------------------------------------
    def sysctl(self, key: str, value: str | int) -> None:
        """Set a sysctl of this namespace (`net.*` keys are per namespace)."""
        self.run(["sysctl", "-q", "-w", f"{key}={value}"])

    def forwarding(self, enabled: bool = True) -> None:
        """Route between this namespace's links (IPv4 and IPv6)."""
        self.sysctl("net.ipv4.ip_forward", int(enabled))
        self.sysctl("net.ipv6.conf.all.forwarding", int(enabled))

    def route(self, destination: str, via: str) -> None:
        """Add a route, e.g. route("198.18.1.0/24", via="198.18.0.254") or route("default", ...)."""
        family = "-6" if ":" in via else "-4"
        self.run(["ip", family, "route", "add", destination, "via", via])

    def add_address(self, device: str, address: str) -> None:
        """Add an IPv4 or IPv6 address with prefix length; IPv6 ones skip duplicate detection."""
        interface = ipaddress.ip_interface(address)
        extra = ["nodad"] if interface.version == 6 else []
        self.run(["ip", f"-{interface.version}", "addr", "add", address, "dev", device, *extra])

    def wait_ipv6_ready(self, device: str, timeout: float = 3.0) -> None:
        """Wait until IPv6 on `device` is configured (its ff00::/8 multicast route exists): until
        then the kernel drops incoming neighbour solicitations and the first packets stall a second."""
        deadline = time.monotonic() + timeout
        query = ["ip", "-6", "route", "show", "table", "local", "dev", device]
        while "ff00::/8" not in self.run(query).stdout:
            if time.monotonic() > deadline:
                raise LabError(f"IPv6 on {device} in {self.name} not ready within {timeout:g} s")
            time.sleep(0.02)

    def offloads_off(self, device: str) -> None:
        """Turn off checksum/segmentation offloads, so captures see real, MTU-sized frames."""
        features: list[str] = []
        for feature in OFFLOADS:
            features += [feature, "off"]
        self.run(["ethtool", "-K", device, *features])

    def mac(self, device: str) -> str:
        return self.run(["cat", f"/sys/class/net/{device}/address"]).stdout.strip()

    def flush_neighbours(self) -> None:
        """Forget ARP and ND entries, so the next traffic resolves addresses again."""
        self.run(["ip", "-4", "neigh", "flush", "all"])
        self.run(["ip", "-6", "neigh", "flush", "all"])

    def _setup(self) -> None:
        # defaults first, so devices created later inherit them
        for scope in ("all", "default"):
            self.sysctl(f"net.ipv6.conf.{scope}.accept_dad", 0)
        self.sysctl("net.ipv4.icmp_ratelimit", 0)
        self.sysctl("net.ipv6.icmp.ratelimit", 0)
        self.run(["ip", "link", "set", "lo", "up"])


class Lab:
    """A set of namespaces and links that is removed as a whole (see the module docstring)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        require_root()
        self.prefix = prefix
        self.namespaces: list[Namespace] = []
        self._processes: list[subprocess.Popen] = []
        self._ns_counter = itertools.count()
        self._spawn_counter = itertools.count()
        self._closed = False
        self.workdir = tempfile.mkdtemp(prefix=f"{prefix}-lab-{os.getpid()}-")
        _open_labs.add(self)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        try:
            self.close()
        except LabError:
            if kind is None:  # never hide the exception that ended the block
                raise

    def namespace(self, label: str = "ns", *, forwarding: bool = False) -> Namespace:
        """A fresh namespace with loopback up, no DAD, no ICMP rate limit; a router if `forwarding`."""
        if self._closed:
            raise LabError("lab is closed")
        if not label.replace("_", "").isalnum() or not label.isascii():
            raise LabError(f"namespace label {label!r}: use letters, digits and _ only")
        name = f"{self.prefix}-{label}-{os.getpid()}-{next(_global_counter)}"
        if (NETNS_DIR / name).exists():  # left by an earlier process that had our pid: stale
            _run(["ip", "netns", "del", name], check=False)
        _run(["ip", "netns", "add", name])
        namespace = Namespace(self, name, label)
        self.namespaces.append(namespace)
        namespace._setup()
        if forwarding:
            namespace.forwarding()
        return namespace

    def link(self, a: Namespace, b: Namespace, *, names: tuple[str, str] | None = None,
             ipv4: tuple[str, str] | None = None, ipv6: tuple[str, str] | None = None,
             mtu: int | None = None, offloads: bool = False) -> Link:
        """A veth pair between two namespaces (may be the same one), up, offloads off unless
        `offloads`, with the given addresses ("198.18.0.1/24", ...) on each end."""
        if names is None:
            names = (f"{a.label[:10]}{next(a._device_counter)}", f"{b.label[:10]}{next(b._device_counter)}")
        if a is b and names[0] == names[1]:
            raise LabError("both ends of a veth in one namespace need different names")
        _run(["ip", "link", "add", names[0], "netns", a.name, "type", "veth", "peer", "name", names[1],
              "netns", b.name])
        ends: list[Endpoint] = []
        for index, (namespace, device) in enumerate(((a, names[0]), (b, names[1]))):
            v4 = ipv4[index] if ipv4 else None
            v6 = ipv6[index] if ipv6 else None
            if mtu is not None:
                namespace.run(["ip", "link", "set", device, "mtu", str(mtu)])
            namespace.sysctl(f"net.ipv6.conf.{device}.accept_dad", 0)
            if not offloads:
                namespace.offloads_off(device)
            for address in (v4, v6):
                if address:
                    namespace.add_address(device, address)
            namespace.run(["ip", "link", "set", device, "up"])
            ends.append(Endpoint(namespace, device, namespace.mac(device), v4, v6))
        for end in ends:
            if end.ipv6:
                end.namespace.wait_ipv6_ready(end.device)
        return Link(ends[0], ends[1])

    def stop_processes(self) -> None:
        """Terminate every background process (SIGTERM, then SIGKILL after a grace period)."""
        processes, self._processes = self._processes, []
        for process in processes:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in processes:
            try:
                process.wait(max(deadline - time.monotonic(), 0.01))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(STOP_GRACE)

    def close(self) -> None:
        """Stop processes and delete every namespace; safe to call twice; tries every step."""
        if self._closed:
            return
        self._closed = True
        _open_labs.discard(self)
        problems: list[str] = []
        try:
            self.stop_processes()
        except Exception as error:  # keep going: the namespaces must still go
            problems.append(str(error))
        for namespace in reversed(self.namespaces):
            result = _run(["ip", "netns", "del", namespace.name], check=False)
            if result.returncode != 0 and (NETNS_DIR / namespace.name).exists():
                problems.append(f"cannot delete {namespace.name}: {result.stderr.strip()}")
        shutil.rmtree(self.workdir, ignore_errors=True)
        if problems:
            raise LabError("; ".join(problems))


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:
        pass


def our_namespaces(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Names of existing namespaces that this library made (any process) with `prefix`."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(entry.name for entry in NETNS_DIR.iterdir() if entry.name.startswith(f"{prefix}-"))


def remove_stale(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Delete namespaces (and work directories) left by processes that no longer run (crashed or
    killed with SIGKILL); return the namespace names removed."""
    removed = []
    for name in our_namespaces(prefix):
        parts = name.rsplit("-", 2)
        if len(parts) != 3 or not parts[1].isdigit() or _alive(int(parts[1])):
            continue
        if _run(["ip", "netns", "del", name], check=False).returncode == 0:
            removed.append(name)
    for workdir in Path(tempfile.gettempdir()).glob(f"{prefix}-lab-*-*"):
        pid = workdir.name[len(prefix) + 5 :].split("-")[0]
        if workdir.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(workdir, ignore_errors=True)
    return removed


def _alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


_global_counter = itertools.count()
_open_labs: set[Lab] = set()


@atexit.register
def _close_open_labs() -> None:
    for lab in list(_open_labs):
        try:
            lab.close()
        except LabError:
            pass

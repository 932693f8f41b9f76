"""What corpus scripts expect of their host, done inside the run's namespace: upstream's
`../common/defaults.sh` and `set_sysctls.py` helpers (not shipped) are recognised and applied here;
other backtick lines run with `sh -c` inside the namespace, from the script's directory.

Why here and not in a shell file: the values are data (the corpus README lists them), and writing
/proc/sys from a thread that joined the namespace is fast and touches only that namespace.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from rawkit.script.target import ScriptNet

DEFAULT_SYSCTLS: tuple[tuple[str, str], ...] = (
    ("net/ipv4/tcp_rmem", "4096 540000 15728640"),
    ("net/ipv4/tcp_wmem", "4096 262144 4194304"),
    ("net/ipv4/tcp_timestamps", "1"),
    ("net/ipv4/tcp_sack", "1"),
    ("net/ipv4/tcp_dsack", "1"),
    ("net/ipv4/tcp_fack", "0"),
    ("net/ipv4/tcp_syn_retries", "5"),
    ("net/ipv4/tcp_synack_retries", "5"),
    ("net/ipv4/tcp_frto", "2"),
    ("net/ipv4/tcp_reordering", "3"),
    ("net/ipv4/tcp_congestion_control", "cubic"),
    ("net/ipv4/tcp_slow_start_after_idle", "0"),
    ("net/ipv4/tcp_early_retrans", "4"),
    ("net/ipv4/tcp_recovery", "1"),
    ("net/ipv4/tcp_tso_win_divisor", "3"),
    ("net/ipv4/tcp_ecn", "0"),
    ("net/ipv4/tcp_ecn_option", "2"),
    ("net/ipv4/tcp_pacing_ss_ratio", "200"),
    ("net/ipv4/tcp_pacing_ca_ratio", "120"),
    ("net/ipv4/tcp_notsent_lowat", "4294967295"),
    ("net/ipv4/tcp_fastopen", str(0x70403)),
    ("net/ipv4/tcp_fastopen_key", "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4"),
    ("net/ipv4/tcp_syncookies", "1"),
)
ALLOWED_CC = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"
SHELL_TIMEOUT = 10.0


class ShellFailure(RuntimeError):
    """A backtick command failed (non-zero exit); the message has its output's last line."""


def write_sysctls(values: list[tuple[str, str]]) -> list[str]:
    """Runs inside the namespace: write each /proc/sys value; return the keys that failed and why."""
    problems = []
    for key, value in values:
        path = key if key.startswith("/proc/sys/") else f"/proc/sys/{key}"
        try:
            with open(path, "w") as handle:
                handle.write(value)
        except FileNotFoundError:
            problems.append(f"{path[10:]}: not on this kernel")
        except OSError as error:
            problems.append(f"{path[10:]}={value}: {error.strerror}")
    return problems


def cubic_allowed() -> bool:
    """Can a non-initial namespace select cubic? (the host's allowed list decides)."""
    try:
        return "cubic" in Path(ALLOWED_CC).read_text().split()
    except OSError:
        return False


def apply_defaults(net: ScriptNet) -> list[str]:
    """defaults.sh: flush the metrics cache, set the corpus sysctls, pfifo on tun0. Returns warnings
    (sysctls this kernel lacks; cubic not allowed by the host) for the caller to print."""
    warnings = [problem for problem in net.call(write_sysctls, list(DEFAULT_SYSCTLS))
                if not problem.startswith("net/ipv4/tcp_ecn_option")]
    if any(problem.startswith("net/ipv4/tcp_congestion_control") for problem in warnings):
        warnings = [w for w in warnings if not w.startswith("net/ipv4/tcp_congestion_control")]
        warnings.append("the host does not allow cubic inside namespaces (add it to "
                        "net.ipv4.tcp_allowed_congestion_control); scripts run with the default "
                        "congestion control")
    net.run_in_namespace(["ip", "tcp_metrics", "flush", "all"])
    net.run_in_namespace(["tc", "qdisc", "replace", "dev", net.device, "root", "pfifo"])
    return warnings


def _sysctl_assignments(arguments: list[str]) -> list[tuple[str, str]]:
    values = []
    for argument in arguments:
        key, _, value = argument.partition("=")
        values.append((key, value))
    return values


def _run_line(line: str, cwd: str) -> tuple[int, str]:
    """Runs inside the namespace (the child inherits the calling thread's network namespace)."""
    try:
        done = subprocess.run(["sh", "-c", line], cwd=cwd, capture_output=True, text=True,
                              timeout=SHELL_TIMEOUT,
                              env={**os.environ, "PPID": str(os.getpid())})
    except subprocess.TimeoutExpired:
        return 124, f"did not finish within {SHELL_TIMEOUT:g} s"
    output = (done.stderr or done.stdout).strip().splitlines()
    return done.returncode, output[-1] if output else ""


def logical_lines(command: str) -> list[str]:
    """A backtick command's lines, backslash continuations joined, blanks dropped."""
    joined = re.sub(r"[ \t]*\\[ \t]*\n[ \t]*", " ", command)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def run_shell(command: str, net: ScriptNet, script_dir: str) -> list[str]:
    """Run one backtick command. Returns warnings; raises ShellFailure if a line fails."""
    warnings: list[str] = []
    for line in logical_lines(command):
        words = shlex.split(line, comments=True) if line else []
        if not words:
            continue
        program = words[0]
        if program.endswith("common/defaults.sh"):
            warnings += apply_defaults(net)
            words = words[1:]
            if not words:
                continue
            program = words[0]
        if program.endswith("set_sysctls.py"):
            problems = net.call(write_sysctls, _sysctl_assignments(words[1:]))
            if problems:
                raise ShellFailure(f"set_sysctls: {'; '.join(problems)}")
            continue
        if "sysctl_restore_" in program:
            continue  # restores what set_sysctls changed: the namespace is discarded anyway
        status, last = net.call(_run_line, line, script_dir)
        if status != 0:
            raise ShellFailure(f"`{line}` exited with {status}" + (f": {last}" if last else ""))
    return warnings

"""`rawkit script FILE.pkt...`: run packetdrill scripts (options spelled as packetdrill spells them);
`--dry-run` parses and prints the timeline instead.

Exit status: 0 when every script passed, 1 when one failed (packetdrill-style diagnostic on stderr:
FILE:LINE, the field, expected vs actual), 2 when one could not run (syntax error, unknown call,
missing target, not root)."""

from __future__ import annotations

import importlib

import click

from rawkit.cli import Failure
from rawkit.script import ScriptSyntaxError, parse_file
from rawkit.script.nodes import OptionLine, PacketEvent, PythonEvent, ShellEvent, SyscallEvent
from rawkit.script.render import render_statement

_KINDS = {
    OptionLine: "option",
    PacketEvent: "packet",
    SyscallEvent: "syscall",
    ShellEvent: "shell",
    PythonEvent: "python",
}
TARGETS = {
    "kernel": ("rawkit.script.kernel_target", "KernelTarget"),
    "rawkit": ("rawkit.script.rawkit_target", "RawkitTarget"),
}


def _dry_run(path: str) -> None:
    try:
        parsed = parse_file(path)
    except ScriptSyntaxError as error:
        raise Failure(str(error), 2) from None
    except OSError as error:
        raise Failure(f"{path}: {error.strerror or error}", 2) from None
    counts = dict.fromkeys(_KINDS.values(), 0)
    for statement in parsed.statements:
        kind = _KINDS[type(statement)]
        counts[kind] += 1
        text = render_statement(statement).replace("\n", "\n" + " " * 14)
        click.echo(f"{statement.line:>5}  {kind:<7} {text}")
    click.echo(f"{path}: " + ", ".join(f"{count} {kind}" for kind, count in counts.items()))


def _target_class(name: str) -> type:
    module_name, class_name = TARGETS[name]
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise Failure(f"--target {name} is not available in this build", 2) from None


def _defines(values: tuple[str, ...]) -> dict[str, str]:
    defines = {}
    for value in values:
        name, equals, text = value.partition("=")
        if not equals or not name:
            raise Failure(f"-D {value}: expected NAME=VALUE", 2)
        defines[name] = text
    return defines


@click.command()
@click.argument("paths", metavar="FILE.pkt...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Parse and print the timeline; run nothing.")
@click.option("--target", type=click.Choice(sorted(TARGETS)), default="kernel", show_default=True,
              help="The side under test: the Linux kernel, or rawkit's own TCP stack.")
@click.option("--ip_version", "--ip-version", "ip_version", type=click.Choice(["ipv4", "ipv6"]),
              help="IP version (default: the script header's, else ipv4).")
@click.option("--local_ip", "--local-ip", "local_ip", help="Address of the side under test.")
@click.option("--remote_ip", "--remote-ip", "remote_ip", help="Address rawkit plays.")
@click.option("--gateway_ip", "--gateway-ip", "gateway_ip", help="Next hop towards the remote address.")
@click.option("--netmask_ip", "--netmask-ip", "netmask_ip", help="IPv4 netmask of the local address.")
@click.option("--mtu", type=int, help="MTU of tun0 (packetdrill runs IPv6 with 1520).")
@click.option("--tolerance_usecs", "--tolerance-usecs", "tolerance_usecs", type=click.IntRange(min=1),
              help="Timing tolerance in microseconds (default 4000).")
@click.option("--tolerance_percent", "--tolerance-percent", "tolerance_percent",
              type=click.FloatRange(0, 100), help="Tolerance as a percentage of the interval (default 12.5).")
@click.option("--tcp_ts_tick_usecs", "--tcp-ts-tick-usecs", "tcp_ts_tick_usecs", type=click.IntRange(min=0),
              help="Check outbound TS val at this tick (default 0: unchecked).")
@click.option("-D", "--define", "defines", multiple=True, metavar="NAME=VALUE", help="Define a symbol.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=20.0, show_default=True,
              help="Seconds each script may run.")
def script(paths: tuple[str, ...], dry_run: bool, target: str, ip_version: str | None, local_ip: str | None,
           remote_ip: str | None, gateway_ip: str | None, netmask_ip: str | None, mtu: int | None,
           tolerance_usecs: int | None, tolerance_percent: float | None, tcp_ts_tick_usecs: int | None,
           defines: tuple[str, ...], timeout: float) -> None:
    """Run packetdrill scripts: rawkit plays the remote host, the target is driven by real system calls."""
    if dry_run:
        for path in paths:
            _dry_run(path)
        return
    from rawkit.link.netns import LabError
    from rawkit.script.runner import RunOptions, ScriptBroken, ScriptFailure, run_script

    target_class = _target_class(target)
    options = RunOptions(
        ip_version=None if ip_version is None else int(ip_version[-1]), local_ip=local_ip,
        remote_ip=remote_ip,
        gateway_ip=gateway_ip, netmask_ip=netmask_ip, mtu=mtu, tolerance_usecs=tolerance_usecs,
        tolerance_percent=tolerance_percent, tcp_ts_tick_usecs=tcp_ts_tick_usecs, defines=_defines(defines),
        timeout=timeout)
    worst = 0
    for path in paths:
        try:
            run_script(path, options, target_class, warn=lambda text: click.echo(f"rawkit: warning: {text}",
                                                                                  err=True))
        except ScriptFailure as failure:
            click.echo(str(failure), err=True)
            worst = max(worst, 1)
        except ScriptBroken as broken:
            click.echo(f"rawkit: {broken}", err=True)
            worst = 2
        except LabError as error:
            raise Failure(str(error), 2) from None
    if worst:
        raise SystemExit(worst)

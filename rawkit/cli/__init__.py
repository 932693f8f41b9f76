"""The `rawkit` command: a click group whose subcommands load on first use (fast start-up).

Every failure is one line on stderr, `rawkit: ...`, never a traceback: exit 2 for usage,
permission and environment errors, and whatever a subcommand decides otherwise.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

# name -> "module:attribute"; each subcommand lives in its own module
COMMANDS: dict[str, str] = {
    "read": "rawkit.cli.read:read",
    "ping": "rawkit.cli.ping:ping",
    "trace": "rawkit.cli.trace:trace",
    "stats": "rawkit.cli.stats:stats",
    "flows": "rawkit.cli.flows:flows",
    "follow": "rawkit.cli.follow:follow",
    "plot": "rawkit.cli.plot:plot",
    "send": "rawkit.cli.send:send",
    "replay": "rawkit.cli.replay:replay",
    "sniff": "rawkit.cli.sniff:sniff",
    "script": "rawkit.cli.script:script",
    "connect": "rawkit.cli.connect:connect",
    "listen": "rawkit.cli.listen:listen",
}


def __getattr__(name: str) -> Any:
    """`cli`, `LazyGroup` and `Failure` live in rawkit.cli.group: they need click, whose import is a
    large part of a short `rawkit read`'s start-up; a read parsed by rawkit.cli.read_args never
    imports it."""
    if name in ("cli", "LazyGroup", "Failure"):
        from rawkit.cli import group

        return getattr(group, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        result = _run(args)
    except Exception as error:  # noqa: BLE001 - each kind is reported or re-raised by _exit
        _exit(error)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


def _run(args: list[str]) -> Any:
    if args[:1] == ["read"]:
        from rawkit.cli.read_args import parse_read

        options = parse_read(args[1:])
        if options is not None:  # plain flags: run it without click (anything else goes to click)
            from rawkit.cli.read import run

            return run(**options)
    from rawkit.cli.group import cli

    return cli.main(args=args, prog_name="rawkit", standalone_mode=False)


def _exit(error: Exception) -> NoReturn:
    """Every failure as one line on stderr and an exit code; anything else is a bug and raises."""
    import click

    if isinstance(error, click.exceptions.Exit):
        sys.exit(error.exit_code)
    if isinstance(error, click.ClickException):
        message = error.format_message()
        if isinstance(error, click.UsageError) and error.ctx is not None and error.ctx.command_path:
            message = f"{error.ctx.command_path.removeprefix('rawkit').strip() or 'usage'}: {message}"
        print(f"rawkit: {message}", file=sys.stderr)
        sys.exit(2 if isinstance(error, click.UsageError) else error.exit_code)
    if isinstance(error, click.Abort):
        sys.exit(130)
    if isinstance(error, BrokenPipeError):
        # `rawkit read big.pcap | head`: stop quietly, as tcpdump does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    if isinstance(error, PermissionError):
        print(f"rawkit: {error.strerror or error} (need root or CAP_NET_RAW)", file=sys.stderr)
        sys.exit(2)
    if isinstance(error, OSError):
        print(f"rawkit: {error.strerror or error}", file=sys.stderr)
        sys.exit(2)
    raise error

"""The `rawkit` command: a click group whose subcommands load on first use (fast start-up).

Every failure is one line on stderr, `rawkit: ...`, never a traceback: exit 2 for usage,
permission and environment errors, and whatever a subcommand decides otherwise.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

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


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attribute = target.split(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rawkit")
def cli() -> None:
    """Decode, craft, capture, ping, trace and analyse packets; a userspace TCP on raw frames."""


class Failure(click.ClickException):
    """An error to report as one line with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def main(argv: list[str] | None = None) -> None:
    try:
        result = cli.main(args=argv, prog_name="rawkit", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        message = error.format_message()
        if isinstance(error, click.UsageError) and error.ctx is not None and error.ctx.command_path:
            message = f"{error.ctx.command_path.removeprefix('rawkit').strip() or 'usage'}: {message}"
        print(f"rawkit: {message}", file=sys.stderr)
        sys.exit(2 if isinstance(error, click.UsageError) else error.exit_code)
    except click.Abort:
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # `rawkit read big.pcap | head`: stop quietly, as tcpdump does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except PermissionError as error:
        print(f"rawkit: {error.strerror or error} (need root or CAP_NET_RAW)", file=sys.stderr)
        sys.exit(2)
    except OSError as error:
        print(f"rawkit: {error.strerror or error}", file=sys.stderr)
        sys.exit(2)
    sys.exit(result if isinstance(result, int) else 0)

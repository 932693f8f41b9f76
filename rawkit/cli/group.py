"""The click side of the `rawkit` command: the group whose subcommands load on first use, and the
one-line error type. Kept out of rawkit/cli/__init__.py so that a plain `rawkit read` can start
without importing click at all (see rawkit.cli.read_args)."""

from __future__ import annotations

import importlib

import click

from rawkit.cli import COMMANDS


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

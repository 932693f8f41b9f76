"""`rawkit script FILE.pkt`: packetdrill scripts. So far `--dry-run` only: parse and print the timeline,
so a script's syntax can be checked (exit 2 with `rawkit: FILE:LINE: reason`) before any runner exists."""

from __future__ import annotations

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


@click.command()
@click.argument("path", metavar="FILE.pkt", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Parse and print the timeline; run nothing.")
def script(path: str, dry_run: bool) -> None:
    """Run a packetdrill script (for now: check and print it with --dry-run)."""
    try:
        parsed = parse_file(path)
    except ScriptSyntaxError as error:
        raise Failure(str(error), 2) from None
    except OSError as error:
        raise Failure(f"{path}: {error.strerror or error}", 2) from None
    if not dry_run:
        raise Failure("running scripts is not implemented yet; use --dry-run to check one", 2)
    counts = dict.fromkeys(_KINDS.values(), 0)
    for statement in parsed.statements:
        kind = _KINDS[type(statement)]
        counts[kind] += 1
        text = render_statement(statement).replace("\n", "\n" + " " * 14)
        click.echo(f"{statement.line:>5}  {kind:<7} {text}")
    click.echo(f"{path}: " + ", ".join(f"{count} {kind}" for kind, count in counts.items()))

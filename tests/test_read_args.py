"""rawkit.cli.read_args parses `rawkit read`'s words exactly as click does, or leaves them to click;
a plain filtered read starts without importing click (the point of it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from hypothesis import given, settings
from hypothesis import strategies as st

from rawkit.cli.read import _command
from rawkit.cli.read_args import parse_read

LAB = Path(__file__).resolve().parent.parent / "captures" / "lab-traffic.pcap"
COMMAND = _command()
TOKENS = ["-e", "-v", "-vv", "-x", "-xx", "-X", "-xX", "-t", "-tt", "-tttt", "-ttttt", "-c", "5", "-c5",
          "-c0", "-cx", "-r", "f.pcap", "-w", "-", "-wout.pcap", "-F", "filter.txt", "--nano", "--count",
          "--json", "--", "file.pcap", "tcp", "port", "443", "-q", "-S", "-A", "-n", "-nn", "-h", "--help",
          "-Z", "--bogus", "--count=1", "-evc", "-ec3", "-1", "and", "not", "-vS"]


def click_params(args: list[str]) -> dict | None:
    """What click makes of read's words, or None where it reports an error (or help)."""
    try:
        with COMMAND.make_context("read", list(args)) as context:
            return dict(context.params)
    except (click.ClickException, click.exceptions.Exit):
        return None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=8))
def test_parses_as_click_does_or_leaves_it_to_click(args: list[str]) -> None:
    ours = parse_read(args)
    theirs = click_params(args)
    if ours is not None:
        assert ours == theirs
    elif theirs is not None:  # we left it to click: only where the command reports a usage error
        assert (not theirs["words"] and theirs["read_file"] is None) or theirs["time_style"] > 5


def test_plain_reads_need_no_click() -> None:
    for args in (["f.pcap"], ["f.pcap", "tcp", "port", "443"], ["-c", "10", "-e", "f.pcap", "udp"],
                 ["-r", "f.pcap", "--count", "icmp"], ["f.pcap", "-vv", "-w", "-", "--", "-x"]):
        assert parse_read(args) == click_params(args), args


def test_filtered_read_imports_no_click() -> None:
    code = ("import sys\nfrom rawkit.cli import main\n"
            "try:\n    main(['read', '--count', sys.argv[1], 'tcp'])\nexcept SystemExit:\n    pass\n"
            "print('click' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code, str(LAB)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False"
    assert done.stdout.splitlines()[0].endswith(" packets")

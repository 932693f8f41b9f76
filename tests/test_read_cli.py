"""`rawkit read` as a command: flags, exit codes, errors, pipes, -w, --json, --count, filters.

tcpdump is the oracle wherever it has an answer (same packets, same counts, same lines); the
formatting itself is covered line by line in test_tcpdump_diff.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner
from conftest import CAPTURES, needs_tool
from test_tcpdump_diff_frames import crafted_frames, write_pcaps

import rawkit
from rawkit.cli import cli

LAB = CAPTURES / "lab-traffic.pcap"
ENV = {**os.environ, "TZ": "UTC"}

pytestmark = pytest.mark.skipif(not LAB.exists(), reason="captures/lab-traffic.pcap is not bundled")


def rawkit_run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """The installed command line, as users run it (exit codes and stderr through rawkit.cli.main)."""
    return subprocess.run([sys.executable, "-m", "rawkit", *args], capture_output=True, text=True, env=ENV,
                          timeout=60, **kwargs)


def tcpdump_run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["tcpdump", *args], capture_output=True, text=True, env=ENV, timeout=60)


def invoke(*args: str):
    os.environ["TZ"] = "UTC"
    return CliRunner().invoke(cli, ["read", *args])


@needs_tool("tcpdump")
@pytest.mark.parametrize("words", [["-c", "5", "LAB"], ["-c", "1", "-v", "LAB"], ["-r", "LAB"],
                                   ["-nn", "-S", "LAB"], ["-r", "LAB", "-c", "3", "-e"]])
def test_lines_and_limits_match_tcpdump(words):
    """FILE or -r FILE; tcpdump always takes -r FILE."""
    words = [str(LAB) if word == "LAB" else word for word in words]
    ours = rawkit_run("read", *words)
    flags = [word for word in words if word not in ("-r", str(LAB))]
    theirs = tcpdump_run("-nn", *flags, "-r", str(LAB))
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert ours.stderr == theirs.stderr  # "reading from file ..., link-type EN10MB (Ethernet), ..."


@needs_tool("tcpdump")
def test_count_matches_tcpdump():
    assert invoke("--count", str(LAB)).stdout == tcpdump_run("--count", "-r", str(LAB)).stdout


@needs_tool("tcpdump")
@pytest.mark.parametrize("expression", [["icmp"], ["tcp", "and", "port", "80"], ["arp", "or", "ip6"]])
def test_filter_words_select_what_tcpdump_selects(expression):
    ours = invoke(str(LAB), *expression)
    assert ours.exit_code == 0, ours.output
    theirs = tcpdump_run("-nn", "-r", str(LAB), " ".join(expression))
    assert ours.stdout == theirs.stdout
    assert ours.stdout  # the expressions do select something


def test_bad_filter_is_one_line_exit_2():
    result = rawkit_run("read", str(LAB), "tcp", "and", "and")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 2 and result.stderr.splitlines()[1].startswith("rawkit: ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["-Z", str(LAB)], ["-c", "zero", str(LAB)], ["-c", "0", str(LAB)], []])
def test_bad_flags_are_one_line_exit_2(args):
    result = rawkit_run("read", *args)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rawkit: "), result.stderr


def test_missing_file_is_one_line(tmp_path):
    result = rawkit_run("read", str(tmp_path / "absent.pcap"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"rawkit: {tmp_path / 'absent.pcap'}: No such file or directory"]


@needs_tool("tcpdump")
def test_damaged_capture_prints_good_packets_then_error(tmp_path):
    damaged = tmp_path / "cut.pcap"
    damaged.write_bytes(LAB.read_bytes()[:3000])
    ours = rawkit_run("read", str(damaged))
    theirs = tcpdump_run("-nn", "-r", str(damaged))
    assert ours.returncode == 1 and theirs.returncode == 1
    assert ours.stdout == theirs.stdout and ours.stdout.count("\n") > 3
    last = ours.stderr.splitlines()[-1]
    assert last.startswith("rawkit: ") and "Traceback" not in ours.stderr


def test_head_closing_the_pipe_is_quiet():
    with subprocess.Popen([sys.executable, "-m", "rawkit", "read", "-v", str(LAB)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=ENV) as reader:
        first = reader.stdout.readline()
        reader.stdout.close()  # what `| head -1` does
        stderr = reader.stderr.read().decode()
        code = reader.wait(timeout=60)
    assert first.startswith(b"12:") or first[:2].isdigit()
    assert code == 0
    assert "Traceback" not in stderr and "Error" not in stderr


@needs_tool("tcpdump")
def test_write_keeps_the_selected_packets(tmp_path):
    out = tmp_path / "icmp.pcap"
    result = invoke(str(LAB), "-w", str(out), "icmp")
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert tcpdump_run("-nn", "-r", str(out)).stdout == tcpdump_run("-nn", "-r", str(LAB), "icmp").stdout


@needs_tool("tcpdump")
def test_write_to_stdout_is_a_pcap_tcpdump_reads():
    result = rawkit_run("read", "-c", "4", "-w", "-", str(LAB), encoding="latin-1")
    assert result.returncode == 0
    copied = subprocess.run(["tcpdump", "-nn", "-r", "-"], input=result.stdout.encode("latin-1"),
                            capture_output=True, env=ENV, timeout=60)
    assert copied.stdout.decode() == tcpdump_run("-nn", "-c", "4", "-r", str(LAB)).stdout


def test_json_has_one_decoded_object_per_packet():
    result = invoke("--json", str(LAB))
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    packets = list(rawkit.read(str(LAB)))
    assert len(records) == len(packets)
    for record, pkt in zip(records, packets, strict=True):
        assert record["wirelen"] == pkt.wirelen and record["caplen"] == len(pkt.data)
        if pkt.tcp is not None:
            assert (record["tcp"]["sport"], record["tcp"]["dport"]) == (pkt.tcp.sport, pkt.tcp.dport)
            assert record["ip"]["src"] == pkt.ip.src
        if pkt.arp is not None:
            assert record["arp"]["op"] == pkt.arp.op
    assert any("tcp" in record for record in records) and any("icmp" in record for record in records)


@needs_tool("tcpdump")
def test_summary_is_the_tcpdump_line(tmp_path):
    """Packet.summary() is tcpdump -nn -S without the timestamp, for every crafted frame."""
    for path in write_pcaps(tmp_path, crafted_frames()):
        expected = tcpdump_run("-nn", "-S", "-tt", "-r", str(path)).stdout
        blocks = _packet_blocks(expected)
        packets = list(rawkit.read(str(path)))
        assert len(blocks) == len(packets)
        for block, pkt in zip(blocks, packets, strict=True):
            if "mptcp" in block:  # a known difference, see test_tcpdump_diff.py
                continue
            assert pkt.summary() == block


def _packet_blocks(output: str) -> list[str]:
    """Split -tt output into one text per packet, timestamps removed."""
    blocks: list[str] = []
    for line in output.splitlines():
        stamp, _, rest = line.partition(" ")
        if stamp[:10].isdigit() and "." in stamp:
            blocks.append(rest)
        else:
            blocks[-1] += "\n" + line
    return blocks

"""`--target rawkit`: packetdrill scripts with rawkit's own TCP stack as the side under test.

Scripts that rawkit's engine passes (upstream corpus, read in place, and our own tests/scripts) must
keep passing; what rawkit lacks is refused with a reason, not imitated. The stack reacts from
Python on a shared 2-core machine, so these runs use a 20 ms timing tolerance (behaviour is under
test here, not reaction time) and retry a timing-only failure once. The scripts expected to pass
run two at a time in child processes (tests/script_pool.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SHARED, needs_root

CORPUS = SHARED / "packetdrill" / "tcp"
OWN = Path(__file__).parent / "scripts"
TOLERANCE_USECS = 20000
CORPUS_PASSING = [
    "blocking/blocking-connect.pkt",
    "close/close-on-syn-sent.pkt",
    "close/close-local-close-then-remote-fin.pkt",
    "close/close-remote-fin-then-close.pkt",
    "cwnd_moderation/cwnd-moderation-disorder-no-moderation.pkt",
    "fast_recovery/prr-ss-10pkt-lost-1.pkt",
    "fast_retransmit/fr-4pkt.pkt",
    "mss/mss-getsockopt-tcp_maxseg-server.pkt",
    "mss/mss-setsockopt-tcp_maxseg-client.pkt",
    "mss/mss-setsockopt-tcp_maxseg-server.pkt",
    "shutdown/shutdown-rd-close.pkt",
    "shutdown/shutdown-wr-close.pkt",
    "slow_start/slow-start-ack-per-1pkt.pkt",
    "slow_start/slow-start-ack-per-2pkt-send-5pkt.pkt",
    "slow_start/slow-start-app-limited.pkt",
    "tcp_info/tcp-info-last_data_recv.pkt",
    "ts_recent/fin_tsval.pkt",
    "validate/validate-established-no-flags.pkt",
]
CORPUS_IPV6 = ["close/close-on-syn-sent.pkt", "close/close-remote-fin-then-close.pkt",
               "mss/mss-setsockopt-tcp_maxseg-server.pkt", "shutdown/shutdown-rdwr-close.pkt",
               "slow_start/slow-start-ack-per-2pkt.pkt"]
OWN_PASSING = ["connect-refused.pkt", "keepalive.pkt", "poll-events.pkt", "rst-challenge-ack.pkt",
               "rst-closed-port.pkt", "simultaneous-close.pkt", "simultaneous-open.pkt",
               "syn-retransmit-linear.pkt", "zero-window-probe.pkt"]
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"packetdrill corpus not found at {CORPUS}")


def run_rawkit(path: Path, **options: object) -> None:
    """Run `path` on rawkit's stack; a failure that is only a timing miss gets one more go."""
    from rawkit.script.rawkit_target import RawkitTarget
    from rawkit.script.runner import RunOptions, ScriptFailure, run_script

    options.setdefault("tolerance_usecs", TOLERANCE_USECS)
    try:
        run_script(str(path), RunOptions(**options), RawkitTarget)
    except ScriptFailure as failure:
        if "timing error" not in str(failure):
            raise
        run_script(str(path), RunOptions(**options), RawkitTarget)


OWN_IPV6 = ["connect-refused.pkt", "poll-events.pkt", "simultaneous-open.pkt"]
V4, V6 = {"ip_version": 4}, {"ip_version": 6, "mtu": 1520}


@pytest.fixture(scope="module")
def passing_runs():
    """Every script expected to pass, started at once (two at a time, see script_pool), the slow
    timelines (keepalive, retransmissions) first."""
    from tests.script_pool import ScriptPool

    runs = [(OWN / name, V4) for name in OWN_PASSING] + [(OWN / name, V6) for name in OWN_IPV6]
    if CORPUS.is_dir():
        runs += [(CORPUS / name, V4) for name in CORPUS_PASSING]
        runs += [(CORPUS / name, V6) for name in CORPUS_IPV6]
    slow = ("keepalive.pkt", "syn-retransmit-linear.pkt")
    pool = ScriptPool()
    for path, options in sorted(runs, key=lambda run: run[0].name not in slow):
        pool.submit(path, "rawkit", tolerance_usecs=TOLERANCE_USECS, **options)
    yield pool
    pool.close()


@needs_root
@needs_corpus
@pytest.mark.parametrize("name", CORPUS_PASSING)
def test_corpus_script_passes_on_rawkit_ipv4(passing_runs, name: str):
    passing_runs.outcome(CORPUS / name, "rawkit", tolerance_usecs=TOLERANCE_USECS, **V4)


@needs_root
@needs_corpus
@pytest.mark.parametrize("name", CORPUS_IPV6)
def test_corpus_script_passes_on_rawkit_ipv6(passing_runs, name: str):
    passing_runs.outcome(CORPUS / name, "rawkit", tolerance_usecs=TOLERANCE_USECS, **V6)


@needs_root
@pytest.mark.parametrize("name", OWN_PASSING)
def test_own_script_passes_on_rawkit(passing_runs, name: str):
    passing_runs.outcome(OWN / name, "rawkit", tolerance_usecs=TOLERANCE_USECS, **V4)


@needs_root
@pytest.mark.parametrize("name", OWN_IPV6)
def test_own_script_passes_on_rawkit_ipv6(passing_runs, name: str):
    passing_runs.outcome(OWN / name, "rawkit", tolerance_usecs=TOLERANCE_USECS, **V6)


SERVER = """\
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
   +0 bind(3, ..., ...) = 0
   +0 listen(3, 1) = 0
   +0 < S 0:0(0) win 32792 <mss 1000,nop,wscale 7>
   +0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>
  +.1 < . 1:1(0) ack 1 win 257
   +0 accept(3, ..., ...) = 4
"""


@needs_root
def test_a_wrong_expectation_fails_on_rawkit(tmp_path: Path):
    from rawkit.script.runner import ScriptFailure

    script = tmp_path / "wrong-window.pkt"
    script.write_text(SERVER + "   +0 write(4, ..., 100) = 100\n   +0 > P. 1:101(100) ack 1 win 7\n")
    with pytest.raises(ScriptFailure, match=r"wrong-window.pkt:9: .*win"):
        run_rawkit(script, ip_version=4)


@needs_root
@pytest.mark.parametrize(("line", "reason"), [
    ("   +0 epoll_create(1) = 5\n", "rawkit has no epoll_create()"),
    ("   +0 sendto(4, ..., 10, MSG_FASTOPEN, ..., ...) = 10\n", "rawkit sockets take no MSG_FASTOPEN"),
    ("   +0 read(4, NULL, 10) = -1 EFAULT (Bad address)\n", "NULL buffers"),
])
def test_what_rawkit_lacks_is_refused_with_a_reason(tmp_path: Path, line: str, reason: str):
    from rawkit.script.runner import ScriptBroken

    script = tmp_path / "lacking.pkt"
    script.write_text(SERVER + line)
    with pytest.raises(ScriptBroken, match=rf"lacking.pkt:8: rawkit target: {reason}"):
        run_rawkit(script, ip_version=4)


@needs_root
def test_an_option_rawkit_lacks_names_the_option(tmp_path: Path):
    from rawkit.script.runner import ScriptFailure

    script = tmp_path / "option.pkt"
    script.write_text(SERVER + "   +0 setsockopt(4, SOL_TCP, TCP_NOTSENT_LOWAT, [4000], 4) = 0\n")
    with pytest.raises(ScriptFailure, match="rawkit sockets do not have the option TCP_NOTSENT_LOWAT"):
        run_rawkit(script, ip_version=4)


# ---------------------------------------------------------------- without a network

def test_tcp_info_and_poll_from_an_engine_pair():
    """tcpi_* values and poll bits come from the engine's state, in Linux's numbers and units."""
    from rawkit.script.rawkit_target import connection_info
    from rawkit.tcp import Connection, Settings
    from rawkit.tcp.states import State

    client = Connection(("198.18.0.1", 40000), ("198.18.0.2", 80), Settings(initial_window=10))
    client.connect(0.0)
    info = connection_info(client, 0.0)
    assert info["tcpi_state"] == 2                       # TCP_SYN_SENT
    assert info["tcpi_rto"] == 1_000_000                 # initial RTO 1 s, in microseconds
    assert info["tcpi_snd_cwnd"] == 10 and info["tcpi_snd_ssthresh"] == 0x7FFFFFFF
    assert "tcpi_rtt" not in info                        # no sample yet: the field is left out
    assert info["tcpi_ca_state"] == 0 and info["tcpi_advmss"] == 1460
    assert "tcpi_last_data_recv" not in info             # nothing heard yet
    client.congestion.in_recovery = True
    assert connection_info(client, 0.0)["tcpi_ca_state"] == 3  # TCP_CA_Recovery
    assert client.state is State.SYN_SENT


def test_a_burst_of_mss_segments_stands_for_one_script_line_with_the_last_pieces_psh():
    """rawkit sends MSS-sized segments where Linux sends one TSO burst; the runner glues them, and
    the PSH (or FIN) that only the last piece carries belongs to the glued segment."""
    from rawkit.script.packets import Segment, merge

    pieces = [Segment(8080, 40000, 1 + 1000 * i, 1, 0x10 | (0x08 if i == 2 else 0), 257, 0, (), 1000, 0)
              for i in range(3)]
    glued = merge(pieces)
    assert (glued.seq, glued.payload_len, glued.flags) == (1, 3000, 0x18)
    assert merge(pieces[:2]).flags == 0x10


def test_tcp_info_counts_sacked_and_lost_segments():
    """One segment of eight dropped: at the start of recovery the peer has SACKed the rest that
    arrived, and the hole below three SACKed segments is deemed lost (RFC 6675)."""
    from rawkit.script.rawkit_target import connection_info
    from rawkit.tcp import Settings
    from rawkit.tcp.testing import Pair, drop_nth

    pair = Pair(client_settings=Settings(nodelay=True), delay=0.05)
    pair.handshake()
    assert connection_info(pair.c, pair.now)["tcpi_sacked"] == 0
    assert connection_info(pair.c, pair.now)["tcpi_reordering"] == 3
    pair.to_server.rule = drop_nth(0)
    pair.client.outbox += bytes(8 * pair.c.send_mss)
    assert pair.run(until=lambda: pair.c.congestion.in_recovery, limit=5)
    info = connection_info(pair.c, pair.now)
    assert info["tcpi_sacked"] >= 3 and info["tcpi_lost"] == 1

"""Linux `struct tcp_info` by field name, and the `%{ ... }%` Python blocks that assert on it.

Why here and pure: scripts check congestion state with lines like
`%{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%`. The kernel target fills the names from
getsockopt(TCP_INFO); rawkit's own stack can fill the same names from its engine; the block runs the
same way for both.

The layout is the kernel's (include/uapi/linux/tcp.h), in order, with the length at which each
kernel release stopped: a short answer from an older kernel decodes to the fields it covers.
Bit fields share a byte (or a 32-bit word) and are listed with their shift and width.
"""

from __future__ import annotations

import struct
import textwrap
from collections.abc import Mapping

# (name, struct code) in kernel order; bit fields as (name, code, shift, width) sharing one slot.
_LAYOUT: tuple[tuple[str, str] | tuple[str, str, tuple[tuple[str, int, int], ...]], ...] = (
    ("tcpi_state", "B"), ("tcpi_ca_state", "B"), ("tcpi_retransmits", "B"), ("tcpi_probes", "B"),
    ("tcpi_backoff", "B"), ("tcpi_options", "B"),
    ("", "B", (("tcpi_snd_wscale", 0, 4), ("tcpi_rcv_wscale", 4, 4))),
    ("", "B", (("tcpi_delivery_rate_app_limited", 0, 1), ("tcpi_fastopen_client_fail", 1, 2))),
    ("tcpi_rto", "I"), ("tcpi_ato", "I"), ("tcpi_snd_mss", "I"), ("tcpi_rcv_mss", "I"),
    ("tcpi_unacked", "I"), ("tcpi_sacked", "I"), ("tcpi_lost", "I"), ("tcpi_retrans", "I"),
    ("tcpi_fackets", "I"),
    ("tcpi_last_data_sent", "I"), ("tcpi_last_ack_sent", "I"), ("tcpi_last_data_recv", "I"),
    ("tcpi_last_ack_recv", "I"),
    ("tcpi_pmtu", "I"), ("tcpi_rcv_ssthresh", "I"), ("tcpi_rtt", "I"), ("tcpi_rttvar", "I"),
    ("tcpi_snd_ssthresh", "I"), ("tcpi_snd_cwnd", "I"), ("tcpi_advmss", "I"), ("tcpi_reordering", "I"),
    ("tcpi_rcv_rtt", "I"), ("tcpi_rcv_space", "I"), ("tcpi_total_retrans", "I"),
    ("tcpi_pacing_rate", "Q"), ("tcpi_max_pacing_rate", "Q"), ("tcpi_bytes_acked", "Q"),
    ("tcpi_bytes_received", "Q"), ("tcpi_segs_out", "I"), ("tcpi_segs_in", "I"),
    ("tcpi_notsent_bytes", "I"), ("tcpi_min_rtt", "I"), ("tcpi_data_segs_in", "I"),
    ("tcpi_data_segs_out", "I"), ("tcpi_delivery_rate", "Q"),
    ("tcpi_busy_time", "Q"), ("tcpi_rwnd_limited", "Q"), ("tcpi_sndbuf_limited", "Q"),
    ("tcpi_delivered", "I"), ("tcpi_delivered_ce", "I"),
    ("tcpi_bytes_sent", "Q"), ("tcpi_bytes_retrans", "Q"), ("tcpi_dsack_dups", "I"),
    ("tcpi_reord_seen", "I"), ("tcpi_rcv_ooopack", "I"), ("tcpi_snd_wnd", "I"),
    ("tcpi_rcv_wnd", "I"), ("tcpi_rehash", "I"),
    ("tcpi_total_rto", "H"), ("tcpi_total_rto_recoveries", "H"), ("tcpi_total_rto_time", "I"),
    ("tcpi_received_ce", "I"), ("tcpi_delivered_e1_bytes", "I"), ("tcpi_delivered_e0_bytes", "I"),
    ("tcpi_delivered_ce_bytes", "I"), ("tcpi_received_e1_bytes", "I"), ("tcpi_received_e0_bytes", "I"),
    ("tcpi_received_ce_bytes", "I"),
    ("", "I", (("tcpi_ecn_mode", 0, 2), ("tcpi_accecn_opt_seen", 2, 2), ("tcpi_accecn_fail_mode", 4, 4))),
)


def _offsets() -> tuple[tuple[int, struct.Struct, tuple[tuple[str, int, int], ...]], ...]:
    slots, offset = [], 0
    for entry in _LAYOUT:
        code = entry[1]
        packer = struct.Struct("=" + code)
        offset += -offset % packer.size  # natural alignment, as the C compiler lays it out
        bits = entry[2] if len(entry) == 3 else ((entry[0], 0, packer.size * 8),)  # type: ignore[misc]
        slots.append((offset, packer, bits))
        offset += packer.size
    return tuple(slots)


_SLOTS = _offsets()
TCP_INFO_SIZE = _SLOTS[-1][0] + _SLOTS[-1][1].size
"""Bytes of the newest layout known here (280 on Linux 6.18)."""

FIELDS: tuple[str, ...] = tuple(name for _, _, bits in _SLOTS for name, _, _ in bits)


def decode(data: bytes) -> dict[str, int]:
    """tcpi_* values from a getsockopt(TCP_INFO) answer; fields past its end are left out."""
    values: dict[str, int] = {}
    for offset, packer, bits in _SLOTS:
        if offset + packer.size > len(data):
            break
        word = packer.unpack_from(data, offset)[0]
        for name, shift, width in bits:
            values[name] = (word >> shift) & ((1 << width) - 1)
    return values


def encode(values: Mapping[str, int]) -> bytes:
    """The struct bytes for `values` (missing fields 0): the inverse of decode, for tests and for
    targets that report their own state."""
    buffer = bytearray(TCP_INFO_SIZE)
    for offset, packer, bits in _SLOTS:
        word = 0
        for name, shift, width in bits:
            word |= (values.get(name, 0) & ((1 << width) - 1)) << shift
        packer.pack_into(buffer, offset, word)
    return bytes(buffer)


SYMBOLS: dict[str, int] = {
    "TCP_ESTABLISHED": 1, "TCP_SYN_SENT": 2, "TCP_SYN_RECV": 3, "TCP_FIN_WAIT1": 4, "TCP_FIN_WAIT2": 5,
    "TCP_TIME_WAIT": 6, "TCP_CLOSE": 7, "TCP_CLOSE_WAIT": 8, "TCP_LAST_ACK": 9, "TCP_LISTEN": 10,
    "TCP_CLOSING": 11,
    "TCP_CA_Open": 0, "TCP_CA_Disorder": 1, "TCP_CA_CWR": 2, "TCP_CA_Recovery": 3, "TCP_CA_Loss": 4,
    "TCPI_OPT_TIMESTAMPS": 1, "TCPI_OPT_SACK": 2, "TCPI_OPT_WSCALE": 4, "TCPI_OPT_ECN": 8,
    "TCPI_OPT_ECN_SEEN": 16, "TCPI_OPT_SYN_DATA": 32, "TCPI_OPT_USEC_TS": 64,
}
"""Names a block may use besides tcpi_*: tcpi_state, tcpi_ca_state and tcpi_options values."""


class PythonBlocks:
    """Runs a script's `%{ }%` blocks in one shared namespace, in order.

    Shared because scripts define names in one block and use them in later ones
    (`%{ TCP_INFINITE_SSTHRESH = 0x7fffffff }%`). Before each block the tcpi_* values of that moment
    and `SYMBOLS` are (re)bound. The code is the script author's, run like packetdrill runs it.
    """

    def __init__(self) -> None:
        self._globals: dict[str, object] = {"__builtins__": __builtins__}

    def run(self, code: str, tcp_info: Mapping[str, int], line: int = 0) -> str | None:
        """None if the block ran clean, else a one-line reason (a failed assert's message)."""
        source = textwrap.dedent(code.strip("\n")).strip() + "\n\n"
        try:
            compiled = compile(source, f"<python block at line {line}>", "exec")
        except SyntaxError as error:
            return f"syntax error in Python block: {error.msg}"
        self._globals.update(SYMBOLS)
        self._globals.update(tcp_info)
        try:
            exec(compiled, self._globals)  # noqa: S102 - running the script's own block is the feature
        except AssertionError as error:
            detail = " ".join(str(error).split())
            failing = _failing_line(source, error)
            return f"assertion failed: {failing}" + (f" (value: {detail})" if detail else "")
        except Exception as error:  # any error in the author's code fails the script, with its reason
            return f"error in Python block: {type(error).__name__}: {error}"
        return None


def _failing_line(source: str, error: BaseException) -> str:
    """The block's source line the error was raised on (the innermost frame from the block)."""
    lineno, trace = 1, error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename.startswith("<python block"):
            lineno = trace.tb_lineno
        trace = trace.tb_next
    lines = source.splitlines()
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else source.strip()

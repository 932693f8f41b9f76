"""Per-connection settings: what setsockopt changes. Defaults follow Linux where the RFCs leave room."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rawkit.tcp.congestion import CONTROLLERS


@dataclass(slots=True)
class Settings:
    """Knobs of one connection. Those marked "(SYN)" only matter before the handshake starts."""

    mss: int = 1460                      # (SYN) largest segment we accept; also caps what we send
    send_buffer_size: int = 262144       # bytes `send` may queue (unsent + unacknowledged)
    receive_buffer_size: int = 131072    # bytes buffered for `read`; sets the advertised window
    nodelay: bool = False                # TCP_NODELAY: no Nagle coalescing
    keepalive: bool = False              # SO_KEEPALIVE
    keepalive_idle: float = 7200.0       # TCP_KEEPIDLE, seconds of silence before the first probe
    keepalive_interval: float = 75.0     # TCP_KEEPINTVL
    keepalive_count: int = 9             # TCP_KEEPCNT, unanswered probes before TimedOut
    linger: float | None = None          # SO_LINGER; 0 makes close() send RST (abort)
    reuse_address: bool = False          # SO_REUSEADDR: bind() may share the port with connections
    time_wait: float = 60.0              # length of TIME_WAIT (2*MSL; Linux uses 60 s)
    fin_wait2_timeout: float = 60.0      # orphaned FIN_WAIT_2 lifetime after close() (tcp_fin_timeout)
    sack: bool = True                    # (SYN) offer/accept SACK-permitted
    timestamps: bool = True              # (SYN) RFC 7323 timestamps
    window_scaling: bool = True          # (SYN) RFC 7323 window scale
    window_scale: int | None = None      # (SYN) shift to offer; None: the least that covers the buffer
    syn_retries: int = 6                 # SYN retransmissions before TimedOut (Linux: 1+2+...+64 = 127 s)
    synack_retries: int = 5              # SYN-ACK retransmissions of a passive open
    syn_linear_timeouts: int = 4         # SYN timeouts that keep the initial RTO before doubling
                                         # (Linux 6.5+ tcp_syn_linear_timeouts; 0: RFC 6298 doubling)
    max_retries: int = 15                # data retransmissions before TimedOut (tcp_retries2)
    user_timeout: float = 0.0            # TCP_USER_TIMEOUT: seconds data may stay unacknowledged
                                         # under retransmission before TimedOut; 0: max_retries decides
    initial_rto: float = 1.0             # RFC 6298 initial RTO
    min_rto: float = 0.2                 # Linux's floor (RFC 6298 suggests 1 s, allows lower)
    max_rto: float = 120.0
    delayed_ack: float = 0.04            # delayed-ACK timer; 0 acknowledges every segment at once
    initial_window: int = 10             # initial congestion window in segments (RFC 6928, Linux)
    slow_start_after_idle: bool = True   # RFC 5681 4.1 window restart (Linux tcp_slow_start_after_idle)
    max_out_of_order: int = 64           # bound on separate out-of-order ranges kept
    max_out_of_order_bytes: int | None = None   # bound on out-of-order bytes; None: receive_buffer_size
    congestion_control: str = "cubic"    # TCP_CONGESTION: "cubic" (RFC 9438) or "reno" (RFC 5681)
    challenge_ack_limit: int = 1000      # RFC 5961 challenge ACKs per second (tcp_challenge_ack_limit)

    def __post_init__(self) -> None:
        """Reject values no connection can work with, with one line saying which."""
        checks = (
            (88 <= self.mss <= 65495, "mss must be 88..65495"),
            (self.send_buffer_size >= 1, "send_buffer_size must be at least 1"),
            (self.receive_buffer_size >= 1, "receive_buffer_size must be at least 1"),
            (self.window_scale is None or 0 <= self.window_scale <= 14, "window_scale must be 0..14"),
            (min(self.syn_retries, self.synack_retries, self.max_retries, self.syn_linear_timeouts) >= 0,
             "retries cannot be negative"),
            (0 < self.min_rto <= self.max_rto and self.initial_rto > 0,
             "min_rto must be above 0 and at most max_rto"),
            (self.linger is None or self.linger >= 0, "linger cannot be negative"),
            (self.keepalive_count >= 1 and min(self.keepalive_idle, self.keepalive_interval) > 0,
             "keepalive needs positive idle/interval and count >= 1"),
            (min(self.time_wait, self.fin_wait2_timeout, self.delayed_ack, self.user_timeout) >= 0,
             "timeouts cannot be negative"),
            (self.initial_window >= 1 and self.max_out_of_order >= 1,
             "initial_window and max_out_of_order must be at least 1"),
            (self.challenge_ack_limit >= 0, "challenge_ack_limit cannot be negative"),
            (self.max_out_of_order_bytes is None or self.max_out_of_order_bytes >= 0,
             "max_out_of_order_bytes cannot be negative"),
            (self.congestion_control in CONTROLLERS,
             f"congestion_control must be one of {', '.join(sorted(CONTROLLERS))}"),
        )
        for valid, message in checks:
            if not valid:
                raise ValueError(f"tcp settings: {message}")

    copy: ClassVar[Callable[[Settings], Settings]]    # defined below the class


def _straight_copy() -> Callable[[Settings], Settings]:
    """Settings.copy: field for field, without validating again (these values passed). Every socket
    makes one, so it is one assignment per field, generated from the slots (as dataclasses builds
    __init__) so a new field is never left out: 1 us where a getattr/setattr loop took 10."""
    lines = ["def copy(self):", "    clone = _new(Settings)"]
    lines += [f"    clone.{name} = self.{name}" for name in Settings.__slots__]
    namespace = {"_new": object.__new__, "Settings": Settings}
    exec("\n".join(lines + ["    return clone"]), namespace)
    function = namespace["copy"]
    function.__doc__ = "Field for field, without validating again (these values passed)."
    return function


Settings.copy = _straight_copy()

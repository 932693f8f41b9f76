"""Per-connection settings: what setsockopt changes. Defaults follow Linux where the RFCs leave room."""

from __future__ import annotations

from dataclasses import dataclass, replace


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
    time_wait: float = 60.0              # length of TIME_WAIT (2*MSL; Linux uses 60 s)
    fin_wait2_timeout: float = 60.0      # orphaned FIN_WAIT_2 lifetime after close() (tcp_fin_timeout)
    sack: bool = True                    # (SYN) offer/accept SACK-permitted
    timestamps: bool = True              # (SYN) RFC 7323 timestamps
    window_scaling: bool = True          # (SYN) RFC 7323 window scale
    window_scale: int | None = None      # (SYN) shift to offer; None: the least that covers the buffer
    syn_retries: int = 6                 # SYN retransmissions before TimedOut (Linux: 1+2+...+64 = 127 s)
    synack_retries: int = 5              # SYN-ACK retransmissions of a passive open
    max_retries: int = 15                # data retransmissions before TimedOut (tcp_retries2)
    initial_rto: float = 1.0             # RFC 6298 initial RTO
    min_rto: float = 0.2                 # Linux's floor (RFC 6298 suggests 1 s, allows lower)
    max_rto: float = 120.0
    delayed_ack: float = 0.04            # delayed-ACK timer; 0 acknowledges every segment at once
    initial_window: int = 10             # initial congestion window in segments (RFC 6928, Linux)
    slow_start_after_idle: bool = True   # RFC 5681 4.1 window restart (Linux tcp_slow_start_after_idle)
    max_out_of_order: int = 64           # bound on separate out-of-order ranges kept

    def copy(self) -> Settings:
        return replace(self)

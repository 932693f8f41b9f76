"""One TCP connection as a sans-IO engine (RFC 9293): segments and `now` in, events and segments out.

Time is float seconds, always passed in. Nothing here sleeps, reads a clock or touches a socket:
the stack calls `receive(segment, now)` for every arriving segment, `poll(now)` to collect what to
send, `events()` for what timers did, and calls back no later than `next_deadline()`.
"""

from __future__ import annotations

from rawkit.tcp import seq
from rawkit.tcp.challenge import ChallengeLimit
from rawkit.tcp.congestion import DUPTHRESH, Congestion
from rawkit.tcp.events import Closed, Connected, DataReceived, Event, PeerClosed, Reset, TimedOut
from rawkit.tcp.isn import Endpoint, initial_sequence, timestamp_offset
from rawkit.tcp.paws import is_old_duplicate
from rawkit.tcp.reassembly import Reassembly
from rawkit.tcp.receive_buffer import ReceiveBuffer
from rawkit.tcp.reset import reset_for
from rawkit.tcp.rtt import RttEstimator
from rawkit.tcp.sack import Scoreboard
from rawkit.tcp.segment import ACK, FIN, PSH, RST, SYN, Segment
from rawkit.tcp.settings import Settings
from rawkit.tcp.states import (
    CAN_RECEIVE_DATA,
    CAN_SEND,
    SYNCHRONIZED,
    LocalProtocolError,
    State,
    Trigger,
    next_state,
)
from rawkit.tcp.undo import LossEpisode, reordering_degree

DEFAULT_MSS = 536              # RFC 9293 3.7.1: assumed when the peer sends no MSS option
TIMESTAMP_OVERHEAD = 12        # NOP NOP + the 10-byte option, on every segment once negotiated
MAX_WSCALE = 14
MAX_PERSIST_INTERVAL = 60.0
RTO_AFTER_LOST_SYN = 3.0       # RFC 6298 5.7
MAX_QUICKACKS = 16             # Linux's TCP_MAX_QUICKACKS


def window_scale_for(buffer_size: int) -> int:
    """Smallest shift that lets a 16-bit window field describe the whole receive buffer."""
    shift = 0
    while buffer_size >> shift > 0xFFFF and shift < MAX_WSCALE:
        shift += 1
    return shift


class Connection:
    """A TCP connection between `local` and `remote` (address text, port).

    Create it, then either `connect(now)` (active open) or let a Listener build it from a SYN with
    `Connection.from_syn`. Mutating `settings` later (nodelay, keepalive, linger) takes effect at once.
    """

    def __init__(self, local: Endpoint, remote: Endpoint, settings: Settings | None = None,
                 secret: bytes = b"") -> None:
        self.local = local
        self.remote = remote
        self.settings = settings if settings is not None else Settings()
        self.secret = secret
        self.state = State.CLOSED
        self.passive = False
        # send sequence space (RFC 9293 3.3.1) plus snd_max, the highest sequence ever sent
        self.iss = self.snd_una = self.snd_nxt = self.snd_max = 0
        self.snd_wnd = self.snd_wl1 = self.snd_wl2 = self.max_snd_wnd = 0
        # receive sequence space
        self.irs = self.rcv_nxt = self.rcv_adv = 0
        self.last_ack_sent = 0
        # negotiated at the handshake
        self.send_mss = DEFAULT_MSS
        self.snd_wscale = self.rcv_wscale = 0
        self.sack_ok = self.ts_ok = False
        self.ts_recent: int | None = None
        self.ts_recent_at = 0.0                # when TS.Recent was last taken (PAWS 24-day rule)
        self.challenges = ChallengeLimit()     # RFC 5961 challenge ACKs sent and suppressed
        self._ts_offset = 0
        self._offered_wscale: int | None = None
        # buffers
        self._send = bytearray()
        self._send_start = 0           # sequence number of self._send[0]
        self._recv = ReceiveBuffer()
        ooo_bytes = self.settings.max_out_of_order_bytes
        self._ooo = Reassembly(self.settings.max_out_of_order,
                               self.settings.receive_buffer_size if ooo_bytes is None else ooo_bytes)
        self._peer_fin_seq: int | None = None
        self._rcv_mss = DEFAULT_MSS
        self._unacked_bytes = 0
        self._quickacks = 0                    # segments still to acknowledge at once (Linux quick-ACK mode)
        self._pingpong = False                 # interactive: we answered within the delayed-ACK time
        self._data_seen = False
        self._stalled_since: float | None = None   # when the head now being retransmitted was sent
        self._max_flight = 0                       # most bytes in flight since _max_flight_seq was sent
        self._max_flight_seq = 0
        self.last_data_received: float | None = None   # data (or the handshake): tcpi_last_data_recv
        self.fin_queued = self.fin_sent = self.fin_acked = self.fin_received = False
        self.fin_seq = 0
        self._syn_acked = False
        self._have_irs = False
        self._user_closed = False
        # timers (absolute deadlines) and their counters
        self._rto_at: float | None = None
        self._delack_at: float | None = None
        self._persist_at: float | None = None
        self._time_wait_at: float | None = None
        self._fin_wait_2_at: float | None = None
        self._last_heard = 0.0
        self._keepalive_probes = 0
        self._keepalive_probe_at = 0.0
        self.retries = 0
        self.backoff = 0
        self._persist_backoff = 0
        self._persist_probes = 0
        self.rtt = RttEstimator(self.settings.initial_rto, self.settings.min_rto, self.settings.max_rto)
        self.congestion = Congestion(DEFAULT_MSS, self.settings.initial_window,
                                     self.settings.congestion_control)
        self.scoreboard = Scoreboard()         # what the peer SACKed (RFC 6675 recovery)
        self._pipe: int | None = None          # RFC 6675 pipe during SACK recovery, for this poll
        self._rtt_seq: int | None = None
        self._small_end = 0                    # end of the last sub-MSS segment sent (Nagle)
        self._last_data_sent = 0.0             # for the restart after idle (RFC 5681 4.1)
        self._rtt_time = 0.0
        self._episode: LossEpisode | None = None   # a window reduction awaiting its verdict (undo.py)
        self._rto_tsval: int | None = None         # our TSval at the last timeout retransmission
        self.loss_episodes = self.undone_episodes = 0
        # pending output flags
        self._ack_now = False
        self._retransmit_head = False
        self._force_head = False
        self._send_probe = False
        self._replies: list[Segment] = []
        # set by a stack whose link cuts a segment at send_mss itself (GSO): new data may then leave as
        # one segment of up to this many bytes of whole MSS-sized pieces, built once instead of per MSS
        self.offload_bytes = 0
        self._events: list[Event] = []
        self.error: Event | None = None        # the Reset/TimedOut that ended the connection, if any

    # ================================================================ user calls
    def connect(self, now: float) -> None:
        """Active open: the SYN goes out at the next `poll`."""
        self.state = next_state(self.state, Trigger.CONNECT)
        self._start(now)
        self._offered_wscale = self._our_wscale() if self.settings.window_scaling else None

    @classmethod
    def from_syn(cls, syn: Segment, now: float, local: Endpoint, remote: Endpoint,
                 settings: Settings | None = None, secret: bytes = b"") -> Connection:
        """Passive open: a connection in SYN-RECEIVED answering `syn` (its SYN-ACK comes from `poll`)."""
        connection = cls(local, remote, settings, secret)
        connection.state = State.LISTEN
        connection.passive = True
        connection.state = next_state(State.LISTEN, Trigger.RECV_SYN)
        connection._start(now)
        connection._take_peer_syn(syn, now)
        return connection

    @classmethod
    def from_cookie(cls, syn: Segment, ack: Segment, iss: int, now: float, local: Endpoint, remote: Endpoint,
                    settings: Settings | None = None, secret: bytes = b"") -> Connection:
        """Passive open completed by a SYN cookie (syncookies.py): `syn` is rebuilt from what the cookie
        `iss` remembered, our SYN-ACK counts as sent, and `ack` completes the handshake. The events it
        produced wait for `events()`."""
        connection = cls.from_syn(syn, now, local, remote, settings, secret)
        connection.iss = connection.snd_una = connection._small_end = iss
        connection.snd_nxt = connection.snd_max = connection._send_start = seq.add(iss, 1)
        connection._receive_synchronized(ack, now)
        return connection

    def send(self, data: bytes, now: float) -> int:
        """Queue application bytes; returns how many fit in the send buffer (0 when full)."""
        if self.state not in CAN_SEND or self.fin_queued:
            raise LocalProtocolError(self.state, "send")
        accepted = min(len(data), self.send_space)
        if accepted:
            self._send += data[:accepted]
        return accepted

    def read(self, max_bytes: int = 1 << 30) -> bytes:
        """Take up to `max_bytes` received bytes. b"" means nothing buffered: check `eof`."""
        if not self._recv:
            return b""
        data = self._recv.read(max_bytes)
        if self.state in SYNCHRONIZED and not self.fin_received:
            opening = self._receive_space() - self._advertised_space()
            if opening >= min(self.settings.receive_buffer_size // 2, 2 * self._rcv_mss):
                self._ack_now = True
        return data

    def peek(self, max_bytes: int = 1 << 30) -> bytes:
        """Received bytes without consuming them (MSG_PEEK)."""
        return self._recv.peek(max_bytes)

    def shutdown_write(self, now: float) -> None:
        """Half-close: no more sends; a FIN follows the queued data. Idempotent once the FIN is queued."""
        if self.fin_queued:
            return
        if self.state is State.SYN_SENT:
            self._enter_closed(Trigger.SHUTDOWN_WRITE)
            return
        if self.state is State.SYN_RECEIVED:
            self.fin_queued = True     # RFC 9293: queued until ESTABLISHED
            return
        self.state = next_state(self.state, Trigger.SHUTDOWN_WRITE)
        self._queue_fin()

    def close(self, now: float) -> None:
        """The socket is gone: FIN after the data, or RST with linger 0 or unread data (as Linux)."""
        if self.state in (State.CLOSED, State.LISTEN):
            return
        if self.settings.linger == 0 or self._recv:
            self.abort(now)
            return
        self._user_closed = True
        self.shutdown_write(now)
        if self.state is State.FIN_WAIT_2:
            self._fin_wait_2_at = now + self.settings.fin_wait2_timeout

    def abort(self, now: float) -> None:
        """Drop the connection at once; the peer gets a RST when it knows us."""
        if self.state is State.CLOSED:
            return
        if self.state in SYNCHRONIZED - {State.TIME_WAIT} or self.state is State.SYN_RECEIVED:
            self._replies.append(self._segment(RST | ACK, self.snd_max, now=now))
        self._enter_closed(Trigger.ABORT)

    def unreachable(self, quoted_seq: int) -> bool:
        """A fatal ICMP error quoting our SYN-ACK of a passive open: as Linux (tcp_req_err), the
        half-open connection is dropped silently, so the peer's next ACK meets the listener's RST.
        Returns whether it was dropped; any other state ignores it (soft error)."""
        if self.state is not State.SYN_RECEIVED or not self.passive or quoted_seq != self.iss:
            return False
        self._enter_closed(Trigger.ABORT)
        return True

    # ================================================================ what the stack reads
    @property
    def send_space(self) -> int:
        return max(self.settings.send_buffer_size - len(self._send), 0)

    @property
    def unsent(self) -> int:
        """Bytes queued but not yet sent once."""
        sent = seq.delta(self.snd_max, self._send_start) if self._syn_acked else 0
        return max(len(self._send) - max(sent, 0), 0)

    @property
    def unacknowledged(self) -> int:
        """Bytes in the send buffer (unsent + in flight)."""
        return len(self._send)

    @property
    def readable(self) -> int:
        return len(self._recv)

    @property
    def ack_due(self) -> bool:
        """An ACK waits for the next `poll` (e.g. the window update a `read` made due)."""
        return self._ack_now

    @property
    def eof(self) -> bool:
        """The peer's FIN arrived and every byte before it has been read."""
        return self.fin_received and not self._recv

    @property
    def out_of_order_bytes(self) -> int:
        """Bytes held beyond a hole (they count against the receive buffer)."""
        return self._ooo.buffered

    def allows_new_connection(self, syn: Segment) -> bool:
        """In TIME-WAIT, may this SYN start a new incarnation of the 4-tuple? (RFC 1122 4.2.2.13,
        RFC 6191: its sequence number or timestamp is newer.) The stack then drops this connection
        and hands the SYN to the listener; `receive` itself only answers it with an ACK."""
        if self.state is not State.TIME_WAIT or not syn.syn or syn.has_ack or syn.rst:
            return False
        if self.ts_ok and syn.timestamp is not None and self.ts_recent is not None:
            return seq.gt(syn.timestamp[0], self.ts_recent)
        return seq.gt(syn.seq, self.rcv_nxt)

    def events(self) -> list[Event]:
        """Events born from timers and user calls since the last `receive`/`events` call."""
        events, self._events = self._events, []
        return events

    def next_deadline(self) -> float | None:
        """The earliest time `poll` has timer work to do; None when no timer runs. (The stack asks
        after every flush: a loop, not a list and min().)"""
        earliest = self._keepalive_deadline() if self.settings.keepalive else None
        for at in (self._rto_at, self._delack_at, self._persist_at, self._time_wait_at, self._fin_wait_2_at):
            if at is not None and (earliest is None or at < earliest):
                earliest = at
        return earliest

    # ================================================================ segment arrival
    def receive(self, segment: Segment, now: float) -> list[Event]:
        """Process one arriving segment (already demultiplexed to this connection)."""
        if self.state is State.CLOSED or self.state is State.LISTEN:
            reply = reset_for(segment)
            if reply is not None:
                self._replies.append(reply)
        elif self.state is State.SYN_SENT:
            self._receive_in_syn_sent(segment, now)
        elif not (self.state is State.ESTABLISHED and segment.flags == ACK and not segment.payload
                  and self._take_pure_ack(segment, now)):
            self._receive_synchronized(segment, now)
        return self.events()

    def packet_too_big(self, path_mss: int, quoted_seq: int, now: float) -> bool:
        """ICMP fragmentation-needed or ICMPv6 packet-too-big (RFC 1191, RFC 8201) about one of our
        segments: the path carries at most `path_mss` bytes of TCP payload without options (the MTU
        less the IP and TCP headers). Believed only when the quoted sequence number is in flight
        (RFC 5927 5.1), so a blind attacker cannot shrink our segments. The MSS drops and what is in
        flight goes again at the new size, without a congestion response: nothing was congested.
        True when it changed something (the stack should `poll`)."""
        if self.state not in SYNCHRONIZED \
                or not seq.in_window(quoted_seq, self.snd_una, seq.distance(self.snd_max, self.snd_una)):
            return False
        mss = max(path_mss - (TIMESTAMP_OVERHEAD if self.ts_ok else 0), 64)
        if mss >= self.send_mss:
            return False
        self.send_mss = self.congestion.mss = mss
        self.snd_nxt = self.snd_una                # every segment in flight was too big: send them again
        self._rtt_seq = None
        return True

    def prediction(self) -> tuple[int, int, int, int, int] | None:
        """Header prediction (Jacobson; RFC 7323 appendix D) for a caller that checks a burst of segments
        itself and hands each in-order run to `receive_run` with one call, building no Segment:
        (RCV.NXT, the ACK and the raw window field the segments must carry, TS.Recent or -1 when
        timestamps are off, the receive space). A segment continues the run when it has ACK (maybe
        PSH) and no other flag, starts where the run ends, carries that ACK and window, a timestamp
        (exactly when timestamps are on) not older than the one before it (the first: not older than
        TS.Recent), and fits the space left. None: no segment can be predicted now (not ESTABLISHED,
        data of ours in flight, held out-of-order data, the peer's FIN seen, the user closed)."""
        if self.state is not State.ESTABLISHED or self.snd_una != self.snd_max or self._ooo.ranges \
                or self._user_closed or self._peer_fin_seq is not None:
            return None
        window = self.snd_wnd >> self.snd_wscale
        if window << self.snd_wscale != self.snd_wnd:
            window = -1                                 # no window field says exactly this window
        ts_recent = self.ts_recent if self.ts_ok and self.ts_recent is not None else -1
        if self.ts_ok and ts_recent < 0:
            return None
        return self.rcv_nxt, self.snd_una, window, ts_recent, self._receive_space()

    def receive_run(self, payloads: list[bytes], tsval: int | None, now: float) -> None:
        """Take a run of segments that `prediction()` allowed, as `receive` would take them one by one
        (the ACK decision is made once for the run: a stretch ACK). `tsval` is the first segment's
        timestamp; it becomes TS.Recent when that segment starts at Last.ACK.sent (RFC 7323 4.3: only
        the first of a run can, since RCV.NXT >= Last.ACK.sent and no ACK leaves during a run)."""
        if not payloads:
            return
        start = self.rcv_nxt
        if tsval is not None and start == self.last_ack_sent:
            self.ts_recent, self.ts_recent_at = tsval, now
        length = self._recv.extend(payloads)
        last = (start + length - len(payloads[-1])) & seq.MASK
        if seq.lt(self.snd_wl1, last):
            self.snd_wl1, self.snd_wl2 = last, self.snd_una
        self._last_heard = now
        self._keepalive_probes = self._persist_probes = 0
        self.rcv_nxt = (start + length) & seq.MASK
        largest = max(map(len, payloads))
        if largest > self._rcv_mss:
            self._rcv_mss = largest
        self._events.append(DataReceived(length))
        self._unacked_bytes += length
        self._acknowledge_data(now)

    def _take_pure_ack(self, segment: Segment, now: float) -> bool:
        """Header prediction for the sending side (RFC 7323 appendix D; Linux's fast path): an ACK
        alone, in sequence, acknowledging new data with the window unchanged, outside loss recovery,
        nothing SACKed and no FIN of ours sent, has only the effects taken here of what
        `_receive_synchronized` would do. False, having changed nothing: the full path decides."""
        ack, window = segment.ack, segment.window << self.snd_wscale
        if segment.seq != self.rcv_nxt or segment.sack_blocks or window != self.snd_wnd or self.fin_sent \
                or not 0 < (ack - self.snd_una) & seq.MASK <= (self.snd_max - self.snd_una) & seq.MASK \
                or self.congestion.in_recovery or self.scoreboard.ranges or self._retransmit_head:
            return False
        if self.ts_ok and segment.timestamp is not None:
            if is_old_duplicate(segment.timestamp[0], self.ts_recent, self.ts_recent_at, now):
                return False
            if seq.le(segment.seq, self.last_ack_sent):
                self.ts_recent, self.ts_recent_at = segment.timestamp[0], now
        self._last_heard = now
        self._keepalive_probes = self._persist_probes = 0
        self._ack_advance(ack, segment, now)
        if seq.lt(self.snd_wl1, segment.seq) or (self.snd_wl1 == segment.seq and seq.le(self.snd_wl2, ack)):
            self.snd_wl1, self.snd_wl2 = segment.seq, ack
            if window:
                self._persist_at = None
                self._persist_backoff = 0
        return True

    def _receive_in_syn_sent(self, segment: Segment, now: float) -> None:
        ack_ok = False
        if segment.has_ack:
            if seq.le(segment.ack, self.iss) or seq.gt(segment.ack, self.snd_max):
                if not segment.rst:
                    self._replies.append(Segment(self.local[1], self.remote[1], segment.ack, 0, RST))
                return
            ack_ok = True
        if segment.rst:
            if ack_ok:
                self._fail(Reset(refused=True), Trigger.RECV_RST)
            return
        if not segment.syn:
            return
        self._take_peer_syn(segment, now)
        if ack_ok:
            self.state = next_state(self.state, Trigger.RECV_SYN_ACK)
            self._handshake_acked(segment, now)
            self._ack_now = True
            self._accept_payload(segment, seq.add(segment.seq, 1), segment.payload, now)
        else:                      # simultaneous open: answer with SYN-ACK, same ISN
            self.state = next_state(self.state, Trigger.RECV_SYN)
            self.snd_nxt = self.iss

    def _receive_synchronized(self, segment: Segment, now: float) -> None:
        flags = segment.flags                       # (read once: the flag properties are calls)
        start, payload, fin, rst = segment.seq, segment.payload, bool(flags & FIN), flags & RST
        if flags & SYN:
            if self.state is State.SYN_RECEIVED and segment.seq == self.irs:
                if not flags & ACK:                 # the peer retransmitted its SYN: repeat our SYN-ACK
                    self.snd_nxt = self.iss
                    return
                start = seq.add(start, 1)          # SYN-ACK of a simultaneous open: its ACK counts
            elif not rst:
                self._challenge_ack(now)           # RFC 5961 4.2: a SYN in a synchronized state
                return
        if self.ts_ok and segment.timestamp is not None and not rst \
                and is_old_duplicate(segment.timestamp[0], self.ts_recent, self.ts_recent_at, now):
            self._ack_now = True                   # PAWS (RFC 7323 5.3): an old duplicate; RSTs are exempt
            return
        # 1. sequence acceptability (RFC 9293 3.10.7.4)
        window = self._receive_space()
        length = len(payload) + (1 if fin else 0)
        if length == 0:
            acceptable = start == self.rcv_nxt if window == 0 else seq.in_window(start, self.rcv_nxt, window)
        elif window == 0:
            acceptable = False
            if start == self.rcv_nxt and not rst:             # window probe: keep its ACK, drop its data
                acceptable, payload, fin = True, b"", False
                self._ack_now = True                          # and tell the prober the window
        else:
            last = seq.add(start, length - 1)
            acceptable = (seq.in_window(start, self.rcv_nxt, window)
                          or seq.in_window(last, self.rcv_nxt, window))
        if not acceptable:
            if not rst:
                self._ack_immediately(now)
                if self.state is State.TIME_WAIT and fin:
                    self._time_wait_at = now + self.settings.time_wait
            return
        self._last_heard = now
        self._keepalive_probes = 0
        # trim to the window
        early = seq.delta(self.rcv_nxt, start)
        if early > 0:
            if early > len(payload):
                fin = False
            payload = payload[early:]
            start = self.rcv_nxt
        room = window - seq.distance(start, self.rcv_nxt)
        if len(payload) > room:
            payload, fin = payload[:max(room, 0)], False
        if self.ts_ok and segment.timestamp is not None and seq.le(segment.seq, self.last_ack_sent):
            self.ts_recent, self.ts_recent_at = segment.timestamp[0], now
        # 2. RST
        if rst:
            if self._rst_acceptable(segment, now):
                self._on_reset()
            return
        # 5. ACK
        if not flags & ACK:
            return
        if self.state is State.SYN_RECEIVED:
            if not (seq.lt(self.snd_una, segment.ack) and seq.le(segment.ack, self.snd_max)):
                self._replies.append(Segment(self.local[1], self.remote[1], segment.ack, 0, RST))
                return
            self.state = next_state(self.state, Trigger.RECV_ACK_OF_SYN)
            self._handshake_acked(segment, now)
            self.snd_wl1 = segment.seq
            if self.fin_queued:
                self.state = next_state(self.state, Trigger.SHUTDOWN_WRITE)
                self.fin_queued = False
                self._queue_fin()
        if not self._process_ack(segment, now):
            return
        if self.state is State.CLOSED:
            return
        # 7. text, 8. FIN
        self._accept_payload(segment, start, payload, now)
        if fin and not self.fin_received:
            fin_at = seq.add(start, len(payload))
            if fin_at == self.rcv_nxt:
                self._on_fin(now)
            elif self.state in CAN_RECEIVE_DATA:
                self._peer_fin_seq = fin_at
                self._ack_now = True

    def _rst_acceptable(self, segment: Segment, now: float) -> bool:
        """RFC 5961 3.2: an in-window RST resets only at exactly RCV.NXT; any other gets a challenge
        ACK, which a genuine peer answers with a RST that does match."""
        if segment.seq == self.rcv_nxt:
            return True
        self._challenge_ack(now)
        return False

    def _challenge_ack(self, now: float) -> None:
        if self.challenges.allow(now, self.settings.challenge_ack_limit):
            self._ack_immediately(now)

    def _on_reset(self) -> None:
        if self.state is State.SYN_RECEIVED:
            self._fail(Reset(refused=not self.passive), Trigger.RECV_RST)
        elif self.state in (State.CLOSING, State.LAST_ACK, State.TIME_WAIT):
            self._enter_closed(Trigger.RECV_RST)
        else:
            self._fail(Reset(), Trigger.RECV_RST)

    def _process_ack(self, segment: Segment, now: float) -> bool:
        """RFC 9293 3.10.7.4 fifth check. False when the rest of the segment must be dropped."""
        ack = segment.ack
        if seq.gt(ack, self.snd_max):
            self._ack_now = True                   # acknowledges something never sent
            return False
        if seq.lt(ack, seq.add(self.snd_una, -self.max_snd_wnd)):
            self._challenge_ack(now)               # RFC 5961 5.2: older than any window we had
            return False
        window = segment.window << self.snd_wscale
        if seq.gt(ack, self.snd_una):
            self._ack_advance(ack, segment, now)
        elif ack == self.snd_una and not segment.payload and not segment.flags & FIN \
                and window == self.snd_wnd and self.snd_una != self.snd_max and self.state in SYNCHRONIZED:
            flight = seq.distance(self.snd_max, self.snd_una)
            if self.congestion.on_duplicate_ack(self.snd_una, self.snd_max, flight, now):
                self._retransmit_head = True
                self._rtt_seq = None
                self._begin_episode(now, timeout=False)
        if self.congestion.sack and (segment.sack_blocks or self.scoreboard.ranges or self._retransmit_head):
            self._on_sack_ack(segment, now)        # (skipped on the common ACK with nothing SACKed)
        if seq.le(self.snd_una, ack) and (seq.lt(self.snd_wl1, segment.seq) or (
                self.snd_wl1 == segment.seq and seq.le(self.snd_wl2, ack))):
            self.snd_wnd = window
            self.snd_wl1, self.snd_wl2 = segment.seq, ack
            self.max_snd_wnd = max(self.max_snd_wnd, window)
            if window:
                self._persist_at = None
                self._persist_backoff = 0
        self._persist_probes = 0
        if self.fin_sent and seq.gt(self.snd_una, self.fin_seq) and not self.fin_acked:
            self.fin_acked = True
            if self.state is State.FIN_WAIT_1:
                self.state = next_state(self.state, Trigger.RECV_ACK_OF_FIN)
                if self._user_closed:
                    self._fin_wait_2_at = now + self.settings.fin_wait2_timeout
            elif self.state is State.CLOSING:
                self.state = next_state(self.state, Trigger.RECV_ACK_OF_FIN)
                self._time_wait_at = now + self.settings.time_wait
                self._stop_retransmit_timers()
            elif self.state is State.LAST_ACK:
                self._enter_closed(Trigger.RECV_ACK_OF_FIN)
                return False
        return True

    def _ack_advance(self, ack: int, segment: Segment, now: float) -> None:
        removed = 0
        if seq.gt(ack, self._send_start):
            removed = min(seq.distance(ack, self._send_start), len(self._send))
            del self._send[:removed]
            self._send_start = seq.add(self._send_start, removed)
        if self._episode is not None:
            self._judge_episode(segment)
        self.snd_una = ack
        if seq.lt(self.snd_nxt, ack):
            self.snd_nxt = ack
        self._take_rtt_sample(ack, segment, now)
        self.retries = 0
        self._stalled_since = None
        flight_after = seq.distance(self.snd_max, self.snd_una)
        limited = self.congestion.cwnd < 2 * self._max_flight     # Linux's tcp_is_cwnd_limited
        if removed and self.congestion.on_new_ack(ack, removed, flight_after, now, self.rtt.srtt, limited) \
                and not self.congestion.sack:
            self._retransmit_head = True           # NewReno partial ACK: the next hole is lost too
            self._rtt_seq = None
        self._rto_at = None if self.snd_una == self.snd_max else now + self._rto()

    def _on_sack_ack(self, segment: Segment, now: float) -> None:
        """RFC 6675: fold the SACK blocks into the scoreboard; start recovery when the first
        unacknowledged byte IsLost even before three duplicate ACKs came (step 5 / 4)."""
        board = self.scoreboard
        if segment.sack_blocks:
            board.update(segment.sack_blocks, segment.ack, self.snd_una, self.snd_max)
        else:
            board.advance(self.snd_una)
        if self._retransmit_head:                  # recovery began on the third duplicate ACK
            board.high_rxt = self.snd_una
        elif board.resent and self.congestion.in_recovery:
            board.find_lost_retransmissions(self.snd_una, self.send_mss)
        elif not self.congestion.in_recovery and self.snd_una != self.snd_max \
                and (board.lost_edge(self.snd_una, self.send_mss) > 0 or (
                    not self.unsent and board.early_retransmit(self.snd_una, self.snd_max, self.send_mss))) \
                and self.congestion.enter_recovery(self.snd_una, self.snd_max,
                                                   seq.distance(self.snd_max, self.snd_una), now):
            board.high_rxt = self.snd_una
            self._retransmit_head = True
            self._rtt_seq = None
            self._begin_episode(now, timeout=False)

    def _begin_episode(self, now: float, *, timeout: bool) -> None:
        """A window reduction began: with timestamps, keep what undo.py needs to judge it (the first
        retransmission's TSval for the whole episode, when one reduction follows another)."""
        self.loss_episodes += 1
        if not self.ts_ok:
            self.congestion.prior = None
        elif self._episode is None:
            self._episode = LossEpisode(self._tsval(now), self.snd_una, timeout)
        else:
            self._episode.timeout |= timeout

    def _judge_episode(self, segment: Segment) -> None:
        """The first ACK to move SND.UNA since the reduction: undo it when the original got there."""
        episode, self._episode = self._episode, None
        if episode is None or not episode.spurious(segment.timestamp[1] if segment.timestamp else None):
            self.congestion.prior = None
            if episode is not None and not episode.timeout and self.congestion.dupthresh > DUPTHRESH:
                self.congestion.dupthresh = self.scoreboard.dupthresh = \
                    max(self.congestion.dupthresh // 2, DUPTHRESH)     # a real loss: trust the rule again
            return
        self.undone_episodes += 1
        self.congestion.undo()
        if episode.timeout:
            if seq.lt(self.snd_nxt, self.snd_max):
                self.snd_nxt = self.snd_max        # RFC 4015: go on with new data, not go-back-N
            return
        degree = reordering_degree(self.scoreboard.ranges, episode.head, self.send_mss) + 1
        if degree > self.congestion.dupthresh:
            self.congestion.dupthresh = self.scoreboard.dupthresh = degree

    def _take_rtt_sample(self, ack: int, segment: Segment, now: float) -> None:
        if self.ts_ok and segment.timestamp is not None and segment.timestamp[1]:
            echoed = segment.timestamp[1]
            if self._rto_tsval is not None:
                if seq.lt(echoed, self._rto_tsval):
                    return                         # echoes a send from before the timeout: its age counts
                                                   # the wait for the timer (or lost ACKs), not the path
                self._rto_tsval = None             # past it (and never compared across a wrap later)
            elapsed = seq.distance(self._tsval(now), echoed)
            if elapsed < seq.HALF:
                self.rtt.sample(elapsed / 1000)
                self.backoff = 0
            return
        if self._rtt_seq is not None and seq.gt(ack, self._rtt_seq):
            self.rtt.sample(now - self._rtt_time)
            self.backoff = 0
            self._rtt_seq = None

    def _accept_payload(self, segment: Segment, start: int, payload: bytes, now: float) -> None:
        if not payload:
            return
        if self.state not in CAN_RECEIVE_DATA:
            return                                  # RFC 9293: ignore text after the peer's FIN
        if self._user_closed:
            self.abort(now)                         # nobody will read it: Linux answers with RST
            return
        self._rcv_mss = max(self._rcv_mss, len(payload))
        if start != self.rcv_nxt:
            self._ooo.add(start, payload, self.rcv_nxt)
            self._ack_immediately(now)              # one duplicate ACK (with SACK) per segment
            return
        had_holes = len(self._ooo) > 0
        self._recv.append(payload)
        self.rcv_nxt = seq.add(self.rcv_nxt, len(payload))
        arrived = len(payload)
        if had_holes:
            more = self._ooo.pop_ready(self.rcv_nxt)
            self._recv.append(more)
            self.rcv_nxt = seq.add(self.rcv_nxt, len(more))
            arrived += len(more)
            self._ack_now = True
        self._events.append(DataReceived(arrived))
        self._unacked_bytes += arrived
        if self._peer_fin_seq is not None and self._peer_fin_seq == self.rcv_nxt:
            self._on_fin(now)
        else:
            self._acknowledge_data(now)

    def _acknowledge_data(self, now: float) -> None:
        """ACK in-order data at once or arm the delayed-ACK timer. As Linux: the first data of a
        connection, and data after a silence longer than the RTO, start quick-ACK mode (each
        segment acknowledged at once, up to 16, fewer for a small window) unless the exchange is
        interactive; otherwise every second full segment, or the timer."""
        last = self.last_data_received
        if not self._data_seen or last is None or now - last > self._rto():
            self._data_seen = True
            quick = min(max(self._receive_space() // (2 * self._rcv_mss), 2), MAX_QUICKACKS)
            self._quickacks = max(self._quickacks, quick)
        self.last_data_received = now
        if not self.settings.delayed_ack or self._unacked_bytes >= 2 * self._rcv_mss or \
                (self._quickacks and not self._pingpong):
            self._quickacks = max(self._quickacks - 1, 0)
            self._ack_now = True
        elif self._delack_at is None:
            self._delack_at = now + self.settings.delayed_ack

    def _on_fin(self, now: float) -> None:
        self.rcv_nxt = seq.add(self.rcv_nxt, 1)
        self._ack_now = True
        self._peer_fin_seq = None
        if not self.fin_received:
            self.fin_received = True
            self._events.append(PeerClosed())
        self.state = next_state(self.state, Trigger.RECV_FIN)
        if self.state is State.TIME_WAIT:
            self._time_wait_at = now + self.settings.time_wait
            self._stop_retransmit_timers()
            self._fin_wait_2_at = None

    # ================================================================ timers and output
    def poll(self, now: float) -> list[Segment]:
        """Run due timers, then return every segment that should leave now."""
        self._run_timers(now)
        out, self._replies = self._replies, []
        if self.state in (State.CLOSED, State.LISTEN):
            return out
        if not self._syn_acked:
            if self.snd_nxt == self.iss:
                flags = SYN | ACK if self._have_irs else SYN
                out.append(self._segment(flags, self.iss, now=now))
                self.snd_nxt = seq.add(self.iss, 1)
                self.snd_max = self.snd_nxt
                if self.retries == 0:
                    self._rtt_seq, self._rtt_time = self.iss, now
                if self._rto_at is None:
                    self._rto_at = now + self._rto()
            elif self._ack_now and self._have_irs:
                out.append(self._segment(ACK, self._ack_seq(), now=now))
            return out
        self._pipe = None
        unsent = seq.delta(self.snd_max, self._send_start) < len(self._send)
        data_waiting = unsent or self._force_head or self.snd_nxt != self.snd_max \
            or (self.fin_queued and not self.fin_sent)
        if not (data_waiting or self._ack_now or self._retransmit_head or self._send_probe
                or self.congestion.in_recovery):
            self._persist_at = None                 # nothing waits to be sent (as _arm_persist)
            return out                              # the common poll: no segment to build
        if self.congestion.sack and self.congestion.in_recovery:
            out += self._sack_retransmissions(now)
        if self._retransmit_head:
            self._retransmit_head = False
            segment = self._retransmission_at_una(now)
            if segment is not None:
                out.append(segment)
        if self._send_probe:
            self._send_probe = False
            out.append(self._segment(ACK, seq.add(self.snd_una, -1), now=now))
        last = None
        while data_waiting and (segment := self._next_data_segment(now)) is not None:
            out.append(segment)
            last = segment
        if last is not None and last.payload and not last.flags & PSH and self._window_stopped(last):
            last.flags |= PSH                       # as Linux: a burst cut by cwnd or rwnd ends with PSH
        if self._ack_now:
            out.append(self._segment(ACK, self._ack_seq(), now=now))
        self._arm_persist(now)
        return out

    def _window_stopped(self, last: Segment) -> bool:
        """Whether the burst that ended with `last` (new data) stopped for want of window, not
        because Nagle or sender SWS avoidance held back a small tail."""
        if self._pipe is not None or seq.add(last.seq, len(last.payload)) != self.snd_max:
            return False
        unsent = len(self._send) - max(seq.delta(self.snd_nxt, self._send_start), 0)
        in_flight = seq.distance(self.snd_nxt, self.snd_una)
        return unsent > 0 and min(self.snd_wnd, self.congestion.cwnd) - in_flight < min(unsent, self.send_mss)

    def _run_timers(self, now: float) -> None:
        if self._time_wait_at is not None and now >= self._time_wait_at:
            self._time_wait_at = None
            self._enter_closed(Trigger.TIME_WAIT_EXPIRED)
            return
        if self._fin_wait_2_at is not None and now >= self._fin_wait_2_at:
            self._fin_wait_2_at = None
            if self.state is State.FIN_WAIT_2:
                self._enter_closed(Trigger.FIN_WAIT_2_EXPIRED)
                return
        if self._rto_at is not None and now >= self._rto_at:
            self._rto_at = None
            self._on_retransmission_timeout(now)
            if self.state is State.CLOSED:
                return
        if self._persist_at is not None and now >= self._persist_at:
            self._persist_at = None
            self._persist_probes += 1
            if self._persist_probes > self.settings.max_retries:
                self._fail(TimedOut("zero-window probes unanswered"), Trigger.TIMEOUT)
                return
            self._send_probe = True
            self._persist_backoff += 1
        keepalive_at = self._keepalive_deadline()
        if keepalive_at is not None and now >= keepalive_at:
            self._on_keepalive(now)
            if self.state is State.CLOSED:
                return
        if self._delack_at is not None and now >= self._delack_at:
            self._delack_at = None
            self._ack_now = True
            self._pingpong = False                  # as Linux: a delayed ACK that fired ends it

    def _on_retransmission_timeout(self, now: float) -> None:
        self.retries += 1
        if self._syn_acked or self.passive or self.retries > self.settings.syn_linear_timeouts:
            self.backoff += 1                       # Linux keeps a SYN's first retries 1 RTO apart
        if not self._syn_acked:
            limit = self.settings.synack_retries if self.passive else self.settings.syn_retries
            if self.retries > limit:
                self._fail(TimedOut("handshake" if self.passive else "connect"), Trigger.TIMEOUT)
                return
            self.snd_nxt = self.iss
            self._rtt_seq = None
            return
        if self.snd_una == self.snd_max:
            return
        if self._stalled_since is None:            # the RTO that just ran out started at its sending
            self._stalled_since = now - self.rtt.rto * (1 << max(self.backoff - 1, 0))
        user_timeout = self.settings.user_timeout
        if self.retries > self.settings.max_retries or \
                (user_timeout and now - self._stalled_since >= user_timeout):
            self._fail(TimedOut("retransmissions"), Trigger.TIMEOUT)
            return
        self.congestion.on_timeout(seq.distance(self.snd_max, self.snd_una), self.snd_max, now)
        self._begin_episode(now, timeout=True)
        self._rto_tsval = self._tsval(now)
        self.scoreboard.clear(self.snd_una)
        self.snd_nxt = self.snd_una                # go back: resend from the first unacknowledged byte
        self._rtt_seq = None
        self._retransmit_head = False
        self._force_head = True                    # even into a zero window: the ACK brings news
        self._rto_at = now + self._rto()
        if user_timeout:                           # as Linux: the timer fires when the user timeout ends
            self._rto_at = min(self._rto_at, self._stalled_since + user_timeout)

    def _keepalive_deadline(self) -> float | None:
        if not self.settings.keepalive or self.state not in (State.ESTABLISHED, State.CLOSE_WAIT):
            return None
        if self._keepalive_probes == 0:
            return self._last_heard + self.settings.keepalive_idle
        return self._keepalive_probe_at + self.settings.keepalive_interval

    def _on_keepalive(self, now: float) -> None:
        if self.snd_una != self.snd_max or self.unsent:
            self._last_heard = now                 # the retransmission timer watches the peer already
            self._keepalive_probes = 0
            return
        if self._keepalive_probes >= self.settings.keepalive_count:
            self._replies.append(self._segment(RST | ACK, self.snd_max, now=now))
            self._fail(TimedOut("keepalive"), Trigger.TIMEOUT)
            return
        self._keepalive_probes += 1
        self._keepalive_probe_at = now
        self._send_probe = True

    def _arm_persist(self, now: float) -> None:
        waiting = self.unsent > 0 or (self.fin_queued and not self.fin_sent)
        if self.snd_wnd == 0 and waiting and self.snd_una == self.snd_max and self.state in SYNCHRONIZED:
            if self._persist_at is None:
                interval = min(self.rtt.rto * (1 << min(self._persist_backoff, 16)), MAX_PERSIST_INTERVAL)
                self._persist_at = now + interval
        else:
            self._persist_at = None

    def _next_data_segment(self, now: float) -> Segment | None:
        if self.state not in (State.ESTABLISHED, State.CLOSE_WAIT, State.FIN_WAIT_1, State.CLOSING,
                              State.LAST_ACK):
            return None
        offset = max(seq.delta(self.snd_nxt, self._send_start), 0)
        unsent = max(len(self._send) - offset, 0)
        in_flight = seq.distance(self.snd_nxt, self.snd_una)
        if unsent and not in_flight and self.settings.slow_start_after_idle \
                and now - self._last_data_sent > self._rto():
            self.congestion.restart_after_idle(self.settings.initial_window)
        usable = min(self.snd_wnd, self.congestion.cwnd) - in_flight
        if self._pipe is not None:                 # SACK recovery: the pipe, not SND.NXT, fills cwnd
            usable = min(self.snd_wnd - in_flight, self.congestion.cwnd - self._pipe)
        elif self.scoreboard.ranges:               # SACKed bytes left the network: new data may take
            sacked = self.scoreboard.sacked_below(self.snd_una, in_flight)    # their place (RFC 3042
            usable = min(self.snd_wnd - in_flight, self.congestion.cwnd - in_flight + sacked)   # as Linux)
        if self._force_head:                       # after an RTO the head goes out whatever the window,
            self._force_head = False               # but only bytes that were sent before
            usable = max(usable, min(self.send_mss, seq.distance(self.snd_max, self.snd_nxt)))
        length = max(min(unsent, usable, self.send_mss), 0)
        if length == self.send_mss and self.offload_bytes > length and self._pipe is None \
                and self.snd_nxt == self.snd_max:          # new data: whole segments in one, cut by the link
            length = min(unsent, usable, self.offload_bytes) // length * length
        fin_now = self.fin_queued and seq.add(self.snd_nxt, length) == self.fin_seq and length == unsent \
            and (usable > 0 or self.snd_wnd > 0 or length > 0)
        if length == 0 and not fin_now:
            return None
        retransmission = seq.lt(self.snd_nxt, self.snd_max)
        if length < self.send_mss and not retransmission and not fin_now:
            if length == unsent:
                if not self.settings.nodelay and seq.gt(self._small_end, self.snd_una):
                    return None                     # Nagle, Minshall's form (as Linux): one small
                                                    # segment unacknowledged at a time
            elif length < self.max_snd_wnd // 2 and in_flight:
                return None                         # sender SWS avoidance: wait for a useful window
        flags = ACK | (FIN if fin_now else 0)
        if length and length == unsent:
            flags |= PSH
        payload = bytes(self._send[offset:offset + length])
        segment = self._segment(flags, self.snd_nxt, payload, now=now)
        if retransmission:
            if self._rtt_seq is not None and seq.in_window(self._rtt_seq, self.snd_nxt, length + 1):
                self._rtt_seq = None                # Karn: no sample from a retransmitted byte
        elif self._rtt_seq is None and not self.ts_ok:
            self._rtt_seq, self._rtt_time = self.snd_nxt, now
        last = self.last_data_received
        if length and not retransmission and self._data_seen and last is not None \
                and now - last < self.settings.delayed_ack:
            self._pingpong = True                   # data answering data: interactive, delay ACKs
        self.snd_nxt = seq.add(self.snd_nxt, length + (1 if fin_now else 0))
        if seq.gt(self.snd_nxt, self.snd_max):
            self.snd_max = self.snd_nxt
        if fin_now:
            self.fin_sent = True
        if 0 < length < self.send_mss:
            self._small_end = self.snd_nxt
        if self._pipe is not None:
            self._pipe += length
        flight = seq.distance(self.snd_nxt, self.snd_una)  # Linux's max_packets_out, per window of data
        if flight > self._max_flight or not seq.lt(self.snd_una, self._max_flight_seq):
            self._max_flight, self._max_flight_seq = flight, self.snd_nxt
        self._last_data_sent = now
        if self._rto_at is None:
            self._rto_at = now + self._rto()
        return segment

    def _sack_retransmissions(self, now: float) -> list[Segment]:
        """RFC 6675 (C): while cwnd has room past the pipe, resend lost holes (NextSeg rule 1); holes
        merely below SACKed data (rule 3) only when no new data waits (rule 2 goes first). The head
        goes once regardless of the pipe when recovery starts (4.3). Leaves the pipe in `_pipe`."""
        board, mss, out = self.scoreboard, self.send_mss, []
        force, self._retransmit_head = self._retransmit_head, False
        pipe = board.pipe(self.snd_una, self.snd_max, mss)
        while force or self.congestion.cwnd - pipe >= mss:
            if force:
                first = board.ranges[0][0] if board.ranges else self.snd_max
                hole: tuple[int, int] | None = (self.snd_una, min(mss, seq.distance(first, self.snd_una)))
                force = False
            elif board.relost:                     # a retransmission was lost: it goes first
                start, end = board.relost.pop(0)
                start = start if seq.gt(start, self.snd_una) else self.snd_una
                hole = (start, min(mss, seq.distance(end, start))) if seq.lt(start, end) else None
                if hole is None:
                    continue
            else:
                hole = board.next_hole(self.snd_una, self.snd_max, mss, lost_only=True)
                if hole is None and not self.unsent:
                    hole = board.next_hole(self.snd_una, self.snd_max, mss, lost_only=False)
            segment = self._resend(*hole, now) if hole is not None else None
            if hole is None or segment is None:
                break
            out.append(segment)
            end = seq.add(hole[0], hole[1])
            board.resent.append((hole[0], end, self.snd_max))
            if seq.gt(end, board.high_rxt):
                board.high_rxt = end
            pipe += hole[1]
            if self._rtt_seq is not None and seq.in_window(self._rtt_seq, hole[0], hole[1]):
                self._rtt_seq = None                # Karn
        if out and self._rto_at is None:
            self._rto_at = now + self._rto()
        self._pipe = pipe
        return out

    def _resend(self, start: int, length: int, now: float) -> Segment | None:
        """A retransmission of [start, start + length) from the send buffer (with the FIN if it is there)."""
        offset = max(seq.delta(start, self._send_start), 0)
        payload = bytes(self._send[offset:offset + length])
        fin = self.fin_sent and seq.add(start, len(payload)) == self.fin_seq and len(payload) < length
        if not payload and not fin:
            return None
        last = bool(payload) and offset + len(payload) == len(self._send)
        return self._segment(ACK | (FIN if fin else 0) | (PSH if last else 0), start, payload, now=now)

    def _retransmission_at_una(self, now: float) -> Segment | None:
        offset = max(seq.delta(self.snd_una, self._send_start), 0)
        sent = seq.distance(self.snd_max, self.snd_una)     # never more than went out before
        length = max(min(self.send_mss, len(self._send) - offset, sent), 0)
        fin = self.fin_sent and seq.add(self.snd_una, length) == self.fin_seq
        if length == 0 and not fin:
            return None
        flags = ACK | (FIN if fin else 0) | (PSH if length and offset + length == len(self._send) else 0)
        return self._segment(flags, self.snd_una, bytes(self._send[offset:offset + length]), now=now)

    # ================================================================ building segments
    def _segment(self, flags: int, sequence: int, payload: bytes = b"", *, now: float) -> Segment:
        segment = Segment(self.local[1], self.remote[1], sequence, 0, flags, 0, payload)
        if flags & SYN:
            segment.window = min(self._receive_space(), 0xFFFF)
            segment.mss = self.settings.mss
            if self._offered_wscale is not None:
                segment.wscale = self._offered_wscale
            segment.sack_permitted = self.settings.sack and (not self.passive or self.sack_ok)
            if self.settings.timestamps and (not self.passive or self.ts_ok):
                segment.timestamp = (self._tsval(now), self.ts_recent or 0)
        else:
            if not flags & RST or flags & ACK:
                segment.window = self._advertise()
            if self.ts_ok and not flags & RST:
                segment.timestamp = (self._tsval(now), self.ts_recent or 0)
            if self.sack_ok and self._ooo.ranges and not flags & RST:
                segment.sack_blocks = self._ooo.sack_blocks(3 if self.ts_ok else 4)
        if flags & ACK:
            segment.ack = self.rcv_nxt
            self.last_ack_sent = self.rcv_nxt
            self._ack_now = False
            self._delack_at = None
            self._unacked_bytes = 0
        return segment

    def _ack_seq(self) -> int:
        """Sequence number for a segment without data: SND.MAX (BSD), so a go-back retransmission
        cannot pull it behind the peer's RCV.NXT, but never past the peer's window edge (Linux's
        tcp_acceptable_seq), so a closed window still accepts it. Both prevent ACK ping-pong."""
        edge = seq.add(self.snd_una, self.snd_wnd)
        return self.snd_max if seq.le(self.snd_max, edge) else edge

    def _ack_immediately(self, now: float) -> None:
        """Build the ACK now rather than at `poll`: a stack that feeds a burst of segments before
        polling must still emit one duplicate ACK per segment, or fast retransmit never triggers."""
        self._replies.append(self._segment(ACK, self._ack_seq(), now=now))

    def _tsval(self, now: float) -> int:
        return (int(now * 1000) + self._ts_offset) & seq.MASK

    def _receive_space(self) -> int:
        return max(self.settings.receive_buffer_size - len(self._recv), 0)

    def _advertised_space(self) -> int:
        return max(seq.delta(self.rcv_adv, self.rcv_nxt), 0)

    def _advertise(self) -> int:
        """Window field for an outgoing segment, with receiver-side SWS avoidance (RFC 9293 3.8.6.2.2)."""
        edge = seq.add(self.rcv_nxt, self._receive_space())
        growth = seq.delta(edge, self.rcv_adv)
        threshold = min(self.settings.receive_buffer_size // 2, self._rcv_mss)
        if growth >= threshold or (growth > 0 and self._receive_space() == self.settings.receive_buffer_size):
            self.rcv_adv = edge
        return min(self._advertised_space() >> self.rcv_wscale, 0xFFFF)

    def _rto(self) -> float:
        return min(self.rtt.rto * (1 << min(self.backoff, 30)), self.settings.max_rto)

    # ================================================================ state helpers
    def _start(self, now: float) -> None:
        self.iss = initial_sequence(self.secret, self.local, self.remote, now)
        self.snd_una = self.snd_nxt = self.snd_max = self._small_end = self.iss
        self._send_start = seq.add(self.iss, 1)
        self._ts_offset = timestamp_offset(self.secret, self.local, self.remote)
        self._last_heard = self._last_data_sent = now

    def _take_peer_syn(self, syn: Segment, now: float) -> None:
        """Record the peer's ISN and negotiate MSS, window scale, SACK and timestamps from its SYN."""
        self.irs = syn.seq
        self.rcv_nxt = seq.add(syn.seq, 1)
        self._have_irs = True
        settings = self.settings
        if self.passive:
            self._offered_wscale = self._our_wscale() if settings.window_scaling and syn.wscale is not None \
                else None
            self.sack_ok = settings.sack and syn.sack_permitted
            self.ts_ok = settings.timestamps and syn.timestamp is not None
        else:
            self.sack_ok = settings.sack and syn.sack_permitted
            self.ts_ok = settings.timestamps and syn.timestamp is not None
        if self._offered_wscale is not None and syn.wscale is not None:
            self.snd_wscale = min(syn.wscale, MAX_WSCALE)
            self.rcv_wscale = self._offered_wscale
        else:
            self.snd_wscale = self.rcv_wscale = 0
            self._offered_wscale = None if self.passive else self._offered_wscale
        if self.ts_ok and syn.timestamp is not None:
            self.ts_recent, self.ts_recent_at = syn.timestamp[0], now
        peer_mss = syn.mss if syn.mss else DEFAULT_MSS
        self.send_mss = max(min(peer_mss, settings.mss) - (TIMESTAMP_OVERHEAD if self.ts_ok else 0), 64)
        self._rcv_mss = max(min(settings.mss, peer_mss) - (TIMESTAMP_OVERHEAD if self.ts_ok else 0), 64)
        self.congestion.set_mss(self.send_mss, settings.initial_window)
        self.congestion.sack = self.sack_ok
        self.snd_wnd = syn.window                   # the window in a SYN is never scaled
        self.max_snd_wnd = syn.window
        self.snd_wl1, self.snd_wl2 = syn.seq, syn.ack
        self.rcv_adv = seq.add(self.rcv_nxt, self._receive_space())
        self._last_heard = now

    def _our_wscale(self) -> int:
        if self.settings.window_scale is not None:
            return min(self.settings.window_scale, MAX_WSCALE)
        return window_scale_for(self.settings.receive_buffer_size)

    def _handshake_acked(self, segment: Segment, now: float) -> None:
        """Our SYN is acknowledged: ESTABLISHED bookkeeping, RTT from the SYN if it was not resent."""
        had_retries = self.retries > 0
        self._take_rtt_sample(segment.ack, segment, now)
        if had_retries and self.rtt.srtt is None:
            self.rtt.rto = max(self.rtt.rto, RTO_AFTER_LOST_SYN)
        self._syn_acked = True
        self.snd_una = segment.ack
        self.snd_nxt = self.snd_max = segment.ack
        self.retries = self.backoff = 0
        self._rto_at = None
        self._rtt_seq = None
        if not segment.syn:
            self.snd_wnd = segment.window << self.snd_wscale
            self.max_snd_wnd = max(self.max_snd_wnd, self.snd_wnd)
        self.snd_wl1, self.snd_wl2 = segment.seq, segment.ack
        self.last_data_received = now
        self._events.append(Connected())

    def _queue_fin(self) -> None:
        self.fin_queued = True
        self.fin_seq = seq.add(self._send_start, len(self._send))

    def _stop_retransmit_timers(self) -> None:
        self._rto_at = self._persist_at = None

    def _fail(self, event: Event, trigger: Trigger) -> None:
        self.error = event
        self._events.append(event)
        self._enter_closed(trigger)

    def _enter_closed(self, trigger: Trigger) -> None:
        self.state = next_state(self.state, trigger)
        self._rto_at = self._delack_at = self._persist_at = self._time_wait_at = self._fin_wait_2_at = None
        self._ack_now = self._retransmit_head = self._send_probe = False
        self._send.clear()
        self._ooo.clear()
        self._events.append(Closed())

    def __repr__(self) -> str:
        return (f"<Connection {self.local[0]}:{self.local[1]} > {self.remote[0]}:{self.remote[1]} "
                f"{self.state.value} una={self.snd_una} nxt={self.snd_nxt} rcv_nxt={self.rcv_nxt}>")

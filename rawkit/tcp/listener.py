"""A listening port: turns SYNs into connections, with a bounded backlog (accept queue).

Like Linux, a SYN that finds the accept queue full is dropped silently, so the client retries it
later. When the SYN queue (half-open connections) is full the SYN is answered statelessly with a
SYN cookie (syncookies.py), so a flood of spoofed SYNs costs no memory and real clients still get
in; with `syncookies` off such SYNs are dropped too. A stray ACK to the port is answered with a RST,
unless it returns a cookie we sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rawkit.tcp import seq, syncookies
from rawkit.tcp.connection import Connection, window_scale_for
from rawkit.tcp.isn import Endpoint, timestamp_offset
from rawkit.tcp.reset import reset_for
from rawkit.tcp.segment import ACK, SYN, Segment
from rawkit.tcp.settings import Settings
from rawkit.tcp.states import State

RECOUNT_INTERVAL = 0.001


@dataclass(slots=True)
class ListenResult:
    """What a segment to a listener produced: a new connection to register (it sends its own SYN-ACK
    from `poll`) and/or replies to send now (a RST)."""

    connection: Connection | None = None
    replies: list[Segment] = field(default_factory=list)


class Listener:
    __slots__ = ("port", "backlog", "syn_backlog", "settings", "secret", "_pending", "dropped_syns", "state",
                 "syncookies", "cookies_sent", "cookies_accepted", "_cookie_sent_at", "_counts",
                 "_counted_at")

    def __init__(self, port: int, backlog: int = 128, settings: Settings | None = None, secret: bytes = b"",
                 syn_backlog: int = 256, syncookies: bool = True) -> None:
        self.port = port
        self.backlog = backlog
        self.syn_backlog = syn_backlog
        self.settings = settings if settings is not None else Settings()
        self.secret = secret
        self._pending: list[Connection] = []     # half-open and ready-but-not-accepted, oldest first
        self.dropped_syns = 0
        self.state = State.LISTEN
        self.syncookies = syncookies             # Linux's tcp_syncookies=1: only when the SYN queue overflows
        self.cookies_sent = self.cookies_accepted = 0
        self._cookie_sent_at: float | None = None
        self._counts = (0, 0)                    # (half-open, ready) as of _counted_at
        self._counted_at: float | None = None

    def receive(self, segment: Segment, now: float, local: Endpoint, remote: Endpoint) -> ListenResult:
        """A segment for our port that matched no connection (RFC 9293 3.10.7.2, state LISTEN)."""
        if segment.rst or self.state is not State.LISTEN:
            return ListenResult()
        if segment.has_ack:
            if not segment.syn and self._cookie_sent_at is not None \
                    and now - self._cookie_sent_at <= syncookies.MAX_AGE * syncookies.SLOT_SECONDS:
                connection = self._from_cookie(segment, now, local, remote)
                if connection is not None:
                    return ListenResult(connection=connection)
            reply = reset_for(segment)
            return ListenResult(replies=[reply] if reply else [])
        if not segment.syn:
            return ListenResult()
        half_open, ready = self._queue_counts(now)
        if ready >= self.backlog or (half_open >= self.syn_backlog and not self.syncookies):
            self.dropped_syns += 1
            return ListenResult()
        if half_open >= self.syn_backlog:
            return ListenResult(replies=[self._cookie_syn_ack(segment, now, local, remote)])
        connection = Connection.from_syn(segment, now, local, remote, self.settings.copy(), self.secret)
        self._pending.append(connection)
        self._counts = (half_open + 1, ready)
        return ListenResult(connection=connection)

    def _queue_counts(self, now: float) -> tuple[int, int]:
        """(half-open, ready) connections. Under a SYN flood this runs for every SYN, so the queue is
        rescanned at most once per millisecond; in between a connection that just completed its
        handshake still counts as half-open, which at worst sends one more SYN a cookie."""
        if self._counted_at is None or not 0 <= now - self._counted_at < RECOUNT_INTERVAL:
            self._prune()
            half_open = sum(1 for c in self._pending if c.state is State.SYN_RECEIVED)
            self._counts = (half_open, len(self._pending) - half_open)
            self._counted_at = now
        return self._counts

    def _cookie_syn_ack(self, syn: Segment, now: float, local: Endpoint, remote: Endpoint) -> Segment:
        """The stateless SYN-ACK: ISN from the cookie, options only as far as they can be remembered."""
        settings = self.settings
        self.cookies_sent += 1
        self._cookie_sent_at = now
        iss = syncookies.make_cookie(self.secret, local, remote, syn.seq, syn.mss or 536, now)
        reply = Segment(self.port, syn.sport, iss, seq.add(syn.seq, 1), SYN | ACK,
                        min(settings.receive_buffer_size, 0xFFFF), mss=settings.mss)
        if settings.timestamps and syn.timestamp is not None:
            wscale = syn.wscale if settings.window_scaling else None
            sack = settings.sack and syn.sack_permitted
            tsval = seq.add(int(now * 1000), timestamp_offset(self.secret, local, remote))
            reply.timestamp = (syncookies.encode_options(tsval, wscale, sack), syn.timestamp[0])
            reply.sack_permitted = sack
            if wscale is not None:
                reply.wscale = settings.window_scale if settings.window_scale is not None \
                    else window_scale_for(settings.receive_buffer_size)
        return reply

    def _from_cookie(self, ack: Segment, now: float, local: Endpoint, remote: Endpoint) -> Connection | None:
        """The connection an ACK returning a valid cookie stands for, or None (then it is a stray ACK)."""
        half_open, ready = self._queue_counts(now)
        if ready >= self.backlog:
            return None
        peer_isn, iss = seq.add(ack.seq, -1), seq.add(ack.ack, -1)
        mss = syncookies.check_cookie(self.secret, local, remote, peer_isn, iss, now)
        if mss is None:
            return None
        syn = Segment(ack.sport, ack.dport, peer_isn, 0, SYN, 0, mss=mss)
        if ack.timestamp is not None and self.settings.timestamps:
            syn.wscale, syn.sack_permitted = syncookies.decode_options(ack.timestamp[1])
            syn.timestamp = (ack.timestamp[0], 0)
            ack = replace(ack, timestamp=(ack.timestamp[0], 0))   # TSecr held options, not a time
        connection = Connection.from_cookie(syn, ack, iss, now, local, remote, self.settings.copy(),
                                            self.secret)
        if connection.state is State.CLOSED:
            return None
        self.cookies_accepted += 1
        self._pending.append(connection)
        self._counts = (half_open, ready + 1)
        return connection

    @property
    def ready(self) -> int:
        """Connections that completed the handshake and wait for `accept`."""
        return sum(1 for c in self._pending if c.state not in (State.SYN_RECEIVED, State.CLOSED))

    def accept(self) -> Connection | None:
        """The oldest connection that finished its handshake, or None (EAGAIN)."""
        self._prune()
        for connection in self._pending:
            if connection.state is not State.SYN_RECEIVED:
                self._pending.remove(connection)
                return connection
        return None

    def close(self, now: float) -> list[Connection]:
        """Stop listening; every connection not yet accepted is aborted (RST) and returned so the
        stack can `poll` their resets out."""
        self.state = State.CLOSED
        pending, self._pending = self._pending, []
        for connection in pending:
            connection.abort(now)
        return pending

    def _prune(self) -> None:
        self._pending = [c for c in self._pending if c.state is not State.CLOSED]

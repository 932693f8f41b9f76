"""SYN cookies: answering SYNs without keeping state when the listener's SYN queue is full.

Spoofed SYNs never complete the handshake, so each one held as a half-open connection is memory an
attacker fills for free. Past the queue's bound the listener instead encodes what it must remember
into the SYN-ACK's sequence number and forgets the SYN; the peer's ACK (acknowledging cookie + 1)
brings it back, and a keyed hash proves it came from us and from a SYN by that peer:

    bits 31-27  time slot (64 s each, modulo 32): a cookie is honoured for at most MAX_AGE slots
    bits 26-24  index into MSS_TABLE: the largest entry not above the peer's MSS
    bits 23-0   keyed BLAKE2s of (addresses, ports, the peer's ISN, full slot number, MSS index)

A 24-bit MAC means a blind attacker's forged ACK is accepted once in 2**24 tries. What does not fit
is window scale and SACK-permitted; when the peer uses timestamps they ride in the low six bits of
our TSval (echoed back in TSecr), otherwise the connection goes without them, as Linux's do.
"""

from __future__ import annotations

import hashlib

from rawkit.tcp import seq
from rawkit.tcp.isn import Endpoint

MSS_TABLE = (88, 536, 1220, 1300, 1380, 1440, 1460, 8960)
SLOT_SECONDS = 64.0
MAX_AGE = 2                       # slots: a cookie lives between 128 and 192 seconds
_SLOT_BITS, _MSS_BITS, _MAC_BITS = 5, 3, 24
OPTION_BITS = 6                   # TSval bits 0-3: window scale (15 = none), bit 4: SACK-permitted
_NO_WSCALE = 0xF
_SACK_BIT = 0x10


def _slot(now: float) -> int:
    return int(now // SLOT_SECONDS)


def _mac(secret: bytes, local: Endpoint, remote: Endpoint, peer_isn: int, slot: int, mss_index: int) -> int:
    text = f"{local[0]}|{local[1]}|{remote[0]}|{remote[1]}|{peer_isn}|{slot}|{mss_index}".encode()
    digest = hashlib.blake2s(b"syncookie" + text, key=secret[:32], digest_size=4).digest()
    return int.from_bytes(digest, "big") & ((1 << _MAC_BITS) - 1)


def make_cookie(secret: bytes, local: Endpoint, remote: Endpoint, peer_isn: int, peer_mss: int,
                now: float) -> int:
    """The ISN for a stateless SYN-ACK answering a SYN with sequence `peer_isn` and MSS `peer_mss`."""
    mss_index = max(index for index, mss in enumerate(MSS_TABLE) if mss <= peer_mss or index == 0)
    slot = _slot(now)
    return ((slot & ((1 << _SLOT_BITS) - 1)) << (_MSS_BITS + _MAC_BITS) | mss_index << _MAC_BITS
            | _mac(secret, local, remote, peer_isn, slot, mss_index))


def check_cookie(secret: bytes, local: Endpoint, remote: Endpoint, peer_isn: int, cookie: int,
                 now: float) -> int | None:
    """The MSS the cookie remembers when it is ours, for this peer and ISN, and recent; else None."""
    stamp = cookie >> (_MSS_BITS + _MAC_BITS)
    mss_index = cookie >> _MAC_BITS & ((1 << _MSS_BITS) - 1)
    current = _slot(now)
    for age in range(MAX_AGE + 1):
        slot = current - age
        if slot & ((1 << _SLOT_BITS) - 1) == stamp:
            if _mac(secret, local, remote, peer_isn, slot, mss_index) == cookie & ((1 << _MAC_BITS) - 1):
                return MSS_TABLE[mss_index]
            return None
    return None


def encode_options(tsval: int, wscale: int | None, sack: bool) -> int:
    """Our SYN-ACK's TSval carrying the peer's window scale and SACK-permitted in its low bits. It is
    moved back rather than forward so later TSvals never look older to the peer's PAWS."""
    bits = (_NO_WSCALE if wscale is None else min(wscale, 14)) | (_SACK_BIT if sack else 0)
    stamped = (tsval & ~((1 << OPTION_BITS) - 1) & seq.MASK) | bits
    return seq.add(stamped, -(1 << OPTION_BITS)) if seq.gt(stamped, tsval) else stamped


def decode_options(tsecr: int) -> tuple[int | None, bool]:
    """(window scale or None, SACK-permitted) from the TSecr of the ACK that returned a cookie."""
    wscale = tsecr & _NO_WSCALE
    return (None if wscale == _NO_WSCALE else wscale), bool(tsecr & _SACK_BIT)

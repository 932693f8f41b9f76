"""Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret), M a 4-microsecond clock.

A keyed hash makes ISNs unguessable from outside while two connections with the same 4-tuple still
get increasing ISNs over time. The same construction gives per-connection timestamp offsets (RFC 7323
section 7.1), so TSval does not reveal uptime or link connections together.
"""

from __future__ import annotations

import hashlib

from rawkit.tcp.seq import MASK

Endpoint = tuple[str, int]


def _keyed(secret: bytes, label: bytes, local: Endpoint, remote: Endpoint) -> int:
    text = f"{local[0]}|{local[1]}|{remote[0]}|{remote[1]}".encode()
    digest = hashlib.blake2s(label + text, key=secret[:32], digest_size=4).digest()
    return int.from_bytes(digest, "big")


def initial_sequence(secret: bytes, local: Endpoint, remote: Endpoint, now: float) -> int:
    """RFC 6528 ISN for the connection local -> remote at time `now` (seconds)."""
    return (int(now * 250_000) + _keyed(secret, b"isn", local, remote)) & MASK


def timestamp_offset(secret: bytes, local: Endpoint, remote: Endpoint) -> int:
    """Random-looking but stable offset added to the millisecond clock for TSval."""
    return _keyed(secret, b"ts", local, remote)

"""Sequence-number arithmetic modulo 2**32 (RFC 9293 section 3.4).

Sequence numbers wrap, so "before" and "after" only make sense within half the number space;
every comparison in the engine goes through these helpers so wrap-around is handled in one place.
"""

from __future__ import annotations

MODULUS = 1 << 32
MASK = MODULUS - 1
HALF = 1 << 31


def add(seq: int, count: int) -> int:
    """`seq` advanced by `count` octets (count may be negative)."""
    return (seq + count) & MASK


def distance(later: int, earlier: int) -> int:
    """Octets from `earlier` forward to `later`, in 0..2**32-1."""
    return (later - earlier) & MASK


def delta(a: int, b: int) -> int:
    """Signed difference a - b in -2**31..2**31-1: positive when `a` is after `b`."""
    value = (a - b) & MASK
    return value - MODULUS if value >= HALF else value


def lt(a: int, b: int) -> bool:
    """`a` comes before `b`."""
    return 0 < ((b - a) & MASK) < HALF


def le(a: int, b: int) -> bool:
    return a == b or lt(a, b)


def gt(a: int, b: int) -> bool:
    return lt(b, a)


def ge(a: int, b: int) -> bool:
    return a == b or lt(b, a)


def in_window(seq: int, start: int, size: int) -> bool:
    """start <= seq < start + size, modulo 2**32."""
    return ((seq - start) & MASK) < size


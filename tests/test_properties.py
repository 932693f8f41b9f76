"""Decoding never raises, whatever the bytes: random frames and valid frames mutated (bit flips,
truncation at every length, length fields rewritten, the wrong link type), over every link type,
with EVERY public attribute, property and method of every layer touched (options, checksum_ok,
quoted ICMP packets, builders, errors, payload).

Two drivers: a plain seeded loop over 100k frames (reproducible, fast: ten seeded chunks of 10k, two
processes at a time, one per core) and hypothesis (shrinks a failure to a small frame).
"""

from __future__ import annotations

import multiprocessing
import random
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

import rawkit
from tests import wire_frames

LINK_TYPES = wire_frames.LINK_TYPES + (12, 14, 999)  # 999: a link type rawkit does not know
# arguments for the public methods that take some
METHOD_ARGUMENTS = {"option": ("MSS",), "pseudo_header_sum": (6, 20)}
SKIPPED = {"summary"}  # slow (a tcpdump line): its own test below, on fewer frames


SCALARS = frozenset((int, str, bytes, float, bool, type(None)))


@cache
def _plan(kind: type) -> tuple[tuple[str, tuple | None], ...]:
    """(name, arguments) for every public attribute of a class; arguments None: read, not call."""
    plan = []
    for name in dir(kind):
        if name.startswith("_") or name in SKIPPED or isinstance(kind.__dict__.get(name), staticmethod):
            continue
        member = getattr(kind, name)
        method = callable(member) and not isinstance(member, property | type)
        plan.append((name, METHOD_ARGUMENTS.get(name, ()) if method else None))
    return tuple(plan)


def touch(value: object, depth: int = 0, record: list | None = None) -> int:
    """Read every public attribute of `value`, call every public method, recurse into views, lists and
    quoted packets, build what builders return. Returns how many things were touched; with `record`,
    also appends every value read (in a fixed order), so two decodings can be compared whole."""
    kind = type(value)
    if kind in SCALARS or isinstance(value, int | str | bytes | float) or depth > 6:
        if record is not None:
            record.append(value)
        return 1
    if isinstance(value, list | tuple):
        return sum(touch(item, depth + 1, record) for item in value)
    if isinstance(value, rawkit.Layer):
        built = bytes(value)  # a builder from a view must always build
        if record is not None:
            record.append(built)
        return 1
    touched = 0
    is_packet = isinstance(value, rawkit.Packet)
    for name, arguments in _plan(kind):
        if name == "ip" and not is_packet:
            continue  # a transport view's link back to its IP header: walked from the packet already
        attribute = getattr(value, name)
        if arguments is not None:
            attribute = attribute(*arguments)
        if type(attribute) in SCALARS and record is None:
            touched += 1
        else:
            touched += touch(attribute, depth + 1, record)
    return touched


def check(data: bytes, linktype: int, wirelen: int | None = None) -> int:
    pkt = rawkit.decode(data, linktype, 0, wirelen)
    touched = touch(pkt)
    errors, payload = pkt.errors, pkt.payload
    assert isinstance(errors, list) and all(isinstance(error, str) for error in errors)
    assert isinstance(payload, bytes) and len(payload) <= len(data)
    return touched


def _length_fields(pkt: rawkit.Packet) -> list[int]:
    """Offsets of the bytes that say how long something is, where rewriting hurts most."""
    spots = []
    icmp = pkt.icmp or pkt.icmp6
    quoted = icmp.quoted if icmp is not None else None
    for level in (pkt,) if quoted is None else (pkt, quoted):
        base = 0 if level is pkt else icmp._off + 8  # a quoted datagram starts 8 bytes into the ICMP message
        if level.ip4 is not None:
            spots += [base + level.ip4._off + i for i in (0, 2, 3, 6, 9)]
            spots += [base + level.ip4._off + 20 + i for i in range(0, level.ip4.header_len - 20)]
        if level.ip6 is not None:
            spots += [base + level.ip6._off + i for i in (4, 5, 6)]
            spots += [base + header._off + i for header in level.ip6.ext for i in (0, 1, 2, 3)]
        if level.tcp is not None:
            spots += [base + level.tcp._off + i for i in range(12, level.tcp.header_len)]
        if level.udp is not None:
            spots += [base + level.udp._off + i for i in (4, 5)]
        if level.icmp is not None or level.icmp6 is not None:
            view = level.icmp or level.icmp6
            spots += [base + view._off + i for i in (0, 1, 4, 8, 9, 24, 25, 26, 27)]
        if level.arp is not None:
            spots += [base + level.arp._off + i for i in (4, 5)]
        if level.sll is not None:
            spots += [4, 5, 14, 15, 0, 1, 11]
    return spots


def mutations(rng: random.Random, frames: list[wire_frames.Frame], count: int) -> Iterator[tuple]:
    """(data, linktype, wirelen) for `count` frames: random bytes and mutated valid frames."""
    for _ in range(count):
        roll = rng.random()
        if roll < 0.05:
            yield rng.randbytes(rng.randrange(80)), rng.choice(LINK_TYPES), None
            continue
        frame = rng.choice(frames)
        data = bytearray(frame.data)
        if roll < 0.35:  # flip a few bits
            for _ in range(rng.randrange(1, 4)):
                position = rng.randrange(len(data))
                data[position] ^= 1 << rng.randrange(8)
        elif roll < 0.75:  # rewrite a length, type or option byte
            spots = _spots(frame) or [rng.randrange(len(data))]
            for _ in range(rng.randrange(1, 3)):
                data[rng.choice(spots)] = rng.choice((0, 1, 2, 4, 5, 8, 0x0F, 0x40, 0x45, 0x7F, 0xFF,
                                                      rng.randrange(256)))
        elif roll < 0.9:  # cut it short, as a snap length would or as a liar would not
            cut = rng.randrange(len(data) + 1)
            yield bytes(data[:cut]), frame.linktype, rng.choice((None, len(data)))
            continue
        else:  # the right bytes under the wrong link type
            yield bytes(data), rng.choice(LINK_TYPES), None
            continue
        yield bytes(data), frame.linktype, rng.choice((None, None, len(data) + rng.randrange(100)))


@cache
def _spots(frame: wire_frames.Frame) -> list[int]:
    """A valid frame's length fields inside its bytes (the same for every mutation of it)."""
    spots = _length_fields(rawkit.decode(frame.data, frame.linktype))
    return [spot for spot in spots if spot < len(frame.data)]


@cache
def _corpus() -> list[wire_frames.Frame]:
    return wire_frames.corpus()


BULK, CHUNKS = 100_000, 10


def _check_chunk(chunk: int) -> tuple[int, int]:
    """(frames decoded, things touched) for one seeded chunk of the bulk run, in a worker process."""
    rng = random.Random(2026 + chunk)
    touched = decoded = 0
    for data, linktype, wirelen in mutations(rng, _corpus(), BULK // CHUNKS):
        try:
            touched += check(data, linktype, wirelen)
        except Exception as error:
            raise AssertionError(f"chunk {chunk}: linktype {linktype} wirelen {wirelen} frame {data.hex()}") \
                from error
        decoded += 1
    return decoded, touched


def test_hundred_thousand_mutated_frames_decode_cleanly() -> None:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        counts = list(pool.map(_check_chunk, range(CHUNKS)))
    decoded, touched = sum(count for count, _ in counts), sum(touched for _, touched in counts)
    assert decoded == BULK and touched > 50 * decoded


def test_fast_path_reads_exactly_what_the_general_walk_reads() -> None:
    """decode() takes a fast path for plain Ethernet/IPv4|IPv6/TCP|UDP|ICMP frames; every public value
    of every layer must be what the general dissection gives, on valid and mutated frames alike."""
    from rawkit.wire import packet as packet_module

    rng = random.Random(11)
    compared = 0
    for data, linktype, wirelen in mutations(rng, _corpus(), 16_000):
        if linktype != 1:
            continue
        fast, general = rawkit.decode(data, 1, 0, wirelen), rawkit.decode(data, 1, 0, wirelen)
        fast.ip  # noqa: B018 (the first touch dissects)
        packet_module._walk(general, data, len(data))
        fast_values, general_values = [], []
        touch(fast, record=fast_values)
        touch(general, record=general_values)
        assert fast_values == general_values, data.hex()
        compared += 1
    assert compared > 5_000


def test_every_valid_frame_truncated_at_every_length() -> None:
    for frame in _corpus()[::15]:
        for cut in range(len(frame.data) + 1):
            for wirelen in (None, len(frame.data)):
                try:
                    check(frame.data[:cut], frame.linktype, wirelen)
                except Exception as error:
                    raise AssertionError(f"linktype {frame.linktype} cut {cut} of {frame.data.hex()}") \
                        from error


def test_valid_frames_have_no_errors() -> None:
    """The corpus is valid frames (some cut by a snap length): none may report an error unless cut."""
    for frame in _corpus():
        pkt = rawkit.decode(frame.data, frame.linktype, 0, frame.wirelen)
        if frame.wirelen == len(frame.data) and not (pkt.loopback and pkt.loopback.family == 10):
            assert pkt.errors == [], (pkt.errors, frame)


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=120), st.sampled_from(LINK_TYPES), st.one_of(st.none(), st.integers(0, 2000)))
def test_random_bytes_decode_cleanly(data: bytes, linktype: int, wirelen: int | None) -> None:
    check(data, linktype, wirelen)


@settings(max_examples=600, deadline=None)
@given(st.integers(0, 10**6), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=4),
       st.integers(0, 400))
def test_mutated_valid_frames_decode_cleanly(which: int, writes: list[tuple[int, int]], cut: int) -> None:
    frame = _corpus()[which % len(_corpus())]
    data = bytearray(frame.data)
    for position, value in writes:
        if position < len(data):
            data[position] = value
    check(bytes(data[:cut]), frame.linktype, frame.wirelen)


def test_summary_never_raises_on_mutated_frames() -> None:
    """`Packet.summary()` (the tcpdump line) is public too: 20k mutated frames, no exception."""
    rng = random.Random(77)
    for data, linktype, wirelen in mutations(rng, _corpus(), 20_000):
        try:
            line = rawkit.decode(data, linktype, 0, wirelen).summary()
        except Exception as error:
            raise AssertionError(f"linktype {linktype} wirelen {wirelen} frame {data.hex()}") from error
        assert isinstance(line, str)

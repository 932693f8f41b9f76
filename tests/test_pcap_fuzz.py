"""Property tests: whatever bytes a reader is given, it ends (quickly) with packets and at most a
CaptureError, never another exception; a mapped file and a stream of the same bytes agree."""

from __future__ import annotations

import os
import signal
import tempfile
from contextlib import contextmanager

from conftest import CAPTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pcap_roundtrip import Trickle, read_all

VALID = [path.read_bytes() for path in sorted((CAPTURES / "formats").iterdir()) if path.suffix != ".gz"]
HEADS = [b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", b"\xa1\xb2\x3c\x4d\x00\x02\x00\x04",
         b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a\x01\x00\x00\x00",
         b"\x0a\x0d\x0d\x0a\x00\x00\x00\x1c\x1a\x2b\x3c\x4d\x00\x01\x00\x00", b"\x1f\x8b"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@contextmanager
def time_limit(seconds: int):
    """Fail instead of hanging: a reader that stops making progress is a bug."""
    def expire(_signal, _frame):
        raise TimeoutError(f"reader still busy after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def check(data: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".pcap", delete=False) as file:
        file.write(data)
    try:
        with time_limit(10):
            mapped = read_all(file.name)
            streamed = read_all(Trickle(data, 1 + len(data) % 13))
    finally:
        os.unlink(file.name)
    assert len(mapped[0]) <= len(data) // 12 + 1
    assert streamed[0] == mapped[0]
    assert (streamed[1] is None) == (mapped[1] is None)
    if mapped[1] is not None:
        assert mapped[1].startswith(f"{file.name}: ") and "\n" not in mapped[1]


@FUZZ
@given(st.sampled_from(HEADS), st.binary(max_size=400))
def test_random_bytes(head: bytes, tail: bytes) -> None:
    check(head + tail)


@FUZZ
@given(st.sampled_from(VALID), st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=4)),
                                        max_size=4), st.floats(0, 1))
def test_mutated_valid_files(original: bytes, edits: list[tuple[float, bytes]], cut: float) -> None:
    data = bytearray(original)
    for where, replacement in edits:
        position = int(where * (len(data) - 1))
        data[position:position + len(replacement)] = replacement
    check(bytes(data[: max(1, int(cut * len(data) * 1.2))]))

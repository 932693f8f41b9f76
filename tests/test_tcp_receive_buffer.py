"""ReceiveBuffer against the bytearray it replaces: any mix of appends, reads and peeks returns the
same bytes and keeps the same length."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rawkit.tcp.receive_buffer import ReceiveBuffer

chunk = st.binary(max_size=40)
operation = st.one_of(
    st.tuples(st.just("append"), chunk),
    st.tuples(st.just("extend"), st.lists(chunk, max_size=4)),
    st.tuples(st.just("read"), st.integers(0, 120)),
    st.tuples(st.just("peek"), st.integers(0, 120)),
)


@given(st.lists(operation, max_size=40))
def test_behaves_as_a_bytearray(operations):
    buffer, model = ReceiveBuffer(), bytearray()
    for name, argument in operations:
        if name == "append":
            buffer.append(memoryview(argument))
            model += argument
        elif name == "extend":
            assert buffer.extend(argument) == sum(map(len, argument))
            model += b"".join(argument)
        elif name == "read":
            assert buffer.read(argument) == bytes(model[:argument])
            del model[:argument]
        else:
            assert buffer.peek(argument) == bytes(model[:argument])
        assert len(buffer) == len(model)
        assert bool(buffer) == bool(model)


def test_a_read_takes_part_of_a_chunk_and_leaves_the_rest():
    buffer = ReceiveBuffer()
    buffer.extend([b"abc", b"defg"])
    assert buffer.read(5) == b"abcde"
    assert buffer.peek(10) == b"fg"
    assert buffer.read(1 << 30) == b"fg"
    assert buffer.read(1) == b"" and len(buffer) == 0


def test_tiny_payloads_do_not_each_become_an_object():
    buffer = ReceiveBuffer()
    for _ in range(10_000):
        buffer.append(b"x")
    buffer.extend([b"y"] * 1000)
    assert len(buffer) == 11_000
    assert len(buffer._chunks) <= 11_000 // 2048 + 2
    assert buffer.read(1 << 20) == b"x" * 10_000 + b"y" * 1000

"""Back end 3: the filter as one Python expression over a record that stays in a capture's buffer,
for a reader to inline into its record walk (rawkit.pcap.scan), so no bytes object is made per frame.

Why: where a filter drops most records, slicing each frame and calling `match` costs more than the
walk itself. Here every field the filter reads at a fixed offset is fetched by the same struct unpack
that reads the record header ("fused" fields, names f0, f1, ...); a field behind the IPv4 header is
also fetched where it sits when that header has no options (IHL 5), the common case. The expression
is valid only for records whose captured length is at least `need`: the walk gives shorter records
to `match`, which knows which out-of-bounds loads reject a frame. A load at any other computed
address goes through a helper that raises IndexError past the captured length; the walk rejects
the record on the exceptions in `rejects`, as `match` does.

A file in little-endian order gets its header and so the fused fields little-endian: a multi-byte
field that the filter only tests for equality with a constant (possibly masked) is compared with
byte-swapped constants; any other use reads it byte by byte.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from rawkit.filter.dag import Graph, Node, topological
from rawkit.filter.ir import Arith, Cmp, Const, HeaderLength, Load, Neg, Value, WireLength
from rawkit.filter.record import Record

MAX_TESTS = 400  # a decision graph unfolds into a tree here; past this the walk just calls `match`
MAX_DEPTH = 40  # nesting that Python's parser takes with room to spare
IHL5 = 20  # the IPv4 header length with no options
_CODES = {1: "B", 2: "H", 4: "I"}
_MASKED = frozenset(("+", "-", "*", "<<"))
_COMPARE = {"eq": "==", "gt": ">", "ge": ">="}
_NEGATED = {"eq": "!=", "gt": "<=", "ge": "<"}


class Window(Record):
    """`fields`: (offset in the frame, struct code) of f0, f1, ... in order, in the file's byte order;
    `expression`: true when the record is selected, over b (buffer), s (frame start), c (captured
    length), n (wire length, if `uses_wirelen`) and the fields; `namespace`: the helpers it calls."""

    __slots__ = ("fields", "expression", "namespace", "need", "uses_wirelen", "rejects")
    fields: tuple[tuple[int, str], ...]
    expression: str
    namespace: dict
    need: int
    uses_wirelen: bool
    rejects: tuple[type[BaseException], ...]


class TooLarge(Exception):
    """The graph unfolds into too many tests, or nests too deep, to be one expression."""


def window(graph: Graph, byte_order: str) -> Window | None:
    """The graph as a Window for records in a buffer of `byte_order` ("<" or ">"); None when it is
    too large to unfold (the caller then uses `match` on every record)."""
    tests = [node.test for node in topological(graph.root)]
    if graph.prelude is not None:
        tests.append(graph.prelude)
    units = _Units(tests, byte_order)
    first = _Writer(units, None)  # finds which loads a path reads twice: only those get a name
    try:
        _unfold(graph, first)
        writer = _Writer(units, first.reused)
        body = _unfold(graph, writer)
        compile(body, "<rawkit filter window>", "eval")  # within Python's nesting limits?
    except (TooLarge, SyntaxError, RecursionError, MemoryError):
        return None
    namespace = {"_L1": _load1, "_L2": _load2, "_L4": _load4, "_L2LE": _load2_le, "_L4LE": _load4_le,
                 "_SHL": _shift_left}
    return Window(tuple(units.fields), body, namespace, units.need, writer.uses_wirelen,
                  (IndexError, ZeroDivisionError))


def _unfold(graph: Graph, writer: _Writer) -> str:
    body = writer.expression(graph.root, {}, 0)
    if graph.prelude is not None:
        loads = [writer.value(value, {}) for value in (graph.prelude.left, graph.prelude.right)
                 if _computed(value)]
        if loads:  # loads tcpdump keeps from a first test it optimised away: they can still reject
            body = f"({' >= 0 and '.join(loads)} >= 0 and {body})"
    return body


def _computed(value: Value) -> bool:
    """A value whose evaluation may reject the record here: a load at a computed address, or arithmetic
    that reads one or divides."""
    if isinstance(value, Load):
        return not isinstance(value.address, Const)
    if isinstance(value, Arith):
        return value.op in ("/", "%") or _computed(value.left) or _computed(value.right)
    if isinstance(value, Neg):
        return _computed(value.operand)
    return False


def _speculative_offset(load: Load) -> int | None:
    """Where a load behind the IPv4 header sits when that header is 20 bytes long, else None."""
    address = load.address
    if (isinstance(address, Arith) and address.op == "+" and isinstance(address.left, HeaderLength)
            and isinstance(address.right, Const)):
        return IHL5 + address.right.value
    return None


def _swappable(test: Cmp) -> Load | None:
    """The multi-byte load of `load == K`, `load & M == K` or `load & K != 0`: such a test gives the same
    answer on byte-swapped operands, so a little-endian field can be compared with swapped constants."""
    if test.op not in ("eq", "set") or not isinstance(test.right, Const):
        return None
    left = test.left
    if isinstance(left, Arith) and left.op == "&" and isinstance(left.right, Const):
        left = left.left
    if isinstance(left, Load) and left.size > 1 and (test.right.value >> 8 * left.size) == 0:
        return left
    return None


def _walk(value: Value) -> Iterator[Value]:
    yield value
    if isinstance(value, Arith):
        yield from _walk(value.left)
        yield from _walk(value.right)
    elif isinstance(value, Neg):
        yield from _walk(value.operand)
    elif isinstance(value, Load):
        yield from _walk(value.address)


class _Units:
    """Chooses the fused fields: each byte range the filter reads at a fixed offset (or, behind an
    IPv4 header, at its IHL-5 offset) becomes one field, or one field per byte where ranges overlap
    or a little-endian field would be needed in big-endian order."""

    def __init__(self, tests: list[Cmp], byte_order: str) -> None:
        self.little = byte_order == "<"
        plain: set[tuple[int, int]] = set()  # ranges some use needs in big-endian order
        ranges: set[tuple[int, int]] = set()
        for test in tests:
            swappable = _swappable(test)
            for side in (test.left, test.right):
                for value in _walk(side):
                    key = self._key(value)
                    if key is None:
                        continue
                    ranges.add(key)
                    if value is not swappable or key[1] == 1:
                        plain.add(key)
        self.fields: list[tuple[int, str]] = []
        self.names: dict[tuple[int, int], str] = {}  # range -> its field, when it has one of its own
        self.little_fields: set[str] = set()
        self.byte_sources: dict[int, tuple[str, int, int, bool]] = {}  # byte -> (field, start, size, LE)
        for cluster in _clusters(sorted(ranges)):
            self._place(cluster, plain)
        self.need = max((start + size for start, size in ranges), default=0)

    @staticmethod
    def _key(value: Value) -> tuple[int, int] | None:
        if isinstance(value, HeaderLength):
            return value.offset, 1
        if isinstance(value, Load):
            if isinstance(value.address, Const):
                return value.address.value, value.size
            spot = _speculative_offset(value)
            if spot is not None:
                return spot, value.size
        return None

    def _place(self, cluster: list[tuple[int, int]], plain: set[tuple[int, int]]) -> None:
        """Fields for overlapping ranges: the widest ranges that do not overlap each other get fields
        of their own (in a little-endian file, multi-byte ones only if no use needs them big-endian);
        the bytes left over get one field each. Every other range is put together from them."""
        chosen: list[tuple[int, int]] = []
        for key in sorted(cluster, key=lambda key: (-key[1], key[0])):
            begin, size = key
            if self.little and size > 1 and key in plain:
                continue
            if all(begin + size <= other or other + length <= begin for other, length in chosen):
                chosen.append(key)
        covered = {byte for begin, size in chosen for byte in range(begin, begin + size)}
        start = cluster[0][0]
        stop = max(begin + size for begin, size in cluster)
        keys = chosen + [(byte, 1) for byte in range(start, stop) if byte not in covered]
        for key in sorted(keys):
            self._add(key, self.little and key[1] > 1)

    def _add(self, key: tuple[int, int], little: bool) -> None:
        name = f"f{len(self.names)}"
        self.names[key] = name
        self.fields.append((key[0], _CODES[key[1]]))
        if little:
            self.little_fields.add(name)
        for byte in range(key[0], key[0] + key[1]):
            self.byte_sources[byte] = (name, key[0], key[1], little)

    def little_field(self, key: tuple[int, int]) -> str | None:
        """The field holding exactly this range in little-endian order, if there is one."""
        name = self.names.get(key)
        return name if name in self.little_fields else None

    def big_endian(self, key: tuple[int, int]) -> str:
        """The range's big-endian value, from its own field or put together from its bytes."""
        name = self.names.get(key)
        if name is not None and name not in self.little_fields:
            return name
        start, size = key
        field, field_start, field_size, little = self.byte_sources[start]
        if not little and start + size <= field_start + field_size:  # a part of one big-endian field
            shift = 8 * (field_start + field_size - start - size)
            text = f"({field} >> {shift})" if shift else field
            return f"({text} & {(1 << 8 * size) - 1})" if start > field_start else text
        parts = []
        for index, byte in enumerate(range(start, start + size)):
            field, field_start, field_size, little = self.byte_sources[byte]
            position = byte - field_start if little else field_start + field_size - 1 - byte
            if field_size == 1:
                text = field
            else:
                text = f"({field} >> {8 * position} & 255)" if position else f"({field} & 255)"
            shift = 8 * (size - 1 - index)
            parts.append(f"{text} << {shift}" if shift else text)
        return "(" + " | ".join(parts) + ")"


def _clusters(ranges: list[tuple[int, int]]) -> Iterator[list[tuple[int, int]]]:
    """Overlapping byte ranges grouped (ranges sorted by start)."""
    cluster: list[tuple[int, int]] = []
    stop = -1
    for start, size in ranges:
        if cluster and start >= stop:
            yield cluster
            cluster = []
        cluster.append((start, size))
        stop = max(stop, start + size)
    if cluster:
        yield cluster


class _Writer:
    def __init__(self, units: _Units, reused: set | None) -> None:
        """`reused`: the loads to name (all, and note which are read again, when None)."""
        self.units = units
        self.name_all = reused is None
        self.reused: set = set() if reused is None else reused
        self.uses_wirelen = False
        self.tests = 0
        self.names = 0

    def fresh(self) -> str:
        self.names += 1
        return f"v{self.names}"

    def value(self, value: Value, known: dict, little: bool = False) -> str:
        """Source for `value` (byte-swapped if `little`, for a load in a swappable test); adds the
        names it assigns to `known`, in evaluation order."""
        if isinstance(value, Const):
            return str(value.value)
        if isinstance(value, WireLength):
            self.uses_wirelen = True
            return "n"
        if isinstance(value, Arith):
            left = self.value(value.left, known)
            right = self.value(value.right, known)
            if value.op == "<<" and not isinstance(value.right, Const):
                return f"_SHL({left}, {right})"
            op = "//" if value.op == "/" else value.op
            text = f"({left} {op} {right})"
            return f"({text} & 0xFFFFFFFF)" if value.op in _MASKED else text
        if isinstance(value, Neg):
            return f"(-{self.value(value.operand, known)} & 0xFFFFFFFF)"
        key = (value, little)
        if key in known:
            if self.name_all:
                self.reused.add(key)
            return known[key]
        if isinstance(value, HeaderLength):
            byte = self.units.big_endian((value.offset, 1))
            name = known[key] = self.fresh()
            return f"({name} := (({byte} & 15) << 2))"
        if isinstance(value.address, Const):  # a fused field: no name needed
            spot = (value.address.value, value.size)
            return self.units.little_field(spot) if little else self.units.big_endian(spot)
        suffix = "LE" if little else ""
        spot = _speculative_offset(value)
        if spot is not None:
            header = self.value(value.address.left, known)
            fused = self.units.little_field((spot, value.size)) if little else \
                self.units.big_endian((spot, value.size))
            length = known[(value.address.left, False)]
            loaded = (f"({fused} if {header} == {IHL5} else "
                      f"_L{value.size}{suffix}(b, s, c, {length} + {value.address.right.value}))")
        else:
            address = self.address(value.address, known)
            loaded = f"_L{value.size}{suffix}(b, s, c, {address})"
        if not self.name_all and key not in self.reused:
            return loaded
        name = known[key] = self.fresh()
        return f"({name} := {loaded})"

    def address(self, address: Value, known: dict) -> str:
        """As in pycode: the final `+ offset` does not wrap (a huge address is past the frame)."""
        if isinstance(address, Arith) and address.op == "+" and isinstance(address.right, Const):
            return f"({self.value(address.left, known)} + {address.right.value})"
        return self.value(address, known)

    def comparison(self, test: Cmp, known: dict) -> tuple[str, str]:
        """The test and its negation (sharing the names it assigns to `known`)."""
        load = _swappable(test)
        if load is not None and self._little(load):
            size = load.size
            left = test.left
            if isinstance(left, Arith):  # load & mask
                mask = _swap(left.right.value & ((1 << 8 * size) - 1), size)
                text = f"({self.value(left.left, known, True)} & {mask})"
            else:
                text = self.value(left, known, True)
            right_text = str(_swap(test.right.value, size))
        else:
            text = self.value(test.left, known)
            right_text = self.value(test.right, known)
        if test.op == "set":
            return f"(({text} & {right_text}) != 0)", f"(({text} & {right_text}) == 0)"
        return (f"({text} {_COMPARE[test.op]} {right_text})",
                f"({text} {_NEGATED[test.op]} {right_text})")

    def _little(self, load: Load) -> bool:
        """Whether this load is read as a little-endian field (fused, or IHL-5 fused)."""
        if isinstance(load.address, Const):
            return self.units.little_field((load.address.value, load.size)) is not None
        spot = _speculative_offset(load)
        return spot is not None and self.units.little_field((spot, load.size)) is not None

    def expression(self, node: Node, known: dict, depth: int) -> str:
        if node.leaf:
            return str(node.verdict)
        self.tests += 1
        if self.tests > MAX_TESTS or depth > MAX_DEPTH:
            raise TooLarge
        high, low = node.high, node.low
        after = dict(known)
        test, negated = self.comparison(node.test, after)
        if high.leaf and low.leaf:
            return test if high.verdict else negated
        if low.leaf:
            inner = self.expression(high, after, depth + 1)
            return f"({test} and {inner})" if not low.verdict else f"({negated} or {inner})"
        if high.leaf:
            inner = self.expression(low, after, depth + 1)
            return f"({test} or {inner})" if high.verdict else f"({negated} and {inner})"
        return (f"({self.expression(high, after, depth + 1)} if {test} "
                f"else {self.expression(low, dict(after), depth + 1)})")


def _swap(value: int, size: int) -> int:
    return int.from_bytes(value.to_bytes(size, "big"), "little")


_BE2 = struct.Struct("!H").unpack_from
_BE4 = struct.Struct("!I").unpack_from
_LE2 = struct.Struct("<H").unpack_from
_LE4 = struct.Struct("<I").unpack_from


def _load1(b, s: int, c: int, address: int) -> int:
    if address >= c:
        raise IndexError("load past the captured bytes")
    return b[s + address]


def _load2(b, s: int, c: int, address: int) -> int:
    if address + 2 > c:
        raise IndexError("load past the captured bytes")
    return _BE2(b, s + address)[0]


def _load4(b, s: int, c: int, address: int) -> int:
    if address + 4 > c:
        raise IndexError("load past the captured bytes")
    return _BE4(b, s + address)[0]


def _load2_le(b, s: int, c: int, address: int) -> int:
    if address + 2 > c:
        raise IndexError("load past the captured bytes")
    return _LE2(b, s + address)[0]


def _load4_le(b, s: int, c: int, address: int) -> int:
    if address + 4 > c:
        raise IndexError("load past the captured bytes")
    return _LE4(b, s + address)[0]


def _shift_left(value: int, amount: int) -> int:
    return (value << amount) & 0xFFFFFFFF if amount < 32 else 0

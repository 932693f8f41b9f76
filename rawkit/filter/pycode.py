"""Back end 1: the decision graph as straight-line Python over the raw frame, compiled once.

Each load is written as a direct index or a precompiled struct unpack; a load that the path has
already performed is reused from a local (assignment expressions), so `tcp port 80` reads the
EtherType once. A short frame raises IndexError/struct.error inside the predicate, which rejects
the frame exactly as a BPF program's out-of-bounds load does.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from rawkit.filter.dag import Graph, Node, topological
from rawkit.filter.errors import FilterError
from rawkit.filter.ir import Arith, Cmp, Const, HeaderLength, Neg, Value, WireLength

_MASKED = frozenset(("+", "-", "*", "<<"))
_COMPARE = {"eq": "==", "gt": ">", "ge": ">=", "set": "!="}
_NEGATED = {"eq": "!=", "gt": "<=", "ge": "<", "set": "=="}
_UNPACKERS = {2: "_H", 4: "_W"}  # 2: only for computed addresses


class _Writer:
    """Writes source in two passes: the first finds which loads are reused, the second names only
    those (a plain index is cheaper than an assignment expression)."""

    def __init__(self, reused: set | None = None) -> None:
        self.names: dict[Value, str] = {}
        self.reused: set = set() if reused is None else reused
        self.uses_length = False

    def name(self, value: Value) -> str:
        if value not in self.names:
            self.names[value] = f"v{len(self.names)}"
        return self.names[value]

    def value(self, value: Value, known: set) -> str:
        """Source for `value`; adds the loads it performs to `known` (left-to-right evaluation)."""
        if isinstance(value, Const):
            return str(value.value)
        if isinstance(value, WireLength):
            self.uses_length = True
            return "n"
        if isinstance(value, Arith):
            left = self.value(value.left, known)
            right = self.value(value.right, known)
            if value.op == "<<" and not isinstance(value.right, Const):
                return f"_SHL({left}, {right})"  # a shift by 32+ is 0, never a huge integer
            op = "//" if value.op == "/" else value.op
            text = f"({left} {op} {right})"
            return f"({text} & 0xFFFFFFFF)" if value.op in _MASKED and not _small(value) else text
        if isinstance(value, Neg):
            return f"(-{self.value(value.operand, known)} & 0xFFFFFFFF)"
        if value in known:
            self.reused.add(value)
            return self.name(value)
        if isinstance(value, HeaderLength):
            text = f"((p[{value.offset}] & 15) << 2)"
        else:
            address = self.address(value.address, known)
            if value.size == 1:
                text = f"p[{address}]"
            elif value.size == 2 and isinstance(value.address, Const):
                text = f"(p[{address}] << 8 | p[{value.address.value + 1}])"
            else:
                text = f"{_UNPACKERS[value.size]}(p, {address})[0]"
        known.add(value)
        if value not in self.reused:
            return text
        return f"({self.name(value)} := {text})"

    def address(self, address: Value, known: set) -> str:
        """A load's address: the final `+ offset` does not wrap at 32 bits (libpcap rejects the frame
        instead, as an address past the captured bytes)."""
        if isinstance(address, Arith) and address.op == "+" and isinstance(address.right, Const):
            return f"({self.value(address.left, known)} + {address.right.value})"
        return self.value(address, known)

    def comparison(self, pred: Cmp, known: set, operators: dict[str, str]) -> tuple[str, set]:
        after = set(known)
        left = self.value(pred.left, after)
        right = self.value(pred.right, after)
        if pred.op == "set":
            return f"(({left} & {right}) {operators['set']} 0)", after
        return f"({left} {operators[pred.op]} {right})", after


def _small(value: Arith) -> bool:
    """Header length plus a small constant: cannot leave 32 bits, so needs no mask."""
    return value.op == "+" and isinstance(value.left, HeaderLength) and isinstance(value.right, Const) \
        and value.right.value < 1 << 16


def python_source(graph: Graph) -> str:
    first = _Graph(graph, set())
    first.source()
    return _Graph(graph, first.writer.reused).source()


def python_predicate(graph: Graph) -> Callable[..., bool]:
    source = python_source(graph)
    namespace = {
        "_H": struct.Struct("!H").unpack_from,
        "_W": struct.Struct("!I").unpack_from,
        "_REJECT": (IndexError, struct.error, ZeroDivisionError),
        "_SHL": _shift_left,
    }
    try:
        code = compile(source, "<rawkit filter>", "exec")
    except (SyntaxError, RecursionError, MemoryError):  # Python's parser limits nesting depth
        from rawkit.filter import TOO_DEEP

        raise FilterError(TOO_DEEP) from None
    exec(code, namespace)  # noqa: S102 - our own generated code
    return namespace["match"]


def _shift_left(value: int, amount: int) -> int:
    """BPF's `lsh x` as libpcap runs it: 32 bits wide, and 0 for a shift by 32 or more."""
    return (value << amount) & 0xFFFFFFFF if amount < 32 else 0


class _Graph:
    """The decision graph as nested expressions; a node reached from several places, or nested too
    deep for Python's parser, becomes a function of its own."""

    MAX_NESTING = 40
    INLINE_TESTS = 4

    def __init__(self, graph: Graph, reused: set) -> None:
        root = self.root = graph.root
        self.prelude = graph.prelude
        self.writer = _Writer(reused)
        self.order = topological(root)
        incoming: dict[int, int] = {id(root): 1}
        for node in self.order:
            for child in (node.high, node.low):
                incoming[id(child)] = incoming.get(id(child), 0) + 1
        sizes: dict[int, int] = {}
        for node in reversed(self.order):  # tests below each node, counting shared ones once per path
            sizes[id(node)] = 1 + sum(sizes.get(id(child), 0) for child in (node.high, node.low))
        # a shared node becomes a function unless copying it inline is cheaper than a call
        self.functions: dict[int, str] = {
            id(node): f"_n{index}" for index, node in enumerate(self.order)
            if incoming[id(node)] > 1 and node is not root and sizes[id(node)] > self.INLINE_TESTS}
        self.bodies: dict[int, str] = {}

    def source(self) -> str:
        body = self.expression(self.root, set(), 0, own=True)
        helpers = []
        for node in reversed(self.order):
            name = self.functions.get(id(node))
            if name is not None:
                helpers.append(f"def {name}(p, n):\n    return {self.bodies[id(node)]}\n")
        prelude = ""
        if self.prelude is not None:  # loads tcpdump keeps from a first test it optimised away
            loads = [self.writer.value(value, set()) for value in (self.prelude.left, self.prelude.right)
                     if not isinstance(value, Const)]
            prelude = "".join(f"        {load}\n" for load in loads)
        length = "    if n is None:\n        n = len(p)\n" if self.writer.uses_length else ""
        return "".join(helpers) + (f"def match(p, n=None):\n{length}    try:\n{prelude}"
                                   f"        return {body}\n    except _REJECT:\n        return False\n")

    def call(self, node: Node) -> str:
        key = id(node)
        if key not in self.bodies:
            self.bodies[key] = ""  # placeholder: a graph has no cycles, so no recursion reaches it
            self.bodies[key] = self.expression(node, set(), 0, own=True)
        return f"{self.functions[key]}(p, n)"

    def expression(self, node: Node, known: set, depth: int, own: bool = False) -> str:
        if node.leaf:
            return str(node.verdict)
        if not own and id(node) in self.functions:
            return self.call(node)
        if depth > self.MAX_NESTING:
            self.functions[id(node)] = f"_n{len(self.functions) + len(self.order)}"
            return self.call(node)
        high, low = node.high, node.low
        test, after = self.writer.comparison(node.test, known, _COMPARE)
        negated, _ = self.writer.comparison(node.test, set(known), _NEGATED)
        if high.leaf and low.leaf:
            return test if high.verdict else negated
        if low.leaf:
            inner = self.expression(high, after, depth + 1)
            return f"({test} and {inner})" if not low.verdict else f"({negated} or {inner})"
        if high.leaf:
            inner = self.expression(low, after, depth + 1)
            return f"({test} or {inner})" if high.verdict else f"({negated} and {inner})"
        return (f"({self.expression(high, after, depth + 1)} if {test} "
                f"else {self.expression(low, after, depth + 1)})")

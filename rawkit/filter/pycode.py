"""Back end 1: the intermediate form as straight-line Python over the raw frame, compiled once.

Each load is written as a direct index or a precompiled struct unpack; a load that every path has
already performed is reused from a local (assignment expressions), so `tcp port 80` reads the
EtherType once. A short frame raises IndexError/struct.error inside the predicate, which rejects
the frame exactly as a BPF program's out-of-bounds load does.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from rawkit.filter.ir import (
    And,
    Arith,
    Cmp,
    Const,
    HeaderLength,
    Neg,
    Not,
    Or,
    Pred,
    Truth,
    Value,
    WireLength,
)

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
            address = self.value(value.address, known)
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

    def pred(self, pred: Pred, known: set) -> tuple[str, set]:
        """Source for `pred` and the loads certainly done once its first operand has run."""
        if isinstance(pred, Truth):
            return str(pred.value), known
        if isinstance(pred, Not) and isinstance(pred.operand, Cmp):
            return self.comparison(pred.operand, known, _NEGATED)
        if isinstance(pred, Not):
            text, after = self.pred(pred.operand, known)
            return f"(not {text})", after
        if isinstance(pred, And | Or):
            left, after = self.pred(pred.left, known)
            right, _ = self.pred(pred.right, after)
            return f"({left} {'and' if isinstance(pred, And) else 'or'} {right})", after
        assert isinstance(pred, Cmp)
        return self.comparison(pred, known, _COMPARE)

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


def python_source(pred: Pred) -> str:
    first = _Writer()
    first.pred(pred, set())
    writer = _Writer(first.reused)
    body, _ = writer.pred(pred, set())
    length = "    if n is None:\n        n = len(p)\n" if writer.uses_length else ""
    return (f"def match(p, n=None):\n{length}    try:\n        return {body}\n"
            f"    except _REJECT:\n        return False\n")


def python_predicate(pred: Pred) -> Callable[..., bool]:
    source = python_source(pred)
    namespace = {
        "_H": struct.Struct("!H").unpack_from,
        "_W": struct.Struct("!I").unpack_from,
        "_REJECT": (IndexError, struct.error, ZeroDivisionError),
    }
    exec(compile(source, "<rawkit filter>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["match"]

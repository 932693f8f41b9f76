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
_COMPARE = {"eq": "==", "gt": ">", "ge": ">="}
_UNPACKERS = {2: "_H", 4: "_W"}


class _Writer:
    def __init__(self) -> None:
        self.names: dict[Value, str] = {}
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
            return self.name(value)
        if isinstance(value, HeaderLength):
            text = f"((p[{value.offset}] & 15) << 2)"
        else:
            address = self.value(value.address, known)
            text = f"p[{address}]" if value.size == 1 else f"{_UNPACKERS[value.size]}(p, {address})[0]"
        known.add(value)
        return f"({self.name(value)} := {text})"

    def pred(self, pred: Pred, known: set) -> tuple[str, set]:
        """Source for `pred` and the loads certainly done once its first operand has run."""
        if isinstance(pred, Truth):
            return str(pred.value), known
        if isinstance(pred, Not):
            text, after = self.pred(pred.operand, known)
            return f"(not {text})", after
        if isinstance(pred, And | Or):
            left, after = self.pred(pred.left, known)
            right, _ = self.pred(pred.right, after)
            return f"({left} {'and' if isinstance(pred, And) else 'or'} {right})", after
        assert isinstance(pred, Cmp)
        after = set(known)
        left = self.value(pred.left, after)
        right = self.value(pred.right, after)
        if pred.op == "set":
            return f"(({left} & {right}) != 0)", after
        return f"({left} {_COMPARE[pred.op]} {right})", after


def _small(value: Arith) -> bool:
    """Header length plus a small constant: cannot leave 32 bits, so needs no mask."""
    return value.op == "+" and isinstance(value.left, HeaderLength) and isinstance(value.right, Const) \
        and value.right.value < 1 << 16


def python_source(pred: Pred) -> str:
    writer = _Writer()
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

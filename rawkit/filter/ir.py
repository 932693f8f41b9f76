"""The intermediate form both back ends compile from.

Values are 32-bit unsigned expressions over the frame (loads, the IPv4 header length trick, the wire
length); predicates are comparisons joined by and/or/not. Semantics are those of classic BPF: a load
past the captured bytes, or a division by zero, rejects the whole frame, whatever else the filter says.
Which loads a frame meets is decided by the decision graph (dag.py) that both back ends compile.
"""

from __future__ import annotations

from rawkit.filter.record import Record

MASK32 = 0xFFFFFFFF


class Const(Record):
    __slots__ = ("value",)
    value: int


class Load(Record):
    """`size` bytes (1, 2 or 4, big-endian) at `address`."""

    __slots__ = ("size", "address")
    size: int
    address: Value


class HeaderLength(Record):
    """4 * (frame[offset] & 0x0f): the IPv4 header length (BPF's ldxb msh)."""

    __slots__ = ("offset",)
    offset: int


class WireLength(Record):
    __slots__ = ()


class Arith(Record):
    __slots__ = ("op", "left", "right")
    op: str  # + - * / % & | ^ << >>
    left: Value
    right: Value


class Neg(Record):
    __slots__ = ("operand",)
    operand: Value


ZERO = Const(0)
Value = Const | Load | HeaderLength | WireLength | Arith | Neg


class Cmp(Record):
    """`origin` is "relation" for a test the user wrote as arithmetic (`ip[9] = 6`), else "primitive":
    tcpdump's optimiser never decides one kind of test from the other (see `satisfiable`)."""

    __slots__ = ("op", "left", "right", "origin")
    _defaults = {"origin": "primitive"}
    op: str  # eq, gt, ge, set (left & right != 0)
    left: Value
    right: Value
    origin: str


class And(Record):
    __slots__ = ("left", "right")
    left: Pred
    right: Pred


class Or(Record):
    __slots__ = ("left", "right")
    left: Pred
    right: Pred


class Not(Record):
    __slots__ = ("operand",)
    operand: Pred


class Truth(Record):
    __slots__ = ("value",)
    value: bool


Pred = Cmp | And | Or | Not | Truth
TRUE = Truth(True)
FALSE = Truth(False)


def arith(op: str, left: Value, right: Value) -> Value:
    """Build `left op right`, folding constants with BPF's unsigned 32-bit rules."""
    if isinstance(left, Const) and isinstance(right, Const):
        return Const(apply(op, left.value, right.value))
    # tcpdump's optimiser simplifies these too, dropping the other operand's loads
    if left == ZERO and op in ("+", "|", "^"):
        return right
    if left == ZERO and op in ("*", "/", "%", "&", "<<", ">>"):
        return ZERO
    if right == ZERO and op in ("+", "-", "|", "^", "<<", ">>"):
        return left
    if right == ZERO and op in ("*", "&"):
        return ZERO
    return Arith(op, left, right)


def negate(operand: Value) -> Value:
    if isinstance(operand, Const):
        return Const(-operand.value & MASK32)
    return Neg(operand)


def apply(op: str, a: int, b: int) -> int:
    if op == "+":
        return (a + b) & MASK32
    if op == "-":
        return (a - b) & MASK32
    if op == "*":
        return (a * b) & MASK32
    if op == "/":
        return a // b
    if op == "%":
        return a % b
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    if op == "<<":
        return (a << b) & MASK32 if b < 32 else 0
    if op == ">>":
        return a >> b if b < 32 else 0
    raise ValueError(op)


def compare(op: str, a: int, b: int) -> bool:
    if op == "eq":
        return a == b
    if op == "gt":
        return a > b
    if op == "ge":
        return a >= b
    return a & b != 0


def cmp(op: str, left: Value, right: Value, origin: str = "primitive") -> Pred:
    if isinstance(left, Const) and isinstance(right, Const):
        return Truth(compare(op, left.value, right.value))
    return Cmp(op, left, right, origin)


def conj(left: Pred, right: Pred) -> Pred:
    if left == FALSE or right == TRUE:
        return left
    if left == TRUE:
        return right
    if right == FALSE:  # the graph drops tests whose outcomes meet, as tcpdump's optimiser does
        return FALSE
    return And(left, right)


def disj(left: Pred, right: Pred) -> Pred:
    if left == TRUE or right == FALSE:
        return left
    if left == FALSE:
        return right
    if right == TRUE:  # the graph drops tests whose outcomes meet, as tcpdump's optimiser does
        return TRUE
    return Or(left, right)


def inv(operand: Pred) -> Pred:
    if isinstance(operand, Truth):
        return Truth(not operand.value)
    if isinstance(operand, Not):
        return operand.operand
    return Not(operand)


def all_of(*preds: Pred) -> Pred:
    result = TRUE
    for pred in preds:
        result = conj(result, pred)
    return result


def any_of(*preds: Pred) -> Pred:
    result = FALSE
    for pred in preds:
        result = disj(result, pred)
    return result

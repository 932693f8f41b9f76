"""The intermediate form both back ends compile from.

Values are 32-bit unsigned expressions over the frame (loads, the IPv4 header length trick, the wire
length); predicates are comparisons joined by and/or/not. Semantics are those of classic BPF: a load
past the captured bytes, or a division by zero, rejects the whole frame, whatever else the filter says.
"""

from __future__ import annotations

from dataclasses import dataclass

MASK32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Const:
    value: int


@dataclass(frozen=True, slots=True)
class Load:
    """`size` bytes (1, 2 or 4, big-endian) at `address`."""

    size: int
    address: Value


@dataclass(frozen=True, slots=True)
class HeaderLength:
    """4 * (frame[offset] & 0x0f): the IPv4 header length (BPF's ldxb msh)."""

    offset: int


@dataclass(frozen=True, slots=True)
class WireLength:
    pass


@dataclass(frozen=True, slots=True)
class Arith:
    op: str  # + - * / % & | ^ << >>
    left: Value
    right: Value


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Value


Value = Const | Load | HeaderLength | WireLength | Arith | Neg


@dataclass(frozen=True, slots=True)
class Cmp:
    """`origin` is "relation" for a test the user wrote as arithmetic (`ip[9] = 6`), else "primitive":
    tcpdump's optimiser never decides one kind of test from the other (see `satisfiable`)."""

    op: str  # eq, gt, ge, set (left & right != 0)
    left: Value
    right: Value
    origin: str = "primitive"


@dataclass(frozen=True, slots=True)
class And:
    left: Pred
    right: Pred


@dataclass(frozen=True, slots=True)
class Or:
    left: Pred
    right: Pred


@dataclass(frozen=True, slots=True)
class Not:
    operand: Pred


@dataclass(frozen=True, slots=True)
class Truth:
    value: bool


Pred = Cmp | And | Or | Not | Truth
TRUE = Truth(True)
FALSE = Truth(False)


def arith(op: str, left: Value, right: Value) -> Value:
    """Build `left op right`, folding constants with BPF's unsigned 32-bit rules."""
    if isinstance(left, Const) and isinstance(right, Const):
        return Const(apply(op, left.value, right.value))
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
    if isinstance(left, Or) and left.left == right:  # (X or Y) and X: tcpdump's optimiser drops Y
        return right
    if left == FALSE or right == TRUE:
        return left
    if left == TRUE:
        return right
    if right == FALSE:  # rejected either way: by the test or by a short load in `left`
        return FALSE
    return And(left, right)


def disj(left: Pred, right: Pred) -> Pred:
    if isinstance(left, And) and left.left == right:  # (X and Y) or X: tcpdump's optimiser drops Y
        return right
    if left == TRUE or right == FALSE:
        return left
    if left == FALSE:
        return right
    if right == TRUE and not _loads(left):
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


def _loads(pred: Pred) -> bool:
    """Whether evaluating `pred` may touch the frame (and so may reject it by a short load)."""
    if isinstance(pred, Truth):
        return False
    if isinstance(pred, Not):
        return _loads(pred.operand)
    if isinstance(pred, And | Or):
        return _loads(pred.left) or _loads(pred.right)
    return True


def value_loads(value: Value) -> list[Value]:
    """Every load in `value`, innermost first, in evaluation order."""
    if isinstance(value, Load):
        return [*value_loads(value.address), value]
    if isinstance(value, HeaderLength):
        return [value]
    if isinstance(value, Arith):
        return value_loads(value.left) + value_loads(value.right)
    if isinstance(value, Neg):
        return value_loads(value.operand)
    return []


def satisfiable(pred: Pred, budget: int = 100_000) -> bool:
    """False when no frame can pass, judged the way tcpdump's optimiser judges it: a test is decided
    by the equality tests on the same load that dominate it, following one path only until the
    first test those cannot decide (where paths merge in the program and the path's facts are lost).
    So `ip and ip6` and `tcp and udp` on Ethernet reject everything, as in tcpdump. Tests written as
    arithmetic and tests made by primitives are never used to decide each other (tcpdump accepts
    `ip proto 6 and ip[9] = 17` but rejects `ip[9] = 6 and ip[9] = 17`). Gives up (True) past
    `budget` steps."""
    steps = [0]

    def walk(node: Pred, outcome: bool, path: dict, dom: dict, then) -> bool:
        """Explore frames for which `node` evaluates to `outcome`; `then(path, dom)` continues."""
        steps[0] += 1
        if steps[0] > budget:
            return True
        if isinstance(node, Truth):
            return then(path, dom) if node.value == outcome else False
        if isinstance(node, Not):
            return walk(node.operand, not outcome, path, dom, then)
        if isinstance(node, And | Or):
            short = isinstance(node, Or)  # the outcome the left operand alone can decide
            if outcome == short:
                return walk(node.left, short, path, dom, then) or walk(
                    node.left, not short, path, dom,
                    lambda p, d: walk(node.right, short, p, _merge(dom, _must(node.left, not short)), then))
            return walk(node.left, not short, path, dom,
                        lambda p, d: walk(node.right, not short, p, _merge(dom, _must(node.left, not short)),
                                          then))
        return leaf(node, outcome, path, dom, then)

    def leaf(node: Cmp, outcome: bool, path: dict, dom: dict, then) -> bool:
        decided = _decide(node, path)
        if decided is not None:
            return then(path, dom) if decided == outcome else False
        fact = _fact(node, outcome)
        return then(_merge(dom, fact), _merge(dom, fact))

    return walk(pred, True, {}, {}, lambda path, dom: True)


def _fact(node: Pred, outcome: bool) -> dict:
    """What taking this branch teaches: an equality test, a value or excluded values of its load;
    any other test, its own outcome (the same test again goes the same way)."""
    if not isinstance(node, Cmp):
        return {}
    if node.op == "eq" and isinstance(node.right, Const):
        key = (node.left, node.origin)
        return {key: (node.right.value, frozenset())} if outcome else \
            {key: (None, frozenset((node.right.value,)))}
    return {node: (outcome, frozenset())}


def _merge(facts: dict, more: dict) -> dict:
    if not more:
        return facts
    merged = dict(facts)
    for load, (equal, different) in more.items():
        old_equal, old_different = merged.get(load, (None, frozenset()))
        merged[load] = (old_equal if equal is None else equal, old_different | different)
    return merged


def _must(node: Pred, outcome: bool) -> dict:
    """Facts true on every path where `node` evaluates to `outcome`."""
    if isinstance(node, Truth):
        return {}
    if isinstance(node, Not):
        return _must(node.operand, not outcome)
    if isinstance(node, And | Or):
        if outcome == isinstance(node, And):  # both operands had this outcome
            return _merge(_must(node.left, outcome), _must(node.right, outcome))
        left, right = _must(node.left, outcome), _must(node.right, outcome)
        return {load: fact for load, fact in left.items() if right.get(load) == fact}
    return _fact(node, outcome)


def _decide(node: Cmp, facts: dict) -> bool | None:
    if not (node.op == "eq" and isinstance(node.right, Const)):
        known = facts.get(node)
        return None if known is None else known[0]
    key = (node.left, node.origin)
    if node.op != "eq" or not isinstance(node.right, Const) or key not in facts:
        return None
    equal, different = facts[key]
    if equal is not None:
        return equal == node.right.value
    return False if node.right.value in different else None

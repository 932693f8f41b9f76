"""The filter as a decision graph, optimised the way tcpdump's optimiser does it, so both back ends
perform exactly the loads a tcpdump program would (which decides which short frames pass).

Built from the predicate with continuations (one test per node, both outcomes pointing at shared
nodes), then improved in passes until nothing changes:
  * a branch whose target's test is already decided by the tests that dominate the branch jumps
    straight past it ("jump threading": after `tcp`, the ethertype test of `ip` is known);
  * a test whose two outcomes lead to the same place is dropped, load and all;
  * identical nodes are merged.
What the dominating tests decide: an equality test with a constant fixes its load's value on the
true branch and excludes that value on the false branch; any other test decides only itself.
Arithmetic the user wrote and tests made by primitives never decide each other (tcpdump compiles
them differently).

Known limits, from random compositions checked against tcpdump 4.99 / libpcap 1.10: tcpdump's
optimiser sometimes proves more compositions empty ("expression rejects all packets") where this
graph still has paths (rawkit then accepts the expression and selects nothing); on frames cut short
by the snapshot length, a few compositions differ in which loads run and so in whether the frame
passes. libpcap also miscompiles some (`not net N or not (X and net N)` matches frames it must not);
rawkit keeps the logical meaning there.
"""

from __future__ import annotations

from rawkit.filter.ir import And, Cmp, Const, Not, Or, Pred, Truth
from rawkit.filter.record import Record

MAX_PASSES = 20


class Node:
    """A test with two successors, or a leaf (`test` None) that accepts or rejects."""

    __slots__ = ("test", "high", "low", "verdict")

    def __init__(self, test: Cmp | None, high: Node | None = None, low: Node | None = None,
                 verdict: bool = False) -> None:
        self.test = test
        self.high = high
        self.low = low
        self.verdict = verdict

    @property
    def leaf(self) -> bool:
        return self.test is None


ACCEPT = Node(None, verdict=True)
REJECT = Node(None, verdict=False)


class _Builder:
    def __init__(self) -> None:
        self.interned: dict[tuple, Node] = {}
        self.tests: dict[Cmp, Cmp] = {}
        self.loads: dict[object, object] = {}

    def canonical(self, test: Cmp) -> Cmp:
        """One object per distinct test and per distinct left operand, so that the optimiser's
        lookups find them by identity instead of comparing nested records field by field."""
        found = self.tests.get(test)
        if found is None:
            left = self.loads.setdefault(test.left, test.left)
            if left is not test.left:
                test = Cmp(test.op, left, test.right, test.origin)
            found = self.tests[test] = test
        return found

    def node(self, test: Cmp, high: Node, low: Node) -> Node:
        if high is low:
            return high
        test = self.canonical(test)
        key = (test, id(high), id(low))
        found = self.interned.get(key)
        if found is None:
            found = self.interned[key] = Node(test, high, low)
        return found

    def build(self, pred: Pred, high: Node, low: Node) -> Node:
        if isinstance(pred, Truth):
            return high if pred.value else low
        if isinstance(pred, Not):
            return self.build(pred.operand, low, high)
        if isinstance(pred, And):
            return self.build(pred.left, self.build(pred.right, high, low), low)
        if isinstance(pred, Or):
            return self.build(pred.left, high, self.build(pred.right, high, low))
        return self.node(pred, high, low)


class Graph(Record):
    """`root` (ACCEPT or REJECT when the outcome never depends on the frame), and `prelude`: the
    first test of the expression when the optimiser dropped it but other tests remain. tcpdump keeps
    that test's loads (they were in the program's first block), so a frame too short for them is
    still rejected."""

    __slots__ = ("root", "prelude")
    root: Node
    prelude: Cmp | None


def decision_graph(pred: Pred) -> Graph:
    root = _Builder().build(pred, ACCEPT, REJECT)
    for _ in range(MAX_PASSES):
        root, changed = _optimise(root)
        if not changed:
            break
    first = _first_test(pred)
    kept = first is None or root.leaf or root.test == first  # a bare verdict keeps no loads
    return Graph(root, None if kept else first)


def _first_test(pred: Pred) -> Cmp | None:
    while isinstance(pred, And | Or | Not):
        pred = pred.operand if isinstance(pred, Not) else pred.left
    return pred if isinstance(pred, Cmp) else None


def topological(root: Node) -> list[Node]:
    """Test nodes, each before all of its successors."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if node.leaf:
            continue
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.append((node.low, False))
        stack.append((node.high, False))
    order.reverse()
    return order


def _key(test: Cmp):
    if test.op == "eq" and isinstance(test.right, Const):
        return (test.left, test.origin)
    return test


def _edge_fact(test: Cmp, outcome: bool) -> tuple:
    """(key, kind, value): kind "is" (load == value), "not" (load != value) or "was" (same test)."""
    if test.op == "eq" and isinstance(test.right, Const):
        return (_key(test), "is" if outcome else "not", test.right.value)
    return (test, "was", outcome)


# What the dominating edges of a node establish: {key: {edge: (kind, value)}}, grouped by the key a
# test looks up so that deciding a test reads only the facts about its own load, however long the
# chain of tests above it (a filter of 300 ports has thousands).
Facts = dict[object, dict[tuple, tuple]]


def _decide(test: Cmp, facts: Facts) -> bool | None:
    about = facts.get(_key(test))
    if not about:
        return None
    for kind, value in about.values():
        if kind == "was":
            return value
        if kind == "is":
            return value == test.right.value
        if value == test.right.value:
            return False
    return None


def _with_edge(known: Facts, edge: tuple, test: Cmp, outcome: bool) -> Facts:
    key, kind, value = _edge_fact(test, outcome)
    extended = dict(known)
    extended[key] = {**known.get(key, {}), edge: (kind, value)}
    return extended


def _common(before: Facts, known: Facts) -> Facts:
    """The facts established on both ways in: those of the edges both have."""
    common: Facts = {}
    for key, about in before.items():
        other = known.get(key)
        if other is None:
            continue
        kept = {edge: fact for edge, fact in about.items() if edge in other}
        if kept:
            common[key] = kept
    return common


def _optimise(root: Node) -> tuple[Node, bool]:
    changed = False
    order = topological(root)
    # dominating facts of each node, intersected over every way into it
    facts: dict[int, Facts] = {id(root): {}}

    def thread(target: Node, known: Facts) -> Node:
        while not target.leaf:
            decided = _decide(target.test, known)
            if decided is None:
                break
            target = target.high if decided else target.low
        return target

    def arrive(target: Node, known: Facts) -> None:
        if target.leaf:
            return
        before = facts.get(id(target))
        facts[id(target)] = known if before is None else _common(before, known)

    if not root.leaf:
        decided = _decide(root.test, {})
        if decided is not None:
            return (root.high if decided else root.low), True
    for node in order:
        known = facts.get(id(node))
        if known is None:  # no longer reachable
            continue
        for outcome in (True, False):
            edge_known = _with_edge(known, (id(node), outcome), node.test, outcome)
            target = node.high if outcome else node.low
            threaded = thread(target, edge_known)
            if threaded is not target:
                changed = True
                if outcome:
                    node.high = threaded
                else:
                    node.low = threaded
            arrive(threaded, edge_known)
    root, merged = _simplify(root)
    return root, changed or merged


def _simplify(root: Node) -> tuple[Node, bool]:
    """Drop tests whose outcomes meet, merge identical nodes; bottom up."""
    changed = False
    replacement: dict[int, Node] = {}
    interned: dict[tuple, Node] = {}
    for node in reversed(topological(root)):
        high = replacement.get(id(node.high), node.high)
        low = replacement.get(id(node.low), node.low)
        if high is low:
            replacement[id(node)] = high
            changed = True
            continue
        if high is not node.high or low is not node.low:
            node.high, node.low = high, low
        key = (node.test, id(high), id(low))
        twin = interned.get(key)
        if twin is not None and twin is not node:
            replacement[id(node)] = twin
            changed = True
        else:
            interned[key] = node
    return replacement.get(id(root), root), changed

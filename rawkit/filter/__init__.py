"""The tcpdump filter language: `compile(expression, linktype)` gives a fast Python predicate
(`match`) and a classic BPF program (`bpf`) from one intermediate form, with tcpdump's meaning; and
`window(byte_order)`, the same test as one expression over a record left in a capture file's buffer,
which the pcap and pcapng readers inline into their record walks (rawkit.pcap.scan).

    flt = rawkit.filter.compile("tcp[tcpflags] & tcp-syn != 0 and not port 22", linktype=1)
    flt.match(frame) -> bool ; flt.bpf() -> [(code, jt, jf, k), ...]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rawkit.filter.dag import ACCEPT, REJECT, Graph, decision_graph
from rawkit.filter.errors import FilterError
from rawkit.filter.linktypes import link_layer
from rawkit.filter.pycode import python_predicate, python_source
from rawkit.filter.semantics import Generator
from rawkit.filter.syntax import parse

if TYPE_CHECKING:
    from rawkit.filter.window import Window

__all__ = ["Filter", "FilterError", "compile", "read_filter_file"]

TOO_DEEP = "expression too complex (too deeply nested or too many chained terms)"


class Filter:
    """A compiled filter. `match(frame, wirelen=None)`: wirelen is the original length on the wire
    (what `len`, `less`, `greater` test); it defaults to len(frame)."""

    def __init__(self, expression: str, linktype: int, graph: Graph) -> None:
        self.expression = expression
        self.linktype = linktype
        self.graph = graph
        self.match: Callable[..., bool] = python_predicate(graph)

    def bpf(self, snaplen: int = 262144) -> list[tuple[int, int, int, int]]:
        from rawkit.filter.bpf import bpf_program  # offline reading never needs the BPF back end

        try:
            return bpf_program(self.graph, snaplen)
        except RecursionError:
            raise FilterError(TOO_DEEP) from None

    def window(self, byte_order: str) -> Window | None:
        """The filter as one expression over a record left in a capture's buffer (see window.py), for
        a reader's record walk; None when the filter is too large for that form."""
        from rawkit.filter.window import window  # only pcap reading uses it

        try:
            return window(self.graph, byte_order)
        except RecursionError:  # the record walk then uses match, which exists
            return None

    @property
    def python_source(self) -> str:
        return python_source(self.graph)

    def __repr__(self) -> str:
        return f"<Filter {self.expression!r} linktype {self.linktype}>"


def compile(expression: str, linktype: int = 1) -> Filter:  # noqa: A001 - the name DESIGN.md gives
    """Compile a tcpdump filter expression for frames of `linktype`; raises FilterError."""
    link = link_layer(int(linktype))
    if not expression.strip():
        return Filter(expression, link.linktype, Graph(ACCEPT, None))
    try:
        graph = decision_graph(Generator(link).generate(parse(expression)))
        if graph.root is REJECT:
            raise FilterError("expression rejects all packets")
        return Filter(expression, link.linktype, graph)
    except RecursionError:  # the passes recurse once per nesting level or chained and/or
        raise FilterError(TOO_DEEP) from None


def read_filter_file(path: str) -> str:
    """A filter kept in a file (tcpdump -F): '#' starts a comment that runs to the end of the line."""
    try:
        with open(path, encoding="utf-8", errors="replace") as source:
            lines = source.read().splitlines()
    except OSError as error:
        raise FilterError(f"can't open {path}: {error.strerror or error}") from None
    return " ".join(line.split("#", 1)[0] for line in lines).strip()

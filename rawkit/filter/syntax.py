"""Parser: tokens -> syntax tree, following tcpdump's grammar.

`and` and `or` share one precedence level and associate left to right; `not` binds tightest. A bare
address after `and`/`or`/`not` reuses the qualifiers of the last `qualifiers id` primitive
(`host 198.18.0.1 and port 80 or 443`); any other kind of term clears them, as in tcpdump.
"""

from __future__ import annotations

from rawkit.filter.errors import FilterError
from rawkit.filter.lexer import Token, tokenize
from rawkit.filter.record import Record

PROTO_QUALIFIERS = frozenset(("ether", "link", "ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp", "icmp",
                              "icmp6", "igmp"))
DIR_QUALIFIERS = frozenset(("src", "dst"))
TYPE_QUALIFIERS = frozenset(("host", "net", "port", "portrange", "gateway"))
RELATIONS = {">": "gt", "<": "lt", ">=": "ge", "<=": "le", "=": "eq", "==": "eq", "!=": "ne"}
# tcpdump's grammar gives '%' and '^' no precedence, so they always take the longest right operand
# and the shortest left one: `2 * 3 % 4 + 1` is 2 * (3 % (4 + 1)), `12 % 5 % 3` is 12 % (5 % 3)
ARITH_LEVELS = (("|",), ("&",), ("<<", ">>"), ("+", "-"), ("*", "/"))
GREEDY_OPS = ("%", "^")
ARITH_OPS = frozenset(op for level in ARITH_LEVELS for op in level) | frozenset(GREEDY_OPS)


class Qualifiers(Record):
    __slots__ = ("proto", "dir", "kind")
    _defaults = {"proto": None, "dir": None, "kind": None}
    proto: str | None
    dir: str | None  # "src", "dst", "or" (either), "and" (both)
    kind: str | None  # host, net, port, portrange, gateway, proto


class Ident(Record):
    """kind: num, hid, hid6, eid, id; `prefix`/`mask` for net forms."""

    __slots__ = ("kind", "text", "value", "prefix", "mask")
    _defaults = {"value": None, "prefix": None, "mask": None}
    kind: str
    text: str
    value: int | None
    prefix: int | None
    mask: str | None


class Primitive(Record):
    __slots__ = ("qualifiers", "ident", "position")
    qualifiers: Qualifiers
    ident: Ident
    position: int


class Keyword(Record):
    """Qualifier-free terms: pname (`tcp`), broadcast, multicast, less, greater, vlan."""

    __slots__ = ("name", "proto", "number", "position")
    _defaults = {"proto": None, "number": None, "position": 0}
    name: str
    proto: str | None
    number: int | None
    position: int


class Relation(Record):
    __slots__ = ("op", "left", "right")
    op: str
    left: Arith
    right: Arith


class BoolOp(Record):
    __slots__ = ("op", "left", "right")
    op: str  # and, or
    left: Node
    right: Node


class Negation(Record):
    __slots__ = ("operand",)
    operand: Node


class Number(Record):
    __slots__ = ("value",)
    value: int


class PacketLength(Record):
    __slots__ = ()


class Access(Record):
    __slots__ = ("proto", "index", "size", "position")
    proto: str
    index: Arith
    size: int
    position: int


class Binary(Record):
    __slots__ = ("op", "left", "right")
    op: str
    left: Arith
    right: Arith


class Negative(Record):
    __slots__ = ("operand",)
    operand: Arith


Arith = Number | PacketLength | Access | Binary | Negative
Node = Primitive | Keyword | Relation | BoolOp | Negation

_ID_KINDS = frozenset(("num", "hid", "hid6", "eid", "id"))


class _Backtrack(Exception):
    """Internal: this parse attempt does not fit; try the other reading."""


class Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.index = 0
        self.last: Qualifiers | None = None

    # --- token helpers
    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def at(self, *texts: str) -> bool:
        return self.token.kind in ("op", "kw") and self.token.text in texts

    def advance(self) -> Token:
        token = self.token
        self.index += 1
        return token

    def expect(self, text: str) -> Token:
        if not self.at(text):
            self.fail()
        return self.advance()

    def fail(self, token: Token | None = None) -> None:
        token = token or self.token
        if token.kind == "end":
            raise FilterError("syntax error in filter expression at end of expression", token.position)
        raise FilterError(f"syntax error in filter expression at '{token.text}'", token.position)

    # --- boolean structure
    def parse(self) -> Node:
        if self.token.kind == "end":
            raise FilterError("empty filter expression", 0)
        try:
            node = self.expression()
        except _Backtrack:  # a ')' no '(' was waiting for
            self.fail()
        if self.token.kind != "end":
            self.fail()
        return node

    def expression(self) -> Node:
        node = self.term()
        while self.at("and", "&&", "or", "||"):
            op = "and" if self.advance().text in ("and", "&&") else "or"
            node = BoolOp(op, node, self.term_or_bare_id())
        return node

    def term_or_bare_id(self) -> Node:
        if self.last is not None:
            if self._bare_id_follows():
                return self.id_list(self.last)
            if self.at("(") and self.peek().kind in _ID_KINDS:
                saved = self.index
                try:
                    return self.id_list(self.last)
                except (_Backtrack, FilterError):
                    self.index = saved
        return self.term()

    def _bare_id_follows(self) -> bool:
        token = self.token
        if token.kind in ("hid", "hid6", "eid", "id"):
            return True
        if token.kind == "num":
            after = self.peek()
            return not (after.kind == "op" and (after.text in RELATIONS or after.text in ARITH_OPS))
        return False

    def term(self) -> Node:
        if self.at("not", "!"):
            self.advance()
            if self.last is not None and self._bare_id_follows():
                return Negation(self.id_list(self.last))
            return Negation(self.term())
        return self.primary()

    def primary(self) -> Node:
        token = self.token
        if self.at("("):
            saved = self.index
            try:
                relation = self.relation()
                self.last = None
                return relation
            except (_Backtrack, FilterError):
                self.index = saved
            self.advance()
            node = self.expression()
            self.expect(")")
            self.last = None
            return node
        if token.kind == "num" or self.at("len", "-"):
            self.last = None
            return self.relation()
        if token.kind != "kw":
            self.fail()
        word = token.text
        if word in ("less", "greater"):
            self.advance()
            if self.token.kind != "num":
                self.fail()
            self.last = None
            return Keyword(word, number=self.advance().value, position=token.position)
        if word == "vlan":
            self.advance()
            number = self.advance().value if self.token.kind == "num" else None
            self.last = None
            return Keyword("vlan", number=number, position=token.position)
        if word in ("broadcast", "multicast"):
            self.advance()
            self.last = None
            return Keyword(word, position=token.position)
        if word in PROTO_QUALIFIERS:
            after = self.peek()
            if after.kind == "op" and after.text == "[":
                self.last = None
                return self.relation()
            if after.kind == "kw" and after.text in ("broadcast", "multicast"):
                self.advance()
                self.advance()
                self.last = None
                return Keyword(after.text, proto=word, position=token.position)
            if not (after.kind == "kw" and (after.text in DIR_QUALIFIERS or after.text in TYPE_QUALIFIERS
                                            or after.text == "proto")):
                self.advance()
                self.last = None
                return Keyword("pname", proto=word, position=token.position)
        if word in PROTO_QUALIFIERS or word in DIR_QUALIFIERS or word in TYPE_QUALIFIERS or word == "proto":
            qualifiers = self.qualifiers()
            node = self._id_or_negated(qualifiers)  # tcpdump also takes `port not 80`
            self.last = qualifiers
            return node
        self.fail()
        raise AssertionError  # unreachable: fail() raises

    def qualifiers(self) -> Qualifiers:
        proto = direction = kind = None
        if self.at(*PROTO_QUALIFIERS):
            proto = self.advance().text
        if self.at(*DIR_QUALIFIERS):
            direction = self.advance().text
            if self.at("or", "and", "&&", "||") and self.peek().kind == "kw" and \
                    self.peek().text in DIR_QUALIFIERS and self.peek().text != direction:
                direction = "and" if self.advance().text in ("and", "&&") else "or"
                self.advance()
        if self.at(*TYPE_QUALIFIERS) or self.at("proto"):
            kind = self.advance().text
        if proto is None and direction is None and kind is None:
            self.fail()
        return Qualifiers(proto, direction, kind)

    def id_list(self, qualifiers: Qualifiers) -> Node:
        """One id, or a parenthesised and/or list of ids sharing the qualifiers."""
        if not self.at("("):
            position = self.token.position
            return Primitive(qualifiers, self.ident(), position)
        self.advance()
        node = self._id_or_negated(qualifiers)
        while self.at("and", "&&", "or", "||"):
            op = "and" if self.advance().text in ("and", "&&") else "or"
            node = BoolOp(op, node, self._id_or_negated(qualifiers))
        if not self.at(")"):
            raise _Backtrack
        self.advance()
        return node

    def _id_or_negated(self, qualifiers: Qualifiers) -> Node:
        if self.at("not", "!"):
            self.advance()
            return Negation(self._id_or_negated(qualifiers))
        return self.id_list(qualifiers)

    def ident(self) -> Ident:
        token = self.token
        if token.kind not in _ID_KINDS:
            self.fail()
        self.advance()
        if token.kind == "hid" and self.at("/"):
            self.advance()
            return Ident("hid", token.text, prefix=self._prefix_length())
        if token.kind == "hid" and self.at("mask"):
            self.advance()
            if self.token.kind != "hid":
                self.fail()
            return Ident("hid", token.text, mask=self.advance().text)
        if token.kind == "hid6" and self.at("/"):
            self.advance()
            return Ident("hid6", token.text, prefix=self._prefix_length())
        return Ident(token.kind, token.text, token.value)

    def _prefix_length(self) -> int:
        if self.token.kind != "num":
            self.fail()
        return self.advance().value

    # --- arithmetic
    def relation(self) -> Relation:
        left = self.arith()
        if not (self.token.kind == "op" and self.token.text in RELATIONS):
            if self.token.kind == "op" and self.token.text == ")":
                raise _Backtrack
            self.fail()
        op = RELATIONS[self.advance().text]
        return Relation(op, left, self.arith())

    def arith(self, level: int = 0) -> Arith:
        if level == len(ARITH_LEVELS):
            return self.unary()
        node = self.arith(level + 1)
        while self.token.kind == "op" and self.token.text in ARITH_LEVELS[level]:
            op = self.advance().text
            node = Binary(op, node, self.arith(level + 1))
        return node

    def unary(self) -> Arith:
        if self.at("-"):
            self.advance()
            return Negative(self.unary())
        operand = self.primary_value()
        if self.at(*GREEDY_OPS):
            op = self.advance().text
            return Binary(op, operand, self.arith())
        return operand

    def primary_value(self) -> Arith:
        token = self.token
        if token.kind == "num":
            self.advance()
            return Number(token.value)
        if self.at("len"):
            self.advance()
            return PacketLength()
        if self.at("("):
            self.advance()
            inner = self.arith()
            if not self.at(")"):
                raise _Backtrack
            self.advance()
            return inner
        if token.kind == "kw" and token.text in PROTO_QUALIFIERS and self.peek().text == "[":
            self.advance()
            self.advance()
            index = self.arith()
            size = 1
            if self.at(":"):
                self.advance()
                if self.token.kind != "num":
                    self.fail()
                size = self.advance().value
                if size not in (1, 2, 4):
                    raise FilterError("data size must be 1, 2, or 4", token.position)
            self.expect("]")
            return Access(token.text, index, size, token.position)
        if token.kind == "op" and token.text == ")":
            raise _Backtrack
        self.fail()
        raise AssertionError  # unreachable


def parse(source: str) -> Node:
    return Parser(source).parse()

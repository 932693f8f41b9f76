"""Recursive descent over one statement's tokens: time column, then a packet, call, shell or python."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

from rawkit.script import lexer
from rawkit.script.errors import ScriptSyntaxError
from rawkit.script.lexer import Token
from rawkit.script.nodes import (
    Anything,
    Array,
    BitOr,
    Expr,
    Field,
    IcmpPacket,
    Instant,
    Int,
    Name,
    OptionLine,
    PacketEvent,
    PythonEvent,
    Script,
    SeqRange,
    ShellEvent,
    Statement,
    String,
    Struct,
    SyscallEvent,
    SyscallResult,
    TcpOption,
    TcpPacket,
    Timing,
)
from rawkit.script.render import render_expr

TCP_FLAG_LETTERS = "SFRPUEW."  # `.` is ACK; `-` alone means no flags
ECN_MARKS = ("noecn", "ect0", "ect1", "ect01", "ce")
MAX_NUMBER_DIGITS = 40  # far beyond any 64-bit value; keeps int() away from huge digit strings
_NO_VALUE_OPTIONS = ("nop", "eol", "sackOK")
_TEXT_OPTIONS = ("FO", "FOEXP", "md5")


def parse(text: str, path: str = "<script>") -> Script:
    """Parse packetdrill script text; raise ScriptSyntaxError (file, line, reason) if it is malformed."""
    return Script(path, tuple(_Statement(tokens, path).parse() for tokens in lexer.statements(text, path)))


def parse_file(path: str | Path) -> Script:
    """Parse a .pkt file (UTF-8; undecodable bytes are a syntax error, not a crash)."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise ScriptSyntaxError(str(path), line, "not UTF-8 text") from None
    return parse(text, str(path))


class _Statement:
    """A cursor over one statement's tokens."""

    def __init__(self, tokens: list[Token], path: str) -> None:
        self.tokens = tokens
        self.index = 0
        self.path = path

    # ---- cursor helpers

    def peek(self, ahead: int = 0) -> Token | None:
        index = self.index + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def at(self, *kinds: str) -> bool:
        token = self.peek()
        return token is not None and token.kind in kinds

    def at_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "WORD" and token.text == word

    def error(self, reason: str, token: Token | None = None) -> ScriptSyntaxError:
        where = token or self.peek() or self.tokens[-1]
        return ScriptSyntaxError(self.path, where.line, reason)

    def describe(self) -> str:
        token = self.peek()
        return "end of line" if token is None else repr(token.text[:20])

    def take(self, *kinds: str, what: str = "") -> Token:
        token = self.peek()
        if token is None or token.kind not in kinds:
            raise self.error(f"expected {what or ' or '.join(kinds)}, found {self.describe()}")
        self.index += 1
        return token

    def take_int(self, what: str) -> int:
        negative = self.at("-")
        if negative:
            self.index += 1
        token = self.take("NUMBER", what=what)
        if len(token.text) > MAX_NUMBER_DIGITS:
            raise self.error(f"number too long for {what}", token)
        if "." in token.text:
            raise self.error(f"expected an integer {what}, found {token.text!r}", token)
        value = int(token.text, 0) if token.text.lower().startswith("0x") else int(token.text)
        return -value if negative else value

    def adjacent(self) -> bool:
        """True if the next token touches the previous one (no space between)."""
        previous, token = self.tokens[self.index - 1], self.peek()
        return token is not None and previous.end == token.start

    # ---- statements

    def parse(self) -> Statement:
        first = self.tokens[0]
        if first.kind == "OPTION":
            if len(self.tokens) > 1:
                raise self.error("unexpected text after option", self.tokens[1])
            name, _, value = first.text[2:].partition("=")
            return OptionLine(name, value if "=" in first.text else None, first.line)
        timing = None if first.kind in ("SHELL", "PYTHON") else self.timing()
        token = self.peek()
        if token is None:
            raise self.error("a time with no event after it")
        if token.kind in ("SHELL", "PYTHON"):
            self.index += 1
            self.end()
            if token.kind == "SHELL":
                return ShellEvent(timing, token.text, first.line)
            return PythonEvent(timing, token.text, first.line)
        assert timing is not None  # only a SHELL or PYTHON first token leaves it unset
        if token.kind in ("<", ">"):
            self.index += 1
            return self.packet(timing, "<" if token.kind == "<" else ">", first.line)
        following = self.peek(1)
        if token.kind == "WORD" and following is not None and following.kind == "(":
            return self.syscall(timing, first.line)
        raise self.error(
            f"expected a packet (< or >), a system call, `shell` or %{{ }}%, found {self.describe()}"
        )

    def end(self) -> None:
        if self.peek() is not None:
            raise self.error(f"unexpected {self.describe()} at end of statement")

    # ---- time column

    def timing(self) -> Timing:
        if self.at("*"):
            self.index += 1
            return Timing(None)
        start = self.instant()
        if self.at("~", "ELLIPSIS"):
            separator = "~" if self.take("~", "ELLIPSIS").kind == "~" else "..."
            return Timing(start, self.instant(), separator)
        return Timing(start)

    def instant(self) -> Instant:
        relative = self.at("+")
        if relative:
            self.index += 1
        token = self.take("NUMBER", what="a time (such as 0, +.1 or *)")
        if len(token.text) > MAX_NUMBER_DIGITS:
            raise self.error(f"time {token.text[:20]}... too long", token)
        try:
            seconds = Decimal(token.text) if not token.text.lower().startswith("0x") else None
        except InvalidOperation:
            seconds = None
        if seconds is None:
            raise self.error(f"bad time {token.text!r}", token)
        return Instant(int(seconds * 1_000_000), relative)

    # ---- packets

    def packet(self, timing: Timing, direction: Literal["<", ">"], line: int) -> PacketEvent:
        ecn = None
        if self.at("["):
            self.index += 1
            mark = self.take("WORD", what="an ECN mark")
            if mark.text not in ECN_MARKS:
                raise self.error(f"unknown ECN mark [{mark.text}] (want one of {', '.join(ECN_MARKS)})", mark)
            self.take("]")
            ecn = mark.text
        if self.at_word("icmp"):
            self.index += 1
            packet: TcpPacket | IcmpPacket = self.icmp()
        else:
            packet = self.tcp()
        self.end()
        return PacketEvent(timing, direction, packet, ecn, line)

    def tcp_flags(self) -> str:
        token = self.peek()
        if token is None or token.kind not in ("WORD", ".", "-"):
            raise self.error(f"expected TCP flags (such as S, S., P., F., R or .), found {self.describe()}")
        text = token.text
        self.index += 1
        while self.at("WORD", ".", "-") and self.adjacent():
            text += self.take("WORD", ".", "-").text
        if text == "-":
            return text
        bad = sorted(set(text) - set(TCP_FLAG_LETTERS))
        if bad or len(set(text)) != len(text):
            why = f"letter {bad[0]!r}" if bad else "a repeated letter"
            raise self.error(f"bad TCP flags {text!r}: {why} (allowed: S F R P U E W . or -)", token)
        return text

    def seq_range(self) -> SeqRange:
        start = self.take_int("sequence start")
        self.take(":", what="':' in start:end(length)")
        end = self.take_int("sequence end")
        self.take("(", what="'(' in start:end(length)")
        length = self.take_int("payload length")
        self.take(")", what="')' in start:end(length)")
        return SeqRange(start, end, length)

    def tcp(self) -> TcpPacket:
        flags = self.tcp_flags()
        seq = self.seq_range()
        values: dict[str, int] = {}
        options: tuple[TcpOption, ...] | Literal["..."] | None = None
        while self.peek() is not None:
            token = self.peek()
            if token.kind == "WORD" and token.text in ("ack", "win", "urg"):
                if token.text in values:
                    raise self.error(f"'{token.text}' given twice")
                self.index += 1
                values[token.text] = self.take_int(f"'{token.text}' value")
            elif token.kind == "<" and options is None:
                self.index += 1
                options = self.tcp_options()
            else:
                raise self.error(f"unexpected {self.describe()} (want ack, win, urg or <options>)")
        return TcpPacket(flags, seq, values.get("ack"), values.get("win"), values.get("urg"), options)

    def tcp_options(self) -> tuple[TcpOption, ...] | Literal["..."]:
        if self.at("ELLIPSIS"):
            self.index += 1
            self.take(">", what="'>' after <...")
            return "..."
        options = [self.tcp_option()]
        while self.at(","):
            self.index += 1
            options.append(self.tcp_option())
        self.take(">", what="',' or '>' in the TCP option list")
        return tuple(options)

    def tcp_option(self) -> TcpOption:
        token = self.take("WORD", what="a TCP option name")
        kind = token.text
        if kind in _NO_VALUE_OPTIONS:
            return TcpOption(kind)
        if kind in ("mss", "wscale"):
            return TcpOption(kind, (self.take_int(f"{kind} value"),))
        if kind == "TS":
            if not self.at_word("val"):
                raise self.error("expected 'val' in TS val N ecr N")
            self.index += 1
            value = self.take_int("TS val")
            if not self.at_word("ecr"):
                raise self.error("expected 'ecr' in TS val N ecr N")
            self.index += 1
            return TcpOption(kind, (value, self.take_int("TS ecr")))
        if kind == "sack":
            blocks: list[tuple[int, int]] = []
            while self.at("NUMBER"):
                left = self.take_int("sack block start")
                self.take(":", what="':' in a sack block")
                blocks.append((left, self.take_int("sack block end")))
            if not blocks:
                raise self.error("sack needs at least one start:end block")
            return TcpOption(kind, tuple(blocks))
        if kind in _TEXT_OPTIONS:
            if self.at("WORD", "NUMBER"):
                return TcpOption(kind, (self.take("WORD", "NUMBER").text,))
            if kind == "md5":
                raise self.error("md5 needs a hex digest")
            return TcpOption(kind)
        raise self.error(f"unknown TCP option {kind!r}", token)

    def icmp(self) -> IcmpPacket:
        icmp_type = self.take("WORD", what="an ICMP type (such as unreachable)").text
        code = mtu = quoted = None
        if self.at("WORD") and not self.at_word("mtu"):
            code = self.take("WORD").text
        if self.at_word("mtu"):
            self.index += 1
            mtu = self.take_int("mtu value")
        if self.at("["):
            self.index += 1
            quoted = self.seq_range()
            self.take("]")
        return IcmpPacket(icmp_type, code, mtu, quoted)

    # ---- system calls

    def syscall(self, timing: Timing, line: int) -> SyscallEvent:
        name = self.take("WORD").text
        self.take("(")
        args: list[Expr] = []
        if not self.at(")"):
            args.append(self.expr())
            while self.at(","):
                self.index += 1
                args.append(self.expr())
        self.take(")", what="',' or ')' after a system call argument")
        if not self.at("="):
            raise self.error(f"expected '= result' after {name}(...), found {self.describe()}")
        self.index += 1
        value = self.expr()
        errno = note = None
        if self.at("WORD"):
            errno = self.take("WORD").text
        if self.at("("):
            self.index += 1
            first_note_token, depth = self.index, 1
            while depth:
                token = self.take(*_NOTE_KINDS, what="')' closing the note")
                depth += {"(": 1, ")": -1}.get(token.kind, 0)
            note = _note_text(self.tokens[first_note_token : self.index - 1])
        self.end()
        return SyscallEvent(timing, name, tuple(args), SyscallResult(value, errno, note), line)

    def expr(self) -> Expr:
        terms = [self.primary()]
        while self.at("|"):
            self.index += 1
            terms.append(self.primary())
        return terms[0] if len(terms) == 1 else BitOr(tuple(terms))

    def primary(self) -> Expr:
        token = self.peek()
        if token is None:
            raise self.error("expected a value, found end of line")
        if token.kind == "ELLIPSIS":
            self.index += 1
            return Anything()
        if token.kind in ("NUMBER", "-"):
            return Int(self.take_int("value"))
        if token.kind == "STRING":
            self.index += 1
            return String(token.text)
        if token.kind == "WORD":
            self.index += 1
            return Name(token.text)
        if token.kind == "[":
            self.index += 1
            items: list[Expr] = []
            if not self.at("]"):
                items.append(self.expr())
                while self.at(","):
                    self.index += 1
                    items.append(self.expr())
            self.take("]", what="',' or ']' in an array")
            return Array(tuple(items))
        if token.kind == "{":
            self.index += 1
            fields: list[Field | Expr] = []
            if not self.at("}"):
                fields.append(self.struct_item())
                while self.at(","):
                    self.index += 1
                    fields.append(self.struct_item())
            self.take("}", what="',' or '}' in a struct")
            return Struct(tuple(fields))
        raise self.error(f"expected a value, found {self.describe()}")

    def struct_item(self) -> Field | Expr:
        following = self.peek(1)
        if self.at("WORD") and following is not None and following.kind in ("=", "("):
            name = self.take("WORD").text
            count = None
            if self.at("("):
                self.index += 1
                count = self.expr()
                self.take(")", what=f"')' after {name}(count")
            self.take("=", what=f"'=' after field {name}")
            return Field(name, self.expr(), count)
        return self.expr()


_NOTE_KINDS = ("NUMBER", "WORD", "STRING", "ELLIPSIS", "OPTION", *"-+*~<>=:,.()[]{}|")


def _note_text(tokens: list[Token]) -> str:
    """The free text of `(Resource temporarily unavailable)`: tokens joined, one space where any was."""
    parts: list[str] = []
    for previous, token in zip([None, *tokens], tokens, strict=False):
        if previous is not None and previous.end < token.start:
            parts.append(" ")
        parts.append(render_expr(String(token.text)) if token.kind == "STRING" else token.text)
    return "".join(parts)

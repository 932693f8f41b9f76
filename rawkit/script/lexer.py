"""Split script text into statements of tokens.

A statement ends at a newline unless a bracket is still open (multi-line system calls) or a
backtick command / `%{ python }%` block spans lines; those two are kept as raw text, since their
content is another language. `//` and `/* */` comments are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rawkit.script.errors import ScriptSyntaxError

# kinds: NUMBER, WORD, STRING, SHELL, PYTHON, OPTION, ELLIPSIS, or the punctuation character itself
_TOKEN = re.compile(
    r"""
      (?P<OPTION>--[A-Za-z_][\w-]*(?:=[^\s/]\S*)?)
    | (?P<ELLIPSIS>\.\.\.)
    | (?P<NUMBER>0[xX][0-9a-fA-F]+(?![\w])|\d+(?:\.\d+)?(?![\w])|\.\d+(?![\w]))
    | (?P<WORD>\w+)
    | (?P<PUNCT>[-+*~<>=:,.()\[\]{}|])
    """,
    re.VERBOSE | re.ASCII,
)
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {")": "(", "]": "[", "}": "{"}
MAX_NESTING = 32


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    line: int
    start: int  # offsets into the source, to tell `S.` (adjacent) from `S .` and to slice notes
    end: int


def statements(text: str, path: str) -> list[list[Token]]:
    """Tokens of each statement, in order; raise ScriptSyntaxError on a lexical error."""
    result: list[list[Token]] = []
    current: list[Token] = []
    open_brackets: list[Token] = []
    position, line, length = 0, 1, len(text)

    def fail(reason: str, at_line: int) -> ScriptSyntaxError:
        return ScriptSyntaxError(path, at_line, reason)

    while position < length:
        char = text[position]
        if char == "\n":
            line += 1
            position += 1
            if not open_brackets and current:
                result.append(current)
                current = []
            continue
        if char in " \t\r\f\v":
            position += 1
            continue
        if text.startswith("//", position):
            newline = text.find("\n", position)
            position = length if newline < 0 else newline
            continue
        if text.startswith("/*", position):
            close = text.find("*/", position + 2)
            if close < 0:
                raise fail("unterminated /* comment", line)
            line += text.count("\n", position, close)
            position = close + 2
            continue
        if char == "`" or text.startswith("%{", position):
            kind, closer, skip = ("SHELL", "`", 1) if char == "`" else ("PYTHON", "}%", 2)
            close = text.find(closer, position + skip)
            if close < 0:
                what = "backtick command" if kind == "SHELL" else "%{ python block (no closing }%)"
                raise fail(f"unterminated {what}", line)
            current.append(Token(kind, text[position + skip : close], line, position, close + len(closer)))
            line += text.count("\n", position, close)
            position = close + len(closer)
            continue
        if char == '"':
            value, end = _string(text, position, path, line)
            current.append(Token("STRING", value, line, position, end))
            position = end
            continue
        match = _TOKEN.match(text, position)
        if match is None:
            raise fail(f"unexpected character {char!r}", line)
        kind = match.lastgroup or "PUNCT"
        token_text = match.group()
        token = Token(token_text if kind == "PUNCT" else kind, token_text, line, position, match.end())
        if token_text in _OPENERS:
            if len(open_brackets) >= MAX_NESTING:
                raise fail(f"brackets nested deeper than {MAX_NESTING}", line)
            open_brackets.append(token)
        elif token_text in _CLOSERS:
            if not open_brackets:
                raise fail(f"unbalanced {token_text!r}: nothing to close", line)
            opener = open_brackets.pop()
            if _OPENERS[opener.text] != token_text:
                raise fail(f"{token_text!r} closes {opener.text!r} opened at line {opener.line}", line)
        current.append(token)
        position = match.end()
    if open_brackets:
        opener = open_brackets[-1]
        raise fail(f"unclosed {opener.text!r} (end of file reached)", opener.line)
    if current:
        result.append(current)
    return result


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"'}


def _string(text: str, position: int, path: str, line: int) -> tuple[str, int]:
    """A C-style double-quoted string starting at `position`; returns (value, end offset)."""
    chars: list[str] = []
    index = position + 1
    while index < len(text):
        char = text[index]
        if char == '"':
            return "".join(chars), index + 1
        if char == "\n":
            break
        if char == "\\" and index + 1 < len(text):
            escaped = text[index + 1]
            if escaped not in _ESCAPES:
                raise ScriptSyntaxError(path, line, f"unknown string escape \\{escaped}")
            chars.append(_ESCAPES[escaped])
            index += 2
            continue
        chars.append(char)
        index += 1
    raise ScriptSyntaxError(path, line, "unterminated string")

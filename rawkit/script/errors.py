"""The one error a script parse can raise."""

from __future__ import annotations


class ScriptSyntaxError(ValueError):
    """A malformed script: which file, which line, and a one-line reason."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason

"""Where writers put their bytes: a path, "-" (stdout) or an open binary file object."""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import BinaryIO, Self

Destination = str | os.PathLike | BinaryIO


def open_destination(dest: Destination) -> tuple[BinaryIO, bool]:
    """Return (binary file, whether the writer owns it and must close it)."""
    if isinstance(dest, str) and dest == "-":
        return sys.stdout.buffer, False
    if isinstance(dest, (str, os.PathLike)):
        return open(dest, "wb", buffering=1 << 16), True
    if not hasattr(dest, "write"):
        raise TypeError(f"cannot write a capture to {dest!r}: need a path or a binary file object")
    return dest, False


class CaptureOutput:
    """What both writers share: the file they write to, flushing, closing, `with`."""

    def __init__(self, dest: Destination, byte_order: str) -> None:
        if byte_order not in ("<", ">"):
            raise ValueError(f"byte_order must be '<' or '>', not {byte_order!r}")
        self._file, self._owned = open_destination(dest)

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        """Flush, and close the file if this writer opened it."""
        if self._file is None:
            return
        self._file.flush()
        if self._owned:
            self._file.close()
        self._file = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

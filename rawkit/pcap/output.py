"""Where writers put their bytes: a path, "-" (stdout) or an open binary file object."""

from __future__ import annotations

import os
import sys
from typing import BinaryIO

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

"""Shared test helpers: skips that say why, paths to the bundled captures."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
SHARED = ROOT.parent / "shared"


def needs_tool(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(name) is None, reason=f"{name} is not installed")


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, raw sockets)")


def bundled_captures(pattern: str = "*") -> list[Path]:
    """Every capture under captures/ matching `pattern` (pcap and pcapng)."""
    return sorted(p for p in CAPTURES.rglob(pattern) if p.suffix in (".pcap", ".pcapng", ".gz"))

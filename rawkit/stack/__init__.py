"""The stack layer: runs protocols over the link layer (probers for ping and trace; a userspace
TCP/IPv4 host with Berkeley-style sockets, `Stack`)."""

from typing import Any

__all__ = ["Stack"]


def __getattr__(name: str) -> Any:
    """`Stack` is imported on first use, so the probers (ping, trace) do not load the TCP engine."""
    if name == "Stack":
        from rawkit.stack.stack import Stack
        return Stack
    raise AttributeError(f"module 'rawkit.stack' has no attribute {name!r}")

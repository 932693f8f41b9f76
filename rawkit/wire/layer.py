"""Builder base: scapy-style composition (`Ether()/IPv4()/TCP()/b"data"`) without scapy's globals.

A builder holds field values; `None` means "compute it when the frame is built" (lengths,
checksums, next-header numbers). Any value given explicitly wins, so bad frames can be crafted.
Frames are built innermost first, so every header knows the exact bytes it carries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class Layer:
    """One header's worth of fields. Subclasses declare FIELDS (name -> default) and `build`."""

    FIELDS: ClassVar[dict[str, Any]] = {}
    ETHERTYPE: ClassVar[int | None] = None  # what Ethernet/VLAN put in their type field for us
    IP_PROTO: ClassVar[int | None] = None  # what IPv4/IPv6 put in proto/next-header for us

    def __init__(self, **fields: Any) -> None:
        unknown = fields.keys() - self.FIELDS.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        for name, default in self.FIELDS.items():
            setattr(self, name, fields.get(name, default))

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        """Return this header followed by `payload` (the already-built layers above)."""
        raise NotImplementedError

    def __truediv__(self, other: Layer | Chain | bytes) -> Chain:
        return Chain([self]) / other

    def __rtruediv__(self, other: bytes) -> Chain:
        return Raw(load=other) / self

    def __bytes__(self) -> bytes:
        return Chain([self]).build()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name in self.FIELDS
        )

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name, default in self.FIELDS.items()
            if getattr(self, name) != default
        )
        return f"{type(self).__name__}({shown})"


class Raw(Layer):
    """Opaque bytes: an application payload or any header rawkit does not model."""

    FIELDS = {"load": b""}

    def build(self, payload: bytes, below: Sequence[Layer], above: Layer | None) -> bytes:
        return bytes(self.load) + payload


class Padding(Raw):
    """Bytes after the end of the IP datagram (Ethernet minimum-size padding): outside every length."""


class Chain:
    """Layers stacked with `/`. `bytes(chain)` builds the frame; `chain[TCP]` finds a layer."""

    __slots__ = ("layers",)

    def __init__(self, layers: list[Layer]) -> None:
        self.layers = layers

    def __truediv__(self, other: Layer | Chain | bytes) -> Chain:
        if isinstance(other, Chain):
            return Chain(self.layers + other.layers)
        if isinstance(other, bytes | bytearray | memoryview):
            other = Raw(load=bytes(other))
        if not isinstance(other, Layer):
            raise TypeError(f"cannot stack {type(other).__name__} on a frame")
        return Chain([*self.layers, other])

    def build(self) -> bytes:
        layers = self.layers
        trailer = b""
        while layers and isinstance(layers[-1], Padding):
            trailer = bytes(layers[-1].load) + trailer
            layers = layers[:-1]
        data = b""
        for index in range(len(layers) - 1, -1, -1):
            above = layers[index + 1] if index + 1 < len(layers) else None
            data = layers[index].build(data, layers[:index], above)
        return data + trailer

    __bytes__ = build

    def __getitem__(self, kind: type[Layer]) -> Layer:
        for layer in self.layers:
            if isinstance(layer, kind):
                return layer
        raise KeyError(kind.__name__)

    def __contains__(self, kind: type[Layer]) -> bool:
        return any(isinstance(layer, kind) for layer in self.layers)

    def __len__(self) -> int:
        return len(self.build())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chain) and self.layers == other.layers

    __hash__ = None

    def __repr__(self) -> str:
        return " / ".join(repr(layer) for layer in self.layers)


def nearest(below: Sequence[Layer], attribute: str) -> Any:
    """The closest layer underneath that offers `attribute` (e.g. the IP header under TCP)."""
    for layer in reversed(below):
        if hasattr(layer, attribute):
            return layer
    return None


def type_of(above: Layer | None, attribute: str, fallback: int) -> int:
    """The type number the layer above asks for (ETHERTYPE or IP_PROTO), else `fallback`."""
    value = getattr(above, attribute, None) if above is not None else None
    return fallback if value is None else value

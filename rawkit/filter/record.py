"""`Record`: the base of the filter's small immutable values (tokens, syntax tree, intermediate form).

Why not @dataclass: creating a dataclass compiles generated code, about 0.5 ms a class, and with the
`dataclasses` module itself that was a fifth of `rawkit read`'s start-up. A Record names its fields in
`__slots__` (defaults in `_defaults`) and gets what the filter used from dataclasses: a positional or
keyword constructor, immutability, equality and hashing by type and field values, and a readable repr.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Record:
    __slots__ = ("_hash",)  # computed on first use: the optimiser hashes nested records over and over
    _defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self.__slots__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}() takes {len(names)} fields, {len(args)} given")
        values = dict(self._defaults)
        values.update(zip(names[:len(args)], args, strict=True))
        for name, value in kwargs.items():
            if name not in names or names.index(name) < len(args):
                raise TypeError(f"{type(self).__name__}() got an unexpected or repeated field {name!r}")
            values[name] = value
        for name in names:
            if name not in values:
                raise TypeError(f"{type(self).__name__}() missing field {name!r}")
            object.__setattr__(self, name, values[name])

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not type(self):
            return NotImplemented
        if hash(self) != hash(other):  # cached: most unequal pairs stop here, without a field walk
            return False
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            value = hash(self._values())
            object.__setattr__(self, "_hash", value)
            return value

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

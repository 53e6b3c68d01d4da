"""Record: what a frozen dataclass gives a value class (equality, hash, repr, replace), from its __slots__.

A dataclass generates its methods' source and compiles it when the class is created: ~0.5-1 ms a class, on
every start of a read command that imports it (issue 18). A Record subclass declares `__slots__` and writes
its `__init__`; the methods here are shared, so creating the class costs what any plain class does.
"""

from __future__ import annotations

from typing import Any, TypeVar

R = TypeVar("R", bound="Record")


class Record:
    """Base of small value classes; each names its attributes in `__slots__` and sets them in `__init__`."""

    __slots__ = ()

    def _values(self) -> dict[str, Any]:
        names: tuple[str, ...] = type(self).__slots__
        return {name: getattr(self, name) for name in names}

    def replace(self: R, **changes: Any) -> R:
        """A copy with `changes` (as dataclasses.replace: the class's __init__ runs again)."""
        return type(self)(**{**self._values(), **changes})

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__ or not isinstance(other, Record):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(tuple(self._values().values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self._values().items())
        return f"{type(self).__qualname__}({fields})"

"""Record: what a frozen dataclass gives a value class (equality, hash, repr, replace), from its __slots__.

A dataclass generates its methods' source and compiles it when the class is created: ~0.5-1 ms a class, on
every start of a read command that imports it (issue 18). A Record subclass declares its attributes (typed, in
the class body, and named in `__slots__`) and writes its `__init__`, which ends with `self._assign(locals())`;
the methods here are shared, so creating the class costs what any plain class does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

R = TypeVar("R", bound="Record")
_NAMES: dict[type, tuple[str, ...]] = {}


class Record:
    """Base of small frozen value classes (as the dataclasses they replace were)."""

    __slots__ = ()
    # attributes equality and the hash leave out (a dataclass field's `compare=False`)
    _uncompared: ClassVar[frozenset[str]] = frozenset()

    def _assign(self, values: Mapping[str, Any]) -> None:
        """Each attribute from the `__init__` parameter of its name: `self._assign(locals())`, once."""
        for name in self._names():
            object.__setattr__(self, name, values[name])

    def _names(self) -> tuple[str, ...]:
        """The attributes: each class's `__slots__`, a base class's first."""
        cls = type(self)
        names = _NAMES.get(cls)
        if names is None:
            names = _NAMES[cls] = tuple(name for klass in reversed(cls.__mro__)
                                        for name in klass.__dict__.get("__slots__", ()))
        return names

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: {type(self).__name__} is frozen")

    def __reduce__(self) -> tuple[Any, ...]:
        """copy and pickle build the copy through `__init__`: the attributes cannot be set one by one."""
        return _rebuilt, (type(self), self._values())

    def _values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._names()}

    def replace(self: R, **changes: Any) -> R:
        """A copy with `changes` (as dataclasses.replace: the class's __init__ runs again)."""
        return type(self)(**{**self._values(), **changes})

    def _compared(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._names() if name not in self._uncompared)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__ or not isinstance(other, Record):
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self._values().items())
        return f"{type(self).__qualname__}({fields})"


def _rebuilt(cls: type[R], values: dict[str, Any]) -> R:
    return cls(**values)

"""Definition: a resource's field table, declared as a frozen keyword-only dataclass is, created as a Record is.

A dataclass writes and compiles the source of its `__init__`, `__repr__`, `__eq__`, `__hash__` and `__setattr__`
when the class is created: for the 52 fields of JobDefinition, ~4 ms on every start of `plan`, `get JOB` or
`export` (issue 18, docs/decisions/0020-definitions-without-dataclasses.md). A Definition subclass declares each
attribute as a dataclass does (`shape: str = column(...)` or `field(...)`); the metaclass makes the declared
names the class's `__slots__` and keeps the declarations (`fields()`), and the methods are shared: Record's, and
one `__init__` that reads the declarations. `dataclass_transform` tells mypy the class is a frozen keyword-only
dataclass, so it checks every constructor call and every `replace()` as it did the dataclass's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from jobctl.model.record import Record

if TYPE_CHECKING:
    # dataclasses.replace to mypy, whose dataclass plugin checks each call's keywords and their types against
    # the class's fields; at run time the one below, which does what it does
    from dataclasses import replace

    from typing_extensions import dataclass_transform
else:
    def dataclass_transform(**_: Any) -> Callable[[type], type]:
        """What only a type checker reads (typing's own is 3.11+)."""
        return lambda cls: cls

_MISSING: Any = type("Missing", (), {"__repr__": lambda _: "MISSING"})()


class Field:
    """One declared attribute: its name, its default (or a factory of it), whether equality and the hash read
    it, and its metadata (a field table's row)."""

    __slots__ = ("compare", "default", "default_factory", "metadata", "name")

    def __init__(self, default: Any, default_factory: Callable[[], Any] | None, compare: bool,
                 metadata: Mapping[str, Any]) -> None:
        self.name = ""  # the attribute's, once its class is made
        self.default, self.default_factory, self.compare, self.metadata = default, default_factory, compare, metadata

    def initial(self, owner: type) -> Any:
        """The value of an attribute a constructor call leaves out."""
        if self.default is not _MISSING:
            return self.default
        if self.default_factory is not None:
            return self.default_factory()
        raise TypeError(f"{owner.__qualname__}.__init__() missing required keyword argument: {self.name!r}")

    def __repr__(self) -> str:
        return f"Field({self.name!r})"


def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] | None = None, compare: bool = True,
          metadata: Mapping[str, Any] | None = None) -> Any:
    """Declare an attribute of a Definition, as dataclasses.field does (compare=False: equality leaves it out)."""
    return Field(default, default_factory, compare, metadata or {})


class _Declared(type):
    """Turns a Definition subclass's annotated attributes into its `__slots__` and its `_fields`."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> _Declared:
        inherited = {f.name: f for base in reversed(bases) for f in getattr(base, "_fields", ())}
        own: dict[str, Field] = {}
        for attr, annotation in namespace.get("__annotations__", {}).items():
            if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
                continue
            declared = namespace.pop(attr, _MISSING)
            own[attr] = declared if isinstance(declared, Field) else Field(declared, None, True, {})
            own[attr].name = attr
        every = {**inherited, **own}  # a redeclared field keeps its place, as in a dataclass
        namespace["__slots__"] = tuple(attr for attr in own if attr not in inherited)
        namespace["_fields"] = tuple(every.values())
        namespace["_uncompared"] = frozenset(attr for attr, f in every.items() if not f.compare)
        return super().__new__(mcs, name, bases, namespace, **kwargs)


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
class Definition(Record, metaclass=_Declared):
    """Base of a frozen resource definition whose attributes are declared as a dataclass's.

    `column()` (jobctl.model.table) is not a field specifier to mypy: it reads a row's `**_INFRA` and would
    take a row without `default=` for a required field, so to mypy every row has a default, as it had in the
    dataclass.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[Field, ...]] = ()

    def __init__(self, **values: Any) -> None:
        for declared in self._fields:
            given = values.pop(declared.name, _MISSING)
            object.__setattr__(self, declared.name, declared.initial(type(self)) if given is _MISSING else given)
        if values:
            raise TypeError(f"{type(self).__qualname__}.__init__() got an unexpected keyword argument "
                            f"{next(iter(values))!r}")
        self.__post_init__()

    def __post_init__(self) -> None:
        """What a subclass completes once every attribute is set (as a dataclass's `__post_init__`)."""


def fields(definition: Definition | type[Definition]) -> tuple[Field, ...]:
    """The declared attributes of a definition (or its class), base classes' first (as dataclasses.fields)."""
    return definition._fields


def asdict(definition: Definition) -> dict[str, Any]:
    """Every attribute by name (as dataclasses.asdict, which would copy the values too: none here is changed)."""
    return {declared.name: getattr(definition, declared.name) for declared in definition._fields}


if not TYPE_CHECKING:
    def replace(definition, /, **changes):
        """A copy with `changes` (as dataclasses.replace: `__init__` and `__post_init__` run again)."""
        return definition.replace(**changes)

__all__ = ["Definition", "Field", "asdict", "field", "fields", "replace"]

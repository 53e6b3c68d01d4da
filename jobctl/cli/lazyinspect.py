"""`inspect` as click's start-up uses it, without importing it (docs/decisions/0021-lazy-inspect.md).

click imports `inspect` at its own import and, while commands are declared, calls only `inspect.cleandoc` (each
option's help) and, for `--help`, `inspect.isfunction`. The real module imports ast, dis, tokenize and more: a
third of `import click` (~13 ms of ~42 on this project's machines), paid by every command. `install` puts a
stand-in in sys.modules before click is imported: it answers those two itself (the same text, the same verdict),
and on any other attribute imports the real module, which from then on is what sys.modules holds and what the
stand-in's namespace holds too. A program that imported `inspect` before (the test suite) keeps its own.
"""

from __future__ import annotations

import sys
import types
from typing import Any

NAME = "inspect"


class StandIn(types.ModuleType):
    """sys.modules["inspect"] until something asks it for more than `cleandoc` and `isfunction`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(real(), name)


def cleandoc(doc: str) -> str:
    """`inspect.cleandoc`: tabs expanded, the first line's leading whitespace and the other lines' common
    indentation removed, blank lines at either end dropped."""
    lines = doc.expandtabs().split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.lstrip()]
    margin = min(indents, default=0)
    lines = [lines[0].lstrip(), *(line[margin:] for line in lines[1:])]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


def isfunction(value: object) -> bool:
    """`inspect.isfunction`: a function defined in Python (or a lambda)."""
    return isinstance(value, types.FunctionType)


def install() -> None:
    """The stand-in as sys.modules["inspect"], unless the real module is imported already."""
    if NAME not in sys.modules:
        stand_in = StandIn(NAME, "`inspect`, imported on first use (jobctl.cli.lazyinspect)")
        stand_in.cleandoc = cleandoc  # type: ignore[attr-defined]
        stand_in.isfunction = isfunction  # type: ignore[attr-defined]
        sys.modules[NAME] = stand_in


def real() -> types.ModuleType:
    """The real `inspect`, imported now if only the stand-in was: it replaces the stand-in in sys.modules, and its
    namespace is copied into the stand-in's, so those that hold the stand-in (click) use it directly from then on."""
    held = sys.modules.get(NAME)
    if not isinstance(held, StandIn):
        import inspect

        return inspect
    sys.modules.pop(NAME, None)  # (another thread's import may be under way: the import lock orders them)
    try:
        import inspect
    except BaseException:
        sys.modules.setdefault(NAME, held)
        raise
    vars(held).update(vars(inspect))
    return inspect

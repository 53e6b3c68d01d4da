"""Stand-ins for the standard modules click's start-up imports but hardly uses (decision 21,
docs/decisions/0021-standins-for-inspect-and-platform.md).

click imports `inspect` at its own import and, while commands are declared, calls only `inspect.cleandoc` (each
option's help) and, for `--help`, `inspect.isfunction`; the real module imports ast, dis, tokenize and more: a
third of `import click` (~13 ms of ~42 on this project's machines). click also imports `uuid` (for its UUID
parameter type), which imports `platform` (~5 ms, nine regular expressions) to call `platform.system()` once.
Every command paid for both. `install` puts a stand-in for each in sys.modules before click is imported: it
answers those functions itself (the same answers), and on any other attribute imports the real module, which
from then on is what sys.modules holds and what the stand-in's namespace holds too. A program that imported
one of them before (the test suite) keeps its own.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Callable
from typing import Any


class StandIn(types.ModuleType):
    """sys.modules[name] until something asks it for more than the functions it was given."""

    def __getattr__(self, name: str) -> Any:
        return getattr(real(self.__name__), name)


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


def system() -> str:
    """`platform.system()`: the kernel's name as os.uname gives it (Linux, Darwin, ...); where platform makes more
    of it (Windows, Java, OpenVMS, no uname), the real module's answer."""
    name = os.uname().sysname if hasattr(os, "uname") else ""
    if not name or name in ("OpenVMS", "Microsoft") or name.lower().startswith(("win", "java")):
        return str(real("platform").system())
    return name


STAND_INS: dict[str, dict[str, Callable[..., Any]]] = {
    "inspect": {"cleandoc": cleandoc, "isfunction": isfunction},
    "platform": {"system": system},
}


def install() -> None:
    """A stand-in in sys.modules for each module of STAND_INS that is not imported yet."""
    for name, functions in STAND_INS.items():
        if name not in sys.modules:
            stand_in = StandIn(name, f"`{name}`, imported on first use (jobctl.cli.standins)")
            vars(stand_in).update(functions)
            sys.modules[name] = stand_in


def real(name: str) -> types.ModuleType:
    """The real module `name`, imported now if only its stand-in was: it replaces the stand-in in sys.modules, and
    its namespace is copied into the stand-in's, so those that hold the stand-in (click) use it directly from then
    on."""
    import importlib

    held = sys.modules.get(name)
    if not isinstance(held, StandIn):
        return importlib.import_module(name)
    sys.modules.pop(name, None)  # (another thread's import may be under way: the import lock orders them)
    try:
        module = importlib.import_module(name)
    except BaseException:
        sys.modules.setdefault(name, held)
        raise
    vars(held).update(vars(module))
    return module

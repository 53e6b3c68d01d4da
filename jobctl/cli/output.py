"""One renderer: a command returns a result value (or an exit code) and `render` prints it as asked.

A result has one method per output format, named as the format is (`table`, `json`, `yaml`, and where a
command offers it `markdown`), so choosing a format is a lookup, not a branch in each command; `-o jsonl`
is a stream of events, which a command (`logs`, `run --follow`) prints as they come, returning its code.
Machine formats come from one `data()` value; a listing too long to hold streams its items as they come.
The exit code travels back with the result to the one error boundary (JobctlGroup), which alone ends the
process.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from jobctl.errors import ExitCode, JobctlError, UsageError
from jobctl.render.machine import API_VERSION, dumps

if TYPE_CHECKING:
    from jobctl.cli.context import AppContext


class Result:
    """What a command prints. Subclasses give `data()` (the JSON/YAML value) and `table(app)` (for people).
    `error`: what the command failed with once this is printed (an export whose specs do not validate)."""

    exit_code: int = ExitCode.OK
    error: JobctlError | None = None

    def data(self) -> Any:
        raise NotImplementedError

    def table(self, app: AppContext) -> None:
        raise NotImplementedError

    def json(self, app: AppContext) -> None:
        app.stdout.write(dumps(self.data(), "json"))

    def yaml(self, app: AppContext) -> None:
        app.stdout.write(dumps(self.data(), "yaml"))


class Item(Result):
    """One value: `data()` for machines, `show(app)` for people."""

    def __init__(self, data: Callable[[], Any], show: Callable[[AppContext], object], *, exit_code: int = ExitCode.OK,
                 error: JobctlError | None = None) -> None:
        self._data, self._show, self.exit_code, self.error = data, show, exit_code, error

    def data(self) -> Any:
        return self._data()

    def table(self, app: AppContext) -> None:
        self._show(app)


class Listing(Result):
    """A list of items, written as they are taken from `items` (a stream of any length): `{apiVersion, kind,
    ...head, items, ...tail()}`; a total is known first, a next-page token only once the items are out. A
    person sees a table of `headers` and `row(item)`, then `footer(app)` (a note on stderr); `empty` on stderr
    instead of an empty table."""

    CHUNK = 1000  # rows a plain table aligns at once when streaming

    def __init__(self, kind: str, items: Iterable[Any], to_data: Callable[[Any], Any], headers: Sequence[str],
                 row: Callable[[Any], Sequence[str]], *, styles: dict[int, Any] | None = None,
                 head: dict[str, Any] | None = None, tail: Callable[[], dict[str, Any]] = dict,
                 footer: Callable[[AppContext], None] = lambda app: None, empty: str) -> None:
        self.kind, self.items, self.to_data, self.headers, self.row = kind, items, to_data, headers, row
        self.styles, self.head, self.tail, self.footer, self.empty = styles, head or {}, tail, footer, empty

    def _head(self) -> dict[str, Any]:
        """The document's keys before its items."""
        return {"apiVersion": API_VERSION, "kind": self.kind, **self.head}

    def data(self) -> Any:
        return {**self._head(), "items": [self.to_data(item) for item in self.items], **self.tail()}

    def table(self, app: AppContext) -> None:
        printer = app.printer()
        chunks = _chunks(iter(self.items), self.CHUNK)
        index = -1
        for index, chunk in enumerate(chunks):
            printer.table(self.headers, [self.row(item) for item in chunk], self.styles, header=index == 0)
        if index < 0:  # nothing printed: say so, on stderr (stdout stays empty for a pipe)
            app.progress(self.empty)
        self.footer(app)

    def json(self, app: AppContext) -> None:
        out = app.stdout
        out.write("{\n")
        for key, value in self._head().items():
            out.write(f"  {json.dumps(key)}: {_nested(value, 2)},\n")
        out.write('  "items": [')
        empty = True
        for item in self.items:
            out.write(("\n" if empty else ",\n") + "    " + _nested(self.to_data(item), 4))
            empty = False
        out.write("]" if empty else "\n  ]")
        for key, value in self.tail().items():
            out.write(f",\n  {json.dumps(key)}: {_nested(value, 2)}")
        out.write("\n}\n")

    def yaml(self, app: AppContext) -> None:
        out = app.stdout
        out.write(dumps(self._head(), "yaml"))
        empty = True
        for item in self.items:
            out.write(("items:\n" if empty else "") + dumps([self.to_data(item)], "yaml"))
            empty = False
        tail = self.tail()
        out.write(("items: []\n" if empty else "") + (dumps(tail, "yaml") if tail else ""))


def _nested(value: Any, indent: int) -> str:
    """`value` as json.dumps(indent=2) writes it `indent` spaces deep in a larger document."""
    return dumps(value, "json")[:-1].replace("\n", "\n" + " " * indent)


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    while chunk := [item for _, item in zip(range(size), items, strict=False)]:
        yield chunk


def discard_output(stderr: bool = False) -> None:
    """Point stdout (`stderr`: stderr instead) at /dev/null once its reader has gone, so that no later write or
    the flush at exit fails again (and Python prints nothing about it)."""
    import os
    import sys

    try:
        fd = (sys.stderr if stderr else sys.stdout).fileno()  # (none in-process, under a test's runner)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def render(app: AppContext, result: Result | int | None, fmt: str) -> int:
    """Print `result` in format `fmt` (one of the command's choices); its exit code. A bare exit code (a
    command that printed as it went, such as a follow) is passed on."""
    if result is None or isinstance(result, int):
        return int(result or 0)
    try:
        getattr(result, fmt)(app)
        app.stdout.flush()
    except BrokenPipeError:  # `wait RUN | true`: its reader has gone, and the exit code still says the outcome
        discard_output()
    if result.error is not None:
        raise result.error
    return result.exit_code


def renders(*formats: str) -> Callable[[Callable[..., Result | int | None]], Callable[..., int]]:
    """A command's `-o/--output` (choices `formats`, default the global -o) and the rendering of what it
    returns: the command function takes the AppContext first and returns a Result or an exit code."""
    import click

    from jobctl.cli.context import OUTPUT_FORMATS
    from jobctl.cli.options import output_option, pass_app

    choices = formats or OUTPUT_FORMATS

    def decorate(command: Callable[..., Result | int | None]) -> Callable[..., int]:
        @functools.wraps(command)
        def wrapper(app: AppContext, *args: Any, output: str | None, **kwargs: Any) -> int:
            app.output = app.output_format(output)  # the command's own -o wins over the global one
            if app.output not in choices:  # a global -o this command cannot print
                name = click.get_current_context().command_path.removeprefix("jobctl ")
                raise UsageError(f"-o {app.output}: `{name}` prints {' or '.join(choices)}")
            return render(app, command(app, *args, **kwargs), app.output)

        return output_option(*formats)(pass_app(wrapper))  # type: ignore[arg-type]

    return decorate

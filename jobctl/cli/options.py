"""Option decorators shared by commands, so every command spells an option the same way."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

import click

from jobctl.cli.context import OUTPUT_FORMATS, AppContext
from jobctl.errors import not_utf8

F = TypeVar("F", bound=Callable[..., Any])


def output_option(*formats: str) -> Callable[[F], F]:
    """`-o/--output`: the formats a command supports; defaults to the global `-o`."""
    choices = formats or OUTPUT_FORMATS
    return click.option(
        "-o", "--output", "output", type=click.Choice(choices), default=None,
        help=f"Output format: {', '.join(choices)} (default: the global -o, else table).",
    )


def spec_paths_argument(required: bool = True) -> Callable[[F], F]:
    return click.argument(
        "paths", nargs=-1, required=required, type=click.Path(dir_okay=True, file_okay=True),
        metavar="PATH...",
    )


pass_app = click.make_pass_decorator(AppContext)


def _reveal(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        from jobctl.secrets import REDACTOR

        REDACTOR.enabled = False  # for this command only: the group resets it for the next
    return value


show_secrets_option = click.option(
    "--show-secrets", is_flag=True, callback=_reveal,
    help="Show secret values (env values whose names look secret: TOKEN, SECRET, PASS, KEY, AUTH, …, "
         "and wherever those values were copied).",
)


MAX_DURATION = 10 * 365 * 86400.0
_DURATION = r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?"  # compiled (and cached) by `re` when used


def parse_duration(text: str) -> float:
    """'90', '90s', '10m', '1h30m', '2d' -> seconds."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        match = re.fullmatch(_DURATION, text)
        if not text or not match or not any(match.groups()):
            raise ValueError(f"invalid duration {text!r}: use e.g. 90s, 10m, 1h30m or 2d") from None
        days, hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {text!r}: use e.g. 90s, 10m, 1h30m or 2d")
    if seconds <= 0:
        raise ValueError(f"invalid duration {text!r}: must be positive")
    if seconds > MAX_DURATION:
        raise ValueError(f"invalid duration {text!r}: more than 10 years")
    return seconds


class Duration(click.ParamType):  # type: ignore[type-arg]
    name = "DURATION"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Text(click.ParamType):  # type: ignore[type-arg]
    """Text that goes into a run or a request (an env value, an arg, a name, a key): UTF-8, or a usage error that
    says where it is not (a byte of `--env "X=$(printf '\\xe9')"`, held by argv as a surrogate escape, broke every
    later YAML listing of the run, and on OCI its request)."""

    name = "TEXT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        wrong = not_utf8(str(value))
        if wrong is not None:
            self.fail(wrong, param, ctx)
        return str(value)


class Ref(Text):
    """A job or run name, id or id prefix. A blank one (`jobctl delete "$JOB"` with JOB unset) is refused
    here: it would mean "the latest" to some commands and match every id as a prefix in others."""

    def __init__(self, what: str) -> None:
        self.what = what

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        if not str(value).strip():
            self.fail(f"an empty {self.what} name or id (an unset variable?)", param, ctx)
        return super().convert(value, param, ctx)


TEXT, JOB_REF, RUN_REF = Text(), Ref("job"), Ref("run")


timeout_option = click.option(
    "--timeout", type=Duration(), default=None, help="Give up waiting after this long (e.g. 30m); exit 7.",
)


def listing_options(what: str) -> Callable[[F], F]:
    """--all and --history of a listing of `what` (jobs, applications): the unmanaged ones, earlier generations."""

    def decorate(command: F) -> F:
        command = click.option("--history", is_flag=True,
                               help=f"Include earlier generations: {what} an apply replaced and kept for their runs.",
                               )(command)
        return click.option("--all", "show_all", is_flag=True, help=f"Include {what} jobctl does not manage.")(command)

    return decorate

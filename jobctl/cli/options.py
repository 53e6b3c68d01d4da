"""Option decorators shared by commands, so every command spells an option the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from jobctl.cli.context import OUTPUT_FORMATS, AppContext

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

"""docs/cli.md, generated from every command's --help: `python -m jobctl.cli.reference > docs/cli.md`.

A test fails when the committed file is stale, so the reference always says what `--help` says.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

# What a terminal of 100 columns or more shows (click's max_content_width minus its margin), fixed so
# the file does not depend on the terminal it is generated in.
HELP_WIDTH = 98


def _contexts(ctx: click.Context) -> Iterator[click.Context]:
    """`ctx` and, depth first in help order, a context for every command below it."""
    yield ctx
    group = ctx.command
    if isinstance(group, click.Group):
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is not None:
                yield from _contexts(click.Context(command, info_name=name, parent=ctx))


def _summary(ctx: click.Context) -> str:
    from jobctl.cli.app import COMMANDS

    if ctx.parent is not None and ctx.parent.parent is None and ctx.info_name in COMMANDS:
        return COMMANDS[ctx.info_name][1]  # what `jobctl --help` lists
    return ctx.command.get_short_help_str(limit=120)


def _anchor(path: str) -> str:
    return path.lower().replace(" ", "-")


def render() -> str:
    """The whole of docs/cli.md."""
    from jobctl.cli.app import cli

    root = click.Context(cli, info_name="jobctl", **{**cli.context_settings, "terminal_width": HELP_WIDTH})
    contexts = list(_contexts(root))
    lines = [
        "# Command reference",
        "",
        "Generated from every command's `--help` by `python -m jobctl.cli.reference > docs/cli.md`; do not edit.",
        "Global options (`--backend`, `-o`, `-q`, the OCI ones, …) go before or after the command: `jobctl -o json "
        "jobs` is `jobctl jobs -o json`.",
        "",
    ]
    lines += [f"- [`{c.command_path}`](#{_anchor(c.command_path)}): {_summary(c)}" for c in contexts[1:]]
    lines.append("")
    for ctx in contexts:
        help_text = "\n".join(line.rstrip() for line in ctx.get_help().splitlines())
        lines += [f"## `{ctx.command_path}`", "", "```text", help_text, "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")

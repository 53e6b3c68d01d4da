"""`${{ ... }}` expressions in workflow step env and args: a small grammar, resolved without eval.

    ${{ steps.STEP.best.env.VAR }}          the selected run's environment variable
    ${{ steps.STEP.best.outputs.KEY[.KEY] }} a value from the selected run's outputs.json
    ${{ steps.STEP.best.metrics.NAME }}      shorthand for best.outputs.metrics.NAME
    ${{ steps.STEP.best.run.id }}            the selected run's id (also .name)
    ${{ env.VAR }}                           a value given with `workflow run --env VAR=...`
    ${{ workflow.name }} / ${{ workflow.run }}

`$${{` is a literal `${{`. A step without `select` and with one run has that run as `best`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jobctl.secrets import MASK

EXPRESSION = re.compile(r"(?<!\$)\$\{\{\s*(.*?)\s*\}\}")  # `$${{` is a literal `${{`, never an expression
_ESCAPED = "$${{"
_OPEN = re.compile(r"(?<!\$)\$\{\{")
_NAME = r"[A-Za-z_][A-Za-z0-9_.-]*"
_FORMS = (
    re.compile(rf"steps\.(?P<step>[a-z][-a-z0-9]*)\.best\.(?P<part>env|outputs|metrics)\.(?P<key>{_NAME})"),
    re.compile(r"steps\.(?P<step>[a-z][-a-z0-9]*)\.best\.run\.(?P<key>id|name)"),
    re.compile(r"env\.(?P<key>[A-Za-z_][A-Za-z0-9_]*)"),
    re.compile(r"workflow\.(?P<key>name|run)"),
)


class ExpressionError(ValueError):
    """An expression that is malformed, or that cannot be resolved (yet)."""


@dataclass(frozen=True)
class Reference:
    text: str  # as written inside ${{ }}
    kind: str  # "step" | "env" | "workflow"
    key: str
    step: str | None = None
    part: str | None = None  # env | outputs | metrics | run


def parse(expression: str) -> Reference:
    """One expression (the text inside ${{ }}) -> a Reference, or ExpressionError naming the grammar."""
    for index, form in enumerate(_FORMS):
        match = form.fullmatch(expression)
        if match is None:
            continue
        groups = match.groupdict()
        if index == 0:
            return Reference(expression, "step", groups["key"], groups["step"], groups["part"])
        if index == 1:
            return Reference(expression, "step", groups["key"], groups["step"], "run")
        return Reference(expression, "env" if index == 2 else "workflow", groups["key"])
    raise ExpressionError(
        f"cannot understand ${{{{ {expression} }}}}: use steps.STEP.best.(env|outputs|metrics).KEY, "
        "steps.STEP.best.run.id, env.VAR or workflow.(name|run)"
    )


def references(text: str) -> Iterator[Reference]:
    """Each expression in `text`; ExpressionError for a `${{` that is never closed."""
    if _OPEN.search(EXPRESSION.sub("", text)):
        raise ExpressionError("a ${{ is not closed: end the expression with }} (or write $${{ for a literal ${{)")
    for match in EXPRESSION.finditer(text):
        yield parse(match.group(1))


def literal(text: str) -> str:
    """`text` with each `$${{` as the `${{` it stands for (once its expressions are replaced)."""
    return text.replace(_ESCAPED, "${{")


@dataclass(frozen=True)
class RunView:
    """What expressions can see of a step's selected run."""

    id: str
    name: str
    env: Mapping[str, str]
    outputs: Mapping[str, Any]


@dataclass(frozen=True)
class Context:
    steps: Mapping[str, RunView]
    env: Mapping[str, str]
    workflow: Mapping[str, str]


def _lookup(reference: Reference, context: Context) -> Any:
    if reference.kind == "env":
        if reference.key not in context.env:
            raise ExpressionError(f"${{{{ {reference.text} }}}}: no --env {reference.key}=... was given")
        return context.env[reference.key]
    if reference.kind == "workflow":
        return context.workflow[reference.key]
    assert reference.step is not None
    run = context.steps.get(reference.step)
    if run is None:
        raise ExpressionError(f"${{{{ {reference.text} }}}}: step {reference.step!r} has no selected run")
    if reference.part == "run":
        return run.id if reference.key == "id" else run.name
    if reference.part == "env":
        value: Any = run.env.get(reference.key)
    else:
        value = run.outputs.get("metrics", {}) if reference.part == "metrics" else run.outputs
        for part in reference.key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        raise ExpressionError(f"${{{{ {reference.text} }}}}: run {run.name} has no such value")
    if isinstance(value, str) and MASK in value:
        raise ExpressionError(f"${{{{ {reference.text} }}}}: run {run.name}'s value is secret, and workflow state "
                              "never stores secrets; pass it with --env, or run the workflow with --restart")
    return value


def render(text: str, context: Context) -> str:
    """Replace every ${{ }} in `text`; non-string values are written as JSON (numbers stay numbers)."""

    def replace(match: re.Match[str]) -> str:
        value = _lookup(parse(match.group(1)), context)
        return value if isinstance(value, str) else json.dumps(value)

    return "${{".join(EXPRESSION.sub(replace, part) for part in text.split(_ESCAPED))

"""What the schema cannot check in a workflow: unique steps, needs, cycles, jobs, expressions."""

from __future__ import annotations

from collections.abc import Collection

from jobctl.errors import Diagnostic
from jobctl.spec.document import Document, JsonPath
from jobctl.workflow.expressions import ExpressionError, references
from jobctl.workflow.model import Workflow


def _ancestors(workflow: Workflow, name: str) -> set[str]:
    """Every step `name` waits for, directly or through others."""
    seen: set[str] = set()
    stack = list(workflow.step(name).needs)
    while stack:
        current = stack.pop()
        if current in seen or current not in {s.name for s in workflow.steps}:
            continue
        seen.add(current)
        stack.extend(workflow.step(current).needs)
    return seen


def _cycle(workflow: Workflow) -> list[str] | None:
    """One cycle among the steps' needs, as a path of names, or None."""
    names = {s.name for s in workflow.steps}
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in visiting:
            return [*visiting[visiting.index(name):], name]
        if name in done or name not in names:
            return None
        visiting.append(name)
        for need in workflow.step(name).needs:
            found = visit(need)
            if found:
                return found
        visiting.pop()
        done.add(name)
        return None

    for step in workflow.steps:
        found = visit(step.name)
        if found:
            return found
    return None


def check_workflow(document: Document, workflow: Workflow, jobs: Collection[str] | None) -> list[Diagnostic]:
    """Located problems; `jobs` is the set of known job names, or None to leave job names unchecked."""
    problems: list[Diagnostic] = []
    seen: dict[str, int] = {}
    names = [s.name for s in workflow.steps]
    for index, step in enumerate(workflow.steps):
        base: JsonPath = ("spec", "steps", index)
        if step.name in seen:
            problems.append(document.diagnostic(
                (*base, "name"), f"step name {step.name!r} is also used by steps[{seen[step.name]}]"))
        seen.setdefault(step.name, index)
        if jobs is not None and step.job not in jobs:
            problems.append(document.diagnostic(
                (*base, "job"), f"no job named {step.job!r} in the files given (add the job's spec file)"))
        for position, need in enumerate(step.needs):
            if need == step.name:
                problems.append(document.diagnostic((*base, "needs", position), "a step cannot need itself"))
            elif need not in names:
                problems.append(document.diagnostic((*base, "needs", position), f"no step named {need!r}"))
        problems.extend(_check_expressions(document, workflow, index))
    cycle = _cycle(workflow)
    if cycle:
        first = names.index(cycle[0])
        problems.append(document.diagnostic(
            ("spec", "steps", first, "needs"), f"steps form a cycle: {' -> '.join(cycle)}", at_key=True))
    return problems


def _check_expressions(document: Document, workflow: Workflow, index: int) -> list[Diagnostic]:
    step = workflow.steps[index]
    base: JsonPath = ("spec", "steps", index)
    places: list[tuple[JsonPath, str]] = [((*base, "env", key), value) for key, value in step.env.items()]
    places += [((*base, "args", i), value) for i, value in enumerate(step.args or ())]
    problems = []
    earlier = _ancestors(workflow, step.name) if _cycle(workflow) is None else set()
    for path, text in places:
        try:
            found = list(references(text))
        except ExpressionError as exc:
            problems.append(document.diagnostic(path, str(exc)))
            continue
        for reference in found:
            if reference.kind == "step" and reference.step not in earlier:
                reason = "no such step" if reference.step not in {s.name for s in workflow.steps} else (
                    f"add {reference.step!r} to this step's needs")
                problems.append(document.diagnostic(
                    path, f"${{{{ {reference.text} }}}} refers to step {reference.step!r}: {reason}"))
    return problems

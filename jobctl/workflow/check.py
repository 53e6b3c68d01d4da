"""What the schema cannot check in a workflow: unique steps, needs, cycles, jobs, expressions."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping

from jobctl.errors import Diagnostic
from jobctl.secrets import is_secret
from jobctl.spec.document import Document, JsonPath
from jobctl.workflow.expressions import ExpressionError, Reference, references
from jobctl.workflow.model import Step, Workflow

MAX_MATRIX_RUNS = 1000  # each key has at most 256 values, but their product had no bound


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


class ApplicationEnv(set[str]):
    """The env names of an applied Data Flow application (not a job's), as a lookup gives them: what the
    pipeline engine cannot run."""


def check_workflow(
    document: Document, workflow: Workflow, jobs: Mapping[str, Collection[str]], *,
    lookup: Callable[[str], Collection[str] | None] | None = None, env: Collection[str] | None = None,
    applications: Collection[str] = (), pipelines: bool = True, engine: str | None = None,
) -> list[Diagnostic]:
    """Located problems. A step's job is one of `jobs` (name -> its env names, from the files given) or one
    `lookup` finds (the backend's); `env`: the names `workflow run --env` gives (None: not checked);
    `applications`: which of `jobs` are Data Flow applications; `pipelines`: the backend runs the pipeline
    engine (OCI), which runs jobs only; `engine`: the one --engine chose, over spec.engine."""
    problems: list[Diagnostic] = []
    seen: dict[str, int] = {}
    names = [s.name for s in workflow.steps]
    job_env: dict[str, Collection[str] | None] = dict(jobs)
    for index, step in enumerate(workflow.steps):
        base: JsonPath = ("spec", "steps", index)
        if step.name in seen:
            problems.append(document.diagnostic(
                (*base, "name"), f"step name {step.name!r} is also used by steps[{seen[step.name]}]"))
        seen.setdefault(step.name, index)
        if step.job not in job_env:
            job_env[step.job] = lookup(step.job) if lookup is not None else None
            if job_env[step.job] is None:
                where = "in the files given (add the job's spec file)" if lookup is None else (
                    "in the files given or applied (apply it, or add its spec file)")
                problems.append(document.diagnostic(
                    (*base, "job"), f"no job or Data Flow application named {step.job!r} {where}"))
        for position, need in enumerate(step.needs):
            if need == step.name:
                problems.append(document.diagnostic((*base, "needs", position), "a step cannot need itself"))
            elif need not in names:
                problems.append(document.diagnostic((*base, "needs", position), f"no step named {need!r}"))
        problems.extend(_check_select(document, step, base))
        problems.extend(_check_matrix(document, step, base))
        if step.timeout_seconds == 0:
            problems.append(document.diagnostic((*base, "timeout"), "a step's timeout must be more than 0 s"))
        runs = math.prod(len(values) for _, values in step.matrix)
        if runs > MAX_MATRIX_RUNS:
            problems.append(document.diagnostic((*base, "matrix"), f"the matrix makes {runs} runs; a step may "
                                                f"start at most {MAX_MATRIX_RUNS}", at_key=True))
    for index, step in enumerate(workflow.steps):
        if pipelines and (engine or workflow.engine) == "pipeline" and (step.job in applications  # in the files, or
                                                                      # applied
                                                                      or isinstance(job_env.get(step.job),
                                                                                    ApplicationEnv)):
            problems.append(document.diagnostic(
                ("spec", "steps", index, "job"), f"{step.job!r} is a Data Flow application: its steps run on the "
                "client engine (spec.engine: client); the pipeline engine runs jobs only"))
    if workflow.engine == "pipeline":  # the pipeline's step names: a step's runs and selector are named after it
        from jobctl.workflow.pipeline import name_clashes

        for step_name, clash in name_clashes(workflow):
            problems.append(document.diagnostic(("spec", "steps", names.index(step_name), "name"),
                                                f"on the pipeline engine this step makes a step named {clash!r}, "
                                                "as another step does: rename one"))
    cycle = _cycle(workflow)
    for index in range(len(workflow.steps)):
        problems.extend(_check_expressions(document, workflow, index, job_env, env, acyclic=cycle is None))
    if cycle:
        first = names.index(cycle[0])
        problems.append(document.diagnostic(
            ("spec", "steps", first, "needs"), f"steps form a cycle: {' -> '.join(cycle)}", at_key=True))
    return problems


def _check_matrix(document: Document, step: Step, base: JsonPath) -> list[Diagnostic]:
    """A matrix value names its run and is kept in the workflow's state: never a secret; and each value once."""
    from jobctl.secrets import REDACTOR

    problems = []
    for key, values in step.matrix:
        if is_secret(key):
            problems.append(document.diagnostic((*base, "matrix", key), f"{key} looks secret, and a matrix value names "
                                                "its run and is kept in the workflow's state: give a secret with "
                                                "--env instead", at_key=True))
            continue
        seen: set[str] = set()
        for position, value in enumerate(values):
            if any(ord(char) < 32 or ord(char) == 127 for char in value):
                problems.append(document.diagnostic((*base, "matrix", key, position), "holds a control character "
                                                    "(a newline, a tab): a matrix value names its run"))
            elif REDACTOR.contains_secret(value):
                problems.append(document.diagnostic((*base, "matrix", key, position), "holds a secret value, which "
                                                    "would name a run and be kept in the workflow's state"))
            elif value in seen:
                problems.append(document.diagnostic((*base, "matrix", key, position), f"{value!r} is listed twice "
                                                    "(each value is one run)"))
            seen.add(value)
    return problems


def _check_select(document: Document, step: Step, base: JsonPath) -> list[Diagnostic]:
    select = step.select
    if select is None or select.pattern is None:
        return []
    at: JsonPath = (*base, "select", "pattern")
    if select.source != "logs":
        return [document.diagnostic(at, "pattern is for metrics read from logs: add `from: logs`")]
    try:
        groups = re.compile(select.pattern).groups
    except re.error as exc:
        return [document.diagnostic(at, f"not a regular expression: {exc}")]
    if groups != 1:
        return [document.diagnostic(at, f"needs exactly one group, the number; it has {groups}")]
    return []


def _run_env(step: Step, job_env: Mapping[str, Collection[str] | None]) -> set[str] | None:
    """The env names every run of `step` has, or None when its job is unknown."""
    known = job_env.get(step.job)
    return None if known is None else {*known, *step.env, *(key for key, _ in step.matrix)}


def _check_expressions(document: Document, workflow: Workflow, index: int,
                       job_env: Mapping[str, Collection[str] | None], env: Collection[str] | None, *,
                       acyclic: bool) -> list[Diagnostic]:
    step = workflow.steps[index]
    base: JsonPath = ("spec", "steps", index)
    places: list[tuple[JsonPath, str]] = [((*base, "env", key), value) for key, value in step.env.items()]
    places += [((*base, "args", i), value) for i, value in enumerate(step.args or ())]
    problems = []
    earlier = _ancestors(workflow, step.name) if acyclic else set()
    steps = {s.name: s for s in workflow.steps}
    for path, text in places:
        try:
            found = list(references(text))
        except ExpressionError as exc:
            problems.append(document.diagnostic(path, str(exc)))
            continue
        for reference in found:
            if reference.kind == "step" and reference.step == step.name:
                problem: str | None = "refers to this step itself: a step takes values only from steps it needs"
            elif reference.kind == "step" and not acyclic and reference.step in step.needs:
                continue  # the cycle is said once, at needs
            else:
                problem = _unresolvable(reference, earlier, steps, job_env, env) or _exposed(reference, path)
            if problem:
                problems.append(document.diagnostic(path, f"${{{{ {reference.text} }}}} {problem}"))
    for key, values in step.matrix:
        for position, value in enumerate(values):
            if "${{" in value:
                problems.append(document.diagnostic((*base, "matrix", key, position), "matrix values are taken as "
                                                    "written: a ${{ }} expression is not evaluated here"))
    return problems


def _exposed(reference: Reference, path: JsonPath) -> str | None:
    """A secret that would be shown in clear: a secret --env value set into a variable whose name does not
    mark it secret (jobctl masks values by their variable's name) or into args; or one passed on from an
    earlier step (the workflow's state, where it would pass through, never holds a secret)."""
    if reference.kind == "step" and reference.part == "env" and is_secret(reference.key):
        return "passes a secret on from an earlier step: the workflow's state never holds one; give it with --env"
    if reference.kind == "env" and is_secret(reference.key) and (path[-2] == "args" or not is_secret(str(path[-1]))):
        return ("is a secret: it may only set a variable whose name marks it secret (…_TOKEN, …_PASSWORD, …_KEY), "
                "which jobctl masks; here it would show in clear")
    return None


def _unresolvable(reference: Reference, earlier: set[str], steps: Mapping[str, Step],
                  job_env: Mapping[str, Collection[str] | None], env: Collection[str] | None) -> str | None:
    if reference.kind == "env":
        if env is not None and reference.key not in env:
            given = ", ".join(sorted(env)) or "none"
            return f"needs --env {reference.key}=... (given: {given})"
        return None
    if reference.kind != "step":
        return None
    assert reference.step is not None
    if reference.step not in earlier:
        reason = "no such step" if reference.step not in steps else f"add {reference.step!r} to this step's needs"
        return f"refers to step {reference.step!r}: {reason}"
    if reference.part == "env":
        names = _run_env(steps[reference.step], job_env)
        if names is not None and reference.key not in names:
            shown = ", ".join(sorted(names)) or "none"
            return (f"refers to {reference.key!r}, which no run of step {reference.step!r} has in its env "
                    f"(its matrix, its env and the env of job {steps[reference.step].job!r} give: {shown})")
    if reference.part == "metrics":
        select = steps[reference.step].select
        if select is not None and select.source == "logs" and reference.key != select.metric:
            return (f"refers to metric {reference.key!r}, but step {reference.step!r} reads only "
                    f"{select.metric!r}, from its runs' logs")
    return None

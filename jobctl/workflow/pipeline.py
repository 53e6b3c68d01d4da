"""A workflow as an OCI Data Science pipeline (docs/decisions/0014-pipeline-engine.md).

One ML_JOB step per matrix combination of a workflow step, `needs` as `dependsOn`, a step's maxParallel
as lanes, and for a step that selects, one more step that runs jobctl's selector. What runs share lives
under the run's place in the workflow's state location:

    <state>/<workflow>/pipeline-runs/<PIPELINE_RUN_OCID>/<step>/<combination>/outputs.json   (each run's report)
    <state>/<workflow>/pipeline-runs/<PIPELINE_RUN_OCID>/<step>/best.json                    (the selector's pick)

A later step's `${{ steps.S.best.... }}` values are filled in by jobctl's driver when its run starts
(JOBCTL_REFS), `${{ env.X }}` by `workflow run` in the pipeline run's step overrides.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from jobctl.secrets import is_secret
from jobctl.workflow.expressions import EXPRESSION, literal, parse
from jobctl.workflow.model import Step, Workflow
from jobctl.workflow.state import slug

SELECT_SUFFIX = "-select"
RUN_SCOPE = "${PIPELINE_RUN_OCID}"  # filled in inside each run, from the variable OCI sets
AT_RUN, ARGS_AT_RUN = "JOBCTL_AT_RUN", "@args"  # a step's values `workflow run` fills in, by name


@dataclass(frozen=True)
class PipelineStep:
    """One step of the pipeline: a run of `job` (None: jobctl's selector job)."""

    name: str
    job: str | None
    depends_on: tuple[str, ...]
    env: Mapping[str, str]  # complete (OCI's merge of job, pipeline and step env is not documented), the
    # values a run fills in as their ${{ }} templates
    args: tuple[str, ...] | None
    of_step: str  # the workflow step it belongs to
    key: str  # the matrix combination ("-" for none; "select" for a selector)
    at_run: Mapping[str, str] = field(default_factory=dict)  # env values `workflow run` fills (${{ env.X }})
    args_at_run: bool = False  # the args hold ${{ env.X }} / ${{ workflow.run }}: `workflow run` fills them


@dataclass(frozen=True)
class CompiledWorkflow:
    name: str
    steps: tuple[PipelineStep, ...]

    def step(self, name: str) -> PipelineStep:
        return next(s for s in self.steps if s.name == name)


class NotCompilable(ValueError):
    """What the pipeline engine cannot run, one line per problem, each naming the step."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def compile_workflow(workflow: Workflow, jobs: Mapping[str, Mapping[str, str]], state: str, *,
                     driven: Collection[str]) -> CompiledWorkflow:
    """`jobs`: each job's env by name; `state`: oci://bucket@namespace/prefix; `driven`: the jobs whose
    artifact carries jobctl's driver (needed to receive an earlier step's values)."""
    problems = unsupported(workflow, driven)
    if problems:
        raise NotCompilable(problems)
    scope = f"{state.rstrip('/')}/{workflow.name}/pipeline-runs/{RUN_SCOPE}"
    names: dict[str, list[str]] = {}  # workflow step -> the pipeline steps that finish it
    steps: list[PipelineStep] = []
    for step in workflow.order():
        combos = step.combinations()
        after = tuple(name for need in step.needs for name in names[need])
        made: list[str] = []
        for index, combo in enumerate(combos):
            name = step.name if len(combos) == 1 else f"{step.name}-{index + 1}"
            lane = (made[index - step.max_parallel],) if step.max_parallel and index >= step.max_parallel else ()
            key = Step.key(combo)
            steps.append(_candidate(workflow, step, (name, key, scope), combo, job_env=jobs[step.job],
                                    after=after + lane))
            made.append(name)
        if step.select is not None:
            steps.append(_selector(step, made, [s for s in steps if s.of_step == step.name], scope))
            made = [step.name + SELECT_SUFFIX]
        names[step.name] = made
    return CompiledWorkflow(workflow.name, tuple(steps))


def _candidate(workflow: Workflow, step: Step, where: tuple[str, str, str], combo: Mapping[str, str], *,
               job_env: Mapping[str, str], after: tuple[str, ...]) -> PipelineStep:
    """`where`: (pipeline step name, combination key, the run's scope in the state location)."""
    name, key, scope = where
    fixed: dict[str, str] = {}
    at_run: dict[str, str] = {}
    refs: dict[str, list[list[str]]] = {}
    for var, text in step.env.items():
        kinds = _kinds(text)
        if "step" in kinds:
            refs[var] = parts(text, workflow.name, at_run)
        elif kinds:
            at_run[var] = text
        else:
            fixed[var] = literal(text)
    env = {**job_env, **fixed, **combo, "JOBCTL_OUTPUT_URI": f"{scope}/{step.name}/{slug(key)}/"}
    arg_kinds = {kind for a in step.args or () for kind in _kinds(a)}
    args = step.args if arg_kinds else tuple(literal(a) for a in step.args) if step.args is not None else None
    if refs or "step" in arg_kinds:
        filled = [parts(a, workflow.name, at_run) for a in args] if "step" in arg_kinds and args else None
        env["JOBCTL_REFS"] = json.dumps({"env": refs, "args": filled}, sort_keys=True)
        env["JOBCTL_WORKFLOW_RUN_URI"] = f"{scope}/"
    # what a run fills in stays in the pipeline as written (a change to it is a change to the pipeline), and the
    # pipeline says which values those are: `workflow run NAME` takes that from it, not from the state bucket
    args_at_run = bool(arg_kinds) and "step" not in arg_kinds
    named = [*sorted(at_run), *([ARGS_AT_RUN] if args_at_run else [])]
    marks = {AT_RUN: ",".join(named)} if named else {}
    return PipelineStep(name, step.job, after, {**env, **at_run, **marks}, args, step.name, key, at_run,
                        args_at_run=args_at_run)


def filled_at_run(env: Mapping[str, str]) -> tuple[dict[str, str], bool]:
    """What a pipeline step, as held, has `workflow run` fill in (its JOBCTL_AT_RUN says): those env values'
    templates, and whether its args are templates too."""
    names = [name for name in env.get(AT_RUN, "").split(",") if name]
    return {name: env[name] for name in names if name in env}, ARGS_AT_RUN in names


def _kinds(text: str) -> set[str]:
    return {parse(m.group(1)).kind for m in EXPRESSION.finditer(text)}


def parts(text: str, workflow: str, at_run: dict[str, str]) -> list[list[str]]:
    """`text` as the driver fills it in: ["text", literal], ["ref", step, part, key] and ["env", VAR] pieces,
    parsed here with the one grammar (jobctl.workflow.expressions), so the driver only looks values up. A
    `${{ env.X }}` or `${{ workflow.run }}` in it is a variable `workflow run` sets: added to `at_run`."""
    found: list[list[str]] = []
    position = 0
    for match in EXPRESSION.finditer(text):
        found.append(["text", literal(text[position:match.start()])])
        reference = parse(match.group(1))
        if reference.kind == "step":
            found.append(["ref", str(reference.step), str(reference.part), reference.key])
        elif reference.kind == "workflow" and reference.key == "name":
            found.append(["text", workflow])
        else:  # ${{ env.X }} / ${{ workflow.run }} next to a step's value: set by `workflow run`, read by the driver
            var = "JOBCTL_WORKFLOW_RUN" if reference.kind == "workflow" else f"JOBCTL_WORKFLOW_ENV_{reference.key}"
            at_run[var] = match.group(0)
            found.append(["env", var])
        position = match.end()
    found.append(["text", literal(text[position:])])
    merged: list[list[str]] = []
    for piece in found:
        if piece[0] == "text" and merged and merged[-1][0] == "text":
            merged[-1] = ["text", merged[-1][1] + piece[1]]
        elif piece != ["text", ""]:
            merged.append(piece)
    return merged


def _selector(step: Step, candidates: list[str], made: list[PipelineStep], scope: str) -> PipelineStep:
    assert step.select is not None
    chosen = {"metric": step.select.metric, "goal": step.select.goal, "uri": f"{scope}/{step.name}/",
              "candidates": [{"step": s.name, "key": s.key, "slug": slug(s.key),
                              "env": {k: v for k, v in s.env.items() if not k.startswith("JOBCTL_")
                                      and not is_secret(k) and k not in s.at_run}} for s in made]}
    return PipelineStep(step.name + SELECT_SUFFIX, None, tuple(candidates),
                        {"JOBCTL_SELECT": json.dumps(chosen, sort_keys=True)}, None, step.name, "select")


def name_clashes(workflow: Workflow) -> list[tuple[str, str]]:
    """(step, name) for each pipeline step name two of the workflow's steps would both make: a step's runs
    are `<step>-<n>` when it has a matrix of several, its selector `<step>-select`."""
    owners: dict[str, str] = {}
    clashes = []
    for step in workflow.steps:
        count = len(step.combinations())
        made = [step.name] if count == 1 else [f"{step.name}-{index + 1}" for index in range(count)]
        for name in [*made, *([step.name + SELECT_SUFFIX] if step.select else [])]:
            if name in owners and owners[name] != step.name:
                clashes.append((step.name, name))
            owners.setdefault(name, step.name)
    return clashes


def unsupported(workflow: Workflow, driven: Collection[str]) -> list[str]:
    """What the pipeline engine cannot run, one line per problem (`driven`: the jobs that carry the driver)."""
    problems = [f"step {step!r}: its pipeline step {name!r} is also another step's (rename one)"
                for step, name in name_clashes(workflow)]
    steps = {step.name: step for step in workflow.steps}
    if workflow.max_parallel:
        problems.append("spec.maxParallel: the pipeline engine cannot bound unrelated steps together (use the "
                        "client engine, or maxParallel on each step)")
    for step in workflow.steps:
        if step.select is not None and step.select.source == "logs":
            problems.append(f"step {step.name!r}: select from: logs needs the client engine (the pipeline's "
                            "selector reads outputs.json)")
        if step.timeout_seconds is not None:
            problems.append(f"step {step.name!r}: timeout needs the client engine (on a pipeline, bound each run "
                            "with the job's maxRuntimeInMinutes)")
        texts = [*step.env.values(), *(step.args or ())]
        found = [parse(m.group(1)) for text in texts for m in EXPRESSION.finditer(text)]
        uses = {reference.kind for reference in found}
        if any(r.part == "run" and r.key == "id" for r in found):
            problems.append(f"step {step.name!r}: best.run.id needs the client engine (a pipeline's selector does "
                            "not learn its candidates' run ids)")
        for reference in found:
            if reference.kind == "step" and reference.part == "env" and reference.step in steps:
                earlier = steps[reference.step].env.get(reference.key, "")
                if is_secret(reference.key) or _kinds(earlier):
                    problems.append(f"step {step.name!r}: ${{{{ {reference.text} }}}}: the pick of step "
                                    f"{reference.step!r} cannot pass {reference.key} on (a secret, or set when the run "
                                    "starts, is not kept in best.json); give it to this step with --env")
        if "step" in uses and step.job not in driven:
            problems.append(f"step {step.name!r}: job {step.job!r} takes values from an earlier step, which "
                            "jobctl's driver fills in when its run starts; its artifact has no driver (a python "
                            "or notebook job with workingDir, pythonPath, git, ... carries it)")
        if step.continue_on_error:
            problems.append(f"step {step.name!r}: continueOnError needs the client engine (a failed step stops "
                            "the steps after it on a pipeline)")
    return problems



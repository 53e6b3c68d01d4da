"""A workflow's pipeline, declared (docs/decisions/0014-pipeline-engine.md): `plan` and `apply` keep the OCI
Data Science pipeline of each workflow with `spec.engine: pipeline` as its spec says, as they keep jobs —
created; updated in place where UpdatePipeline can (each step's env and arguments); replaced where it cannot
(steps, their jobs and order); deleted by `--prune` once the workflow is gone from its set. `workflow run
FILE --engine pipeline` keeps the pipeline of the workflow it runs so before it starts a run.

A pipeline is found by its tags (`jobctl-kind: workflow`, `jobctl-name`), and is what its spec says when its
`jobctl-spec-hash` is the compiled workflow's over the jobs' current OCIDs: a job replaced is a new OCID, so
the pipeline is replaced with it. Every apply of a pipeline also writes what `workflow run NAME` needs
besides the pipeline (the workflow's steps, and which values are filled in when a run starts) to
`<state>/<workflow>/pipelines/<pipeline OCID>.json`; the pipeline's `jobctl-state` tag says where that is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobctl.errors import ConfigError, Diagnostic, SpecError, UsageError
from jobctl.model.job import TAG_HASH, TAG_MANAGED, TAG_NAME, TAG_SET, JobDefinition, JobState
from jobctl.plan.model import Action, FieldChange
from jobctl.workflow.model import Select, Step, Workflow
from jobctl.workflow.pipeline import (
    SELECT_SUFFIX,
    CompiledWorkflow,
    NotCompilable,
    PipelineStep,
    compile_workflow,
    filled_at_run,
    unsupported,
)

if TYPE_CHECKING:
    from jobctl.backends.oci import OciBackend
    from jobctl.backends.oci.pipelines import AppliedPipeline, HeldStep
    from jobctl.plan.desired import DesiredJob

SELECT_COMMAND = "jobctl-select"  # never run: a pipeline's selector step starts the driver in select mode
MAX_TAG_VALUE = 256  # OCI's limit on a freeform tag's value


@dataclass(frozen=True)
class PipelineChange:
    """What an apply does to a workflow's pipeline; `fields` name what an update changes, by pipeline step."""

    action: Action
    name: str
    workflow: Workflow | None  # None: a delete
    observed: AppliedPipeline | None
    reason: str | None = None
    fields: tuple[FieldChange, ...] = ()

    @property
    def pipeline_id(self) -> str | None:
        return self.observed.id if self.observed else None

    @property
    def explanation(self) -> str | None:
        parts = [self.reason] if self.reason else []
        if self.action is Action.REPLACE:
            parts.append("the old pipeline stays with its runs while it has any")
        if self.action is Action.DELETE:
            parts.append("deletes its finished runs (kept, superseded, while one is in progress)")
        return "; ".join(parts) or None


@dataclass(frozen=True)
class AppliedPipelineChange:
    change: PipelineChange
    pipeline_id: str
    outcome: str  # "created", "updated", "replaced", "deleted", "superseded"
    retired: str | None = None  # for a replace: what became of the old pipeline


class JobLookup:
    """The applied jobs a workflow's pipeline runs, each found once for the command: one listing, one read
    of each job, one of its env as OCI holds it (jobctl's derived variables included)."""

    def __init__(self, backend: OciBackend) -> None:
        self.backend = backend
        self._listed: list[JobState] | None = None
        self._jobs: dict[str, JobState] = {}
        self._env: dict[str, dict[str, str]] = {}

    def _live(self) -> list[JobState]:
        from jobctl.engine.resolve import live_jobs

        if self._listed is None:
            self._listed = live_jobs(self.backend)
        return self._listed

    def job(self, name: str) -> JobState:
        from jobctl.engine.resolve import resolve_job

        if name not in self._jobs:
            self._jobs[name] = resolve_job(self.backend, name, runnable=True, listed=self._live)
        return self._jobs[name]

    def set_of(self, name: str) -> str | None:
        """The set the current job of this name was applied from, if there is one."""
        return next((job.set_name for job in self._live() if job.managed_name == name and not job.superseded), None)

    def env(self, job: JobState) -> dict[str, str]:
        if job.id not in self._env:
            self._env[job.id] = self.backend.job_environment(job.id)
        return self._env[job.id]


def selector_definition(workflow: str, like: JobDefinition) -> JobDefinition:
    """The job a pipeline's selector steps run: jobctl's driver alone, on the machine of the job it selects
    among (which works in that project and network)."""
    return JobDefinition(
        name=selector_name(workflow), description=f"jobctl: picks the best run of a step of {workflow}",
        compartment_id=like.compartment_id, project_id=like.project_id, shape=like.shape, ocpus=like.ocpus,
        memory_in_gbs=like.memory_in_gbs, block_storage_size_in_gbs=like.block_storage_size_in_gbs,
        subnet_id=like.subnet_id, log_enabled=like.log_enabled, log_group_id=like.log_group_id,
        log_auto_create=bool(like.log_group_id), runtime_type="python", command=SELECT_COMMAND,
        conda_slug=like.conda_slug, conda_uri=like.conda_uri)


def selector_jobs(lookup: JobLookup, workflows: Sequence[Workflow], desired: Sequence[DesiredJob],
                  set_name: str | None, defaults: Mapping[str, str]) -> list[DesiredJob]:
    """The selector job of each workflow that selects, as a desired job of the plan (the machine of its first
    step's job: from the specs, else as applied)."""
    from jobctl.plan.desired import desired_job
    from jobctl.spec.model import JobSpec

    by_name = {want.name: want.definition for want in desired}
    made = []
    for workflow in workflows:
        if not any(step.select for step in workflow.steps):
            continue
        first = workflow.steps[0].job
        like = by_name.get(first) or _definition(lookup.job(first))
        spec = JobSpec(selector_definition(workflow.name, like), origin=workflow.origin)
        made.append(desired_job(spec, set_name, defaults))
    return made


def _definition(job: JobState) -> JobDefinition:
    assert job.definition is not None  # resolve_job reads jobs in full
    return job.definition


def _where(workflow: Workflow) -> tuple[str, int]:
    origin = workflow.origin
    return (origin.file, origin.line) if origin else (workflow.name, 1)


def compiled_for(lookup: JobLookup, workflow: Workflow, jobs: Mapping[str, JobState]) -> CompiledWorkflow:
    """The workflow as a pipeline over these applied jobs; what it cannot be is a spec error at the workflow.
    With some of its jobs not applied yet (this apply makes them): only what can be checked without them,
    and no steps."""
    if not workflow.state:
        file, line = _where(workflow)
        raise SpecError([Diagnostic(file, line, 1, "spec.state", f"workflow {workflow.name!r}: the pipeline "
                                    "engine keeps the runs' reports in Object Storage: set spec.state "
                                    "(oci://bucket@namespace/prefix)")])
    try:
        if len(jobs) < len({step.job for step in workflow.steps}):  # some are made by this apply: check what can be
            problems = unsupported(workflow, driven={step.job for step in workflow.steps})
            if problems:
                raise NotCompilable(problems)
            return CompiledWorkflow(workflow.name, ())
        return compile_workflow(workflow, {name: lookup.env(job) for name, job in jobs.items()},
                                workflow.state, driven={name for name, job in jobs.items() if _definition(job).driven})
    except NotCompilable as exc:
        file, line = _where(workflow)
        if workflow.engine != "pipeline":  # asked for by --engine pipeline
            raise UsageError(f"{file}:{line}: workflow {workflow.name!r} cannot run on the pipeline engine: "
                             + "; ".join(exc.problems), hint="run it with --engine client") from exc
        raise SpecError([Diagnostic(file, line, 1, "spec.engine", f"workflow {workflow.name!r} cannot run on "
                                    f"the pipeline engine: {problem}") for problem in exc.problems],
                        hint="run it with the client engine (spec.engine: client)") from exc


def plan_pipelines(lookup: JobLookup, workflows: Sequence[Workflow], changing: Mapping[str, Action], *,
                   set_name: str | None, prune: bool = False, kept: Sequence[str] = (),
                   scopes: Sequence[tuple[str, str | None]] = ()) -> tuple[list[PipelineChange], list[str]]:
    """The changes that make each workflow's pipeline as its spec says (`changing`: the jobs this plan
    creates or replaces, whose OCIDs are not known yet), and with `prune`, the deletes of this set's
    pipelines whose workflow (`kept`: every workflow in the specs) is gone, looked for where the
    workflows' and the specs' jobs (`scopes`: compartment, project) live. Also the names unchanged."""
    from jobctl.backends.oci.pipelines import pipeline_hash

    backend = lookup.backend
    changes: list[PipelineChange] = []
    unchanged: list[str] = []
    seen: dict[tuple[str, str | None], list[AppliedPipeline]] = {}

    def applied(compartment: str, project: str | None) -> list[AppliedPipeline]:
        if (compartment, project) not in seen:
            seen[compartment, project] = backend.pipelines.applied(compartment=compartment, project=project)
        return seen[compartment, project]

    for workflow in workflows:
        jobs = _jobs(lookup, workflow, changing)
        if workflow.state:  # its bucket must be there before a pipeline that keeps state in it is made
            backend.workflow_store(workflow.state).runs(workflow.name)
        known = {name: job for name, job in jobs.items() if job is not None}
        compartment, project = _scope(backend, workflow, known)
        current = next((p for p in applied(compartment, project) if p.name == workflow.name and not p.superseded),
                       None)
        if len(known) < len(jobs):
            compiled_for(lookup, workflow, {name: job for name, job in known.items() if name})  # what it cannot run
            new = sorted(_job_name(workflow, key) for key, job in jobs.items() if job is None)
            why = f"job {', '.join(new)} {'is' if len(new) == 1 else 'are'} {changing[new[0]].value}d by this apply"
            changes.append(PipelineChange(Action.REPLACE if current else Action.CREATE, workflow.name, workflow,
                                          current, why if current else None))
            continue
        compiled = compiled_for(lookup, workflow, known)
        digest = pipeline_hash(compiled, _ids(known))
        if current is not None and current.spec_hash == digest and current.state == "ACTIVE":
            if not _recorded(backend, workflow, current):  # an apply that made it could not write its record
                changes.append(PipelineChange(Action.UPDATE, workflow.name, workflow, current,
                                              "its record in spec.state is missing: apply writes it"))
            elif set_name is not None and current.set_name != set_name:  # with its selector job, as jobs move
                changes.append(PipelineChange(Action.UPDATE, workflow.name, workflow, current,
                                              f"moves to set {set_name!r} (from {current.set_name!r})"))
            else:
                unchanged.append(workflow.name)
            continue
        if current is None:
            changes.append(PipelineChange(Action.CREATE, workflow.name, workflow, None))
            continue
        _, held = backend.pipelines.held(current.id)
        action, reason, fields = _compare(compiled, _ids(known), held)
        if current.state != "ACTIVE":
            action, reason = Action.REPLACE, f"the pipeline is {current.state}"
        changes.append(PipelineChange(action, workflow.name, workflow, current, reason, fields))
    if prune:
        wanted = {*kept, *(w.name for w in workflows)}
        where = sorted({*seen, *scopes}, key=str)
        if not where and "spec.compartmentId" in backend.spec_defaults():
            where = [_default_scope(backend)]
        for scope in where:
            changes.extend(PipelineChange(Action.DELETE, p.name, None, p) for p in applied(*scope)
                           if p.name not in wanted and p.set_name == set_name and not p.superseded)
    return changes, unchanged


def _recorded(backend: OciBackend, workflow: Workflow, pipeline: AppliedPipeline) -> bool:
    """Whether the pipeline's record (what `workflow run NAME` reads) is in the state location, as applied."""
    assert workflow.state
    record = backend.workflow_store(workflow.state).read(workflow.name, "pipelines", f"{pipeline.id}.json")
    return isinstance(record, dict) and record.get("hash") == pipeline.spec_hash


def _jobs(lookup: JobLookup, workflow: Workflow, changing: Mapping[str, Action]) -> dict[str, JobState | None]:
    """Each job the pipeline runs (the selector job under ""), as applied; None for a job this plan creates or
    replaces."""
    keys = [step.job for step in workflow.steps] + ([""] if any(step.select for step in workflow.steps) else [])
    return {key: None if changing.get(_job_name(workflow, key)) in (Action.CREATE, Action.REPLACE) else
            lookup.job(_job_name(workflow, key)) for key in keys}


def _job_name(workflow: Workflow, key: str) -> str:
    """The job a compiled step's `job` names ("": the workflow's selector job)."""
    return key or selector_name(workflow.name)


def selector_name(workflow: str) -> str:
    """The name of the job a workflow's selector steps run."""
    return f"{workflow[:56]}{SELECT_SUFFIX}"


def _ids(jobs: Mapping[str, JobState]) -> dict[str, str]:
    return {name: job.id for name, job in jobs.items()}


def _scope(backend: OciBackend, workflow: Workflow, known: Mapping[str, JobState]) -> tuple[str, str | None]:
    """Where the pipeline lives: with its first step's job (else the backend's default compartment and project)."""
    job = known.get(workflow.steps[0].job)
    if job is not None and job.definition is not None and job.definition.compartment_id:
        return job.definition.compartment_id, job.definition.project_id
    return _default_scope(backend)


def _default_scope(backend: OciBackend) -> tuple[str, str | None]:
    defaults = backend.spec_defaults()
    if "spec.compartmentId" not in defaults:
        raise ConfigError("workflow pipelines are looked up in a compartment: none is set",
                          hint="pass --compartment-id (or set OCI_COMPARTMENT_ID)")
    return defaults["spec.compartmentId"], defaults.get("spec.projectId")


def _compare(compiled: CompiledWorkflow, ids: Mapping[str, str], held: Sequence[HeldStep]) -> tuple[
        Action, str | None, tuple[FieldChange, ...]]:
    """Update when only what UpdatePipeline changes differs (each step's env and arguments), else replace,
    saying why."""
    have = {step.name: step for step in held}
    want = {step.name: step for step in compiled.steps}
    if list(have) != list(want):
        added, removed = sorted(set(want) - set(have)), sorted(set(have) - set(want))
        said = [f"step {', '.join(added)} added" if added else "", f"step {', '.join(removed)} removed" if removed
                else "", "" if added or removed else "its steps are in another order"]
        return Action.REPLACE, "; ".join(filter(None, said)), ()
    for name, step in want.items():
        if ids[step.job or ""] != have[name].job_id:
            return Action.REPLACE, f"step {name} runs another job (a step's job cannot change in place)", ()
        if tuple(step.depends_on) != have[name].depends_on:
            return Action.REPLACE, f"step {name} depends on other steps (the order cannot change in place)", ()
    fields: list[FieldChange] = []
    for name, step in want.items():
        old = have[name]
        changed = [var for var in sorted({*step.env, *old.env}) if step.env.get(var) != old.env.get(var)]
        for var in changed:
            if not var.startswith("JOBCTL_"):
                fields.append(FieldChange(f"steps.{name}.env.{var}", old.env.get(var), step.env.get(var), False))
        if any(var.startswith("JOBCTL_") for var in changed):  # jobctl's own wiring: said, not dumped
            fields.append(FieldChange(f"steps.{name}.env.JOBCTL_*", "(as applied)", "(follows the spec's change)",
                                      False))
        if (step.args or None) != old.args:
            fields.append(FieldChange(f"steps.{name}.args", list(old.args or []) or None, list(step.args or []) or None,
                                      False))
    return Action.UPDATE, None, tuple(fields)


def apply_pipeline(lookup: JobLookup, change: PipelineChange, *, set_name: str | None) -> AppliedPipelineChange:
    """Execute one pipeline change, with the jobs as they are now (`lookup` made after this apply's jobs)."""
    from jobctl.backends.oci.pipelines import pipeline_hash
    from jobctl.model.request import retry_token

    backend = lookup.backend
    pipelines = backend.pipelines
    if change.action is Action.DELETE:
        assert change.observed is not None
        return AppliedPipelineChange(change, change.observed.id, pipelines.retire(change.observed, keep_runs=False))
    workflow = change.workflow
    assert workflow is not None
    assert workflow.state
    jobs = {key: job for key, job in _jobs(lookup, workflow, {}).items() if job is not None}
    compiled = compiled_for(lookup, workflow, jobs)
    digest = pipeline_hash(compiled, _ids(jobs))
    tags = {TAG_MANAGED: "true", TAG_NAME: workflow.name, TAG_HASH: digest}
    if set_name is not None:
        tags[TAG_SET] = set_name
    if len(workflow.state) <= MAX_TAG_VALUE:
        tags["jobctl-state"] = workflow.state
    compartment, project = _scope(backend, workflow, jobs)
    if change.action is Action.UPDATE and change.observed is not None:
        etag, _ = pipelines.held(change.observed.id)
        pipelines.update(change.observed.id, compiled, etag=etag, tags=tags)
        pipeline_id, outcome, retired = change.observed.id, "updated", None
    else:
        old = change.observed.id if change.observed else ""
        pipeline_id = pipelines.create(compiled, _ids(jobs), compartment=compartment, project=str(project),
                                       tags=tags, retry_token=retry_token(compartment, workflow.name, digest, old))
        outcome, retired = ("replaced", "") if change.observed else ("created", None)
    backend.workflow_store(workflow.state).write(manifest(workflow, compiled, digest), workflow.name, "pipelines",
                                                 f"{pipeline_id}.json")
    if outcome == "replaced":
        assert change.observed is not None
        retired = pipelines.retire(change.observed, keep_runs=True)
    return AppliedPipelineChange(change, pipeline_id, outcome, retired)


def ensure(lookup: JobLookup, workflow: Workflow, *, set_name: str | None,
           report: Callable[[AppliedPipelineChange], None],
           confirm: Callable[[str], None]) -> tuple[AppliedPipeline, CompiledWorkflow]:
    """The workflow's pipeline as its spec says, made so if it is not (as `apply` would; `report` hears what
    was done, `confirm` is asked before a replace), and the workflow compiled: for `workflow run FILE`. Its
    jobs must be applied."""
    from jobctl.backends.oci.pipelines import pipeline_hash
    from jobctl.errors import ConflictError

    changes, _ = plan_pipelines(lookup, [workflow], {}, set_name=set_name)
    for change in changes:
        if change.action is Action.REPLACE:
            confirm(f"replace pipeline {change.name} ({change.pipeline_id}): {change.explanation}")
    for change in changes:
        report(apply_pipeline(lookup, change, set_name=set_name))
    jobs = {key: job for key, job in _jobs(lookup, workflow, {}).items() if job is not None}
    compiled = compiled_for(lookup, workflow, jobs)
    pipeline = current(lookup.backend, workflow.name, _scope(lookup.backend, workflow, jobs))
    if pipeline.spec_hash != pipeline_hash(compiled, _ids(jobs)):
        raise ConflictError(f"workflow {workflow.name!r}: its pipeline {pipeline.id} changed while this run was "
                            "being started", hint="try again")
    return pipeline, compiled


def current(backend: OciBackend, name: str, scope: tuple[str, str | None] | None = None) -> AppliedPipeline:
    """The workflow's pipeline, ACTIVE (in the backend's default compartment and project, or `scope`)."""
    from jobctl.errors import NotFoundError

    compartment, project = scope or _default_scope(backend)
    found = [p for p in backend.pipelines.applied(compartment=compartment, project=project)
             if p.name == name and not p.superseded and p.state == "ACTIVE"]
    if not found:
        raise NotFoundError(f"workflow {name!r} has no pipeline applied in compartment {compartment}",
                            hint="apply its spec (with spec.engine: pipeline), or run it from its file: "
                                 "jobctl workflow run FILE --engine pipeline")
    return found[0]


def manifest(workflow: Workflow, compiled: CompiledWorkflow, digest: str) -> dict[str, Any]:
    """What `workflow run NAME` needs besides the pipeline: the workflow's steps, and what each pipeline step is
    part of (what a run fills in is read from the pipeline itself: whoever can write the state bucket cannot
    change what a run receives)."""
    return {
        "apiVersion": "jobctl/v1", "kind": "WorkflowPipeline", "workflow": workflow.name, "hash": digest,
        "steps": [{"name": s.name, "needs": list(s.needs), "select": s.select.metric if s.select else None}
                  for s in workflow.order()],
        "pipelineSteps": [{"name": s.name, "of": s.of_step, "key": s.key} for s in compiled.steps],
    }


def from_manifest(data: Any, held: Sequence[HeldStep], *, state: str, where: str) -> tuple[Workflow, CompiledWorkflow]:
    """The workflow and its compiled form as `workflow run` uses them, from a manifest and the pipeline's
    steps as held (their env and arguments)."""
    try:
        steps = tuple(Step(s["name"], "", tuple(s["needs"]), select=Select(s["select"]) if s["select"] else None)
                      for s in data["steps"])
        workflow = Workflow(data["workflow"], steps, state, engine="pipeline", digest=data["hash"])
        have = {step.name: step for step in held}
        compiled = CompiledWorkflow(workflow.name, tuple(
            PipelineStep(s["name"], None, have[s["name"]].depends_on, have[s["name"]].env, have[s["name"]].args,
                         s["of"], s["key"], *filled_at_run(have[s["name"]].env))
            for s in data["pipelineSteps"]))  # what a run fills in: from the pipeline, never from the record
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{where} does not describe this workflow's pipeline ({exc!r})",
                          hint="apply the workflow's spec again") from exc
    return workflow, compiled


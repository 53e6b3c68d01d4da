"""`workflow run --engine pipeline`: the workflow as an OCI Data Science pipeline run, started and left to
the service (docs/decisions/0014-pipeline-engine.md). The process that starts it may exit: `workflow status`
reads the pipeline run, `workflow cancel` cancels it.

The state kept (the workflow's state location) says which pipeline run is the workflow run's; the tree
`workflow status` shows is read from the service each time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from jobctl.errors import ConfigError, UsageError
from jobctl.model.job import TAG_HASH, TAG_MANAGED, TAG_NAME, JobDefinition, JobState
from jobctl.workflow.expressions import Context, render
from jobctl.workflow.pipeline import SELECT_SUFFIX, NotCompilable, compile_workflow
from jobctl.workflow.runner import new_state, storable

if TYPE_CHECKING:
    from jobctl.backends.oci import OciBackend
    from jobctl.backends.oci.pipelines import PipelineRunState
    from jobctl.workflow.model import Workflow
    from jobctl.workflow.state import StateStore

SELECT_COMMAND = "jobctl-select"  # never run: a pipeline's selector step starts the driver in select mode


def selector_definition(workflow: str, like: JobDefinition) -> JobDefinition:
    """The job a pipeline's selector steps run: jobctl's driver alone, on the machine of the job it selects
    among (which works in that project and network)."""
    return JobDefinition(
        name=f"{workflow[:56]}{SELECT_SUFFIX}", description=f"jobctl: picks the best run of a step of {workflow}",
        compartment_id=like.compartment_id, project_id=like.project_id, shape=like.shape, ocpus=like.ocpus,
        memory_in_gbs=like.memory_in_gbs, block_storage_size_in_gbs=like.block_storage_size_in_gbs,
        subnet_id=like.subnet_id, log_enabled=like.log_enabled, log_group_id=like.log_group_id,
        log_auto_create=bool(like.log_group_id), runtime_type="python", command=SELECT_COMMAND,
        conda_slug=like.conda_slug, conda_uri=like.conda_uri)


def start(backend: OciBackend, store: StateStore, workflow: Workflow, env: Mapping[str, str]) -> dict[str, Any]:
    """Make (or find) the pipeline, start a run of it, and record the workflow run; its state."""
    from jobctl.engine.resolve import resolve_job

    if not workflow.state:
        raise ConfigError(f"workflow {workflow.name!r}: the pipeline engine keeps the runs' reports in Object "
                          "Storage: set spec.state (oci://bucket@namespace/prefix)")
    store.runs(workflow.name)  # the state location must be there before anything is made (its bucket)
    jobs = {step.job: resolve_job(backend, step.job, runnable=True) for step in workflow.steps}
    definitions = {name: _definition(job) for name, job in jobs.items()}
    try:
        compiled = compile_workflow(workflow, {n: backend.job_environment(j.id) for n, j in jobs.items()},
                                    workflow.state, driven={n for n, d in definitions.items() if d.driven})
    except NotCompilable as exc:
        raise UsageError(f"workflow {workflow.name!r} cannot run on the pipeline engine: " + "; ".join(exc.problems),
                         hint="run it with --engine client") from exc
    first = definitions[workflow.steps[0].job]
    compartment, project = str(first.compartment_id), str(first.project_id)
    ids = {name: job.id for name, job in jobs.items()}
    if any(s.job is None for s in compiled.steps):
        ids[""] = _selector_job(backend, workflow.name, first)
    pipelines = backend.pipelines
    pipeline_id = pipelines.ensure(compiled, ids, compartment=compartment, project=project)
    state = new_state(workflow, env)
    context = Context({}, env, {"name": workflow.name, "run": state["run"]})
    at_run = {s.name: {**s.env, **{k: render(v, context) for k, v in s.at_run.items()}}
              for s in compiled.steps if s.at_run or s.args_at_run}
    args = {s.name: tuple(render(a, context) for a in s.args or ()) if s.args_at_run else s.args
            for s in compiled.steps if s.name in at_run}
    run = pipelines.start(pipeline_id, compartment=compartment, project=project, name=state["run"], step_env=at_run,
                          step_args=args,
                          retry_token=hashlib.sha256(state["run"].encode()).hexdigest()[:64])
    state.update(engine="pipeline", pipelineId=pipeline_id, pipelineRunId=run.id,
                 pipelineSteps={s.name: [s.of_step, s.key] for s in compiled.steps})
    refresh(state, run)
    stored = storable(state)  # no secret --env value in Object Storage (their names only)
    store.save(workflow.name, stored)
    return stored


def _definition(job: JobState) -> JobDefinition:
    assert job.definition is not None  # resolve_job reads jobs in full
    return job.definition


def _selector_job(backend: OciBackend, workflow: str, like: JobDefinition) -> str:
    """The selector job of this workflow, as it should be, applied if it is not (as `apply` would)."""
    from jobctl.artifact import build_driver_artifact
    from jobctl.plan.desired import spec_hash

    definition = selector_definition(workflow, like)
    artifact = build_driver_artifact(definition.name)
    definition = replace(definition, artifact_digest=artifact.digest)
    digest = spec_hash(definition)
    for job in backend.list_jobs(compartment_id=like.compartment_id, project_id=like.project_id):
        if job.managed_name == definition.name and job.spec_hash == digest and job.lifecycle_state == "ACTIVE":
            return job.id
    tagged = replace(definition, owner_tags={TAG_MANAGED: "true", TAG_NAME: definition.name, TAG_HASH: digest})
    return backend.create_job(definition=tagged, artifact=artifact, retry_token=digest[:64]).id


def refresh(state: dict[str, Any], run: PipelineRunState,
            read_best: Callable[[str], dict[str, Any] | None] = lambda step: None) -> None:
    """The workflow run's tree as the pipeline run has it now: each step's status, and its runs; with
    `read_best` (a step's best.json, or None), each selecting step's pick and its metrics."""
    places: Mapping[str, list[str]] = state["pipelineSteps"]
    records = state["steps"]
    for record in records.values():
        record["runs"] = []
    for step in run.steps:
        of_step, key = places.get(step.name, [step.name, "-"])
        if key != "select":
            records[of_step]["runs"].append({"key": key, "id": step.job_run_id or "", "name": step.name,
                                             "state": step.state, "exitCode": None, "details": step.details,
                                             "env": {}, "outputs": None})
    for name, record in records.items():
        states = [s.state for s in run.steps if places.get(s.name, [s.name])[0] == name]
        record["status"] = _status(states)
        best = read_best(name) if record.get("selectedBy") and record["status"] == "succeeded" else None
        for entry in record["runs"]:
            if best is not None and entry["name"] == best.get("step"):
                record["best"] = entry["id"]
                entry.update(metrics=best.get("metrics") or {}, env=best.get("env") or {})
    state["status"] = {"SUCCEEDED": "succeeded", "FAILED": "failed", "CANCELED": "canceled"}.get(run.state, "running")
    state["pipelineRunState"] = run.state
    if run.details:
        state["error"] = run.details


def _status(states: list[str]) -> str:
    if states and all(s == "SUCCEEDED" for s in states):
        return "succeeded"
    for found, status in (("FAILED", "failed"), ("CANCELED", "canceled"), ("SKIPPED", "skipped")):
        if found in states:
            return status
    return "running" if any(s not in ("WAITING",) for s in states) else "pending"

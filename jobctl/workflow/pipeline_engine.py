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
from jobctl.workflow.expressions import Context, references, render
from jobctl.workflow.runner import new_state, now, storable

if TYPE_CHECKING:
    from jobctl.backends.oci import OciBackend
    from jobctl.backends.oci.pipelines import AppliedPipeline, PipelineRunState
    from jobctl.workflow.model import Workflow
    from jobctl.workflow.pipeline import CompiledWorkflow
    from jobctl.workflow.state import StateStore



def run_file(backend: OciBackend, workflow: Workflow, env: Mapping[str, str], *, set_name: str | None,
             report: Callable[[str], None], confirm: Callable[[str], None],
             key: str | None = None) -> tuple[StateStore, dict[str, Any], str]:
    """`workflow run FILE`: the workflow's pipeline (and selector job) made as the spec says if they are not, as
    `apply` would, then a run of it started; its state."""
    from jobctl.engine.apply import apply_plan, build_plan
    from jobctl.workflow import deploy

    if not workflow.state:
        raise ConfigError(f"workflow {workflow.name!r}: the pipeline engine keeps the runs' reports in Object "
                          "Storage: set spec.state (oci://bucket@namespace/prefix)")
    store = backend.workflow_store(workflow.state)
    store.runs(workflow.name)  # the state location must be there before anything is made (its bucket)
    lookup = deploy.JobLookup(backend)
    deploy.compiled_for(lookup, workflow, {step.job: lookup.job(step.job) for step in workflow.steps})  # what it
    # cannot run is said before anything is made
    set_name = lookup.set_of(deploy.selector_name(workflow.name)) or set_name  # where `apply` put them, if it did
    selectors = deploy.selector_jobs(lookup, [workflow], [], set_name, backend.spec_defaults())
    if selectors:
        applied = apply_plan(backend, build_plan(backend, selectors, set_name=set_name))
        for change in applied:
            report(f"job {change.change.name}: {change.outcome} ({change.job_id})")
        if applied:
            lookup = deploy.JobLookup(backend)  # the selector job is another one now
    pipeline, compiled = deploy.ensure(lookup, workflow, set_name=set_name, confirm=confirm, report=lambda done: report(
        f"pipeline {done.change.name}: {done.outcome} ({done.pipeline_id})"))
    return store, *start(backend, store, workflow, compiled, pipeline=pipeline, env=env, key=key)


def run_applied(backend: OciBackend, name: str, env: Mapping[str, str], location: str | None,
                key: str | None = None) -> tuple[StateStore, dict[str, Any], str]:
    """`workflow run NAME`: a run of the workflow's applied pipeline, from what its apply recorded."""
    from jobctl.workflow import deploy

    pipeline = deploy.current(backend, name)
    location = location or pipeline.state_uri
    if not location:
        raise ConfigError(f"workflow {name!r}: pipeline {pipeline.id} does not say where the workflow's state is",
                          hint="pass --state (the workflow's spec.state)")
    store = backend.workflow_store(location)
    where = f"{location.rstrip('/')}/{name}/pipelines/{pipeline.id}.json"
    recorded = store.read(name, "pipelines", f"{pipeline.id}.json")
    if recorded is None or recorded.get("hash") != pipeline.spec_hash:
        raise ConfigError(f"workflow {name!r}: {where} does not describe pipeline {pipeline.id} "
                          f"({'missing' if recorded is None else 'it is of another version'})",
                          hint="apply the workflow's spec again, or run it from its file")
    _, held = backend.pipelines.held(pipeline.id)
    workflow, compiled = deploy.from_manifest(recorded, held, state=location, where=where)
    missing = sorted({ref.key for step in compiled.steps for text in (*step.at_run.values(), *(
        (step.args or ()) if step.args_at_run else ())) for ref in references(text) if ref.kind == "env"} - set(env))
    if missing:
        raise UsageError(f"workflow {name!r} takes {', '.join(missing)} from --env: give "
                         + " ".join(f"--env {var}=..." for var in missing))
    return store, *start(backend, store, workflow, compiled, pipeline=pipeline, env=env, key=key)


def start(backend: OciBackend, store: StateStore, workflow: Workflow, compiled: CompiledWorkflow, *,
          pipeline: AppliedPipeline, env: Mapping[str, str], key: str | None = None) -> tuple[dict[str, Any], str]:
    """Start a run of the pipeline, each step's values set when the run starts filled in; record it. With
    `key`, the run started with that idempotency key instead, if there is one (exit 5 on other inputs: the
    pipeline or --env). The state is saved before the pipeline run is created, and the creation's retry
    token is the workflow run's: a retry after a crash in between makes no second pipeline run. The state,
    and what was done."""
    workflow = replace(workflow, digest=pipeline.spec_hash or "")  # its inputs: the pipeline and --env
    found = _keyed(store, workflow, env, key) if key is not None else None
    if found is not None and found.get("pipelineRunId"):
        return found, f"re-attached to run {found['run']} (idempotency key {key!r}): it is {found['status']}"
    state = found or new_state(workflow, env, key)
    state.update(engine="pipeline", stateUri=workflow.state, pipelineId=pipeline.id,
                 pipelineSteps={s.name: [s.of_step, s.key] for s in compiled.steps})
    store.save(workflow.name, storable(state))  # no secret --env value in Object Storage (their names only)
    context = Context({}, env, {"name": workflow.name, "run": state["run"]})
    at_run = {s.name: {**s.env, **{k: render(v, context) for k, v in s.at_run.items()}}
              for s in compiled.steps if s.at_run or s.args_at_run}
    args = {s.name: tuple(render(a, context) for a in s.args or ()) if s.args_at_run else s.args
            for s in compiled.steps if s.name in at_run}
    run = backend.pipelines.start(pipeline.id, compartment=pipeline.compartment, project=pipeline.project,
                                  name=state["run"], step_env=at_run, step_args=args,
                                  retry_token=hashlib.sha256(state["run"].encode()).hexdigest()[:64])
    state["pipelineRunId"] = run.id
    refresh(state, run)
    stored = storable(state)
    store.save(workflow.name, stored)
    said = f" (idempotency key {key!r})" if key is not None else ""
    return stored, f"started run {state['run']}{said} as pipeline run {run.id}"


def _keyed(store: StateStore, workflow: Workflow, env: Mapping[str, str], key: str) -> dict[str, Any] | None:
    """The run started with idempotency key `key`, if its inputs are these; ConflictError if not."""
    from jobctl.errors import ConflictError
    from jobctl.workflow.runner import env_differences, inputs_env, inputs_of

    found = next((s for s in (store.load(workflow.name, r) for r in reversed(store.runs(workflow.name)))
                  if s and s.get("idempotencyKey") == key), None)
    if found is None:
        return None
    differ = env_differences(inputs_env(found), env)
    if differ or found.get("inputs") != inputs_of(workflow, env):
        said = f"--env {', '.join(differ)}" if differ else "the pipeline (its spec or jobs changed since)"
        raise ConflictError(f"idempotency key {key!r} belongs to run {found['run']}, which was started with other "
                            f"inputs: {said} differs",
                            hint="use another key for other inputs, or the same inputs for this key")
    return found


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
        if key == "select" and step.state == "FAILED":  # its reason is in its job run's log
            records[of_step]["error"] = (f"selecting the best run failed ({step.details or 'no reason given'}); "
                                         f"see why: jobctl logs {step.job_run_id}" if step.job_run_id else
                                         f"selecting the best run failed: {step.details or 'no reason given'}")
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
    if state["status"] != "running" and not state.get("finished"):
        state["finished"] = now()  # when jobctl saw it end
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

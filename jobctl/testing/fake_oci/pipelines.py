"""Data Science Pipelines: a DAG of steps, each the run of a job that already exists (ML_JOB steps).

A pipeline is CREATING when made and ACTIVE one step later (one GET with auto_progress, or `fake.step_all()`):
an ML_JOB step has no artifact to wait for. Only ML_JOB steps are served; CUSTOM_SCRIPT, CONTAINER and
DATAFLOW steps are refused with 400 (a limit of the fake, not of OCI). The DAG is checked at create: unique
step names, known `dependsOn`, no cycle, and each step's job exists and is ACTIVE. An update changes only
what `UpdatePipelineDetails` carries; its `stepDetails` find steps by name and cannot change their type, jobs
or dependencies. DeletePipeline answers with a work request (PIPELINE_DELETE) and refuses while a run is
active. Every rule and its source is in docs/oci-fidelity.md ("Data Science Pipelines").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Any

from jobctl.testing.fake_oci import schema
from jobctl.testing.fake_oci.errors import ApiError, conflict, existing, incorrect_state, invalid, limit_exceeded
from jobctl.testing.fake_oci.pipeline_runs import ACTIVE_RUN_STATES, mark_run_deleted
from jobctl.testing.fake_oci.state import check_etag, present
from jobctl.testing.fake_oci.wire import format_time

if TYPE_CHECKING:
    from jobctl.testing.fake_oci.state import Store

CREATING, ACTIVE, DELETING, DELETED = "CREATING", "ACTIVE", "DELETING", "DELETED"
PIPELINE_STATES = ("CREATING", "ACTIVE", "DELETING", "FAILED", "DELETED")
PIPELINE_SUMMARY_FIELDS = ("id", "timeCreated", "timeUpdated", "createdBy", "projectId", "compartmentId",
                           "displayName", "lifecycleState", "freeformTags", "definedTags", "systemTags")
SERVED_STEP_TYPES = ("ML_JOB",)


@dataclass
class PipelineRecord:
    resource: dict[str, Any]
    seq: int

    @property
    def state(self) -> str:
        return str(self.resource["lifecycleState"])


def pipeline(store: Store, pipeline_id: str) -> PipelineRecord:
    return existing(store.pipelines, "Pipeline", pipeline_id)


def create_pipeline(store: Store, body: Any, created_by: str) -> dict[str, Any]:
    """CreatePipeline: the pipeline, CREATING, after checking its steps form a DAG over ACTIVE jobs."""
    schema.CREATE_PIPELINE.check(body, "")
    check_steps(store, body["stepDetails"])
    if len(store.pipelines) >= store.limits.max_pipelines:
        raise limit_exceeded(f"the fake holds at most {store.limits.max_pipelines} pipelines")
    now = format_time(store.now())
    resource = {"freeformTags": {}, "definedTags": {}, **present(body)}
    resource.setdefault("displayName", f"pipeline-{now}")  # the service names it when the request does not
    resource.update(id=store.new_id("datasciencepipeline"), timeCreated=now, timeUpdated=now, createdBy=created_by,
                    lifecycleState=CREATING)
    store.pipelines[resource["id"]] = PipelineRecord(resource, store.next_seq())
    return resource


def check_steps(store: Store, steps: list[dict[str, Any]]) -> None:
    """The steps' names are unique, each names only other steps in dependsOn, they form no cycle, and each
    runs an ACTIVE job of the fake."""
    if not steps:
        raise invalid("stepDetails must hold at least one step")
    names = [step["stepName"] for step in steps]
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)
    if repeated:
        raise invalid(f"stepDetails: step names must be unique within the pipeline: {', '.join(repeated)}")
    for step in steps:
        _check_step(store, step, names)
    try:
        TopologicalSorter({step["stepName"]: step.get("dependsOn") or [] for step in steps}).prepare()
    except CycleError as error:
        raise invalid(f"stepDetails: the steps must form a DAG; dependsOn makes a cycle (each depends on the next): "
                      f"{' -> '.join(reversed(error.args[1]))}") from error


def _check_step(store: Store, step: Mapping[str, Any], names: list[str]) -> None:
    name = step["stepName"]
    if step["stepType"] not in SERVED_STEP_TYPES:
        raise invalid(f"step {name}: the fake serves ML_JOB steps only, not {step['stepType']}")
    for needed in step.get("dependsOn") or []:
        if needed == name:
            raise invalid(f"step {name} depends on itself")
        if needed not in names:
            raise invalid(f"step {name} depends on {needed!r}, which is not a step of this pipeline")
    job = store.jobs.get(step["jobId"])
    if job is None:
        raise ApiError(400, "RelatedResourceNotAuthorizedOrNotFound", f"step {name}: job {step['jobId']} not found")
    if job.resource["lifecycleState"] != ACTIVE:
        raise invalid(f"step {name}: job {step['jobId']} is {job.resource['lifecycleState']}; a step's job "
                      "must be ACTIVE")


def update_pipeline(store: Store, pipeline_id: str, body: Any, if_match: str | None) -> dict[str, Any]:
    """UpdatePipeline: the fields of UpdatePipelineDetails replace the pipeline's; steps are found by name."""
    record = pipeline(store, pipeline_id)
    check_etag(record.resource, if_match)
    schema.check_update(schema.UPDATE_PIPELINE, schema.CREATE_PIPELINE, body)
    if record.state not in (CREATING, ACTIVE):
        raise conflict(f"pipeline {pipeline_id} is {record.state} and cannot be updated")
    changes = present(body)
    if "stepDetails" in changes:
        changes["stepDetails"] = _updated_steps(record.resource["stepDetails"], changes["stepDetails"])
    record.resource.update(changes, timeUpdated=format_time(store.now()))
    return record.resource


def _updated_steps(held: list[dict[str, Any]], updates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pipeline's steps with each update applied to the step of its name (same type)."""
    steps = {step["stepName"]: dict(step) for step in held}
    for update in updates:
        name = update["stepName"]
        if name not in steps:
            raise invalid(f"stepDetails: {name!r} is not a step of this pipeline; steps cannot be added")
        if update["stepType"] != steps[name]["stepType"]:
            raise invalid(f"stepDetails: step {name} is {steps[name]['stepType']}; its type cannot change")
        steps[name].update(present(update))
    return list(steps.values())


def delete_pipeline(store: Store, pipeline_id: str, if_match: str | None, *, delete_runs: bool,
                    delete_job_runs: bool) -> str:
    """DeletePipeline: DELETING until the work request this returns (its id) succeeds."""
    record = pipeline(store, pipeline_id)
    check_etag(record.resource, if_match)
    if record.state in (DELETING, DELETED):
        raise conflict(f"pipeline {pipeline_id} is already {record.state}")
    runs = [run for run in store.pipeline_runs.values()
            if run.resource["pipelineId"] == pipeline_id and run.state != DELETED]
    active = [run.resource["id"] for run in runs if run.state in ACTIVE_RUN_STATES]
    if active:
        raise incorrect_state(f"pipeline {pipeline_id} has pipeline runs in progress: {', '.join(active)}; "
                              "cancel them first")
    if runs and not delete_runs:
        raise incorrect_state(f"pipeline {pipeline_id} has {len(runs)} pipeline run(s); delete them first or "
                              "pass deleteRelatedPipelineRuns=true")
    work_request_id = store.start_work_request("PIPELINE_DELETE", record.resource)
    for run in runs:
        mark_run_deleted(store, run, delete_job_runs)
    record.resource.update(lifecycleState=DELETING, timeUpdated=format_time(store.now()))
    return work_request_id


def activate(store: Store, pipeline_id: str | None = None) -> int:
    """CREATING pipelines (or the one given) become ACTIVE: ML_JOB steps have no artifact to wait for.
    Returns how many did."""
    creating = [record for key, record in store.pipelines.items()
                if record.state == CREATING and pipeline_id in (None, key)]
    for record in creating:
        record.resource.update(lifecycleState=ACTIVE, timeUpdated=format_time(store.now()))
    return len(creating)

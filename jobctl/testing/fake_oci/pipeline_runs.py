"""Pipeline runs: create, update, cancel and delete. How a run moves is `pipeline_scheduler`'s.

A run is ACCEPTED with one step run per step, in the pipeline's order, each WAITING; it keeps the
pipeline's steps and configuration as they were when it was created, so a later UpdatePipeline changes
only later runs. Cancel: CANCELING, then CANCELED once the steps' job runs are (SUCCEEDED with
terminateGracefully). Only an ended run can be deleted; it is DELETED at once, its job runs with it when
asked (deleteRelatedJobRuns).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobctl.testing.fake_oci import schema
from jobctl.testing.fake_oci.errors import ApiError, existing, incorrect_state, invalid, limit_exceeded
from jobctl.testing.fake_oci.lifecycle import log_details_from
from jobctl.testing.fake_oci.state import apply_update, check_etag, present
from jobctl.testing.fake_oci.wire import format_time

if TYPE_CHECKING:
    from jobctl.testing.fake_oci.state import Store

ACCEPTED, IN_PROGRESS, CANCELING, DELETED = "ACCEPTED", "IN_PROGRESS", "CANCELING", "DELETED"
SUCCEEDED, FAILED, CANCELED = "SUCCEEDED", "FAILED", "CANCELED"
WAITING, SKIPPED = "WAITING", "SKIPPED"
RUN_STATES = ("ACCEPTED", "IN_PROGRESS", "FAILED", "SUCCEEDED", "CANCELING", "CANCELED", "DELETING", "DELETED")
STEP_STATES = ("WAITING", "ACCEPTED", "IN_PROGRESS", "FAILED", "SUCCEEDED", "CANCELING", "CANCELED", "DELETED",
               "SKIPPED")
ACTIVE_RUN_STATES = frozenset({ACCEPTED, IN_PROGRESS, CANCELING})
ENDED_RUN_STATES = frozenset({SUCCEEDED, FAILED, CANCELED})
ACTIVE_STEP_STATES = frozenset({ACCEPTED, IN_PROGRESS, CANCELING})
ENDED_STEP_STATES = frozenset({SUCCEEDED, FAILED, CANCELED, DELETED, SKIPPED})
PIPELINE_RUN_SUMMARY_FIELDS = ("id", "timeAccepted", "timeStarted", "timeFinished", "timeUpdated", "createdBy",
                               "projectId", "compartmentId", "pipelineId", "displayName", "lifecycleState",
                               "lifecycleDetails", "freeformTags", "definedTags", "systemTags")


@dataclass
class PipelineRunRecord:
    resource: dict[str, Any]  # the PipelineRun's wire JSON
    seq: int
    pipeline: dict[str, Any]  # the pipeline as it was when the run was created
    graceful: bool = False  # canceled with terminateGracefully: its steps end SUCCEEDED

    @property
    def state(self) -> str:
        return str(self.resource["lifecycleState"])

    @property
    def step_runs(self) -> list[dict[str, Any]]:
        return list(self.resource["stepRuns"])

    def step(self, name: str) -> dict[str, Any]:
        """The pipeline's step of that name (its stepDetails entry)."""
        return next(step for step in self.pipeline["stepDetails"] if step["stepName"] == name)

    def override(self, name: str) -> Mapping[str, Any]:
        """The run's stepOverrideDetails entry for that step, or {}."""
        given = self.resource.get("stepOverrideDetails") or []
        return next((entry for entry in given if entry["stepName"] == name), {})

    def set_state(self, state: str, now: float, details: str | None = None) -> None:
        stamp = format_time(now)
        self.resource.update(lifecycleState=state, timeUpdated=stamp)
        if details is None:
            self.resource.pop("lifecycleDetails", None)
        else:
            self.resource["lifecycleDetails"] = details
        if state == IN_PROGRESS:
            self.resource.setdefault("timeStarted", stamp)
        if state in ENDED_RUN_STATES:
            self.resource.setdefault("timeFinished", stamp)


def set_step_state(step_run: dict[str, Any], state: str, now: float, details: str | None = None) -> None:
    """A step run's new state, with timeStarted when it starts and timeFinished when it ends."""
    step_run["lifecycleState"] = state
    if details is None:
        step_run.pop("lifecycleDetails", None)
    else:
        step_run["lifecycleDetails"] = details
    if state == ACCEPTED:
        step_run.setdefault("timeStarted", format_time(now))
    if state in ENDED_STEP_STATES:
        step_run.setdefault("timeFinished", format_time(now))


def pipeline_run(store: Store, run_id: str) -> PipelineRunRecord:
    return existing(store.pipeline_runs, "PipelineRun", run_id)


def create_pipeline_run(store: Store, body: Any, created_by: str) -> dict[str, Any]:
    """CreatePipelineRun on an ACTIVE pipeline: ACCEPTED, one WAITING step run per step in the pipeline's order."""
    schema.CREATE_PIPELINE_RUN.check(body, "")
    held = store.pipelines.get(body["pipelineId"])
    if held is None:
        raise ApiError(400, "RelatedResourceNotAuthorizedOrNotFound", f"pipeline {body['pipelineId']} not found")
    pipeline = held.resource
    if pipeline["lifecycleState"] != "ACTIVE":
        raise incorrect_state(f"pipeline {pipeline['id']} is {pipeline['lifecycleState']}; only ACTIVE pipelines "
                              "can run")
    names = [step["stepName"] for step in pipeline["stepDetails"]]
    for entry in body.get("stepOverrideDetails") or []:
        if entry["stepName"] not in names:
            raise invalid(f"stepOverrideDetails: {entry['stepName']!r} is not a step of pipeline {pipeline['id']}")
    if len(store.pipeline_runs) >= store.limits.max_pipeline_runs:
        raise limit_exceeded(f"the fake holds at most {store.limits.max_pipeline_runs} pipeline runs")
    now = format_time(store.now())
    run = {"freeformTags": {}, "definedTags": {}, "projectId": pipeline["projectId"],
           "displayName": pipeline["displayName"], **present(body)}
    log = body.get("logConfigurationOverrideDetails") or pipeline.get("logConfigurationDetails") or {}
    run.update(id=store.new_id("datasciencepipelinerun"), timeAccepted=now, timeUpdated=now, createdBy=created_by,
               lifecycleState=ACCEPTED, configurationDetails=pipeline.get("configurationDetails"),
               logDetails=log_details_from(log, lambda: store.new_id("log")) or None,
               stepRuns=[{"stepType": step["stepType"], "stepName": step["stepName"], "lifecycleState": WAITING}
                         for step in pipeline["stepDetails"]])
    run = present(run)
    store.pipeline_runs[run["id"]] = PipelineRunRecord(run, store.next_seq(), copy.deepcopy(pipeline))
    return run


def update_pipeline_run(store: Store, run_id: str, body: Any, if_match: str | None) -> dict[str, Any]:
    specs = (schema.UPDATE_PIPELINE_RUN, schema.CREATE_PIPELINE_RUN)
    return apply_update(pipeline_run(store, run_id).resource, body, if_match, specs, store.now())


def cancel_pipeline_run(store: Store, run_id: str, if_match: str | None, *, graceful: bool) -> None:
    """CancelPipelineRun: CANCELING; steps not started end at once, running ones as their job runs end."""
    record = pipeline_run(store, run_id)
    check_etag(record.resource, if_match)
    if record.state not in (ACCEPTED, IN_PROGRESS):
        raise incorrect_state(f"pipeline run {run_id} is {record.state} and cannot be canceled")
    now = store.now()
    for step_run in record.step_runs:
        if step_run["lifecycleState"] == WAITING:
            set_step_state(step_run, SKIPPED if graceful else CANCELED, now)
        elif step_run["lifecycleState"] in (ACCEPTED, IN_PROGRESS):
            job_run = store.runs.get(step_run.get("jobRunId", ""))
            if job_run is not None and job_run.state in (ACCEPTED, IN_PROGRESS, "NEEDS_ATTENTION"):
                store.cancel_run(job_run.resource["id"], None)
            set_step_state(step_run, CANCELING, now)
    record.graceful = graceful
    record.set_state(CANCELING, now)


def delete_pipeline_run(store: Store, run_id: str, if_match: str | None, *, delete_job_runs: bool) -> None:
    """DeletePipelineRun of an ended run: DELETED at once (no work request)."""
    record = pipeline_run(store, run_id)
    check_etag(record.resource, if_match)
    if record.state not in ENDED_RUN_STATES:
        raise incorrect_state(f"pipeline run {run_id} is {record.state}; only a run that has ended can be deleted")
    mark_run_deleted(store, record, delete_job_runs)


def mark_run_deleted(store: Store, record: PipelineRunRecord, delete_job_runs: bool) -> None:
    """The run DELETED, and with `delete_job_runs` the job runs its steps made."""
    now = store.now()
    record.resource.update(lifecycleState=DELETED, timeUpdated=format_time(now))
    if not delete_job_runs:
        return
    for step_run in record.step_runs:
        job_run = store.runs.get(step_run.get("jobRunId", ""))
        if job_run is not None:
            job_run.mark_deleted(now)

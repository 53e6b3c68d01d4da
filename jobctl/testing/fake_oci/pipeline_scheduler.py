"""How a pipeline run moves: its steps start when the steps they depend on have SUCCEEDED, each as a job run.

`tick(store, run)` advances a run one step: each of its steps' job runs moves one step (as a GET of that job
run would) and `sync` then does the bookkeeping. A GET or list of pipeline runs with auto_progress ticks
them; `fake.step_all()` steps every job run itself and then syncs every pipeline run. `sync`:

- a step follows its job run (ACCEPTED, IN_PROGRESS, SUCCEEDED, FAILED, CANCELING, CANCELED);
- every WAITING step whose dependsOn have all SUCCEEDED starts at once (no cap): an ML_JOB step creates a job
  run of its job in the fake's store, so the fake's workload runs it as any job run (`step_environment`);
  a job run the service would refuse (its job no longer ACTIVE, ...) fails the step;
- after a step FAILED (or its job run was canceled), its transitive dependents are SKIPPED, no other step
  starts, the steps running go on, and once none runs the run is FAILED, naming the failed step(s);
- the run is IN_PROGRESS from its first step's start and SUCCEEDED when every step has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobctl.testing.fake_oci.errors import ApiError
from jobctl.testing.fake_oci.lifecycle import ACTIVE_RUN_STATES as ACTIVE_JOB_RUN_STATES
from jobctl.testing.fake_oci.pipeline_runs import (
    ACCEPTED,
    ACTIVE_STEP_STATES,
    CANCELED,
    CANCELING,
    ENDED_RUN_STATES,
    FAILED,
    IN_PROGRESS,
    SKIPPED,
    SUCCEEDED,
    WAITING,
    PipelineRunRecord,
    set_step_state,
)

if TYPE_CHECKING:
    from jobctl.testing.fake_oci.state import Store

# a job run's state -> its step's (NEEDS_ATTENTION: the job run is still going; DELETED: it is gone)
STEP_STATE_OF_JOB_RUN = {"ACCEPTED": ACCEPTED, "IN_PROGRESS": IN_PROGRESS, "NEEDS_ATTENTION": IN_PROGRESS,
                         "SUCCEEDED": SUCCEEDED, "FAILED": FAILED, "CANCELING": CANCELING, "CANCELED": CANCELED,
                         "DELETED": FAILED}
BLOCKING_STEP_STATES = frozenset({FAILED, CANCELED})


def tick(store: Store, record: PipelineRunRecord) -> bool:
    """Advance the run one step (its steps' job runs, then `sync`); True if any state changed."""
    before = _states(record)
    if record.state not in ENDED_RUN_STATES:
        for job_run_id in _running_job_runs(store, record):
            store.step(job_run_id)
    sync(store, record)
    return _states(record) != before


def sync_all(store: Store) -> int:
    """`sync` every unfinished pipeline run; returns how many changed state (theirs or a step's)."""
    moved = 0
    for record in list(store.pipeline_runs.values()):
        before = _states(record)
        sync(store, record)
        moved += _states(record) != before
    return moved


def sync(store: Store, record: PipelineRunRecord) -> None:
    """Steps follow their job runs; ready steps start; a failure skips its dependents; the run ends when no
    step runs any more."""
    if record.state in ENDED_RUN_STATES or record.state == "DELETED":
        return
    for step_run in record.step_runs:
        _follow(store, record, step_run)
    if record.state != CANCELING:
        if not _blocked(record):
            for step_run in _ready(record):
                _start(store, record, step_run)
        _skip_dependents(store, record)
    if not any(step_run["lifecycleState"] in ACTIVE_STEP_STATES for step_run in record.step_runs):
        _finish(store, record)


def _states(record: PipelineRunRecord) -> tuple[str, ...]:
    return (record.state, *(step_run["lifecycleState"] for step_run in record.step_runs))


def _running_job_runs(store: Store, record: PipelineRunRecord) -> list[str]:
    ids = [step_run.get("jobRunId") for step_run in record.step_runs
           if step_run["lifecycleState"] in ACTIVE_STEP_STATES]
    return [job_run_id for job_run_id in ids
            if job_run_id in store.runs and store.runs[job_run_id].state in ACTIVE_JOB_RUN_STATES]


def _follow(store: Store, record: PipelineRunRecord, step_run: dict[str, Any]) -> None:
    job_run = store.runs.get(step_run.get("jobRunId", ""))
    if job_run is None or step_run["lifecycleState"] not in ACTIVE_STEP_STATES:
        return
    state = STEP_STATE_OF_JOB_RUN[job_run.state]
    if record.graceful and state == CANCELED:
        state = SUCCEEDED  # terminateGracefully: "both the step and pipeline runs conclude in the succeeded state"
    if state != step_run["lifecycleState"]:
        set_step_state(step_run, state, store.now(), job_run.resource.get("lifecycleDetails"))


def _blocked(record: PipelineRunRecord) -> list[str]:
    """The steps whose failure stops the run."""
    return [step_run["stepName"] for step_run in record.step_runs
            if step_run["lifecycleState"] in BLOCKING_STEP_STATES]


def _ready(record: PipelineRunRecord) -> list[dict[str, Any]]:
    succeeded = {s["stepName"] for s in record.step_runs if s["lifecycleState"] == SUCCEEDED}
    return [step_run for step_run in record.step_runs if step_run["lifecycleState"] == WAITING
            and set(record.step(step_run["stepName"]).get("dependsOn") or []) <= succeeded]


def _skip_dependents(store: Store, record: PipelineRunRecord) -> None:
    """WAITING steps that depend, directly or not, on a failed step are SKIPPED."""
    skipped = True
    while skipped:
        gone = {s["stepName"] for s in record.step_runs if s["lifecycleState"] in BLOCKING_STEP_STATES | {SKIPPED}}
        waiting = [s for s in record.step_runs if s["lifecycleState"] == WAITING]
        doomed = [s for s in waiting if gone & set(record.step(s["stepName"]).get("dependsOn") or [])]
        for step_run in doomed:
            set_step_state(step_run, SKIPPED, store.now())
        skipped = bool(doomed)


def _start(store: Store, record: PipelineRunRecord, step_run: dict[str, Any]) -> None:
    """Start a step: create its job run (ACCEPTED); a job run the service refuses fails the step."""
    step = record.step(step_run["stepName"])
    now = store.now()
    if record.state == ACCEPTED:
        record.set_state(IN_PROGRESS, now)
    name = step.get("stepRunName") or step["stepName"]
    try:
        job_run = store.create_run(job_run_details(store, record, step, name), record.resource["createdBy"])
    except ApiError as error:
        set_step_state(step_run, ACCEPTED, now)
        set_step_state(step_run, FAILED, now, f"The step's job run could not be created: {error.message}")
        return
    step_run.update(jobRunId=job_run["id"], stepRunName=name)
    set_step_state(step_run, ACCEPTED, now, job_run.get("lifecycleDetails"))


def _finish(store: Store, record: PipelineRunRecord) -> None:
    now = store.now()
    if record.state == CANCELING:
        record.set_state(SUCCEEDED if record.graceful else CANCELED, now)
        return
    failed = _blocked(record)
    if not failed:
        record.set_state(SUCCEEDED, now)
        return
    for step_run in record.step_runs:
        if step_run["lifecycleState"] == WAITING:  # not a dependent of the failure, but nothing starts after one
            set_step_state(step_run, SKIPPED, now)
    record.set_state(FAILED, now, f"Pipeline run failed: step(s) {', '.join(failed)} did not succeed.")


def job_run_details(store: Store, record: PipelineRunRecord, step: dict[str, Any], name: str) -> dict[str, Any]:
    """CreateJobRunDetails for an ML_JOB step: the job's configuration with the pipeline's, the step's and the
    run's laid over it (`step_environment`), in the run's log if it has one."""
    details: dict[str, Any] = {
        "projectId": record.pipeline["projectId"], "compartmentId": record.resource["compartmentId"],
        "jobId": step["jobId"], "displayName": name,
        "jobConfigurationOverrideDetails": step_configuration(store, record, step),
    }
    log = record.resource.get("logDetails")
    if log:  # the job run writes to the pipeline run's log
        details["jobLogConfigurationOverrideDetails"] = {"enableLogging": True, **log}
    return details


def step_configuration(store: Store, record: PipelineRunRecord, step: dict[str, Any]) -> dict[str, Any]:
    """The job's configuration overlaid, in this order, by the pipeline's configurationDetails, the step's
    stepConfigurationDetails, the run's configurationOverrideDetails and its stepOverrideDetails for the step:
    env key by key, arguments and maximum runtime from the last layer giving them (an assumption,
    docs/oci-fidelity.md); then the PIPELINE_* variables OCI sets in every step run."""
    job = store.jobs[step["jobId"]].resource
    job_config = job.get("jobConfigurationDetails") or {}
    config: dict[str, Any] = {**job_config, "jobType": job_config.get("jobType", "DEFAULT")}
    layers = [job_config, record.pipeline.get("configurationDetails"), step.get("stepConfigurationDetails"),
              record.resource.get("configurationOverrideDetails"),
              record.override(step["stepName"]).get("stepConfigurationDetails")]
    env: dict[str, str] = {}
    for layer in filter(None, layers):
        env.update(layer.get("environmentVariables") or {})
        config.update({key: layer[key] for key in ("commandLineArguments", "maximumRuntimeInMinutes")
                       if layer.get(key) is not None})
    config["environmentVariables"] = {**env, **pipeline_variables(record, step["stepName"])}
    return config


def pipeline_variables(record: PipelineRunRecord, step_name: str) -> dict[str, str]:
    """What OCI's "Pipeline Environment Variables" page says every step run gets (TENANCY_OCID aside)."""
    return {
        "PIPELINE_OCID": record.pipeline["id"], "PIPELINE_RUN_OCID": record.resource["id"],
        "PIPELINE_STEP_NAME": step_name, "PIPELINE_COMPARTMENT_OCID": record.pipeline["compartmentId"],
        "PIPELINE_PROJECT_OCID": record.pipeline["projectId"],
        "PIPELINE_RUN_COMPARTMENT_OCID": record.resource["compartmentId"],
    }

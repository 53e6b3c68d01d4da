"""OCI Data Flow runs: create, update, cancel (DeleteRun), how they move, and their logs.

A run names its application (`applicationId`; runs from a spark-submit `execute` line are not served) and
copies the application's values as they are then, overridden by what CreateRunDetails sends: each of
`arguments`, `parameters` and `configuration` replaces the application's as a whole. It moves like a Data
Science job run, one step per GET or list of it (auto_progress) or per `fake.step_all()`: ACCEPTED, then
IN_PROGRESS as the fake's `dataflow_workload` starts on it (on a thread of its own: a request waits at most
half a second for it), then, at the first step after it has ended, SUCCEEDED or FAILED by its exit code.
DeleteRun cancels: CANCELING, then CANCELED; the run stays. Its APPLICATION stdout and stderr logs
(ListRunLogs, GetRunLog) exist once it has ended. Every rule and its source is in docs/oci-fidelity.md
("Data Flow").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobctl.testing.fake_oci import schema
from jobctl.testing.fake_oci.dataflow import ACTIVE, check_parameters, substituted
from jobctl.testing.fake_oci.dataflow_workload import SparkOutcome, SparkRun
from jobctl.testing.fake_oci.errors import ApiError, existing, incorrect_state, invalid, limit_exceeded, not_found
from jobctl.testing.fake_oci.state import apply_update, check_etag, present
from jobctl.testing.fake_oci.wire import format_time

if TYPE_CHECKING:
    from jobctl.testing.fake_oci.state import Store

ACCEPTED, IN_PROGRESS, CANCELING, CANCELED = "ACCEPTED", "IN_PROGRESS", "CANCELING", "CANCELED"
SUCCEEDED, FAILED, STOPPING, STOPPED = "SUCCEEDED", "FAILED", "STOPPING", "STOPPED"
RUN_STATES = ("ACCEPTED", "IN_PROGRESS", "CANCELING", "CANCELED", "FAILED", "SUCCEEDED", "STOPPING", "STOPPED")
ACTIVE_RUN_STATES = frozenset({ACCEPTED, IN_PROGRESS, CANCELING, STOPPING})
ENDED_RUN_STATES = frozenset({SUCCEEDED, FAILED, CANCELED, STOPPED})
RUN_SUMMARY_FIELDS = ("applicationId", "compartmentId", "dataReadInBytes", "dataWrittenInBytes", "definedTags",
                      "displayName", "freeformTags", "id", "language", "lifecycleDetails", "lifecycleState",
                      "opcRequestId", "ownerPrincipalId", "ownerUserName", "poolId", "runDurationInMilliseconds",
                      "totalOCpu", "timeCreated", "timeUpdated", "type")
# What a run takes from its application: everything an application sets but its description and compartment
APPLICATION_VALUES = tuple(sorted((schema.UPDATE_APPLICATION.fields - {"description"}) | {"type"}))
STDOUT_LOG, STDERR_LOG = "spark_application_stdout.log.gz", "spark_application_stderr.log.gz"


@dataclass
class DataFlowRunRecord:
    resource: dict[str, Any]  # the Run's wire JSON
    seq: int
    outcome: SparkOutcome | None = None  # once the workload has run it
    started: float | None = None  # when it went IN_PROGRESS
    logs: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)  # name -> (RunLogSummary, content)

    @property
    def state(self) -> str:
        return str(self.resource["lifecycleState"])

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_RUN_STATES

    def set_state(self, state: str, now: float, details: str | None = None) -> None:
        self.resource.update(lifecycleState=state, timeUpdated=format_time(now))
        if details is None:
            self.resource.pop("lifecycleDetails", None)
        else:
            self.resource["lifecycleDetails"] = details
        if state in ENDED_RUN_STATES and self.started is not None:
            self.resource["runDurationInMilliseconds"] = round((now - self.started) * 1000)


def dataflow_run(store: Store, run_id: str) -> DataFlowRunRecord:
    return existing(store.dataflow_runs, "Run", run_id)


def create_run(store: Store, body: Any, owner: str, request_id: str) -> dict[str, Any]:
    """CreateRun of an ACTIVE application: ACCEPTED, with the application's values and the run's overrides."""
    schema.CREATE_DATAFLOW_RUN.check(body, "")
    given = present(body)
    if ("applicationId" in given) == ("execute" in given):
        raise invalid("exactly one of applicationId and execute must be given")
    if "execute" in given:
        raise invalid("the fake serves runs of an application (applicationId) only, not execute")
    if "sparkVersion" in given:
        raise invalid("sparkVersion can only be given with execute; a run takes its application's Spark version")
    held = store.dataflow_applications.get(given["applicationId"])
    if held is None:
        raise ApiError(400, "RelatedResourceNotAuthorizedOrNotFound", f"application {given['applicationId']} not found")
    if held.state != ACTIVE:
        raise incorrect_state(f"application {held.resource['id']} is {held.state}; only ACTIVE applications can run")
    run = {name: copy.deepcopy(held.resource[name]) for name in APPLICATION_VALUES if name in held.resource}
    run.update(given)
    check_parameters(run)
    if len(store.dataflow_runs) >= store.limits.max_dataflow_runs:
        raise limit_exceeded(f"the fake holds at most {store.limits.max_dataflow_runs} runs")
    now = format_time(store.now())
    run["definedTags"] = store.tag_defaults(run.get("definedTags") or {}, owner)
    run.update(id=store.new_id("dataflowrun"), lifecycleState=ACCEPTED, timeCreated=now, timeUpdated=now,
               ownerPrincipalId=owner, opcRequestId=request_id, dataReadInBytes=0, dataWrittenInBytes=0)
    store.dataflow_runs[run["id"]] = DataFlowRunRecord(run, store.next_seq())
    return run


def update_run(store: Store, run_id: str, body: Any, if_match: str | None) -> dict[str, Any]:
    """UpdateRun: tags and the two timeouts only."""
    specs = (schema.UPDATE_DATAFLOW_RUN, schema.CREATE_DATAFLOW_RUN)
    return apply_update(dataflow_run(store, run_id).resource, body, if_match, specs, store.now())


def cancel_run(store: Store, run_id: str, if_match: str | None) -> None:
    """DeleteRun: an ACCEPTED or IN_PROGRESS run is CANCELING (CANCELED one step later); any other is refused."""
    record = dataflow_run(store, run_id)
    check_etag(record.resource, if_match)
    if record.state not in (ACCEPTED, IN_PROGRESS):
        raise incorrect_state(f"run {run_id} is {record.state} and cannot be canceled")
    record.set_state(CANCELING, store.now())


def step(store: Store, record: DataFlowRunRecord) -> str:
    """Move a run one step: the workload runs it as it starts; its logs are written as it ends."""
    now = store.now()
    if record.state == ACCEPTED:
        _start(store, record)
        record.started = now
        record.set_state(IN_PROGRESS, now)
    elif record.state == IN_PROGRESS and record.outcome is not None and record.outcome.exit_code is not None:
        code = record.outcome.exit_code
        record.set_state(SUCCEEDED if code == 0 else FAILED, now,
                         None if code == 0 else f"The application exited with code {code}.")
    elif record.state == CANCELING:
        record.set_state(CANCELED, now)
    if record.state in ENDED_RUN_STATES and record.outcome is not None and not record.logs:
        _write_logs(record, record.outcome, now)
    return record.state


INLINE_SECONDS = 0.5  # how long a request waits for the workload before leaving it to go on


def _start(store: Store, record: DataFlowRunRecord) -> None:
    """Run the workload on a thread of its own: one that ends at once (the echo workload) has its outcome
    before the run goes IN_PROGRESS, as when it ran inline; a long one (real Spark) goes on, and the run ends
    at the first step after it has. A request never waits on Spark (its client would time out under load)."""
    import threading

    view = spark_run(record.resource)

    def work() -> None:
        record.outcome = store.dataflow_workload(view)

    worker = threading.Thread(target=work, name=f"dataflow-{record.resource['id'][-8:]}", daemon=True)
    worker.start()
    worker.join(INLINE_SECONDS)


def step_all(store: Store) -> int:
    """Move every active run one step; returns how many changed state."""
    moved = 0
    for record in list(store.dataflow_runs.values()):
        if record.active:
            before = record.state
            moved += step(store, record) != before
    return moved


def spark_run(run: dict[str, Any]) -> SparkRun:
    """What the workload sees of the run: its arguments with the parameters filled in."""
    return SparkRun(
        id=run["id"], application_id=run["applicationId"], display_name=run.get("displayName"),
        language=run["language"], file_uri=run.get("fileUri"), class_name=run.get("className"),
        arguments=substituted(run.get("arguments") or [], run.get("parameters") or []),
        configuration=dict(run.get("configuration") or {}), run=copy.deepcopy(run))


def _write_logs(record: DataFlowRunRecord, outcome: SparkOutcome, now: float) -> None:
    for name, kind, text in ((STDOUT_LOG, "STDOUT", outcome.stdout), (STDERR_LOG, "STDERR", outcome.stderr)):
        content = text.encode()
        summary = {"name": name, "runId": record.resource["id"], "source": "APPLICATION", "type": kind,
                   "sizeInBytes": len(content), "timeCreated": format_time(now)}
        record.logs[name] = (summary, content)


def run_log(record: DataFlowRunRecord, name: str) -> bytes:
    if name not in record.logs:
        raise not_found("RunLog", f"{name} of run {record.resource['id']}")
    return record.logs[name][1]

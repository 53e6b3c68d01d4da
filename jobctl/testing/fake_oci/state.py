"""The fake's data: jobs, job runs, artifacts and log records, guarded by one lock.

Resources are kept as the wire JSON (camelCase, as in the SDK's attribute_map) so what a client sent is
what it reads back. Etags are derived from that JSON, so any change to a resource changes its etag.
Every collection is bounded (`Limits`); exceeding one answers 400 LimitExceeded like a tenancy limit.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import re
import threading
import uuid
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobctl.testing.fake_oci import schema
from jobctl.testing.fake_oci.dataflow_workload import DataFlowWorkload, echo_spark_workload
from jobctl.testing.fake_oci.errors import ApiError, conflict, incorrect_state, invalid, limit_exceeded, not_found
from jobctl.testing.fake_oci.lifecycle import (
    ACCEPTED,
    ACTIVE_RUN_STATES,
    CANCELING,
    DELETED,
    FAILED,
    SUCCEEDED,
    RunRecord,
    Workload,
    advance,
    echo_workload,
    log_details_for,
    workload_view,
)
from jobctl.testing.fake_oci.logsearch import STDOUT, LogRecord, LogStore
from jobctl.testing.fake_oci.wire import format_time, new_ocid
from jobctl.testing.fake_oci.workrequests import WorkRequests, new_work_request

if TYPE_CHECKING:
    from jobctl.testing.fake_oci.dataflow import ApplicationRecord
    from jobctl.testing.fake_oci.dataflow_runs import DataFlowRunRecord
    from jobctl.testing.fake_oci.pipeline_runs import PipelineRunRecord
    from jobctl.testing.fake_oci.pipelines import PipelineRecord

JOB_STATES = ("CREATING", "ACTIVE", "DELETING", "FAILED", "DELETED")
DELETING = "DELETING"
RUN_STATES = ("ACCEPTED", "IN_PROGRESS", "FAILED", "SUCCEEDED", "CANCELING", "CANCELED", "DELETED", "NEEDS_ATTENTION")
JOB_SUMMARY_FIELDS = ("id", "timeCreated", "createdBy", "projectId", "compartmentId", "displayName",
                      "lifecycleState", "freeformTags", "definedTags")
RUN_SUMMARY_FIELDS = ("id", "timeAccepted", "timeStarted", "timeFinished", "createdBy", "projectId",
                      "compartmentId", "jobId", "displayName", "lifecycleState", "lifecycleDetails",
                      "freeformTags", "definedTags")
ARTIFACT_SUFFIXES = (".py", ".sh", ".zip", ".tar.gz", ".tgz", ".jar")
_FILENAME = re.compile(r"""filename\s*=\s*(?:"([^"]+)"|([^;\s]+))""", re.IGNORECASE)


def artifact_problem(artifact: Artifact | None, env: Mapping[str, str]) -> str | None:
    """Why a run of this zip artifact fails (OCI's "Preparing Job Artifacts": all code under one root
    directory named as the archive, and JOB_RUN_ENTRYPOINT names the entry file under it); None if it runs."""
    if artifact is None or not artifact.filename.endswith(".zip"):
        return None
    try:
        names = [n for n in zipfile.ZipFile(io.BytesIO(artifact.content)).namelist() if not n.endswith("/")]
    except zipfile.BadZipFile:
        return "Job run failed: the job artifact is not a valid zip file."
    root = artifact.filename.removesuffix(".zip")
    entry = env.get("JOB_RUN_ENTRYPOINT")
    if not all(name.startswith(root + "/") for name in names):
        return f"Job run failed: the job artifact must hold all its files under one directory named {root}/."
    if entry is None or entry not in names:
        return f"Job run failed: JOB_RUN_ENTRYPOINT {entry!r} is not a file of the job artifact."
    return None


def _container(job: Mapping[str, Any]) -> bool:
    """Whether the job runs a container image (its own, or its node groups')."""
    return bool(job.get("jobEnvironmentConfigurationDetails") or any(
        g.get("jobEnvironmentConfigurationDetails") for g in node_groups(job)))


def node_groups(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list((job.get("jobNodeConfigurationDetails") or {}).get("jobNodeGroupConfigurationDetailsList") or [])


def _check_node_layout(body: Mapping[str, Any]) -> None:
    """A multi-node job keeps infrastructure, configuration and container in its node groups, each
    MULTI_NODE; MULTI_NODE infrastructure needs node groups (see docs/oci-fidelity.md)."""
    groups = node_groups(body)
    infra_type = (body.get("jobInfrastructureConfigurationDetails") or {}).get("jobInfrastructureType")
    if not groups:
        if infra_type == "MULTI_NODE" or "jobNodeConfigurationDetails" in body:
            raise invalid("a MULTI_NODE job needs jobNodeConfigurationDetails with at least one node group")
        return
    for key, kind in (("jobInfrastructureConfigurationDetails", "jobInfrastructureType"),
                      ("jobConfigurationDetails", "jobType")):
        if (body.get(key) or {}).get(kind, "EMPTY") != "EMPTY":
            raise invalid(f"{key} of a multi-node job belongs in its node groups")
    if body.get("jobEnvironmentConfigurationDetails"):
        raise invalid("jobEnvironmentConfigurationDetails of a multi-node job belongs in its node groups")
    names = [group["name"] for group in groups]
    if len(set(names)) != len(names):
        raise invalid(f"node group names must be unique: {names}")
    for group in groups:
        group_type = (group.get("jobInfrastructureConfigurationDetails") or {}).get("jobInfrastructureType")
        if group_type != "MULTI_NODE":
            raise invalid(f"node group {group['name']}: jobInfrastructureType must be MULTI_NODE, not {group_type}")


def _check_node_override(job: Mapping[str, Any], body: Mapping[str, Any]) -> None:
    """A multi-node job's run overrides its groups, by name; a single-node job has no groups to override."""
    groups = {group["name"] for group in node_groups(job)}
    override = node_groups({"jobNodeConfigurationDetails": body.get("jobNodeConfigurationOverrideDetails")})
    if groups and body.get("jobConfigurationOverrideDetails"):
        raise invalid("a multi-node job's run overrides its groups' configuration in "
                      "jobNodeConfigurationOverrideDetails, not jobConfigurationOverrideDetails")
    if override and not groups:
        raise invalid("jobNodeConfigurationOverrideDetails is only for multi-node jobs")
    unknown = sorted({group["name"] for group in override} - groups)
    if unknown:
        raise invalid(f"jobNodeConfigurationOverrideDetails names no node group of the job: {', '.join(unknown)}")


def _keeps_infrastructure_type(job: Mapping[str, Any], body: Any) -> None:
    """An update does not change a job's infrastructure type (see docs/oci-fidelity.md)."""
    key, kind = "jobInfrastructureConfigurationDetails", "jobInfrastructureType"
    sent = (body.get(key) or {}).get(kind) if isinstance(body, dict) else None
    held = (job.get(key) or {}).get(kind)
    if sent and held and sent != held:
        raise invalid(f"{kind} cannot change from {held} to {sent}; create a new job instead")


@dataclass(frozen=True)
class Limits:
    """Upper bounds on everything the fake stores, so a long-running fake cannot eat the machine."""

    max_jobs: int = 20_000
    max_runs: int = 50_000
    max_log_records: int = 500_000
    max_artifact_bytes: int = 64 * 1024 * 1024
    max_body_bytes: int = 1024 * 1024
    max_retry_tokens: int = 10_000
    max_requests: int = 100_000
    max_work_requests: int = 10_000
    max_buckets: int = 1_000
    max_pipelines: int = 5_000
    max_pipeline_runs: int = 20_000
    max_dataflow_applications: int = 5_000
    max_dataflow_runs: int = 20_000


@dataclass(frozen=True)
class Artifact:
    content: bytes
    filename: str
    time_created: float

    @property
    def md5(self) -> str:
        return base64.b64encode(hashlib.md5(self.content).digest()).decode()


@dataclass
class JobRecord:
    resource: dict[str, Any]
    seq: int
    artifact: Artifact | None = None


@dataclass
class Store:
    """All state of one fake. Callers hold `lock` around every read and write."""

    region: str = "us-ashburn-1"
    seed: int = 0
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = field(default=lambda: 0.0)
    workload: Workload = echo_workload
    dataflow_workload: DataFlowWorkload = echo_spark_workload
    log_lag: float = 0.0
    # Log groups live in a compartment of their own (often a separate logging compartment): the one a log
    # search must name. `log_groups` maps an id to its compartment; any other id is in this one.
    logging_compartment: str = "ocid1.compartment.oc1..fakelogging"
    log_groups: dict[str, str] = field(default_factory=dict)
    # Tag defaults of the tenancy, applied when a job is created. OCI's own namespace is on by default, as in
    # most tenancies; `required_tags` ({namespace: [key]}) blocks a create that does not set them.
    oracle_tags: bool = True
    required_tags: dict[str, list[str]] = field(default_factory=dict)
    # The tenancy's Object Storage namespace (GetNamespace); buckets may be in any namespace.
    namespace: str = "fakenamespace"

    def __post_init__(self) -> None:
        self.lock = threading.RLock()
        self.rng = random.Random(self.seed)
        self.jobs: dict[str, JobRecord] = {}
        self.runs: dict[str, RunRecord] = {}
        self.logs = LogStore(self.limits.max_log_records)
        self.objects: dict[tuple[str, str, str], Any] = {}  # (namespace, bucket, name) -> api_objects.StoredObject
        self.buckets: dict[tuple[str, str], dict[str, Any]] = {}  # (namespace, name) -> Bucket wire JSON
        self.secrets: dict[str, bytes] = {}  # Vault secret OCID -> its current content (FakeOCI.add_secret)
        # File Storage and Networking, wire JSON by OCID (FakeOCI.add_mount_target; read by api_mounts)
        self.mount_targets: dict[str, dict[str, Any]] = {}
        self.private_ips: dict[str, dict[str, Any]] = {}
        self.exports: dict[str, dict[str, Any]] = {}
        self.work_requests = WorkRequests(self.limits.max_work_requests)
        self.pipelines: dict[str, PipelineRecord] = {}  # see `pipelines`
        self.pipeline_runs: dict[str, PipelineRunRecord] = {}  # see `pipeline_runs`
        self.dataflow_applications: dict[str, ApplicationRecord] = {}  # see `dataflow`
        self.dataflow_runs: dict[str, DataFlowRunRecord] = {}  # see `dataflow_runs`
        self._seq = 0

    def now(self) -> float:
        return self.clock()

    def new_id(self, resource_type: str) -> str:
        return new_ocid(resource_type, self.region, self.rng)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # Jobs -------------------------------------------------------------------------------------------

    def create_job(self, body: Any, created_by: str) -> dict[str, Any]:
        schema.CREATE_JOB.check(body, "")
        _check_node_layout(body)
        if len(self.jobs) >= self.limits.max_jobs:
            raise limit_exceeded(f"the fake holds at most {self.limits.max_jobs} jobs")
        job = {"freeformTags": {}, "definedTags": {}, **present(body)}
        job["definedTags"] = self.tag_defaults(job["definedTags"], created_by)
        # A job that runs its artifact stays CREATING until the artifact is uploaded; a container job
        # needs none and is ACTIVE at once (docs/oci-fidelity.md)
        job.update(id=self.new_id("datasciencejob"), timeCreated=format_time(self.now()), createdBy=created_by,
                   lifecycleState="ACTIVE" if _container(job) else "CREATING")
        self.jobs[job["id"]] = JobRecord(job, self.next_seq())
        return job

    def tag_defaults(self, given: dict[str, Any], created_by: str) -> dict[str, Any]:
        """Defined tags at creation: a required tag without a value blocks it; OCI's own are added."""
        missing = [f"{space}.{key}" for space, keys in self.required_tags.items() for key in keys
                   if key not in given.get(space, {})]
        if missing:
            raise invalid(f"a value is required for the defined tag(s) {', '.join(missing)} (tag defaults of "
                          "this compartment)")
        if not self.oracle_tags:
            return given
        automatic = {"CreatedBy": created_by, "CreatedOn": format_time(self.now())}
        return {**given, "Oracle-Tags": {**automatic, **given.get("Oracle-Tags", {})}}

    def job(self, job_id: str) -> JobRecord:
        record = self.jobs.get(job_id)
        if record is None:
            raise not_found("Job", job_id)
        return record

    def update_job(self, job_id: str, body: Any, if_match: str | None) -> dict[str, Any]:
        record = self.job(job_id)
        check_etag(record.resource, if_match)
        schema.check_update(schema.UPDATE_JOB, schema.CREATE_JOB, body)
        if record.resource["lifecycleState"] != "ACTIVE":
            raise conflict(f"job {job_id} is {record.resource['lifecycleState']} and cannot be updated")
        _keeps_infrastructure_type(record.resource, body)
        record.resource.update(present(body))
        return record.resource

    def delete_job(self, job_id: str, if_match: str | None, delete_related_runs: bool) -> str:
        """The job is DELETING until the work request this returns (its id) succeeds."""
        record = self.job(job_id)
        check_etag(record.resource, if_match)
        if record.resource["lifecycleState"] in (DELETING, DELETED):
            raise conflict(f"job {job_id} is already {record.resource['lifecycleState']}")
        # The strict reading of what OCI leaves open, safe either way (docs/oci-fidelity.md): active runs
        # block a delete; finished ones go only with deleteRelatedJobRuns
        related = [run for run in self.runs.values()
                   if run.resource["jobId"] == job_id and run.resource["lifecycleState"] != DELETED]
        active = [run.resource["id"] for run in related if run.resource["lifecycleState"] in ACTIVE_RUN_STATES]
        if active:
            raise incorrect_state(f"job {job_id} has active job runs: {', '.join(active)}; cancel them first")
        if related and not delete_related_runs:
            raise incorrect_state(f"job {job_id} has {len(related)} job run(s); delete them first or pass "
                                  "deleteRelatedJobRuns=true")
        work_request_id = self.start_work_request("JOB_DELETE", record.resource)
        if delete_related_runs:
            for run in related:
                run.mark_deleted(self.now())
        record.resource["lifecycleState"] = DELETING
        return work_request_id

    def put_artifact(self, job_id: str, content: bytes, disposition: str | None) -> None:
        record = self.job(job_id)
        if record.resource["lifecycleState"] not in ("CREATING", "ACTIVE"):
            raise incorrect_state(f"job {job_id} is {record.resource['lifecycleState']}")
        if record.artifact is not None:
            raise conflict(f"job {job_id} already has an artifact; job artifacts cannot be replaced")
        if len(content) > self.limits.max_artifact_bytes:
            raise limit_exceeded(f"artifact is larger than {self.limits.max_artifact_bytes} bytes")
        record.artifact = Artifact(content, artifact_filename(disposition), self.now())
        record.resource["lifecycleState"] = "ACTIVE"

    def set_job(self, job_id: str, state: str, details: str | None) -> dict[str, Any]:
        """A fault of the service: e.g. a job that went FAILED (not something a request does)."""
        if state not in JOB_STATES:
            raise ValueError(f"unknown job state {state!r}; expected one of {', '.join(JOB_STATES)}")
        record = self.job(job_id)
        record.resource["lifecycleState"] = state
        if details is None:
            record.resource.pop("lifecycleDetails", None)
        else:
            record.resource["lifecycleDetails"] = details
        return record.resource

    # Job runs ---------------------------------------------------------------------------------------

    def create_run(self, body: Any, created_by: str) -> dict[str, Any]:
        schema.CREATE_JOB_RUN.check(body, "")
        if len(self.runs) >= self.limits.max_runs:
            raise limit_exceeded(f"the fake holds at most {self.limits.max_runs} job runs")
        job = self.jobs.get(body["jobId"])
        if job is None:
            raise ApiError(400, "RelatedResourceNotAuthorizedOrNotFound", f"job {body['jobId']} not found")
        if job.resource["lifecycleState"] != "ACTIVE":
            raise incorrect_state(f"job {body['jobId']} is {job.resource['lifecycleState']}; only ACTIVE jobs can run")
        _check_node_override(job.resource, body)
        container = body.get("jobEnvironmentConfigurationOverrideDetails") or _container(job.resource)
        if job.artifact is None and not container:
            raise conflict(f"job {body['jobId']} has no artifact; upload one before starting a run")
        run = {"freeformTags": {}, "definedTags": {}, **present(body)}
        empty = {"jobType": "EMPTY"} if node_groups(job.resource) else None  # a multi-node run's are its groups'
        run.setdefault("jobConfigurationOverrideDetails", job.resource.get("jobConfigurationDetails") or empty)
        run.update(
            id=self.new_id("datasciencejobrun"), timeAccepted=format_time(self.now()), createdBy=created_by,
            jobInfrastructureConfigurationDetails=job.resource.get("jobInfrastructureConfigurationDetails") or (
                empty and {"jobInfrastructureType": "EMPTY"}),
            jobStorageMountConfigurationDetailsList=job.resource.get("jobStorageMountConfigurationDetailsList"),
            lifecycleState=ACCEPTED,
        )
        log_details = log_details_for(job.resource, run, lambda: self.new_id("log"))
        if log_details:
            run["logDetails"] = log_details
        run = present(run)
        self.runs[run["id"]] = RunRecord(run, self.next_seq())
        return run

    def run(self, run_id: str) -> RunRecord:
        record = self.runs.get(run_id)
        if record is None:
            raise not_found("JobRun", run_id)
        return record

    def update_run(self, run_id: str, body: Any, if_match: str | None) -> dict[str, Any]:
        record = self.run(run_id)
        check_etag(record.resource, if_match)
        schema.check_update(schema.UPDATE_JOB_RUN, schema.CREATE_JOB_RUN, body)
        record.resource.update(present(body))
        return record.resource

    def cancel_run(self, run_id: str, if_match: str | None) -> None:
        record = self.run(run_id)
        check_etag(record.resource, if_match)
        state = record.resource["lifecycleState"]
        if state not in ACTIVE_RUN_STATES or state == CANCELING:  # a second cancel too (docs/oci-fidelity.md)
            raise incorrect_state(f"job run {run_id} is {state} and cannot be canceled")
        record.resource["lifecycleState"] = CANCELING
        record.resource.pop("lifecycleDetails", None)

    def delete_run(self, run_id: str, if_match: str | None) -> None:
        record = self.run(run_id)
        check_etag(record.resource, if_match)
        state = record.resource["lifecycleState"]
        if state in ACTIVE_RUN_STATES or state == DELETED:
            raise conflict(f"job run {run_id} is {state}; only finished job runs can be deleted")
        record.mark_deleted(self.now())

    # Lifecycle and logs, driven by the fake rather than by requests ---------------------------------

    def step(self, run_id: str) -> str:
        """Advance one run one step; the lines its workload prints become log records."""
        record = self.run(run_id)
        now = self.now()
        job = self.job(record.resource["jobId"]).resource
        before = record.state
        if before == ACCEPTED:
            artifact = self.job(record.resource["jobId"]).artifact
            env = workload_view(record.resource, job).env
            if node_groups(job):  # a multi-node run: its first group's configuration (every group runs it)
                first = node_groups(job)[0]
                override = node_groups({"jobNodeConfigurationDetails": record.resource.get(
                    "jobNodeConfigurationOverrideDetails")})
                config = next((g.get("jobConfigurationDetails") for g in override if g["name"] == first["name"]),
                              None) or first.get("jobConfigurationDetails") or {}
                env = config.get("environmentVariables") or {}
            # the service unpacks the artifact first: a run of a malformed one fails. A container job runs its
            # image's entrypoint; an artifact is extra files for it (ADS's scriptPathURI), never run itself
            problem = None if _container(job) else artifact_problem(artifact, env)
            if problem:
                record.set_state(FAILED, now, problem)
                return record.state
        lines = advance(record, job, now, self.workload)
        if record.resource.get("logDetails"):
            for line in lines:
                self.add_log(record, line, now, None, STDOUT)
        if before != SUCCEEDED and record.state == SUCCEEDED:
            self._report_outputs(workload_view(record.resource, job).env, now)
        return record.state

    def _report_outputs(self, env: Mapping[str, str], now: float) -> None:
        """What a job calling jobctl.outputs.write() would upload: env METRIC_<NAME>=<number> become
        {"metrics": {"<name>": number}} in outputs.json under the run's JOBCTL_OUTPUT_URI."""
        from jobctl.testing.fake_oci.api_objects import StoredObject

        match = re.match(r"^oci://([^@/]+)@([^/]+)/(.*)$", env.get("JOBCTL_OUTPUT_URI", ""))
        metrics = {k[len("METRIC_"):].lower(): float(v) for k, v in env.items() if k.startswith("METRIC_")}
        if match is None or not metrics:
            return
        bucket, namespace, prefix = match.groups()
        body = json.dumps({"metrics": metrics, "env": dict(env)}).encode()
        name = f"{prefix.rstrip('/')}/outputs.json" if prefix else "outputs.json"
        digest = hashlib.sha256(body).hexdigest()[:32]
        self.objects[(namespace, bucket, name)] = StoredObject(body, "application/json", digest, digest, now)

    def step_all(self) -> int:
        """Advance every unfinished run one step; returns how many changed state."""
        moved = 0
        for run_id, record in list(self.runs.items()):
            if record.state in ACTIVE_RUN_STATES:
                before = record.state
                moved += self.step(run_id) != before
        return moved

    def set_run(self, run_id: str, state: str | None, details: str | None) -> dict[str, Any]:
        record = self.run(run_id)
        if state is None and details is None:
            record.resource.pop("lifecycleDetails", None)
        elif state is None:
            record.resource["lifecycleDetails"] = details
        elif state not in RUN_STATES:
            raise ValueError(f"unknown job run state {state!r}; expected one of {', '.join(RUN_STATES)}")
        else:
            record.set_state(state, self.now(), details)
        return record.resource

    # Work requests: an operation the service finishes later (DeleteJob), see `workrequests` ---------

    def start_work_request(self, operation: str, target: Mapping[str, Any]) -> str:
        work_request_id = self.new_id("datascienceworkrequest")
        self.work_requests.add(new_work_request(work_request_id, operation, target, now=self.now(),
                                                seq=self.next_seq()))
        return work_request_id

    def step_work_request(self, work_request_id: str) -> str:
        """Advance a work request one step; once it succeeds, what it did is done (a deleted job is DELETED)."""
        record = self.work_requests.get(work_request_id)
        if record.step(self.now()):
            done = self.jobs.get(record.target) or self.pipelines[record.target]  # JOB_DELETE, PIPELINE_DELETE
            done.resource["lifecycleState"] = DELETED
        return record.status

    def step_work_requests(self, target_id: str | None = None) -> int:
        """Advance every unfinished work request (on `target_id` only, if given); returns how many."""
        unfinished = self.work_requests.unfinished(target_id)
        for record in unfinished:
            self.step_work_request(record.id)
        return len(unfinished)

    def log_group_compartment(self, log_group_id: str) -> str:
        return self.log_groups.get(log_group_id, self.logging_compartment)

    def add_log(self, record: RunRecord, message: str, time: float, visible_after: float | None,
                stream: str) -> str:
        details = record.resource.get("logDetails")
        if not details:
            raise ValueError(f"job run {record.resource['id']} has no log configured (no logDetails)")
        log = LogRecord(
            id=str(uuid.UUID(int=self.rng.getrandbits(128))), compartment_id=self.log_group_compartment(
                details["logGroupId"]),
            log_group_id=details["logGroupId"], log_id=details["logId"], source=record.resource["id"],
            type=stream, time=time, message=message, seq=self.next_seq(),
            visible_after=time + self.log_lag if visible_after is None else visible_after,
        )
        self.logs.append(log)
        return log.id


def select(resources: Iterable[tuple[dict[str, Any], int]], filters: dict[str, str | None], sort_by: str | None,
           sort_order: str | None, time_field: str, *, time_sort: str = "timeCreated",
           sorts: tuple[str, ...] = ("displayName",)) -> list[dict[str, Any]]:
    """Filter on exact field values and sort like OCI list calls (`time_sort` desc, the fields in `sorts` asc);
    `time_sort` is the name the operation gives its time order (ListPipelineRuns says timeAccepted, the others
    timeCreated)."""
    sort_by = sort_by or time_sort
    if sort_by not in (time_sort, *sorts):
        raise invalid(f"sortBy must be one of {', '.join((time_sort, *sorts))}, got {sort_by!r}")
    if sort_order not in (None, "ASC", "DESC"):
        raise invalid(f"sortOrder must be ASC or DESC, got {sort_order!r}")
    descending = (sort_order or ("DESC" if sort_by == time_sort else "ASC")) == "DESC"
    wanted = {name: value for name, value in filters.items() if value is not None}
    chosen = [(res, seq) for res, seq in resources if all(res.get(k) == v for k, v in wanted.items())]
    key_field = time_field if sort_by == time_sort else sort_by
    chosen.sort(key=lambda item: (*_sort_value(item[0].get(key_field)), item[1]), reverse=descending)
    return [res for res, _ in chosen]


def _sort_value(value: Any) -> tuple[bool, Any]:
    """Absent values first; the others (strings, or numbers such as runDurationInMilliseconds) in their order."""
    return (value is not None, "" if value is None else value)


def summary(resource: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: resource[name] for name in fields if resource.get(name) is not None}


def apply_update(resource: dict[str, Any], body: Any, if_match: str | None, specs: tuple[schema.Obj, schema.Obj],
                 now: float, *, check: Callable[[dict[str, Any]], None] = lambda changes: None) -> dict[str, Any]:
    """An update in place: `if_match` against the resource's etag, the body against (update, create) `specs`,
    then `check(changes)`; each top-level field sent replaces the resource's, and timeUpdated is now."""
    check_etag(resource, if_match)
    schema.check_update(*specs, body)
    changes = present(body)
    check(changes)
    resource.update(changes, timeUpdated=format_time(now))
    return resource


def etag_of(resource: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(resource, sort_keys=True).encode()).hexdigest()[:32]


def check_etag(resource: dict[str, Any], if_match: str | None) -> None:
    if if_match is not None and if_match not in ("*", etag_of(resource)):
        raise ApiError(412, "PreconditionFailed", f"if-match {if_match!r} does not match the current etag")


def artifact_filename(disposition: str | None) -> str:
    """The filename from `content-disposition: attachment; filename=...`, checked for a supported type."""
    match = _FILENAME.search(disposition or "")
    if not match:
        raise invalid("content-disposition must name the artifact: attachment; filename=<name>")
    filename = match.group(1) or match.group(2)
    if not filename.lower().endswith(ARTIFACT_SUFFIXES):
        raise invalid(f"artifact type of {filename!r} is not supported; use one of {', '.join(ARTIFACT_SUFFIXES)}")
    return filename


def present(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if value is not None}

"""`FakeOCI`: the fake's Python API for tests, benchmarks and the `jobctl-fake-oci` command."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from jobctl.testing.fake_oci import dataflow, dataflow_runs, pipeline_runs, pipeline_scheduler, pipelines
from jobctl.testing.fake_oci.api_buckets import add_bucket
from jobctl.testing.fake_oci.app import FakeApp, Journal, RequestRecord
from jobctl.testing.fake_oci.dataflow_workload import DataFlowWorkload, echo_spark_workload
from jobctl.testing.fake_oci.faults import FaultInjector
from jobctl.testing.fake_oci.keys import ApiKey, throwaway_api_key, write_config
from jobctl.testing.fake_oci.lifecycle import Workload, echo_workload
from jobctl.testing.fake_oci.logsearch import STDERR, STDOUT, LogRecord
from jobctl.testing.fake_oci.messages import RetryTokens
from jobctl.testing.fake_oci.routing import Services, Settings
from jobctl.testing.fake_oci.server import ServerThread
from jobctl.testing.fake_oci.signing import KeyRing
from jobctl.testing.fake_oci.state import Limits, Store
from jobctl.testing.fake_oci.wire import format_time


class ManualClock:
    """A clock a test moves by hand: `clock = ManualClock(); fake.clock = clock; clock.advance(5)`."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class FakeOCI:
    """A stateful fake of OCI Data Science Jobs and Pipelines, Data Flow, Logging Search and Object Storage,
    served on 127.0.0.1."""

    def __init__(self, *, port: int = 0, region: str = "us-ashburn-1", seed: int = 0, auto_progress: bool = True,
                 verify_signatures: bool = True, workload: Workload = echo_workload, log_lag: float = 0.0,
                 clock: Callable[[], float] = time.time, limits: Limits | None = None, oracle_tags: bool = True,
                 required_tags: dict[str, list[str]] | None = None, namespace: str = "fakenamespace",
                 dataflow_workload: DataFlowWorkload = echo_spark_workload) -> None:
        self.region = region
        self.limits = limits or Limits()
        self.store = Store(region=region, seed=seed, limits=self.limits, clock=clock, workload=workload,
                           log_lag=log_lag, oracle_tags=oracle_tags, required_tags=dict(required_tags or {}),
                           namespace=namespace, dataflow_workload=dataflow_workload)
        self.settings = Settings(auto_progress=auto_progress)
        self.faults = FaultInjector(seed)
        self.keys = KeyRing()
        self.journal = Journal(self.limits.max_requests)
        services = Services(self.store, RetryTokens(self.limits.max_retry_tokens), self.settings)
        self.app = FakeApp(services, self.keys, self.faults, self.journal)
        self.app.verify_signatures = verify_signatures
        self._port = port
        self._server: ServerThread | None = None

    # Serving ------------------------------------------------------------------------------------------

    def start(self) -> FakeOCI:
        if self._server is None:
            self._server = ServerThread(self.app, self._port)
            self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> FakeOCI:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake is not started; call start() or use it as a context manager")
        return self._server.port

    @property
    def url(self) -> str:
        """The base URL to pass as `service_endpoint` to every SDK client (Data Science and Logging Search)."""
        return f"http://127.0.0.1:{self.port}"

    # Settings -----------------------------------------------------------------------------------------

    @property
    def clock(self) -> Callable[[], float]:
        return self.store.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.store.clock = clock

    @property
    def auto_progress(self) -> bool:
        return self.settings.auto_progress

    @auto_progress.setter
    def auto_progress(self, enabled: bool) -> None:
        self.settings.auto_progress = enabled

    @property
    def workload(self) -> Workload:
        return self.store.workload

    @workload.setter
    def workload(self, workload: Workload) -> None:
        self.store.workload = workload

    @property
    def dataflow_workload(self) -> DataFlowWorkload:
        """What a Data Flow run runs (`dataflow_workload.echo_spark_workload` unless a test plugs another)."""
        return self.store.dataflow_workload

    @dataflow_workload.setter
    def dataflow_workload(self, workload: DataFlowWorkload) -> None:
        self.store.dataflow_workload = workload

    @property
    def log_lag(self) -> float:
        return self.store.log_lag

    @log_lag.setter
    def log_lag(self, seconds: float) -> None:
        self.store.log_lag = seconds

    @property
    def verify_signatures(self) -> bool:
        return self.app.verify_signatures

    @verify_signatures.setter
    def verify_signatures(self, enabled: bool) -> None:
        self.app.verify_signatures = enabled

    # Keys ---------------------------------------------------------------------------------------------

    def register_key(self, key_id: str, public_key_pem: bytes | str) -> None:
        """Accept requests signed with this key; `key_id` is `<tenancy>/<user>/<fingerprint>`."""
        self.keys.register(key_id, public_key_pem)

    def register_api_key(self, key: ApiKey) -> None:
        self.keys.register(key.key_id, key.public_pem)

    def write_config(self, directory: Path | str, *, profile: str = "DEFAULT", key: ApiKey | None = None) -> Path:
        """Write an OCI config file (+ key file) into `directory` whose key this fake accepts; returns its path.

        Without `key`, the key is this process's throwaway key (`throwaway_api_key`)."""
        key = key or throwaway_api_key()
        self.register_api_key(key)
        return write_config(Path(directory), key, profile=profile, region=self.region)

    # Requests -----------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered (or dropped) so far, oldest first."""
        return self.journal.snapshot()

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests match `method` and the regex `path` (re.search), e.g. count("GET", r"/jobs$")."""
        pattern = re.compile(path) if path is not None else None
        return sum(1 for r in self.requests
                   if (method is None or r.method == method.upper()) and (pattern is None or pattern.search(r.path)))

    def clear_requests(self) -> None:
        self.journal.clear()

    @property
    def in_flight(self) -> int:
        """How many requests the fake is handling right now (injected latency included)."""
        return self.app.in_flight.current

    @property
    def max_in_flight(self) -> int:
        """The most requests the fake handled at once since it started or `reset_max_in_flight()`."""
        return self.app.in_flight.peak

    def reset_max_in_flight(self) -> None:
        self.app.in_flight.reset()

    # State --------------------------------------------------------------------------------------------

    def create_job(self, details: dict[str, Any], *, created_by: str = "ocid1.user.oc1..seeded") -> dict[str, Any]:
        """Create a job directly (no HTTP, not counted): CreateJobDetails as camelCase JSON; returns the Job."""
        with self.store.lock:
            return copy.deepcopy(self.store.create_job(details, created_by))

    def put_artifact(self, job_id: str, content: bytes, filename: str = "main.py") -> None:
        with self.store.lock:
            self.store.put_artifact(job_id, content, f"attachment; filename={filename}")

    def job(self, job_id: str) -> dict[str, Any]:
        """A copy of the Job's wire JSON."""
        with self.store.lock:
            return copy.deepcopy(self.store.job(job_id).resource)

    def jobs(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [copy.deepcopy(record.resource) for record in self.store.jobs.values()]

    def set_job(self, job_id: str, *, state: str, details: str | None = None) -> dict[str, Any]:
        """Force a job's lifecycleState and lifecycleDetails (a service-side fault, e.g. FAILED)."""
        with self.store.lock:
            return copy.deepcopy(self.store.set_job(job_id, state, details))

    def artifact(self, job_id: str) -> bytes | None:
        with self.store.lock:
            artifact = self.store.job(job_id).artifact
            return None if artifact is None else artifact.content

    def run(self, run_id: str) -> dict[str, Any]:
        """A copy of the JobRun's wire JSON (reading it here never advances it)."""
        with self.store.lock:
            return copy.deepcopy(self.store.run(run_id).resource)

    def runs(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [copy.deepcopy(record.resource) for record in self.store.runs.values()]

    def step(self, run_id: str) -> str:
        """Advance a run one step (ACCEPTED -> IN_PROGRESS -> outcome, CANCELING -> CANCELED); returns its state."""
        with self.store.lock:
            return self.store.step(run_id)

    def step_all(self) -> int:
        """Advance every unfinished job run, work request, pipeline run and Data Flow run one step (a pipeline
        run's steps follow their job runs, and the steps that may start do), and make CREATING pipelines ACTIVE;
        returns how many changed state."""
        with self.store.lock:
            moved = self.store.step_all() + self.store.step_work_requests() + pipelines.activate(self.store)
            return moved + pipeline_scheduler.sync_all(self.store) + dataflow_runs.step_all(self.store)

    def create_pipeline(self, details: dict[str, Any], *, created_by: str = "ocid1.user.oc1..seeded",
                        ) -> dict[str, Any]:
        """Create a pipeline directly (no HTTP, not counted): CreatePipelineDetails as camelCase JSON."""
        with self.store.lock:
            return copy.deepcopy(pipelines.create_pipeline(self.store, details, created_by))

    def pipeline(self, pipeline_id: str) -> dict[str, Any]:
        """A copy of the Pipeline's wire JSON (reading it here never advances it)."""
        with self.store.lock:
            return copy.deepcopy(pipelines.pipeline(self.store, pipeline_id).resource)

    def pipelines(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [copy.deepcopy(record.resource) for record in self.store.pipelines.values()]

    def pipeline_run(self, run_id: str) -> dict[str, Any]:
        """A copy of the PipelineRun's wire JSON (reading it here never advances it)."""
        with self.store.lock:
            return copy.deepcopy(pipeline_runs.pipeline_run(self.store, run_id).resource)

    def pipeline_runs(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [copy.deepcopy(record.resource) for record in self.store.pipeline_runs.values()]

    def create_application(self, details: dict[str, Any], *, owner: str = "ocid1.user.oc1..seeded",
                           ) -> dict[str, Any]:
        """Create a Data Flow application directly (no HTTP, not counted): CreateApplicationDetails as camelCase
        JSON; returns the Application."""
        with self.store.lock:
            return copy.deepcopy(dataflow.create_application(self.store, details, owner))

    def application(self, application_id: str) -> dict[str, Any]:
        """A copy of the Data Flow Application's wire JSON."""
        with self.store.lock:
            return copy.deepcopy(dataflow.application(self.store, application_id).resource)

    def applications(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [copy.deepcopy(record.resource) for record in self.store.dataflow_applications.values()]

    def create_dataflow_run(self, details: dict[str, Any], *, owner: str = "ocid1.user.oc1..seeded",
                            ) -> dict[str, Any]:
        """Start a Data Flow run directly (no HTTP, not counted): CreateRunDetails as camelCase JSON."""
        with self.store.lock:
            return copy.deepcopy(dataflow_runs.create_run(self.store, details, owner, "seeded"))

    def dataflow_run(self, run_id: str) -> dict[str, Any]:
        """A copy of the Data Flow Run's wire JSON (reading it here never advances it)."""
        with self.store.lock:
            return copy.deepcopy(dataflow_runs.dataflow_run(self.store, run_id).resource)

    def dataflow_runs(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return [copy.deepcopy(record.resource) for record in self.store.dataflow_runs.values()]

    def work_request(self, work_request_id: str) -> dict[str, Any]:
        """A copy of the WorkRequest's wire JSON (reading it here never advances it)."""
        with self.store.lock:
            return copy.deepcopy(self.store.work_requests.get(work_request_id).resource)

    @property
    def namespace(self) -> str:
        """The tenancy's Object Storage namespace, as GetNamespace answers."""
        return self.store.namespace

    def add_secret(self, content: bytes, *, name: str = "secret") -> str:
        """A Vault secret holding `content` (e.g. a git SSH key), readable with GetSecretBundle; its OCID."""
        with self.store.lock:
            secret_id = self.store.new_id("vaultsecret")
            self.store.secrets[secret_id] = content
            return secret_id

    def add_mount_target(self, ip: str, exports: Sequence[str] = (), *, state: str = "ACTIVE",
                         compartment_id: str = "ocid1.compartment.oc1..fakestorage") -> dict[str, Any]:
        """A File Storage mount target with the private IP `ip` and an ACTIVE export at each of `exports`
        (paths), as Terraform would make them before a test: {"id", "privateIpId", "exports": {path: OCID}}."""
        with self.store.lock:
            store = self.store
            made = format_time(store.now())
            target, private_ip, export_set = (store.new_id(kind) for kind in ("mounttarget", "privateip", "exportset"))
            subnet = store.new_id("subnet")
            store.private_ips[private_ip] = {
                "id": private_ip, "ipAddress": ip, "compartmentId": compartment_id, "subnetId": subnet,
                "displayName": f"mount target {ip}", "isPrimary": True, "timeCreated": made}
            store.mount_targets[target] = {
                "id": target, "compartmentId": compartment_id, "availabilityDomain": "Uocm:PHX-AD-1",
                "displayName": f"mount-target-{len(store.mount_targets) + 1}", "exportSetId": export_set,
                "lifecycleState": state, "privateIpIds": [private_ip], "subnetId": subnet, "timeCreated": made,
                "freeformTags": {}, "definedTags": {}}
            paths = {}
            for path in exports:
                export = store.new_id("export")
                store.exports[export] = {
                    "id": export, "exportSetId": export_set, "fileSystemId": store.new_id("filesystem"),
                    "compartmentId": compartment_id, "lifecycleState": "ACTIVE", "path": path, "timeCreated": made}
                paths[path] = export
            return {"id": target, "privateIpId": private_ip, "exports": paths}

    def create_bucket(self, name: str, *, namespace: str | None = None,
                      compartment_id: str = "ocid1.compartment.oc1..fakebuckets") -> dict[str, Any]:
        """Create a bucket directly (no HTTP), as Terraform or the console would before a test; returns it.

        Object Storage needs a bucket before any object is put in it, so tests create the buckets they use.
        `namespace` defaults to the fake's own.
        """
        with self.store.lock:
            details = {"name": name, "compartmentId": compartment_id}
            return copy.deepcopy(add_bucket(self.store, namespace or self.namespace, details, "ocid1.user.oc1..seeded"))

    def set_run(self, run_id: str, *, state: str | None = None, details: str | None = None) -> dict[str, Any]:
        """Force a run's lifecycleState and lifecycleDetails (the workload is not consulted)."""
        with self.store.lock:
            return copy.deepcopy(self.store.set_run(run_id, state, details))

    def append_log(self, run_id: str, message: str, *, time: float | datetime | None = None,
                   visible_after: float | datetime | None = None, stream: str = "stdout") -> str:
        """Add a log record for a run (which must have logDetails); returns the record's logContent.id.

        `time` defaults to the fake clock's now; the record is searchable once the clock reaches
        `visible_after` (default: `time` + `log_lag`), which models ingestion lag and late records.
        """
        if stream not in ("stdout", "stderr"):
            raise ValueError("stream must be stdout or stderr")
        with self.store.lock:
            record = self.store.run(run_id)
            moment = self.store.now() if time is None else _epoch(time)
            after = None if visible_after is None else _epoch(visible_after)
            return self.store.add_log(record, message, moment, after, STDOUT if stream == "stdout" else STDERR)

    def logs(self, run_id: str) -> list[LogRecord]:
        """Every record of a run, visible or not, in the order they were added."""
        with self.store.lock:
            return self.store.logs.for_source(run_id)


def _epoch(moment: float | datetime) -> float:
    return moment.timestamp() if isinstance(moment, datetime) else float(moment)

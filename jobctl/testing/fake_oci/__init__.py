"""A stateful fake of the OCI REST API for Data Science Jobs and Pipelines, Data Flow, Logging Search and Object
Storage.

Test code that talks to OCI through the real `oci` SDK (or the oci CLI, or jobctl) against a server on
127.0.0.1: requests are signed and verified, bodies are the SDK's camelCase JSON, and runs move through
their lifecycle under the test's control. Nothing is mocked inside the SDK.

Served operations (paths as in `DataScienceClient` / `LogSearchClient`):

    POST/GET          /20190101/jobs                       create (opc-retry-token), list (paged)
    GET/PUT/DELETE    /20190101/jobs/{id}                  get (etag), update (if-match), delete (202 + work request)
    POST              /20190101/jobs/{id}/artifact         upload once (content-disposition filename)
    HEAD/GET          /20190101/jobs/{id}/artifact/content metadata / bytes (single Range supported)
    POST/GET          /20190101/jobRuns                    create (opc-retry-token), list (paged)
    GET/PUT/DELETE    /20190101/jobRuns/{id}               get (etag), update, delete
    POST              /20190101/jobRuns/{id}/actions/cancelJobRun
    POST/GET          /20190101/pipelines                  create (opc-retry-token; ML_JOB steps only), list (paged)
    GET/PUT/DELETE    /20190101/pipelines/{id}             get (etag), update (if-match), delete (202 + work request)
    POST/GET          /20190101/pipelineRuns               create (opc-retry-token), list (paged)
    GET/PUT/DELETE    /20190101/pipelineRuns/{id}          get (etag), update, delete (ended runs only)
    POST              /20190101/pipelineRuns/{id}/actions/cancelPipelineRun   (terminateGracefully)
    GET               /20190101/workRequests[/{id}[/errors|/logs]]  DeleteJob's and DeletePipeline's work requests
    POST/GET          /20200129/applications               Data Flow: create (opc-retry-token), list (one filter, paged)
    GET/PUT/DELETE    /20200129/applications/{id}          get (etag), update (if-match), delete (no active runs)
    POST/GET          /20200129/runs                       create (opc-retry-token; applicationId only), list
    GET/PUT/DELETE    /20200129/runs/{id}                  get (etag), update (tags, timeouts), delete = cancel
    GET               /20200129/runs/{id}/logs[/{name}]    ListRunLogs, GetRunLog (once the run has ended)
    POST              /20190909/search                     SearchLogs (see `logsearch` for the query subset)
    GET               /20200531/logGroups/{id}             GetLogGroup (its compartment)
    GET               /n                                   GetNamespace
    POST, GET/HEAD    /n/{ns}/b, /n/{ns}/b/{bucket}        CreateBucket, GetBucket/HeadBucket
    GET               /n/{ns}/b/{bucket}/o                 ListObjects (prefix, delimiter=/, start, end, fields)
    PUT/GET/HEAD/DEL  /n/{ns}/b/{bucket}/o/{name}          objects (if-match / if-none-match on PUT)
    GET               /20190301/secretbundles/{id}         GetSecretBundle (FakeOCI.add_secret)
    GET               /20171215/mountTargets/{id}, /exports  GetMountTarget, ListExports (FakeOCI.add_mount_target)
    GET               /20160918/privateIps/{id}            GetPrivateIp
    POST              /20180409/resources                  SearchResources (free text; see `api_mounts`)

Python API::

    from jobctl.testing.fake_oci import FakeOCI, ManualClock

    with FakeOCI() as fake:                      # free port; FakeOCI(port=N, seed=0, ...)
        config_path = fake.write_config(tmp)     # throwaway RSA key + <tmp>/config, profile DEFAULT
        config = oci.config.from_file(str(config_path), "DEFAULT")
        client = oci.data_science.DataScienceClient(
            config, service_endpoint=fake.url,
            circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy())
        logs = oci.loggingsearch.LogSearchClient(config, service_endpoint=fake.url)

- Runs start ACCEPTED. `fake.step(run_id)` / `fake.step_all()` advance them ACCEPTED -> IN_PROGRESS
  -> SUCCEEDED or FAILED (lifecycleDetails "Job run artifact execution failed with exit code N."),
  CANCELING -> CANCELED. With `fake.auto_progress = True` (the default) every GET of a run returns it
  and then advances it one step, so a polling client sees ACCEPTED, IN_PROGRESS, then the outcome.
  `fake.set_run(run_id, state=..., details=...)` forces a state.
- `fake.workload = fn(run: WorkloadRun) -> (lines, exit_code | None)` decides what a run prints and how
  it ends (None: it runs until cancelled). The default `echo_workload` prints `K=V` per env var and
  `args=<commandLineArguments>`, exits with env EXIT_CODE (default 0) and never ends while SLEEP is set.
  The env is the run's `jobConfigurationOverrideDetails` if given (it replaces the job's whole
  configuration object), else the job's `jobConfigurationDetails`.
- Printed lines become log records when the run starts, if the run or job has a log configuration with
  logGroupId + logId (or enableAutoLogCreation, which gives each run a new log id in `logDetails`).
  `fake.append_log(run_id, msg, time=..., visible_after=...)` adds records late or out of order; a record
  is searchable once `fake.clock()` >= visible_after (default time + `fake.log_lag`).
- DeleteJob answers 202 with `opc-work-request-id`; the job is DELETING until that work request moves
  ACCEPTED -> IN_PROGRESS -> SUCCEEDED (then DELETED), one step per GET of the work request or of the job
  (auto_progress) or per `fake.step_all()`; `fake.work_request(id)` inspects it (see `workrequests`).
- Pipelines (`pipelines`, `pipeline_runs`, `pipeline_scheduler`; rules in docs/oci-fidelity.md): a pipeline is a
  DAG of ML_JOB steps over ACTIVE jobs, CREATING then ACTIVE one step later. A pipeline run starts every step whose
  dependsOn have SUCCEEDED as a job run of the step's job in this fake (so `fake.workload` runs it, its log and
  GetJobRun show it), with the job's env overlaid by the pipeline's, the step's and the run's configuration and
  the PIPELINE_* variables; the step follows its job run. A failure SKIPs the step's dependents and fails the
  run once no step runs. Runs move one step per GET/list of them (auto_progress) or per `fake.step_all()`.
  `fake.create_pipeline(details)` seeds one; `fake.pipeline(id)`, `fake.pipelines()`, `fake.pipeline_run(id)`,
  `fake.pipeline_runs()` inspect them.
- Data Flow (`dataflow`, `dataflow_runs`, `dataflow_workload`; rules in docs/oci-fidelity.md, "Data Flow"): an
  application is ACTIVE when created; a run copies its application's values with the run's overrides and moves
  ACCEPTED -> IN_PROGRESS -> SUCCEEDED | FAILED like a job run (DeleteRun: CANCELING -> CANCELED). What it runs
  is `fake.dataflow_workload = fn(run: SparkRun) -> SparkOutcome(stdout, stderr, exit_code | None)`; the default
  `echo_spark_workload` prints the configuration and the filled-in arguments and ends as `spark.driverEnv.EXIT_CODE`
  / `spark.driverEnv.SLEEP` ask. Its stdout and stderr are the run's APPLICATION logs once it has ended.
  `fake.create_application(details)`, `fake.create_dataflow_run(details)` seed them; `fake.application(id)`,
  `fake.applications()`, `fake.dataflow_run(id)`, `fake.dataflow_runs()` inspect them.
- Object Storage needs a bucket before its objects (404 BucketNotFound otherwise): create it with
  CreateBucket or `fake.create_bucket(name, namespace=...)`. GetNamespace answers `fake.namespace`
  (`FakeOCI(namespace=...)`, default `fakenamespace`); buckets may be in any namespace.
- `fake.clock` is any `() -> float` (epoch seconds, default `time.time`); `ManualClock` can be advanced.
- `fake.faults.add(path=r"regex", method="POST", status=429|500|503, times=2 | rate=0.2, latency=0.5,
  drop=True, after=True)` injects faults (rate uses a seeded RNG); `after=True` applies the change and
  then loses the response. `fake.faults.latency` delays every request; `fake.faults.clear()`.
- `fake.requests` lists `RequestRecord(method, path, query, status, retry_token)`; `fake.count("GET",
  r"/jobs$")` counts them; `fake.clear_requests()`.
- `fake.max_in_flight` is the most requests handled at once (a concurrency bound a client must keep;
  injected latency counts) since the start or `fake.reset_max_in_flight()`; `fake.in_flight` is now.
- `fake.create_job(details)`, `fake.put_artifact(job_id, data)` seed state without HTTP; `fake.job(id)`,
  `fake.run(id)`, `fake.jobs()`, `fake.runs()`, `fake.artifact(id)`, `fake.logs(run_id)` inspect it.
- Lists take compartmentId (required), the SDK's filters, sortBy/sortOrder (timeCreated newest first,
  displayName A-Z) and `limit` 1-100 (default 100), paging with an opaque `opc-next-page`. Summaries carry
  JobSummary / JobRunSummary fields only. Deleted jobs and runs stay readable with lifecycleState DELETED.
  A run created without `jobConfigurationOverrideDetails` reports the job's configuration there.
- Updates accept only UpdateJobDetails / UpdateJobRunDetails fields; any other field is 400. Deleting a
  job with ACCEPTED/IN_PROGRESS/CANCELING/NEEDS_ATTENTION runs is 409 unless deleteRelatedJobRuns=true
  (then its runs become DELETED); only finished runs can be deleted; an artifact is write-once (409).
- Everything is bounded (`Limits`: jobs, runs, log records, artifact and body sizes, retry tokens, the
  request journal); a full store answers 400 LimitExceeded, the oldest log records and requests drop out.
- Errors use OCI's body `{"code", "message"}`: 400 InvalidParameter/MissingParameter/CannotParseRequest/
  LimitExceeded, 401 NotAuthenticated, 404 NotAuthorizedOrNotFound, 409 Conflict, 412
  PreconditionFailed, 429 TooManyRequests, 5xx. Requests must be signed with a registered key
  (`write_config`, `register_key`) unless `verify_signatures=False`.

Command line (runs until Ctrl-C)::

    python -m jobctl.testing.fake_oci --port 8765 --write-config /tmp/fake-oci
    jobctl-fake-oci --port 8765 --write-config /tmp/fake-oci      # same, where the entry point is installed
    jobctl-fake-oci ... --bucket ml-state --bucket other-ns/data  # buckets to create at start

It prints the endpoint and the settings that point jobctl at it: `OCI_CLI_CONFIG_FILE=<dir>/config`,
`JOBCTL_OCI_ENDPOINT=http://127.0.0.1:8765`, or `--backend oci --config-file ... --endpoint ...`.
"""

from __future__ import annotations

from jobctl.testing.fake_oci.app import RequestRecord
from jobctl.testing.fake_oci.dataflow_workload import DataFlowWorkload, SparkOutcome, SparkRun, echo_spark_workload
from jobctl.testing.fake_oci.fake import FakeOCI, ManualClock
from jobctl.testing.fake_oci.faults import FaultInjector, FaultRule
from jobctl.testing.fake_oci.keys import ApiKey, generate_api_key, write_config
from jobctl.testing.fake_oci.lifecycle import Workload, WorkloadRun, echo_workload
from jobctl.testing.fake_oci.logsearch import LogRecord
from jobctl.testing.fake_oci.state import Limits

__all__ = [
    "ApiKey",
    "DataFlowWorkload",
    "FakeOCI",
    "FaultInjector",
    "FaultRule",
    "Limits",
    "LogRecord",
    "ManualClock",
    "RequestRecord",
    "SparkOutcome",
    "SparkRun",
    "Workload",
    "WorkloadRun",
    "echo_spark_workload",
    "echo_workload",
    "generate_api_key",
    "write_config",
]

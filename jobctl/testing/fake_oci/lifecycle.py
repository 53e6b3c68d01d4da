"""How a job run moves: ACCEPTED -> IN_PROGRESS -> SUCCEEDED | FAILED, CANCELING -> CANCELED.

The fake never runs code. A pluggable `Workload` decides what a run prints and how it ends; the default
`echo_workload` prints the run's environment and arguments and exits with env `EXIT_CODE` (0), or never
ends while env `SLEEP` is set. The effective configuration is the run's `jobConfigurationOverrideDetails`
when given (it replaces the job's `jobConfigurationDetails` as a whole object), else the job's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jobctl.testing.fake_oci.wire import format_time

ACCEPTED = "ACCEPTED"
IN_PROGRESS = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELING = "CANCELING"
CANCELED = "CANCELED"
DELETED = "DELETED"
NEEDS_ATTENTION = "NEEDS_ATTENTION"
ACTIVE_RUN_STATES = frozenset({ACCEPTED, IN_PROGRESS, CANCELING, NEEDS_ATTENTION})
TERMINAL_RUN_STATES = frozenset({SUCCEEDED, FAILED, CANCELED, DELETED})
IN_PROGRESS_DETAILS = "Job run in progress."


def failed_details(exit_code: int) -> str:
    """The service's wording, as quoted in ADS's tests; ADS reads the code with `exit code (\\d+)`."""
    return f"Job run artifact execution failed with exit code {exit_code}."


@dataclass(frozen=True)
class WorkloadRun:
    """What a workload sees of a run: ids and the effective environment and arguments."""

    id: str
    job_id: str
    display_name: str | None
    env: Mapping[str, str]
    args: str | None
    job: Mapping[str, Any]
    run: Mapping[str, Any]


Workload = Callable[[WorkloadRun], tuple[list[str], int | None]]


def echo_workload(run: WorkloadRun) -> tuple[list[str], int | None]:
    """Print `K=V` per env var (sorted) and `args=<commandLineArguments>`; exit EXIT_CODE; SLEEP never ends."""
    lines = [f"{name}={value}" for name, value in sorted(run.env.items())]
    lines.append(f"args={run.args or ''}")
    problem, exit_code = requested_exit(run.env)
    return lines + problem, exit_code


def requested_exit(env: Mapping[str, str]) -> tuple[list[str], int | None]:
    """How an echo workload ends, as its env asks: never while SLEEP is set, else with EXIT_CODE (default 0);
    an EXIT_CODE that is no integer fails with 1 and a line saying so."""
    if env.get("SLEEP"):
        return [], None
    try:
        return [], int(env.get("EXIT_CODE", "0"))
    except ValueError:
        return [f"EXIT_CODE={env['EXIT_CODE']!r} is not an integer"], 1


@dataclass
class RunRecord:
    resource: dict[str, Any]
    seq: int
    exit_code: int | None = None

    @property
    def state(self) -> str:
        return str(self.resource["lifecycleState"])

    def set_state(self, state: str, now: float, details: str | None = None) -> None:
        self.resource["lifecycleState"] = state
        if details is None:
            self.resource.pop("lifecycleDetails", None)
        else:
            self.resource["lifecycleDetails"] = details
        if state == IN_PROGRESS:
            self.resource.setdefault("timeStarted", format_time(now))
        if state in TERMINAL_RUN_STATES:
            self.resource.setdefault("timeFinished", format_time(now))

    def mark_deleted(self, now: float) -> None:
        if self.state != DELETED:
            self.set_state(DELETED, now)


def workload_view(run: Mapping[str, Any], job: Mapping[str, Any]) -> WorkloadRun:
    config = run.get("jobConfigurationOverrideDetails") or job.get("jobConfigurationDetails") or {}
    return WorkloadRun(
        id=run["id"], job_id=run["jobId"], display_name=run.get("displayName"),
        env=dict(config.get("environmentVariables") or {}), args=config.get("commandLineArguments"),
        job=copy.deepcopy(dict(job)), run=copy.deepcopy(dict(run)),
    )


def _nodes_workload(run: Mapping[str, Any], job: Mapping[str, Any], workload: Workload,
                    ) -> tuple[list[str], int | None]:
    """A multi-node run: the workload once per replica, with its group's configuration (the run's
    override of that group, else the job's) and the rank variables OCI documents (NODE_RANK, counted
    over the groups in order) and ADS reads (INITIAL_CLUSTER_SIZE). A group succeeds when at least its
    minimumSuccessReplicas (default: all) exit 0; the run when every group does."""
    groups = job["jobNodeConfigurationDetails"]["jobNodeGroupConfigurationDetailsList"]
    override = {g["name"]: g for g in ((run.get("jobNodeConfigurationOverrideDetails") or {}).get(
        "jobNodeGroupConfigurationDetailsList") or [])}
    size = sum(int(g.get("replicas") or 1) for g in groups)
    lines: list[str] = []
    exit_code: int | None = 0
    rank = 0
    for group in groups:
        config = (override.get(group["name"]) or {}).get("jobConfigurationDetails") or group.get(
            "jobConfigurationDetails") or {}
        succeeded, failure = 0, None
        for _ in range(int(group.get("replicas") or 1)):
            env = {**(config.get("environmentVariables") or {}), "NODE_RANK": str(rank),
                   "INITIAL_CLUSTER_SIZE": str(size)}
            node_run = {**run, "jobConfigurationOverrideDetails": {**config, "environmentVariables": env}}
            printed, code = workload(workload_view(node_run, job))
            lines += printed
            rank += 1
            if code is None:
                exit_code = None
            elif code == 0:
                succeeded += 1
            elif failure is None:
                failure = code
        needed = int(group.get("minimumSuccessReplicas") or group.get("replicas") or 1)
        if exit_code == 0 and succeeded < needed:
            exit_code = failure if failure is not None else 1
    return lines, exit_code


def advance(record: RunRecord, job: Mapping[str, Any], now: float, workload: Workload) -> list[str]:
    """Move a run one step; returns the lines it printed when it has just started."""
    if record.state == ACCEPTED and job.get("jobNodeConfigurationDetails"):
        lines, record.exit_code = _nodes_workload(record.resource, job, workload)
        record.set_state(IN_PROGRESS, now, IN_PROGRESS_DETAILS)
        return lines
    if record.state == ACCEPTED:
        lines, record.exit_code = workload(workload_view(record.resource, job))
        record.set_state(IN_PROGRESS, now, IN_PROGRESS_DETAILS)
        return lines
    if record.state == IN_PROGRESS and record.exit_code is not None:
        if record.exit_code == 0:
            record.set_state(SUCCEEDED, now)
        else:
            record.set_state(FAILED, now, failed_details(record.exit_code))
    elif record.state == CANCELING:
        record.set_state(CANCELED, now)
    return []


def log_details_for(job: Mapping[str, Any], run: Mapping[str, Any], new_log_id: Callable[[], str]) -> dict[str, str]:
    """The run's `logDetails`: from the run's log override, else the job's log configuration.

    With `enableAutoLogCreation` and a log group but no log, the service creates a log per run.
    """
    config = run.get("jobLogConfigurationOverrideDetails") or job.get("jobLogConfigurationDetails") or {}
    return log_details_from(config, new_log_id)


def log_details_from(config: Mapping[str, Any], new_log_id: Callable[[], str]) -> dict[str, str]:
    """`{logGroupId, logId}` of a log configuration (a job's, a job run's or a pipeline run's), or {}."""
    group, log = config.get("logGroupId"), config.get("logId")
    if config.get("enableLogging") is False or not group:
        return {}
    if not log and config.get("enableAutoLogCreation"):
        log = new_log_id()
    return {"logGroupId": group, "logId": log} if log else {}

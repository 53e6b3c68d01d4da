"""An in-memory backend for fast tests of the engine and the CLI.

Runs are simulated: each read of a run moves it one step (ACCEPTED -> IN_PROGRESS -> end), and a
`program` decides what it prints and how it ends. The default program echoes the run's env and
args and succeeds, fails when env EXIT_CODE is non-zero, never ends when env SLEEP is set, and
reports env METRIC_<NAME>=<number> as outputs {"metrics": {"<name>": number}}.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from jobctl.backends.base import Backend, copy_log_text
from jobctl.backends.listing import ListsRuns, RunStream, matching, sorted_stream
from jobctl.backends.settings import Settings
from jobctl.errors import ConflictError, Diagnostic, NotFoundError
from jobctl.model.job import (
    ACCEPTED,
    CANCELED,
    CANCELING,
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
    TERMINAL_STATES,
    JobDefinition,
    JobState,
    LogBatch,
    LogLine,
    LogView,
    RunState,
)
from jobctl.model.table import updated_in_place
from jobctl.workflow.state import MemoryStore

if TYPE_CHECKING:
    from jobctl.artifact import Artifact

Program = Callable[[RunState], tuple[list[str], int | None]]


def echo_program(run: RunState) -> tuple[list[str], int | None]:
    lines = [f"{k}={v}" for k, v in sorted(run.env.items())] + [f"args={list(run.args)}"]
    if run.env.get("SLEEP"):
        return lines, None
    return lines, int(run.env.get("EXIT_CODE", "0"))


def echo_outputs(run: RunState) -> dict[str, Any] | None:
    metrics = {k[len("METRIC_"):].lower(): float(v) for k, v in run.env.items() if k.startswith("METRIC_")}
    return {"metrics": metrics, "env": dict(run.env)} if metrics else None


@dataclass
class _Run:
    state: RunState
    lines: list[LogLine] = field(default_factory=list)
    outcome: tuple[list[str], int | None] | None = None


class MemoryBackend(ListsRuns):
    name = "memory"
    runs_here = True
    required_fields: tuple[str, ...] = ()

    def prepare_runs(self, count: int) -> None:
        pass  # nothing to get ready: starting a run is one call

    def pause(self, *, run_ids: Sequence[str], seconds: float, until_end: bool = False) -> None:
        time.sleep(seconds)  # runs here end as they are read

    def spec_defaults(self) -> dict[str, str]:
        return {}

    def resolve_definition(self, *, definition: JobDefinition, where: Callable[[str], Diagnostic]) -> JobDefinition:
        return definition  # a mount named by IP and export path is a directory named so (README)
    poll_interval = 0.0

    def __init__(self, program: Program = echo_program) -> None:
        self.program = program
        self.jobs: dict[str, JobState] = {}
        self.runs: dict[str, _Run] = {}
        self.tokens: dict[str, str] = {}
        self.writes = 0
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._clock = datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.workflows = MemoryStore()
        self.artifacts: dict[str, Artifact | None] = {}

    def _now(self) -> datetime:
        self._clock += timedelta(milliseconds=1)
        return self._clock

    def _new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids):06d}"

    # --- jobs -------------------------------------------------------------------------------
    def list_jobs(self, *, compartment_id: str | None = None, project_id: str | None = None) -> list[JobState]:
        with self._lock:
            return [j.replace(definition=None) for j in self.jobs.values()
                    if compartment_id in (None, j.definition and j.definition.compartment_id)
                    and project_id in (None, j.definition and j.definition.project_id)]

    def get_job(self, *, job_id: str) -> JobState:
        with self._lock:
            if job_id not in self.jobs:
                raise NotFoundError(f"job {job_id} not found")
            return self.jobs[job_id]

    def create_job(self, *, definition: JobDefinition, artifact: Artifact | None, retry_token: str) -> JobState:
        with self._lock:
            if retry_token in self.tokens and self.tokens[retry_token] in self.jobs:
                return self.jobs[self.tokens[retry_token]]
            self.writes += 1
            job_id = self._new_id("job")
            job = JobState(job_id, definition.display_name or definition.name, "ACTIVE", dict(definition.tags),
                           self._now(), definition=definition, etag=f"e{self.writes}")
            self.jobs[job_id] = job
            self.artifacts[job_id] = artifact
            self.tokens[retry_token] = job_id
            return job

    def update_job(self, *, job_id: str, definition: JobDefinition, etag: str | None) -> JobState:
        with self._lock:
            job = self.get_job(job_id=job_id)
            if etag is not None and etag != job.etag:
                raise ConflictError(f"job {job_id} changed since it was read (etag mismatch)")
            assert job.definition is not None
            self.writes += 1
            updated = updated_in_place(job.definition, definition)
            job = job.replace(name=updated.display_name or updated.name, tags=updated.tags, definition=updated,
                          etag=f"e{self.writes}")
            self.jobs[job_id] = job
            return job

    def delete_job(self, *, job_id: str) -> None:
        with self._lock:
            self.get_job(job_id=job_id)
            if any(r.state.job_id == job_id and not r.state.terminal for r in self.runs.values()):
                raise ConflictError(f"job {job_id} has active runs")
            self.writes += 1
            del self.jobs[job_id]
            for run_id in [i for i, r in self.runs.items() if r.state.job_id == job_id]:  # its runs go with it
                del self.runs[run_id]

    # --- runs -------------------------------------------------------------------------------
    def start_run(
        self, *, job_id: str, name: str, env: Mapping[str, str], args: Sequence[str],
        retry_token: str | None = None, settings: Mapping[str, Any] | None = None,
        marks: Mapping[str, str] | None = None,
    ) -> RunState:
        with self._lock:
            job = self.get_job(job_id=job_id)
            if retry_token and retry_token in self.tokens and self.tokens[retry_token] in self.runs:
                return self.runs[self.tokens[retry_token]].state
            run_id = self._new_id("run")
            state = RunState(run_id, job_id, name, ACCEPTED, self._now(), env=dict(env), args=tuple(args),
                             job_name=job.managed_name or job.name, marks=dict(marks or {}))
            self.runs[run_id] = _Run(state)
            if retry_token:
                self.tokens[retry_token] = run_id
            return state

    def _advance(self, run: _Run) -> None:
        state = run.state
        if state.state == ACCEPTED:
            run.outcome = self.program(state)
            now = self._now()
            run.lines.extend(LogLine(now, "stdout", text) for text in run.outcome[0])
            run.state = state.replace(state=IN_PROGRESS, started=now)
        elif state.state == IN_PROGRESS and run.outcome and run.outcome[1] is not None:
            code = run.outcome[1]
            run.state = state.replace(state=SUCCEEDED if code == 0 else FAILED, finished=self._now(),
                                exit_code=code, details=None if code == 0 else f"Job run failed with exit code {code}")
        elif state.state == CANCELING:
            run.state = state.replace(state=CANCELED, finished=self._now())

    def _run(self, run_id: str) -> _Run:
        if run_id not in self.runs:
            raise NotFoundError(f"run {run_id} not found")
        return self.runs[run_id]

    def get_runs(self, *, run_ids: Sequence[str]) -> list[RunState]:
        return [self.get_run(run_id=run_id) for run_id in run_ids]

    def get_run(self, *, run_id: str) -> RunState:
        with self._lock:
            run = self._run(run_id)
            self._advance(run)
            return run.state

    def stream_runs(
        self, *, job_ids: Sequence[str] | None = None, states: Collection[str] | None = None, after: str | None = None,
    ) -> RunStream:
        with self._lock:
            return sorted_stream([r.state for r in self.runs.values()], job_ids, states, after)

    def find_runs(self, ref: str, *, job_id: str | None = None) -> list[RunState]:
        return matching(self.list_runs(job_id=job_id), ref)

    def cancel_run(self, *, run_id: str) -> RunState:
        with self._lock:
            run = self._run(run_id)
            if run.state.state not in TERMINAL_STATES:
                run.state = run.state.replace(state=CANCELING)
            return run.state

    def read_logs(self, *, run_id: str, cursor: str | None = None, limit: int | None = None) -> LogBatch:
        with self._lock:
            run = self._run(run_id)
            start = int(cursor or 0)
            end = len(run.lines) if limit is None else min(len(run.lines), start + limit)
            complete = run.state.terminal and end == len(run.lines)
            return LogBatch(tuple(run.lines[start:end]), str(end), complete)

    def copy_log_text(self, *, run_id: str, out: BinaryIO) -> None:
        copy_log_text(self, run_id, out)

    def print_log(self, *, run_id: str, out: BinaryIO, view: LogView) -> str | None:
        return None  # no faster way than read_logs

    def download_artifact(self, *, job_id: str, directory: Path) -> Path | None:
        self.get_job(job_id=job_id)
        artifact = self.artifacts.get(job_id)
        if artifact is None:
            return None
        target = directory / artifact.filename
        with target.open("wb") as out:
            artifact.write_to(out)
        return target

    def read_outputs(self, *, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            run = self._run(run_id)
            return echo_outputs(run.state) if run.state.state == SUCCEEDED else None

    def workflow_store(self, location: str | None) -> MemoryStore:
        return self.workflows

    def tail_logs(self, *, run_id: str, lines: int) -> LogBatch:
        with self._lock:
            run = self._run(run_id)
            start = max(0, len(run.lines) - lines)
            return LogBatch(tuple(run.lines[start:]), str(len(run.lines)), run.state.terminal)


_SHARED: dict[str, MemoryBackend] = {}


def create(settings: Settings) -> Backend:  # mypy checks that MemoryBackend is a Backend
    """One backend per local home in this process, so consecutive in-process commands share state."""
    return _SHARED.setdefault(str(settings.local.home), MemoryBackend())

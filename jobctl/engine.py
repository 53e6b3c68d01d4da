"""Orchestration over any Backend: plan, apply, start runs (with fan-out), wait, follow logs.

Pure orchestration: no click, no rendering. Callers pass callbacks for progress and a clock/sleep
pair so waiting is testable without real time.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from jobctl.backends.base import Backend
from jobctl.errors import ConflictError, ExitCode, JobctlError, NotFoundError, UsageError, WaitTimeoutError
from jobctl.model.job import ACTIVE_STATES, CANCELED, FAILED, SUCCEEDED, TAG_SUPERSEDED, JobState, LogLine, RunState
from jobctl.plan.desired import DesiredJob
from jobctl.plan.diff import diff
from jobctl.plan.model import Action, Change, Plan
from jobctl.secrets import REDACTOR

Clock = Callable[[], float]
Sleep = Callable[[float], None]


# --- plan and apply --------------------------------------------------------------------------------

def _scopes(desired: Sequence[DesiredJob]) -> list[tuple[str | None, str | None]]:
    scopes = {(d.definition.compartment_id, d.definition.project_id) for d in desired}
    return sorted(scopes, key=str) or [(None, None)]


def observe(backend: Backend, desired: Sequence[DesiredJob]) -> list[JobState]:
    """All jobs in the scopes the desired jobs live in (one paginated list per scope)."""
    seen: dict[str, JobState] = {}
    for compartment_id, project_id in _scopes(desired):
        for job in backend.list_jobs(compartment_id=compartment_id, project_id=project_id):
            seen[job.id] = job
    return list(seen.values())


def build_plan(
    backend: Backend, desired: Sequence[DesiredJob], *, prune: bool = False, refresh: bool = False,
    adopt: bool = False,
) -> Plan:
    """Compare desired jobs with what the backend holds. GETs only jobs whose hash differs (or all with refresh)."""
    observed = observe(backend, desired)
    hashes = {d.name: d.spec_hash for d in desired}
    need_definition = [
        j for j in observed
        if j.managed_name in hashes and not j.superseded and j.lifecycle_state == "ACTIVE"
        and (refresh or j.spec_hash != hashes[j.managed_name])
    ]
    fetched = {j.id: backend.get_job(job_id=j.id) for j in need_definition}
    observed = [fetched.get(j.id, j) for j in observed]
    retire = [
        j for j in observed
        if j.managed and j.superseded and j.lifecycle_state == "ACTIVE"
        and not backend.list_runs(job_id=j.id, states=ACTIVE_STATES, limit=1)
    ]
    adoptable = {}
    if adopt:  # unmanaged jobs whose display name is a wanted name, with no managed job of that name
        from jobctl.export import observe_for_adoption

        managed_names = {j.managed_name for j in observed if j.managed_name}
        for job in observed:
            if (not job.managed and job.lifecycle_state == "ACTIVE" and job.name in hashes
                    and job.name not in managed_names and job.name not in adoptable):
                adoptable[job.name] = observe_for_adoption(backend, job)
    plan = diff(desired, observed, prune=prune, retire=retire, adoptable=adoptable)
    return replace(plan, known_job_ids=frozenset(job.id for job in observed))


def retry_token(*parts: str) -> str:
    """A deterministic opc-retry-token: a retried or re-run apply never creates a duplicate."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:64]


@dataclass(frozen=True)
class AppliedChange:
    change: Change
    job_id: str | None
    outcome: str  # "created", "updated", "replaced", "deleted", "superseded"
    retired: str | None = None  # for a replace: what happened to the old job ("deleted" / "superseded")


def apply_plan(
    backend: Backend, plan: Plan, *, on_change: Callable[[AppliedChange], None] | None = None,
) -> list[AppliedChange]:
    """Execute exactly `plan`, in order. Active runs are never killed: busy old jobs are tagged superseded."""
    results: list[AppliedChange] = []
    for change in plan.changes:
        result = _apply_change(backend, change, plan.known_job_ids)
        results.append(result)
        if on_change:
            on_change(result)
    return results


def _apply_change(backend: Backend, change: Change, known: frozenset[str]) -> AppliedChange:
    want, have = change.desired, change.observed
    if change.action is Action.CREATE:
        assert want is not None
        job = backend.create_job(
            definition=want.definition, artifact=want.artifact,
            retry_token=retry_token(want.name, want.spec_hash, ""),
        )
        _settle_name_race(backend, want, job, known)
        return AppliedChange(change, job.id, "created")
    if change.action is Action.UPDATE:
        assert want is not None
        assert have is not None
        job = backend.update_job(job_id=have.id, definition=want.definition, etag=have.etag)
        return AppliedChange(change, job.id, "updated")
    if change.action is Action.REPLACE:
        assert want is not None
        assert have is not None
        job = backend.create_job(
            definition=want.definition, artifact=want.artifact,
            retry_token=retry_token(want.name, want.spec_hash, have.id),
        )
        _settle_name_race(backend, want, job, known)
        return AppliedChange(change, job.id, "replaced", retired=_retire(backend, have))
    assert have is not None
    return AppliedChange(change, have.id, _retire(backend, have))


LIVE_JOB_STATES = ("CREATING", "ACTIVE")


def _settle_name_race(backend: Backend, want: DesiredJob, created: JobState, known: frozenset[str]) -> None:
    """Two applies that both created a job of one name: the earlier job wins, the later apply removes its
    own and fails (exit 5). No lock service is needed: each apply lists the name's live jobs *after* its
    own create, so the later creator always sees the earlier job, and the earliest one never loses
    (docs/decisions/0007-concurrent-applies.md). Jobs the plan saw (the one being replaced, left-overs
    of an interrupted replace, which this plan retires) are not rivals."""
    rivals = {
        job.id: job
        for job in backend.list_jobs(compartment_id=want.definition.compartment_id,
                                     project_id=want.definition.project_id)
        if job.managed_name == want.name and not job.superseded and job.id not in known
        and job.lifecycle_state in LIVE_JOB_STATES
    }
    rivals.setdefault(created.id, created)  # a list may not show a job made a moment ago
    winner = min(rivals.values(), key=lambda job: (job.created, job.id))
    if winner.id == created.id:
        return
    backend.delete_job(job_id=created.id)
    raise ConflictError(
        f"job {want.name!r} was created at the same time by another apply ({winner.id}); "
        f"this apply removed its own copy ({created.id}) and stopped",
        hint="run `jobctl plan` to compare your spec with the job that won",
    )


def _retire(backend: Backend, job: JobState) -> str:
    if backend.list_runs(job_id=job.id, states=ACTIVE_STATES, limit=1):
        current = backend.get_job(job_id=job.id)
        assert current.definition is not None
        tags = {**current.tags, TAG_SUPERSEDED: "true"}
        backend.update_job(job_id=job.id, definition=current.definition.with_tags(tags), etag=current.etag)
        return "superseded"
    backend.delete_job(job_id=job.id)
    return "deleted"


# --- finding jobs and runs by name, id or id prefix ---------------------------------------------------

def resolve_job(backend: Backend, ref: str) -> JobState:
    """A job by id, managed name, display name, or unique id prefix."""
    jobs = [j for j in backend.list_jobs() if j.lifecycle_state == "ACTIVE"]
    exact = [j for j in jobs if j.id == ref] or [
        j for j in jobs if (j.managed_name == ref and not j.superseded)
    ] or [j for j in jobs if j.name == ref and not j.superseded]
    matches = exact or [j for j in jobs if j.id.startswith(ref)]
    if not matches:
        raise NotFoundError(
            f"no job named {ref!r}", hint="create it with `jobctl apply SPEC`; list jobs with `jobctl jobs`",
        )
    if len(matches) > 1:
        listed = ", ".join(f"{j.id} ({j.name})" for j in matches[:10])
        raise UsageError(f"{ref!r} matches {len(matches)} jobs: {listed}", hint="give the full job id")
    return backend.get_job(job_id=matches[0].id)


def resolve_run(backend: Backend, ref: str, *, job_id: str | None = None) -> RunState:
    """A run by id, name or unique id prefix."""
    try:
        return backend.get_run(run_id=ref)
    except NotFoundError:
        pass
    runs = backend.list_runs(job_id=job_id)
    matches = [r for r in runs if r.name == ref] or [r for r in runs if r.id.startswith(ref)]
    if not matches:
        raise NotFoundError(f"no run {ref!r}", hint="list runs with `jobctl runs`")
    if len(matches) > 1:
        listed = ", ".join(f"{r.id} ({r.name})" for r in matches[:10])
        raise UsageError(f"{ref!r} matches {len(matches)} runs: {listed}", hint="give the full run id")
    return matches[0]


def latest_run(backend: Backend, job: JobState) -> RunState:
    runs = backend.list_runs(job_id=job.id, limit=1)
    if not runs:
        raise NotFoundError(f"job {job.name!r} has no runs", hint=f"start one with `jobctl run {job.name}`")
    return runs[0]


# --- starting runs ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunRequest:
    name: str
    env: Mapping[str, str]
    args: tuple[str, ...]
    overrides: Mapping[str, str] = field(default_factory=dict)  # the matrix/--env part, for display
    retry_token: str | None = None


def parse_assignments(values: Sequence[str], option: str) -> dict[str, str]:
    """`K=V` pairs from the command line; a clear usage error otherwise."""
    result: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        # the value is never echoed: it may be a secret
        if not sep:
            raise UsageError(f"{option} {key!r}: missing '=' (expected NAME=VALUE)")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UsageError(f"{option} {key!r}=...: NAME must be letters, digits and '_', not starting with a digit")
        if "\0" in text:
            raise UsageError(f"{option} {key}: values cannot contain NUL")
        result[key] = text
    REDACTOR.remember_env(result)
    return result


def parse_matrix(values: Sequence[str]) -> list[dict[str, str]]:
    """`--matrix K=a,b --matrix L=x,y` -> the cartesian product as env overrides."""
    axes = []
    for key, text in parse_assignments(values, "--matrix").items():
        options = text.split(",")
        if not all(options):
            raise UsageError(f"--matrix {key}={text}: expected comma-separated non-empty values")
        axes.append([(key, v) for v in dict.fromkeys(options)])
    return [dict(combo) for combo in itertools.product(*axes)] if axes else [{}]


def _run_name(base: str, combination: Mapping[str, str]) -> str:
    """Matrix runs are named after their values: train-run-20261126-101500-xgb-3."""
    if not combination:
        return base
    suffix = "-".join(combination.values())
    return f"{base}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', suffix)}"


def plan_runs(
    job: JobState, *, env: Mapping[str, str], args: Sequence[str] | None, append_args: Sequence[str] = (),
    matrix: Sequence[str] = (), name: str | None = None, idempotency_key: str | None = None,
    now: datetime | None = None,
) -> list[RunRequest]:
    """The runs to start: job env + overrides (OCI replaces the job's env, so we merge here)."""
    assert job.definition is not None
    when = now or datetime.now(timezone.utc)
    base_env = dict(job.definition.env)
    final_args = tuple(args) if args is not None else job.definition.args
    final_args = (*final_args, *append_args)
    combos = parse_matrix(matrix)
    # A retried CI step must send the same request: with an idempotency key the name cannot hold the time.
    base_name = name or (f"{job.name}-{re.sub(r'[^A-Za-z0-9_.-]+', '_', idempotency_key)[:64]}" if idempotency_key
                         else f"{job.name}-run-{when:%Y%m%d-%H%M%S}")
    requests = []
    for combo in combos:
        overrides = {**env, **combo}
        token = retry_token(idempotency_key, job.id, *sorted(f"{k}={v}" for k, v in combo.items())) \
            if idempotency_key else None
        requests.append(RunRequest(
            _run_name(base_name, combo), {**base_env, **overrides}, final_args,
            overrides, token,
        ))
    return requests


class _Starts:
    """Which starts may still begin, and how many are under way: an interrupt stops new ones and waits
    for those under way, whatever the thread pool was doing (even starting a thread) when it landed."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.stopped = False
        self.under_way = 0

    def begin(self) -> bool:
        with self.condition:
            if self.stopped:
                return False
            self.under_way += 1
            return True

    def end(self) -> None:
        with self.condition:
            self.under_way -= 1
            self.condition.notify_all()

    def stop_and_drain(self) -> None:
        """Stop, then wait for the starts under way; a second Ctrl-C meanwhile must not cut the wait short,
        or a run would start unreported."""
        with self.condition:
            self.stopped = True
            while self.under_way:
                try:
                    self.condition.wait()
                except KeyboardInterrupt:
                    continue


def start_runs(
    backend: Backend, job: JobState, requests: Sequence[RunRequest], *, max_parallel: int = 8,
    on_started: Callable[[RunState], None] | None = None,
) -> list[RunState]:
    """Start every request with at most `max_parallel` calls in flight; results keep request order.

    The calls run in worker threads, so an interrupt (Ctrl-C, SIGTERM made KeyboardInterrupt) reaches
    this thread while they are in flight: no new start begins, the ones under way finish (so
    `on_started` has seen every run that exists), and the interrupt propagates.
    """
    starts = _Starts()

    def start(request: RunRequest) -> RunState | None:
        if not starts.begin():
            return None
        try:
            run = backend.start_run(
                job_id=job.id, name=request.name, env=request.env, args=request.args,
                retry_token=request.retry_token,
            )
            if on_started:
                on_started(run)
            return run
        finally:
            starts.end()

    pool = ThreadPoolExecutor(max_workers=max(1, min(max_parallel, len(requests))))
    try:
        futures = [pool.submit(start, request) for request in requests]
        started = [future.result() for future in futures]
    except BaseException:
        starts.stop_and_drain()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [run for run in started if run is not None]


def cancel_runs(
    backend: Backend, runs: Sequence[RunState], *, on_canceled: Callable[[RunState], None] | None = None,
) -> tuple[list[RunState], list[tuple[RunState, JobctlError]]]:
    """Cancel every run, going on past one that fails; (runs as they are now, failures). A run that
    ended meanwhile is no failure: the backend returns it as it ended."""
    done: list[RunState] = []
    failed: list[tuple[RunState, JobctlError]] = []
    for run in runs:
        try:
            now = backend.cancel_run(run_id=run.id)
        except JobctlError as exc:
            failed.append((run, exc))
            continue
        done.append(now)
        if on_canceled:
            on_canceled(now)
    return done, failed


# --- waiting and following --------------------------------------------------------------------------

def run_exit_code(run: RunState) -> ExitCode:
    if run.state == SUCCEEDED:
        return ExitCode.OK
    if run.state == CANCELED:
        return ExitCode.CANCELED
    if run.state == FAILED:
        return ExitCode.ERROR
    return ExitCode.ERROR


def worst_exit_code(runs: Sequence[RunState]) -> ExitCode:
    """0 only if all succeeded; otherwise the most severe code among them."""
    codes = [run_exit_code(r) for r in runs]
    failures = [c for c in codes if c != ExitCode.OK]
    if not failures:
        return ExitCode.OK
    return ExitCode.ERROR if ExitCode.ERROR in failures else max(failures)


def poll_interval(backend: Backend) -> float:
    return float(getattr(backend, "poll_interval", 1.0))


def wait_for_runs(
    backend: Backend, run_ids: Sequence[str], *, timeout: float | None = None,
    on_change: Callable[[RunState], None] | None = None, clock: Clock = time.monotonic, sleep: Sleep = time.sleep,
) -> list[RunState]:
    """Block until every run is terminal; raises WaitTimeoutError after `timeout` seconds."""
    deadline = None if timeout is None else clock() + timeout
    interval = max(poll_interval(backend), 0.1) if poll_interval(backend) else 0.0
    latest: dict[str, RunState] = {}
    while True:
        for run_id in run_ids:
            if run_id in latest and latest[run_id].terminal:
                continue
            run = backend.get_run(run_id=run_id)
            if on_change and (run_id not in latest or latest[run_id].state != run.state):
                on_change(run)
            latest[run_id] = run
        if all(latest[r].terminal for r in run_ids):
            return [latest[r] for r in run_ids]
        if deadline is not None and clock() >= deadline:
            pending = [r for r in run_ids if not latest[r].terminal]
            raise WaitTimeoutError(
                f"timed out waiting for {len(pending)} run(s): {', '.join(pending)}",
                hint="the runs keep going; `jobctl wait` them again or `jobctl cancel` them",
            )
        sleep(interval)


@dataclass(frozen=True)
class LogEvent:
    run_id: str
    line: LogLine | None = None
    run: RunState | None = None  # a state change


def follow_logs(
    backend: Backend, run_ids: Sequence[str], *, cursors: Mapping[str, str | None] | None = None,
    follow: bool = True, sleep: Sleep = time.sleep, clock: Clock = time.monotonic, timeout: float | None = None,
) -> Iterator[LogEvent]:
    """Each log line of each run once, in order per run; with `follow`, until every run is over and drained."""
    interval = poll_interval(backend)
    deadline = None if timeout is None else clock() + timeout
    positions: dict[str, str | None] = {r: (cursors or {}).get(r) for r in run_ids}
    states: dict[str, str] = {}
    done: set[str] = set()
    idle = 0
    while len(done) < len(run_ids):
        progressed = False
        for run_id in run_ids:
            if run_id in done:
                continue
            batch = backend.read_logs(run_id=run_id, cursor=positions[run_id])
            positions[run_id] = batch.cursor
            for line in batch.lines:
                yield LogEvent(run_id, line=line)
            progressed = progressed or bool(batch.lines)
            if not follow:
                done.add(run_id)
                continue
            if batch.complete or not batch.lines:
                run = backend.get_run(run_id=run_id)
                if states.get(run_id) != run.state:
                    states[run_id] = run.state
                    yield LogEvent(run_id, run=run)
            if batch.complete:
                done.add(run_id)
        if len(done) == len(run_ids) or progressed:
            idle = 0
            continue
        if deadline is not None and clock() >= deadline:
            raise WaitTimeoutError(
                f"timed out following {len(run_ids) - len(done)} run(s)",
                hint="the runs keep going; `jobctl logs RUN --follow` reattaches",
            )
        idle += 1
        sleep(interval * min(idle, 2))

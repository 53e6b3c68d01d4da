"""Waiting for runs and following their logs; exit codes that mirror the runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import NamedTuple

from jobctl.backends.base import Backend
from jobctl.errors import ExitCode, NeedsAttentionError, WaitTimeoutError
from jobctl.model.job import CANCELED, FAILED, NEEDS_ATTENTION, SUCCEEDED, LogLine, RunState

Clock = Callable[[], float]
Sleep = Callable[[float], None]


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


class _Attention:
    """Since when each run needs attention (NEEDS_ATTENTION): OCI does not end such a run by itself."""

    def __init__(self, limit: float | None, clock: Clock) -> None:
        self.limit, self.clock = limit, clock
        self.since: dict[str, tuple[float, RunState]] = {}

    def saw(self, run: RunState) -> None:
        if run.state == NEEDS_ATTENTION:
            self.since[run.id] = (self.since.get(run.id, (self.clock(), run))[0], run)
        else:
            self.since.pop(run.id, None)

    def check(self, pending: Sequence[str]) -> None:
        """Raise once every run in `pending` has needed attention for the limit."""
        if self.limit is None or not pending or not all(
                r in self.since and self.clock() - self.since[r][0] >= self.limit for r in pending):
            return
        runs = [self.since[r][1] for r in pending]
        said = "; ".join(f"{r.name} ({r.id}): {r.details or 'no details given'}" for r in runs)
        raise NeedsAttentionError(
            f"{len(runs)} run(s) have needed attention for {self.limit:g} s: {said}",
            hint="they are not canceled: look at them in the OCI console, or `jobctl cancel` them "
                 "(JOBCTL_ATTENTION_TIMEOUT sets how long wait waits on them)")


def poll_interval(backend: Backend) -> float:
    return backend.poll_interval


def pauser(backend: Backend, sleep: Sleep | None, until_end: bool = False) -> Callable[[Sequence[str], float], None]:
    """How a wait pauses between reads of the runs still going: the backend's pause (which may end as one of
    them ends; `until_end`: a wait for their end, not for their logs), or the `sleep` a test gives."""
    if sleep is None:
        return lambda run_ids, seconds: backend.pause(run_ids=run_ids, seconds=seconds, until_end=until_end)
    return lambda run_ids, seconds: sleep(seconds)


def wait_for_runs(
    backend: Backend, run_ids: Sequence[str], *, timeout: float | None = None,
    on_change: Callable[[RunState], None] | None = None, clock: Clock = time.monotonic, sleep: Sleep | None = None,
    attention_timeout: float | None = None,
) -> list[RunState]:
    """Block until every run is terminal; raises WaitTimeoutError after `timeout` seconds, and
    NeedsAttentionError once every run still going has been NEEDS_ATTENTION for `attention_timeout`
    seconds (OCI does not end such a run by itself: it waits for someone to look)."""
    deadline = None if timeout is None else clock() + timeout
    interval, pause = poll_interval(backend), pauser(backend, sleep, until_end=True)
    latest: dict[str, RunState] = {}
    attention = _Attention(attention_timeout, clock)
    while True:
        for run in backend.get_runs(run_ids=[r for r in run_ids if r not in latest or not latest[r].terminal]):
            if on_change and (run.id not in latest or latest[run.id].state != run.state):
                on_change(run)
            latest[run.id] = run
            attention.saw(run)
        if all(latest[r].terminal for r in run_ids):
            return [latest[r] for r in run_ids]
        pending = [latest[r] for r in run_ids if not latest[r].terminal]
        attention.check([r.id for r in pending])
        if deadline is not None and clock() >= deadline:
            raise WaitTimeoutError(
                f"timed out waiting for {len(pending)} run(s): {', '.join(r.id for r in pending)}",
                hint="the runs keep going; `jobctl wait` them again or `jobctl cancel` them",
            )
        pause([r.id for r in pending], interval)


class LogEvent(NamedTuple):
    run_id: str
    line: LogLine | None = None
    run: RunState | None = None  # a state change


def follow_logs(
    backend: Backend, run_ids: Sequence[str], *, cursors: Mapping[str, str | None] | None = None,
    follow: bool = True, sleep: Sleep | None = None, clock: Clock = time.monotonic, timeout: float | None = None,
    attention_timeout: float | None = None,
) -> Iterator[LogEvent]:
    """Each log line of each run once, in order per run; with `follow`, until every run is over and
    drained (or, as `wait_for_runs` says, every one left has needed attention for `attention_timeout`)."""
    interval, pause = poll_interval(backend), pauser(backend, sleep)
    deadline = None if timeout is None else clock() + timeout
    positions: dict[str, str | None] = {r: (cursors or {}).get(r) for r in run_ids}
    states: dict[str, str] = {}
    attention = _Attention(attention_timeout, clock)
    done: set[str] = set()
    idle = 0
    while len(done) < len(run_ids):
        progressed = backlog = False
        for run_id in run_ids:
            if run_id in done:
                continue
            batch = backend.read_logs(run_id=run_id, cursor=positions[run_id])
            positions[run_id] = batch.cursor
            for line in batch.lines:
                yield LogEvent(run_id, line=line)
            progressed = progressed or bool(batch.lines)
            backlog = backlog or (bool(batch.lines) and not batch.drained)
            if not follow:
                done.add(run_id)
                continue
            if batch.complete or not batch.lines:
                run = batch.run or backend.get_run(run_id=run_id)
                attention.saw(run)
                if states.get(run_id) != run.state:
                    states[run_id] = run.state
                    yield LogEvent(run_id, run=run)
            if batch.complete:
                done.add(run_id)
        if len(done) == len(run_ids) or backlog:  # lines may be waiting: read again at once
            idle = 0
            continue
        if progressed:  # every log read to its end: wait as when idle (each wake-up costs the most CPU of a follow)
            idle = 1
        attention.check([r for r in run_ids if r not in done])
        if deadline is not None and clock() >= deadline:
            raise WaitTimeoutError(
                f"timed out following {len(run_ids) - len(done)} run(s)",
                hint="the runs keep going; `jobctl logs RUN --follow` reattaches",
            )
        idle += 1
        pause([r for r in run_ids if r not in done], interval * min(idle, 2))

"""Plan and apply: observe what a backend holds, diff it with the specs, execute exactly that plan."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

from jobctl.backends.base import Backend
from jobctl.engine.inflight import InFlight
from jobctl.errors import ConflictError, Diagnostic, SpecError, UsageError
from jobctl.model.job import ACTIVE_STATES, TAG_SUPERSEDED, JobDefinition, JobState
from jobctl.model.request import retry_token
from jobctl.model.table import rows, set_fields
from jobctl.plan.desired import DesiredJob
from jobctl.plan.diff import diff
from jobctl.plan.generations import current_jobs, earlier_generation
from jobctl.plan.model import COUNTED_RUNS, Action, Change, Plan

T = TypeVar("T")
R = TypeVar("R")


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
    adopt: bool = False, prune_history: bool = False, set_name: str | None = None,
) -> Plan:
    """Compare desired jobs with what the backend holds. GETs only jobs whose hash differs (or all with refresh)."""
    _check_required(backend, desired)
    observed = observe(backend, desired)
    hashes = {d.name: d.spec_hash for d in desired}
    need_definition = [  # and FAILED ones, for the service's reason (a listing has none)
        j for j in observed
        if j.managed_name in hashes and not j.superseded and (j.lifecycle_state == "FAILED" or (
            j.lifecycle_state == "ACTIVE" and (refresh or j.spec_hash != hashes[j.managed_name])))
    ]
    fetched = {job.id: job for job in in_parallel(lambda j: backend.get_job(job_id=j.id), need_definition)}
    observed = [fetched.get(j.id, j) for j in observed]
    current, _ = current_jobs(observed)
    # a name whose current job was applied from another set is that set's, earlier generations included
    elsewhere = {name for name, job in current.items() if job.set_name != set_name}
    candidates = [
        j for j in observed
        if earlier_generation(j, current)
        and (prune_history if j.managed_name in hashes else prune and j.set_name == set_name
             and j.managed_name not in elsewhere)
    ]
    busy = in_parallel(lambda j: bool(backend.list_runs(job_id=j.id, states=ACTIVE_STATES, limit=1)), candidates)
    retire = [job for job, running in zip(candidates, busy, strict=True) if not running]
    adoptable = {}
    if adopt:  # unmanaged jobs whose display name is a wanted one, with no managed job of that name
        from jobctl.export import observe_for_adoption

        managed_names = {j.managed_name for j in observed if j.managed_name}
        wanted_as = {d.definition.display_name: d.name for d in desired}
        for job in observed:
            name = wanted_as.get(job.name)
            if (name is not None and not job.managed and job.lifecycle_state == "ACTIVE"
                    and name not in managed_names and name not in adoptable):
                adoptable[name] = observe_for_adoption(backend, job)
    # what a spec names by other than an id is looked up for the jobs diffed or created, not the unchanged
    desired = [want if not refresh and _unchanged(want, current.get(want.name)) else want.replace(
        definition=backend.resolve_definition(definition=want.definition, where=want.spec.site))
        for want in desired]
    plan = diff(desired, observed, prune=prune, retire=retire, adoptable=adoptable, set_name=set_name)
    changes = in_parallel(lambda c: _artifact_files(backend, _count_runs(backend, c)), plan.changes)
    return plan.replace(changes=tuple(changes),
                        known_job_ids=frozenset(job.id for job in observed),
                        ignored=ignored_fields(desired) if backend.runs_here else ())


ARTIFACT_FILES_LIMIT = 64 * 1024**2  # a larger artifact is not downloaded by a plan to list its changed files


def _artifact_files(backend: Backend, change: Change) -> Change:
    """A changed artifact says which files changed: the held one is read (downloaded, on OCI) and compared
    file by file with the one the spec builds."""
    want = change.desired.artifact if change.desired else None
    if (want is None or change.observed is None or want.size > ARTIFACT_FILES_LIMIT
            or not any(f.field == "artifact" for f in change.fields)):
        return change
    import tempfile
    from pathlib import Path

    from jobctl.artifact import changed_files, file_digests

    with tempfile.TemporaryDirectory(prefix="jobctl-plan-") as folder:
        held = backend.download_artifact(job_id=change.observed.id, directory=Path(folder))
        if held is None or held.stat().st_size > ARTIFACT_FILES_LIMIT:
            return change
        return change.replace(artifact_files=changed_files(file_digests(held), want))


def _count_runs(backend: Backend, change: Change) -> Change:
    """A delete says how many runs it takes with it (or, when it keeps the job for them, keeps)."""
    if change.action is not Action.DELETE or change.observed is None:
        return change
    runs = backend.list_runs(job_id=change.observed.id, limit=COUNTED_RUNS + 1)
    active = len(backend.list_runs(job_id=change.observed.id, states=ACTIVE_STATES)) if any(
        r.state in ACTIVE_STATES for r in runs) or len(runs) > COUNTED_RUNS else 0
    return change.replace(runs=len(runs), active_runs=active)


def _unchanged(want: DesiredJob, job: JobState | None) -> bool:
    return job is not None and job.lifecycle_state == "ACTIVE" and job.spec_hash == want.spec_hash


def _check_required(backend: Backend, desired: Sequence[DesiredJob]) -> None:
    """Fields this backend needs that a spec leaves out: said by plan, before an apply creates anything."""
    needed = [row for row in rows(JobDefinition) if row.path in backend.required_fields]
    problems: list[Diagnostic] = []
    lacking: set[str] = set()
    for want in desired:
        missing = [row.path for row in needed if not getattr(want.definition, row.attr)]
        if missing:
            origin = want.spec.origin
            problems.append(Diagnostic(origin.file if origin else want.name, origin.line if origin else 1, 1, "spec",
                                       f"job {want.name!r} needs {' and '.join(missing)} on this backend"))
            lacking.update(path.rsplit(".", 1)[1] for path in missing)
    if problems:
        raise SpecError(problems, hint=f"set {' and '.join(sorted(lacking))} in the spec, or pass --compartment-id "
                                       "/ --project-id (or set OCI_COMPARTMENT_ID / OCI_PROJECT_ID)")


def ignored_fields(desired: Sequence[DesiredJob]) -> tuple[str, ...]:
    """The fields some desired job sets that only OCI can honour, in table order."""
    found = {row.shown for want in desired for row in set_fields(want.definition) if row.ignored_locally}
    return tuple(row.shown for row in rows(JobDefinition) if row.shown in found)


class AppliedChange(NamedTuple):
    change: Change
    job_id: str | None
    outcome: str  # "created", "updated", "replaced", "deleted", "superseded"
    retired: str | None = None  # for a replace: what became of the old job ("deleted", "superseded", "kept")


MAX_IN_FLIGHT = 8  # calls (jobs an apply changes, jobs a plan reads) at once


def in_parallel(call: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """call(item) for each item, at most MAX_IN_FLIGHT at once; results in the items' order."""
    if len(items) < 2:
        return [call(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor  # (with logging) only once there is something to overlap

    with ThreadPoolExecutor(max_workers=min(MAX_IN_FLIGHT, len(items))) as pool:
        return list(pool.map(call, items))


def apply_plan(
    backend: Backend, plan: Plan, *, on_change: Callable[[AppliedChange], None] | None = None,
    max_in_flight: int = MAX_IN_FLIGHT, on_interrupt: Callable[[], None] | None = None,
) -> list[AppliedChange]:
    """Execute exactly `plan`. Active runs are never killed: busy old jobs are tagged superseded.

    Changes of different jobs run at once (at most `max_in_flight`); the changes of one name run in plan
    order, and `on_change` hears every result in plan order. After a failure (or an interrupt) no other
    change starts, the ones under way finish, and the first failure is raised."""
    from concurrent.futures import ThreadPoolExecutor, as_completed

    groups: dict[str, list[int]] = {}
    for index, change in enumerate(plan.changes):
        groups.setdefault(change.name, []).append(index)
    results: list[AppliedChange | None] = [None] * len(plan.changes)
    reported = 0
    lock = threading.Lock()
    changes = InFlight()

    def apply_group(indexes: list[int]) -> None:
        nonlocal reported
        for index in indexes:
            if not changes.begin():
                return
            try:
                results[index] = _apply_change(backend, plan.changes[index], plan.known_job_ids)
            finally:
                changes.end()
            with lock:  # report every result whose predecessors are all reported
                while reported < len(results) and (done := results[reported]) is not None:
                    if on_change:
                        on_change(done)
                    reported += 1

    pool = ThreadPoolExecutor(max_workers=max(1, min(max_in_flight, len(groups))))
    failures: list[BaseException] = []
    try:
        futures = [pool.submit(apply_group, indexes) for indexes in groups.values()]
        for future in as_completed(futures):
            try:
                future.result()
            except Exception as exc:  # the others under way finish; nothing new starts
                changes.stop()
                failures.append(exc)
    except BaseException as exc:
        changes.stop()
        if isinstance(exc, KeyboardInterrupt) and on_interrupt:
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C must not skip the wait
                on_interrupt()  # said before the wait for the changes under way, which can take seconds
        changes.drain()  # also those of a worker the interrupt caught being started, unknown to the pool
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if on_change:  # what was done after a change that failed is reported too
            for done in results[reported:]:
                if done is not None:
                    on_change(done)
    if failures:
        raise failures[0]
    return [result for result in results if result is not None]


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
        return AppliedChange(change, job.id, "replaced", retired=_retire(backend, have, keep_runs=True))
    assert have is not None
    return AppliedChange(change, have.id, _retire(backend, have, keep_runs=change.keeps_runs))


RIVAL_STATES = ("CREATING", "ACTIVE")  # a FAILED job made by another apply does not win a name


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
        and job.lifecycle_state in RIVAL_STATES
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


def _retire(backend: Backend, job: JobState, *, keep_runs: bool) -> str:
    """Delete a job that is no longer wanted, or keep it, tagged superseded: while it has active runs
    (never killed), and with `keep_runs` while it has any runs (an apply never loses run history;
    docs/decisions/0010-run-history.md). A FAILED job with runs cannot be re-tagged: it is kept as it is,
    an earlier generation because a newer job has its name."""
    active = backend.list_runs(job_id=job.id, states=ACTIVE_STATES, limit=1)
    if active or (keep_runs and backend.list_runs(job_id=job.id, limit=1)):
        if job.lifecycle_state != "ACTIVE":  # FAILED: OCI cannot re-tag it; a newer job of its name says it is older
            return "kept"
        current = backend.get_job(job_id=job.id)
        assert current.definition is not None
        tags = {**current.tags, TAG_SUPERSEDED: "true"}
        backend.update_job(job_id=job.id, definition=current.definition.with_tags(tags), etag=current.etag)
        return "superseded"
    backend.delete_job(job_id=job.id)
    return "deleted"


def check_deletable(backend: Backend, jobs: Sequence[JobState], *, force: bool) -> None:
    """Refuse, before anything changes, to delete a job jobctl does not manage or one with active runs."""
    for job in jobs:
        if not job.managed and not force:
            raise UsageError(f"job {job.name!r} ({job.id}) is not managed by jobctl", hint="pass --force to delete it")
        active = backend.list_runs(job_id=job.id, states=ACTIVE_STATES)
        if active and not force:
            raise ConflictError(
                f"job {job.name!r} has {len(active)} active run(s)",
                hint="cancel them (`jobctl cancel --job NAME`) or pass --force",
            )


def delete_jobs(backend: Backend, jobs: Sequence[JobState], *, on_deleted: Callable[[JobState], None]) -> None:
    """Delete each job, first canceling its active runs and waiting for them to end."""
    from jobctl.engine.follow import wait_for_runs

    for job in jobs:
        active = backend.list_runs(job_id=job.id, states=ACTIVE_STATES)
        for run in active:
            backend.cancel_run(run_id=run.id)
        if active:
            wait_for_runs(backend, [r.id for r in active])
        backend.delete_job(job_id=job.id)
        on_deleted(job)

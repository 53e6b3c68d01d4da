"""Finding jobs and runs by name, id or unique id prefix."""

from __future__ import annotations

from jobctl.backends.base import Backend
from jobctl.errors import NotFoundError, UsageError
from jobctl.model.job import JobState, RunState


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

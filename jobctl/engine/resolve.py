"""Finding jobs and runs by name, id or unique id prefix."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from jobctl.backends.base import Backend
from jobctl.errors import ConflictError, JobctlError, NotFoundError, UsageError
from jobctl.model.state import DATAFLOW_APPLICATION, LIVE_JOB_STATES, TAG_SUPERSEDED, JobState, RunState

if TYPE_CHECKING:
    from jobctl.model.application import ApplicationDefinition


def _given(ref: str, what: str) -> str:
    """A reference as typed; a blank one (`jobctl delete "$JOB"` with JOB unset) would match every id by
    prefix, so it is a usage error, never a match."""
    if not ref.strip():
        raise UsageError(f"an empty {what} name or id", hint=f"name the {what}; list them with `jobctl {what}s`")
    return ref


def _named(jobs: Sequence[JobState], ref: str) -> list[JobState]:
    exact = [j for j in jobs if j.id == ref] or [
        j for j in jobs if (j.managed_name == ref and not j.superseded)
    ] or [j for j in jobs if j.name == ref and not j.superseded]
    return exact or [j for j in jobs if j.id.startswith(ref)]


def live_jobs(backend: Backend, compartment_id: str | None = None, project_id: str | None = None) -> list[JobState]:
    return [j for j in backend.list_jobs(compartment_id=compartment_id, project_id=project_id)
            if j.lifecycle_state in LIVE_JOB_STATES]


def _match(listed: Sequence[JobState], ref: str) -> JobState:
    """The listed job `ref` means. A name means its current job; with none (pruned while an earlier
    generation still runs), its newest generation."""
    _given(ref, "job")
    matches = _named(listed, ref) or sorted(
        (j for j in listed if j.managed_name == ref and j.superseded), key=lambda j: j.created, reverse=True)[:1]
    if not matches:
        raise NotFoundError(
            f"no job named {ref!r}", hint="create it with `jobctl apply SPEC`; list jobs with `jobctl jobs`",
        )
    if len(matches) > 1 and len({j.managed_name for j in matches}) == 1 and matches[0].managed_name:
        # one name's jobs left by an interrupted replace: the one that runs (until the next apply settles it)
        matches = sorted(matches, key=lambda j: (j.lifecycle_state == "ACTIVE", j.created), reverse=True)[:1]
    if len(matches) > 1:
        shown = ", ".join(f"{j.id} ({j.name})" for j in matches[:10])
        raise UsageError(f"{ref!r} matches {len(matches)} jobs: {shown}", hint="give the full job id")
    return matches[0]


def _by_id(backend: Backend, ref: str) -> JobState | None:
    """A full OCI job OCID names one job wherever it is: read it, rather than look for it in a listing of
    the default compartment (where it may not be)."""
    if not ref.startswith("ocid1.datasciencejob."):
        return None
    try:
        job = backend.get_job(job_id=ref)
    except NotFoundError:
        return None
    return job if job.lifecycle_state in LIVE_JOB_STATES else None


def resolve_job(backend: Backend, ref: str, *, compartment_id: str | None = None,
                project_id: str | None = None, runnable: bool = False,
                listed: Callable[[], Sequence[JobState]] | None = None) -> JobState:
    """A job by id, managed name, display name, or unique id prefix (in the backend's default scope, or
    in this compartment and project; `listed`: that scope's live jobs, when the caller has them), read in
    full. `runnable`: the job must be able to start runs."""
    job = _by_id(backend, ref) or backend.get_job(
        job_id=_match(listed() if listed else live_jobs(backend, compartment_id, project_id), ref).id)
    if runnable and job.lifecycle_state != "ACTIVE":  # CREATING (its artifact never came) or FAILED
        why = ("its artifact was never uploaded (an apply did not finish)" if job.lifecycle_state == "CREATING"
               else job.details or "the service gave no reason")
        raise ConflictError(f"job {ref!r} ({job.id}) is {job.lifecycle_state}: {why}",
                            hint="run `jobctl apply` on its spec (with --yes where no one can confirm): the plan "
                                 "replaces it")
    if runnable and job.superseded:
        raise ConflictError(f"job {job.id} is an earlier generation of {job.managed_name!r}, kept for its runs",
                            hint=f"run the current job: `jobctl run {job.managed_name}` (if --prune removed it, "
                                 "apply its spec again)")
    return job


def applied_env(backend: Callable[[], Backend]) -> Callable[[str], set[str] | None]:
    """For a workflow's check: the env names of an applied job (or Data Flow application) by name, None when
    there is none. The backend
    is made on the first lookup, so files that name only their own jobs never reach it."""

    def lookup(name: str) -> set[str] | None:
        try:
            job = resolve_job(backend(), name)
        except NotFoundError:
            from jobctl.spec.load import driver_env_names
            from jobctl.workflow.check import ApplicationEnv

            application = resolve_application(backend(), name)  # a Data Flow application's step
            return ApplicationEnv(driver_env_names(application[1].configuration)) if application else None
        except UsageError:
            return None
        return set((job.definition.env if job.definition else {}) or {})

    return lookup


def resolve_run(backend: Backend, ref: str, *, job_id: str | None = None) -> RunState:
    """A run by id, name or unique id prefix."""
    _given(ref, "run")
    try:
        return backend.get_run(run_id=ref)
    except NotFoundError:
        pass
    matches = backend.find_runs(ref, job_id=job_id)
    if not matches:
        raise NotFoundError(f"no run {ref!r}", hint="list runs with `jobctl runs`")
    if len(matches) > 1:
        listed = ", ".join(f"{r.id} ({r.name})" for r in matches[:10])
        count = f"{len(matches)}" if len(matches) <= 10 else "more than 10"
        raise UsageError(f"{ref!r} matches {count} runs: {listed}", hint="give the full run id")
    return matches[0]


def _generations_in(job: JobState, listed: Sequence[JobState]) -> list[JobState]:
    earlier = [j for j in listed if j.managed_name and j.managed_name == job.managed_name and j.id != job.id]
    return [job, *sorted(earlier, key=lambda j: j.created, reverse=True)]


def generations(backend: Backend, job: JobState) -> list[JobState]:
    """The job and the earlier generations of its name (jobs an apply replaced, kept with their runs),
    newest first, from the job's own compartment and project: what `runs`, `logs`, `wait`, `cancel --job`
    and `delete` span."""
    if not job.managed_name:
        return [job]
    scope = job.definition
    return _generations_in(job, live_jobs(backend, scope.compartment_id if scope else None,
                                           scope.project_id if scope else None))


def runs_of(backend: Backend, jobs: Sequence[JobState] | Sequence[str], *, states: Collection[str] | None = None,
            limit: int | None = None) -> list[RunState]:
    """The runs of these jobs (or of the jobs or applications with these ids), newest first."""
    ids = [job if isinstance(job, str) else job.id for job in jobs]
    found = [run for job_id in ids for run in backend.list_runs(job_id=job_id, states=states, limit=limit)]
    if len(ids) > 1:
        found.sort(key=lambda r: r.created, reverse=True)
    return found[:limit] if limit else found


def runs_of_name(backend: Backend, ref: str, *, states: Collection[str] | None = None,
                 limit: int | None = None) -> list[RunState]:
    """The runs of job `ref` and of its earlier generations, newest first; with no such job, of the Data Flow
    application `ref` and its earlier generations."""
    return runs_of(backend, ids_of_name(backend, ref), states=states, limit=limit)


def ids_of_name(backend: Backend, ref: str) -> list[str]:
    """The ids of job `ref` and of its earlier generations, newest first (one listing of the jobs); with no
    such job, of the Data Flow application `ref` and its earlier generations."""
    found = _by_id(backend, ref)
    if found is not None:
        return [job.id for job in generations(backend, found)]
    listed = live_jobs(backend)
    try:
        return [job.id for job in _generations_in(_match(listed, ref), listed)]
    except NotFoundError as missing:
        applications = application_generations(backend, ref)
        if not applications:
            raise neither(backend, missing) from None
        return applications


def application_generations(backend: Backend, ref: str) -> list[str]:
    """The ids of the Data Flow application `ref` (an id, or a name: looked for in the default compartment on
    OCI): the current one first, then its earlier generations (applications an apply replaced, kept with
    their runs), newest first; none when the backend has no such application (or no Data Flow to ask)."""
    from jobctl.model.state import TAG_NAME, TAG_SUPERSEDED, split_tags

    held = getattr(backend, "dataflow", None)
    if held is None or (ref.startswith("ocid1.") and not ref.startswith(DATAFLOW_APPLICATION)):
        return []
    try:
        if ref.startswith("ocid1."):  # an OCID names one application wherever it is
            held.read(ref)
            return [ref]
    except JobctlError:  # none of that id: perhaps the start of one (a prefix, below)
        pass
    try:
        listed = held.listed([])
    except JobctlError:  # no Data Flow here (no access): the job not found is the news
        return []
    named = [(split_tags(tags)[1].get(TAG_SUPERSEDED) == "true", app_id) for app_id, tags in reversed(listed)
             if app_id == ref or split_tags(tags)[1].get(TAG_NAME) == ref]
    if not named:  # a unique id prefix, as for jobs and runs
        prefixed = [app_id for app_id, _ in listed if app_id.startswith(ref)]
        if len(prefixed) > 1:
            raise UsageError(f"{ref!r} matches {len(prefixed)} applications: {', '.join(prefixed[:10])}",
                             hint="give more of the id")
        return prefixed
    return [app_id for _, app_id in sorted(named, key=lambda item: item[0])]  # stable: newest first in each


def resolve_application(backend: Backend, ref: str) -> tuple[str, ApplicationDefinition] | None:
    """The Data Flow application `ref` names, current (not an earlier generation), read in full: what a run of
    it starts from (`run NAME`, a workflow step) when no job has the name. None when there is none."""
    for application_id in application_generations(backend, ref)[:1]:
        _, definition, _ = backend.dataflow.read(application_id)  # type: ignore[attr-defined]
        if definition.owner_tags.get(TAG_SUPERSEDED) != "true" or application_id == ref:
            return application_id, definition
    return None


def neither(backend: Backend, missing: NotFoundError) -> NotFoundError:
    """A job not found, said of applications too where the backend holds them."""
    if getattr(backend, "dataflow", None) is None:
        return missing
    where = backend.spec_defaults().get("spec.compartmentId")
    return NotFoundError(f"{missing.message}, nor a Data Flow application" + (
        f" in compartment {where}" if where else ""), hint=missing.hint)


def latest_run(backend: Backend, job: JobState) -> RunState:
    runs = runs_of(backend, generations(backend, job), limit=1)
    if not runs:
        raise NotFoundError(f"job {job.name!r} has no runs", hint=f"start one with `jobctl run {job.name}`")
    return runs[0]

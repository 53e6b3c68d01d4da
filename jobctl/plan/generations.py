"""Generations of a job name: the current job, and those an apply replaced and kept for their runs.

Apart from the diff (jobctl.plan.diff) so that listing jobs does not load the plan's types.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from jobctl.model.state import LIVE_JOB_STATES, JobState


def current_jobs(observed: Sequence[JobState]) -> tuple[dict[str, JobState], list[JobState]]:
    """The managed, non-superseded job for each name, and older ones of the same name.

    Several can exist only when a replace was interrupted after creating the new job: the newest
    is current, the others are left-overs to retire. A job still CREATING (its artifact never came)
    or FAILED counts: the plan replaces it rather than leaving it behind, unseen. An older FAILED job is
    no left-over but an earlier generation (OCI cannot re-tag it): kept for its runs like a superseded one.
    """
    current: dict[str, JobState] = {}
    leftovers: list[JobState] = []
    for job in sorted(observed, key=lambda j: j.created):
        name = job.managed_name
        if name and not job.superseded and job.lifecycle_state in LIVE_JOB_STATES:
            if name in current and current[name].lifecycle_state != "FAILED":
                leftovers.append(current[name])
            current[name] = job
    return current, leftovers


def earlier_generations(listed: Sequence[JobState]) -> set[str]:
    """The ids of the listed jobs that are earlier generations of their name (superseded, or FAILED
    with a newer job of the name): what `jobs` hides without --history and `export --all` leaves out."""
    current, _ = current_jobs(listed)
    return {j.id for j in listed if j.superseded or earlier_generation(j, current)}


def earlier_generation(job: JobState, current: Mapping[str, JobState]) -> bool:
    """A job an apply replaced and kept for its runs: superseded, or FAILED with a newer job of its name."""
    name = job.managed_name
    if not name or job.lifecycle_state not in LIVE_JOB_STATES:
        return False
    return job.superseded or (job.lifecycle_state == "FAILED" and name in current and current[name].id != job.id)

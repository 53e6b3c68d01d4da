"""diff(desired, observed) -> Plan. Pure: no I/O; the engine fetches what the diff needs first.

What may change in place is the field table's `in_place` (OCI's UpdateJobDetails: name, description,
infrastructure, tags); any other difference replaces the job, and the plan names the field that
forces it. Every backend follows the same table, so a plan means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from jobctl.errors import ConflictError
from jobctl.model.job import TAG_SET, JobState
from jobctl.model.table import flatten, row_for, rows
from jobctl.plan.generations import current_jobs
from jobctl.plan.model import Action, Change, FieldChange, Plan

if TYPE_CHECKING:
    from jobctl.plan.desired import DesiredJob

# A job still waiting for its artifact, made from another version of the spec, may be another apply's,
# uploading right now: it is left alone for this long after its creation, then taken for the remains of
# an apply that stopped (and replaced). One made from the same spec is replaced at once: that is a rerun
# of the apply that stopped. Large artifacts upload for minutes; docs/decisions/0007-concurrent-applies.md.
UNFINISHED_GRACE = timedelta(minutes=15)


def _order(old: Any, new: Any) -> list[str]:
    """Every field of either side in table order; map entries together, sorted."""
    resource = type(old)
    rank = {row.shown: i for i, row in enumerate(rows(resource))}
    keys = {k for k, _ in flatten(old)} | {k for k, _ in flatten(new)}
    return sorted(keys, key=lambda k: (rank[row_for(resource, k).shown], k))


def field_changes(old: Any, new: Any) -> tuple[FieldChange, ...]:
    """What differs between two definitions of one resource kind (a job's, a Data Flow application's), by
    the kind's field table; each says whether it can change in place."""
    before = dict(flatten(old))
    after = dict(flatten(new))
    keys = _order(old, new)
    changes = []
    for key in keys:
        old_value, new_value = before.get(key), after.get(key)
        if old_value != new_value:
            row = row_for(type(old), key)
            in_place = row.changes_in_place(old) and row.changes_in_place(new)
            changes.append(FieldChange(key, old_value, new_value, forces_replace=not in_place))
    return tuple(changes)


def _cannot_change(forcing: Sequence[str]) -> str:
    """'a, b, c and 2 more cannot change in place': the fields that force a replace, kept short."""
    named = ", ".join(forcing[:3]) + (f" and {len(forcing) - 3} more" if len(forcing) > 3 else "")
    return f"{named} cannot change in place"


def _adopt(want: DesiredJob, have: JobState) -> Change:
    """Take over an unmanaged job: tag it in place, or replace it if it differs where OCI cannot update."""
    assert have.definition is not None
    fields = field_changes(have.definition, want.definition)
    forcing = [f.field for f in fields if f.forces_replace]
    if forcing:
        return Change(Action.REPLACE, want.name, fields, f"adopting it, but {_cannot_change(forcing)}", desired=want,
                      observed=have)
    return Change(Action.UPDATE, want.name, fields, "adopt: from now on managed by jobctl", desired=want, observed=have)


def _retag(have: JobState, want: DesiredJob) -> str | None:
    """Why a job whose content matches its spec still needs an in-place update of jobctl's tags."""
    if have.spec_hash != want.spec_hash:
        return "spec hash tag is stale"
    wanted_set = want.definition.owner_tags.get(TAG_SET)
    if have.set_name != wanted_set:
        return f"moves to set {wanted_set!r} (from {have.set_name!r})" if have.set_name else f"joins set {wanted_set!r}"
    return None


def _change(want: DesiredJob, have: JobState, now: datetime) -> Change | None:
    """What makes the managed job `have` match `want`; None when it already does."""
    if have.incomplete and have.intended_hash != want.spec_hash and now - have.created < UNFINISHED_GRACE:
        age = max(0, int((now - have.created).total_seconds()))
        raise ConflictError(
            f"job {want.name!r} ({have.id}) has been waiting for its artifact for {age} s: another apply, of "
            "another version of its spec, may be uploading it right now, so this one changes nothing",
            hint=f"if no other apply is running, `jobctl delete {want.name}` removes the unfinished job now; "
                 f"after {int(UNFINISHED_GRACE.total_seconds() // 60)} minutes, apply replaces it by itself",
        )
    if have.incomplete or have.lifecycle_state == "FAILED":
        reason = ("a previous apply did not finish uploading its artifact" if have.incomplete
                  else "the job is FAILED" + (f": {have.details}" if have.details else ""))
        return Change(Action.REPLACE, want.name, (), reason, desired=want, observed=have)
    fields: tuple[FieldChange, ...] = ()
    if have.spec_hash != want.spec_hash or have.definition is not None:
        if have.definition is None:
            raise ValueError(f"diff needs the definition of job {have.id} ({want.name})")
        fields = field_changes(have.definition, want.definition)
    if not fields:  # same content; jobctl's tags may still differ: re-tag in place
        retag = _retag(have, want)
        return Change(Action.UPDATE, want.name, (), retag, desired=want, observed=have) if retag else None
    forcing = [f.field for f in fields if f.forces_replace]
    if forcing:
        return Change(Action.REPLACE, want.name, fields, _cannot_change(forcing), desired=want, observed=have)
    return Change(Action.UPDATE, want.name, fields, None, desired=want, observed=have)


def diff(
    desired: Sequence[DesiredJob], observed: Sequence[JobState], *, prune: bool = False,
    retire: Sequence[JobState] = (), adoptable: Mapping[str, JobState] | None = None, set_name: str | None = None,
    now: datetime | None = None,
) -> Plan:
    """The changes that make `observed` match `desired`.

    `observed` jobs whose hash differs from the desired one must carry their definition.
    `retire`: superseded jobs whose runs have all ended, deleted by this plan.
    `adoptable`: unmanaged jobs (with definitions) to take over, by the name they are wanted under.
    `set_name`: the set the specs are applied from; --prune deletes only jobs of this set.
    `now`: the time against which an unfinished job's age is measured (UNFINISHED_GRACE).
    """
    current, leftovers = current_jobs(observed)
    unmanaged_names = {j.name for j in observed if not j.managed and j.lifecycle_state == "ACTIVE"}
    changes: list[Change] = []
    unchanged: list[str] = []
    warnings: list[str] = []
    for want in desired:
        have = current.get(want.name)
        if have is None and adoptable and want.name in adoptable:
            changes.append(_adopt(want, adoptable[want.name]))
        elif have is None:
            if want.definition.display_name in unmanaged_names:
                warnings.append(
                    f"a job named {want.definition.display_name!r} exists but is not managed by jobctl; it is left "
                    "alone and a managed job is created beside it"
                )
            changes.append(Change(Action.CREATE, want.name, reason="not found", desired=want))
        else:
            change = _change(want, have, now or datetime.now(timezone.utc))
            if change:
                changes.append(change)
            else:
                unchanged.append(want.name)
    wanted_names = {d.name for d in desired}
    if prune:
        others = unset = 0
        for name, job in sorted(current.items()):
            if name in wanted_names:
                continue
            if job.set_name != set_name:
                others += job.set_name is not None
                unset += job.set_name is None
                continue
            changes.append(Change(Action.DELETE, name, reason="no longer in the specs (--prune)", observed=job))
        if others:
            warnings.append(f"--prune leaves alone {others} managed job(s) applied from other sets than {set_name!r} "
                            "(a job's set is its jobctl-set tag: `jobctl get JOB -o json`)")
        if unset:
            warnings.append(f"--prune leaves alone {unset} managed job(s) applied by a jobctl without sets; "
                            "apply their specs once to give them one")
    for job in leftovers:
        if job.managed_name not in wanted_names:  # another scope's job of that name, or not this plan's to settle
            continue
        changes.append(Change(
            Action.DELETE, job.managed_name or job.name, observed=job, keeps_runs=True,
            reason="left over from an interrupted replace (a newer job has this name)",
        ))
    for job in retire:
        changes.append(Change(
            Action.DELETE, job.managed_name or job.name, observed=job,
            reason="a superseded generation" + (" (--prune-history)" if job.managed_name in wanted_names else ""),
        ))
    return Plan(tuple(changes), tuple(sorted(unchanged)), tuple(warnings), set_name=set_name)

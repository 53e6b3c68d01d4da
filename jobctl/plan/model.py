"""The Plan: a value computed once, rendered by `plan`, executed exactly by `apply`."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, NamedTuple

from jobctl.model.record import Record

if TYPE_CHECKING:
    from jobctl.model.job import JobState
    from jobctl.plan.applications import ApplicationChange
    from jobctl.plan.desired import DesiredJob
    from jobctl.workflow.deploy import PipelineChange


COUNTED_RUNS = 100  # a plan counts the runs a delete takes with it up to this many ("100+")


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}[self.value]


class FieldChange(NamedTuple):
    field: str  # spec path, e.g. "runtime.env.MODEL"
    old: Any
    new: Any
    forces_replace: bool


class Change(Record):
    """What a plan does to one job (a Record, not a dataclass: `plan` imports it, issue 18)."""

    __slots__ = (
        "action",
        "active_runs",
        "artifact_files",
        "desired",
        "fields",
        "keeps_runs",
        "name",
        "observed",
        "reason",
        "runs",
    )
    action: Action
    name: str
    fields: tuple[FieldChange, ...]
    reason: str | None
    desired: DesiredJob | None
    observed: JobState | None
    # A delete of a job that is a generation of a wanted name (left over by an interrupted replace) keeps
    # it, superseded, while it has runs; any other delete takes the job's runs with it (`runs` of them).
    keeps_runs: bool
    runs: int | None
    active_runs: int  # a delete of a job with active runs keeps it, superseded, until they end
    # of a changed artifact: ("+" | "-" | "~", file) for each file added, removed or modified (jobctl.artifact)
    artifact_files: tuple[tuple[str, str], ...]

    def __init__(self, action: Action, name: str, fields: tuple[FieldChange, ...] = (), reason: str | None = None, *,
                 desired: DesiredJob | None = None, observed: JobState | None = None, keeps_runs: bool = False,
                 runs: int | None = None, active_runs: int = 0,
                 artifact_files: tuple[tuple[str, str], ...] = ()) -> None:
        self._assign(locals())

    @property
    def drops(self) -> tuple[str, ...]:
        """Fields of the observed job (SDK paths) that a replace would not carry over: no spec can say them."""
        if self.action is not Action.REPLACE or self.observed is None or self.observed.definition is None:
            return ()
        return self.observed.definition.unmodeled

    @property
    def runs_deleted(self) -> int:
        """How many runs this change deletes: none when the job is kept for them."""
        return 0 if self.keeps_runs or self.active_runs else self.runs or 0

    @property
    def explanation(self) -> str | None:
        """The reason, and what becomes of the job's runs: what every rendering of the plan says."""
        parts = [self.reason] if self.reason and self.action is not Action.CREATE else []
        if self.action is Action.REPLACE and self.observed and self.observed.lifecycle_state != "CREATING":
            parts.append("the old job stays with its runs while it has any")
        shown = f"{COUNTED_RUNS}+" if (self.runs or 0) > COUNTED_RUNS else str(self.runs)
        if self.runs and self.keeps_runs:
            parts.append(f"it has {shown} run(s): kept with them as an earlier generation instead")
        elif self.active_runs:
            parts.append(f"it has {self.active_runs} active run(s): kept, superseded, until they end (a run is "
                         "never killed); a later --prune deletes it")
        elif self.runs:
            parts.append(f"deletes its {shown} run(s)")
        return "; ".join(parts) or None

    @property
    def job_id(self) -> str | None:
        return self.observed.id if self.observed else None


class Plan(Record):
    """Every change a plan makes, and what it leaves as it is."""

    __slots__ = (
        "applications",
        "changes",
        "ignored",
        "known_job_ids",
        "pipelines",
        "set_name",
        "unchanged",
        "unchanged_applications",
        "unchanged_pipelines",
        "warnings",
    )
    changes: tuple[Change, ...]
    unchanged: tuple[str, ...]
    warnings: tuple[str, ...]
    known_job_ids: frozenset[str]  # every job the plan saw: none of them is a concurrent apply's
    ignored: tuple[str, ...]  # fields the specs set that this backend cannot honour (it runs locally)
    set_name: str | None  # the set the specs are applied from (jobctl.plan.sets)
    pipelines: tuple[PipelineChange, ...]  # workflows' pipelines (OCI; jobctl.workflow.deploy)
    unchanged_pipelines: tuple[str, ...]
    applications: tuple[ApplicationChange, ...]  # Data Flow applications (jobctl.plan.applications)
    unchanged_applications: tuple[str, ...]

    def __init__(self, changes: tuple[Change, ...], unchanged: tuple[str, ...] = (), warnings: tuple[str, ...] = (), *,
                 known_job_ids: frozenset[str] = frozenset(), ignored: tuple[str, ...] = (),
                 set_name: str | None = None, pipelines: tuple[PipelineChange, ...] = (),
                 unchanged_pipelines: tuple[str, ...] = (), applications: tuple[ApplicationChange, ...] = (),
                 unchanged_applications: tuple[str, ...] = ()) -> None:
        self._assign(locals())

    def count(self, action: Action) -> int:
        return (sum(1 for c in self.changes if c.action is action)
                + sum(1 for p in self.pipelines if p.action is action)
                + sum(1 for a in self.applications if a.action is action))

    @property
    def has_changes(self) -> bool:
        return bool(self.changes or self.pipelines or self.applications)

    @property
    def destructive(self) -> bool:
        """Needs confirmation: replacing a job or a pipeline, or deleting one with what it holds (its runs)."""
        return any(c.action is Action.REPLACE or (c.action is Action.DELETE and not c.keeps_runs)
                   for c in self.changes) or any(c.action in (Action.REPLACE, Action.DELETE) for c in self.pipelines) \
            or any(a.action in (Action.REPLACE, Action.DELETE) for a in self.applications)

    @property
    def set_note(self) -> str | None:
        """Which set the plan deletes from, when it deletes anything: said by every rendering."""
        if self.set_name and self.count(Action.DELETE):
            return f"Set: {self.set_name} (--prune deletes only what was applied from this set)"
        return None

    def summary(self) -> str:
        return (
            f"Plan: {self.count(Action.CREATE)} to create, {self.count(Action.UPDATE)} to update, "
            f"{self.count(Action.REPLACE)} to replace, {self.count(Action.DELETE)} to delete."
        )

"""The Plan: a value computed once, rendered by `plan`, executed exactly by `apply`."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobctl.model.job import JobState
    from jobctl.plan.desired import DesiredJob


class Action(str, enum.Enum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-"}[self.value]


@dataclass(frozen=True)
class FieldChange:
    field: str  # spec path, e.g. "runtime.env.MODEL"
    old: Any
    new: Any
    forces_replace: bool


@dataclass(frozen=True)
class Change:
    action: Action
    name: str
    fields: tuple[FieldChange, ...] = ()
    reason: str | None = None
    desired: DesiredJob | None = None
    observed: JobState | None = None

    @property
    def drops(self) -> tuple[str, ...]:
        """Fields of the observed job (SDK paths) that a replace would not carry over: no spec can say them."""
        if self.action is not Action.REPLACE or self.observed is None or self.observed.definition is None:
            return ()
        return self.observed.definition.unmodeled

    @property
    def job_id(self) -> str | None:
        return self.observed.id if self.observed else None


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    unchanged: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    known_job_ids: frozenset[str] = frozenset()  # every job the plan saw: none of them is a concurrent apply's
    ignored: tuple[str, ...] = ()  # fields the specs set that this backend cannot honour (it runs locally)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def destructive(self) -> bool:
        """Needs confirmation: replacing or deleting a job (not removing one already superseded)."""
        return any(
            c.action is Action.REPLACE or (c.action is Action.DELETE and not (c.observed and c.observed.superseded))
            for c in self.changes
        )

    def summary(self) -> str:
        return (
            f"Plan: {self.count(Action.CREATE)} to create, {self.count(Action.UPDATE)} to update, "
            f"{self.count(Action.REPLACE)} to replace, {self.count(Action.DELETE)} to delete."
        )

"""Data Flow applications in a plan (docs/decisions/0015-dataflow-applications.md): created, updated in place
where Data Flow's UpdateApplication can (every field but `type` and the compartment, from the field table),
replaced where it cannot; found by their ownership tags, compared by their spec hash, as jobs are.

The local backend applies them; on OCI a plan says they are not applied yet (issue 17).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from jobctl.model.application import ApplicationDefinition
from jobctl.model.job import TAG_HASH, TAG_MANAGED, TAG_NAME, TAG_SET, TAG_SUPERSEDED
from jobctl.plan.desired import spec_hash
from jobctl.plan.diff import field_changes
from jobctl.plan.model import Action, FieldChange

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from jobctl.model.job import RunState
    from jobctl.spec.application import ApplicationSpec


class LocalApplications(Protocol):
    """What a plan needs of the applications a backend holds (jobctl.backends.local.applications)."""

    def applications(self) -> list[tuple[str, ApplicationDefinition]]: ...

    def read(self, application_id: str) -> tuple[str | None, ApplicationDefinition, Any]: ...

    def create(self, app: ApplicationDefinition, tags: Mapping[str, str], retry_token: str, *,
               source: Path | None = None) -> str: ...

    def update(self, application_id: str, app: ApplicationDefinition, tags: Mapping[str, str], *,
               etag: str | None, source: Path | None = None) -> None: ...

    def delete(self, application_id: str) -> None: ...

    def runs(self, application_id: str) -> list[RunState]: ...


@dataclass(frozen=True)
class ApplicationChange:
    action: Action
    name: str
    desired: ApplicationDefinition
    spec: ApplicationSpec
    application_id: str | None = None  # the one held
    fields: tuple[FieldChange, ...] = ()

    @property
    def pipeline_id(self) -> str | None:  # what plan renderers show beside the name
        return self.application_id

    @property
    def explanation(self) -> str | None:
        forcing = [f.field for f in self.fields if f.forces_replace]
        if self.action is Action.REPLACE and forcing:
            return f"{', '.join(forcing)} cannot change in place; the old application stays while it has runs"
        return None


def desired(spec: ApplicationSpec, set_name: str | None) -> ApplicationDefinition:
    """The application as it should be held: its code's digest and jobctl's tags (with its spec hash)."""
    digest = f"sha256:{hashlib.sha256(spec.source.read_bytes()).hexdigest()}" if spec.source else None
    definition = replace(spec.definition, artifact_digest=digest)
    tags = {TAG_MANAGED: "true", TAG_NAME: definition.name, TAG_HASH: spec_hash(definition)}
    if set_name is not None:
        tags[TAG_SET] = set_name
    return replace(definition, owner_tags=tags)


def plan_applications(held: LocalApplications, specs: Sequence[ApplicationSpec], set_name: str | None) -> tuple[
        list[ApplicationChange], list[str]]:
    """The changes that make the held applications as the specs say, and the names unchanged."""
    current = {app.owner_tags.get(TAG_NAME): (app_id, app) for app_id, app in held.applications()
               if app.owner_tags.get(TAG_MANAGED) == "true" and app.owner_tags.get(TAG_SUPERSEDED) != "true"}
    changes: list[ApplicationChange] = []
    unchanged: list[str] = []
    for spec in specs:
        want = desired(spec, set_name)
        found = current.get(spec.name)
        if found is None:
            changes.append(ApplicationChange(Action.CREATE, spec.name, want, spec))
            continue
        app_id, have = found
        if have.owner_tags == want.owner_tags:
            unchanged.append(spec.name)
            continue
        fields = field_changes(have, want)
        action = Action.REPLACE if any(f.forces_replace for f in fields) else Action.UPDATE
        changes.append(ApplicationChange(action, spec.name, want, spec, app_id, fields))
    return changes, unchanged


def apply_application(held: LocalApplications, change: ApplicationChange) -> tuple[str, str]:
    """Execute one change: (the application's id, what was done)."""
    want = change.desired
    token = hashlib.sha256(f"{want.name}\0{want.owner_tags[TAG_HASH]}\0{change.application_id or ''}".encode())
    if change.action is Action.UPDATE and change.application_id is not None:
        etag, _, _ = held.read(change.application_id)
        held.update(change.application_id, want, want.owner_tags, etag=etag, source=change.spec.source)
        return change.application_id, "updated"
    made = held.create(want, want.owner_tags, token.hexdigest()[:64], source=change.spec.source)
    if change.action is Action.REPLACE and change.application_id is not None:
        _retire(held, change.application_id)
        return made, "replaced"
    return made, "created"


def _retire(held: LocalApplications, application_id: str) -> None:
    """The replaced application: deleted, unless it has runs (kept with them, tagged superseded, as a replaced
    job is)."""
    if not held.runs(application_id):
        held.delete(application_id)
        return
    etag, old, _ = held.read(application_id)
    held.update(application_id, old, {**old.tags, TAG_SUPERSEDED: "true"}, etag=etag)


def change_dict(change: ApplicationChange, show: Any) -> dict[str, Any]:
    return {"action": change.action.value, "name": change.name, "applicationId": change.application_id,
            "explanation": change.explanation,
            "fields": [{"field": f.field, "old": show(f.field, f.old), "new": show(f.field, f.new),
                        "forcesReplace": f.forces_replace} for f in change.fields]}

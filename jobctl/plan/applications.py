"""Data Flow applications in a plan (docs/decisions/0015-dataflow-applications.md): created, updated in place
where Data Flow's UpdateApplication can (every field but `type` and the compartment, from the field table),
replaced where it cannot; found by their ownership tags, compared by their spec hash, as jobs are. The same
code plans and applies them on every backend (each backend's `dataflow`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from jobctl.errors import ConflictError, Diagnostic, SpecError
from jobctl.model.application import TAG_ARTIFACT, ApplicationDefinition, code_location
from jobctl.model.definition import replace
from jobctl.model.job import (
    ACTIVE_STATES,
    TAG_HASH,
    TAG_MANAGED,
    TAG_NAME,
    TAG_SET,
    TAG_SUPERSEDED,
    split_tags,
)
from jobctl.model.table import rows
from jobctl.plan.desired import spec_hash, with_defaults
from jobctl.plan.diff import field_changes
from jobctl.plan.model import Action, FieldChange

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from jobctl.model.job import RunState
    from jobctl.spec.application import ApplicationSpec


class HeldApplications(Protocol):
    """What a plan needs of the applications a backend holds: the local backend's
    (jobctl.backends.local.applications) and OCI's (jobctl.backends.oci.dataflow)."""

    required_fields: tuple[str, ...]  # spec paths an application must set on this backend (codeUri: with source)

    def listed(self, compartments: Sequence[str | None]) -> list[tuple[str, Mapping[str, str]]]: ...

    def unmanaged(self, compartments: Sequence[str | None]) -> list[tuple[str, str]]: ...

    def read(self, application_id: str) -> tuple[str | None, ApplicationDefinition, Any]: ...

    def create(self, app: ApplicationDefinition, tags: Mapping[str, str], retry_token: str, *,
               source: Path | None = None) -> str: ...

    def update(self, application_id: str, app: ApplicationDefinition, tags: Mapping[str, str], *,
               etag: str | None, current: Any = None, source: Path | None = None) -> None: ...

    def delete(self, application_id: str) -> None: ...

    def runs(self, application_id: str, *, compartment: str | None = None) -> list[RunState]: ...


@dataclass(frozen=True)
class ApplicationChange:
    action: Action
    name: str
    desired: ApplicationDefinition | None  # None: a delete (--prune)
    spec: ApplicationSpec | None
    application_id: str | None = None  # the one held
    fields: tuple[FieldChange, ...] = ()
    adopting: bool = False  # an application jobctl did not make, taken over (--adopt)
    superseded: bool = False  # a delete of an earlier generation (kept for its runs)
    moves_from: str | None = None  # the set it was applied from, when that is another
    drifted: bool = False  # changed outside jobctl since it was applied (plan --refresh)

    @property
    def pipeline_id(self) -> str | None:  # what plan renderers show beside the name
        return self.application_id

    @property
    def explanation(self) -> str | None:
        forcing = [f.field for f in self.fields if f.forces_replace]
        if self.adopting:
            return (f"adopting it, but {', '.join(forcing)} cannot change in place" if forcing
                    else "adopt: from now on managed by jobctl")
        if self.action is Action.REPLACE and forcing:
            return f"{', '.join(forcing)} cannot change in place; the old application stays while it has runs"
        if self.action is Action.DELETE:
            what = "an earlier generation (kept for its runs) of an application" if self.superseded else "no longer"
            return f"{what} in the specs of its set (--prune); its runs stay"
        if self.moves_from is not None:
            return f"moves to this set from set {self.moves_from}"
        if self.drifted:
            return "changed outside jobctl since it was applied: made as its spec says again"
        return None


def desired(spec: ApplicationSpec, set_name: str | None, defaults: Mapping[str, str] | None = None, *,
            uploads: bool = True) -> ApplicationDefinition:
    """The application as it should be held: the backend's `defaults` (by spec path) where the spec leaves
    them out, its source's digest, the fileUri that source goes to under codeUri (on a backend that `uploads`
    it there: OCI; the local one keeps the file itself), and jobctl's tags (with its spec hash)."""
    definition = with_defaults(spec.definition, defaults)
    if spec.source is not None:
        digest = f"sha256:{hashlib.sha256(spec.source.read_bytes()).hexdigest()}"
        code_uri = definition.code_uri.rstrip("/") if definition.code_uri else None
        file_uri = code_location(code_uri, spec.name, digest, spec.source.name) if code_uri and uploads else None
        definition = replace(definition, artifact_digest=digest, code_uri=code_uri, file_uri=file_uri)
    tags = {TAG_MANAGED: "true", TAG_NAME: definition.name, TAG_HASH: spec_hash(definition)}
    if definition.artifact_digest:
        tags[TAG_ARTIFACT] = definition.artifact_digest
    if set_name is not None:
        tags[TAG_SET] = set_name
    return replace(definition, owner_tags=tags)


def plan_applications(held: HeldApplications, specs: Sequence[ApplicationSpec], set_name: str | None,
                      defaults: Mapping[str, str] | None = None, *, prune: bool = False,
                      adopt: bool = False, refresh: bool = False, prune_history: bool = False,
                      ) -> tuple[list[ApplicationChange], list[str], list[str]]:
    """The changes that make the held applications as the specs say, the names unchanged, and warnings. An
    application is read in full only when its spec hash differs.

    `prune`: also delete the applications of this set whose name no spec has any more (with their earlier
    generations), but not one with a run going, which Data Flow would refuse to delete: that one is kept, and
    a warning says so. `prune_history`: delete the earlier generations of the specs' applications (kept for
    their runs by a replace) whose runs have all ended. `adopt`: a spec no managed application has takes over
    an unmanaged one of its display name (in its compartment or the default one); without it, such a one is
    warned of. `refresh`: read every one in full, so that a change made outside jobctl (the console) shows,
    and is undone."""
    uploads = "spec.codeUri" in held.required_fields  # where a source must go to Object Storage
    wanted = [(spec, desired(spec, set_name, defaults, uploads=uploads)) for spec in specs]
    _check_required(held, wanted)
    current, gone, warnings = _survey(held, wanted, set_name, prune=prune, prune_history=prune_history)
    changes: list[ApplicationChange] = []
    unchanged: list[str] = []
    others = dict(reversed(held.unmanaged([w.compartment_id for _, w in wanted]))) if wanted else {}
    by_display = {display: app_id for app_id, display in others.items()}  # the oldest of a display name
    for spec, want in wanted:
        found = current.get(spec.name)
        if found is None and want.display_name in by_display and adopt:
            changes.append(_diffed(held, by_display.pop(want.display_name), spec, want, adopting=True))
        elif found is None:
            if want.display_name in by_display:
                warnings.append(f"application {spec.name}: one named {want.display_name!r} exists that jobctl does "
                                f"not manage ({by_display[want.display_name]}); apply makes another, --adopt takes "
                                "it over")
            changes.append(ApplicationChange(Action.CREATE, spec.name, want, spec))
        elif found[1] != want.owner_tags:
            was = found[1].get(TAG_SET)
            changes.append(_diffed(held, found[0], spec, want,
                                   moves_from=was if was != want.owner_tags.get(TAG_SET) else None))
        elif refresh and (drift := _diffed(held, found[0], spec, want, drifted=True)).fields:
            changes.append(drift)  # as applied, but changed outside jobctl since
        else:
            unchanged.append(spec.name)
    return changes + gone, unchanged, warnings


def _diffed(held: HeldApplications, application_id: str, spec: ApplicationSpec, want: ApplicationDefinition,
            **why: Any) -> ApplicationChange:
    """The change that makes the held application `application_id` as `want`: in place, or a replace."""
    fields = field_changes(held.read(application_id)[1], want)
    action = Action.REPLACE if any(f.forces_replace for f in fields) else Action.UPDATE
    return ApplicationChange(action, spec.name, want, spec, application_id, fields, **why)


def _survey(held: HeldApplications, wanted: Sequence[tuple[ApplicationSpec, ApplicationDefinition]],
            set_name: str | None, *, prune: bool, prune_history: bool,
            ) -> tuple[dict[str, tuple[str, Mapping[str, str]]], list[ApplicationChange], list[str]]:
    """The managed applications held where the specs' are: the current one of each name (its id and jobctl's
    tags), the deletes --prune and --prune-history ask for, and what keeps one from them."""
    names = {spec.name for spec, _ in wanted}
    current: dict[str, tuple[str, Mapping[str, str]]] = {}  # name -> the newest live one
    gone: list[ApplicationChange] = []
    warnings: list[str] = []
    for app_id, tags in held.listed(sorted({want.compartment_id for _, want in wanted}, key=str)):
        owner = split_tags(tags)[1]
        name, superseded, ours = owner.get(TAG_NAME), owner.get(TAG_SUPERSEDED) == "true", owner.get(TAG_SET)
        if owner.get(TAG_MANAGED) != "true" or name is None:
            continue
        deleted = (prune and set_name is not None and ours == set_name and name not in names) or (
            prune_history and superseded and name in names and ours == set_name)
        if not deleted:
            if not superseded:
                current[name] = (app_id, owner)
            continue
        going = [run for run in held.runs(app_id) if run.state in ACTIVE_STATES]
        if not going:
            gone.append(ApplicationChange(Action.DELETE, name, None, None, app_id, superseded=superseded))
        elif name not in names:
            warnings.append(f"application {name} ({app_id}) is no longer in the specs but has {len(going)} run(s) "
                            f"going: kept; a later --prune deletes it once they end (or cancel them: jobctl cancel "
                            f"--job {name})")
    return current, gone, warnings


def _check_required(held: HeldApplications, wanted: Sequence[tuple[ApplicationSpec, ApplicationDefinition]]) -> None:
    """Fields this backend needs that a spec leaves out, said by plan before anything changes: OCI needs the
    compartment, and codeUri for code given as a local source."""
    problems: list[Diagnostic] = []
    for spec, want in wanted:
        for row in rows(ApplicationDefinition):
            if row.path not in held.required_fields or getattr(want, row.attr):
                continue
            if row.path == "spec.codeUri":
                if spec.source_site is not None:
                    problems.append(spec.source_site._replace(message=f"application {spec.name!r} needs "
                                                              "spec.codeUri on this backend: the Object Storage "
                                                              "location the source is uploaded to"))
                continue
            origin = spec.origin
            problems.append(Diagnostic(origin.file if origin else spec.name, origin.line if origin else 1, 1, "spec",
                                       f"application {spec.name!r} needs {row.path} on this backend"))
    if problems:
        hints = {"spec.codeUri": "write spec.codeUri as oci://bucket@namespace/prefix",
                 "spec.compartmentId": "set spec.compartmentId, or pass --compartment-id (or set OCI_COMPARTMENT_ID)"}
        raise SpecError(sorted(problems), hint="; ".join(hint for path, hint in hints.items()
                                                         if any(path in p.message for p in problems)))


def apply_application(held: HeldApplications, change: ApplicationChange) -> tuple[str, str]:
    """Execute one change: (the application's id, what was done)."""
    if change.action is Action.DELETE and change.application_id is not None:
        held.delete(change.application_id)  # refused while a run of it goes (Data Flow's 409): nothing lost
        return change.application_id, "deleted"
    want, spec = change.desired, change.spec
    assert want is not None  # only a delete has none
    assert spec is not None
    if spec.source is not None and f"sha256:{hashlib.sha256(spec.source.read_bytes()).hexdigest()}" != \
            want.artifact_digest:  # its upload path holds the digest the plan showed: never other bytes under it
        raise ConflictError(f"{spec.source} changed since the plan was made", hint="run the apply again: its plan "
                            "reads the file as it is now")
    token = hashlib.sha256(f"{want.name}\0{want.owner_tags[TAG_HASH]}\0{change.application_id or ''}".encode())
    if change.action is Action.UPDATE and change.application_id is not None:
        etag, _, current = held.read(change.application_id)
        held.update(change.application_id, want, want.tags, etag=etag, current=current, source=spec.source)
        return change.application_id, "updated"
    made = held.create(want, want.tags, token.hexdigest()[:64], source=spec.source)
    if change.action is Action.REPLACE and change.application_id is not None:
        _retire(held, change.application_id)
        return made, "replaced"
    return made, "created"


def _retire(held: HeldApplications, application_id: str) -> None:
    """The replaced application: deleted, unless it has runs (kept with them, tagged superseded, as a replaced
    job is)."""
    etag, old, current = held.read(application_id)
    if not held.runs(application_id, compartment=old.compartment_id):
        held.delete(application_id)
        return
    held.update(application_id, old, {**old.tags, TAG_SUPERSEDED: "true"}, etag=etag, current=current)


def change_dict(change: ApplicationChange, show: Any) -> dict[str, Any]:
    return {"action": change.action.value, "name": change.name, "applicationId": change.application_id,
            "explanation": change.explanation,
            "fields": [{"field": f.field, "old": show(f.field, f.old), "new": show(f.field, f.new),
                        "forcesReplace": f.forces_replace} for f in change.fields]}

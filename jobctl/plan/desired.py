"""From a JobSpec to the job definition a backend should hold, with its artifact and spec hash."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeVar

from jobctl.artifact import Artifact, build_artifact, build_driver_artifact
from jobctl.digest import sha256
from jobctl.model.definition import replace
from jobctl.model.job import TAG_HASH, TAG_MANAGED, TAG_NAME, TAG_SET, JobDefinition, Metadata
from jobctl.model.record import Record
from jobctl.model.table import canonical, rows
from jobctl.spec.model import JobSpec

D = TypeVar("D", bound=Metadata)


class DesiredJob(Record):
    """A spec's job as the backend should hold it, and its artifact."""

    __slots__ = ("artifact", "definition", "spec")
    spec: JobSpec
    definition: JobDefinition  # owner tags hold jobctl's ownership tags and the spec hash
    artifact: Artifact | None

    def __init__(self, spec: JobSpec, definition: JobDefinition, artifact: Artifact | None) -> None:
        self._assign(locals())

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def spec_hash(self) -> str:
        return self.definition.owner_tags[TAG_HASH]


def spec_hash(definition: Any) -> str:
    """sha256 of the fields of a definition (a job's, a Data Flow application's) that differ from their
    defaults (artifact digest included, jobctl's tags excluded): a field added to the table later leaves
    the hashes of existing ones as they were."""
    text = json.dumps(canonical(definition), sort_keys=True, separators=(",", ":"))
    return sha256(text.encode()).hexdigest()


def with_defaults(definition: D, defaults: Mapping[str, str] | None) -> D:
    """The definition (a job's, a Data Flow application's) with the backend's `defaults` (by spec path) in the
    fields it leaves out."""
    filled: dict[str, Any] = {row.attr: defaults[row.path] for row in rows(type(definition))
                              if defaults and row.path in defaults and not getattr(definition, row.attr)}
    return replace(definition, **filled) if filled else definition


def desired_job(spec: JobSpec, set_name: str | None = None, defaults: Mapping[str, str] | None = None) -> DesiredJob:
    """Build the artifact (if the runtime has a source) and the tagged definition for one spec,
    applied from the set `set_name` (jobctl.plan.sets), with the backend's `defaults` (by spec path)
    for the fields it leaves out."""
    if spec.definition.git_url or (spec.definition.driven and spec.source is None):
        # the code comes from git, or from inputs the run downloads: the artifact is the driver alone
        artifact: Artifact | None = build_driver_artifact(spec.name)
    else:
        artifact = build_artifact(spec.source, driver=spec.definition.driven) if spec.source is not None else None
    definition = replace(with_defaults(spec.definition, defaults),
                         artifact_digest=artifact.digest if artifact else None)
    owner = {TAG_MANAGED: "true", TAG_NAME: spec.name, TAG_HASH: spec_hash(definition)}
    if set_name is not None:
        owner[TAG_SET] = set_name
    return DesiredJob(spec, replace(definition, owner_tags=owner), artifact)

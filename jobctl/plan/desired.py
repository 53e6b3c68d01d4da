"""From a JobSpec to the job definition a backend should hold, with its artifact and spec hash."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import Any

from jobctl.artifact import Artifact, build_artifact
from jobctl.backends.base import TAG_HASH, TAG_MANAGED, TAG_NAME, JobDefinition
from jobctl.spec.model import JobSpec


@dataclass(frozen=True)
class DesiredJob:
    spec: JobSpec
    definition: JobDefinition  # tags include jobctl's ownership tags and the spec hash
    artifact: Artifact | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def spec_hash(self) -> str:
        return self.definition.tags[TAG_HASH]


def definition_from_spec(spec: JobSpec, artifact_digest: str | None) -> JobDefinition:
    infra, runtime, logging = spec.infrastructure, spec.runtime, spec.logging
    return JobDefinition(
        name=spec.name,
        description=spec.description,
        compartment_id=spec.compartment_id,
        project_id=spec.project_id,
        shape=infra.shape,
        ocpus=infra.ocpus,
        memory_in_gbs=infra.memory_in_gbs,
        block_storage_size_in_gbs=infra.block_storage_size_in_gbs,
        subnet_id=infra.subnet_id,
        log_enabled=logging is not None and logging.enabled,
        log_group_id=logging.log_group_id if logging else None,
        log_id=logging.log_id if logging else None,
        log_auto_create=bool(logging and logging.auto_create_log),
        runtime_type=runtime.type,
        entrypoint=runtime.entrypoint,
        conda_slug=runtime.conda.slug if runtime.conda else None,
        conda_uri=runtime.conda.uri if runtime.conda else None,
        image=runtime.image,
        image_digest=runtime.image_digest,
        container_entrypoint=runtime.container_entrypoint,
        cmd=runtime.cmd,
        args=runtime.args,
        env=dict(runtime.env),
        max_runtime_in_minutes=runtime.max_runtime_in_minutes,
        artifact_digest=artifact_digest,
        tags=dict(spec.labels),
    )


def spec_hash(definition: JobDefinition) -> str:
    """sha256 of the canonical desired state (artifact digest included, jobctl's tags excluded)."""
    data: dict[str, Any] = asdict(definition)
    data["tags"] = definition.labels
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(canonical.encode()).hexdigest()


def desired_job(spec: JobSpec) -> DesiredJob:
    """Build the artifact (if the runtime has a source) and the tagged definition for one spec."""
    artifact = build_artifact(spec.runtime.source) if spec.runtime.source is not None else None
    definition = definition_from_spec(spec, artifact.digest if artifact else None)
    tags = {**definition.labels, TAG_MANAGED: "true", TAG_NAME: spec.name, TAG_HASH: spec_hash(definition)}
    return DesiredJob(spec, replace(definition, tags=tags), artifact)

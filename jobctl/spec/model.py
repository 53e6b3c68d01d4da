"""The desired state of a job, as frozen dataclasses built from a schema-valid document."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

RuntimeType = Literal["python", "shell", "container"]


@dataclass(frozen=True)
class Origin:
    """Where a spec was declared, for messages."""

    file: str
    line: int


@dataclass(frozen=True)
class Infrastructure:
    shape: str
    ocpus: float | None = None
    memory_in_gbs: float | None = None
    block_storage_size_in_gbs: int = 50
    subnet_id: str | None = None


@dataclass(frozen=True)
class LoggingConfig:
    enabled: bool = True
    log_group_id: str | None = None
    log_id: str | None = None
    auto_create_log: bool = False


@dataclass(frozen=True)
class Conda:
    slug: str | None = None
    uri: str | None = None


@dataclass(frozen=True)
class Runtime:
    type: RuntimeType
    source: Path | None = None  # absolute, resolved against the spec file's directory
    entrypoint: str | None = None  # python/shell: file inside source
    conda: Conda | None = None
    image: str | None = None
    image_digest: str | None = None
    container_entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    max_runtime_in_minutes: int | None = None


@dataclass(frozen=True)
class JobSpec:
    """One `kind: Job` document: everything needed to create the job and start its runs."""

    name: str
    infrastructure: Infrastructure
    runtime: Runtime
    description: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    compartment_id: str | None = None
    project_id: str | None = None
    logging: LoggingConfig | None = None
    origin: Origin | None = field(default=None, compare=False)


def _text(value: Any) -> str:
    """Env values and args accept YAML scalars; booleans are spelled as YAML spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def job_from_document(data: Mapping[str, Any], base_dir: Path, origin: Origin) -> JobSpec:
    """Build a JobSpec from a document that has passed schema validation."""
    metadata = data["metadata"]
    spec = data["spec"]
    infra = spec["infrastructure"]
    runtime = spec["runtime"]
    logging = spec.get("logging")
    conda = runtime.get("conda")
    entrypoint = runtime.get("entrypoint")
    source = runtime.get("source")
    return JobSpec(
        name=metadata["name"],
        description=metadata.get("description"),
        labels=dict(metadata.get("labels", {})),
        compartment_id=spec.get("compartmentId"),
        project_id=spec.get("projectId"),
        infrastructure=Infrastructure(
            shape=infra["shape"],
            ocpus=infra.get("ocpus"),
            memory_in_gbs=infra.get("memoryInGBs"),
            block_storage_size_in_gbs=infra.get("blockStorageSizeInGBs", 50),
            subnet_id=infra.get("subnetId"),
        ),
        logging=None if logging is None else LoggingConfig(
            enabled=logging.get("enabled", True),
            log_group_id=logging.get("logGroupId"),
            log_id=logging.get("logId"),
            auto_create_log=logging.get("autoCreateLog", False),
        ),
        runtime=Runtime(
            type=runtime["type"],
            source=None if source is None else (base_dir / source).resolve(),
            entrypoint=entrypoint if isinstance(entrypoint, str) else None,
            conda=None if conda is None else Conda(slug=conda.get("slug"), uri=conda.get("uri")),
            image=runtime.get("image"),
            image_digest=runtime.get("imageDigest"),
            container_entrypoint=tuple(entrypoint) if isinstance(entrypoint, list) else (),
            cmd=tuple(runtime.get("cmd", ())),
            args=tuple(_text(a) for a in runtime.get("args", ())),
            env={k: _text(v) for k, v in runtime.get("env", {}).items()},
            max_runtime_in_minutes=runtime.get("maxRuntimeInMinutes"),
        ),
        origin=origin,
    )

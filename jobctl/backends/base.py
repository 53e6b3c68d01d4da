"""The Backend protocol: what every place jobs can live (local, OCI, memory) must do.

Keyword-only methods over plain dataclasses; no SDK type crosses this line. Orchestration
(diffing, fan-out, following logs, waiting) lives once in the engine, not in backends.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from jobctl.errors import ConfigError
from jobctl.secrets import REDACTOR

if TYPE_CHECKING:
    from jobctl.artifact import Artifact
    from jobctl.workflow.state import StateStore

# OCI's job run lifecycle, used verbatim by every backend.
ACCEPTED = "ACCEPTED"
IN_PROGRESS = "IN_PROGRESS"
NEEDS_ATTENTION = "NEEDS_ATTENTION"
CANCELING = "CANCELING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELED = "CANCELED"
DELETED = "DELETED"
RUN_STATES = (ACCEPTED, IN_PROGRESS, NEEDS_ATTENTION, CANCELING, SUCCEEDED, FAILED, CANCELED, DELETED)
TERMINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELED, DELETED})
ACTIVE_STATES = frozenset({ACCEPTED, IN_PROGRESS, NEEDS_ATTENTION, CANCELING})

# Freeform tags jobctl owns on every job it manages.
TAG_MANAGED = "jobctl-managed"
TAG_NAME = "jobctl-name"
TAG_HASH = "jobctl-spec-hash"
TAG_SUPERSEDED = "jobctl-superseded"
PENDING_HASH_PREFIX = "pending-"  # hash tag of a job whose creation (artifact upload) did not complete
JOBCTL_TAG_PREFIX = "jobctl-"


@dataclass(frozen=True)
class JobDefinition:
    """A job as a backend stores it, in backend-neutral terms. Desired and observed use the same type."""

    name: str
    description: str | None
    compartment_id: str | None
    project_id: str | None
    # infrastructure (updatable in place on OCI)
    shape: str
    ocpus: float | None
    memory_in_gbs: float | None
    block_storage_size_in_gbs: int
    subnet_id: str | None
    # logging, runtime and artifact (immutable on OCI: a change means a new job)
    log_enabled: bool
    log_group_id: str | None
    log_id: str | None
    log_auto_create: bool
    runtime_type: str
    entrypoint: str | None
    conda_slug: str | None
    conda_uri: str | None
    image: str | None
    image_digest: str | None
    container_entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    args: tuple[str, ...]
    env: Mapping[str, str]
    max_runtime_in_minutes: int | None
    artifact_digest: str | None
    tags: Mapping[str, str] = field(default_factory=dict)  # freeform tags: labels + jobctl's own

    def __post_init__(self) -> None:
        REDACTOR.remember_env(self.env)  # whatever reads a job learns its secrets, to mask them anywhere

    @property
    def labels(self) -> dict[str, str]:
        return {k: v for k, v in self.tags.items() if not k.startswith(JOBCTL_TAG_PREFIX)}


@dataclass(frozen=True)
class JobState:
    """An existing job. `definition` is None when only a summary was listed (OCI's JobSummary)."""

    id: str
    name: str
    lifecycle_state: str
    tags: Mapping[str, str]
    created: datetime
    definition: JobDefinition | None = None
    etag: str | None = None

    @property
    def managed(self) -> bool:
        return self.tags.get(TAG_MANAGED) == "true"

    @property
    def managed_name(self) -> str | None:
        return self.tags.get(TAG_NAME) if self.managed else None

    @property
    def spec_hash(self) -> str | None:
        return self.tags.get(TAG_HASH)

    @property
    def superseded(self) -> bool:
        return self.tags.get(TAG_SUPERSEDED) == "true"

    @property
    def incomplete(self) -> bool:
        """Created, but a crash or failure stopped the artifact upload: the next apply replaces it."""
        return (self.spec_hash or "").startswith(PENDING_HASH_PREFIX)


@dataclass(frozen=True)
class RunState:
    id: str
    job_id: str
    name: str
    state: str
    created: datetime
    started: datetime | None = None
    finished: datetime | None = None
    exit_code: int | None = None
    details: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()
    job_name: str | None = None

    def __post_init__(self) -> None:
        REDACTOR.remember_env(self.env)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass(frozen=True)
class LogLine:
    time: datetime
    stream: str  # "stdout" | "stderr"
    text: str


@dataclass(frozen=True)
class LogBatch:
    """Lines after a cursor. `complete`: the run is over and no line will ever follow `cursor`."""

    lines: tuple[LogLine, ...]
    cursor: str | None
    complete: bool


class Backend(Protocol):
    """Where jobs and runs live. Implementations: local (SQLite + processes), oci, memory."""

    name: str

    def list_jobs(self, *, compartment_id: str | None = None, project_id: str | None = None) -> list[JobState]: ...

    def get_job(self, *, job_id: str) -> JobState: ...

    def create_job(self, *, definition: JobDefinition, artifact: Artifact | None, retry_token: str) -> JobState: ...

    def update_job(self, *, job_id: str, definition: JobDefinition, etag: str | None) -> JobState:
        """Change what OCI allows in place: description, infrastructure and tags."""
        ...

    def delete_job(self, *, job_id: str) -> None: ...

    def start_run(
        self, *, job_id: str, name: str, env: Mapping[str, str], args: Sequence[str],
        retry_token: str | None = None,
    ) -> RunState:
        """Start a run; `env` is complete (job env merged with overrides), `args` replace the job's."""
        ...

    def get_run(self, *, run_id: str) -> RunState: ...

    def list_runs(
        self, *, job_id: str | None = None, states: Collection[str] | None = None, limit: int | None = None,
    ) -> list[RunState]:
        """Newest first."""
        ...

    def cancel_run(self, *, run_id: str) -> RunState: ...

    def read_logs(self, *, run_id: str, cursor: str | None = None, limit: int | None = None) -> LogBatch: ...

    def tail_logs(self, *, run_id: str, lines: int) -> LogBatch:
        """The last `lines` lines, with a cursor to follow from."""
        ...

    def read_outputs(self, *, run_id: str) -> dict[str, Any] | None:
        """What a finished run reported in its outputs.json (see jobctl.outputs), or None."""
        ...

    def download_artifact(self, *, job_id: str, directory: Path) -> Path | None:
        """Save the job's artifact into `directory` under its own file name; None if it has none."""
        ...

    def workflow_store(self, location: str | None) -> StateStore:
        """Where workflow state lives for this backend (`location`: a workflow's spec.state)."""
        ...


BackendFactory = Callable[[Any], Backend]

# name -> "module:function"; the function takes the AppContext-like settings object.
REGISTRY: dict[str, str] = {
    "local": "jobctl.backends.local:create",
    "memory": "jobctl.backends.memory:create",
    "oci": "jobctl.backends.oci:create",
}


def create_backend(name: str, settings: Any) -> Backend:
    """Instantiate a backend by its registered name."""
    target = REGISTRY.get(name)
    if target is None:
        raise ConfigError(f"unknown backend {name!r}", hint=f"choose one of: {', '.join(REGISTRY)}")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ConfigError(f"backend {name!r} is not available in this version of jobctl") from exc
        raise
    factory: BackendFactory = getattr(module, attr)
    return factory(settings)

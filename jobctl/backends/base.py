"""The Backend protocol: what every place jobs can live (local, OCI, memory) must do.

Keyword-only methods over plain dataclasses; no SDK type crosses this line. Orchestration
(diffing, fan-out, following logs, waiting) lives once in the engine, not in backends.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from jobctl.errors import ConfigError, Diagnostic

if TYPE_CHECKING:
    from jobctl.artifact import Artifact
    from jobctl.backends.listing import RunStream
    from jobctl.backends.settings import Settings
    from jobctl.model.job import JobDefinition, JobState, LogBatch, LogView, RunState
    from jobctl.workflow.state import StateStore


class Backend(Protocol):
    """Where jobs and runs live. Implementations: local (SQLite + processes), oci, memory."""

    name: str
    poll_interval: float  # seconds between polls of a run's state; 0: the backend needs no waiting
    runs_here: bool  # runs on this machine, so fields only OCI can honour (a shape, a subnet) are ignored
    required_fields: tuple[str, ...]  # spec paths every job must set on this backend (checked by plan)

    def spec_defaults(self) -> dict[str, str]:
        """Values (by spec path) that a spec leaving them out gets on this backend."""
        ...

    def resolve_definition(self, *, definition: JobDefinition, where: Callable[[str], Diagnostic]) -> JobDefinition:
        """The definition with what it names by something other than an id looked up (on OCI: a File Storage
        mount by mount target IP and export path); `where(spec path)` locates a field for an error (file, line,
        the field as written). Plan diffs what this returns. Every problem found is raised at once."""
        ...

    def list_jobs(self, *, compartment_id: str | None = None, project_id: str | None = None) -> list[JobState]: ...

    def get_job(self, *, job_id: str) -> JobState: ...

    def create_job(self, *, definition: JobDefinition, artifact: Artifact | None, retry_token: str) -> JobState: ...

    def update_job(self, *, job_id: str, definition: JobDefinition, etag: str | None) -> JobState:
        """Change what OCI allows in place: description, infrastructure and tags."""
        ...

    def delete_job(self, *, job_id: str) -> None: ...

    def prepare_runs(self, count: int) -> None:
        """`count` runs are about to start: get ready while the command reads and checks them (the local
        backend starts the process that will fork their supervisors). May do nothing."""
        ...

    def start_run(
        self, *, job_id: str, name: str, env: Mapping[str, str], args: Sequence[str],
        retry_token: str | None = None, settings: Mapping[str, Any] | None = None,
        marks: Mapping[str, str] | None = None,
    ) -> RunState:
        """Start a run; `env` is complete (job env merged with overrides), `args` replace the job's;
        `settings`: the fields (by JobDefinition attribute) the run sets for itself, checked with
        jobctl.engine.runs.run_definition; `marks`: what an idempotency key leaves on the run, given back
        as RunState.marks (jobctl.model.request)."""
        ...

    def pause(self, *, run_ids: Sequence[str], seconds: float, until_end: bool = False) -> None:
        """Wait `seconds` between two reads of these runs (a wait's poll); may return sooner when one of
        them has changed (the local backend: as a run's supervisor ends). `until_end`: the caller waits for
        the runs to end, not for their logs: a backend told of every end may pause longer."""
        ...

    def get_run(self, *, run_id: str) -> RunState: ...

    def get_runs(self, *, run_ids: Sequence[str]) -> list[RunState]:
        """These runs as they are now, in order (with as few calls as the backend can: what wait polls)."""
        ...

    def list_runs(
        self, *, job_id: str | None = None, states: Collection[str] | None = None, limit: int | None = None,
    ) -> list[RunState]:
        """Newest first."""
        ...

    def stream_runs(
        self, *, job_ids: Sequence[str] | None = None, states: Collection[str] | None = None, after: str | None = None,
    ) -> RunStream:
        """The runs of these jobs (or of every job), newest first, fetched a page at a time as they are taken;
        `after`: a token from an earlier stream's `token()` (`runs --page`), to resume after its last run."""
        ...

    def find_runs(self, ref: str, *, job_id: str | None = None) -> list[RunState]:
        """The runs named `ref`, else those whose id starts with `ref` (at most 11, newest first), without
        listing every run where the backend can ask for them."""
        ...

    def cancel_run(self, *, run_id: str) -> RunState: ...

    def read_logs(self, *, run_id: str, cursor: str | None = None, limit: int | None = None) -> LogBatch: ...

    def tail_logs(self, *, run_id: str, lines: int) -> LogBatch:
        """The last `lines` lines, with a cursor to follow from."""
        ...

    def copy_log_text(self, *, run_id: str, out: BinaryIO) -> None:
        """Every line logged so far, as text (the fast path of a plain `jobctl logs` into a pipe)."""
        ...

    def print_log(self, *, run_id: str, out: BinaryIO, view: LogView) -> str | None:
        """Write the lines of the log `view` asks for, as UTF-8, straight from the backend's own bytes
        when it has a way to, and return the cursor after them (to follow from); None when it has none (the
        caller then pages read_logs itself)."""
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


def copy_log_text(backend: Backend, run_id: str, out: BinaryIO) -> None:
    """copy_log_text for a backend with no faster way: page through read_logs."""
    cursor: str | None = None
    while True:
        batch = backend.read_logs(run_id=run_id, cursor=cursor)
        if not batch.lines:
            return
        out.write("".join(line.text + "\n" for line in batch.lines).encode())
        cursor = batch.cursor


BackendFactory = Callable[["Settings"], Backend]

# name -> "module:function"; the function takes the typed settings the CLI built.
REGISTRY: dict[str, str] = {
    "local": "jobctl.backends.local.backend:create",
    "memory": "jobctl.backends.memory:create",
    "oci": "jobctl.backends.oci:create",
}


def create_backend(name: str, settings: Settings) -> Backend:
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

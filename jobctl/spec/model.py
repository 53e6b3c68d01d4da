"""The desired state of a job as a spec declares it: its definition (the field table) and its source."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from jobctl.errors import Diagnostic
from jobctl.model.definition import replace
from jobctl.model.job import JobDefinition
from jobctl.model.record import Record
from jobctl.model.table import from_document


class Origin(NamedTuple):
    """Where a spec was declared, for messages."""

    file: str
    line: int


class JobSpec(Record):
    """One `kind: Job` document: the job's definition (without its artifact digest) and its source."""

    __slots__ = ("definition", "origin", "sites", "source")
    _uncompared = frozenset({"origin", "sites"})
    definition: JobDefinition
    source: Path | None  # absolute, resolved against the spec file's directory
    origin: Origin | None
    # where fields were written, for errors found after loading: spec path -> its place, as written
    sites: Mapping[str, Diagnostic]

    def __init__(self, definition: JobDefinition, source: Path | None = None, origin: Origin | None = None,
                 sites: Mapping[str, Diagnostic] | None = None) -> None:
        sites = {} if sites is None else sites
        self._assign(locals())

    def site(self, path: str) -> Diagnostic:
        """`path` where the spec wrote it (file, line, column, the field as written), without a message yet."""
        if path in self.sites:
            return self.sites[path]
        return Diagnostic(self.origin.file if self.origin else self.name, self.origin.line if self.origin else 1, 1,
                          path, "")

    @property
    def name(self) -> str:
        return self.definition.name


def job_from_document(
    data: Mapping[str, Any], base_dir: Path, origin: Origin, entrypoint: str | None = None,
) -> JobSpec:
    """Build a JobSpec from a document that has passed schema validation.

    `entrypoint`: the entry file a single-file source implies, where the spec leaves it out.
    """
    definition = JobDefinition(**from_document(JobDefinition, data))
    if entrypoint is not None:
        definition = replace(definition, entrypoint=entrypoint)
    definition = _normalized_paths(definition)
    source = data["spec"]["runtime"].get("source")
    return JobSpec(definition, None if source is None else (base_dir / source).resolve(), origin)


def _normalized_paths(definition: JobDefinition) -> JobDefinition:
    """Directory paths the way the job stores them (`sub/`, `./sub` and `sub/.` are `sub`), so a plan
    compares like with like."""
    import posixpath

    def norm(path: str | None) -> str | None:
        return None if path is None else posixpath.normpath(path)

    return replace(definition, working_dir=norm(definition.working_dir), output_dir=norm(definition.output_dir),
                   python_path=tuple(posixpath.normpath(p) for p in definition.python_path))

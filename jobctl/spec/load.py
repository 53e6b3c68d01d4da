"""Load spec files and directories into JobSpecs, collecting every problem in every file at once."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from jobctl.errors import Diagnostic, SpecError
from jobctl.spec.document import Document, read_documents
from jobctl.spec.interpolate import Interpolator
from jobctl.spec.model import JobSpec, Origin, job_from_document
from jobctl.spec.schema import validate_document

SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadResult:
    jobs: tuple[JobSpec, ...]
    diagnostics: tuple[Diagnostic, ...]
    files: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.diagnostics

    def raise_for_errors(self) -> None:
        if self.diagnostics:
            raise SpecError(self.diagnostics, hint="run `jobctl validate` on these files for details")


def expand_paths(paths: Iterable[str]) -> tuple[list[tuple[Path, str]], list[Diagnostic]]:
    """Files as given, and every *.yaml/*.yml below a directory (sorted, hidden entries skipped)."""
    found: list[tuple[Path, str]] = []
    problems: list[Diagnostic] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            matches = sorted(
                p for p in path.rglob("*")
                if p.suffix in SPEC_SUFFIXES and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not matches:
                problems.append(Diagnostic(given, 1, 1, "<file>", "directory holds no *.yaml or *.yml files"))
            found.extend((p, str(p)) for p in matches)
        elif path.exists():
            found.append((path, given))
        else:
            problems.append(Diagnostic(given, 1, 1, "<file>", "no such file or directory"))
    return found, problems


def load_specs(paths: Iterable[str], environ: Mapping[str, str] | None = None) -> LoadResult:
    """Read, interpolate, schema-validate and check every document under `paths`."""
    env = os.environ if environ is None else environ
    files, problems = expand_paths(paths)
    jobs: list[JobSpec] = []
    first_seen: dict[str, Origin] = {}
    for path, shown in files:
        interpolator = Interpolator(env, shown)
        documents, file_problems = read_documents(path, shown, interpolator)
        problems.extend(file_problems)
        if any(d.data.get("kind") == "job" for d in documents):  # ADS job YAML (imported only when seen)
            from jobctl.spec.ads import translate_ads_documents

            documents, ads_problems = translate_ads_documents(documents, interpolator.diagnostics)
            problems.extend(ads_problems)
        problems.extend(interpolator.diagnostics)
        for document in documents:
            failed = {d.path for d in interpolator.diagnostics}
            schema_problems = [d for d in validate_document(document) if d.path not in failed]
            if failed and not schema_problems:
                continue
            if schema_problems:
                problems.extend(schema_problems)
                continue
            origin = Origin(shown, document.position(("metadata", "name"))[0])
            job = job_from_document(document.data, path.parent, origin)
            checked, job_problems = _check_job(job, document)
            problems.extend(job_problems)
            if job.name in first_seen:
                other = first_seen[job.name]
                problems.append(document.diagnostic(
                    ("metadata", "name"),
                    f"job name {job.name!r} is also defined at {other.file}:{other.line}",
                ))
            else:
                first_seen[job.name] = origin
            jobs.append(checked)
    return LoadResult(tuple(jobs), tuple(sorted(set(problems))), tuple(shown for _, shown in files))


def _check_job(job: JobSpec, document: Document) -> tuple[JobSpec, list[Diagnostic]]:
    """What the schema cannot know: that source and entrypoint exist where the spec says."""
    runtime = job.runtime
    if runtime.source is None:
        return job, []
    source_path = ("spec", "runtime", "source")
    given = document.data["spec"]["runtime"]["source"]
    try:
        source = runtime.source.resolve(strict=True)
    except FileNotFoundError:
        shown = Path(document.file).parent / given
        return job, [document.diagnostic(source_path, f"source {given!r} does not exist ({shown})")]
    except (OSError, RuntimeError) as exc:
        return job, [document.diagnostic(source_path, f"source {given!r} cannot be resolved: {exc}")]
    entry_path = ("spec", "runtime", "entrypoint")
    if source.is_file():
        if runtime.entrypoint not in (None, source.name):
            message = f"source is the single file {source.name!r}; entrypoint must be that file or be omitted"
            return job, [document.diagnostic(entry_path, message)]
        new_runtime = dataclasses.replace(runtime, entrypoint=source.name) if runtime.type != "container" else runtime
        return dataclasses.replace(job, runtime=new_runtime), []
    if not source.is_dir():
        return job, [document.diagnostic(source_path, f"source {given!r} is neither a file nor a directory")]
    if runtime.entrypoint is None:
        if runtime.type == "container":
            return job, []
        return job, [document.diagnostic(
            ("spec", "runtime"), "entrypoint is required when source is a directory", at_key=True,
        )]
    entry = (source / runtime.entrypoint).resolve()
    if not entry.is_relative_to(source):
        return job, [document.diagnostic(entry_path, f"entrypoint {runtime.entrypoint!r} points outside source")]
    if not entry.is_file():
        return job, [document.diagnostic(
            entry_path, f"entrypoint {runtime.entrypoint!r} not found in source {given!r}",
        )]
    return job, []

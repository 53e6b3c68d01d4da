"""From an existing job (managed or made in the console) back to a jobctl/v1 spec and its source.

`export` writes the spec and the unpacked artifact; `observe_for_adoption` fills in what OCI cannot
say about an unmanaged job (runtime type, entry file, artifact digest) from its downloaded artifact,
so `apply --adopt` can compare it field by field with the spec.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any, NamedTuple

from jobctl.artifact import DRIVER, build_artifact, extract_zip, zip_root
from jobctl.backends.base import Backend
from jobctl.model.definition import replace
from jobctl.model.job import JobDefinition, JobState
from jobctl.model.table import to_document
from jobctl.secrets import MIN_SECRET_LENGTH, is_secret
from jobctl.spec.starter import NAME_PATTERN, default_name


class Source(NamedTuple):
    """An artifact laid out as a spec's `source`: where, the entry file, the runtime type, the digest."""

    path: Path
    entrypoint: str | None
    runtime_type: str
    digest: str


def materialize(backend: Backend, job: JobState, directory: Path) -> Source | None:
    """Download the job's artifact into `directory`: a zip is unpacked into `src/`, a file kept as is."""
    definition = job.definition
    assert definition is not None
    directory.mkdir(parents=True, exist_ok=True)
    downloaded = backend.download_artifact(job_id=job.id, directory=directory)
    if downloaded is None:
        return None
    if downloaded.suffix == ".zip":
        source = directory / "src"
        extract_zip(downloaded, source)
        # OCI's layout: the source is the zip's root directory (which holds the driver, for a driven job)
        root = zip_root(downloaded, DRIVER if definition.driven else definition.entry_file)
        downloaded.unlink()
        source = source / root if root else source
        if definition.driven:  # jobctl's driver goes into every artifact of such a job: it is no source file
            (source / DRIVER).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                (source / DRIVER).parent.rmdir()
            if not any(source.iterdir()):  # the driver was all of it: the code comes from git or inputs
                import shutil

                shutil.rmtree(directory / "src", ignore_errors=True)
                return None
        runtime = definition.runtime_type if definition.runtime_type in ("python", "shell", "notebook") else "python"
        return Source(source, definition.entry_file, runtime, build_artifact(source, driver=definition.driven).digest)
    runtime = "shell" if downloaded.suffix == ".sh" else "python"
    return Source(downloaded, None, runtime, build_artifact(downloaded).digest)


def observe_for_adoption(backend: Backend, job: JobState) -> JobState:
    """The job with its definition completed from its artifact (for an unmanaged job OCI cannot say)."""
    full = backend.get_job(job_id=job.id)
    assert full.definition is not None
    if full.definition.runtime_type == "container" or full.definition.git_url:
        return full
    import tempfile  # (and shutil, above) only where used: export of a job needs neither (issue 18)

    with tempfile.TemporaryDirectory(prefix="jobctl-adopt-") as temp:
        source = materialize(backend, full, Path(temp))
    if source is None:
        return full
    entrypoint = source.entrypoint or source.path.name
    definition = replace(full.definition, runtime_type=source.runtime_type, entrypoint=entrypoint,
                                     artifact_digest=source.digest)
    return full.replace(definition=definition)


def spec_name(job: JobState) -> str:
    name = job.managed_name or job.name
    return name if NAME_PATTERN.match(name) else default_name(name)


def spec_document(d: JobDefinition, name: str, source: Source | None, base: Path) -> dict[str, Any]:
    """The jobctl/v1 document for a definition; `source` paths are written relative to `base`."""
    fields = to_document(replace(d, name=name))
    runtime = fields["spec"]["runtime"]
    if source is not None:
        runtime["type"] = source.runtime_type
        runtime.pop("entrypoint", None)
        runtime["source"] = "./" + source.path.relative_to(base).as_posix()
        if source.entrypoint:
            runtime["entrypoint"] = source.entrypoint
    return {"apiVersion": "jobctl/v1", "kind": "Job", **fields}


def _envs(document: dict[str, Any]) -> list[tuple[dict[str, str], str]]:
    """Each env map of a spec document, with the suffix that names its secrets' ${NAME} references:
    none for the job's, `_<GROUP>` for a node group's (`DB_PASSWORD_WORKERS`)."""
    found = [(document["spec"]["runtime"].get("env", {}), "")]
    found += [(group.get("env", {}), "_" + re.sub(r"[^A-Z0-9]", "_", group["name"].upper()))
              for group in document["spec"].get("nodes", {}).get("groups", [])]
    return found


def _as_written(node: Any, secrets: dict[str, str]) -> Any:
    """Every string as a spec must spell it to interpolate back to itself (`$` as `$$`), with each
    secret value, wherever it was copied (args, a description, a URL in another env var), written as
    a `${NAME}` reference to the secret env var it came from."""
    if isinstance(node, dict):
        return {key: _as_written(value, secrets) for key, value in node.items()}
    if isinstance(node, list):
        return [_as_written(item, secrets) for item in node]
    if isinstance(node, str):
        text = node.replace("$", "$$")
        for name, value in sorted(secrets.items(), key=lambda item: -len(item[1])):
            text = text.replace(value, f"${{{name}}}")
        return text
    return node


class Exported(NamedTuple):
    spec: Path
    referenced: tuple[str, ...]  # secret env vars written as ${NAME} instead of their values


def _reference_names(entries: list[tuple[int, str, str, str]]) -> tuple[dict[tuple[int, str], str], dict[str, str]]:
    """For secret entries (place, key, value, the name its reference would have): each one's ${NAME}, a
    name taken by another value getting a number (DB_PASSWORD of group a-b and of group a_b), and the
    values by name."""
    names: dict[tuple[int, str], str] = {}
    values: dict[str, str] = {}
    for place, key, value, wanted in entries:
        name, n = wanted, 1
        while values.get(name, value) != value:
            n += 1
            name = f"{wanted}_{n}"
        names[(place, key)], values[name] = name, value
    return names, values


def _write(spec: Path, header: str, document: dict[str, Any]) -> None:
    """The spec, mode 0600 (also when the file was there before, with a wider mode). A file that already says
    it (an export again) is left as it is: truncating and rewriting it made ext4 write it back at once, ~0.2-2 ms
    of an `export` (issue 18)."""
    from jobctl.paths import write_private
    from jobctl.spec.yamlwrite import dump

    text = header + dump(document)
    with contextlib.suppress(OSError):
        if spec.read_bytes() == text.encode():
            spec.chmod(0o600)
            return
    spec.parent.mkdir(parents=True, exist_ok=True)
    write_private(spec, text)


def _secrets_note(referenced: tuple[str, ...]) -> str:
    return (f"# Secret values are not written here: set {', '.join(referenced)} in the environment of "
            "`jobctl apply` (or export with --include-secrets).\n") if referenced else ""


def export_job(backend: Backend, job: JobState, directory: Path, *, include_secrets: bool = False) -> Exported:
    """Write `<directory>/<name>/job.yaml` (mode 0600) and the job's source next to it.

    Env values are written so that interpolation gives them back (`$` as `$$`); a secret one is written
    as a `${NAME}` reference to the environment of whoever applies the spec, unless include_secrets.
    """
    full = backend.get_job(job_id=job.id)
    assert full.definition is not None
    name = spec_name(full)
    target = directory / name
    # a container job has no source, nor has a job whose code comes from git (its artifact is jobctl's driver)
    no_source = full.definition.runtime_type == "container" or full.definition.git_url
    source = None if no_source else materialize(backend, full, target)
    document = spec_document(full.definition, name, source, target)
    names, values = _reference_names([(place, key, env[key], key + suffix)
                                      for place, (env, suffix) in enumerate(_envs(document))
                                      for key in env if not include_secrets and is_secret(key)])
    referenced = tuple(sorted(values))
    secrets = {name: value.replace("$", "$$") for name, value in values.items() if len(value) >= MIN_SECRET_LENGTH}
    document = _as_written(document, secrets)
    for place, (env, _) in enumerate(_envs(document)):
        for key in env:
            if (place, key) in names:
                env[key] = f"${{{names[(place, key)]}}}"
    spec = target / "job.yaml"
    header = f"# Exported by jobctl from job {full.id} ({full.name}).\n"
    if name != full.name and not full.managed:
        header += f"# Its display name is not a jobctl name: kept as metadata.displayName, named {name!r}.\n"
    _write(spec, header + _secrets_note(referenced), document)
    return Exported(spec, referenced)


def _variable(key: str) -> str:
    """An environment variable's name for a key (spark.hadoop.secret.key: SPARK_HADOOP_SECRET_KEY)."""
    return re.sub(r"[^A-Za-z0-9]", "_", key).upper()


def export_application(held: Any, application_id: str, directory: Path, *,
                       include_secrets: bool = False) -> Exported:
    """Write `<directory>/<name>/application.yaml` (mode 0600) for a Data Flow application, with its code next
    to it as `source` where jobctl put it (with codeUri), else its `fileUri` as it is. Secret-looking Spark
    properties (spark.driverEnv.DB_PASSWORD) and parameters are written as ${NAME} references, unless
    include_secrets;
    `${name}` in arguments stays: those are OCI's parameter placeholders."""
    from jobctl.model.application import DRIVER_ENV, EXECUTOR_ENV

    _, d, _ = held.read(application_id)
    name = d.name if NAME_PATTERN.match(d.name) else default_name(d.name)
    target = directory / name
    document: dict[str, Any] = {"apiVersion": "jobctl/v1", "kind": "DataFlowApplication", **to_document(
        replace(d, name=name, owner_tags={}, artifact_digest=None))}
    spec = document["spec"]
    code = held.code(application_id) if d.code_uri or d.file_uri is None else None
    if code is not None:
        filename, content = code
        target.mkdir(parents=True, exist_ok=True)
        (target / filename).write_bytes(content)
        spec.pop("fileUri", None)
        spec["source"] = f"./{filename}"
    else:
        spec.pop("codeUri", None)
    maps = ("configuration", "parameters")  # secret-named entries of either: ${NAME} references
    names, values = _reference_names([
        (place, key, text, _variable(key.removeprefix(DRIVER_ENV).removeprefix(EXECUTOR_ENV)))
        for place, field in enumerate(maps) for key, text in spec.get(field, {}).items()
        if not include_secrets and is_secret(key)])
    referenced = tuple(sorted(values))
    secrets = {name: value.replace("$", "$$") for name, value in values.items() if len(value) >= MIN_SECRET_LENGTH}
    arguments = spec.pop("arguments", None)  # as they are: interpolation leaves them alone
    document = _as_written(document, secrets)
    if arguments is not None:
        document["spec"]["arguments"] = arguments
    for place, field in enumerate(maps):
        for key in document["spec"].get(field, {}):
            if (place, key) in names:
                document["spec"][field][key] = f"${{{names[(place, key)]}}}"
    path = target / "application.yaml"
    header = f"# Exported by jobctl from Data Flow application {application_id} ({d.display_name or d.name}).\n"
    _write(path, header + _secrets_note(referenced), document)
    return Exported(path, referenced)

"""Job artifacts: a deterministic zip of `runtime.source`, identified by a digest of its content.

The digest covers each entry's path, mode and content — not the zip bytes — so it is the same on
every machine whatever zlib compresses to; the spec hash (and so the plan) depends on it.
Never included: VCS and cache directories, env files, private keys and credential files
(ALWAYS_IGNORED), anything matched by a `.jobctlignore` in the source directory (gitignore semantics,
via pathspec: `!`, `**`, a trailing `/`), and anything a symlink would pull in from outside. The same
rules hold for a single-file source, and `check_source` applies them for `validate` as for `plan`.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import IO, NamedTuple

from jobctl.digest import sha256
from jobctl.model.job import JobDefinition
from jobctl.model.record import Record
from jobctl.source import ArtifactError, check_file, walk

# shutil, tempfile and zipfile are imported where used: a local run's supervisor imports this
# module for `run_environment` alone.

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1024 * 1024


class Entry(NamedTuple):
    name: str  # posix path inside the artifact
    path: Path
    executable: bool
    sha256: str
    size: int


class Artifact(Record):
    """What gets uploaded for a job: a single file as is, or a zip of a directory."""

    __slots__ = ("digest", "entries", "filename", "is_zip")
    digest: str  # "sha256:<hex>" over entries
    filename: str
    entries: tuple[Entry, ...]  # a zip's names start with its root directory
    is_zip: bool

    def __init__(self, digest: str, filename: str, entries: tuple[Entry, ...], is_zip: bool) -> None:
        self._assign(locals())

    @property
    def root(self) -> str | None:
        """The one directory a zip holds everything under (OCI requires it, named as the archive)."""
        return self.filename.removesuffix(".zip") if self.is_zip else None

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    def write_to(self, out: IO[bytes]) -> None:
        """Write the artifact bytes: the file itself, or a zip with sorted entries and fixed times."""
        import shutil
        import zipfile

        if not self.is_zip:
            with self.entries[0].path.open("rb") as fh:
                shutil.copyfileobj(fh, out, _CHUNK)
            return
        with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
            for entry in self.entries:
                info = zipfile.ZipInfo(entry.name, date_time=ZIP_EPOCH)
                info.external_attr = ((0o755 if entry.executable else 0o644) | 0o100000) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with entry.path.open("rb") as src, archive.open(info, "w", force_zip64=True) as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)

    def open(self) -> IO[bytes]:
        """A rewindable stream of the artifact bytes (spills to disk past 16 MiB)."""
        import tempfile

        spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - returned
        self.write_to(spool)
        spool.seek(0)
        return spool


DRIVER = ".jobctl/driver.py"  # where a driven job's artifact holds jobctl's driver, under its root directory
# the variables run_environment derives for the driver (the OCI mapping folds them back into the spec's fields)
DRIVER_VARIABLES = (r"JOBCTL_(ENTRYPOINT|WORKING_DIR|PYTHON_PATH|ENTRY_FUNCTION|UPLOAD_DIR|UPLOAD_URI|GIT_[A-Z_]+|"
                    r"NOTEBOOK[A-Z_]*|EXCLUDE_TAGS|COMMAND|PIP_[A-Z_]+|INPUTS)")


def build_artifact(source: Path, *, driver: bool = False) -> Artifact:
    """Collect the entries of `source` (a file or a directory) and compute the content digest. With
    `driver`, the artifact also holds jobctl's run driver (jobctl/driver.py) at <root>/.jobctl/driver.py,
    and a single-file source is zipped under a root directory named as the file (train.py -> train/)."""
    root = source.resolve()
    if root.is_file() and not driver:
        check_file(root, root.name)
        entries = [_entry(root.name, root)]
        filename, is_zip = root.name, False
    else:
        # OCI's "Preparing Job Artifacts": all code under one root directory, named as the archive, and
        # JOB_RUN_ENTRYPOINT names the entry file under it (<root>/train.py)
        if root.is_file():
            check_file(root, root.name)
            top, found = root.stem or "source", [(root.name, root)]
        else:
            top, found = root.name or "source", sorted(walk(root))
        entries = [_entry(f"{top}/{name}", path) for name, path in found]
        if driver and any(name == DRIVER for name, _ in found):
            raise ArtifactError(f"source {source} holds {DRIVER}, where jobctl puts its run driver: rename it")
        if driver:
            entries.append(_driver_entry(top))
        filename, is_zip = f"{top}.zip", True
    return _artifact(filename, entries, is_zip)


def build_driver_artifact(root: str) -> Artifact:
    """The artifact of a job whose code comes from git: jobctl's driver alone, under `root`/, which clones
    the repository when the run starts (OCI needs an artifact all the same)."""
    return _artifact(f"{root}.zip", [_driver_entry(root)], True)


def _artifact(filename: str, entries: list[Entry], is_zip: bool) -> Artifact:
    """The artifact of these entries, with its digest over each entry's path, mode and content."""
    digest = sha256()
    for entry in entries:
        digest.update(f"{entry.name}\0{int(entry.executable)}\0{entry.sha256}\n".encode())
    return Artifact(f"sha256:{digest.hexdigest()}", filename, tuple(entries), is_zip)


def _driver_entry(root: str) -> Entry:
    return _entry(f"{root}/{DRIVER}", Path(__file__).with_name("driver.py"))


def _entry(name: str, path: Path) -> Entry:
    sha = sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return Entry(name, path, os.access(path, os.X_OK), sha.hexdigest(), size)


def zip_root(archive_path: Path, entry: str | None = None) -> str | None:
    """The one top-level directory every entry of a zip is under, if there is one (and, given `entry`,
    if it holds that file: a zip made before jobctl followed OCI's layout may hold one directory only)."""
    import zipfile

    with zipfile.ZipFile(archive_path) as archive:
        names = archive.namelist()
    tops = {name.split("/", 1)[0] for name in names}
    if len(tops) != 1 or not all("/" in name for name in names):
        return None
    top = tops.pop()
    return top if entry is None or f"{top}/{entry}" in names else None


def extract_zip(archive_path: Path, destination: Path) -> None:
    """Unpack a zip artifact, refusing any entry that would land outside `destination`; keeps modes."""
    import zipfile

    destination.mkdir(parents=True, exist_ok=True)
    root = destination.resolve()
    with zipfile.ZipFile(archive_path) as archive:
        for info in archive.infolist():
            target = (destination / info.filename).resolve()
            if not target.is_relative_to(root):
                raise ArtifactError(f"artifact entry {info.filename!r} would land outside {destination}")
            archive.extract(info, destination)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)


def run_environment(definition: JobDefinition, root: str | None) -> dict[str, str]:
    """The variables that start a run's code, the same on OCI and locally: JOB_RUN_ENTRYPOINT (the file
    OCI's job runner runs, under the zip's root directory), and for a driven job what jobctl's driver
    reads (jobctl/driver.py). `root`: the zip's root directory, None for a single-file artifact."""
    entry = definition.entry_file
    if not definition.driven or not root:
        return {"JOB_RUN_ENTRYPOINT": f"{root}/{entry}" if root else entry} if entry else {}
    env = {"JOB_RUN_ENTRYPOINT": f"{root}/{DRIVER}"}
    base = f"{root}/"  # the code's paths: under the artifact's root, or the repository's own for git
    if definition.git_url:
        base = ""
        env.update({name: value for name, value in (
            ("JOBCTL_GIT_URL", definition.git_url), ("JOBCTL_GIT_BRANCH", definition.git_branch),
            ("JOBCTL_GIT_COMMIT", definition.git_commit), ("JOBCTL_GIT_SECRET_ID", definition.git_secret_id),
        ) if value})
    if entry:
        env["JOBCTL_ENTRYPOINT"] = base + entry
    if definition.runtime_type == "notebook" and entry:  # run in the notebook's directory, which is what is uploaded
        env["JOBCTL_NOTEBOOK"] = "1"
        env["JOBCTL_WORKING_DIR"] = posixpath.dirname(base + entry)
        if definition.exclude_tags:
            env["JOBCTL_EXCLUDE_TAGS"] = json.dumps(list(definition.exclude_tags))
        if definition.notebook_encoding:
            env["JOBCTL_NOTEBOOK_ENCODING"] = definition.notebook_encoding
    elif definition.working_dir:
        env["JOBCTL_WORKING_DIR"] = (base + definition.working_dir).rstrip("/").removesuffix("/.") or "."
    for name, value in (("JOBCTL_PYTHON_PATH", ":".join(definition.python_path)),
                        ("JOBCTL_COMMAND", definition.command), ("JOBCTL_ENTRY_FUNCTION", definition.entry_function),
                        ("JOBCTL_PIP_REQUIREMENTS", definition.pip_requirements),
                        ("JOBCTL_PIP_PACKAGES", definition.pip_packages),
                        ("JOBCTL_INPUTS", json.dumps(dict(definition.inputs), sort_keys=True) if definition.inputs
                         else None),
                        # a notebook's outputDir defaults to its directory, as in ADS; python's needs both
                        ("JOBCTL_UPLOAD_URI", definition.output_uri), ("JOBCTL_UPLOAD_DIR", definition.output_dir)):
        if value:
            env[name] = value
    return env


def driver_fields(env: Mapping[str, str], root: str | None) -> dict[str, object]:
    """The spec fields a job's driver variables stand for (run_environment read back)."""
    def inside(path: str | None) -> str | None:
        if path is None or not root or "JOBCTL_GIT_URL" in env:
            return path
        return "." if path == root else path.removeprefix(f"{root}/")

    python_path = env.get("JOBCTL_PYTHON_PATH")
    common = {
        "git_url": env.get("JOBCTL_GIT_URL"), "git_branch": env.get("JOBCTL_GIT_BRANCH"),
        "git_commit": env.get("JOBCTL_GIT_COMMIT"), "git_secret_id": env.get("JOBCTL_GIT_SECRET_ID"),
        "output_dir": env.get("JOBCTL_UPLOAD_DIR"), "output_uri": env.get("JOBCTL_UPLOAD_URI"),
        "pip_requirements": env.get("JOBCTL_PIP_REQUIREMENTS"), "pip_packages": env.get("JOBCTL_PIP_PACKAGES"),
        "inputs": json.loads(env.get("JOBCTL_INPUTS", "{}")),
    }
    if env.get("JOBCTL_NOTEBOOK"):  # its working directory is the notebook's own: no field of its own
        return {**common, "exclude_tags": tuple(json.loads(env.get("JOBCTL_EXCLUDE_TAGS", "[]"))),
                "notebook_encoding": env.get("JOBCTL_NOTEBOOK_ENCODING")}
    return {
        **common,
        "command": env.get("JOBCTL_COMMAND"), "working_dir": inside(env.get("JOBCTL_WORKING_DIR")),
        "python_path": tuple(python_path.split(":")) if python_path else (),
        "entry_function": env.get("JOBCTL_ENTRY_FUNCTION"),
    }


def file_digests(path: Path) -> dict[str, str]:
    """Each file of an artifact as held (a zip's members, or the one file) by its sha256: what a plan compares
    with the artifact a spec now builds, to say which files changed."""
    import zipfile

    if path.suffix != ".zip":
        return {path.name: sha256(path.read_bytes()).hexdigest()}

    found: dict[str, str] = {}
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            if not member.is_dir():
                found[member.filename] = sha256(archive.read(member)).hexdigest()
    return found


def changed_files(old: dict[str, str], new: Artifact) -> tuple[tuple[str, str], ...]:
    """("+", name), ("-", name), ("~", name) for each file the new artifact adds, drops or changes, by name."""
    now = {entry.name: entry.sha256.removeprefix("sha256:") for entry in new.entries}
    return tuple(sorted([*(("+", n) for n in now if n not in old), *(("-", n) for n in old if n not in now),
                         *(("~", n) for n in now if n in old and old[n] != now[n])], key=lambda item: item[1]))

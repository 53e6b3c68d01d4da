"""What a job's source may hold, checked without reading file contents (artifact.py builds from it).

Start-up matters: `validate` runs these checks, so this module imports nothing heavy.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path

from jobctl.errors import ExitCode, JobctlError

IGNORE_FILE = ".jobctlignore"
# Names never uploaded, wherever they are: matched against each file and directory name.
# Matched without regard to case (Secret.PEM, ID_RSA).
CREDENTIALS = (
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.tfstate", "*.tfstate.*",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc", ".git-credentials", ".pypirc", ".npmrc",
    ".pgpass", ".htpasswd", "credentials.json", "kubeconfig", ".aws", ".oci", ".ssh", ".docker", ".kube",
    ".gnupg",
)
ALWAYS_IGNORED = (
    ".git", ".hg", ".svn", "__pycache__", "*.pyc", ".DS_Store", ".venv", ".mypy_cache", ".pytest_cache",
    IGNORE_FILE, *CREDENTIALS,
)
MAX_FILES = 20_000
MAX_BYTES = 2 * 1024**3  # a larger source is almost certainly a mistake (data belongs in Object Storage)


class ArtifactError(JobctlError):
    exit_code = ExitCode.INVALID_SPEC


def check_source(given: Path, project: Path) -> None:
    """Everything `build_artifact` would refuse, without reading file contents (for `validate`).

    `given` is the source as the spec names it (symlinks not yet followed), `project` the spec's
    directory: a single-file source that is a symlink must point inside it (a directory source may be a
    link: its entries are checked one by one, and links inside it must stay inside it).
    """
    target = given.resolve()
    if target.is_file():
        if given.is_symlink() and not target.is_relative_to(project.resolve()):
            raise ArtifactError(f"source {given.name!r} is a symlink to {target}, outside the spec's directory",
                                hint="copy the file into the project instead of linking to it")
        check_file(target, given.name, project)
        return
    for _ in walk(target):
        pass


def check_file(path: Path, given_name: str, project: Path | None = None) -> None:
    """A single-file source obeys the same rules as a file inside a source directory (and, given the
    spec's directory, so do the directories between it and the file: nothing under .ssh/ or .aws/)."""
    rules = Rules(path.parent)
    if project is not None and path.is_relative_to(project.resolve()):
        for part in path.relative_to(project.resolve()).parts[:-1]:
            if rules.builtin(part):
                raise ArtifactError(f"source {given_name!r} is in {part}/, a directory jobctl never uploads from",
                                    hint="point source at the code the job runs; pass secrets as env")
    for name in {given_name, path.name}:
        _check_name(path.parent, name)
        if rules.ignored(name, name, is_dir=False):
            raise ArtifactError(
                f"source {given_name!r} is a file jobctl never uploads"
                + (" (a key, credential or env file)" if rules.builtin(name) else f" (excluded by {IGNORE_FILE})"),
                hint="point source at the code the job runs; pass secrets as env",
            )


@functools.cache
def _always_ignored() -> tuple[frozenset[str], re.Pattern[str]]:
    """ALWAYS_IGNORED as the names it spells out and one pattern of its globs, lowercased (fnmatch compiling
    each glob on its own cost ~2 ms of every validate and plan)."""
    lowered = [pattern.lower() for pattern in ALWAYS_IGNORED]
    globs = [pattern for pattern in lowered if any(char in pattern for char in "*?[")]
    return frozenset(lowered) - frozenset(globs), re.compile("|".join(map(fnmatch.translate, globs)))


def _check_name(root: Path, rel: str) -> None:
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:
        raise ArtifactError(f"source {root}: the file name {rel!r} is not valid UTF-8",
                            hint="rename it, or list it in .jobctlignore") from None


class Rules:
    """What a source leaves out: ALWAYS_IGNORED by name, and `.jobctlignore` with gitignore semantics."""

    def __init__(self, root: Path) -> None:
        self.spec = None
        ignore_file = root / IGNORE_FILE
        if ignore_file.is_file():
            import pathspec  # ~10 ms: only for sources that have an ignore file

            lines = ignore_file.read_text(encoding="utf-8", errors="replace").splitlines()
            self.spec = pathspec.GitIgnoreSpec.from_lines(lines)

    @staticmethod
    def builtin(name: str) -> bool:
        lowered = name.lower()
        names, globs = _always_ignored()
        return lowered in names or globs.match(lowered) is not None

    def ignored(self, rel: str, name: str, *, is_dir: bool) -> bool:
        if self.builtin(name):
            return True
        return self.spec is not None and bool(self.spec.match_file(f"{rel}/" if is_dir else rel))

    def excluded(self, rel: str) -> bool:
        """Is the file at `rel` (a path inside the source) left out, by its name or any directory above it?"""
        parts = rel.split("/")
        return any(self.ignored("/".join(parts[: i + 1]), part, is_dir=i < len(parts) - 1)
                   for i, part in enumerate(parts))


def walk(root: Path) -> Iterator[tuple[str, Path]]:
    rules = Rules(root)
    count = 0
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        rel_dir = base.relative_to(root).as_posix()
        kept_dirs = []
        for d in sorted(dirnames):
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            if rules.ignored(rel, d, is_dir=True):
                continue
            _check_name(root, rel)
            if (base / d).is_symlink():
                _check_inside(root, base / d, rel)
                continue  # a symlinked directory inside source would duplicate content: skip it
            kept_dirs.append(d)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if rules.ignored(rel, name, is_dir=False):
                continue
            _check_name(root, rel)
            path = base / name
            if path.is_symlink():
                _check_inside(root, path, rel)
                if rules.excluded(path.resolve().relative_to(root).as_posix()):
                    continue  # a link to a file the source leaves out (notes.txt -> secret.pem): left out too
            if not path.is_file():
                continue  # sockets, fifos, dangling links
            count += 1
            total += path.stat().st_size
            if count > MAX_FILES:
                raise ArtifactError(
                    f"source {root} has more than {MAX_FILES} files",
                    hint=f"list what the job does not need in {root / IGNORE_FILE}",
                )
            if total > MAX_BYTES:
                raise ArtifactError(
                    f"source {root} is larger than {MAX_BYTES // 1024**3} GiB",
                    hint="keep data in Object Storage and read it from the job",
                )
            yield rel, path


def _check_inside(root: Path, path: Path, rel: str) -> None:
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ArtifactError(f"source {root}: entry {rel!r} is a broken or looping symlink ({reason})",
                            hint="remove the link, or list it in .jobctlignore") from exc
    if not target.is_relative_to(root):
        raise ArtifactError(
            f"source {root}: entry {rel!r} is a symlink to {target}, outside the source directory",
            hint="copy the file into the source, or list it in .jobctlignore",
        )



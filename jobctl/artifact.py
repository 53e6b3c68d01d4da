"""Job artifacts: a deterministic zip of `runtime.source`, identified by a digest of its content.

The digest covers each entry's path, mode and content — not the zip bytes — so it is the same on
every machine whatever zlib compresses to; the spec hash (and so the plan) depends on it.
Never included: VCS and cache directories, `.env`, private keys, anything matched by a
`.jobctlignore` in the source directory, and anything a symlink would pull in from outside.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from jobctl.errors import ExitCode, JobctlError

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
IGNORE_FILE = ".jobctlignore"
ALWAYS_IGNORED = (
    ".git", ".hg", ".svn", "__pycache__", "*.pyc", ".env", ".env.*", "*.pem", "*.key",
    "id_rsa*", "id_ed25519*", ".DS_Store", ".venv", ".mypy_cache", ".pytest_cache", IGNORE_FILE,
)
MAX_FILES = 20_000
MAX_BYTES = 2 * 1024**3  # a larger source is almost certainly a mistake (data belongs in Object Storage)
_CHUNK = 1024 * 1024


class ArtifactError(JobctlError):
    exit_code = ExitCode.INVALID_SPEC


@dataclass(frozen=True)
class Entry:
    name: str  # posix path inside the artifact
    path: Path
    executable: bool
    sha256: str
    size: int


@dataclass(frozen=True)
class Artifact:
    """What gets uploaded for a job: a single file as is, or a zip of a directory."""

    digest: str  # "sha256:<hex>" over entries
    filename: str
    entries: tuple[Entry, ...]
    is_zip: bool

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    def write_to(self, out: IO[bytes]) -> None:
        """Write the artifact bytes: the file itself, or a zip with sorted entries and fixed times."""
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
        spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - returned
        self.write_to(spool)
        spool.seek(0)
        return spool


def build_artifact(source: Path) -> Artifact:
    """Collect the entries of `source` (a file or a directory) and compute the content digest."""
    root = source.resolve()
    if root.is_file():
        entries = [_entry(root.name, root)]
        filename, is_zip = root.name, False
    else:
        entries = [_entry(name, path) for name, path in sorted(_walk(root))]
        filename, is_zip = f"{root.name or 'source'}.zip", True
    digest = hashlib.sha256()
    for entry in entries:
        digest.update(f"{entry.name}\0{int(entry.executable)}\0{entry.sha256}\n".encode())
    return Artifact(f"sha256:{digest.hexdigest()}", filename, tuple(entries), is_zip)


def _entry(name: str, path: Path) -> Entry:
    sha = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return Entry(name, path, os.access(path, os.X_OK), sha.hexdigest(), size)


def _ignore_patterns(root: Path) -> list[str]:
    patterns = list(ALWAYS_IGNORED)
    ignore_file = root / IGNORE_FILE
    if ignore_file.is_file():
        for raw in ignore_file.read_text(encoding="utf-8", errors="replace").splitlines():
            line = raw.strip()
            if line and not line.startswith("#"):
                patterns.append(line.rstrip("/"))
    return patterns


def _ignored(rel: str, name: str, patterns: list[str]) -> bool:
    """gitignore-like: a pattern matches a name anywhere, or, with a '/' in it, a path from the root."""
    for pattern in patterns:
        if "/" in pattern:
            if fnmatch.fnmatch(rel, pattern.lstrip("/")):
                return True
        elif fnmatch.fnmatch(name, pattern):
            return True
    return False


def _walk(root: Path) -> Iterator[tuple[str, Path]]:
    patterns = _ignore_patterns(root)
    count = 0
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(dirpath)
        rel_dir = base.relative_to(root).as_posix()
        kept_dirs = []
        for d in sorted(dirnames):
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            if _ignored(rel, d, patterns):
                continue
            if (base / d).is_symlink():
                _check_inside(root, base / d, rel)
                continue  # a symlinked directory inside source would duplicate content: skip it
            kept_dirs.append(d)
        dirnames[:] = kept_dirs
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if _ignored(rel, name, patterns):
                continue
            path = base / name
            if path.is_symlink():
                _check_inside(root, path, rel)
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


def extract_zip(archive_path: Path, destination: Path) -> None:
    """Unpack a zip artifact, refusing any entry that would land outside `destination`; keeps modes."""
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

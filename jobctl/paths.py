"""Directories and files jobctl keeps for itself: private to the user, whatever the umask."""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from pathlib import Path

from jobctl.errors import ConfigError

NOTHING_LOST = "the state database is intact"


def ensure_private_dir(path: Path) -> None:
    """Create `path` (and any parents it needs) readable by the owner only. One that exists open to others is
    tightened when it is the user's own; one other users share (theirs, or sticky like /tmp) is refused: jobctl
    would lock them out of it, or keep private files where others can plant theirs."""
    previous = os.umask(0o077)
    try:
        path.mkdir(parents=True, exist_ok=True)
    finally:
        os.umask(previous)
    stat = path.stat()
    if stat.st_mode & 0o077:
        if stat.st_uid != os.geteuid() or stat.st_mode & 0o1000:
            raise ConfigError(f"{path} is a directory other users share (mode {stat.st_mode & 0o7777:o}): jobctl "
                              "keeps private files in it", hint="point it at a directory of your own")
        path.chmod(0o700)


def on_path(env: Mapping[str, str], name: str) -> str | None:
    """shutil.which's PATH search, without importing shutil (which loads zlib, bz2 and lzma): a listing builds
    the settings too, and a single run's launcher imports the supervisor before it can serve; neither pays for
    the archive modules."""
    path = env.get("PATH", os.defpath)
    for folder in path.split(os.pathsep) if path else ():  # as shutil.which: PATH='' finds nothing
        found = os.path.join(folder, name)
        if os.path.isfile(found) and os.access(found, os.X_OK):
            return found
    return None


def copy_file(source: Path, target: Path) -> Path:
    """`shutil.copy2` of one file (its bytes, mode and times) without importing shutil, which loads zlib, bz2 and
    lzma: ~2 ms of every `export`, and of the launcher's start (issue 18)."""
    with source.open("rb") as src, target.open("wb") as dst:
        stat = os.fstat(src.fileno())
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    os.chmod(target, stat.st_mode & 0o7777)
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return target


def write_private(path: Path, text: str) -> None:
    """`text` in a file only its owner may read or write (0600, also when it was there before with a wider
    mode): a spec holding secret references, a run's Spark properties."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)


def disk_full(path: Path) -> bool:
    """True when the file system holding `path` (or its nearest existing parent) has no space left."""
    for candidate in (path, *path.parents):
        try:
            stats = os.statvfs(candidate)
        except OSError:
            continue
        return stats.f_bavail * stats.f_frsize < 64 * 1024
    return False


def storage_error(path: Path, exc: OSError, doing: str) -> ConfigError:
    """One clear, exit-6 error for a file jobctl could not write: which path, and why in plain words."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or disk_full(path):
        return ConfigError(f"cannot {doing} {path}: no space left on its device",
                           hint="free some space on it (the work/ directories of finished runs under "
                                f"$JOBCTL_HOME/runs can go; `jobctl gc` does that once there is room); {NOTHING_LOST}")
    if exc.errno == errno.EROFS:
        return ConfigError(f"cannot {doing} {path}: the file system is read-only",
                           hint=f"point JOBCTL_HOME at a writable directory; {NOTHING_LOST}")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return ConfigError(f"cannot {doing} {path}: permission denied",
                           hint=f"check the owner and mode of {path}; {NOTHING_LOST}")
    return ConfigError(f"cannot {doing} {path}: {exc.strerror or exc}")

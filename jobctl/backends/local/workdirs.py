"""The automatic pruning of local runs' work directories as runs start (what `jobctl gc` also removes: gc.py).

Apart from gc.py, whose reports and removals a run's start does not need: the prune runs after every start.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from jobctl.model.job import ACTIVE_STATES

if TYPE_CHECKING:
    from jobctl.backends.local import LocalBackend


def active_placeholders() -> str:
    """SQL placeholders for ACTIVE_STATES."""
    return ",".join("?" * len(ACTIVE_STATES))


def old_workdirs(backend: LocalBackend, keep: int, job_id: str | None = None) -> list[tuple[str, Path]]:
    """(run id, work dir) of finished runs beyond the newest `keep` of each job (of one job if given)."""
    sql = (f"SELECT id, job_id FROM runs WHERE state NOT IN ({active_placeholders()})"
           + (" AND job_id = ?" if job_id else "") + " ORDER BY job_id, created DESC, id DESC")
    params = (*ACTIVE_STATES, *((job_id,) if job_id else ()))
    seen: dict[str, int] = {}
    found = []
    for row in backend.store.query(sql, params):
        seen[row["job_id"]] = seen.get(row["job_id"], 0) + 1
        work = backend.home / "runs" / row["id"] / "work"
        if seen[row["job_id"]] > keep and work.is_dir():
            found.append((row["id"], work))
    return found


def prune_workdirs(backend: LocalBackend, job_id: str, keep: int) -> None:
    """Called as a run starts: keep the work dirs of the job's newest `keep` finished runs only."""
    for _, work in old_workdirs(backend, keep, job_id):
        remove_tree(work)


def remove_tree(top: Path) -> None:
    """What `shutil.rmtree(top, ignore_errors=True)` does, without importing shutil, which imports zlib, bz2 and
    lzma: ~3 ms of the start of every run of a job with more than `keep` runs. Symbolic links are removed, never
    followed (a workload may leave one to anywhere); what cannot be removed stays."""
    for root, dirs, files in os.walk(top, topdown=False):  # a link to a directory is listed in dirs, not walked
        for name in files:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(root, name))
        for name in dirs:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                os.unlink(path) if os.path.islink(path) else os.rmdir(path)
    with contextlib.suppress(OSError):
        os.rmdir(top)

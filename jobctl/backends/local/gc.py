"""Retention for the local backend: what `jobctl gc` removes, and the automatic pruning of work directories.

A run's `work/` directory is its unpacked artifact plus whatever the workload wrote there: scratch, like
a job run's block volume on OCI, which the service discards when the run ends. Logs, outputs and
result files are small and are what users come back for, so they are kept until the run itself goes.
Nothing that belongs to an active run is ever touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from jobctl.backends.local.store import run_dir
from jobctl.backends.local.workdirs import active_placeholders, old_workdirs
from jobctl.model.job import ACTIVE_STATES

if TYPE_CHECKING:
    from jobctl.backends.local import LocalBackend

GRACE_SECONDS = 3600.0  # an artifact or partial file younger than this may belong to an apply in flight


@dataclass
class Removal:
    kind: str  # "workdir", "run", "artifact", "partial"
    path: Path
    size: int
    run_id: str | None = None


@dataclass
class Report:
    removals: list[Removal] = field(default_factory=list)

    @property
    def freed(self) -> int:
        return sum(r.size for r in self.removals)

    def count(self, kind: str) -> int:
        return sum(1 for r in self.removals if r.kind == kind)


def size_of(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def collect(backend: LocalBackend, *, keep_workdirs: int, older_than: float | None, dry_run: bool) -> Report:
    """Find (and unless dry_run remove) what retention allows: see `jobctl gc --help`."""
    report = Report()
    now = time.time()
    finished = f"state NOT IN ({active_placeholders()})"
    gone_runs: dict[str, Path] = {}
    for row in backend.store.query(
        f"SELECT id FROM runs WHERE {finished} AND job_id NOT IN (SELECT id FROM jobs) "
        "AND job_id NOT IN (SELECT id FROM applications)", tuple(ACTIVE_STATES),
    ):
        gone_runs[row["id"]] = run_dir(backend.home, row["id"])
    if older_than is not None:
        for row in backend.store.query(
            f"SELECT id FROM runs WHERE {finished} AND created < ?", (*ACTIVE_STATES, now - older_than),
        ):
            gone_runs[row["id"]] = run_dir(backend.home, row["id"])
    for run_id, directory in gone_runs.items():
        report.removals.append(Removal("run", directory, size_of(directory), run_id))
    for run_id, work in old_workdirs(backend, keep_workdirs):
        if run_id not in gone_runs:
            report.removals.append(Removal("workdir", work, size_of(work), run_id))

    referenced = {Path(row["artifact_path"]).parent for row in backend.store.query(
        "SELECT artifact_path FROM jobs WHERE artifact_path IS NOT NULL UNION "
        "SELECT source_path FROM applications WHERE source_path IS NOT NULL")}
    artifacts = backend.home / "artifacts"
    if artifacts.is_dir():
        for folder in artifacts.iterdir():
            if not folder.is_dir() or folder in referenced:
                continue
            if now - folder.stat().st_mtime < GRACE_SECONDS:
                continue
            report.removals.append(Removal("artifact", folder, size_of(folder)))
        for partial in artifacts.glob("*/.*.partial"):
            if partial.parent in referenced and now - partial.stat().st_mtime >= GRACE_SECONDS:
                report.removals.append(Removal("partial", partial, partial.stat().st_size))
    if not dry_run:
        _remove(backend, report)
    return report


def remove_run_dirs(backend: LocalBackend, run_ids: list[str]) -> None:
    """The directories of runs whose rows are gone (a deleted job's)."""
    for run_id in run_ids:
        shutil.rmtree(run_dir(backend.home, run_id), ignore_errors=True)


def _remove(backend: LocalBackend, report: Report) -> None:
    runs = [r.run_id for r in report.removals if r.kind == "run" and r.run_id]
    if runs:
        with backend.store.transaction() as db:  # rows first: a run is never listed without its directory
            placeholders = ",".join("?" * len(runs))
            db.execute(f"DELETE FROM runs WHERE id IN ({placeholders}) AND state NOT IN ({active_placeholders()})",
                       (*runs, *ACTIVE_STATES))
    for removal in report.removals:
        if removal.path.is_dir():
            shutil.rmtree(removal.path, ignore_errors=True)
        else:
            removal.path.unlink(missing_ok=True)

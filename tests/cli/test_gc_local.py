"""Retention on the local backend (issue 12 item 7): work directories are pruned as runs start, `jobctl gc`
reclaims the rest, and neither touches an active run or the logs and outputs users come back for."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_lifecycle_local import (
    Run,
    applied,
    as_json,
    in_state,
    job_doc,
    ok,
    runs_of,
    start,
    until,
    write_spec,
)


def finished_run(jobctl: Run, job: str = "demo", *env: str) -> str:
    result = ok(jobctl("run", job, "--wait", *[a for pair in env for a in ("--env", pair)]))
    return runs_of(jobctl, job)[0]["id"] if result else ""


def work(home: Path, run_id: str) -> Path:
    return home / "runs" / run_id / "work"


@pytest.fixture
def demo_home(jobctl: Run, tmp_path: Path, isolated_env: Path) -> Path:
    applied(jobctl, write_spec(tmp_path / "specs", job_doc()))
    return isolated_env


def test_starting_a_run_keeps_the_work_dirs_of_the_newest_n_finished_runs_only(
    jobctl: Run, demo_home: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBCTL_KEEP_WORKDIRS", "2")
    runs = [finished_run(jobctl) for _ in range(4)]
    assert [work(demo_home, r).is_dir() for r in runs] == [False, True, True, True]
    assert "last line" in ok(jobctl("logs", runs[0])).stdout  # the log and the record stay


def test_pruning_a_work_dir_removes_its_links_and_never_what_they_point_to(
    jobctl: Run, demo_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setenv("JOBCTL_KEEP_WORKDIRS", "1")
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "kept.txt").write_text("mine")
    first = finished_run(jobctl)
    nested = work(demo_home, first) / "scratch" / "nested"
    nested.mkdir(parents=True)
    (nested / "data.bin").write_bytes(b"x" * 100)
    (nested / "to-dir").symlink_to(outside)
    (work(demo_home, first) / "to-file").symlink_to(outside / "deep" / "kept.txt")
    later = [finished_run(jobctl) for _ in range(2)]  # the second of them prunes all but the newest ended run
    assert not work(demo_home, first).exists()
    assert work(demo_home, later[1]).is_dir()
    assert (outside / "deep" / "kept.txt").read_text() == "mine"


def test_gc_removes_old_work_dirs_keeps_logs_and_dry_run_changes_nothing(jobctl: Run, demo_home: Path) -> None:
    runs = [finished_run(jobctl) for _ in range(3)]
    before = sum(f.stat().st_size for r in runs for f in work(demo_home, r).rglob("*") if f.is_file())
    dry = as_json(ok(jobctl("-o", "json", "gc", "--keep-workdirs", "1", "--dry-run")))
    assert dry["dryRun"] is True
    assert sorted(item["runId"] for item in dry["items"]) == sorted(runs[:2])
    assert all(work(demo_home, r).is_dir() for r in runs)
    said = ok(jobctl("gc", "--keep-workdirs", "1")).stdout
    assert said.startswith("Removed 2 work directories, 0 runs, 0 artifacts, 0 partial files:"), said
    assert [work(demo_home, r).is_dir() for r in runs] == [False, False, True]
    assert before > 0
    for run_id in runs:
        assert "last line" in ok(jobctl("logs", run_id)).stdout
    assert ok(jobctl("gc", "--keep-workdirs", "1")).stdout.startswith("Removed 0 work directories")


def test_deleting_a_job_removes_its_runs_and_gc_its_artifact_but_not_what_is_in_use(
    jobctl: Run, demo_home: Path, tmp_path: Path,
) -> None:
    other = write_spec(tmp_path / "other", job_doc("other"))
    with (other.parent / "workload.py").open("a") as source:
        source.write("# another artifact\n")
    applied(jobctl, other)
    gone = finished_run(jobctl, "other")
    ok(jobctl("delete", "other", "--yes"))
    assert not (demo_home / "runs" / gone).exists()  # its runs went with it, as on OCI
    assert gone not in json.dumps(runs_of(jobctl))
    kept = finished_run(jobctl, "demo")
    active = start(jobctl, "demo", "--env", "SLEEP=30")
    until(lambda: in_state(jobctl, active, "IN_PROGRESS"), what="the run to start")
    artifacts = set((demo_home / "artifacts").iterdir())
    assert len(artifacts) == 2
    past = time.time() - 7200
    for folder in artifacts:  # as if applied two hours ago: past the grace period for applies in flight
        os.utime(folder, (past, past))
    report: Any = as_json(ok(jobctl("-o", "json", "gc", "--keep-workdirs", "0", "--older-than", "10d")))
    kinds = sorted((item["kind"], item["runId"]) for item in report["items"])
    assert kinds == sorted([("workdir", kept), ("artifact", None)])
    assert report["bytesFreed"] == sum(item["bytes"] for item in report["items"]) > 0
    assert work(demo_home, active).is_dir()  # an active run is never touched
    assert len(list((demo_home / "artifacts").iterdir())) == 1
    assert jobctl("cancel", active, "--wait").exit_code == 8
    ok(jobctl("run", "demo", "--wait"))  # the job still runs: its artifact was kept


def test_gc_older_than_removes_whole_finished_runs(jobctl: Run, demo_home: Path) -> None:
    old, new = finished_run(jobctl), finished_run(jobctl)
    db = sqlite3.connect(demo_home / "state.db")
    with db:  # as if `old` had run two days ago
        db.execute("UPDATE runs SET created = created - 2 * 86400 WHERE id = ?", (old,))
    db.close()
    ok(jobctl("gc", "--older-than", "1d"))
    ids = [r["id"] for r in runs_of(jobctl)]
    assert new in ids
    assert old not in ids
    assert not (demo_home / "runs" / old).exists()


def test_gc_is_for_the_local_backend_only(jobctl: Run) -> None:
    result = jobctl("--backend", "memory", "gc")
    assert result.exit_code == 2
    assert "local backend" in result.stderr


@pytest.mark.parametrize(("name", "value", "says"), [
    ("JOBCTL_KEEP_WORKDIRS", "two", "a whole number of runs"),
    ("JOBCTL_KEEP_WORKDIRS", "-1", "a whole number of runs"),
    ("JOBCTL_DB_BUSY_TIMEOUT", "nan", "a number of seconds"),
    ("JOBCTL_OCI_POLL_SECONDS", "fast", "a number of seconds"),
    ("JOBCTL_OCI_LOG_SETTLE", "-3", "a number of seconds"),
    ("JOBCTL_OCI_RETRY", "bogus", "one of: fast (or unset)"),
    ("JOBCTL_OCI_ENDPOINT", "notaurl", "an http(s) URL"),
])
def test_a_bad_setting_in_the_environment_is_a_usage_error_naming_it(  # noqa: PLR0917 - parametrized
    jobctl: Run, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str,
) -> None:
    monkeypatch.setenv(name, value)
    result = jobctl("jobs")
    assert result.exit_code == 6  # a configuration problem
    assert f"{name} must be {says}, not {value!r}" in result.stderr
    assert "Traceback" not in result.stderr

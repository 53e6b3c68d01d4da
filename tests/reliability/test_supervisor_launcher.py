"""Local runs whose supervisors are forked by a launcher (issue 18; docs/decisions/0017-supervisor-launcher.md).

What a user sees must not change: a matrix's runs all succeed with their logs; a cancel ends them all;
a run is never reported lost while its supervisor lives, not even while the command that started it
is still starting others; and whatever dies mid-start (the command, by kill -9, or its launcher) every
run ends or keeps running, none stays ACCEPTED forever.

The launcher is found the way a user would find it: in the process table, by its command line and the
JOBCTL_HOME in its environment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jobctl.backends.local import procs, spawn
from tests.cli.test_lifecycle_local import ACTIVE, get_run, ok, runs_of, until, write_spec
from tests.conftest import Result

Run = Callable[..., Result]
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED")


def launchers(home: Path) -> list[int]:
    """The launchers of jobctl commands using this JOBCTL_HOME (by the line `ps` shows: their own, then
    what they retitle themselves to)."""
    marker = f"\0JOBCTL_HOME={home}\0".encode()
    return [pid for pid in procs.marked_processes(marker)
            if (spawn.LAUNCHER.encode() in cmdline(pid) or cmdline(pid) == b"jobctl supervisor launcher")
            and procs.start_time(pid) is not None]


def the_launcher(home: Path) -> int:
    """The launcher of the command using this JOBCTL_HOME, once it is the only process showing its line: a
    supervisor it has just forked shows the same until it retitles itself, its first step (which made `[launcher]
    = launchers(...)` fail one run in many, on a loaded machine)."""
    found: list[int] = until(lambda: len(pids := launchers(home)) == 1 and pids, what="the launcher to start")
    return found[0]


def cmdline(pid: int) -> bytes:
    """What `ps` shows of the process (and every user may read), without its trailing NULs."""
    try:
        return (procs.PROC / str(pid) / "cmdline").read_bytes().rstrip(b"\0")
    except OSError:
        return b""


def supervisor_pids(home: Path) -> dict[str, int]:
    """Run id -> its supervisor's pid, of every run recorded with one."""
    with sqlite3.connect(home / "state.db", timeout=5) as db:
        rows = db.execute("SELECT id, supervisor_pid FROM runs WHERE supervisor_pid IS NOT NULL").fetchall()
    return dict(rows)


def parent_of(pid: int) -> int:
    return int((procs.PROC / str(pid) / "stat").read_text().rpartition(")")[2].split()[1])


def recorded_runs(home: Path) -> int:
    try:
        with sqlite3.connect(home / "state.db", timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM runs").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


@pytest.fixture
def demo(jobctl: Run, tmp_path: Path) -> Path:
    spec = write_spec(tmp_path / "specs")
    ok(jobctl("apply", str(spec)))
    return spec


@pytest.fixture(autouse=True)
def no_run_left(jobctl: Run) -> Iterator[None]:
    """A failing test leaves no sleeping workload behind."""
    yield
    active = [r["id"] for r in runs_of(jobctl) if r["lifecycleState"] in ACTIVE]
    if active:
        jobctl("cancel", *active, "--wait", "--timeout", "20s")


def matrix(count: int) -> str:
    """One run per model: MODEL=m0,m1,... (the workload prints its MODEL)."""
    return "MODEL=" + ",".join(f"m{i}" for i in range(count))


def start_matrix(count: int, *options: str) -> subprocess.Popen[str]:
    """`jobctl -v run demo --matrix MODEL=m0,... --wait` as a real process, as a user starts it."""
    return subprocess.Popen(
        [sys.executable, "-m", "jobctl", "-v", "run", "demo", "--matrix", matrix(count), "--yes", "--wait", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


@contextlib.contextmanager
def starts_held(home: Path, at_least: int) -> Iterator[int]:
    """Once `at_least` runs are recorded, hold the database's write lock, so that the starts under way
    wait where they record their run: what the body does lands in the middle of the matrix's start.
    Yields how many runs were recorded."""
    until(lambda: recorded_runs(home) >= at_least, what="the matrix to be starting")
    db = sqlite3.connect(home / "state.db", timeout=30, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        yield int(db.execute("SELECT count(*) FROM runs").fetchone()[0])
        db.execute("ROLLBACK")
    finally:
        db.close()


def all_ended(jobctl: Run, count: int) -> list[dict[str, Any]] | None:
    runs = runs_of(jobctl, "demo")
    return runs if len(runs) == count and all(r["lifecycleState"] in TERMINAL for r in runs) else None


def test_a_50_run_matrix_all_succeed_with_their_logs_while_others_read_them(
    jobctl: Run, demo: Path, isolated_env: Path,
) -> None:
    """Reads while the matrix starts reap runs whose supervisor is gone: none may look gone meanwhile."""
    command = start_matrix(50, "--env", "SLEEP=0.5")
    try:
        reads = 0
        while command.poll() is None:  # every listing checks each active run's lock
            states = {r["lifecycleState"] for r in runs_of(jobctl, "demo")}
            assert "FAILED" not in states
            reads += 1
        out, err = command.communicate(timeout=60)
    finally:
        command.kill()
    assert command.returncode == 0, err
    assert reads >= 1
    runs = runs_of(jobctl, "demo")
    assert len(runs) == 50
    assert {r["lifecycleState"] for r in runs} == {"SUCCEEDED"}
    assert sorted(r["env"]["MODEL"] for r in runs) == sorted(f"m{i}" for i in range(50))
    for run in runs:  # each workload ran with its own values, and its output is in its log
        logs = ok(jobctl("logs", run["id"])).stdout
        assert f"MODEL={run['env']['MODEL']}\n" in logs
        assert f"JOBCTL_RUN_ID={run['id']}\n" in logs
        assert logs.endswith("last line\n")
        assert run["id"] in out
    until(lambda: not launchers(isolated_env), timeout=10, what="the launcher to end with its command")


def test_cancel_of_a_matrix_ends_every_run_and_its_processes(jobctl: Run, demo: Path) -> None:
    started = ok(jobctl("run", "demo", "--matrix", matrix(12), "--env", "SLEEP=60")).stdout.split()
    assert len(started) == 12
    for run_id in started:
        until(lambda run_id=run_id: get_run(jobctl, run_id)["lifecycleState"] == "IN_PROGRESS",
              what=f"run {run_id} to start")
    canceled = jobctl("cancel", *started, "--wait", "--timeout", "30s")
    assert canceled.exit_code == 8, canceled.stderr  # every run ended CANCELED
    assert {get_run(jobctl, run_id)["lifecycleState"] for run_id in started} == {"CANCELED"}
    for run_id in started:
        until(lambda run_id=run_id: not procs.run_processes(run_id), what=f"the processes of {run_id} to end")


def test_kill_9_of_the_command_mid_matrix_leaves_no_run_stuck(jobctl: Run, demo: Path, isolated_env: Path) -> None:
    command = start_matrix(40, "--env", "SLEEP=1", "--max-parallel", "2")
    try:
        with starts_held(isolated_env, 5) as recorded:
            assert recorded < 40
            command.send_signal(signal.SIGKILL)
            command.wait(timeout=10)
    finally:
        command.kill()
    until(lambda: not launchers(isolated_env), timeout=10, what="the launcher to end with its command")
    runs = until(lambda: all_ended(jobctl, recorded_runs(isolated_env)), timeout=60,
                 what="every run the command recorded to end")
    assert 5 <= len(runs) < 40
    # each run was supervised to its end, or (recorded, never handed to a supervisor) found lost
    for run in runs:
        assert run["lifecycleState"] == "SUCCEEDED" or "runner lost" in run["details"], run
    assert [r for r in runs if r["lifecycleState"] == "SUCCEEDED"]


def test_runs_still_start_when_the_launcher_is_killed_mid_matrix(
    jobctl: Run, demo: Path, isolated_env: Path,
) -> None:
    """The command then starts each supervisor as a new interpreter, as before the launcher."""
    command = start_matrix(40, "--max-parallel", "2")
    try:
        launcher = the_launcher(isolated_env)
        with starts_held(isolated_env, 3) as recorded:
            assert recorded < 40
            os.kill(launcher, signal.SIGKILL)
            until(lambda: procs.start_time(launcher) is None, what="the launcher to die")
        _, err = command.communicate(timeout=120)
    finally:
        command.kill()
    assert command.returncode == 0, err
    said = [line for line in err.splitlines() if "launcher" in line]
    assert said == ["jobctl: the supervisor launcher is not used (it ended); starting supervisors directly"], err
    runs = runs_of(jobctl, "demo")
    assert len(runs) == 40
    assert {r["lifecycleState"] for r in runs} == {"SUCCEEDED"}
    assert all(f"JOBCTL_RUN_ID={r['id']}" in ok(jobctl("logs", r["id"])).stdout for r in runs)


def test_runs_start_without_a_launcher_that_cannot_start(
    jobctl: Run, demo: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(spawn, "LAUNCHER", "jobctl.backends.local.no_such_launcher")
    result = jobctl("run", "demo", "--matrix", matrix(3), "--wait")
    assert result.exit_code == 0, result.stderr
    runs = runs_of(jobctl, "demo")
    assert {r["lifecycleState"] for r in runs} == {"SUCCEEDED"}
    assert all("last line" in ok(jobctl("logs", r["id"])).stdout for r in runs)


def test_a_supervisor_forked_by_the_launcher_killed_with_sigkill_takes_its_workload_with_it(
    jobctl: Run, demo: Path, isolated_env: Path,
) -> None:
    run_id, other = ok(jobctl("run", "demo", "--env", "SLEEP=60", "--matrix", matrix(2))).stdout.split()
    until(lambda: "last line" in jobctl("logs", run_id).stdout, what="the workload to start")
    workload = until(lambda: procs.run_processes(run_id), what="the workload's process")
    supervisor = supervisor_pids(isolated_env)[run_id]
    assert parent_of(supervisor) != os.getpid()  # forked by a launcher, not started here as a new interpreter
    os.kill(supervisor, signal.SIGKILL)
    run = until(lambda: (r := get_run(jobctl, run_id))["lifecycleState"] in TERMINAL and r, what="the run to end")
    assert run["lifecycleState"] == "FAILED"
    assert "runner lost" in run["details"]
    until(lambda: all(procs.start_time(pid) is None for pid in workload), what="the workload to be killed")
    assert get_run(jobctl, other)["lifecycleState"] == "IN_PROGRESS"  # the other run's supervisor goes on


def test_every_supervisor_shows_as_jobctl_supervisor_run_id_however_started(
    jobctl: Run, demo: Path, isolated_env: Path,
) -> None:
    """`ps` showed a matrix's supervisors as their interpreter launcher's line (`python -m
    jobctl.backends.local.launcher 7`), and a supervisor started as a new interpreter as `python -m
    jobctl.backends.local.supervisor HOME RUN_ID 5.0`; a single run's forked supervisor already showed
    as `jobctl supervisor RUN_ID` (tests/reliability/test_forked_supervisor.py)."""
    command = start_matrix(3, "--env", "SLEEP=60")
    try:
        launcher = the_launcher(isolated_env)
        until(lambda: cmdline(launcher) == b"jobctl supervisor launcher", what=f"its title: {cmdline(launcher)!r}")
        matrix_runs = until(lambda: len(pids := supervisor_pids(isolated_env)) == 3 and pids, what="3 supervisors")
        [single] = ok(jobctl("run", "demo", "--env", "SLEEP=60")).stdout.split()
        interpreter = until(lambda: supervisor_pids(isolated_env).get(single), what="its supervisor")
        assert parent_of(interpreter) == os.getpid()  # a command run in-process never forks: a new interpreter
        pids = {**matrix_runs, single: interpreter}
        for run_id, pid in pids.items():
            until(lambda run_id=run_id, pid=pid: cmdline(pid) == f"jobctl supervisor {run_id}".encode(),
                  what=f"the supervisor of {run_id} to show its run: {cmdline(pid)!r}")
    finally:
        active = [r["id"] for r in runs_of(jobctl, "demo") if r["lifecycleState"] in ACTIVE]
        jobctl("cancel", *active, "--wait", "--timeout", "20s")
        command.kill()
        command.wait()

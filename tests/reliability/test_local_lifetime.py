"""A local run's processes and result under hostile conditions (issue 12, items 1–3).

- A run ended behind its supervisor's back (a wrong "runner lost", a deleted run directory) is never
  written back to IN_PROGRESS, and its workload is stopped.
- A supervisor killed with SIGKILL leaves no process of its run behind, not even a grandchild.
- A result is never lost when the database stays locked or the disk fills as the run ends: the
  result file holds it, reads show it, and it reaches the database once the database takes writes.

Processes are found the way `jobctl cancel` finds them: by JOBCTL_RUN_ID in their environment.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobctl.backends.local import procs
from tests.cli.test_lifecycle_local import until
from tests.conftest import Result
from tests.reliability.private_mount import run_with_tmpfs

Runner = Callable[..., Result]

# A workload that starts a grandchild (which would survive its parent), then waits for a gate file.
WORKLOAD = """\
import os, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
if os.environ.get("DAEMON"):  # one that leaves the process group, as a daemon does
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
print("started", flush=True)
gate = os.environ.get("GATE")
deadline = time.monotonic() + float(os.environ.get("HOLD", "120"))
while time.monotonic() < deadline and not (gate and os.path.exists(gate)):
    time.sleep(0.02)
if os.environ.get("FILL"):  # fill the disk, then keep printing into a log that cannot grow
    try:
        with open(os.path.join(os.environ["JOBCTL_OUTPUT_DIR"], "filler"), "wb") as out:
            while True:
                out.write(b"x" * 65536)
    except OSError as exc:
        print(f"disk full: {exc.errno}", flush=True)
    for i in range(2000):
        print(f"line {i} " + "y" * 200)
print("done", flush=True)
"""

SPEC = """\
apiVersion: jobctl/v1
kind: Job
metadata: {name: keeper}
spec:
  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}
  runtime: {type: python, source: ./workload.py, maxRuntimeInMinutes: 30}
"""


def write_job(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "workload.py").write_text(WORKLOAD)
    (directory / "job.yaml").write_text(SPEC)
    return directory / "job.yaml"


def get(jobctl: Runner, run_id: str) -> dict[str, Any]:
    shown = jobctl("-o", "json", "get", run_id)
    assert shown.exit_code == 0, shown.stderr
    return dict(json.loads(shown.stdout))


def start(jobctl: Runner, runs: list[str], *env: str) -> str:
    started = jobctl("run", "keeper", *[arg for pair in env for arg in ("--env", pair)])
    assert started.exit_code == 0, started.stderr
    run_id = started.stdout.strip()
    runs.append(run_id)
    return run_id


def db_row(home: Path, run_id: str) -> sqlite3.Row:
    db = sqlite3.connect(home / "state.db")
    db.row_factory = sqlite3.Row
    try:
        return db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        db.close()


def workload_running(run_id: str, count: int = 2) -> bool:
    """The workload and its grandchild (and its daemon) are up."""
    return len(procs.run_processes(run_id)) >= count


# --- item 1: state changes are compare-and-set; unknown is never dead ---------------------------------

def test_a_run_ended_behind_its_supervisors_back_stays_ended_and_its_workload_stops(
    jobctl: Runner, keeper: list[str], isolated_env: Path,
) -> None:
    run_id = start(jobctl, keeper)
    # what a wrong "runner lost" did: the run is recorded FAILED while its supervisor is starting up
    db = sqlite3.connect(isolated_env / "state.db")
    with db:
        db.execute("UPDATE runs SET state = 'FAILED', details = 'ended elsewhere' WHERE id = ?", (run_id,))
    db.close()
    until(lambda: not procs.run_processes(run_id), what="the workload to be stopped")
    until(lambda: db_row(isolated_env, run_id)["supervisor_pid"] and not _supervisor_alive(isolated_env, run_id),
          what="the supervisor to exit")
    shown = get(jobctl, run_id)
    assert (shown["lifecycleState"], shown["details"]) == ("FAILED", "ended elsewhere")


def test_a_live_supervisor_is_never_reported_lost_when_its_run_directory_is_deleted(
    jobctl: Runner, keeper: list[str], isolated_env: Path,
) -> None:
    """The lock file goes with the directory; the process table (pid and start time) decides. A run
    whose directory went before it started fails to start, and says so; none is called lost."""
    run_ids = [start(jobctl, keeper) for _ in range(3)]
    run_ids += [start(jobctl, keeper) for _ in range(3)]
    for run_id in run_ids[3:]:
        until(lambda run_id=run_id: workload_running(run_id), what=f"run {run_id} to start its workload")
    for run_id in run_ids:  # the first three while their supervisors are still starting up
        shutil.rmtree(isolated_env / "runs" / run_id)
        shown = get(jobctl, run_id)
        assert "runner lost" not in str(shown["details"]), shown
    for run_id in run_ids:
        canceled = jobctl("cancel", run_id, "--wait", "--timeout", "30")
        shown = get(jobctl, run_id)
        if shown["lifecycleState"] == "FAILED":
            assert str(shown["details"]).startswith("could not start"), shown
        else:
            assert (canceled.exit_code, shown["lifecycleState"]) == (8, "CANCELED"), canceled.stderr
        until(lambda run_id=run_id: not procs.run_processes(run_id), what=f"run {run_id}'s processes to end")
        until(lambda run_id=run_id: not _supervisor_alive(isolated_env, run_id), what="its supervisor to exit")
    assert {get(jobctl, run_id)["lifecycleState"] for run_id in run_ids[3:]} == {"CANCELED"}


def test_process_identity_is_pid_and_start_time() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        started = procs.start_time(child.pid)
        assert started is not None
        assert procs.liveness(child.pid, started) is procs.Liveness.ALIVE
        assert procs.liveness(child.pid, started + 1) is procs.Liveness.DEAD  # the pid was reused
        assert procs.liveness(child.pid, None) is procs.Liveness.UNKNOWN  # never "dead" on a guess
        child.kill()
        until(lambda: procs.start_time(child.pid) is None, what="the zombie to count as gone")
        assert procs.liveness(child.pid, started) is procs.Liveness.DEAD
    finally:
        child.kill()
        child.wait()


def _supervisor_alive(home: Path, run_id: str) -> bool:
    row = db_row(home, run_id)
    return procs.liveness(row["supervisor_pid"], row["supervisor_start"]) is not procs.Liveness.DEAD


# --- item 2: no workload outlives its supervisor --------------------------------------------------------

SUPERVISOR_KILLS = 50


def test_supervisors_killed_with_sigkill_leave_no_process_behind(
    jobctl: Runner, keeper: list[str], isolated_env: Path,
) -> None:
    """50 supervisors killed -9 mid-run: 0 orphaned workloads, grandchildren or daemons, every run FAILED."""
    values = ",".join(str(i) for i in range(SUPERVISOR_KILLS))
    started = jobctl("run", "keeper", "--matrix", f"I={values}", "--max-parallel", "10", "--env", "DAEMON=1")
    assert started.exit_code == 0, started.stderr
    run_ids = started.stdout.split()
    assert len(run_ids) == SUPERVISOR_KILLS
    keeper.extend(run_ids)
    for run_id in run_ids:
        until(lambda run_id=run_id: workload_running(run_id, 3), timeout=120.0, what=f"run {run_id}'s workload")
    killed = [db_row(isolated_env, run_id)["supervisor_pid"] for run_id in run_ids]
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    orphans = {}
    deadline = time.monotonic() + 30
    for run_id in run_ids:
        while (left := procs.run_processes(run_id)) and time.monotonic() < deadline:
            time.sleep(0.02)
        if left:
            orphans[run_id] = left
    assert not orphans, f"{len(orphans)} of {SUPERVISOR_KILLS} runs left processes behind: {orphans}"
    # a run is going while its lock is held: the supervisor's exit lets it go, maybe after its watchdog acted
    until(lambda: all(procs.start_time(pid) is None for pid in killed), what="the killed supervisors to be gone")
    listed = jobctl("-o", "json", "runs", "-n", "1000")
    states = {item["id"]: (item["lifecycleState"], item["details"]) for item in json.loads(listed.stdout)["items"]}
    assert {states[run_id][0] for run_id in run_ids} == {"FAILED"}
    assert all("runner lost" in states[run_id][1] for run_id in run_ids)


# A supervisor's start of its workload, cut short by SIGKILL: the watchdog is up (started first), the workload is
# "started" (running, marked) or "starting" (a vfork child that carries the marker only from its exec, which
# comes after this process died), and the watchdog was never told its group.
DIES_WHILE_STARTING = """\
import os, signal, subprocess, sys, time
from jobctl.backends.local.supervisor import Watchdog
run_id, moment = sys.argv[1], sys.argv[2]
Watchdog(run_id)
sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
env = {**os.environ, "JOBCTL_RUN_ID": run_id}
if moment == "started":
    pid = subprocess.Popen(sleeper, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL).pid
else:
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        for fd in (1, 2):  # the test reads this process's output to its end
            os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
        os.closerange(3, 1 << 16)  # as Popen's child does before its exec: the watchdog's pipe ends here
        while os.getppid() == parent:
            time.sleep(0.001)
        os.execve(sys.executable, sleeper, env)
print(pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc")
@pytest.mark.parametrize("moment", ["started", "starting"])
def test_a_supervisor_killed_before_it_named_the_workload_to_its_watchdog_leaves_no_workload(
    tmp_path: Path, moment: str,
) -> None:
    """The workload has no parent-death signal (so it starts by vfork); the watchdog started before it
    finds it by the run's marker, even one that takes the marker after the supervisor died."""
    run_id = f"run-window-{moment}-{os.getpid()}"
    script = tmp_path / "supervisor.py"
    script.write_text(DIES_WHILE_STARTING)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    ended = subprocess.run([sys.executable, str(script), run_id, moment], env=env, capture_output=True, text=True,
                           timeout=60, check=False)
    assert ended.returncode == -signal.SIGKILL, ended.stderr
    workload = int(ended.stdout)
    try:
        until(lambda: not alive(workload), timeout=30.0, what=f"the {moment} workload {workload} to be killed")
        assert not procs.run_processes(run_id)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(workload, signal.SIGKILL)


@pytest.mark.parametrize("ending", ["exits", "canceled"])
def test_no_process_of_a_run_outlives_its_end(
    jobctl: Runner, keeper: list[str], tmp_path: Path, ending: str,
) -> None:
    """A daemon the workload started (own session) went on forever after the run ended or was
    canceled; on OCI nothing outlives the run's machine."""
    gate = tmp_path / "gate"
    run_id = start(jobctl, keeper, "DAEMON=1", f"GATE={gate}")
    until(lambda: workload_running(run_id, 3), what="the workload and its daemon")
    if ending == "exits":
        gate.touch()
        assert jobctl("wait", run_id, "--timeout", "60").exit_code == 0
    else:
        assert jobctl("cancel", run_id, "--wait", "--timeout", "60").exit_code == 8
    until(lambda: not procs.run_processes(run_id), what="every process of the run to end")


def test_a_replaced_lock_file_does_not_make_a_live_run_lost(
    jobctl: Runner, keeper: list[str], isolated_env: Path,
) -> None:
    run_id = start(jobctl, keeper)
    until(lambda: get(jobctl, run_id)["lifecycleState"] == "IN_PROGRESS", what="the run to start")
    until(lambda: workload_running(run_id), what="the workload")
    lock = isolated_env / "runs" / run_id / "lock"
    lock.unlink()
    lock.touch()
    assert get(jobctl, run_id)["lifecycleState"] == "IN_PROGRESS"
    assert workload_running(run_id)
    assert jobctl("cancel", run_id, "--wait", "--timeout", "60").exit_code == 8


def test_cancel_stops_the_processes_of_a_run_whose_supervisor_is_gone(
    jobctl: Runner, keeper: list[str], isolated_env: Path,
) -> None:
    """Even a process that left the workload's group and outlived the watchdog is found and stopped."""
    run_id = start(jobctl, keeper)
    until(lambda: workload_running(run_id), what="the workload")
    escaped = subprocess.Popen(  # what a workload's daemon does: a session of its own, same environment
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True,
        env={**os.environ, procs.RUN_ID_VARIABLE: run_id},
    )
    try:
        os.kill(db_row(isolated_env, run_id)["supervisor_pid"], signal.SIGKILL)
        canceled = jobctl("cancel", run_id, "--wait", "--timeout", "30")
        assert canceled.exit_code in (1, 8), canceled.stderr  # lost before the cancel, or canceled
        until(lambda: escaped.poll() is not None, timeout=30.0,
              what=f"the escaped process {escaped.pid} to be killed; the run: {get(jobctl, run_id)}, cancel said "
                   f"{canceled.stderr!r}, its processes now: {procs.run_processes(run_id)}")
        assert not procs.run_processes(run_id)
    finally:
        escaped.kill()
        escaped.wait()


# --- item 3: the exit status survives a locked database and a full disk ---------------------------------

def test_a_result_survives_a_database_locked_past_the_busy_timeout(
    jobctl: Runner, keeper: list[str], isolated_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBCTL_DB_BUSY_TIMEOUT", "0.5")  # the supervisor and readers give up sooner
    gate = tmp_path / "gate"
    run_id = start(jobctl, keeper, f"GATE={gate}")
    until(lambda: get(jobctl, run_id)["lifecycleState"] == "IN_PROGRESS", what="the run to start")
    locker = sqlite3.connect(isolated_env / "state.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        gate.touch()
        until(lambda: not _supervisor_alive(isolated_env, run_id), what="the supervisor to give up and exit")
        assert db_row(isolated_env, run_id)["state"] == "IN_PROGRESS"  # the database never got the result
        shown = get(jobctl, run_id)  # read while still locked: the result file answers
        assert (shown["lifecycleState"], shown["exitCode"]) == ("SUCCEEDED", 0)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    shown = get(jobctl, run_id)
    assert (shown["lifecycleState"], shown["exitCode"]) == ("SUCCEEDED", 0)
    row = db_row(isolated_env, run_id)
    assert (row["state"], row["exit_code"]) == ("SUCCEEDED", 0)
    assert jobctl("wait", run_id).exit_code == 0


DISK_FULL_SCENARIO = """\
import time
spec, gate = sys.argv[1:3]
home = os.environ["JOBCTL_HOME"]
def get(run_id):
    shown = jobctl("-o", "json", "get", run_id)
    assert shown["code"] == 0, shown["err"]
    return json.loads(shown["out"])
assert jobctl("apply", spec)["code"] == 0
started = jobctl("run", "keeper", "--env", f"GATE={gate}", "--env", "FILL=1", "--env", "HOLD=60")
assert started["code"] == 0, started["err"]
run_id = started["out"].strip()
deadline = time.monotonic() + 60
while get(run_id)["lifecycleState"] != "IN_PROGRESS":
    assert time.monotonic() < deadline
    time.sleep(0.05)
open(gate, "w").close()
while get(run_id)["lifecycleState"] == "IN_PROGRESS":
    assert time.monotonic() < deadline
    time.sleep(0.05)
while_full = get(run_id)
os.remove(os.path.join(home, "runs", run_id, "outputs", "filler"))
after = get(run_id)
print(json.dumps({"while_full": while_full, "after": after, "wait": jobctl("wait", run_id)["code"]}))
"""


def test_a_result_survives_a_disk_that_fills_as_the_run_ends(tmp_path: Path) -> None:
    """JOBCTL_HOME on a 4 MiB tmpfs; the workload fills it, then prints into a log that can no longer
    grow, and exits 0."""
    outcome = run_with_tmpfs(tmp_path, DISK_FULL_SCENARIO, str(write_job(tmp_path / "spec")), str(tmp_path / "gate"))
    for when in ("while_full", "after"):
        shown = outcome[when]
        assert (shown["lifecycleState"], shown["exitCode"]) == ("SUCCEEDED", 0), (when, shown)
        assert "the log is incomplete" in shown["details"], shown
    assert outcome["wait"] == 0

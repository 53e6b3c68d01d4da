"""No process of a local run outlives it, whatever its environment says (red team, M5).

A daemon that only unsets or changes JOBCTL_RUN_ID carries no mark of its run, so the scan of
/proc/*/environ misses it; it is still a descendant of the run, and the supervisor, a child subreaper,
inherits it once its parent is gone. So once the workload has ended every child of the supervisor but
its watchdogs is a leftover of the run: it is killed (with its process group) and collected before the
end is recorded. docs/decisions/0006-local-run-lifetime.md.

The daemons are `sleep`s with durations no other test uses, found by their command line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest
import yaml

from jobctl.backends.local import procs
from tests.cli.test_lifecycle_local import ACTIVE, applied, get_run, ok, runs_of, until
from tests.conftest import Result

Run = Callable[..., Result]

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a child subreaper: Linux")

# Two daemons: one without the run's marker, one with another value of it; both leave the workload's
# session and its output. Then the workload waits for the test's gate (a minute at most) and exits 0.
SCRIPT = """\
env -u JOBCTL_RUN_ID setsid sleep "$UNMARKED" </dev/null >/dev/null 2>&1 &
JOBCTL_RUN_ID=x setsid sleep "$REMARKED" </dev/null >/dev/null 2>&1 &
i=0
while [ ! -e "$GATE" ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i + 1)); done
"""

ENDINGS = {  # how the run ends: (its state, how many workload processes start the two daemons)
    "exits": ("SUCCEEDED", 1),
    "canceled": ("CANCELED", 1),
    "times-out": ("FAILED", 1),
    "matrix": ("SUCCEEDED", 2),  # two runs: supervisors forked by the launcher
    "multi-node": ("SUCCEEDED", 4),  # two node groups of two replicas
}
_tags = count()


class Daemons:
    """The test's `sleep` daemons, by their unusual durations."""

    def __init__(self) -> None:
        tag = f"{os.getpid()}{next(_tags)}"
        self.unmarked, self.remarked = f"1011.{tag}", f"1013.{tag}"

    def alive(self) -> dict[int, str]:
        """pid -> duration of each daemon still running (a zombie has ended)."""
        found = {}
        for entry in procs.PROC.iterdir():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            duration = argv[1].decode(errors="replace") if len(argv) > 1 and argv[0].endswith(b"sleep") else ""
            if duration in (self.unmarked, self.remarked) and procs.start_time(int(entry.name)) is not None:
                found[int(entry.name)] = duration
        return found

    def kill(self) -> None:
        for pid in self.alive():
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def daemons(jobctl: Run) -> Iterator[Daemons]:
    """Whatever the test's outcome, no run of it stays active and none of its daemons lives on."""
    found = Daemons()
    yield found
    active = [run["id"] for run in runs_of(jobctl) if run["lifecycleState"] in ACTIVE]
    if active:
        jobctl("cancel", *active, "--wait", "--timeout", "20s")
    found.kill()


def leaver_spec(directory: Path, *, multi_node: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "leave.sh").write_text(SCRIPT)
    spec = {
        "infrastructure": {"shape": "VM.Standard2.1"},
        "runtime": {"type": "shell", "source": "./leave.sh", "maxRuntimeInMinutes": 1},
    }
    if multi_node:
        spec["nodes"] = {"groups": [{"name": "a", "replicas": 2}, {"name": "b", "replicas": 2}]}
    path = directory / "job.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "jobctl/v1", "kind": "Job", "metadata": {"name": "leaver"},
                                    "spec": spec}, sort_keys=False))
    return path


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_a_daemon_that_unsets_or_changes_the_runs_marker_does_not_outlive_its_run(
    jobctl: Run, tmp_path: Path, daemons: Daemons, monkeypatch: pytest.MonkeyPatch, ending: str,
) -> None:
    """Before: both daemons lived on after the run had ended, however it ended."""
    state, workloads = ENDINGS[ending]
    if ending == "times-out":
        monkeypatch.setenv("JOBCTL_LOCAL_TIME_SCALE", "0.05")  # maxRuntimeInMinutes 1 lasts 3 s
        monkeypatch.setenv("JOBCTL_KILL_GRACE", "0.5")
    applied(jobctl, leaver_spec(tmp_path / "spec", multi_node=ending == "multi-node"))
    gate = tmp_path / "gate"
    options = ["--env", f"UNMARKED={daemons.unmarked}", "--env", f"REMARKED={daemons.remarked}",
               "--env", f"GATE={gate}", *(["--matrix", "I=1,2"] if ending == "matrix" else [])]
    run_ids = ok(jobctl("run", "leaver", *options)).stdout.split()
    until(lambda: sorted(daemons.alive().values()) == sorted([daemons.unmarked, daemons.remarked] * workloads),
          what=f"the workload's daemons to start: {daemons.alive()}")
    if ending == "canceled":
        assert jobctl("cancel", *run_ids, "--wait", "--timeout", "60").exit_code == 8
    elif ending != "times-out":
        gate.touch()
    for run_id in run_ids:
        run = until(lambda run_id=run_id: (r := get_run(jobctl, run_id))["lifecycleState"] not in ACTIVE and r,
                    timeout=60.0, what=f"run {run_id} to end")
        assert run["lifecycleState"] == state, run
    # killed and collected before the end was recorded: nothing to wait for
    assert not daemons.alive(), f"the run ended {state}, its daemons live on"


LEFT_BEHIND = """\
import ctypes, os, subprocess, sys, time
from jobctl.backends.local import procs
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER, as a supervisor
spare = subprocess.Popen(["sleep", "30"])  # a watchdog's place: spared
subprocess.run(["sh", "-c", 'env -i setsid sh -c "sleep $1 & sleep $1" >/dev/null 2>&1 &', "-", sys.argv[1]],
               check=True)
def sleeping():
    found = 0
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                found += cmdline.read() == f"sleep\\0{sys.argv[1]}\\0".encode()
        except OSError:
            pass
    return found
deadline = time.monotonic() + 30
while sleeping() < 2 and time.monotonic() < deadline:  # the orphan has started its two sleeps
    time.sleep(0.01)
print(sleeping(), len(procs.end_children({spare.pid}) or ()), sorted(procs.children() or ()) == [spare.pid],
      spare.poll() is None)
spare.kill()
"""


def test_a_subreaper_kills_and_collects_every_child_it_was_left_but_those_it_spares(tmp_path: Path) -> None:
    """An orphan of no environment in a session of its own, with a child in its group: both are killed, none
    stays a zombie, and the child to spare (a supervisor's watchdog) lives."""
    daemons = Daemons()
    script = tmp_path / "left_behind.py"
    script.write_text(LEFT_BEHIND)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    try:
        done = subprocess.run([sys.executable, str(script), daemons.unmarked], env=env, capture_output=True,
                              text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        sleeping, ended, only_spared, spared_alive = done.stdout.split()
        assert (sleeping, int(ended) >= 1) == ("2", True), done.stdout
        assert (only_spared, spared_alive) == ("True", "True"), done.stdout
        assert not daemons.alive()
    finally:
        daemons.kill()

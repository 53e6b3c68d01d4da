"""Twenty `jobctl` processes at once against one local $JOBCTL_HOME: apply, run and cancel, interleaved.

Afterwards: exactly one job, every run a process reported is listed exactly once (and nothing else),
every run ends, and no process printed a traceback or a SQLite lock error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jobctl.backends.local import LocalBackend
from jobctl.engine.apply import apply_plan, build_plan
from jobctl.errors import ConflictError
from jobctl.plan.desired import desired_job
from jobctl.spec.load import load_specs
from tests.conftest import EXAMPLES, run_jobctl
from tests.reliability.test_conflicts_oci import spec_variant

SPEC = str(EXAMPLES / "hello" / "job.yaml")
PROCESS_TIMEOUT = 90


@dataclass
class Outcome:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def run_at_once(commands: list[list[str]]) -> list[Outcome]:
    """Start every command before waiting for any of them."""
    processes = [
        (args, subprocess.Popen([sys.executable, "-m", "jobctl", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=os.environ.copy()))
        for args in commands
    ]
    outcomes = []
    for args, process in processes:
        stdout, stderr = process.communicate(timeout=PROCESS_TIMEOUT)
        outcomes.append(Outcome(args, process.returncode, stdout, stderr))
    return outcomes


def assert_clean(outcome: Outcome, allowed: set[int]) -> None:
    described = f"jobctl {' '.join(outcome.args)} -> {outcome.returncode}\n{outcome.stderr}"
    assert "Traceback" not in outcome.stderr, described
    assert "database is locked" not in outcome.stderr, described
    assert "internal error" not in outcome.stderr, described
    assert outcome.returncode in allowed, described


def run_ids(outcome: Outcome) -> list[str]:
    return [line for line in outcome.stdout.split() if line.startswith("run-")]


def listed(what: str) -> list[dict]:
    result = run_jobctl("-o", "json", what, *(["-n", "1000"] if what == "runs" else []))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["items"]


def test_twenty_processes_applying_running_and_cancelling_at_once_lose_nothing(isolated_env: Path) -> None:
    # Round 1, empty home: ten applies race to create the same job while runs and cancels look for it.
    first = run_at_once(
        [["apply", SPEC]] * 10
        + [["run", "hello", "--env", "SLEEP=1"]] * 5
        + [["cancel", "--job", "hello"]] * 5
    )
    # Round 2, the job exists: no-op applies, single and fan-out runs, and cancels, all at once.
    second = run_at_once(
        [["apply", SPEC]] * 5
        + [["run", "hello", "--env", "SLEEP=2"]] * 6
        + [["run", "hello", "--matrix", "MODEL=a,b", "--env", "SLEEP=1"]] * 4
        + [["cancel", "--job", "hello"]] * 5
    )

    for outcome in first:
        # before the first apply commits, `run` and `cancel` may find no job: a clean exit 4
        allowed = {0} if outcome.args[0] == "apply" else {0, 4}
        assert_clean(outcome, allowed)
        if outcome.returncode == 4:
            assert "no job named 'hello'" in outcome.stderr
    for outcome in second:
        assert_clean(outcome, {0})
        if outcome.args[0] == "apply":
            assert "No changes" in outcome.stdout
    assert sum(o.returncode == 0 for o in first if o.args[0] == "apply") == 10

    jobs = listed("jobs")
    assert [job["name"] for job in jobs] == ["hello"], jobs
    started = [run_id for outcome in first + second if outcome.args[0] == "run" for run_id in run_ids(outcome)]
    assert len(started) >= 6 + 4 * 2
    assert not [r for r, n in Counter(started).items() if n > 1], "a run id was reported twice"

    waited = run_jobctl("wait", *started, "--timeout", "60", timeout=PROCESS_TIMEOUT)
    assert waited.returncode in (0, 1, 8), waited.stderr  # some runs were canceled on the way
    assert "Traceback" not in waited.stderr
    runs = listed("runs")
    assert sorted(r["id"] for r in runs) == sorted(started), "runs listed != runs reported on stdout"
    stuck = [(r["id"], r["lifecycleState"]) for r in runs if r["lifecycleState"] not in ("SUCCEEDED", "CANCELED")]
    assert not stuck, f"runs not ended, or ended other than SUCCEEDED/CANCELED: {stuck}"
    assert {r["jobId"] for r in runs} == {jobs[0]["id"]}


def test_an_apply_that_planned_a_create_and_finds_an_earlier_job_of_that_name_removes_its_own(
    isolated_env: Path, tmp_path: Path,
) -> None:
    """The race made deterministic: both applies planned "create" before either created. The later
    creator exits 5 naming the winner and removes its copy; before, both said "created" (issue 12 item 5)."""
    backend = LocalBackend(isolated_env)
    plans = {}
    for side in "ab":
        loaded = load_specs([str(spec_variant(tmp_path, side, seed=side))])
        loaded.raise_for_errors()
        plans[side] = build_plan(backend, [desired_job(job) for job in loaded.jobs])
    [first] = apply_plan(backend, plans["a"])
    assert first.outcome == "created"
    with pytest.raises(ConflictError) as conflict:
        apply_plan(backend, plans["b"])
    assert first.job_id in conflict.value.message
    assert [job.id for job in backend.list_jobs()] == [first.job_id]


def test_applies_of_different_specs_racing_to_create_one_job_name_leave_one_job(
    isolated_env: Path, tmp_path: Path,
) -> None:
    """Five rounds of two real applies at once, each round a new name. Whichever way each race goes (both
    planned a create, or one saw the other's job and replaced it), one job of the name is left and never
    do both report "created"."""
    for round_ in range(5):
        specs = {side: spec_variant(tmp_path / f"r{round_}", side, seed=f"{round_}{side}") for side in "ab"}
        for path in specs.values():
            path.write_text(path.read_text().replace("name: tune-models", f"name: race-{round_}"))
        outcomes = run_at_once([["apply", "--yes", str(specs["a"])], ["apply", "--yes", str(specs["b"])]])
        for outcome in outcomes:
            assert_clean(outcome, {0, 5})
        assert sum(": created (" in o.stderr + o.stdout for o in outcomes) == 1, outcomes
        live = [j for j in listed("jobs") if j["name"] == f"race-{round_}"]
        assert len([j for j in live if not j["superseded"]]) == 1, live


def test_threads_storing_one_artifact_at_once_each_get_it_whole(isolated_env: Path, tmp_path: Path) -> None:
    """apply creates jobs from several threads; jobs of one source store one artifact. The threads shared
    one temporary file (named by the process only), so all but one failed with 'No such file or
    directory' once the first had renamed it: this holds every thread inside its write until all began."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from jobctl.artifact import build_artifact

    (tmp_path / "train.py").write_text("print('train')\n")
    artifact = build_artifact(tmp_path / "train.py")
    writers = 4
    together = threading.Barrier(writers, timeout=30)

    class HeldArtifact(type(artifact)):  # type: ignore[misc]
        __slots__ = ()

        def write_to(self, out: Any) -> None:
            together.wait()  # every thread has its temporary file open before any writes
            super().write_to(out)

    held = HeldArtifact(artifact.digest, artifact.filename, artifact.entries, artifact.is_zip)
    backend = LocalBackend(isolated_env)
    with ThreadPoolExecutor(writers) as pool:
        paths = list(pool.map(lambda _: backend._store_artifact(held), range(writers)))
    assert len(set(paths)) == 1
    assert paths[0].read_text() == "print('train')\n"
    assert not list(paths[0].parent.glob(".*.partial"))

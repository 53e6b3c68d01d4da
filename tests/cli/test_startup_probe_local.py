"""The startup probe on the local backend, as on OCI: probed until it succeeds once; a run whose probe
fails `failureThreshold` times in a row fails, naming the probe."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.cli.test_lifecycle_local import Run, applied, get_run, job_doc, runs_of, start, until, write_spec


@pytest.fixture(autouse=True)
def fast_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBCTL_LOCAL_TIME_SCALE", "0.01")  # a probe period of 10 s lasts 0.1 s
    monkeypatch.setenv("JOBCTL_KILL_GRACE", "0.5")


def probed(probe: dict[str, Any]) -> dict[str, Any]:
    doc = job_doc()
    doc["spec"]["runtime"]["startupProbe"] = probe
    return doc


def test_a_probe_that_never_succeeds_fails_the_run(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, write_spec(tmp_path / "specs", probed({"command": ["false"], "failureThreshold": 2})))

    result = jobctl("run", "demo", "--env", "SLEEP=30", "--wait", "--timeout", "20s")

    assert result.exit_code == 1, result.stderr
    run = get_run(jobctl, runs_of(jobctl, "demo")[0]["id"])
    assert run["lifecycleState"] == "FAILED"
    assert run["details"] == "startup probe failed 2 times: false"


def test_a_run_whose_probe_succeeds_goes_on_to_its_own_end(jobctl: Run, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    probe = {"command": ["test", "-f", str(ready)], "periodInSeconds": 10, "failureThreshold": 1000}
    applied(jobctl, write_spec(tmp_path / "specs", probed(probe)))
    run_id = start(jobctl, "demo", "--env", f"GO_FILE={ready}")
    until(lambda: get_run(jobctl, run_id)["lifecycleState"] == "IN_PROGRESS", what="the run to start")

    ready.touch()  # the probe passes and the workload, waiting for the same file, ends

    finished = until(lambda: (r := get_run(jobctl, run_id))["lifecycleState"] in ("SUCCEEDED", "FAILED") and r,
                     timeout=60, what="the run to end")
    assert (finished["lifecycleState"], finished["exitCode"]) == ("SUCCEEDED", 0), finished["details"]

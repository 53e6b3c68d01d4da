"""The same workflow on every backend: fan out, select by a reported metric, pass the choice on."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from jobctl.backends.base import Backend
from jobctl.errors import ExitCode
from jobctl.model.job import RunState
from jobctl.spec.model import Origin
from jobctl.workflow.model import workflow_from_document
from jobctl.workflow.runner import LATEST, WorkflowRunner
from tests.contract.harness import Harness
from tests.contract.test_backend_contract import apply, write_spec

STATE = "oci://contract-state@contractns/jobctl"


def flow() -> object:
    document = {
        "metadata": {"name": "pick"},
        "spec": {"state": STATE, "steps": [
            {"name": "tune", "job": "contract", "matrix": {"METRIC_SCORE": [1, 3, 2]}, "maxParallel": 2,
             "select": {"metric": "score", "goal": "max"}},
            {"name": "final", "job": "contract", "needs": ["tune"],
             "env": {"PICKED": "${{ steps.tune.best.env.METRIC_SCORE }}",
                     "SCORE": "${{ steps.tune.best.metrics.score }}"}},
        ]},
    }
    return workflow_from_document(document, Origin("inline", 1))


def state_store(harness: Harness) -> Any:
    """The workflow's state store; on OCI its bucket is made first, as Object Storage needs it to exist."""
    if harness.fake is not None:
        harness.fake.create_bucket("contract-state", namespace="contractns")
    return harness.backend.workflow_store(STATE)


def test_a_workflow_selects_the_best_run_and_passes_it_on(harness: Harness, tmp_path: Path) -> None:
    apply(harness.backend, write_spec(tmp_path))
    workflow = flow()
    store = state_store(harness)
    events: list[str] = []
    runner = WorkflowRunner(harness.backend, store, workflow, env={}, on_event=events.append,  # type: ignore[arg-type]
                            sleep=lambda _: None)
    runner.prepare()
    assert runner.run() == ExitCode.OK, events
    state = store.load("pick")
    assert state is not None
    assert state["status"] == "succeeded"
    tune = state["steps"]["tune"]
    assert [r["key"] for r in tune["runs"]] == ["METRIC_SCORE=1", "METRIC_SCORE=3", "METRIC_SCORE=2"]
    best = next(r for r in tune["runs"] if r["id"] == tune["best"])
    assert best["outputs"]["metrics"]["score"] == 3.0
    [final] = state["steps"]["final"]["runs"]
    assert final["env"]["PICKED"] == "3"
    assert final["env"]["SCORE"] == "3.0"
    resumed = WorkflowRunner(harness.backend, store, workflow, env={}, sleep=lambda _: None)  # type: ignore[arg-type]
    resumed.prepare(resume=LATEST)
    assert resumed.run() == ExitCode.OK
    assert len(harness.backend.list_runs()) == 4  # resuming a run that succeeded starts nothing
    again = WorkflowRunner(harness.backend, store, workflow, env={}, sleep=lambda _: None)  # type: ignore[arg-type]
    again.prepare()
    assert again.run() == ExitCode.OK
    assert len(harness.backend.list_runs()) == 8  # a new workflow run: new runs
    assert store.runs("pick") == sorted([state["run"], again.state["run"]])
    if harness.fake is not None:  # on OCI the state and each run's outputs live in Object Storage
        names = sorted(name for namespace, bucket, name in harness.fake.store.objects
                       if (namespace, bucket) == ("contractns", "contract-state"))
        assert f"jobctl/pick/runs/{state['run']}.json" in names
        assert sum(name.endswith("/outputs.json") for name in names) == 6  # the tune runs reported


class _SlowLauncher:
    """The backend, with start_run returning only once the run is over: the launcher descheduled
    under load (a 2-core machine running another suite) while the run starts, runs and ends."""

    def __init__(self, backend: Backend, timeout: float) -> None:
        self._backend = backend
        self._timeout = timeout

    def __getattr__(self, name: str) -> object:
        return getattr(self._backend, name)

    def start_run(self, **kwargs: Any) -> RunState:
        run = self._backend.start_run(**kwargs)
        deadline = time.monotonic() + self._timeout
        while not run.terminal:
            assert time.monotonic() < deadline, f"run {run.id} never ended"
            time.sleep(0.02)
            run = self._backend.get_run(run_id=run.id)
        return run


@pytest.mark.parametrize("follow", [False, True])
def test_a_run_over_before_start_run_returns_is_recorded_and_followed(
    harness: Harness, tmp_path: Path, follow: bool,
) -> None:
    apply(harness.backend, write_spec(tmp_path))
    backend = _SlowLauncher(harness.backend, harness.timeout)
    store = state_store(harness)
    events: list[str] = []
    lines: list[tuple[str, str, str]] = []
    runner = WorkflowRunner(backend, store, flow(), env={}, on_event=events.append,  # type: ignore[arg-type]
                            sleep=lambda _: None,
                            on_log=(lambda step, run, line: lines.append((step, run, line.text))) if follow else None)
    runner.prepare()
    assert runner.run() == ExitCode.OK, events
    tune = runner.state["steps"]["tune"]
    assert [r["outputs"]["metrics"]["score"] for r in tune["runs"]] == [1.0, 3.0, 2.0]  # each run's outputs read
    assert [r["exitCode"] for r in tune["runs"]] == [0, 0, 0]
    assert next(r for r in tune["runs"] if r["id"] == tune["best"])["env"]["METRIC_SCORE"] == "3"
    for entry in tune["runs"]:
        assert f"tune: {entry['name']} SUCCEEDED" in events
        if follow:  # and each run's whole log streamed, once
            assert lines.count(("tune", entry["name"], "MODEL=base")) == 1

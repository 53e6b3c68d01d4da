"""The same workflow on every backend: fan out, select by a reported metric, pass the choice on."""

from __future__ import annotations

from pathlib import Path

from jobctl.errors import ExitCode
from jobctl.spec.model import Origin
from jobctl.workflow.model import workflow_from_document
from jobctl.workflow.runner import WorkflowRunner
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


def test_a_workflow_selects_the_best_run_and_passes_it_on(harness: Harness, tmp_path: Path) -> None:
    apply(harness.backend, write_spec(tmp_path))
    workflow = flow()
    store = harness.backend.workflow_store(STATE)
    events: list[str] = []
    runner = WorkflowRunner(harness.backend, store, workflow, env={}, on_event=events.append,  # type: ignore[arg-type]
                            sleep=lambda _: None)
    runner.prepare(restart=False)
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
    again = WorkflowRunner(harness.backend, store, workflow, env={}, sleep=lambda _: None)  # type: ignore[arg-type]
    again.prepare(restart=False)
    assert again.run() == ExitCode.OK
    assert len(harness.backend.list_runs()) == 4  # resuming a finished workflow starts nothing
    if harness.fake is not None:  # on OCI the state and each run's outputs live in Object Storage
        names = sorted(name for namespace, bucket, name in harness.fake.store.objects
                       if (namespace, bucket) == ("contractns", "contract-state"))
        assert "jobctl/pick/state.json" in names
        assert sum(name.endswith("/outputs.json") for name in names) == 3  # the three tune runs reported

"""Workflows on the local backend: the model-selection example, resume after a kill, failures, validation."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES, REPO

EXAMPLE = EXAMPLES / "model-selection"


def state(jobctl, name: str = "model-selection") -> dict:
    result = jobctl("workflow", "status", name, "-o", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_the_model_selection_example_picks_the_best_class_and_trains_it(jobctl) -> None:
    assert jobctl("apply", str(EXAMPLE)).exit_code == 0
    result = jobctl("workflow", "run", str(EXAMPLE / "workflow.yaml"))
    assert result.exit_code == 0, result.stderr
    final = state(jobctl)
    tune = final["steps"]["tune"]
    assert [r["key"] for r in tune["runs"]] == ["MODEL=logreg", "MODEL=knn", "MODEL=forest"]
    scores = {r["env"]["MODEL"]: r["outputs"]["metrics"]["val_auc"] for r in tune["runs"]}
    best_model = max(scores, key=scores.__getitem__)
    assert next(r for r in tune["runs"] if r["id"] == tune["best"])["env"]["MODEL"] == best_model
    [train] = final["steps"]["train"]["runs"]
    assert train["env"]["MODEL"] == best_model
    assert train["env"]["TUNED_AUC"] == str(scores[best_model])
    logs = jobctl("logs", train["id"])
    assert f"final model={best_model}" in logs.stdout
    assert final["status"] == "succeeded"


def write_flow(tmp_path: Path, body: str) -> Path:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "work.py").write_text(textwrap.dedent("""\
        import json, os, sys, time
        started = time.time()
        time.sleep(float(os.environ.get("SLEEP", "0")))
        if os.environ.get("FAIL") == os.environ.get("MODEL"):
            sys.exit(3)
        score = float(os.environ.get("SCORE_" + os.environ.get("MODEL", ""), "0"))
        report = os.environ.get("REPORT", "nested")
        if report in ("nested", "flat"):
            with open(os.path.join(os.environ["JOBCTL_OUTPUT_DIR"], "outputs.json"), "w") as fh:
                json.dump({"metrics": {"score": score}} if report == "nested" else {"score": score}, fh)
        elif report == "text":  # a number written as a string
            with open(os.path.join(os.environ["JOBCTL_OUTPUT_DIR"], "outputs.json"), "w") as fh:
                json.dump({"score": str(score)}, fh)
        elif report == "logs":
            print("score=0 (before training)")
            print(f"epoch 3: loss=0.1 score={score}")
        print("MODEL=" + os.environ.get("MODEL", ""))
        print(f"window={started},{time.time()}")
        """))
    jobs = textwrap.dedent("""\
        apiVersion: jobctl/v1
        kind: Job
        metadata: {name: work}
        spec:
          infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}
          runtime: {type: python, source: ./src, entrypoint: work.py}
        """)
    (tmp_path / "jobs.yaml").write_text(jobs)
    flow = tmp_path / "flow.yaml"
    flow.write_text("apiVersion: jobctl/v1\nkind: Workflow\nmetadata: {name: flow}\nspec:\n" + textwrap.indent(
        textwrap.dedent(body), "  "))
    return flow


STEPS = """\
steps:
  - name: tune
    job: work
    matrix: {MODEL: [a, b, c]}
    env: {SLEEP: "${{ env.SLEEP }}", FAIL: "${{ env.FAIL }}", SCORE_a: "1", SCORE_b: "3", SCORE_c: "2"}
    select: {metric: score}
  - name: final
    job: work
    needs: [tune]
    env: {MODEL: "${{ steps.tune.best.env.MODEL }}", FAIL: none}
"""


def test_a_killed_workflow_resumes_without_repeating_runs(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    given = ["--env", "SLEEP=1.5", "--env", "FAIL=none"]
    with fanning_out(tmp_path, flow, *given) as saved:  # killed once the fan-out has started all three runs
        pass
    first_ids = [r["id"] for r in saved["steps"]["tune"]["runs"]]
    resumed = jobctl("workflow", "run", str(flow), *given)  # the same command again: the run did not finish
    assert resumed.exit_code == 0, resumed.stderr
    assert f"workflow flow: resuming run {saved['run']}: it did not finish" in resumed.stderr
    final = state(jobctl, "flow")
    assert final["run"] == saved["run"]
    assert [r["id"] for r in final["steps"]["tune"]["runs"]] == first_ids  # re-attached, not re-run
    runs = json.loads(jobctl("-o", "json", "runs").stdout)["items"]
    assert len(runs) == 4  # three tune runs and one final run, nothing twice
    [final_run] = final["steps"]["final"]["runs"]
    assert final_run["env"]["MODEL"] == "b"  # the same result as an uninterrupted run


def test_a_finished_workflow_run_again_starts_a_new_run(jobctl, tmp_path: Path) -> None:
    """Issue 16: a nightly retrain re-ran nothing ("already succeeded"), even with a new --env."""
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    given = ["--env", "SLEEP=0", "--env", "FAIL=none"]
    assert jobctl("workflow", "run", str(flow), *given).exit_code == 0
    first = state(jobctl, "flow")
    again = jobctl("workflow", "run", str(flow), *given)
    assert again.exit_code == 0, again.stderr
    second = state(jobctl, "flow")
    assert second["run"] != first["run"]
    assert f"workflow flow: started run {second['run']}" in again.stderr
    assert len(json.loads(jobctl("-o", "json", "runs").stdout)["items"]) == 8  # 4 runs each
    older = jobctl("workflow", "status", "flow", "--run", first["run"], "-o", "json")
    assert json.loads(older.stdout)["run"] == first["run"]
    listed = json.loads(jobctl("workflow", "status", "-o", "json").stdout)["items"]
    assert [(w["workflow"], w["run"], w["runs"]) for w in listed] == [("flow", second["run"], 2)]


def test_a_failing_run_stops_the_workflow_before_the_next_step(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    result = jobctl("workflow", "run", str(flow), "--env", "SLEEP=0", "--env", "FAIL=b", "-o", "json")
    assert result.exit_code == 1
    final = state(jobctl, "flow")
    assert json.loads(result.stdout) == final  # -o json: the run's state as it ended, as status shows it
    assert final["steps"]["tune"]["status"] == "failed"
    assert "flow-tune-b" in final["steps"]["tune"]["error"]
    assert "jobctl logs" in final["steps"]["tune"]["error"]
    assert final["steps"]["final"]["status"] == "skipped"
    assert final["steps"]["final"]["runs"] == []


def test_continue_on_error_selects_among_the_runs_that_succeeded(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, STEPS.replace("    select: {metric: score}", "    select: {metric: score}\n"
                                                                              "    continueOnError: true"))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    result = jobctl("workflow", "run", str(flow), "--env", "SLEEP=0", "--env", "FAIL=b")
    assert result.exit_code == 0, result.stderr
    final = state(jobctl, "flow")
    [final_run] = final["steps"]["final"]["runs"]
    assert final_run["env"]["MODEL"] == "c"  # b failed; c has the best score of the rest


def test_resume_retries_only_the_failed_run(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow), "--env", "SLEEP=0", "--env", "FAIL=b").exit_code == 1
    fixed = jobctl("workflow", "run", str(flow), "--resume", "--env", "FAIL=none")
    assert fixed.exit_code == 0, fixed.stderr
    assert "(failed), with --env FAIL changed: the runs it starts from now on get the new values" in fixed.stderr
    tune = state(jobctl, "flow")["steps"]["tune"]["runs"]
    assert [r["key"] for r in tune] == ["MODEL=a", "MODEL=b", "MODEL=c", "MODEL=b"]
    assert [r["state"] for r in tune] == ["SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"]


@pytest.mark.parametrize(("body", "expected"), [
    ("steps:\n  - {name: a, job: work, needs: [b]}\n", "flow.yaml:6:36: spec.steps[0].needs[0]: no step named 'b'"),
    ("steps:\n  - {name: a, job: work, needs: [b]}\n  - {name: b, job: work, needs: [a]}\n",
     "spec.steps[0].needs: steps form a cycle: a -> b -> a"),
    ("steps:\n  - {name: a, job: nope}\n",
     "flow.yaml:6:22: spec.steps[0].job: no job or Data Flow application named 'nope' in the files given"),
    ("steps:\n  - {name: a, job: work, env: {X: '${{ steps.b.best.env.X }}'}}\n",
     "refers to step 'b': no such step"),
    ("steps:\n  - {name: a, job: work}\n  - {name: b, job: work, env: {X: '${{ steps.a.best.bogus }}'}}\n",
     "cannot understand ${{ steps.a.best.bogus }}"),
    ("steps:\n  - {name: a, job: work}\n  - {name: b, job: work, env: {X: '${{ steps.a.best.env.X }}'}}\n",
     "refers to step 'a': add 'a' to this step's needs"),
])
def test_workflow_mistakes_are_located(jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str,
                                       expected: str) -> None:
    write_flow(tmp_path, body)
    monkeypatch.chdir(tmp_path)
    result = jobctl("validate", "jobs.yaml", "flow.yaml")
    assert result.exit_code == 3
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_status_lists_workflows_and_cancel_stops_active_runs(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    with fanning_out(tmp_path, flow, "--env", "SLEEP=60", "--env", "FAIL=none", process=True) as process:
        listed = jobctl("workflow", "status")
        assert "flow" in listed.stdout
        assert "running" in listed.stdout
        canceled = jobctl("workflow", "cancel", "flow")
        assert canceled.exit_code == 0
        assert "(3 active run(s) canceled)" in canceled.stderr
        assert process.wait(timeout=30) == 8  # the running workflow sees its runs end CANCELED
    assert state(jobctl, "flow")["status"] == "canceled"  # issue 16: it said "failed"
    assert state(jobctl, "flow")["steps"]["final"]["status"] == "skipped"


@contextlib.contextmanager
def fanning_out(tmp_path: Path, flow: Path, *args: str, process: bool = False) -> Iterator[Any]:
    """`workflow run FLOW ARGS` in the background, until its tune step has started all three runs: yields
    the saved state then (or the process, with `process`); the process is killed on the way out."""
    running = subprocess.Popen([sys.executable, "-m", "jobctl", "workflow", "run", str(flow), *args], cwd=REPO,
                               env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while len(saved_state(tmp_path)["steps"]["tune"]["runs"]) < 3:
            assert time.monotonic() < deadline, "the fan-out never started"
            time.sleep(0.02)
        yield running if process else saved_state(tmp_path)
    finally:
        running.send_signal(signal.SIGKILL)
        running.wait()


def saved_state(tmp_path: Path, name: str = "flow") -> dict:
    """The one saved run of the workflow ({} before it is saved)."""
    saved = list((Path(os.environ["JOBCTL_HOME"]) / "workflows" / name).glob("*.json"))
    assert len(saved) <= 1
    return json.loads(saved[0].read_text()) if saved else {"steps": {"tune": {"runs": []}}}


def test_follow_streams_every_runs_output_prefixed_by_step_and_run(jobctl) -> None:
    assert jobctl("apply", str(EXAMPLE)).exit_code == 0
    result = jobctl("workflow", "run", str(EXAMPLE / "workflow.yaml"), "--follow")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    run = state(jobctl)["run"][-6:]  # each run's name ends in its workflow run's: `get NAME` names one run
    for model in ("logreg", "knn", "forest"):
        prefix = f"[tune model-selection-tune-{model}-{run}] model={model} val_auc="
        assert sum(line.startswith(prefix) for line in lines) == 1
    assert sum(line.startswith(f"[train model-selection-train-{run}] final model=") for line in lines) == 1


WORKFLOW_SECRET = "workflow-secret-value-41c9"


def test_workflow_state_holds_no_secret_and_resume_asks_for_it_again(jobctl, tmp_path: Path) -> None:
    """Issue 12 item 10: --env secrets and the runs' secret env were stored in clear in a 0644 file (and
    in Object Storage on OCI), and `workflow status -o json` printed them."""
    flow = write_flow(tmp_path, STEPS.replace(
        'SCORE_c: "2"}', 'SCORE_c: "2", DB_TOKEN: "${{ env.API_TOKEN }}"}'))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    first = jobctl("workflow", "run", str(flow), "--env", "SLEEP=0", "--env", "FAIL=b",
                   "--env", f"API_TOKEN={WORKFLOW_SECRET}")
    assert first.exit_code == 1  # b fails: a resume follows
    [store] = (Path(os.environ["JOBCTL_HOME"]) / "workflows" / "flow").glob("*.json")
    assert store.stat().st_mode & 0o777 == 0o600
    assert WORKFLOW_SECRET not in store.read_text()
    saved = json.loads(store.read_text())
    assert saved["secretEnv"] == ["API_TOKEN"]
    assert saved["steps"]["tune"]["runs"][0]["env"]["DB_TOKEN"] == "(sensitive)"
    shown = jobctl("workflow", "status", "flow", "-o", "json")
    assert shown.exit_code == 0
    assert WORKFLOW_SECRET not in shown.stdout + first.stdout + first.stderr

    refused = jobctl("workflow", "run", str(flow), "--resume", "--env", "FAIL=none")
    assert refused.exit_code == 2
    assert "API_TOKEN" in refused.stderr
    resumed = jobctl("workflow", "run", str(flow), "--resume", "--env", "FAIL=none",
                     "--env", f"API_TOKEN={WORKFLOW_SECRET}")
    assert resumed.exit_code == 0, resumed.stderr
    retried = [r for r in state(jobctl, "flow")["steps"]["tune"]["runs"] if r["key"] == "MODEL=b"][-1]
    run = json.loads(jobctl("get", retried["id"], "-o", "json", "--show-secrets").stdout)
    assert run["env"]["DB_TOKEN"] == WORKFLOW_SECRET  # the retried run got the secret again
    assert WORKFLOW_SECRET not in store.read_text()


def test_a_run_whose_job_runs_were_deleted_meanwhile_starts_them_again(jobctl, tmp_path: Path) -> None:
    """The red team: after `workflow run` was killed and the job deleted with its runs (and applied again),
    resuming failed with "run ... not found" and no way on but --restart."""
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    with fanning_out(tmp_path, flow, "--env", "SLEEP=30", "--env", "FAIL=none"):
        pass  # killed once its runs have started
    assert jobctl("delete", "work", "--force", "--yes").exit_code == 0
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    resumed = jobctl("workflow", "run", str(flow), "--resume", "--env", "SLEEP=0")
    assert resumed.exit_code == 0, resumed.stderr
    tune = state(jobctl, "flow")["steps"]["tune"]["runs"]
    assert [r["details"] for r in tune[:3]] == ["the run no longer exists (deleted with its job?); started again"] * 3
    assert [r["state"] for r in tune[3:]] == ["SUCCEEDED"] * 3


def test_workflow_logs_prints_each_steps_runs_prefixed_and_only_the_step_asked_for(jobctl, tmp_path: Path) -> None:
    """Issue 16: logs per step, read from the workflow run's record (either engine)."""
    flow = write_flow(tmp_path, """\
        steps:
          - {name: tune, job: work, matrix: {MODEL: [a, b]}}
          - {name: train, job: work, needs: [tune], env: {MODEL: final}}
        """)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow)).exit_code == 0
    runs = {r["key"]: r["name"] for step in state(jobctl, "flow")["steps"].values() for r in step["runs"]}
    logs = jobctl("workflow", "logs", "flow")
    assert logs.exit_code == 0, logs.stderr
    lines = [line for line in logs.stdout.splitlines() if "MODEL=" in line]
    assert lines == [f"[tune {runs['MODEL=a']}] MODEL=a", f"[tune {runs['MODEL=b']}] MODEL=b",
                     f"[train {runs['-']}] MODEL=final"]
    only = jobctl("workflow", "logs", "flow", "--step", "train")
    assert [line for line in only.stdout.splitlines() if "MODEL=" in line] == [f"[train {runs['-']}] MODEL=final"]
    wrong = jobctl("workflow", "logs", "flow", "--step", "tain")
    assert wrong.exit_code == 2
    assert "workflow 'flow' has no step 'tain'" in wrong.stderr
    assert "its steps: tune, train" in wrong.stderr


def test_a_secret_reaches_only_variables_that_mask_it_and_never_passes_between_steps(jobctl, tmp_path: Path) -> None:
    """The red team: `PLAIN: ${{ env.API_TOKEN }}` put the token in clear in the run's env (`get`, the OCI
    console); `${{ steps.S.best.env.DB_TOKEN }}` could not be filled after a resume (state holds no secret)."""
    flow = write_flow(tmp_path, STEPS.replace('SCORE_c: "2"}', 'SCORE_c: "2", DB_TOKEN: "${{ env.API_TOKEN }}", '
                                              'DSN: "postgres://u:${{ env.API_TOKEN }}@db"}'))
    flow.write_text(flow.read_text() + "    - {name: after, job: work, needs: [tune], args: ['${{ env.API_TOKEN }}'], "
                    "env: {COPY_TOKEN: '${{ steps.tune.best.env.DB_TOKEN }}'}}\n")
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    result = jobctl("workflow", "run", str(flow), "--env", "API_TOKEN=tok-3f9a1c")
    assert result.exit_code == 3, result.stderr
    said = [line for line in result.stderr.splitlines() if "${{" in line]
    assert len(said) == 3, result.stderr
    assert "env.DSN: ${{ env.API_TOKEN }} is a secret: it may only set a variable whose name marks it secret" in said[0]
    assert "args[0]: ${{ env.API_TOKEN }} is a secret" in said[1]
    assert "env.COPY_TOKEN: ${{ steps.tune.best.env.DB_TOKEN }} passes a secret on from an earlier step" in said[2]
    assert jobctl("runs").stdout.count("flow-") == 0  # nothing started


def test_expressions_are_closed_matrix_values_literal_and_dollar_escapes_a_literal(jobctl, tmp_path: Path) -> None:
    """The red team: `${{ env.A }` passed as text, a matrix value's ${{ }} became a run's raw name, and
    `$${{` (the spec's escape for $) was evaluated all the same."""
    flow = write_flow(tmp_path, """\
        steps:
          - name: tune
            job: work
            matrix: {MODEL: ["${{ env.A }}", "a b/c"]}
            env: {BROKEN: "${{ env.A }", LITERAL: "$${{ env.A }}"}
        """)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    bad = jobctl("validate", str(flow), str(tmp_path / "jobs.yaml"))
    assert bad.exit_code == 3
    assert "flow.yaml:8:24: spec.steps[0].matrix.MODEL[0]: matrix values are taken as written" in bad.stderr
    assert "flow.yaml:9:21: spec.steps[0].env.BROKEN: a ${{ is not closed: end the expression with }}" in bad.stderr
    flow.write_text(flow.read_text().replace('"${{ env.A }}", ', "").replace('BROKEN: "${{ env.A }", ', ""))
    result = jobctl("workflow", "run", str(flow), "--env", "A=1", "--follow")
    assert result.exit_code == 0, result.stderr
    ran = state(jobctl, "flow")
    [run] = ran["steps"]["tune"]["runs"]
    assert run["name"] == f"flow-tune-a-b-c-{ran['run'][-6:]}"
    shown = json.loads(jobctl("get", run["id"], "-o", "json").stdout)
    assert shown["env"]["LITERAL"] == "${{ env.A }}"


def test_status_says_interrupted_once_the_process_driving_a_run_is_gone(jobctl, tmp_path: Path) -> None:
    """The red team: a run whose `workflow run` was killed stayed "running" in status forever."""
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    with fanning_out(tmp_path, flow, "--env", "SLEEP=30", "--env", "FAIL=none"):
        alive = state(jobctl, "flow")
        assert (alive["status"], alive.get("note")) == ("running", None)
    gone = state(jobctl, "flow")
    assert gone["status"] == "interrupted"
    assert f"has ended; resume it with `jobctl workflow run FILE --resume {gone['run']}`" in gone["note"]
    assert "interrupted" in jobctl("workflow", "status").stdout  # the list of workflows too
    assert saved_state(tmp_path)["status"] == "running"  # what is stored is left for --resume to find
    assert jobctl("workflow", "cancel", "flow").exit_code == 0  # its runs: they were sleeping 30 s


def test_a_run_driven_elsewhere_and_silent_for_long_carries_a_note() -> None:
    from datetime import datetime, timedelta, timezone

    from jobctl.workflow.runner import liveness

    seen = (datetime.now(timezone.utc) - timedelta(minutes=12)).isoformat()
    state = {"run": "flow-1", "status": "running", "driver": {"host": "ci-runner-7", "pid": 4242, "seen": seen}}
    shown = liveness(state)
    assert shown["status"] == "running"
    assert shown["note"].startswith("no word from the `workflow run` driving it (on ci-runner-7, pid 4242) for 12 min")
    recent = {**state, "driver": {**state["driver"], "seen": datetime.now(timezone.utc).isoformat()}}
    assert "note" not in liveness(recent)


def test_an_automatic_resume_says_secret_values_could_not_be_compared(jobctl, tmp_path: Path) -> None:
    """The red team: a different secret value was treated as the same input, silently."""
    flow = write_flow(tmp_path, STEPS.replace('SCORE_c: "2"}', 'SCORE_c: "2", DB_TOKEN: "${{ env.API_TOKEN }}"}'))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    with fanning_out(tmp_path, flow, "--env", "SLEEP=0.2", "--env", "FAIL=none", "--env", "API_TOKEN=first-4c1d"):
        pass  # killed once its runs have started
    again = jobctl("workflow", "run", str(flow), "--env", "SLEEP=0.2", "--env", "FAIL=none",
                   "--env", "API_TOKEN=second-9e7b")
    assert again.exit_code == 0, again.stderr
    assert ("(--restart starts a new run); secret API_TOKEN cannot be compared (never stored): the runs it starts "
            "get the value given now") in again.stderr

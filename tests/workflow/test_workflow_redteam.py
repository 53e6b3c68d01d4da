"""Issue 16's second red team, client engine: each test failed before its fix (see the closing note)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.workflow.test_workflow_local import STEPS, fanning_out, saved_state, state, write_flow


def test_secret_or_repeated_matrix_values_and_a_zero_timeout_are_spec_errors(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, """\
        steps:
          - {name: a, job: work, matrix: {DB_PASSWORD: [x1]}}
          - {name: b, job: work, matrix: {MODEL: [a, a, "1", 1]}, timeout: 0s}
        """)
    result = jobctl("validate", str(flow), str(tmp_path / "jobs.yaml"))
    assert result.exit_code == 3
    assert "spec.steps[0].matrix.DB_PASSWORD: DB_PASSWORD looks secret, and a matrix value names its run" in (
        result.stderr)
    assert "spec.steps[1].matrix.MODEL[1]: 'a' is listed twice (each value is one run)" in result.stderr
    assert "spec.steps[1].matrix.MODEL[3]: '1' is listed twice" in result.stderr
    assert "spec.steps[1].timeout: a step's timeout must be more than 0 s" in result.stderr


def test_resume_refuses_a_run_started_from_another_version_of_the_spec(jobctl, tmp_path: Path) -> None:
    """It resumed silently, mixing the old runs with the new spec (a run no longer in it left orphaned)."""
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    with fanning_out(tmp_path, flow, "--env", "SLEEP=0.2", "--env", "FAIL=none") as started:
        pass  # killed once its runs have started
    flow.write_text(flow.read_text().replace("[a, b, c]", "[a, x]"))
    resumed = jobctl("workflow", "run", str(flow), "--resume", "--env", "SLEEP=0.2", "--env", "FAIL=none")
    assert resumed.exit_code == 5
    assert f"run {started['run']} was started from another version of the spec of 'flow'" in resumed.stderr


def test_a_hand_edited_state_and_a_run_id_holding_a_path_are_refused(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow), "--env", "SLEEP=0", "--env", "FAIL=none").exit_code == 0
    [stored] = (Path(os.environ["JOBCTL_HOME"]) / "workflows" / "flow").glob("*.json")
    stored.write_text(json.dumps({"run": "x", "steps": {"tune": {"runs": [{"id": "r", "state": "IN_PROGRESS"}]}},
                                  "status": "running"}))
    for command in (["workflow", "status", "flow"], ["workflow", "run", str(flow), "--env", "SLEEP=0",
                                                     "--env", "FAIL=none"]):
        result = jobctl(*command)
        assert result.exit_code == 6, result.stderr  # was: internal error, KeyError
        assert "expected an object with its workflow, run id and status" in result.stderr
    sneaky = jobctl("workflow", "status", "flow", "--run", "../other/flow-1")
    assert sneaky.exit_code == 2
    assert "'../other/flow-1' is not a workflow run id" in sneaky.stderr


def test_resuming_a_canceled_run_starts_what_the_cancel_stopped(jobctl, tmp_path: Path) -> None:
    """`workflow cancel` left its mark, so `--resume` started nothing and exited 8."""
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    with fanning_out(tmp_path, flow, "--env", "SLEEP=30", "--env", "FAIL=none"):
        pass
    assert jobctl("workflow", "cancel", "flow").exit_code == 0
    resumed = jobctl("workflow", "run", str(flow), "--resume", "--env", "SLEEP=0", "--env", "FAIL=none")
    assert resumed.exit_code == 0, resumed.stderr
    assert state(jobctl, "flow")["status"] == "succeeded"


def test_a_second_workflow_run_beside_a_live_one_is_refused(jobctl, tmp_path: Path) -> None:
    """Both processes drove the same run, each saying it had resumed it."""
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    with fanning_out(tmp_path, flow, "--env", "SLEEP=30", "--env", "FAIL=none", process=True) as driver:
        second = jobctl("workflow", "run", str(flow), "--env", "SLEEP=30", "--env", "FAIL=none")
        assert second.exit_code == 5
        assert f"is being driven by another `workflow run` (pid {driver.pid} on " in second.stderr
    assert jobctl("workflow", "cancel", "flow").exit_code == 0


def test_a_steps_timeout_counts_from_its_first_run_not_its_wait_for_room(jobctl, tmp_path: Path) -> None:
    """Under spec.maxParallel: 1, a step timed out while waiting for the other step's run to end."""
    flow = write_flow(tmp_path, """\
        maxParallel: 1
        steps:
          - {name: first, job: work, env: {SLEEP: "6", MODEL: f}}
          - {name: second, job: work, timeout: 5s, env: {SLEEP: "0", MODEL: s}}
        """)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    result = jobctl("workflow", "run", str(flow))
    assert result.exit_code == 0, result.stderr
    assert state(jobctl, "flow")["steps"]["second"]["status"] == "succeeded"


def test_status_shows_the_runs_a_timeout_canceled_as_the_backend_has_them(jobctl, tmp_path: Path) -> None:
    """Runs a step's timeout canceled stayed IN_PROGRESS in `workflow status` for good."""
    flow = write_flow(tmp_path, """\
        steps:
          - {name: slow, job: work, timeout: 1s, env: {SLEEP: "60", MODEL: s}}
        """)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow)).exit_code == 7
    [run] = saved_state(tmp_path)["steps"]["slow"]["runs"]
    assert jobctl("wait", run["id"]).exit_code == 8  # canceled
    [shown] = state(jobctl, "flow")["steps"]["slow"]["runs"]
    assert shown["state"] == "CANCELED"


def test_a_reader_that_goes_away_does_not_stop_the_workflow(tmp_path: Path) -> None:
    """`workflow run ... | head -2` exited 0 at once and left the workflow interrupted."""
    import subprocess
    import sys

    from tests.conftest import REPO, run_jobctl

    flow = write_flow(tmp_path, STEPS)
    assert run_jobctl("apply", str(tmp_path / "jobs.yaml")).returncode == 0
    driver = subprocess.Popen([sys.executable, "-m", "jobctl", "workflow", "run", str(flow), "--env", "SLEEP=0.5",
                               "--env", "FAIL=none", "--follow"], cwd=REPO, env=dict(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert driver.stdout is not None
    driver.stdout.readline()  # one line, then the reader goes
    driver.stdout.close()
    assert driver.wait(timeout=120) == 0
    assert saved_state(tmp_path)["status"] == "succeeded"


def test_validate_says_plainly_of_a_self_reference_a_cycle_and_a_control_character(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, """\
        steps:
          - {name: a, job: work, needs: [b], env: {X: "${{ steps.b.best.env.MODEL }}"}}
          - {name: b, job: work, needs: [a], env: {Y: "${{ steps.b.best.env.MODEL }}"}}
          - {name: c, job: work, matrix: {MODEL: ["x\\ny"]}}
        """)
    result = jobctl("validate", str(flow), str(tmp_path / "jobs.yaml"))
    assert result.exit_code == 3
    assert "add 'b' to this step's needs" not in result.stderr  # it is there: they form a cycle, said once
    assert "steps form a cycle: a -> b -> a" in result.stderr
    assert "spec.steps[1].env.Y: ${{ steps.b.best.env.MODEL }} refers to this step itself" in result.stderr
    assert "spec.steps[2].matrix.MODEL[0]: holds a control character" in result.stderr


def test_a_step_that_goes_on_despite_a_failed_run_says_so(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, """\
        steps:
          - {name: tune, job: work, matrix: {MODEL: [a, b]}, continueOnError: true, env: {FAIL: b}}
        """)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    result = jobctl("workflow", "run", str(flow))
    assert result.exit_code == 0, result.stderr  # by design: the step went on
    ran = state(jobctl, "flow")
    tune = ran["steps"]["tune"]
    failed = f"flow-tune-b-{ran['run'][-6:]}"
    assert (tune["status"], tune["error"]) == ("succeeded", f"1 of 2 runs did not succeed ({failed}); continueOnError")
    assert "1 of 2 runs did not succeed" in jobctl("workflow", "status", "flow").stdout


def test_matrix_values_holding_commas_and_equals_make_runs_of_their_own(jobctl, tmp_path: Path) -> None:
    """Second red team: (X=`a,Y=b`, Y=c) and (X=a, Y=`b,Y=c`) shared a key, so one combination never ran."""
    flow = write_flow(tmp_path, """\
        steps:
          - {name: t, job: work, matrix: {X: ["a,Y=b", "a"], Y: ["c", "b,Y=c"]}, env: {FAIL: none}}
        """)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow)).exit_code == 0
    keys = [r["key"] for r in state(jobctl, "flow")["steps"]["t"]["runs"]]
    assert len(keys) == len(set(keys)) == 4
    assert "X=a%2CY%3Db,Y=c" in keys


def test_a_metric_too_large_for_a_float_is_ignored_not_a_crash(jobctl, tmp_path: Path) -> None:
    """Second red team: {"score": 10**400} ended the client engine with an OverflowError, for good."""
    flow = write_flow(tmp_path, """\
        steps:
          - {name: t, job: work, matrix: {MODEL: [a, b]}, select: {metric: score}, env: {SCORE_a: "1"}}
        """)
    (tmp_path / "src" / "work.py").write_text(
        "import json, os\nscore = 10**400 if os.environ['MODEL'] == 'b' else 1\n"
        "json.dump({'score': score}, open(os.path.join(os.environ['JOBCTL_OUTPUT_DIR'], 'outputs.json'), 'w'))\n")
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    result = jobctl("workflow", "run", str(flow))
    assert result.exit_code == 0, result.stderr
    run = state(jobctl, "flow")["run"][-6:]
    assert f"best flow-t-a-{run} with score=1; ignored (no score): flow-t-b-{run}" in result.stderr


def test_step_names_the_pipeline_would_make_twice_are_spec_errors(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, """\
        engine: pipeline
        steps:
          - {name: a, job: work, matrix: {MODEL: [x, y]}, select: {metric: score}}
          - {name: a-1, job: work}
          - {name: a-select, job: work}
        """)
    result = jobctl("validate", str(flow), str(tmp_path / "jobs.yaml"))
    assert result.exit_code == 3
    assert "spec.steps[1].name: on the pipeline engine this step makes a step named 'a-1', as another" in (
        result.stderr)
    assert "spec.steps[2].name: on the pipeline engine this step makes a step named 'a-select'" in result.stderr


def test_a_state_of_another_workflow_or_with_steps_out_of_order_is_refused(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow), "--env", "SLEEP=0", "--env", "FAIL=none").exit_code == 0
    [stored] = (Path(os.environ["JOBCTL_HOME"]) / "workflows" / "flow").glob("*.json")
    good = json.loads(stored.read_text())
    for broken, said in (({**good, "workflow": "other"}, "it is a state of workflow 'other', not 'flow'"),
                         ({**good, "order": ["tune", "final", "extra"]}, "its step order does not name its steps"),
                         ({**good, "run": "../../x"}, "its run id '../../x' or status")):
        stored.write_text(json.dumps(broken))
        result = jobctl("workflow", "status", "flow")
        assert result.exit_code == 6, result.stderr
        assert said in result.stderr


def test_a_later_steps_job_that_is_not_applied_stops_the_workflow_before_any_run_starts(
        jobctl, tmp_path: Path) -> None:
    """Issue 17's red team: the first step ran (a Spark application), then the workflow failed on the second
    step's job, which its file defined but no apply had made, and its state said `interrupted`."""
    flow = write_flow(tmp_path, """\
        steps:
          - {name: first, job: work}
          - {name: later, job: later-job, needs: [first]}
        """)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    (tmp_path / "later.yaml").write_text((tmp_path / "jobs.yaml").read_text().replace("name: work", "name: later-job"))
    result = jobctl("workflow", "run", str(flow), str(tmp_path / "later.yaml"))
    assert result.exit_code == 4, result.stderr
    assert "no job named 'later-job', nor a Data Flow application" in result.stderr
    assert json.loads(jobctl("runs", "-o", "json").stdout)["items"] == []

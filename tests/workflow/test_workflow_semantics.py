"""Issue 16, part 2: what users hit with workflows — steps at the same time, metrics from outputs.json or
logs, mistakes found before any run starts, idempotency keys, and "★ selected" only where a step selects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.workflow.test_workflow_local import state, write_flow


def windows(jobctl, run_ids: list[str]) -> list[tuple[float, float]]:
    """When each run's code ran, as it printed it (window=<start>,<end>)."""
    found = []
    for run_id in run_ids:
        [line] = [x for x in jobctl("logs", run_id).stdout.splitlines() if x.startswith("window=")]
        start, end = line.removeprefix("window=").split(",")
        found.append((float(start), float(end)))
    return found


def most_at_once(spans: list[tuple[float, float]]) -> int:
    return max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)


def run_ids(final: dict, *steps: str) -> list[str]:
    return [r["id"] for step in steps for r in final["steps"][step]["runs"]]


TWO_STEPS = """\
steps:
  - {name: left, job: work, env: {SLEEP: "1.5", MODEL: l}}
  - {name: right, job: work, env: {SLEEP: "1.5", MODEL: r}}
  - {name: after, job: work, needs: [left, right], env: {MODEL: x}}
"""


def test_independent_steps_run_at_the_same_time(jobctl, tmp_path: Path) -> None:
    """They ran one after another: two independent 3-second steps took 6 s."""
    flow = write_flow(tmp_path, TWO_STEPS)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow)).exit_code == 0
    final = state(jobctl, "flow")
    left, right, after = windows(jobctl, run_ids(final, "left", "right", "after"))
    assert left[0] < right[1]  # each started before the other ended
    assert right[0] < left[1]
    assert after[0] >= max(left[1], right[1])  # and what needs both, after both


def test_the_workflows_max_parallel_bounds_runs_over_all_steps(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, "maxParallel: 1\n" + TWO_STEPS.replace('"1.5"', '"0.5"'))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow)).exit_code == 0
    assert most_at_once(windows(jobctl, run_ids(state(jobctl, "flow"), "left", "right"))) == 1


def test_a_steps_max_parallel_is_a_sliding_window(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, """\
        steps:
          - name: tune
            job: work
            matrix: {MODEL: [a, b, c, d]}
            maxParallel: 2
            env: {SLEEP: "0.5"}
        """)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow)).exit_code == 0
    assert most_at_once(windows(jobctl, run_ids(state(jobctl, "flow"), "tune"))) == 2


def selecting(report: str, select: str) -> str:
    return f"""\
        steps:
          - name: tune
            job: work
            matrix: {{MODEL: [a, b, c]}}
            env: {{REPORT: {report}, SCORE_a: "1", SCORE_b: "3", SCORE_c: "2"}}
            select: {select}
          - name: final
            job: work
            needs: [tune]
            env: {{MODEL: "${{{{ steps.tune.best.env.MODEL }}}}", BEST: "${{{{ steps.tune.best.metrics.score }}}}"}}
        """


@pytest.mark.parametrize(("report", "select"), [
    ("nested", "{metric: score}"),  # {"metrics": {"score": 3}}
    ("flat", "{metric: score}"),  # {"score": 3}
    ("logs", "{metric: score, from: logs}"),  # the last `score=<number>` it printed
    ("logs", "{metric: score, from: logs, pattern: 'loss=[0-9.]+ score=([0-9.]+)'}"),
])
def test_the_best_run_is_selected_by_a_metric_from_outputs_or_logs(jobctl, tmp_path: Path, report: str,
                                                                    select: str) -> None:
    flow = write_flow(tmp_path, selecting(report, select))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    result = jobctl("workflow", "run", str(flow))
    assert result.exit_code == 0, result.stderr
    final = state(jobctl, "flow")
    [picked] = final["steps"]["final"]["runs"]
    assert (picked["env"]["MODEL"], picked["env"]["BEST"]) == ("b", "3.0")
    assert f"best flow-tune-b-{final['run'][-6:]} with score=3" in result.stderr


def test_a_metric_no_run_reported_names_each_run_where_it_looked_and_how_to_report(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, selecting("none", "{metric: score}"))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    result = jobctl("workflow", "run", str(flow))
    assert result.exit_code == 1
    ran = state(jobctl, "flow")
    error = ran["steps"]["tune"]["error"]
    for model in "abc":
        assert f"flow-tune-{model}-{ran['run'][-6:]} (" in error
    assert error.count("it wrote no outputs.json") == 3
    assert "$JOBCTL_OUTPUT_DIR/outputs.json" in error
    assert "from: logs" in error


def test_a_metric_written_as_text_is_named_as_such_not_missing(jobctl, tmp_path: Path) -> None:
    """The red team: {"score": "3.0"} was reported as "no 'score' (metrics it has: none)"."""
    flow = write_flow(tmp_path, selecting("text", "{metric: score}"))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow)).exit_code == 1
    error = state(jobctl, "flow")["steps"]["tune"]["error"]
    assert 'its outputs.json gives score="3.0", not a finite number (write the number itself, not text)' in error


def test_a_log_metric_no_run_printed_says_what_it_looked_for(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, selecting("nested", "{metric: accuracy, from: logs}").replace(
        ', BEST: "${{ steps.tune.best.metrics.score }}"', ""))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow)).exit_code == 1
    error = state(jobctl, "flow")["steps"]["tune"]["error"]
    assert error.count("log line(s) matches") == 3
    assert "accuracy" in error


@pytest.mark.parametrize(("body", "args", "expected"), [
    (selecting("nested", "{metric: score}").replace("steps.tune.best.env.MODEL", "steps.tune.best.env.MODLE"), [],
     "flow.yaml:14:20: spec.steps[1].env.MODEL: ${{ steps.tune.best.env.MODLE }} refers to 'MODLE', which no run "
     "of step 'tune' has in its env (its matrix, its env and the env of job 'work' give: MODEL, REPORT, SCORE_a, "
     "SCORE_b, SCORE_c)"),
    ("steps:\n  - {name: a, job: work}\n  - {name: b, job: work, needs: [a], env: {X: '${{ env.DATASET }}'}}\n",
     ["--env", "DATSET=q4"], "flow.yaml:7:49: spec.steps[1].env.X: ${{ env.DATASET }} needs --env DATASET=... "
                             "(given: DATSET)"),
    (selecting("logs", "{metric: score, from: logs}").replace("metrics.score", "metrics.loss"), [],
     "${{ steps.tune.best.metrics.loss }} refers to metric 'loss', but step 'tune' reads only 'score', from its "
     "runs' logs"),
    (selecting("nested", "{metric: score, pattern: 'score=(.*)'}"), [],
     "spec.steps[0].select.pattern: pattern is for metrics read from logs: add `from: logs`"),
    (selecting("logs", "{metric: score, from: logs, pattern: '(a)(b)'}"), [],
     "spec.steps[0].select.pattern: needs exactly one group, the number; it has 2"),
])
def test_a_mistake_in_a_later_step_is_found_before_any_run_starts(jobctl, tmp_path: Path, body: str,
                                                                  args: list[str], expected: str) -> None:
    """A typo in the last step failed it after the first steps had run (hours of tuning, on real models)."""
    flow = write_flow(tmp_path, body)
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    result = jobctl("workflow", "run", str(flow), *args)
    assert result.exit_code == 3
    assert expected in result.stderr
    if args:  # a missing --env: validate knows nothing of this run's --env, so no hint towards it
        assert "Hint: give the --env values the workflow uses" in result.stderr
    assert json.loads(jobctl("-o", "json", "runs").stdout)["items"] == []
    assert jobctl("workflow", "status", "flow").exit_code == 4  # no workflow run was recorded


def test_an_idempotency_key_re_attaches_and_other_inputs_are_a_conflict(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, "steps:\n  - {name: a, job: work, env: {MODEL: '${{ env.MODEL }}'}}\n")
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    braces = jobctl("workflow", "run", str(flow), "--idempotency-key", "{0}", "--env", "MODEL=a")
    assert braces.exit_code == 0, braces.stderr  # a key is text, never a format string
    first = jobctl("workflow", "run", str(flow), "--idempotency-key", "ci-42", "--env", "MODEL=a")
    assert first.exit_code == 0, first.stderr
    run = state(jobctl, "flow")["run"]
    assert f"started run {run} (idempotency key 'ci-42')" in first.stderr
    again = jobctl("workflow", "run", str(flow), "--idempotency-key", "ci-42", "--env", "MODEL=a")
    assert again.exit_code == 0
    assert f"re-attached to run {run} (idempotency key 'ci-42'): it succeeded" in again.stderr
    assert len(json.loads(jobctl("-o", "json", "runs").stdout)["items"]) == 2
    other = jobctl("workflow", "run", str(flow), "--idempotency-key", "ci-42", "--env", "MODEL=b")
    assert other.exit_code == 5
    assert f"idempotency key 'ci-42' belongs to run {run}, which was started with other inputs: --env MODEL " \
           "differs" in other.stderr
    assert len(json.loads(jobctl("-o", "json", "runs").stdout)["items"]) == 2


def test_only_a_step_that_selects_shows_a_selected_run(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, selecting("nested", "{metric: score}"))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow)).exit_code == 0
    shown = jobctl("workflow", "status", "flow").stdout.splitlines()
    starred = [line for line in shown if "★ selected" in line]
    assert len(starred) == 1
    assert "MODEL=b" in starred[0]  # the tune step's pick, not the final step's only run


def test_choosing_the_run_two_ways_is_a_usage_error(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, TWO_STEPS)
    result = jobctl("workflow", "run", str(flow), "--resume", "--restart")
    assert result.exit_code == 2
    assert "give one of them" in result.stderr


def test_validate_finds_a_workflows_jobs_in_the_files_or_applied(jobctl, tmp_path: Path) -> None:
    """Issue 16: validate of a workflow file alone said its applied jobs did not exist."""
    flow = write_flow(tmp_path, TWO_STEPS)
    alone = jobctl("validate", str(flow))
    assert alone.exit_code == 3
    assert ("no job or Data Flow application named 'work' in the files given or applied (apply it, or add its "
            "spec file)") in alone.stderr
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    applied = jobctl("validate", str(flow))
    assert applied.exit_code == 0, applied.stderr
    assert applied.stdout == "valid: 1 workflow in 1 file (flow)\n"


def test_a_workflows_declared_engine_is_used_unless_the_command_names_another(jobctl, tmp_path: Path) -> None:
    flow = write_flow(tmp_path, "engine: pipeline\n" + TWO_STEPS.replace('"1.5"', '"0"'))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    declared = jobctl("workflow", "run", str(flow))  # the same spec runs on a laptop: this process drives it
    assert declared.exit_code == 0, declared.stderr
    assert "the local backend has no pipelines; this process runs it (client engine)" in declared.stderr
    named = jobctl("workflow", "run", str(flow), "--engine", "pipeline")
    assert named.exit_code == 2  # asked for by name, it is refused
    assert "the pipeline engine runs on OCI Data Science Pipelines" in named.stderr
    assert "Hint: or --engine client" in named.stderr


def test_a_run_that_reports_nan_is_ignored_not_a_crash(jobctl, tmp_path: Path) -> None:
    """The red team: a diverged run's NaN made select fail with StopIteration, and every resume with it."""
    flow = write_flow(tmp_path, selecting("nested", "{metric: score}").replace('SCORE_a: "1"', 'SCORE_a: "nan"'))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    result = jobctl("workflow", "run", str(flow))
    assert result.exit_code == 0, result.stderr
    run = state(jobctl, "flow")["run"][-6:]
    assert f"best flow-tune-b-{run} with score=3; ignored (no score): flow-tune-a-{run}" in result.stderr


def test_matrix_values_that_differ_only_in_punctuation_report_to_places_of_their_own() -> None:
    """The red team: MODEL=a_b and MODEL=a/b wrote one outputs.json, and the pick took the other's metric."""
    from jobctl.workflow.state import slug

    values = ["MODEL=a_b", "MODEL=a/b", "MODEL=a b", "MODEL=../../x", "MODEL=a%2Fb"]
    assert len({slug(v) for v in values}) == len(values)
    assert all("/" not in slug(v) for v in values)
    assert {slug(x) for x in (".", "..", "")}.isdisjoint({".", "..", ""})


@pytest.mark.parametrize("content", ['{"broken', "[]", '{"run": "x", "steps": null}'])
def test_a_state_file_edited_by_hand_is_one_clear_error_and_other_workflows_still_list(
    jobctl, tmp_path: Path, content: str,
) -> None:
    """The red team: internal errors (JSONDecodeError, AttributeError) from status, the list and run."""
    import os

    flow = write_flow(tmp_path, TWO_STEPS.replace('"1.5"', '"0"'))
    assert jobctl("apply", str(tmp_path / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow)).exit_code == 0
    [saved] = (Path(os.environ["JOBCTL_HOME"]) / "workflows" / "flow").glob("*.json")
    saved.write_text(content)
    for args in (["workflow", "status", "flow"], ["workflow", "run", str(flow)]):
        result = jobctl(*args)
        assert result.exit_code == 6, result.stderr
        assert f"{saved} is not a workflow state" in result.stderr
        assert "internal error" not in result.stderr
    listed = jobctl("workflow", "status")
    assert listed.exit_code == 0
    assert "workflow flow:" in listed.stderr


def test_a_matrix_whose_combinations_are_too_many_is_refused_before_any_run(jobctl, tmp_path: Path) -> None:
    """The red team: 8 keys of 10 values (10^8 runs) validated, and workflow run spun without starting any."""
    matrix = ", ".join(f"K{i}: [{', '.join(str(v) for v in range(10))}]" for i in range(8))
    flow = write_flow(tmp_path, f"steps:\n  - {{name: a, job: work, matrix: {{{matrix}}}}}\n")
    result = jobctl("validate", str(flow))
    assert result.exit_code == 3
    assert "spec.steps[0].matrix: the matrix makes 100000000 runs; a step may start at most 1000" in result.stderr

"""A workflow compiled to an OCI Data Science pipeline (docs/decisions/0014-pipeline-engine.md)."""

from __future__ import annotations

import json

import pytest

from jobctl.spec.model import Origin
from jobctl.workflow.model import workflow_from_document
from jobctl.workflow.pipeline import NotCompilable, compile_workflow

STATE = "oci://state@ns/jobctl"
RUNS = "oci://state@ns/jobctl/flow/pipeline-runs/${PIPELINE_RUN_OCID}"
JOBS = {"tune": {"DATA": "oci://d@ns/x.csv", "API_TOKEN": "t0ken-value"}, "train": {"EPOCHS": "3"}}


def workflow(*steps: dict[str, object], **spec: object) -> object:
    return workflow_from_document({"metadata": {"name": "flow"}, "spec": {"steps": list(steps), **spec}},
                                  Origin("flow.yaml", 1))


TUNE = {"name": "tune", "job": "tune", "matrix": {"MODEL": ["a", "b", "c"]}, "maxParallel": 2,
        "env": {"SEED": "7", "DATASET": "${{ env.DATASET }}"}, "select": {"metric": "auc"}}
TRAIN = {"name": "train", "job": "train", "needs": ["tune"],
         "env": {"MODEL": "${{ steps.tune.best.env.MODEL }}", "NOTE": "auc=${{ steps.tune.best.metrics.auc }} "
                                                                        "in ${{ workflow.name }}"},
         "args": ["--model", "${{ steps.tune.best.env.MODEL }}"]}


def test_each_combination_is_a_step_max_parallel_is_lanes_and_select_is_a_step_after_them() -> None:
    compiled = compile_workflow(workflow(TUNE, TRAIN), JOBS, STATE, driven={"train"})  # type: ignore[arg-type]
    assert [(s.name, s.depends_on) for s in compiled.steps] == [
        ("tune-1", ()), ("tune-2", ()), ("tune-3", ("tune-1",)),  # two at once: the third after the first
        ("tune-select", ("tune-1", "tune-2", "tune-3")), ("train", ("tune-select",))]
    first = compiled.step("tune-1")
    assert first.env == {"DATA": "oci://d@ns/x.csv", "API_TOKEN": "t0ken-value", "SEED": "7", "MODEL": "a",
                         "JOBCTL_OUTPUT_URI": f"{RUNS}/tune/MODEL=a/", "DATASET": "${{ env.DATASET }}",
                         "JOBCTL_AT_RUN": "DATASET"}
    assert first.at_run == {"DATASET": "${{ env.DATASET }}"}  # filled by `workflow run`; in the pipeline as written
    select = json.loads(compiled.step("tune-select").env["JOBCTL_SELECT"])
    assert select["uri"] == f"{RUNS}/tune/"
    assert [(c["step"], c["slug"], c["env"]["MODEL"]) for c in select["candidates"]] == [
        ("tune-1", "MODEL=a", "a"), ("tune-2", "MODEL=b", "b"), ("tune-3", "MODEL=c", "c")]
    assert "API_TOKEN" not in select["candidates"][0]["env"]  # no secret in what the selector writes


def test_a_later_steps_values_are_filled_in_by_the_driver_from_the_parts_jobctl_parsed() -> None:
    train = compile_workflow(workflow(TUNE, TRAIN), JOBS, STATE, driven={"train"}).step("train")  # type: ignore[arg-type]
    assert "MODEL" not in train.env
    refs = json.loads(train.env["JOBCTL_REFS"])
    assert refs["env"] == {"MODEL": [["ref", "tune", "env", "MODEL"]],
                           "NOTE": [["text", "auc="], ["ref", "tune", "metrics", "auc"], ["text", " in flow"]]}
    assert refs["args"] == [[["text", "--model"]], [["ref", "tune", "env", "MODEL"]]]
    assert train.env["JOBCTL_WORKFLOW_RUN_URI"] == f"{RUNS}/"
    assert train.env["EPOCHS"] == "3"


@pytest.mark.parametrize(("change", "problem"), [
    ({"maxParallel": 2}, "spec.maxParallel: the pipeline engine cannot bound unrelated steps together"),
    ({"tune": {"select": {"metric": "auc", "from": "logs"}}}, "select from: logs needs the client engine"),
    ({"tune": {"timeout": "1h"}}, "timeout needs the client engine"),
    ({"tune": {"continueOnError": True}}, "continueOnError needs the client engine"),
    ({"driven": set()}, "job 'train' takes values from an earlier step, which jobctl's driver fills in"),
    ({"tune": {"env": {"X": "${{ steps.tune.best.run.id }}"}}}, "best.run.id needs the client engine"),
])
def test_what_the_pipeline_engine_cannot_run_is_said_before_anything_is_made(change: dict[str, object],
                                                                            problem: str) -> None:
    tune = {**TUNE, **change.pop("tune", {})}  # type: ignore[dict-item]
    driven = change.pop("driven", {"train"})
    with pytest.raises(NotCompilable) as caught:
        compile_workflow(workflow(tune, TRAIN, **change), JOBS, STATE, driven=driven)  # type: ignore[arg-type]
    assert any(problem in line for line in caught.value.problems), caught.value.problems


def test_run_time_values_next_to_an_earlier_steps_are_set_by_workflow_run_and_read_by_the_driver() -> None:
    """`${{ env.X }}` beside a step's value, or in args without one, is known only when the run starts."""
    later = {"name": "train", "job": "train", "needs": ["tune"],
             "env": {"MSG": "${{ steps.tune.best.env.MODEL }} on ${{ env.DATASET }} (${{ workflow.run }})"},
             "args": ["--data", "${{ env.DATASET }}"]}
    train = compile_workflow(workflow(TUNE, later), JOBS, STATE, driven={"train"}).step("train")  # type: ignore[arg-type]
    assert json.loads(train.env["JOBCTL_REFS"]) == {"args": None, "env": {"MSG": [
        ["ref", "tune", "env", "MODEL"], ["text", " on "], ["env", "JOBCTL_WORKFLOW_ENV_DATASET"], ["text", " ("],
        ["env", "JOBCTL_WORKFLOW_RUN"], ["text", ")"]]}}
    assert train.at_run == {"JOBCTL_WORKFLOW_ENV_DATASET": "${{ env.DATASET }}",
                            "JOBCTL_WORKFLOW_RUN": "${{ workflow.run }}"}
    assert train.args_at_run  # the args are filled by `workflow run`, not sent as written


@pytest.mark.parametrize("key", ["DATASET", "API_TOKEN"])
def test_a_value_the_pick_cannot_pass_on_is_refused_before_anything_is_made(key: str) -> None:
    """The red team: a later step's reference to a secret or run-time value of the pick failed at run time,
    with no reason given."""
    tune = {**TUNE, "env": {**TUNE["env"], "API_TOKEN": "${{ env.API_TOKEN }}"}}  # type: ignore[dict-item]
    later = {**TRAIN, "env": {"X": f"${{{{ steps.tune.best.env.{key} }}}}"}, "args": None}
    later.pop("args")
    with pytest.raises(NotCompilable) as caught:
        compile_workflow(workflow(tune, later), JOBS, STATE, driven={"train"})  # type: ignore[arg-type]
    assert any(f"the pick of step 'tune' cannot pass {key} on" in line for line in caught.value.problems)


def test_a_dollar_escaped_expression_is_a_literal_in_env_args_and_beside_references() -> None:
    step = {"name": "train", "job": "train", "env": {"LITERAL": "$${{ env.A }}"},
            "args": ["--tag", "$${{ x }}"]}
    train = compile_workflow(workflow(step), JOBS, STATE, driven={"train"}).step("train")  # type: ignore[arg-type]
    assert (train.env["LITERAL"], train.args, train.at_run) == ("${{ env.A }}", ("--tag", "${{ x }}"), {})
    mixed = {**TRAIN, "env": {"NOTE": "$${{ kept }} ${{ steps.tune.best.env.MODEL }}"}}
    later = compile_workflow(workflow(TUNE, mixed), JOBS, STATE, driven={"train"}).step("train")  # type: ignore[arg-type]
    assert json.loads(later.env["JOBCTL_REFS"])["env"]["NOTE"] == [["text", "${{ kept }} "],
                                                                   ["ref", "tune", "env", "MODEL"]]

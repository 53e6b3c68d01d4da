"""The model-selection example on the oci backend against the fake, running the example's real code.

The fake never runs code by itself; this test gives it `artifact_workload`, which unpacks each job's
uploaded artifact, runs its entrypoint with the run's environment and puts outputs.json where the run
was told to (JOBCTL_OUTPUT_URI) — what OCI and jobctl.outputs do together.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl.testing.fake_oci import FakeOCI
from jobctl.testing.fake_oci.workloads import artifact_workload
from tests.conftest import EXAMPLES

STATE = "oci://ml-state@mytenancy/jobctl"
SECRET = "oci-workflow-secret-5b21"


@pytest.fixture
def oci_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOCI]:
    with FakeOCI() as fake:
        fake.workload = artifact_workload(fake)
        fake.create_bucket("ml-state", namespace="mytenancy")  # the example's state bucket, made beforehand
        for name, value in {
            "JOBCTL_BACKEND": "oci", "OCI_CLI_CONFIG_FILE": str(fake.write_config(tmp_path / "oci")),
            "JOBCTL_OCI_ENDPOINT": fake.url, "JOBCTL_OCI_RETRY": "fast", "JOBCTL_OCI_POLL_SECONDS": "0.02",
            "OCI_COMPARTMENT_ID": "ocid1.compartment.oc1..ms", "OCI_PROJECT_ID": "ocid1.datascienceproject.oc1.iad.ms",
            "MODEL_STORE": "oci://ml-state@mytenancy/models",  # where train-final uploads its model
        }.items():
            monkeypatch.setenv(name, value)
        yield fake


def test_model_selection_on_oci_keeps_state_and_outputs_in_object_storage(jobctl, oci_env: FakeOCI,
                                                                          tmp_path: Path) -> None:
    assert jobctl("apply", str(EXAMPLES / "model-selection" / "jobs.yaml")).exit_code == 0
    flow = tmp_path / "workflow.yaml"
    flow.write_text((EXAMPLES / "model-selection" / "workflow.yaml").read_text().replace(
        "  # state: oci://my-bucket@my-namespace/jobctl", f"  state: {STATE}"))
    result = jobctl("workflow", "run", str(flow), "--env", f"API_TOKEN={SECRET}")
    assert result.exit_code == 0, result.stderr
    [saved] = [key for key in oci_env.store.objects if key[:2] == ("mytenancy", "ml-state")
               and key[2].startswith("jobctl/model-selection/runs/")]
    stored = json.loads(oci_env.store.objects[saved].content)
    assert SECRET not in json.dumps(stored)  # issue 12 item 10: secrets stay out of state objects
    assert stored["secretEnv"] == ["API_TOKEN"]
    status = jobctl("workflow", "status", "model-selection", "--state", STATE, "-o", "json")
    assert status.exit_code == 0, status.stderr
    state = json.loads(status.stdout)
    tune = state["steps"]["tune"]
    scores = {r["env"]["MODEL"]: r["outputs"]["metrics"]["val_auc"] for r in tune["runs"]}
    best_model = max(scores, key=scores.__getitem__)
    [train] = state["steps"]["train"]["runs"]
    assert train["env"]["MODEL"] == best_model
    names = sorted(n for ns, bucket, n in oci_env.store.objects if (ns, bucket) == ("mytenancy", "ml-state"))
    assert f"jobctl/model-selection/runs/{stored['run']}.json" in names
    assert sum(n.endswith("/outputs.json") for n in names) == 4  # three tune runs and the final one
    assert f"models/{train['id']}/model.json" in names  # train-final's outputDir, uploaded by its run
    without_state = jobctl("workflow", "status", "model-selection")
    assert without_state.exit_code == 6
    assert "spec.state" in without_state.stderr


def workflow_with_state(tmp_path: Path, state: str) -> Path:
    flow = tmp_path / "workflow.yaml"
    flow.write_text((EXAMPLES / "model-selection" / "workflow.yaml").read_text().replace(
        "  # state: oci://my-bucket@my-namespace/jobctl", f"  state: {state}"))
    return flow


def test_a_state_location_whose_bucket_does_not_exist_is_an_error_before_any_run(jobctl, oci_env: FakeOCI,
                                                                                 tmp_path: Path) -> None:
    """Issue 14 rule 11: a mistyped bucket read as "no state yet", so the workflow started afresh."""
    assert jobctl("apply", str(EXAMPLES / "model-selection" / "jobs.yaml")).exit_code == 0

    result = jobctl("workflow", "run", str(workflow_with_state(tmp_path, "oci://ml-sate@mytenancy/jobctl")))

    assert result.exit_code == 6, result.stderr
    assert "oci://ml-sate@mytenancy/" in result.stderr
    assert "BucketNotFound" in result.stderr
    assert oci_env.runs() == []
    status = jobctl("workflow", "status", "model-selection", "--state", "oci://ml-sate@mytenancy/jobctl")
    assert status.exit_code == 6, status.stderr


def test_a_state_location_without_namespace_uses_the_tenancys(jobctl, oci_env: FakeOCI, tmp_path: Path) -> None:
    oci_env.create_bucket("ml-state")  # in the tenancy's own namespace
    assert jobctl("apply", str(EXAMPLES / "model-selection" / "jobs.yaml")).exit_code == 0
    oci_env.clear_requests()

    result = jobctl("workflow", "run", str(workflow_with_state(tmp_path, "oci://ml-state/jobctl")))

    assert result.exit_code == 0, result.stderr
    assert oci_env.count("GET", r"^/n/?$") == 1  # GetNamespace, once
    assert any(key[:2] == (oci_env.namespace, "ml-state") and key[2].startswith("jobctl/model-selection/runs/")
               for key in oci_env.store.objects)


def test_a_malformed_state_option_is_a_usage_error(jobctl, oci_env: FakeOCI) -> None:
    result = jobctl("workflow", "status", "model-selection", "--state", "oci:/x")
    assert result.exit_code == 2, result.stderr
    assert "'oci:/x' is not an Object Storage location" in result.stderr


def test_model_selection_runs_as_a_pipeline_without_jobctl(jobctl, oci_env: FakeOCI, tmp_path: Path) -> None:
    """Issue 16: `workflow run --engine pipeline` starts a Data Science pipeline run and returns; the service
    runs the steps (the fake's, running the example's code), the selector picks the best model class and
    the final step trains it; `workflow status` reads it all from the pipeline run."""
    import time

    assert jobctl("apply", str(EXAMPLES / "model-selection" / "jobs.yaml")).exit_code == 0
    flow = workflow_with_state(tmp_path, STATE)
    started = jobctl("workflow", "run", str(flow), "--engine", "pipeline", "--env", f"API_TOKEN={SECRET}")
    assert started.exit_code == 0, started.stderr
    assert SECRET not in str([stored.content for stored in oci_env.store.objects.values()])  # state: names only
    [run] = oci_env.pipeline_runs()
    assert f"as pipeline run {run['id']}" in started.stderr
    assert [s["stepName"] for s in run["stepRuns"]] == ["tune-1", "tune-2", "tune-3", "tune-select", "train"]
    deadline = time.monotonic() + 60  # jobctl has returned: the service goes on alone
    while oci_env.pipeline_run(run["id"])["lifecycleState"] not in ("SUCCEEDED", "FAILED"):
        assert time.monotonic() < deadline, oci_env.pipeline_run(run["id"])
        oci_env.step_all()
    final = json.loads(jobctl("workflow", "status", "model-selection", "--state", STATE, "-o", "json").stdout)
    assert (final["status"], final["steps"]["tune"]["status"], final["steps"]["train"]["status"]) == (
        "succeeded", "succeeded", "succeeded"), final
    objects = {name: stored.content for (ns, bucket, name), stored in oci_env.store.objects.items()
               if (ns, bucket) == ("mytenancy", "ml-state")}
    scores = {json.loads(objects[n])["metrics"]["val_auc"]: n for n in objects
              if n.startswith(f"jobctl/model-selection/pipeline-runs/{run['id']}/tune/MODEL=") and n.endswith(
                  "outputs.json")}
    best_model = scores[max(scores)].split("/MODEL=")[1].split("/")[0]
    best = json.loads(objects[f"jobctl/model-selection/pipeline-runs/{run['id']}/tune/best.json"])
    assert best["env"]["MODEL"] == best_model
    [train] = final["steps"]["train"]["runs"]
    trained = json.loads(objects[f"jobctl/model-selection/pipeline-runs/{run['id']}/train/-/outputs.json"])
    assert trained["model"] == best_model  # the final step received the pick, from best.json
    assert json.loads(objects[f"models/{train['id']}/model.json"])["model"] == best_model
    [starred] = [x for x in jobctl("workflow", "status", "model-selection", "--state", STATE).stdout.splitlines()
                 if "★ selected" in x]
    assert f"MODEL={best_model}" in starred  # the selector's pick, read from best.json


def test_a_pipeline_run_is_canceled_by_workflow_cancel(jobctl, oci_env: FakeOCI, tmp_path: Path) -> None:
    assert jobctl("apply", str(EXAMPLES / "model-selection" / "jobs.yaml")).exit_code == 0
    flow = workflow_with_state(tmp_path, STATE)
    assert jobctl("workflow", "run", str(flow), "--engine", "pipeline").exit_code == 0
    oci_env.settings.auto_progress = False  # the run stays where it is until canceled
    canceled = jobctl("workflow", "cancel", "model-selection", "--state", STATE)
    assert canceled.exit_code == 0, canceled.stderr
    [run] = oci_env.pipeline_runs()
    assert run["lifecycleState"] in ("CANCELING", "CANCELED")
    assert f"pipeline run {run['id']} {run['lifecycleState']}" in canceled.stderr


def test_what_the_pipeline_engine_cannot_run_is_a_usage_error_before_anything_is_made(
    jobctl, oci_env: FakeOCI, tmp_path: Path,
) -> None:
    assert jobctl("apply", str(EXAMPLES / "model-selection" / "jobs.yaml")).exit_code == 0
    flow = workflow_with_state(tmp_path, STATE)
    flow.write_text(flow.read_text().replace("select: {metric: val_auc, goal: max}",
                                             "select: {metric: val_auc, goal: max, from: logs}"))
    result = jobctl("workflow", "run", str(flow), "--engine", "pipeline")
    assert result.exit_code == 2
    assert (f"{flow}:8: workflow 'model-selection' cannot run on the pipeline engine: step 'tune': select from: "
            "logs needs the client engine") in result.stderr
    assert "Hint: run it with --engine client" in result.stderr
    assert oci_env.pipelines() == []


def test_the_pipeline_engine_is_for_the_oci_backend(jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBCTL_BACKEND", "local")
    result = jobctl("workflow", "run", str(EXAMPLES / "model-selection" / "workflow.yaml"), "--engine", "pipeline")
    assert result.exit_code == 2
    assert "the pipeline engine runs on OCI Data Science Pipelines: use --backend oci" in result.stderr


def test_a_pipeline_run_with_a_state_bucket_that_does_not_exist_makes_nothing(jobctl, oci_env: FakeOCI,
                                                                              tmp_path: Path) -> None:
    """The red team: the pipeline, its selector job and a run were made, then saving the state failed."""
    assert jobctl("apply", str(EXAMPLES / "model-selection" / "jobs.yaml")).exit_code == 0
    jobs = len(oci_env.jobs())
    flow = workflow_with_state(tmp_path, "oci://nobucket@mytenancy/jobctl")
    result = jobctl("workflow", "run", str(flow), "--engine", "pipeline")
    assert result.exit_code == 6
    assert "nobucket" in result.stderr
    assert (oci_env.pipelines(), oci_env.pipeline_runs(), len(oci_env.jobs())) == ([], [], jobs)


def declared(tmp_path: Path, state: str = STATE) -> Path:
    """The model-selection example as a directory whose workflow says spec.engine: pipeline."""
    import shutil

    specs = tmp_path / "specs"
    shutil.copytree(EXAMPLES / "model-selection", specs)
    flow = specs / "workflow.yaml"
    flow.write_text(flow.read_text().replace("  # state: oci://my-bucket@my-namespace/jobctl",
                                             f"  state: {state}\n  engine: pipeline"))
    return specs


def test_apply_keeps_a_workflows_pipeline_as_its_spec_says(jobctl, oci_env: FakeOCI, tmp_path: Path) -> None:
    """Issue 16: plan/apply create, update in place and replace a workflow's pipeline as they do jobs."""
    specs = declared(tmp_path)
    plan = jobctl("plan", str(specs))
    assert plan.exit_code == 0, plan.stderr
    assert "+ job model-selection-select" in plan.stdout
    assert "+ pipeline model-selection" in plan.stdout
    assert "workflow steps: tune ×3, train" in plan.stdout
    assert "Plan: 4 to create, 0 to update, 0 to replace, 0 to delete." in plan.stdout
    applied = jobctl("apply", str(specs))
    assert applied.exit_code == 0, applied.stderr
    [pipeline] = oci_env.pipelines()
    assert pipeline["freeformTags"]["jobctl-state"] == STATE
    assert f"pipeline model-selection: created ({pipeline['id']})" in applied.stderr
    again = jobctl("plan", str(specs), "--detailed-exitcode")
    assert (again.exit_code, again.stdout.strip()) == (0, "No changes. 3 job(s), 1 pipeline(s) up to date."), again

    flow = specs / "workflow.yaml"
    flow.write_text(flow.read_text().replace("        TUNED_AUC:", "        DATASET: v2\n        TUNED_AUC:"))
    update = jobctl("plan", str(specs), "-o", "json")
    [change] = json.loads(update.stdout)["pipelines"]
    assert (change["action"], change["pipelineId"]) == ("update", pipeline["id"])
    assert change["fields"] == [{"field": "steps.train.env.DATASET", "old": None, "new": "v2", "forcesReplace": False}]
    assert jobctl("apply", str(specs)).exit_code == 0
    [updated] = oci_env.pipelines()
    train = next(s for s in updated["stepDetails"] if s["stepName"] == "train")
    assert train["stepConfigurationDetails"]["environmentVariables"]["DATASET"] == "v2"

    flow.write_text(flow.read_text().replace("[logreg, knn, forest]", "[logreg, knn]"))
    replace = jobctl("plan", str(specs))
    assert f"-/+ pipeline model-selection ({pipeline['id']})  # step tune-3 removed" in replace.stdout, replace.stdout
    unconfirmed = jobctl("apply", str(specs))  # a replace needs a yes, for a pipeline as for a job
    assert unconfirmed.exit_code == 2
    assert "refusing to replace or delete the pipelines above without confirmation" in unconfirmed.stderr
    assert jobctl("apply", str(specs), "--yes").exit_code == 0
    live = [p for p in oci_env.pipelines() if p["lifecycleState"] == "ACTIVE"]
    assert [len(p["stepDetails"]) for p in live] == [4]  # tune-1, tune-2, tune-select, train
    assert oci_env.pipeline(pipeline["id"])["lifecycleState"] in ("DELETING", "DELETED")  # it had no run


def test_a_workflow_runs_by_name_from_its_applied_pipeline_and_waits(jobctl, oci_env: FakeOCI,
                                                                     tmp_path: Path) -> None:
    specs = declared(tmp_path)
    assert jobctl("apply", str(specs)).exit_code == 0
    started = jobctl("workflow", "run", "model-selection", "--wait")
    assert started.exit_code == 0, started.stderr
    assert "  tune: succeeded" in started.stderr
    assert "workflow model-selection: run model-selection-" in started.stderr
    [run] = oci_env.pipeline_runs()
    assert run["lifecycleState"] == "SUCCEEDED"
    status = json.loads(jobctl("workflow", "status", "model-selection", "--state", STATE, "-o", "json").stdout)
    assert (status["status"], status["pipelineRunId"]) == ("succeeded", run["id"])
    assert jobctl("plan", str(specs), "--detailed-exitcode").exit_code == 0  # running it changed nothing
    logs = jobctl("workflow", "logs", "model-selection", "--state", STATE, "--step", "train")
    assert logs.exit_code == 0, logs.stderr
    lines = logs.stdout.splitlines()
    assert all(line.startswith("[train train] ") for line in lines)  # the train step's run alone
    assert any("final model=" in line for line in lines)


def test_a_workflow_by_name_needs_its_env_and_an_applied_pipeline(jobctl, oci_env: FakeOCI, tmp_path: Path) -> None:
    missing = jobctl("workflow", "run", "model-selection")
    assert missing.exit_code == 4, missing.stderr
    assert "workflow 'model-selection' has no pipeline applied" in missing.stderr
    specs = declared(tmp_path)
    flow = specs / "workflow.yaml"
    flow.write_text(flow.read_text().replace("        TUNED_AUC:", "        DATASET: ${{ env.DATASET }}\n"
                                             "        TUNED_AUC:"))
    assert jobctl("apply", str(specs), "--env", "x").exit_code == 2  # apply takes no --env
    assert jobctl("apply", str(specs)).exit_code == 0
    lacking = jobctl("workflow", "run", "model-selection")
    assert lacking.exit_code == 2, lacking.stderr
    assert "takes DATASET from --env" in lacking.stderr
    assert oci_env.pipeline_runs() == []
    given = jobctl("workflow", "run", "model-selection", "--env", "DATASET=2024-q4")
    assert given.exit_code == 0, given.stderr
    [run] = oci_env.pipeline_runs()
    [train] = [s for s in run["stepOverrideDetails"] if s["stepName"] == "train"]
    assert train["stepConfigurationDetails"]["environmentVariables"]["DATASET"] == "2024-q4"


def test_prune_deletes_the_pipeline_of_a_workflow_gone_from_its_set(jobctl, oci_env: FakeOCI,
                                                                    tmp_path: Path) -> None:
    specs = declared(tmp_path)
    assert jobctl("apply", str(specs)).exit_code == 0
    [pipeline] = oci_env.pipelines()
    (specs / "workflow.yaml").unlink()
    plan = jobctl("plan", str(specs), "--prune")
    assert f"- pipeline model-selection ({pipeline['id']})" in plan.stdout, plan.stdout
    assert "- job model-selection-select" in plan.stdout
    assert jobctl("apply", str(specs), "--prune").exit_code == 2  # deleting needs a confirmation
    assert jobctl("apply", str(specs), "--prune", "--yes").exit_code == 0
    assert oci_env.pipeline(pipeline["id"])["lifecycleState"] in ("DELETING", "DELETED")


def test_locally_a_pipeline_workflow_is_planned_with_a_warning_and_run_by_this_process(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JOBCTL_BACKEND", "local")
    specs = declared(tmp_path)
    plan = jobctl("plan", str(specs))
    assert plan.exit_code == 0, plan.stderr
    assert "workflow model-selection: spec.engine pipeline runs on OCI" in plan.stdout


def test_an_idempotency_key_re_attaches_to_its_pipeline_run_and_refuses_other_inputs(jobctl, oci_env: FakeOCI,
                                                                                    tmp_path: Path) -> None:
    """The red team: the pipeline engine took no idempotency key, so a CI retry started a second pipeline run."""
    specs = declared(tmp_path)
    assert jobctl("apply", str(specs)).exit_code == 0
    first = jobctl("workflow", "run", "model-selection", "--idempotency-key", "ci-812", "--env", "A=1")
    assert first.exit_code == 0, first.stderr
    [run] = oci_env.pipeline_runs()
    assert f"(idempotency key 'ci-812') as pipeline run {run['id']}" in first.stderr
    again = jobctl("workflow", "run", str(specs / "workflow.yaml"), "--idempotency-key", "ci-812", "--env", "A=1")
    assert again.exit_code == 0, again.stderr
    assert "re-attached to run model-selection-" in again.stderr
    other = jobctl("workflow", "run", "model-selection", "--idempotency-key", "ci-812", "--env", "A=2")
    assert other.exit_code == 5
    assert "was started with other inputs: --env A differs" in other.stderr
    assert len(oci_env.pipeline_runs()) == 1


def test_a_start_whose_answer_was_lost_is_retried_by_its_key_without_a_second_pipeline_run(
    jobctl, oci_env: FakeOCI, tmp_path: Path,
) -> None:
    specs = declared(tmp_path)
    assert jobctl("apply", str(specs)).exit_code == 0
    oci_env.faults.add(path=r"/pipelineRuns$", method="POST", status=500, after=True, times=50)  # made, unheard
    lost = jobctl("workflow", "run", "model-selection", "--idempotency-key", "ci-9")
    assert lost.exit_code != 0
    oci_env.faults.clear()
    [made] = oci_env.pipeline_runs()
    retried = jobctl("workflow", "run", "model-selection", "--idempotency-key", "ci-9")
    assert retried.exit_code == 0, retried.stderr
    assert f"as pipeline run {made['id']}" in retried.stderr  # the service's retry token found it
    assert len(oci_env.pipeline_runs()) == 1


def test_follow_on_the_pipeline_engine_streams_each_steps_output_and_mirrors_the_outcome(
    jobctl, oci_env: FakeOCI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OCI_LOG_GROUP_ID", "ocid1.loggroup.oc1.iad.ms")
    monkeypatch.setenv("JOBCTL_OCI_LOG_SETTLE", "0.3")
    specs = declared(tmp_path)
    assert jobctl("apply", str(specs)).exit_code == 0
    followed = jobctl("workflow", "run", "model-selection", "--follow")
    assert followed.exit_code == 0, followed.stderr
    lines = followed.stdout.splitlines()
    for index, model in enumerate(("logreg", "knn", "forest"), start=1):
        assert any(line.startswith(f"[tune tune-{index}] model={model} val_auc=") for line in lines), lines
    assert any(line.startswith("[train train] final model=") for line in lines)
    assert "workflow model-selection: run model-selection-" in followed.stderr
    assert " succeeded" in followed.stderr


def test_a_change_to_what_a_run_fills_in_is_an_update_shown_without_jobctls_wiring(
    jobctl, oci_env: FakeOCI, tmp_path: Path,
) -> None:
    """The red team: `X: ${{ env.X }}` -> `X: pre-${{ env.X }}` was "No changes", and runs by name kept the old
    templates; a changed SEED showed the selector's whole JOBCTL_SELECT blob."""
    specs = declared(tmp_path)
    flow = specs / "workflow.yaml"
    flow.write_text(flow.read_text().replace("        TUNED_AUC:", "        X: ${{ env.X }}\n        TUNED_AUC:"))
    assert jobctl("apply", str(specs)).exit_code == 0
    flow.write_text(flow.read_text().replace("X: ${{ env.X }}", "X: pre-${{ env.X }}").replace(
        "maxParallel: 3", "maxParallel: 3\n      env: {SEED: '8'}"))
    plan = jobctl("plan", str(specs))
    assert plan.exit_code == 0, plan.stderr
    assert '~ steps.train.env.X: "${{ env.X }}" → "pre-${{ env.X }}"' in plan.stdout
    assert '~ steps.tune-1.env.SEED: "7" → "8"' in plan.stdout
    assert '~ steps.tune-select.env.JOBCTL_*: "(as applied)" → "(follows the spec\'s change)"' in plan.stdout
    assert "JOBCTL_SELECT" not in plan.stdout
    assert jobctl("apply", str(specs)).exit_code == 0
    assert jobctl("workflow", "run", "model-selection", "--env", "X=1").exit_code == 0
    [run] = oci_env.pipeline_runs()
    [train] = [s for s in run["stepOverrideDetails"] if s["stepName"] == "train"]
    assert train["stepConfigurationDetails"]["environmentVariables"]["X"] == "pre-1"


def test_a_pipeline_whose_record_could_not_be_written_is_planned_again(jobctl, oci_env: FakeOCI,
                                                                       tmp_path: Path) -> None:
    """The red team: the state bucket was missing at the first apply; once made, plan said "No changes" and
    `workflow run NAME` failed for good. Now plan refuses first, and a record gone missing is rewritten."""
    specs = declared(tmp_path, "oci://later@mytenancy/jobctl")
    early = jobctl("plan", str(specs))
    assert early.exit_code == 6
    assert "later" in early.stderr
    oci_env.create_bucket("later", namespace="mytenancy")
    assert jobctl("apply", str(specs)).exit_code == 0
    [pipeline] = oci_env.pipelines()
    del oci_env.store.objects[("mytenancy", "later", f"jobctl/model-selection/pipelines/{pipeline['id']}.json")]
    plan = jobctl("plan", str(specs))
    assert f"~ pipeline model-selection ({pipeline['id']})  # its record in spec.state is missing" in plan.stdout
    assert jobctl("apply", str(specs)).exit_code == 0
    assert jobctl("workflow", "run", "model-selection").exit_code == 0


def test_running_a_workflow_from_its_file_keeps_its_pipeline_and_selector_in_the_set_apply_put_them(
    jobctl, oci_env: FakeOCI, tmp_path: Path,
) -> None:
    """The red team: each `workflow run wf/flow.yaml` moved the selector job to the set of wf/, and a later
    `apply --prune` of the set it came from left it behind."""
    specs = declared(tmp_path)
    (specs / "wf").mkdir()
    (specs / "workflow.yaml").rename(specs / "wf" / "workflow.yaml")
    given = (str(specs / "jobs.yaml"), str(specs / "wf"))  # the set: their common directory, specs/
    assert jobctl("apply", *given).exit_code == 0
    ran = jobctl("workflow", "run", str(specs / "wf" / "workflow.yaml"))  # whose own directory is specs/wf
    assert ran.exit_code == 0, ran.stderr
    assert "job model-selection-select:" not in ran.stderr  # nothing to change
    assert jobctl("plan", *given, "--detailed-exitcode").exit_code == 0


def test_state_given_on_the_command_line_serves_a_workflow_whose_spec_has_none(jobctl, oci_env: FakeOCI,
                                                                                tmp_path: Path) -> None:
    assert jobctl("apply", str(EXAMPLES / "model-selection" / "jobs.yaml")).exit_code == 0
    flow = EXAMPLES / "model-selection" / "workflow.yaml"  # no spec.state
    ran = jobctl("workflow", "run", str(flow), "--state", STATE)
    assert ran.exit_code == 0, ran.stderr
    assert jobctl("workflow", "status", "model-selection", "--state", STATE).exit_code == 0
    other = jobctl("workflow", "run", str(workflow_with_state(tmp_path, STATE)), "--state", "oci://x@y/z")
    assert other.exit_code == 2
    assert f"--state oci://x@y/z is not the spec.state of workflow 'model-selection' ({STATE})" in other.stderr


def test_a_run_by_name_takes_what_it_fills_in_from_the_pipeline_not_the_state_bucket(
    jobctl, oci_env: FakeOCI, tmp_path: Path,
) -> None:
    """The second red team: editing the record in the state bucket put a secret --env into a plain variable.
    What a run fills in is now read from the pipeline; a literal $${{ stays literal."""
    specs = declared(tmp_path)
    flow = specs / "workflow.yaml"
    flow.write_text(flow.read_text().replace("        TUNED_AUC:", "        X: ${{ env.X }}\n"
                                             "        LITERAL: $${{ env.X }}\n        TUNED_AUC:"))
    assert jobctl("apply", str(specs)).exit_code == 0
    [pipeline] = oci_env.pipelines()
    where = ("mytenancy", "ml-state", f"jobctl/model-selection/pipelines/{pipeline['id']}.json")
    record = json.loads(oci_env.store.objects[where].content)
    for step in record["pipelineSteps"]:
        step["atRun"] = {"LITERAL": "${{ env.DB_PASSWORD }}", "Y": "evil"}  # as the first record format had it
    stored = oci_env.store.objects[where]
    oci_env.store.objects[where] = dataclasses.replace(stored, content=json.dumps(record).encode())
    assert jobctl("workflow", "run", "model-selection", "--env", "X=1", "--env", "DB_PASSWORD=hunter2-secret"
                  ).exit_code == 0
    [run] = oci_env.pipeline_runs()
    [train] = [s for s in run["stepOverrideDetails"] if s["stepName"] == "train"]
    env = train["stepConfigurationDetails"]["environmentVariables"]
    assert (env["X"], env["LITERAL"], "Y" in env) == ("1", "${{ env.X }}", False)
    assert "hunter2-secret" not in json.dumps(run)


def test_running_from_a_file_asks_before_replacing_the_pipeline_and_apply_moves_it_with_its_set(
    jobctl, oci_env: FakeOCI, tmp_path: Path,
) -> None:
    """Second red team: `workflow run FILE` replaced a pipeline without asking; a pipeline made from a
    subdirectory stayed in that set when apply moved its selector job, and --prune then broke it."""
    specs = declared(tmp_path)
    (specs / "wf").mkdir()
    (specs / "workflow.yaml").rename(specs / "wf" / "workflow.yaml")
    flow = specs / "wf" / "workflow.yaml"
    assert jobctl("apply", str(specs / "jobs.yaml")).exit_code == 0
    assert jobctl("workflow", "run", str(flow), "--wait").exit_code == 0  # made with the set of wf/
    moved = jobctl("plan", str(specs))  # the set of specs/: jobs.yaml and wf/
    assert "moves to set" in moved.stdout, moved.stdout
    assert jobctl("apply", str(specs)).exit_code == 0
    assert jobctl("plan", str(specs), "--detailed-exitcode").exit_code == 0
    [pipeline] = oci_env.pipelines()
    selector = next(j for j in oci_env.jobs() if j["displayName"] == "model-selection-select"
                    and "jobctl-superseded" not in j["freeformTags"])
    assert pipeline["freeformTags"]["jobctl-set"] == selector["freeformTags"]["jobctl-set"]
    flow.write_text(flow.read_text().replace("[logreg, knn, forest]", "[logreg, knn]"))
    asked = jobctl("workflow", "run", str(flow))
    assert asked.exit_code == 2
    assert "refusing to replace pipeline model-selection" in asked.stderr
    assert jobctl("workflow", "run", str(flow), "--yes").exit_code == 0


def test_a_failed_selector_says_where_its_reason_is(jobctl, oci_env: FakeOCI, tmp_path: Path) -> None:
    """Second red team: a selector step that failed left its step "failed" with no word of why."""
    specs = declared(tmp_path)
    flow = specs / "workflow.yaml"
    flow.write_text(flow.read_text().replace("select: {metric: val_auc, goal: max}",
                                             "select: {metric: nothing_reports_this, goal: max}"))
    assert jobctl("apply", str(specs)).exit_code == 0
    assert jobctl("workflow", "run", "model-selection", "--wait").exit_code == 1
    tune = json.loads(jobctl("workflow", "status", "model-selection", "-o", "json").stdout)["steps"]["tune"]
    assert tune["status"] == "failed"
    assert tune["error"].startswith("selecting the best run failed (")
    assert "see why: jobctl logs ocid1.datasciencejobrun" in tune["error"]


def test_what_the_pipeline_engine_cannot_run_is_said_by_plan_even_with_its_jobs_not_applied_yet(
    jobctl, oci_env: FakeOCI, tmp_path: Path,
) -> None:
    specs = declared(tmp_path)
    flow = specs / "workflow.yaml"
    flow.write_text(flow.read_text().replace("select: {metric: val_auc, goal: max}",
                                             "select: {metric: val_auc, goal: max, from: logs}"))
    plan = jobctl("plan", str(specs))  # the jobs are created by this same apply
    assert plan.exit_code == 3, plan.stdout
    assert "spec.engine: workflow 'model-selection' cannot run on the pipeline engine: step 'tune': select from: " \
        "logs needs the client engine" in plan.stderr
    assert jobctl("apply", str(specs)).exit_code == 3
    assert (oci_env.jobs(), oci_env.pipelines()) == ([], [])

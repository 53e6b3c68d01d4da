"""Data Science Pipelines in the fake OCI, driven through the real `oci` SDK (docs/oci-fidelity.md,
"Data Science Pipelines")."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import oci
import pytest

from jobctl.testing.fake_oci import FakeOCI, ManualClock, WorkloadRun, echo_workload, schema
from jobctl.testing.fake_oci.pipeline_runs import PIPELINE_RUN_SUMMARY_FIELDS, RUN_STATES, STEP_STATES
from jobctl.testing.fake_oci.pipelines import PIPELINE_STATES, PIPELINE_SUMMARY_FIELDS
from jobctl.testing.fake_oci.workloads import artifact_workload
from tests.oci.conftest import SdkClients
from tests.oci.test_fake_oci import (
    COMPARTMENT,
    LOG,
    LOG_GROUP,
    PROJECT,
    around_now,
    assert_matches_model,
    assert_matches_subtypes,
    run_query,
    search,
    service_error,
)

M = oci.data_science.models
ENDED = ("SUCCEEDED", "FAILED", "CANCELED")
MAX_POLLS = 40  # a deadline for every poll: a run of four steps ends within about 10


class TickingClock(ManualClock):
    """Every reading is one second after the last, so each timestamp the fake writes is distinct and ordered."""

    def __call__(self) -> float:
        return self.advance(1)


def container_job(fake: FakeOCI, env: dict[str, str] | None = None, args: str | None = None) -> str:
    """An ACTIVE job (a container job needs no artifact) logging to LOG; returns its id."""
    config: dict[str, Any] = {"jobType": "DEFAULT", "environmentVariables": env or {}}
    if args is not None:
        config["commandLineArguments"] = args
    return str(fake.create_job({
        "projectId": PROJECT, "compartmentId": COMPARTMENT, "displayName": "step-job",
        "jobConfigurationDetails": config,
        "jobEnvironmentConfigurationDetails": {"jobEnvironmentType": "OCIR_CONTAINER", "image": "iad.ocir.io/ns/s:1"},
        "jobLogConfigurationDetails": {"enableLogging": True, "logGroupId": LOG_GROUP, "logId": LOG},
    })["id"])


def step(name: str, job_id: str, depends_on: Sequence[str] = (), env: dict[str, str] | None = None,
         **more: Any) -> Any:
    configuration = M.PipelineStepConfigurationDetails(environment_variables=env) if env else None
    return M.PipelineMLJobStepDetails(step_name=name, job_id=job_id, depends_on=list(depends_on),
                                      step_configuration_details=configuration, **more)


def pipeline_details(steps: Sequence[Any], **more: Any) -> Any:
    return M.CreatePipelineDetails(project_id=PROJECT, compartment_id=COMPARTMENT, step_details=list(steps), **more)


def active_pipeline(clients: SdkClients, steps: Sequence[Any], **more: Any) -> Any:
    """A pipeline created through the SDK and polled until ACTIVE, as a careful client does."""
    created = clients.data_science.create_pipeline(pipeline_details(steps, **more)).data
    for _ in range(MAX_POLLS):
        found = clients.data_science.get_pipeline(created.id).data
        if found.lifecycle_state == "ACTIVE":
            return found
    raise AssertionError(f"pipeline {created.id} never became ACTIVE")


def start(clients: SdkClients, pipeline: Any, **more: Any) -> Any:
    details = M.CreatePipelineRunDetails(compartment_id=COMPARTMENT, pipeline_id=pipeline.id, **more)
    return clients.data_science.create_pipeline_run(details).data


def poll(clients: SdkClients, run_id: str, done: Callable[[Any], bool] = lambda r: r.lifecycle_state in ENDED,
         ) -> list[Any]:
    """Every PipelineRun a poller sees until `done` holds (by default: the run has ended)."""
    seen = [clients.data_science.get_pipeline_run(run_id).data]
    while not done(seen[-1]):
        assert len(seen) < MAX_POLLS, f"pipeline run {run_id} is stuck: {seen[-1]}"
        seen.append(clients.data_science.get_pipeline_run(run_id).data)
    return seen


def steps_of(run: Any) -> dict[str, Any]:
    return {step_run.step_name: step_run for step_run in run.step_runs}


def recorder(fake: FakeOCI) -> list[WorkloadRun]:
    """The job runs the fake's workload runs, in the order they start (each prints as echo_workload does)."""
    seen: list[WorkloadRun] = []

    def record(run: WorkloadRun) -> tuple[list[str], int | None]:
        seen.append(run)
        return echo_workload(run)

    fake.workload = record
    return seen


# The fake's tables against the SDK's models ----------------------------------------------------------

@pytest.mark.parametrize(("spec", "model"), [
    (schema.CREATE_PIPELINE, M.CreatePipelineDetails), (schema.UPDATE_PIPELINE, M.UpdatePipelineDetails),
    (schema.CREATE_PIPELINE_RUN, M.CreatePipelineRunDetails), (schema.UPDATE_PIPELINE_RUN, M.UpdatePipelineRunDetails),
    (schema.STEP_OVERRIDE, M.PipelineStepOverrideDetails),
    (schema.STEP_CONFIGURATION, M.PipelineStepConfigurationDetails),
    (schema.LOG_CONFIGURATION, M.PipelineLogConfigurationDetails),
])
def test_pipeline_request_schemas_match_the_sdk_models(spec: schema.Obj, model: type) -> None:
    assert_matches_model(spec, model)


@pytest.mark.parametrize(("spec", "base"), [
    (schema.STEP_DETAILS, M.PipelineStepDetails), (schema.STEP_UPDATE, M.PipelineStepUpdateDetails),
    (schema.PIPELINE_CONFIGURATION, M.PipelineConfigurationDetails),
])
def test_pipeline_polymorphic_schemas_match_the_sdk_subtypes(spec: schema.Poly, base: type) -> None:
    assert_matches_subtypes(spec, base)


def test_pipeline_summaries_and_states_match_the_sdk_models() -> None:
    assert set(PIPELINE_SUMMARY_FIELDS) == set(M.PipelineSummary().attribute_map.values())
    assert set(PIPELINE_RUN_SUMMARY_FIELDS) == set(M.PipelineRunSummary().attribute_map.values())
    assert "allowed_values = " + json.dumps(list(PIPELINE_STATES)) in inspect.getsource(M.Pipeline)
    assert "allowed_values = " + json.dumps(list(RUN_STATES)) in inspect.getsource(M.PipelineRun)
    assert "allowed_values = " + json.dumps(list(STEP_STATES)) in inspect.getsource(M.PipelineStepRun)


# Pipelines ------------------------------------------------------------------------------------------

def test_a_pipeline_is_creating_then_active_and_reads_back_as_sent(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = container_job(fake_oci)
    steps = [step("prepare", job), step("train", job, ["prepare"], env={"MODEL": "xgb"}, step_run_name="train-run")]

    created = clients.data_science.create_pipeline(pipeline_details(steps, description="tune then train"))
    seen = [clients.data_science.get_pipeline(created.data.id) for _ in range(2)]

    assert created.data.lifecycle_state == "CREATING"
    assert created.data.id.startswith("ocid1.datasciencepipeline.oc1.iad.")
    assert created.data.display_name  # the service names a pipeline created without one
    assert created.data.created_by == clients.config["user"]
    assert [r.data.lifecycle_state for r in seen] == ["CREATING", "ACTIVE"]
    assert seen[0].headers["etag"] == created.headers["etag"] != seen[1].headers["etag"]
    active = seen[1].data
    assert all(isinstance(s, M.PipelineMLJobStepDetails) for s in active.step_details)
    assert [(s.step_name, s.job_id, s.depends_on) for s in active.step_details] == [
        ("prepare", job, []), ("train", job, ["prepare"])]
    assert active.step_details[1].step_configuration_details.environment_variables == {"MODEL": "xgb"}
    assert active.step_details[1].step_run_name == "train-run"
    listed = clients.data_science.list_pipelines(COMPARTMENT, lifecycle_state="ACTIVE").data
    assert [(p.id, type(p)) for p in listed] == [(active.id, M.PipelineSummary)]


@pytest.mark.parametrize(("steps", "error", "words"), [
    ([], (400, "InvalidParameter"), "at least one step"),
    ([{"stepType": "ML_JOB", "stepName": "a", "jobId": "JOB"}, {"stepType": "ML_JOB", "stepName": "a", "jobId": "JOB"}],
     (400, "InvalidParameter"), "unique"),
    ([{"stepType": "ML_JOB", "stepName": "a", "jobId": "JOB", "dependsOn": ["ghost"]}], (400, "InvalidParameter"),
     "'ghost'"),
    ([{"stepType": "ML_JOB", "stepName": "a", "jobId": "JOB", "dependsOn": ["a"]}], (400, "InvalidParameter"),
     "depends on itself"),
    ([{"stepType": "ML_JOB", "stepName": "a", "jobId": "JOB", "dependsOn": ["c"]},
      {"stepType": "ML_JOB", "stepName": "b", "jobId": "JOB", "dependsOn": ["a"]},
      {"stepType": "ML_JOB", "stepName": "c", "jobId": "JOB", "dependsOn": ["b"]}], (400, "InvalidParameter"),
     "cycle (each depends on the next): a -> c -> b -> a"),
    ([{"stepType": "ML_JOB", "stepName": "a"}], (400, "MissingParameter"), "jobId"),
    ([{"stepType": "ML_JOB", "jobId": "JOB"}], (400, "MissingParameter"), "stepName"),
    ([{"stepType": "NOTEBOOK", "stepName": "a"}], (400, "InvalidParameter"), "NOTEBOOK"),
    ([{"stepType": "ML_JOB", "stepName": "a", "jobId": "ocid1.datasciencejob.oc1..gone"}],
     (400, "RelatedResourceNotAuthorizedOrNotFound"), "not found"),
    ([{"stepType": "CUSTOM_SCRIPT", "stepName": "a"}], (400, "InvalidParameter"), "serves ML_JOB steps only"),
])
def test_create_pipeline_refuses_what_is_not_a_dag_of_ml_job_steps(fake_oci: FakeOCI, clients: SdkClients,
                                                                   steps: list[dict[str, Any]],
                                                                   error: tuple[int, str], words: str) -> None:
    job = container_job(fake_oci)
    body = {"projectId": PROJECT, "compartmentId": COMPARTMENT,
            "stepDetails": [{k: job if v == "JOB" else v for k, v in s.items()} for s in steps]}

    refused = service_error(lambda: clients.data_science.create_pipeline(body))

    assert (refused.status, refused.code) == error
    assert words in refused.message
    assert fake_oci.pipelines() == []


def test_a_step_s_job_must_be_active_and_tolerated_fields_are_accepted(fake_oci: FakeOCI,
                                                                       clients: SdkClients) -> None:
    creating = fake_oci.create_job({"projectId": PROJECT, "compartmentId": COMPARTMENT})  # no artifact yet
    error = service_error(lambda: clients.data_science.create_pipeline(pipeline_details([step("a", creating["id"])])))
    assert (error.status, "CREATING" in error.message) == (400, True)
    missing = service_error(lambda: clients.data_science.create_pipeline({"compartmentId": COMPARTMENT}))
    assert (missing.status, missing.code, "projectId" in missing.message) == (400, "MissingParameter", True)
    # ADS and OCI's own sample put `type: DEFAULT` into a step's configuration, which the service accepts
    with_type = {"projectId": PROJECT, "compartmentId": COMPARTMENT, "stepDetails": [
        {"stepType": "ML_JOB", "stepName": "a", "jobId": container_job(fake_oci),
         "stepConfigurationDetails": {"type": "DEFAULT", "environmentVariables": {"A": "1"}}}]}
    assert clients.data_science.create_pipeline(with_type).data.lifecycle_state == "CREATING"
    snake_case = {**with_type, "display_name": "x"}
    assert "display_name" in service_error(lambda: clients.data_science.create_pipeline(snake_case)).message


def test_update_changes_only_what_update_pipeline_details_carries(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = container_job(fake_oci)
    pipeline = active_pipeline(clients, [step("a", job), step("b", job, ["a"], env={"MODEL": "lr"})])
    etag = clients.data_science.get_pipeline(pipeline.id).headers["etag"]
    new_config = M.PipelineStepConfigurationDetails(environment_variables={"MODEL": "xgb"})
    update = M.UpdatePipelineDetails(display_name="renamed", step_details=[
        M.PipelineMLJobStepUpdateDetails(step_name="b", step_configuration_details=new_config)])

    updated = clients.data_science.update_pipeline(pipeline.id, update, if_match=etag)

    assert updated.data.display_name == "renamed"
    assert updated.headers["etag"] != etag
    b = updated.data.step_details[1]
    assert (b.step_name, b.job_id, b.depends_on, b.step_configuration_details.environment_variables) == (
        "b", job, ["a"], {"MODEL": "xgb"})
    stale = service_error(lambda: clients.data_science.update_pipeline(pipeline.id, update, if_match=etag))
    assert (stale.status, stale.code) == (412, "PreconditionFailed")
    for body, words in (
            ({"stepDetails": [{"stepType": "ML_JOB", "stepName": "c"}]}, "'c' is not a step"),
            ({"stepDetails": [{"stepType": "CUSTOM_SCRIPT", "stepName": "a"}]}, "type cannot change"),
            ({"stepDetails": [{"stepType": "ML_JOB", "stepName": "a", "dependsOn": ["b"]}]}, "dependsOn"),
            ({"projectId": PROJECT}, "cannot be updated: projectId")):
        error = service_error(lambda b=body: clients.data_science.update_pipeline(pipeline.id, b))
        assert (error.status, words in error.message) == (400, True), error.message


def test_list_pipelines_filters_sorts_and_pages(fake_oci: FakeOCI, clients: SdkClients) -> None:
    fake_oci.clock = ManualClock()
    job = container_job(fake_oci)
    for index in range(5):
        fake_oci.clock.advance(1)  # type: ignore[attr-defined]
        project = PROJECT if index % 2 == 0 else "ocid1.datascienceproject.oc1..other"
        fake_oci.create_pipeline({"projectId": project, "compartmentId": COMPARTMENT, "displayName": f"p-{index}",
                                  "stepDetails": [{"stepType": "ML_JOB", "stepName": "a", "jobId": job}]})

    every = oci.pagination.list_call_get_all_results(clients.data_science.list_pipelines, COMPARTMENT, limit=2).data

    assert [p.display_name for p in every] == ["p-4", "p-3", "p-2", "p-1", "p-0"]  # newest first
    assert fake_oci.count("GET", r"/20190101/pipelines$") == 3
    listed = clients.data_science.list_pipelines(COMPARTMENT, project_id=PROJECT, sort_by="displayName").data
    assert [p.display_name for p in listed] == ["p-0", "p-2", "p-4"]
    assert [p.display_name for p in clients.data_science.list_pipelines(COMPARTMENT, display_name="p-3").data] == [
        "p-3"]
    assert clients.data_science.list_pipelines("ocid1.compartment.oc1..other").data == []
    assert service_error(lambda: clients.data_science.list_pipelines(COMPARTMENT, limit=101)).status == 400


# Pipeline runs --------------------------------------------------------------------------------------

def diamond(fake: FakeOCI, clients: SdkClients) -> Any:
    """prepare -> (xgb, rf) -> select, each step a run of one container job."""
    job = container_job(fake)
    return active_pipeline(clients, [
        step("prepare", job), step("xgb", job, ["prepare"], env={"MODEL": "xgb"}),
        step("rf", job, ["prepare"], env={"MODEL": "rf"}), step("select", job, ["xgb", "rf"])])


def test_a_run_starts_each_step_once_its_dependencies_succeeded(fake_oci: FakeOCI, clients: SdkClients) -> None:
    fake_oci.clock = TickingClock()
    started = recorder(fake_oci)
    pipeline = diamond(fake_oci, clients)

    run = start(clients, pipeline, display_name="nightly")
    seen = poll(clients, run.id)

    assert (run.lifecycle_state, run.display_name, run.project_id) == ("ACCEPTED", "nightly", PROJECT)
    assert [(s.step_name, s.step_type, s.lifecycle_state) for s in run.step_runs] == [
        (name, "ML_JOB", "WAITING") for name in ("prepare", "xgb", "rf", "select")]
    assert [r.lifecycle_state for r in seen][:2] == ["ACCEPTED", "IN_PROGRESS"]
    final = seen[-1]
    assert final.lifecycle_state == "SUCCEEDED"
    assert final.time_accepted < final.time_started < final.time_finished
    steps = steps_of(final)
    assert {name: s.lifecycle_state for name, s in steps.items()} == dict.fromkeys(steps, "SUCCEEDED")
    for later, earlier in (("xgb", "prepare"), ("rf", "prepare"), ("select", "xgb"), ("select", "rf")):
        assert steps[later].time_started > steps[earlier].time_finished, (later, earlier)
    # independent steps run at the same time: each starts before the other finishes
    assert steps["xgb"].time_started < steps["rf"].time_finished
    assert steps["rf"].time_started < steps["xgb"].time_finished
    assert [r.env["PIPELINE_STEP_NAME"] for r in started] == ["prepare", "xgb", "rf", "select"]
    for name, step_run in steps.items():
        job_run = clients.data_science.get_job_run(step_run.job_run_id).data  # the normal job-run API
        assert (job_run.lifecycle_state, job_run.job_id, job_run.display_name) == (
            "SUCCEEDED", pipeline.step_details[0].job_id, name)
        assert step_run.step_run_name == name
    listed = clients.data_science.list_job_runs(COMPARTMENT, job_id=pipeline.step_details[0].job_id).data
    assert {r.id for r in listed} == {s.job_run_id for s in steps.values()}


def test_a_step_s_job_run_gets_the_merged_configuration_and_the_pipeline_variables(fake_oci: FakeOCI,
                                                                                   clients: SdkClients) -> None:
    started = recorder(fake_oci)
    layers = ("JOB", "PIPELINE", "STEP", "RUN", "OVERRIDE")
    job = container_job(fake_oci, env=dict.fromkeys(layers, "job"), args="--job")
    config = M.PipelineDefaultConfigurationDetails(environment_variables=dict.fromkeys(layers[1:], "pipeline"),
                                                   command_line_arguments="--pipeline", maximum_runtime_in_minutes=90)
    step_config = M.PipelineStepConfigurationDetails(environment_variables=dict.fromkeys(layers[2:], "step"),
                                                     command_line_arguments="--step")
    pipeline = active_pipeline(clients, [
        M.PipelineMLJobStepDetails(step_name="train", job_id=job, step_configuration_details=step_config),
        step("report", job)], configuration_details=config)
    run_config = M.PipelineDefaultConfigurationDetails(environment_variables=dict.fromkeys(layers[3:], "run"))
    override = M.PipelineStepOverrideDetails(step_name="train", step_configuration_details=(
        M.PipelineStepConfigurationDetails(environment_variables={"OVERRIDE": "override"})))

    run = start(clients, pipeline, configuration_override_details=run_config, step_override_details=[override])
    final = poll(clients, run.id)[-1]

    assert final.lifecycle_state == "SUCCEEDED"
    assert final.configuration_details == config  # copied from the pipeline
    by_step = {r.env["PIPELINE_STEP_NAME"]: r for r in started}
    expected_train = {"JOB": "job", "PIPELINE": "pipeline", "STEP": "step", "RUN": "run", "OVERRIDE": "override"}
    assert {k: by_step["train"].env[k] for k in layers} == expected_train
    assert {k: by_step["report"].env[k] for k in layers} == {
        "JOB": "job", "PIPELINE": "pipeline", "STEP": "pipeline", "RUN": "run", "OVERRIDE": "run"}
    assert (by_step["train"].args, by_step["report"].args) == ("--step", "--pipeline")
    assert {k: v for k, v in by_step["train"].env.items() if k.startswith("PIPELINE_")} == {
        "PIPELINE_OCID": pipeline.id, "PIPELINE_RUN_OCID": run.id, "PIPELINE_STEP_NAME": "train",
        "PIPELINE_COMPARTMENT_OCID": COMPARTMENT, "PIPELINE_PROJECT_OCID": PROJECT,
        "PIPELINE_RUN_COMPARTMENT_OCID": COMPARTMENT}
    train_run = clients.data_science.get_job_run(steps_of(final)["train"].job_run_id).data
    assert train_run.job_configuration_override_details.maximum_runtime_in_minutes == 90
    assert "PIPELINE_STEP_NAME=train" in [r.message for r in fake_oci.logs(train_run.id)]  # echoed to the job's log


def test_a_step_runs_its_job_s_code_and_logs_to_the_pipeline_run_s_log(fake_oci: FakeOCI,
                                                                      clients: SdkClients) -> None:
    fake_oci.workload = artifact_workload(fake_oci)
    job = fake_oci.create_job({"projectId": PROJECT, "compartmentId": COMPARTMENT,
                               "jobConfigurationDetails": {"jobType": "DEFAULT"}})
    code = b"import os\nprint('step', os.environ['PIPELINE_STEP_NAME'], 'of', os.environ['PIPELINE_RUN_OCID'])\n"
    fake_oci.put_artifact(job["id"], code, "main.py")
    log = M.PipelineLogConfigurationDetails(enable_logging=True, log_group_id=LOG_GROUP, log_id=LOG)
    pipeline = active_pipeline(clients, [step("train", job["id"])], log_configuration_details=log)

    run = start(clients, pipeline)
    final = poll(clients, run.id)[-1]

    assert (final.lifecycle_state, final.log_details.log_group_id, final.log_details.log_id) == (
        "SUCCEEDED", LOG_GROUP, LOG)
    job_run_id = final.step_runs[0].job_run_id
    found = search(clients, run_query(job_run_id), *around_now()).data
    assert [r.data["logContent"]["data"]["message"] for r in found.results] == [f"step train of {run.id}"]


def test_a_failed_step_skips_its_dependents_and_fails_the_run(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = container_job(fake_oci)
    pipeline = active_pipeline(clients, [
        step("fail", job, env={"EXIT_CODE": "3"}), step("after", job, ["fail"]), step("later", job, ["after"]),
        step("other", job, env={"SLEEP": "1"}), step("after-other", job, ["other"])])
    run = start(clients, pipeline)

    failed = poll(clients, run.id, lambda r: steps_of(r)["fail"].lifecycle_state == "FAILED")[-1]
    states = {name: s.lifecycle_state for name, s in steps_of(failed).items()}
    assert states == {"fail": "FAILED", "after": "SKIPPED", "later": "SKIPPED", "other": "IN_PROGRESS",
                      "after-other": "WAITING"}
    assert failed.lifecycle_state == "IN_PROGRESS"  # a step still runs: the run goes on until it ends
    fake_oci.set_run(steps_of(failed)["other"].job_run_id, state="SUCCEEDED")
    final = poll(clients, run.id)[-1]

    steps = steps_of(final)
    assert {name: s.lifecycle_state for name, s in steps.items()} == {
        "fail": "FAILED", "after": "SKIPPED", "later": "SKIPPED", "other": "SUCCEEDED",
        "after-other": "SKIPPED"}  # nothing starts after a failure
    assert "exit code 3" in steps["fail"].lifecycle_details
    assert (final.lifecycle_state, "fail" in final.lifecycle_details) == ("FAILED", True)
    assert [s.job_run_id for s in steps.values()].count(None) == 3  # skipped steps made no job run
    assert len(fake_oci.runs()) == 2


def test_a_step_whose_job_cannot_run_fails(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = container_job(fake_oci)
    pipeline = active_pipeline(clients, [step("a", job), step("b", job, ["a"])])
    fake_oci.set_job(job, state="FAILED", details="broken")

    final = poll(clients, start(clients, pipeline).id)[-1]

    assert final.lifecycle_state == "FAILED"
    assert [s.lifecycle_state for s in final.step_runs] == ["FAILED", "SKIPPED"]
    assert "only ACTIVE jobs can run" in final.step_runs[0].lifecycle_details


def test_without_auto_progress_a_run_moves_only_when_the_test_steps_it(fake_oci: FakeOCI,
                                                                       clients: SdkClients) -> None:
    fake_oci.auto_progress = False
    job = container_job(fake_oci)
    created = clients.data_science.create_pipeline(pipeline_details([step("a", job), step("b", job, ["a"])])).data
    assert clients.data_science.get_pipeline(created.id).data.lifecycle_state == "CREATING"
    assert fake_oci.step_all() == 1
    run = start(clients, clients.data_science.get_pipeline(created.id).data)
    assert {clients.data_science.get_pipeline_run(run.id).data.lifecycle_state for _ in range(3)} == {"ACCEPTED"}

    moves = 0
    while fake_oci.pipeline_run(run.id)["lifecycleState"] not in ENDED:
        assert moves < MAX_POLLS
        moves += 1
        assert fake_oci.step_all() > 0

    assert fake_oci.pipeline_run(run.id)["lifecycleState"] == "SUCCEEDED"
    assert moves == 5  # a: start, IN_PROGRESS, SUCCEEDED + b starts; b: IN_PROGRESS, SUCCEEDED + the run
    assert fake_oci.step_all() == 0


def test_create_run_needs_an_active_pipeline_and_steps_it_has(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = container_job(fake_oci)
    creating = clients.data_science.create_pipeline(pipeline_details([step("a", job)])).data
    error = service_error(lambda: start(clients, creating))
    assert (error.status, error.code) == (409, "IncorrectState")
    pipeline = active_pipeline(clients, [step("a", job)])
    config = M.PipelineStepConfigurationDetails(environment_variables={"X": "1"})
    unknown = [M.PipelineStepOverrideDetails(step_name="b", step_configuration_details=config)]
    assert "'b' is not a step" in service_error(lambda: start(clients, pipeline, step_override_details=unknown)).message
    no_config = {"compartmentId": COMPARTMENT, "pipelineId": pipeline.id, "stepOverrideDetails": [{"stepName": "a"}]}
    error = service_error(lambda: clients.data_science.create_pipeline_run(no_config))
    assert (error.status, error.code, "stepConfigurationDetails" in error.message) == (400, "MissingParameter", True)
    gone = {"compartmentId": COMPARTMENT, "pipelineId": "ocid1.datasciencepipeline.oc1..gone"}
    assert service_error(lambda: clients.data_science.create_pipeline_run(gone)).status == 400
    assert fake_oci.pipeline_runs() == []


def test_retry_tokens_make_creates_and_cancels_idempotent(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = container_job(fake_oci, env={"SLEEP": "1"})
    first = clients.data_science.create_pipeline(pipeline_details([step("a", job)]), opc_retry_token="p-1").data
    again = clients.data_science.create_pipeline(pipeline_details([step("a", job)]), opc_retry_token="p-1").data
    assert again.id == first.id
    assert len(fake_oci.pipelines()) == 1
    other = pipeline_details([step("b", job)])
    assert service_error(lambda: clients.data_science.create_pipeline(other, opc_retry_token="p-1")).status == 409
    pipeline = active_pipeline(clients, [step("a", job)])
    details = M.CreatePipelineRunDetails(compartment_id=COMPARTMENT, pipeline_id=pipeline.id)

    runs = [clients.data_science.create_pipeline_run(details, opc_retry_token="r-1").data for _ in range(2)]
    cancels = [clients.data_science.cancel_pipeline_run(runs[0].id, opc_retry_token="c-1") for _ in range(2)]

    assert runs[0].id == runs[1].id
    assert len(fake_oci.pipeline_runs()) == 1
    assert [c.status for c in cancels] == [202, 202]
    assert service_error(lambda: clients.data_science.cancel_pipeline_run(runs[0].id)).status == 409


def test_cancel_stops_running_steps_and_the_steps_not_started(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = container_job(fake_oci)
    pipeline = active_pipeline(clients, [step("sleep", job, env={"SLEEP": "1"}), step("after", job, ["sleep"])])
    run = start(clients, pipeline)
    poll(clients, run.id, lambda r: r.step_runs[0].lifecycle_state == "IN_PROGRESS")

    canceled = clients.data_science.cancel_pipeline_run(run.id)
    seen = poll(clients, run.id)

    assert canceled.status == 202
    assert [r.lifecycle_state for r in seen] == ["CANCELING", "CANCELED"]
    assert [s.lifecycle_state for s in seen[0].step_runs] == ["CANCELING", "CANCELED"]
    assert [s.lifecycle_state for s in seen[-1].step_runs] == ["CANCELED", "CANCELED"]
    assert fake_oci.run(seen[-1].step_runs[0].job_run_id)["lifecycleState"] == "CANCELED"
    error = service_error(lambda: clients.data_science.cancel_pipeline_run(run.id))
    assert (error.status, error.code) == (409, "IncorrectState")


def test_a_graceful_cancel_ends_the_run_and_its_running_steps_succeeded(fake_oci: FakeOCI,
                                                                        clients: SdkClients) -> None:
    job = container_job(fake_oci)
    pipeline = active_pipeline(clients, [step("sleep", job, env={"SLEEP": "1"}), step("after", job, ["sleep"])])
    run = start(clients, pipeline)
    poll(clients, run.id, lambda r: r.step_runs[0].lifecycle_state == "IN_PROGRESS")

    clients.data_science.cancel_pipeline_run(run.id, terminate_gracefully=True)
    final = poll(clients, run.id)[-1]

    assert final.lifecycle_state == "SUCCEEDED"
    assert [s.lifecycle_state for s in final.step_runs] == ["SUCCEEDED", "SKIPPED"]
    assert fake_oci.run(final.step_runs[0].job_run_id)["lifecycleState"] == "CANCELED"


def test_only_an_ended_run_is_deleted_with_its_job_runs_when_asked(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = container_job(fake_oci)
    pipeline = active_pipeline(clients, [step("a", job)])
    kept, deleted = start(clients, pipeline), start(clients, pipeline)
    error = service_error(lambda: clients.data_science.delete_pipeline_run(deleted.id))
    assert (error.status, error.code) == (409, "IncorrectState")
    job_runs = [poll(clients, run.id)[-1].step_runs[0].job_run_id for run in (kept, deleted)]

    clients.data_science.delete_pipeline_run(kept.id)
    clients.data_science.delete_pipeline_run(deleted.id, delete_related_job_runs=True)

    assert clients.data_science.get_pipeline_run(kept.id).data.lifecycle_state == "DELETED"
    assert [fake_oci.run(job_run)["lifecycleState"] for job_run in job_runs] == ["SUCCEEDED", "DELETED"]
    assert service_error(lambda: clients.data_science.delete_pipeline_run(kept.id)).status == 409


def test_a_pipeline_is_deleted_through_a_work_request_unless_a_run_is_active(fake_oci: FakeOCI,
                                                                             clients: SdkClients) -> None:
    job = container_job(fake_oci)
    pipeline = active_pipeline(clients, [step("a", job)])
    run = start(clients, pipeline)
    for flag in (False, True):
        error = service_error(lambda f=flag: clients.data_science.delete_pipeline(
            pipeline.id, delete_related_pipeline_runs=f))
        assert (error.status, error.code, run.id in error.message) == (409, "IncorrectState", True)
    job_run = poll(clients, run.id)[-1].step_runs[0].job_run_id
    kept = service_error(lambda: clients.data_science.delete_pipeline(pipeline.id))
    assert (kept.status, "deleteRelatedPipelineRuns" in kept.message) == (409, True)

    deleted = clients.data_science.delete_pipeline(pipeline.id, delete_related_pipeline_runs=True,
                                                   delete_related_job_runs=True)

    assert deleted.status == 202
    work_request = deleted.headers["opc-work-request-id"]
    states = [clients.data_science.get_pipeline(pipeline.id).data.lifecycle_state for _ in range(3)]
    assert states == ["DELETING", "DELETING", "DELETED"]  # each GET moves its work request on
    done = clients.data_science.get_work_request(work_request).data
    assert (done.operation_type, done.status, done.resources[0].entity_type, done.resources[0].identifier) == (
        "PIPELINE_DELETE", "SUCCEEDED", "datasciencepipeline", pipeline.id)
    assert fake_oci.pipeline_run(run.id)["lifecycleState"] == "DELETED"
    assert fake_oci.run(job_run)["lifecycleState"] == "DELETED"
    assert service_error(lambda: start(clients, pipeline)).status == 409
    assert service_error(lambda: clients.data_science.delete_pipeline(pipeline.id)).status == 409


def test_list_pipeline_runs_filters_sorts_and_pages(fake_oci: FakeOCI, clients: SdkClients) -> None:
    fake_oci.clock = TickingClock()
    job = container_job(fake_oci)
    first, second = (active_pipeline(clients, [step("a", job)]) for _ in range(2))
    runs = [start(clients, pipeline, display_name=f"run-{index}")
            for index, pipeline in enumerate((first, second, first))]
    poll(clients, runs[0].id)

    def names(**filters: Any) -> list[str]:
        listed = oci.pagination.list_call_get_all_results(
            clients.data_science.list_pipeline_runs, COMPARTMENT, limit=1, **filters).data
        assert all(isinstance(r, M.PipelineRunSummary) for r in listed)
        return [r.display_name for r in listed]

    assert names() == ["run-2", "run-1", "run-0"]  # timeAccepted, newest first
    assert names(pipeline_id=first.id, sort_by="displayName") == ["run-0", "run-2"]
    assert names(lifecycle_state="SUCCEEDED") == ["run-0"]
    assert names(id=runs[1].id) == ["run-1"]
    assert names(display_name="run-2") == ["run-2"]


def test_every_pipeline_response_deserializes_into_sdk_models(fake_oci: FakeOCI, clients: SdkClients) -> None:
    pipeline = diamond(fake_oci, clients)
    run = start(clients, pipeline)
    seen = poll(clients, run.id)
    update = clients.data_science.update_pipeline_run(run.id, M.UpdatePipelineRunDetails(display_name="renamed"))

    assert update.data.display_name == "renamed"
    assert isinstance(clients.data_science.get_pipeline(pipeline.id).data, M.Pipeline)
    assert all(isinstance(r, M.PipelineRun) for r in seen)
    assert all(isinstance(s, M.PipelineMLJobStepRun) for r in seen for s in r.step_runs)
    every = [pipeline, *seen, *clients.data_science.list_pipelines(COMPARTMENT).data,
             *clients.data_science.list_pipeline_runs(COMPARTMENT).data]
    assert "UNKNOWN_ENUM_VALUE" not in json.dumps([oci.util.to_dict(model) for model in every], default=str)


def test_the_fidelity_page_names_tests_that_exist() -> None:
    page = (Path(__file__).parents[2] / "docs" / "oci-fidelity.md").read_text()
    section = page[page.index("### Data Science Pipelines"):].split("\n### ")[0]  # up to the next section
    named = set(re.findall(r"`(test_\w+)`", section))
    assert len(named) > 10
    assert named <= {name for name in globals() if name.startswith("test_")}

"""The fake OCI API, driven through the real `oci` SDK (signing, serialization, retries, pagination)."""

from __future__ import annotations

import inspect
import io
import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import oci
import pytest
from oci._vendor import requests as vendored_requests

from jobctl.testing.fake_oci import FakeOCI, ManualClock, WorkloadRun, generate_api_key, schema, write_config
from jobctl.testing.fake_oci.state import JOB_STATES, JOB_SUMMARY_FIELDS, RUN_STATES, RUN_SUMMARY_FIELDS, Store
from tests.oci.conftest import SdkClients, sdk_clients

M = oci.data_science.models
L = oci.loggingsearch.models
COMPARTMENT = "ocid1.compartment.oc1..aaaatest"
PROJECT = "ocid1.datascienceproject.oc1.iad.aaaatest"
LOG_GROUP = "ocid1.loggroup.oc1.iad.aaaagroup"
LOG = "ocid1.log.oc1.iad.aaaalog"
LOGGING = Store.logging_compartment  # the fake's log groups live in a logging compartment of their own
WIRE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ADS_EXIT_CODE = re.compile(r"exit code (\d+)")


def job_details(**overrides: Any) -> Any:
    values: dict[str, Any] = {
        "project_id": PROJECT,
        "compartment_id": COMPARTMENT,
        "display_name": "train",
        "job_configuration_details": M.DefaultJobConfigurationDetails(
            environment_variables={"MODEL": "lr"}, command_line_arguments="--epochs 3", maximum_runtime_in_minutes=60),
        "job_infrastructure_configuration_details": M.ManagedEgressStandaloneJobInfrastructureConfigurationDetails(
            shape_name="VM.Standard.E4.Flex", block_storage_size_in_gbs=50,
            job_shape_config_details=M.JobShapeConfigDetails(ocpus=1.0, memory_in_gbs=16.0)),
        "job_log_configuration_details": M.JobLogConfigurationDetails(
            enable_logging=True, log_group_id=LOG_GROUP, log_id=LOG),
        "freeform_tags": {"owner": "jobctl"},
    }
    values.update(overrides)
    return M.CreateJobDetails(**values)


def ready_job(clients: SdkClients, **overrides: Any) -> Any:
    job = clients.data_science.create_job(job_details(**overrides)).data
    clients.data_science.create_job_artifact(job.id, b"print('hi')\n",
                                             content_disposition="attachment; filename=main.py")
    return job


def start_run(clients: SdkClients, job: Any, **overrides: Any) -> Any:
    details = M.CreateJobRunDetails(project_id=PROJECT, compartment_id=COMPARTMENT, job_id=job.id, **overrides)
    return clients.data_science.create_job_run(details).data


def run_query(run_id: str, order: str = "asc") -> str:
    return f"search \"{LOGGING}/{LOG_GROUP}/{LOG}\" | where source = '*{run_id}' | sort by datetime {order}"


def search(clients: SdkClients, query: str, start: datetime, end: datetime, **kwargs: Any) -> Any:
    details = L.SearchLogsDetails(time_start=start, time_end=end, search_query=query, is_return_field_info=False)
    return clients.log_search.search_logs(details, **kwargs)


def around_now() -> tuple[datetime, datetime]:
    now = datetime.now(timezone.utc)
    return now - timedelta(hours=1), now + timedelta(minutes=5)


def service_error(call: Any) -> oci.exceptions.ServiceError:
    with pytest.raises(oci.exceptions.ServiceError) as caught:
        call()
    return caught.value


# The fake's tables against the SDK's models ----------------------------------------------------------

def sdk_required(cls: type) -> set[str]:
    """Wire names of the properties whose docstring starts with **[Required]**, along the class's MRO."""
    names = set()
    for klass in cls.__mro__:
        if klass.__module__.startswith("oci."):
            found = re.findall(r'def (\w+)\(self\):\s+"""\s+\*\*\[Required\]\*\*', inspect.getsource(klass))
            names.update(cls().attribute_map[name] for name in found if name in cls().attribute_map)
    return names


def sdk_subtypes(base: type) -> dict[str, type]:
    source = inspect.getsource(base.get_subtype)
    module = sys.modules[base.__module__.rsplit(".", 1)[0]]
    return {value: getattr(module, name) for value, name in re.findall(r"if type == '(\w+)':\s+return '(\w+)'", source)}


@pytest.mark.parametrize(("spec", "model"), [
    (schema.CREATE_JOB, M.CreateJobDetails), (schema.UPDATE_JOB, M.UpdateJobDetails),
    (schema.CREATE_JOB_RUN, M.CreateJobRunDetails), (schema.UPDATE_JOB_RUN, M.UpdateJobRunDetails),
    (schema.LOG_CONFIGURATION, M.JobLogConfigurationDetails), (schema.SHAPE_CONFIG, M.JobShapeConfigDetails),
    (schema.NODE_GROUP, M.JobNodeGroupConfigurationDetails), (schema.SEARCH_LOGS, L.SearchLogsDetails),
])
def test_request_schemas_match_the_sdk_models(spec: schema.Obj, model: type) -> None:
    assert_matches_model(spec, model)


def assert_matches_model(spec: schema.Obj, model: type) -> None:
    """The fake's table has the SDK model's wire names, and the same ones required."""
    assert spec.fields == set(model().attribute_map.values())
    assert set(spec.required) == sdk_required(model)


def assert_matches_subtypes(spec: schema.Poly, base: type) -> None:
    """The fake's variants are the SDK's subtypes of `base`, each with its wire names and required ones."""
    subtypes = sdk_subtypes(base)
    assert set(spec.variants) == set(subtypes)
    for value, variant in spec.variants.items():
        assert variant.fields == set(subtypes[value]().attribute_map.values()), value
        assert set(variant.required) == sdk_required(subtypes[value]), value


@pytest.mark.parametrize(("spec", "base"), [
    (schema.JOB_CONFIGURATION, M.JobConfigurationDetails),
    (schema.INFRASTRUCTURE, M.JobInfrastructureConfigurationDetails),
    (schema.ENVIRONMENT, M.JobEnvironmentConfigurationDetails),
    (schema.STORAGE_MOUNTS.item, M.StorageMountConfigurationDetails),
    (schema.PROBE, M.JobProbeDetails), (schema.NETWORK, M.JobNetworkConfiguration),
    (schema.NODE_CONFIGURATION, M.JobNodeConfigurationDetails),
])
def test_polymorphic_schemas_match_the_sdk_subtypes(spec: schema.Poly, base: type) -> None:
    assert_matches_subtypes(spec, base)


def test_summaries_and_states_match_the_sdk_models() -> None:
    assert set(JOB_SUMMARY_FIELDS) == set(M.JobSummary().attribute_map.values())
    assert set(RUN_SUMMARY_FIELDS) == set(M.JobRunSummary().attribute_map.values())
    assert "allowed_values = " + json.dumps(list(JOB_STATES)) in inspect.getsource(M.Job)
    assert "allowed_values = " + json.dumps(list(RUN_STATES)) in inspect.getsource(M.JobRun)


# Jobs -----------------------------------------------------------------------------------------------

def test_create_get_and_list_jobs(fake_oci: FakeOCI, clients: SdkClients) -> None:
    created = clients.data_science.create_job(job_details())
    assert created.data.lifecycle_state == "CREATING"  # until its artifact is uploaded
    assert clients.data_science.list_jobs(COMPARTMENT, display_name="train", lifecycle_state="ACTIVE").data == []
    clients.data_science.create_job_artifact(created.data.id, b"print(1)\n",
                                             content_disposition="attachment; filename=main.py")
    created = clients.data_science.get_job(created.data.id)
    job = created.data
    assert job.lifecycle_state == "ACTIVE"
    assert job.id.startswith("ocid1.datasciencejob.oc1.iad.")
    assert job.created_by == clients.config["user"]
    assert created.headers["content-type"] == "application/json"
    assert created.headers["etag"]
    assert created.headers["opc-request-id"]
    assert WIRE_TIME.match(fake_oci.job(job.id)["timeCreated"])

    fetched = clients.data_science.get_job(job.id)
    assert fetched.data == job
    assert fetched.headers["etag"] == created.headers["etag"]

    listed = clients.data_science.list_jobs(COMPARTMENT, display_name="train", lifecycle_state="ACTIVE").data
    assert [summary.id for summary in listed] == [job.id]
    assert isinstance(listed[0], M.JobSummary)
    assert listed[0].freeform_tags == {"owner": "jobctl"}
    assert clients.data_science.list_jobs("ocid1.compartment.oc1..other").data == []


def test_create_job_validates_like_the_service(clients: SdkClients) -> None:
    missing = service_error(lambda: clients.data_science.create_job({"compartmentId": COMPARTMENT}))
    assert (missing.status, missing.code) == (400, "MissingParameter")
    assert "projectId" in missing.message
    unknown_type = {"projectId": PROJECT, "compartmentId": COMPARTMENT,
                    "jobInfrastructureConfigurationDetails": {"jobInfrastructureType": "GPU_CLUSTER"}}
    error = service_error(lambda: clients.data_science.create_job(unknown_type))
    assert (error.status, error.code) == (400, "InvalidParameter")
    assert "GPU_CLUSTER" in error.message
    no_subnet = job_details(job_infrastructure_configuration_details=M.StandaloneJobInfrastructureConfigurationDetails(
        shape_name="VM.Standard2.1", block_storage_size_in_gbs=50))
    assert service_error(lambda: clients.data_science.create_job(no_subnet)).code == "MissingParameter"
    snake_case = {"projectId": PROJECT, "compartmentId": COMPARTMENT, "display_name": "x"}
    assert "display_name" in service_error(lambda: clients.data_science.create_job(snake_case)).message


def test_list_jobs_paginates_with_opc_next_page(fake_oci: FakeOCI, clients: SdkClients) -> None:
    clock = ManualClock()
    fake_oci.clock = clock
    for index in range(250):
        clock.advance(1)
        fake_oci.create_job({"projectId": PROJECT, "compartmentId": COMPARTMENT, "displayName": f"job-{index:03d}"})

    everything = oci.pagination.list_call_get_all_results(clients.data_science.list_jobs, COMPARTMENT, limit=100).data

    assert len(everything) == 250
    assert [job.display_name for job in everything[:2]] == ["job-249", "job-248"]  # timeCreated, newest first
    assert fake_oci.count("GET", r"/20190101/jobs$") == 3
    page = clients.data_science.list_jobs(COMPARTMENT, limit=100, sort_by="displayName")
    assert page.data[0].display_name == "job-000"
    assert page.has_next_page
    assert service_error(lambda: clients.data_science.list_jobs(COMPARTMENT, limit=101)).code == "InvalidParameter"


def test_update_accepts_only_mutable_fields(clients: SdkClients) -> None:
    job = ready_job(clients)
    etag = clients.data_science.get_job(job.id).headers["etag"]
    infrastructure = M.ManagedEgressStandaloneJobInfrastructureConfigurationDetails(
        shape_name="VM.Standard2.2", block_storage_size_in_gbs=100)
    update = M.UpdateJobDetails(display_name="train-v2", job_infrastructure_configuration_details=infrastructure)

    updated = clients.data_science.update_job(job.id, update, if_match=etag)

    assert updated.data.display_name == "train-v2"
    assert updated.data.job_infrastructure_configuration_details.shape_name == "VM.Standard2.2"
    assert updated.headers["etag"] != etag
    assert updated.data.job_configuration_details.environment_variables == {"MODEL": "lr"}
    immutable = {"jobConfigurationDetails": {"jobType": "DEFAULT", "environmentVariables": {"MODEL": "xgb"}}}
    error = service_error(lambda: clients.data_science.update_job(job.id, immutable))
    assert (error.status, error.code) == (400, "InvalidParameter")
    assert "jobConfigurationDetails" in error.message


def test_an_update_cannot_change_the_infrastructure_type(clients: SdkClients) -> None:
    job = ready_job(clients)  # ME_STANDALONE
    standalone = M.StandaloneJobInfrastructureConfigurationDetails(
        shape_name="VM.Standard2.2", subnet_id="ocid1.subnet.oc1..s", block_storage_size_in_gbs=50)
    into_subnet = M.UpdateJobDetails(job_infrastructure_configuration_details=standalone)

    error = service_error(lambda: clients.data_science.update_job(job.id, into_subnet))

    assert (error.status, error.code) == (400, "InvalidParameter")
    assert "ME_STANDALONE to STANDALONE" in error.message
    assert isinstance(clients.data_science.get_job(job.id).data.job_infrastructure_configuration_details,
                      M.ManagedEgressStandaloneJobInfrastructureConfigurationDetails)


def test_update_with_a_stale_etag_fails_with_412(clients: SdkClients) -> None:
    job = ready_job(clients)
    stale = clients.data_science.get_job(job.id).headers["etag"]
    clients.data_science.update_job(job.id, M.UpdateJobDetails(description="first"), if_match=stale)

    error = service_error(lambda: clients.data_science.update_job(
        job.id, M.UpdateJobDetails(description="second"), if_match=stale))

    assert (error.status, error.code) == (412, "PreconditionFailed")
    assert clients.data_science.get_job(job.id).data.description == "first"


def test_retry_token_returns_the_same_job(fake_oci: FakeOCI, clients: SdkClients) -> None:
    first = clients.data_science.create_job(job_details(), opc_retry_token="apply-1-train")
    second = clients.data_science.create_job(job_details(), opc_retry_token="apply-1-train")

    assert second.data.id == first.data.id
    assert second.headers["etag"] == first.headers["etag"]
    assert len(fake_oci.jobs()) == 1
    error = service_error(lambda: clients.data_science.create_job(
        job_details(display_name="other"), opc_retry_token="apply-1-train"))
    assert (error.status, error.code) == (409, "Conflict")


def test_artifact_upload_head_and_download(clients: SdkClients) -> None:
    job = clients.data_science.create_job(job_details()).data
    content = b"PK\x03\x04" + bytes(range(256)) * 4

    upload = {"content_disposition": "attachment; filename=job.zip", "opc_retry_token": "upload-1"}
    clients.data_science.create_job_artifact(job.id, io.BytesIO(content), **upload)
    assert clients.data_science.create_job_artifact(job.id, io.BytesIO(content), **upload).status == 200

    head = clients.data_science.head_job_artifact(job.id)
    assert head.headers["content-length"] == str(len(content))
    assert head.headers["content-disposition"] == "attachment; filename=job.zip"
    assert head.headers["content-md5"]
    assert clients.data_science.get_job_artifact_content(job.id).data.content == content
    assert clients.data_science.get_job_artifact_content(job.id, range="bytes=0-3").data.content == b"PK\x03\x04"
    again = service_error(lambda: clients.data_science.create_job_artifact(
        job.id, b"x", content_disposition="attachment; filename=job.zip"))
    assert (again.status, again.code) == (409, "Conflict")


def test_a_failed_job_takes_no_artifact_and_no_runs(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = clients.data_science.create_job(job_details()).data
    fake_oci.set_job(job.id, state="FAILED", details="artifact processing failed")
    upload = service_error(lambda: clients.data_science.create_job_artifact(
        job.id, b"print(1)", content_disposition="attachment; filename=main.py"))
    assert (upload.status, upload.code) == (409, "IncorrectState")
    assert clients.data_science.get_job(job.id).data.lifecycle_details == "artifact processing failed"
    assert service_error(lambda: start_run(clients, job)).code == "IncorrectState"
    clients.data_science.delete_job(job.id)
    assert clients.data_science.get_job(job.id).data.lifecycle_state in ("DELETING", "DELETED")


def test_artifact_needs_a_supported_filename(clients: SdkClients) -> None:
    job = clients.data_science.create_job(job_details()).data
    assert service_error(lambda: clients.data_science.create_job_artifact(job.id, b"x")).status == 400
    unsupported = service_error(lambda: clients.data_science.create_job_artifact(
        job.id, b"x", content_disposition="attachment; filename=notes.txt"))
    assert "notes.txt" in unsupported.message
    assert service_error(lambda: clients.data_science.head_job_artifact(job.id)).status == 404


# Job runs -------------------------------------------------------------------------------------------

def test_create_run_with_override_and_list_summaries(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = ready_job(clients)
    override = M.DefaultJobConfigurationDetails(environment_variables={"MODEL": "xgb"}, command_line_arguments="--fast")

    run = start_run(clients, job, display_name="try-xgb", job_configuration_override_details=override)

    assert run.lifecycle_state == "ACCEPTED"
    assert run.id.startswith("ocid1.datasciencejobrun.")
    assert run.job_configuration_override_details == override
    assert isinstance(run.job_infrastructure_configuration_details,
                      M.ManagedEgressStandaloneJobInfrastructureConfigurationDetails)
    assert (run.log_details.log_group_id, run.log_details.log_id) == (LOG_GROUP, LOG)
    assert WIRE_TIME.match(fake_oci.run(run.id)["timeAccepted"])
    summaries = clients.data_science.list_job_runs(COMPARTMENT, job_id=job.id, lifecycle_state="ACCEPTED").data
    assert [(s.id, s.display_name, s.job_id) for s in summaries] == [(run.id, "try-xgb", job.id)]
    assert isinstance(summaries[0], M.JobRunSummary)
    assert clients.data_science.list_job_runs(COMPARTMENT, lifecycle_state="SUCCEEDED").data == []
    # displayName is an exact match (a keyed retry and `get NAME` look a run up by it), not a prefix
    named = clients.data_science.list_job_runs(COMPARTMENT, job_id=job.id, display_name="try-xgb").data
    assert [s.id for s in named] == [run.id]
    assert clients.data_science.list_job_runs(COMPARTMENT, display_name="try").data == []


def test_run_needs_an_artifact_unless_the_job_is_a_container(clients: SdkClients) -> None:
    bare = clients.data_science.create_job(job_details()).data
    assert bare.lifecycle_state == "CREATING"
    error = service_error(lambda: start_run(clients, bare))
    assert (error.status, error.code) == (409, "IncorrectState")
    refused = service_error(lambda: clients.data_science.update_job(bare.id, M.UpdateJobDetails(description="x")))
    assert (refused.status, refused.code) == (409, "Conflict")
    container = M.OcirContainerJobEnvironmentConfigurationDetails(image="iad.ocir.io/ns/train:1")
    image_job = clients.data_science.create_job(job_details(job_environment_configuration_details=container)).data
    assert image_job.lifecycle_state == "ACTIVE"  # a container job needs no artifact
    assert start_run(clients, image_job).lifecycle_state == "ACCEPTED"
    missing_job = service_error(lambda: start_run(clients, M.Job(id="ocid1.datasciencejob.oc1.iad.nope")))
    assert missing_job.status == 400


def test_a_run_of_a_job_without_configuration_or_infrastructure_reads_back(clients: SdkClients) -> None:
    container = M.OcirContainerJobEnvironmentConfigurationDetails(image="iad.ocir.io/ns/train:1")
    job = clients.data_science.create_job(job_details(
        job_configuration_details=None, job_infrastructure_configuration_details=None,
        job_environment_configuration_details=container)).data

    run = clients.data_science.get_job_run(start_run(clients, job).id).data  # before: [] where None belonged

    assert (run.job_configuration_override_details, run.job_infrastructure_configuration_details) == (None, None)


def test_auto_progress_shows_every_state_to_a_poller(fake_oci: FakeOCI, clients: SdkClients) -> None:
    run = start_run(clients, ready_job(clients))

    seen = [clients.data_science.get_job_run(run.id).data for _ in range(4)]

    assert [r.lifecycle_state for r in seen] == ["ACCEPTED", "IN_PROGRESS", "SUCCEEDED", "SUCCEEDED"]
    assert seen[2].time_started is not None
    assert seen[2].time_finished is not None
    assert [record.message for record in fake_oci.logs(run.id)] == ["MODEL=lr", "args=--epochs 3"]


def test_a_failing_workload_reports_its_exit_code(clients: SdkClients) -> None:
    override = M.DefaultJobConfigurationDetails(environment_variables={"EXIT_CODE": "3"})
    run = start_run(clients, ready_job(clients), job_configuration_override_details=override)

    for _ in range(3):
        final = clients.data_science.get_job_run(run.id).data

    assert final.lifecycle_state == "FAILED"
    match = ADS_EXIT_CODE.search(final.lifecycle_details)
    assert match is not None
    assert match.group(1) == "3"


def test_step_and_set_run_drive_the_lifecycle_by_hand(fake_oci: FakeOCI, clients: SdkClients) -> None:
    fake_oci.auto_progress = False
    fake_oci.workload = lambda run: ([f"hello from {run.display_name}"], 0)
    first = start_run(clients, ready_job(clients), display_name="one")
    second = start_run(clients, ready_job(clients), display_name="two")

    assert clients.data_science.get_job_run(first.id).data.lifecycle_state == "ACCEPTED"
    assert fake_oci.step(first.id) == "IN_PROGRESS"
    assert fake_oci.step_all() == 2
    assert fake_oci.run(first.id)["lifecycleState"] == "SUCCEEDED"
    assert fake_oci.run(second.id)["lifecycleState"] == "IN_PROGRESS"
    fake_oci.set_run(second.id, state="NEEDS_ATTENTION", details="shape unavailable")
    attention = clients.data_science.get_job_run(second.id).data
    assert (attention.lifecycle_state, attention.lifecycle_details) == ("NEEDS_ATTENTION", "shape unavailable")
    assert [r.message for r in fake_oci.logs(second.id)] == ["hello from two"]


def test_cancel_a_sleeping_run(clients: SdkClients) -> None:
    override = M.DefaultJobConfigurationDetails(environment_variables={"SLEEP": "1"})
    run = start_run(clients, ready_job(clients), job_configuration_override_details=override)
    states = [clients.data_science.get_job_run(run.id).data.lifecycle_state for _ in range(3)]
    assert states == ["ACCEPTED", "IN_PROGRESS", "IN_PROGRESS"]

    clients.data_science.cancel_job_run(run.id)

    states = [clients.data_science.get_job_run(run.id).data.lifecycle_state for _ in range(2)]
    assert states == ["CANCELING", "CANCELED"]
    error = service_error(lambda: clients.data_science.cancel_job_run(run.id))
    assert (error.status, error.code) == (409, "IncorrectState")


def test_update_and_delete_a_run(clients: SdkClients) -> None:
    run = start_run(clients, ready_job(clients))
    renamed = clients.data_science.update_job_run(run.id, M.UpdateJobRunDetails(display_name="renamed")).data
    assert renamed.display_name == "renamed"
    assert service_error(lambda: clients.data_science.update_job_run(run.id, {"jobId": "x"})).status == 400
    assert service_error(lambda: clients.data_science.delete_job_run(run.id)).status == 409

    clients.data_science.get_job_run(run.id)
    clients.data_science.get_job_run(run.id)
    clients.data_science.delete_job_run(run.id)

    assert clients.data_science.get_job_run(run.id).data.lifecycle_state == "DELETED"


def test_delete_job_refuses_active_runs_and_takes_finished_ones_only_when_asked(fake_oci: FakeOCI,
                                                                              clients: SdkClients) -> None:
    job = ready_job(clients)
    run = start_run(clients, job)
    for flag in (False, True):
        error = service_error(lambda f=flag: clients.data_science.delete_job(job.id, delete_related_job_runs=f))
        assert (error.status, error.code) == (409, "IncorrectState")
        assert run.id in error.message
    fake_oci.set_run(run.id, state="SUCCEEDED")
    kept = service_error(lambda: clients.data_science.delete_job(job.id))
    assert (kept.status, kept.code) == (409, "IncorrectState")
    assert "deleteRelatedJobRuns" in kept.message

    deleted = clients.data_science.delete_job(job.id, delete_related_job_runs=True)

    assert deleted.status == 202
    assert deleted.headers["opc-work-request-id"].startswith("ocid1.datascienceworkrequest.")
    states = [clients.data_science.get_job(job.id).data.lifecycle_state for _ in range(3)]
    assert states == ["DELETING", "DELETING", "DELETED"]  # each GET moves its work request on
    listed = clients.data_science.list_jobs(COMPARTMENT, lifecycle_state="DELETED").data
    assert [j.id for j in listed] == [job.id]
    assert fake_oci.run(run.id)["lifecycleState"] == "DELETED"
    assert service_error(lambda: start_run(clients, job)).status == 409


def test_auto_log_creation_gives_each_run_its_own_log(fake_oci: FakeOCI, clients: SdkClients) -> None:
    logging = M.JobLogConfigurationDetails(enable_logging=True, enable_auto_log_creation=True, log_group_id=LOG_GROUP)
    job = ready_job(clients, job_log_configuration_details=logging)
    first, second = start_run(clients, job), start_run(clients, job)
    assert first.log_details.log_id.startswith("ocid1.log.")
    assert first.log_details.log_id != second.log_details.log_id
    clients.data_science.get_job_run(first.id)

    query = f"search \"{LOGGING}/{LOG_GROUP}/{first.log_details.log_id}\" | where source = '*{first.id}'"
    results = search(clients, query, *around_now()).data.results

    assert {r.data["logContent"]["data"]["message"] for r in results} == {"MODEL=lr", "args=--epochs 3"}


# Logging Search -------------------------------------------------------------------------------------

def test_search_logs_returns_a_runs_records_in_order(fake_oci: FakeOCI, clients: SdkClients) -> None:
    fake_oci.workload = lambda run: ([f"line {i}" for i in range(5)], 0)
    run = start_run(clients, ready_job(clients))
    other = start_run(clients, ready_job(clients))
    clients.data_science.get_job_run(run.id)
    clients.data_science.get_job_run(other.id)
    start, end = around_now()

    ascending = search(clients, run_query(run.id, "asc"), start, end).data
    shouting = f"SEARCH \"{LOGGING}/{LOG_GROUP}/{LOG}\" | WHERE SOURCE = '*{run.id}' | SORT BY DATETIME DESC"
    descending = search(clients, shouting, start, end).data

    assert isinstance(ascending, L.SearchResponse)
    assert [r.data["logContent"]["data"]["message"] for r in ascending.results] == [f"line {i}" for i in range(5)]
    assert descending.results[0].data["logContent"]["data"]["message"] == "line 4"
    first = ascending.results[0].data
    assert first["logContent"]["source"] == run.id
    assert first["logContent"]["type"] == "com.oraclecloud.datascience.jobrun.stdout"
    assert WIRE_TIME.match(first["logContent"]["time"])
    assert isinstance(first["datetime"], int)
    assert ascending.summary.result_count == 5


def test_search_logs_rejects_what_the_service_rejects(clients: SdkClients) -> None:
    start, end = around_now()
    exact_source = service_error(lambda: search(
        clients, f"search \"{LOGGING}/{LOG_GROUP}/{LOG}\" | where source = 'ocid1.datasciencejobrun.oc1.x'",
        start, end))
    assert (exact_source.status, exact_source.code) == (400, "InvalidParameter")
    too_long = service_error(lambda: search(clients, run_query("r"), end - timedelta(days=15), end))
    assert "14 days" in too_long.message
    assert service_error(lambda: search(clients, "search x", start, end)).status == 400
    assert service_error(lambda: search(clients, run_query("r") + " | stats count", start, end)).status == 400
    assert service_error(lambda: search(clients, run_query("r"), start, end, limit=1001)).status == 400


def test_late_and_out_of_order_records_appear_once_ingested(fake_oci: FakeOCI, clients: SdkClients) -> None:
    clock = ManualClock()
    fake_oci.clock = clock
    fake_oci.auto_progress = False
    run = start_run(clients, ready_job(clients))
    base = clock()
    fake_oci.append_log(run.id, "second", time=base + 2, visible_after=base + 10)
    fake_oci.append_log(run.id, "first", time=base + 1, visible_after=base + 30)
    fake_oci.append_log(run.id, "third", time=base + 3)
    window = (datetime.fromtimestamp(base - 60, timezone.utc), datetime.fromtimestamp(base + 60, timezone.utc))

    def messages() -> list[str]:
        results = search(clients, run_query(run.id), *window).data.results
        return [r.data["logContent"]["data"]["message"] for r in results]

    clock.advance(5)
    assert messages() == ["third"]
    clock.advance(10)
    assert messages() == ["second", "third"]
    clock.advance(30)
    assert messages() == ["first", "second", "third"]


def test_search_logs_pages_with_opc_next_page(fake_oci: FakeOCI, clients: SdkClients) -> None:
    fake_oci.workload = lambda run: ([f"line {i:03d}" for i in range(250)], 0)
    run = start_run(clients, ready_job(clients))
    clients.data_science.get_job_run(run.id)
    start, end = around_now()
    fake_oci.clear_requests()

    messages, page = [], None
    while True:
        response = search(clients, run_query(run.id), start, end, limit=100, page=page)
        messages += [r.data["logContent"]["data"]["message"] for r in response.data.results]
        page = response.next_page
        if not page:
            break

    assert messages == [f"line {i:03d}" for i in range(250)]
    assert fake_oci.count("POST", r"/search$") == 3
    with pytest.raises(AttributeError):  # OCI-NOTES gotcha 7: the SDK's pager cannot page SearchResponse
        oci.pagination.list_call_get_all_results(
            clients.log_search.search_logs, L.SearchLogsDetails(time_start=start, time_end=end,
                                                                search_query=run_query(run.id)), limit=100)


# Faults, auth and the wire --------------------------------------------------------------------------

def test_429_twice_then_success_with_fast_retries(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = clients.data_science.create_job(job_details()).data
    fake_oci.faults.add(r"/jobs/", method="GET", status=429, times=2)
    fake_oci.clear_requests()

    assert clients.data_science.get_job(job.id).data.id == job.id
    assert [r.status for r in fake_oci.requests] == [429, 429, 200]


def test_lost_response_on_create_run_keeps_the_retry_token(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = ready_job(clients)
    fake_oci.faults.add(r"/jobRuns$", method="POST", status=500, times=1, after=True)

    run = start_run(clients, job)

    posts = [r for r in fake_oci.requests if r.method == "POST" and r.path.endswith("/jobRuns")]
    assert [r.status for r in posts] == [500, 200]
    assert posts[0].retry_token
    assert posts[0].retry_token == posts[1].retry_token
    assert [r["id"] for r in fake_oci.runs()] == [run.id]


def test_a_dropped_connection_is_retried(fake_oci: FakeOCI, clients: SdkClients, oci_config: tuple[Path, str]) -> None:
    job = clients.data_science.create_job(job_details()).data
    fake_oci.faults.add(r"/jobs/", method="GET", drop=True, times=1)
    assert clients.data_science.get_job(job.id).data.id == job.id
    assert [r.status for r in fake_oci.requests[-2:]] == [None, 200]

    fake_oci.faults.add(r"/jobs/", method="GET", drop=True, times=1)
    no_retry = sdk_clients(fake_oci, *oci_config, retry_strategy=oci.retry.NoneRetryStrategy())
    with pytest.raises(oci.exceptions.RequestException):
        no_retry.data_science.get_job(job.id)


def test_rate_faults_and_latency(fake_oci: FakeOCI, clients: SdkClients) -> None:
    job = clients.data_science.create_job(job_details()).data
    fake_oci.faults.add(method="GET", status=503, rate=0.3)
    fake_oci.faults.latency = 0.01
    fake_oci.clear_requests()

    for _ in range(10):
        assert clients.data_science.get_job(job.id).data.id == job.id

    statuses = [r.status for r in fake_oci.requests]
    assert statuses.count(200) == 10
    assert 503 in statuses


def test_requests_with_an_unknown_key_or_no_signature_get_401(fake_oci: FakeOCI, tmp_path: Path) -> None:
    stranger = write_config(tmp_path / "stranger", generate_api_key())
    error = service_error(lambda: sdk_clients(fake_oci, stranger).data_science.list_jobs(COMPARTMENT))
    assert (error.status, error.code) == (401, "NotAuthenticated")

    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(f"{fake_oci.url}/20190101/jobs?compartmentId=c", timeout=5)
    assert unsigned.value.code == 401
    assert json.loads(unsigned.value.read())["code"] == "NotAuthenticated"


def test_signatures_cover_the_body_and_the_raw_request_target(fake_oci: FakeOCI, clients: SdkClients) -> None:
    config = clients.config
    signer = oci.signer.Signer(config["tenancy"], config["user"], config["fingerprint"], config["key_file"])
    session = vendored_requests.Session()
    body = json.dumps({"projectId": PROJECT, "compartmentId": COMPARTMENT}).encode()
    tampered = vendored_requests.Request("POST", f"{fake_oci.url}/20190101/jobs", data=body, auth=signer,
                                         headers={"content-type": "application/json"}).prepare()
    tampered.body = body.replace(b"aaaatest", b"aaaaevil")
    redirected = vendored_requests.Request("GET", f"{fake_oci.url}/20190101/jobs?compartmentId=a",
                                           auth=signer).prepare()
    redirected.url = f"{fake_oci.url}/20190101/jobs?compartmentId=b"

    body_check = session.send(tampered)
    target_check = session.send(redirected)

    assert body_check.status_code == 401
    assert "x-content-sha256" in body_check.json()["message"]
    assert target_check.status_code == 401
    assert "signature" in target_check.json()["message"]
    assert clients.data_science.list_jobs(COMPARTMENT, display_name="train & co/2 ü").data == []


def test_concurrent_requests_share_one_consistent_state(fake_oci: FakeOCI, clients: SdkClients) -> None:
    def create_five(worker: int) -> list[str]:
        return [clients.data_science.create_job(job_details(display_name=f"w{worker}-{i}")).data.id for i in range(5)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [job_id for batch in pool.map(create_five, range(8)) for job_id in batch]

    assert len(set(ids)) == 40
    assert sorted(job["id"] for job in fake_oci.jobs()) == sorted(ids)
    assert fake_oci.count("POST", r"/jobs$") == 40


def test_error_bodies_and_headers_have_the_service_shape(fake_oci: FakeOCI) -> None:
    fake_oci.verify_signatures = False
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{fake_oci.url}/20190101/jobs/ocid1.datasciencejob.oc1.iad.nope", timeout=5)
    assert missing.value.code == 404
    assert json.loads(missing.value.read()).keys() == {"code", "message"}
    assert missing.value.headers["content-type"] == "application/json"
    assert missing.value.headers["opc-request-id"]
    with pytest.raises(urllib.error.HTTPError) as no_compartment:
        urllib.request.urlopen(f"{fake_oci.url}/20190101/jobs", timeout=5)
    assert json.loads(no_compartment.value.read())["code"] == "MissingParameter"


def test_every_response_deserializes_into_sdk_models(fake_oci: FakeOCI, clients: SdkClients) -> None:
    container = M.OcirContainerJobEnvironmentConfigurationDetails(
        image="iad.ocir.io/ns/train:1", cmd=["python", "train.py"], image_digest="sha256:abc")
    mounts = [M.ObjectStorageMountConfigurationDetails(destination_directory_name="data", namespace="ns", bucket="b")]
    standalone = M.StandaloneJobInfrastructureConfigurationDetails(
        shape_name="VM.Standard2.1", subnet_id="ocid1.subnet.oc1..s", block_storage_size_in_gbs=50)
    job = clients.data_science.create_job(job_details(
        job_environment_configuration_details=container, job_storage_mount_configuration_details_list=mounts,
        job_infrastructure_configuration_details=standalone)).data
    managed = ready_job(clients)
    run = start_run(clients, job, job_environment_configuration_override_details=container)
    clients.data_science.get_job_run(run.id)

    fetched = clients.data_science.get_job(job.id).data
    assert isinstance(fetched, M.Job)
    assert isinstance(fetched.job_configuration_details, M.DefaultJobConfigurationDetails)
    assert isinstance(fetched.job_infrastructure_configuration_details,
                      M.StandaloneJobInfrastructureConfigurationDetails)
    assert isinstance(fetched.job_environment_configuration_details, M.OcirContainerJobEnvironmentConfigurationDetails)
    assert isinstance(fetched.job_storage_mount_configuration_details_list[0], M.ObjectStorageMountConfigurationDetails)
    assert isinstance(clients.data_science.get_job(managed.id).data.job_infrastructure_configuration_details,
                      M.ManagedEgressStandaloneJobInfrastructureConfigurationDetails)
    assert all(isinstance(s, M.JobSummary) for s in clients.data_science.list_jobs(COMPARTMENT).data)
    fetched_run = clients.data_science.get_job_run(run.id).data
    assert isinstance(fetched_run, M.JobRun)
    assert isinstance(fetched_run.job_configuration_override_details, M.DefaultJobConfigurationDetails)
    assert isinstance(fetched_run.job_environment_configuration_override_details,
                      M.OcirContainerJobEnvironmentConfigurationDetails)
    assert isinstance(fetched_run.log_details, M.JobRunLogDetails)
    assert all(isinstance(s, M.JobRunSummary) for s in clients.data_science.list_job_runs(COMPARTMENT).data)
    found = search(clients, run_query(run.id), *around_now()).data
    assert isinstance(found, L.SearchResponse)
    assert isinstance(found.results[0], L.SearchResult)
    assert isinstance(found.summary, L.SearchResultSummary)
    every = [fetched, fetched_run, found, *clients.data_science.list_jobs(COMPARTMENT).data]
    assert "UNKNOWN_ENUM_VALUE" not in json.dumps([oci.util.to_dict(model) for model in every], default=str)


def test_workload_sees_the_override_as_a_whole_object(fake_oci: FakeOCI, clients: SdkClients) -> None:
    seen: list[WorkloadRun] = []

    def record(run: WorkloadRun) -> tuple[list[str], int | None]:
        seen.append(run)
        return [], 0

    fake_oci.workload = record
    job = ready_job(clients)
    start_run(clients, job, job_configuration_override_details=M.DefaultJobConfigurationDetails(
        command_line_arguments="--only-args"))
    start_run(clients, job)

    fake_oci.step_all()

    assert [(dict(run.env), run.args) for run in seen] == [({}, "--only-args"), ({"MODEL": "lr"}, "--epochs 3")]


def test_command_line_serves_until_interrupted(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "jobctl.testing.fake_oci", "--port", "0", "--write-config", str(tmp_path),
         "--bucket", "ml-state"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    try:
        banner = [process.stdout.readline() for _ in range(7)]
        url = banner[0].rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        assert f"  export JOBCTL_OCI_ENDPOINT={url}\n" in banner
        # the variable that wins over an existing ~/.oci/config (OCI_CONFIG_FILE does not)
        assert f"  export OCI_CLI_CONFIG_FILE={tmp_path / 'config'}\n" in banner
        assert banner[-1] == "Press Ctrl-C to stop.\n"
        config = oci.config.from_file(str(tmp_path / "config"), "DEFAULT")
        client = oci.data_science.DataScienceClient(
            config, service_endpoint=url, circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy())
        assert client.list_jobs(COMPARTMENT).data == []
        storage = oci.object_storage.ObjectStorageClient(config, service_endpoint=url)
        assert storage.get_bucket(storage.get_namespace().data, "ml-state").data.name == "ml-state"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert out == "Stopped.\n"
    assert (tmp_path / "config").stat().st_mode & 0o077 == 0


def test_a_job_run_keeps_its_freeform_tags_and_lists_them(clients: SdkClients) -> None:
    """CreateJobRunDetails.freeform_tags are the run's own: JobRun and JobRunSummary give them back (what
    `run --idempotency-key` finds its runs by)."""
    job = ready_job(clients)
    run = start_run(clients, job, freeform_tags={"jobctl-run-key": "0123abcd"})
    assert clients.data_science.get_job_run(run.id).data.freeform_tags == {"jobctl-run-key": "0123abcd"}
    [summary] = clients.data_science.list_job_runs(COMPARTMENT, job_id=job.id).data
    assert summary.freeform_tags == {"jobctl-run-key": "0123abcd"}


def test_a_body_with_text_that_is_no_unicode_is_refused_and_creates_nothing(clients: SdkClients) -> None:
    """Red team, session 14: the fake created the run, then answered 500 writing its response (the text could not
    be encoded), and the SDK's retries made three more runs."""
    job = ready_job(clients)
    odd = M.DefaultJobConfigurationDetails(environment_variables={"MSG": "a\udce9"})
    with pytest.raises(oci.exceptions.ServiceError) as refused:
        start_run(clients, job, job_configuration_override_details=odd)
    assert (refused.value.status, refused.value.code) == (400, "CannotParseRequest")
    assert clients.data_science.list_job_runs(compartment_id=COMPARTMENT).data == []
    paired = M.DefaultJobConfigurationDetails(environment_variables={"MSG": "a\U0001f600"})  # (a pair: Unicode)
    assert start_run(clients, job, job_configuration_override_details=paired).lifecycle_state == "ACCEPTED"

"""OCI Data Flow in the fake OCI, driven through the real `oci` SDK's DataFlowClient (docs/oci-fidelity.md,
"Data Flow")."""

from __future__ import annotations

import datetime
import inspect
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import oci
import pytest

from jobctl.testing.fake_oci import FakeOCI, ManualClock, SparkOutcome, SparkRun, echo_spark_workload, schema
from jobctl.testing.fake_oci.dataflow import APPLICATION_STATES, APPLICATION_SUMMARY_FIELDS
from jobctl.testing.fake_oci.dataflow_runs import APPLICATION_VALUES, RUN_STATES, RUN_SUMMARY_FIELDS
from tests.oci.conftest import SdkClients
from tests.oci.test_fake_oci import COMPARTMENT, assert_matches_model, service_error

M = oci.data_flow.models
ENDED = ("SUCCEEDED", "FAILED", "CANCELED", "STOPPED")
MAX_POLLS = 10  # a deadline for every poll: a run ends within 3
INPUT = "oci://data@fakenamespace/in.txt"
SHAPE = "VM.Standard.E4.Flex"


def application_details(**overrides: Any) -> Any:
    values: dict[str, Any] = {
        "compartment_id": COMPARTMENT, "display_name": "wordcount", "language": "PYTHON", "spark_version": "3.5.0",
        "driver_shape": SHAPE, "executor_shape": SHAPE, "num_executors": 2,
        "driver_shape_config": M.ShapeConfig(ocpus=1.0, memory_in_gbs=16.0),
        "executor_shape_config": M.ShapeConfig(ocpus=2.0, memory_in_gbs=32.0),
        "file_uri": "oci://code@fakenamespace/wordcount.py", "arguments": ["--input", "${input}", "--name", "John Doe"],
        "parameters": [M.ApplicationParameter(name="input", value=INPUT)],
        "configuration": {"spark.driverEnv.MODEL": "xgb"}, "logs_bucket_uri": "oci://dataflow-logs@fakenamespace/",
        "type": "BATCH", "freeform_tags": {"team": "ml"},
    }
    values.update(overrides)
    return M.CreateApplicationDetails(**values)


def body(**overrides: Any) -> dict[str, Any]:
    """CreateApplicationDetails as wire JSON, as a client that does not use the SDK's models sends it (None
    leaves a field out)."""
    sent = {"compartmentId": COMPARTMENT, "displayName": "wordcount", "language": "PYTHON", "sparkVersion": "3.5.0",
            "driverShape": SHAPE, "executorShape": SHAPE, "numExecutors": 1, "fileUri": "oci://code@ns/wc.py",
            "executorShapeConfig": {"ocpus": 1, "memoryInGBs": 16}, **overrides}
    return {key: value for key, value in sent.items() if value is not None}


def create_application(clients: SdkClients, **overrides: Any) -> Any:
    return clients.data_flow.create_application(application_details(**overrides)).data


def start(clients: SdkClients, application_id: str, **more: Any) -> Any:
    details = M.CreateRunDetails(compartment_id=COMPARTMENT, application_id=application_id, **more)
    return clients.data_flow.create_run(details).data


def poll(clients: SdkClients, run_id: str, done: Callable[[Any], bool] = lambda r: r.lifecycle_state in ENDED,
         ) -> list[Any]:
    """Every Run a poller sees until `done` holds (by default: the run has ended)."""
    seen = []
    for _ in range(MAX_POLLS):
        seen.append(clients.data_flow.get_run(run_id).data)
        if done(seen[-1]):
            return seen
    raise AssertionError(f"run {run_id} is stuck: {seen[-1]}")


def env(**values: str) -> dict[str, str]:
    """A run's environment, where Data Flow keeps it: spark.driverEnv.NAME in its configuration."""
    return {f"spark.driverEnv.{name}": value for name, value in values.items()}


def spark_recorder(fake: FakeOCI) -> list[SparkRun]:
    """The runs the fake's Data Flow workload runs, in the order they start (each echoed as by default)."""
    seen: list[SparkRun] = []

    def record(run: SparkRun) -> SparkOutcome:
        seen.append(run)
        return echo_spark_workload(run)

    fake.dataflow_workload = record
    return seen


def read_log(clients: SdkClients, run_id: str, name: str) -> str:
    return str(clients.data_flow.get_run_log(run_id, name).data.text)


# The fake's tables against the SDK's models ----------------------------------------------------------

@pytest.mark.parametrize(("spec", "model"), [
    (schema.CREATE_APPLICATION, M.CreateApplicationDetails), (schema.UPDATE_APPLICATION, M.UpdateApplicationDetails),
    (schema.CREATE_DATAFLOW_RUN, M.CreateRunDetails), (schema.UPDATE_DATAFLOW_RUN, M.UpdateRunDetails),
    (schema.APPLICATION_PARAMETER, M.ApplicationParameter), (schema.APPLICATION_LOG_CONFIG, M.ApplicationLogConfig),
    (schema.DATAFLOW_SHAPE_CONFIG, M.ShapeConfig),
])
def test_dataflow_request_schemas_match_the_sdk_models(spec: schema.Obj, model: type) -> None:
    assert_matches_model(spec, model)


def test_dataflow_summaries_states_and_run_values_match_the_sdk_models() -> None:
    assert set(APPLICATION_SUMMARY_FIELDS) == set(M.ApplicationSummary().attribute_map.values())
    assert set(RUN_SUMMARY_FIELDS) == set(M.RunSummary().attribute_map.values())
    assert "allowed_values = " + json.dumps(list(APPLICATION_STATES)) in inspect.getsource(M.Application)
    assert "allowed_values = " + json.dumps(list(RUN_STATES)) in inspect.getsource(M.Run)
    assert set(APPLICATION_VALUES) <= set(M.Run().attribute_map.values())
    # what a run overrides, and what it takes from its application only (SDK CreateRunDetails' class doc)
    overridable = set(M.CreateRunDetails().attribute_map.values()) - {"applicationId", "compartmentId"}
    assert set(APPLICATION_VALUES) == overridable | {"className", "fileUri", "language", "privateEndpointId"}


# Applications ---------------------------------------------------------------------------------------

def test_an_application_is_active_and_reads_back_as_sent(clients: SdkClients) -> None:
    created = clients.data_flow.create_application(application_details())
    found = clients.data_flow.get_application(created.data.id)

    app = found.data
    assert (created.data.lifecycle_state, app.lifecycle_state) == ("ACTIVE", "ACTIVE")
    assert app.id.startswith("ocid1.dataflowapplication.oc1.iad.")
    assert app.owner_principal_id == clients.config["user"]
    assert found.headers["etag"] == created.headers["etag"]
    assert (app.arguments, app.parameters, app.configuration) == (
        ["--input", "${input}", "--name", "John Doe"], [M.ApplicationParameter(name="input", value=INPUT)],
        {"spark.driverEnv.MODEL": "xgb"})
    assert (app.num_executors, app.executor_shape_config.ocpus, app.file_uri) == (
        2, 2.0, "oci://code@fakenamespace/wordcount.py")
    assert app.freeform_tags == {"team": "ml"}
    assert "Oracle-Tags" in app.defined_tags  # the tenancy's tag defaults, as for jobs
    untyped = create_application(clients, type=None)
    assert untyped.type == "BATCH"


@pytest.mark.parametrize(("sent", "error", "words"), [
    (body(displayName=None), (400, "MissingParameter"), "displayName"),
    (body(numExecutors=None), (400, "MissingParameter"), "numExecutors"),
    (body(fileUri=None), (400, "MissingParameter"), "fileUri"),
    (body(num_executors=2), (400, "InvalidParameter"), "num_executors"),
    (body(language="R"), (400, "InvalidParameter"), "language"),
    (body(type="INTERACTIVE"), (400, "InvalidParameter"), "type"),
    (body(numExecutors="2"), (400, "InvalidParameter"), "numExecutors"),
    (body(parameters=[{"name": "input"}]), (400, "MissingParameter"), "parameters[0].value"),
    (body(applicationLogConfig={"logGroupId": "ocid1.loggroup.oc1..x"}), (400, "MissingParameter"), "logId"),
])
def test_create_application_refuses_what_the_sdk_model_does_not_allow(fake_oci: FakeOCI, clients: SdkClients,
                                                                      sent: dict[str, Any], error: tuple[int, str],
                                                                      words: str) -> None:
    refused = service_error(lambda: clients.data_flow.create_application(sent))

    assert (refused.status, refused.code) == error
    assert words in refused.message
    assert fake_oci.applications() == []


def test_every_placeholder_needs_a_parameter_on_create_and_update(fake_oci: FakeOCI, clients: SdkClients) -> None:
    unfilled = service_error(lambda: create_application(clients, arguments=["${input}", "${output}"]))
    assert (unfilled.status, unfilled.code, "${output}" in unfilled.message) == (400, "InvalidParameter", True)
    malformed = service_error(lambda: create_application(
        clients, parameters=[M.ApplicationParameter(name="in-put", value="x")], arguments=[]))
    assert (malformed.status, "'in-put'" in malformed.message) == (400, True)
    assert fake_oci.applications() == []
    app = create_application(clients)

    arguments = M.UpdateApplicationDetails(arguments=["${input}", "${output}"])
    refused = service_error(lambda: clients.data_flow.update_application(arguments, app.id))
    parameters = [M.ApplicationParameter(name=name, value="") for name in ("input", "output")]
    both = M.UpdateApplicationDetails(arguments=["${input}", "${output}"], parameters=parameters)

    assert (refused.status, "${output}" in refused.message) == (400, True)
    assert clients.data_flow.update_application(both, app.id).data.arguments == ["${input}", "${output}"]
    dropped = service_error(lambda: clients.data_flow.update_application(
        M.UpdateApplicationDetails(parameters=[]), app.id))
    assert (dropped.status, "${input}" in dropped.message) == (400, True)


def test_update_changes_only_what_update_application_details_carries(clients: SdkClients) -> None:
    app = create_application(clients)
    etag = clients.data_flow.get_application(app.id).headers["etag"]
    update = M.UpdateApplicationDetails(display_name="renamed", language="SCALA", class_name="com.example.Main",
                                        file_uri="oci://code@fakenamespace/wc.jar", configuration={"b": "2"})

    updated = clients.data_flow.update_application(update, app.id, if_match=etag)

    assert updated.headers["etag"] != etag
    found = clients.data_flow.get_application(app.id).data
    assert (found.display_name, found.language, found.class_name, found.file_uri) == (
        "renamed", "SCALA", "com.example.Main", "oci://code@fakenamespace/wc.jar")
    assert found.configuration == {"b": "2"}  # the map sent replaces the application's whole
    assert found.arguments == app.arguments  # what is not sent stays
    stale = service_error(lambda: clients.data_flow.update_application(update, app.id, if_match=etag))
    assert (stale.status, stale.code) == (412, "PreconditionFailed")
    for sent in ({"type": "STREAMING"}, {"compartmentId": "ocid1.compartment.oc1..other"}):
        error = service_error(lambda s=sent: clients.data_flow.update_application(s, app.id))
        assert (error.status, f"cannot be updated: {next(iter(sent))}" in error.message) == (400, True)


def test_list_applications_needs_the_compartment_and_at_most_one_filter(fake_oci: FakeOCI,
                                                                        clients: SdkClients) -> None:
    fake_oci.clock = ManualClock()
    for index, language in enumerate(("SCALA", "PYTHON", "JAVA", "PYTHON", "SQL")):
        fake_oci.clock.advance(1)  # type: ignore[attr-defined]
        fake_oci.create_application(body(displayName=f"app-{index}", language=language,
                                         sparkVersion="3.2.1" if index == 4 else "3.5.0"))

    every = oci.pagination.list_call_get_all_results(clients.data_flow.list_applications, COMPARTMENT, limit=2).data

    assert [a.display_name for a in every] == ["app-4", "app-3", "app-2", "app-1", "app-0"]  # newest first
    assert fake_oci.count("GET", r"/20200129/applications$") == 3
    assert all(isinstance(a, M.ApplicationSummary) for a in every)

    def names(**query: Any) -> list[str]:
        return [a.display_name for a in clients.data_flow.list_applications(COMPARTMENT, **query).data]

    assert names(display_name="app-3") == ["app-3"]
    assert names(display_name_starts_with="app-", sort_by="displayName") == [f"app-{i}" for i in range(5)]
    assert names(spark_version="3.2.1") == ["app-4"]
    assert names(sort_by="language", sort_order="DESC")[:1] == ["app-4"]  # SQL
    assert clients.data_flow.list_applications("ocid1.compartment.oc1..other").data == []
    two = service_error(lambda: clients.data_flow.list_applications(COMPARTMENT, display_name="app-3",
                                                                    spark_version="3.5.0"))
    assert (two.status, "only one parameter other than compartmentId" in two.message) == (400, True)
    nameless = service_error(lambda: clients.data_flow.list_applications(""))
    assert (nameless.status, nameless.code) == (400, "MissingParameter")


def test_an_application_with_an_active_run_cannot_be_deleted_and_a_deleted_one_cannot_run(
        fake_oci: FakeOCI, clients: SdkClients) -> None:
    app = create_application(clients)
    run = start(clients, app.id)
    busy = service_error(lambda: clients.data_flow.delete_application(app.id))
    assert (busy.status, busy.code, run.id in busy.message) == (409, "IncorrectState", True)
    poll(clients, run.id)

    deleted = clients.data_flow.delete_application(app.id)

    assert deleted.status == 204
    assert clients.data_flow.get_application(app.id).data.lifecycle_state == "DELETED"
    listed = clients.data_flow.list_applications(COMPARTMENT).data
    assert [(a.id, a.lifecycle_state) for a in listed] == [(app.id, "DELETED")]
    refused = service_error(lambda: start(clients, app.id))
    assert (refused.status, refused.code) == (409, "IncorrectState")
    again = service_error(lambda: clients.data_flow.delete_application(app.id))
    assert (again.status, again.code) == (409, "Conflict")
    update = M.UpdateApplicationDetails(display_name="x")
    assert service_error(lambda: clients.data_flow.update_application(update, app.id)).status == 409
    assert fake_oci.dataflow_run(run.id)["lifecycleState"] == "SUCCEEDED"  # the runs stay


def test_retry_tokens_make_creates_idempotent(fake_oci: FakeOCI, clients: SdkClients) -> None:
    apps = [clients.data_flow.create_application(application_details(), opc_retry_token="a-1").data
            for _ in range(2)]
    assert apps[0].id == apps[1].id
    assert len(fake_oci.applications()) == 1
    other = application_details(display_name="other")
    conflict = service_error(lambda: clients.data_flow.create_application(other, opc_retry_token="a-1"))
    assert conflict.status == 409
    details = M.CreateRunDetails(compartment_id=COMPARTMENT, application_id=apps[0].id)

    runs = [clients.data_flow.create_run(details, opc_retry_token="r-1").data for _ in range(2)]

    assert runs[0].id == runs[1].id
    assert len(fake_oci.dataflow_runs()) == 1


# Runs -----------------------------------------------------------------------------------------------

def test_a_run_takes_its_application_s_values_and_the_run_s_overrides(fake_oci: FakeOCI,
                                                                      clients: SdkClients) -> None:
    started = spark_recorder(fake_oci)
    app = create_application(clients, class_name=None)
    parameters = [M.ApplicationParameter(name="input", value="oci://data@fakenamespace/other.txt")]

    run = start(clients, app.id, num_executors=4, configuration=env(MODEL="rf"), parameters=parameters,
                freeform_tags={"run": "1"})
    plain = start(clients, app.id)
    clients.data_flow.update_application(M.UpdateApplicationDetails(num_executors=8, spark_version="3.2.1"), app.id)
    poll(clients, run.id)

    assert run.id.startswith("ocid1.dataflowrun.oc1.iad.")
    assert (run.lifecycle_state, run.application_id, run.compartment_id) == ("ACCEPTED", app.id, COMPARTMENT)
    assert (run.display_name, run.language, run.file_uri, run.spark_version) == (
        "wordcount", "PYTHON", app.file_uri, "3.5.0")
    assert (run.num_executors, run.driver_shape, run.executor_shape_config.ocpus) == (4, SHAPE, 2.0)
    assert run.configuration == {"spark.driverEnv.MODEL": "rf"}  # the run's map replaces the application's
    assert run.arguments == app.arguments  # kept with its placeholders; the application sees them filled
    assert run.freeform_tags == {"run": "1"}
    assert (plain.freeform_tags, plain.num_executors, plain.parameters) == ({"team": "ml"}, 2, app.parameters)
    later = clients.data_flow.get_run(plain.id).data
    assert (later.num_executors, later.spark_version) == (2, "3.5.0")  # a run keeps what it was created with
    assert started[0].arguments == ["--input", "oci://data@fakenamespace/other.txt", "--name", "John Doe"]
    assert (started[0].env, started[0].language, started[0].file_uri) == ({"MODEL": "rf"}, "PYTHON", app.file_uri)


def test_a_run_s_parameters_replace_the_application_s_and_must_fill_every_placeholder(
        fake_oci: FakeOCI, clients: SdkClients) -> None:
    app = create_application(clients, arguments=["${a}${b} ${c}", "${b}"], parameters=[
        M.ApplicationParameter(name=name, value=f"v{name}") for name in "abc"])
    partial = [M.ApplicationParameter(name="a", value="x")]
    refused = service_error(lambda: start(clients, app.id, parameters=partial))
    assert (refused.status, "${b}, ${c}" in refused.message) == (400, True)
    started = spark_recorder(fake_oci)
    values = [M.ApplicationParameter(name="a", value="${b}"), M.ApplicationParameter(name="b", value=""),
              M.ApplicationParameter(name="c", value="1 2")]

    poll(clients, start(clients, app.id, parameters=values).id)

    assert started[0].arguments == ["${b} 1 2", ""]  # substituted once, inside an argument, as text


def test_a_run_names_exactly_one_of_application_and_execute(fake_oci: FakeOCI, clients: SdkClients) -> None:
    app = create_application(clients)
    submit = "--conf spark.x=1 oci://code@fakenamespace/wordcount.py 10"
    for sent, words in (
            ({"compartmentId": COMPARTMENT}, "exactly one of applicationId and execute"),
            ({"compartmentId": COMPARTMENT, "applicationId": app.id, "execute": submit}, "exactly one of"),
            ({"compartmentId": COMPARTMENT, "execute": submit}, "not execute"),
            ({"compartmentId": COMPARTMENT, "applicationId": app.id, "sparkVersion": "3.5.0"},
             "sparkVersion can only be given with execute"),
            ({"applicationId": app.id}, "compartmentId is required"),
            ({"compartmentId": COMPARTMENT, "applicationId": app.id, "className": "Main"}, "className")):
        error = service_error(lambda s=sent: clients.data_flow.create_run(s))
        assert (error.status, words in error.message) == (400, True), error.message
    gone = service_error(lambda: start(clients, "ocid1.dataflowapplication.oc1..gone"))
    assert (gone.status, gone.code) == (400, "RelatedResourceNotAuthorizedOrNotFound")
    assert fake_oci.dataflow_runs() == []


def test_a_run_is_accepted_in_progress_then_ends_by_its_exit_code(clients: SdkClients) -> None:
    app = create_application(clients)

    succeeded = poll(clients, start(clients, app.id).id)
    failed = poll(clients, start(clients, app.id, configuration=env(EXIT_CODE="3")).id)

    assert [r.lifecycle_state for r in succeeded] == ["ACCEPTED", "IN_PROGRESS", "SUCCEEDED"]
    assert [r.lifecycle_state for r in failed] == ["ACCEPTED", "IN_PROGRESS", "FAILED"]
    assert "exited with code 3" in failed[-1].lifecycle_details
    assert succeeded[-1].lifecycle_details is None
    assert succeeded[-1].run_duration_in_milliseconds is not None
    assert succeeded[0].run_duration_in_milliseconds is None
    assert succeeded[0].time_updated <= succeeded[-1].time_updated


def test_without_auto_progress_a_run_moves_only_when_the_test_steps_it(fake_oci: FakeOCI,
                                                                       clients: SdkClients) -> None:
    fake_oci.auto_progress = False
    run = start(clients, create_application(clients).id)
    assert {clients.data_flow.get_run(run.id).data.lifecycle_state for _ in range(3)} == {"ACCEPTED"}
    assert clients.data_flow.list_runs(COMPARTMENT).data[0].lifecycle_state == "ACCEPTED"

    states = []
    while fake_oci.step_all():
        assert len(states) < MAX_POLLS
        states.append(fake_oci.dataflow_run(run.id)["lifecycleState"])

    assert states == ["IN_PROGRESS", "SUCCEEDED"]


def test_run_logs_exist_once_the_run_has_ended(clients: SdkClients) -> None:
    app = create_application(clients)
    run = start(clients, app.id, configuration=env(EXIT_CODE="2"))
    before = [clients.data_flow.list_run_logs(run.id).data for _ in range(2)]  # ACCEPTED, then IN_PROGRESS
    assert before == [[], []]
    poll(clients, run.id)

    logs = oci.pagination.list_call_get_all_results(clients.data_flow.list_run_logs, run.id, limit=1).data

    assert all(isinstance(log, M.RunLogSummary) for log in logs)
    assert [(log.source, log.type, log.run_id) for log in logs] == [
        ("APPLICATION", "STDOUT", run.id), ("APPLICATION", "STDERR", run.id)]
    stdout, stderr = (read_log(clients, run.id, log.name) for log in logs)
    assert stdout.splitlines() == ["spark.driverEnv.EXIT_CODE=2",
                                   f"args=--input {INPUT} --name 'John Doe'"]
    assert stderr == "the application exited with code 2\n"
    assert [log.size_in_bytes for log in logs] == [len(stdout.encode()), len(stderr.encode())]
    missing = service_error(lambda: clients.data_flow.get_run_log(run.id, "spark_driver_stderr.log.gz"))
    assert (missing.status, missing.code) == (404, "NotAuthorizedOrNotFound")


def test_delete_run_cancels_it_and_the_run_stays(clients: SdkClients) -> None:
    app = create_application(clients)
    run = start(clients, app.id, configuration=env(SLEEP="1"))
    poll(clients, run.id, lambda r: r.lifecycle_state == "IN_PROGRESS")

    canceled = clients.data_flow.delete_run(run.id)
    seen = poll(clients, run.id)

    assert canceled.status == 204
    assert [r.lifecycle_state for r in seen] == ["CANCELING", "CANCELED"]
    assert [log.type for log in clients.data_flow.list_run_logs(run.id).data] == ["STDOUT", "STDERR"]
    for ended in (run.id, poll(clients, start(clients, app.id).id)[-1].id):
        error = service_error(lambda r=ended: clients.data_flow.delete_run(r))
        assert (error.status, error.code) == (409, "IncorrectState")
    accepted = start(clients, app.id)
    clients.data_flow.delete_run(accepted.id)
    assert [r.lifecycle_state for r in poll(clients, accepted.id)] == ["CANCELING", "CANCELED"]
    assert clients.data_flow.list_run_logs(accepted.id).data == []  # it never ran


def test_update_run_changes_only_tags_and_timeouts(fake_oci: FakeOCI, clients: SdkClients) -> None:
    fake_oci.auto_progress = False  # a GET that moved the run would change its etag
    run = start(clients, create_application(clients).id)
    etag = clients.data_flow.get_run(run.id).headers["etag"]
    update = M.UpdateRunDetails(freeform_tags={"kept": "yes"}, max_duration_in_minutes=30)

    updated = clients.data_flow.update_run(update, run.id, if_match=etag).data

    assert (updated.freeform_tags, updated.max_duration_in_minutes) == ({"kept": "yes"}, 30)
    stale = service_error(lambda: clients.data_flow.update_run(update, run.id, if_match=etag))
    assert (stale.status, stale.code) == (412, "PreconditionFailed")
    renamed = service_error(lambda: clients.data_flow.update_run({"displayName": "x"}, run.id))
    assert (renamed.status, "cannot be updated: displayName" in renamed.message) == (400, True)


def test_list_runs_needs_the_compartment_and_at_most_one_filter(fake_oci: FakeOCI, clients: SdkClients) -> None:
    fake_oci.clock = ManualClock()
    first, second = create_application(clients), create_application(clients)
    runs = []
    for index, app in enumerate((first, second, first)):
        fake_oci.clock.advance(1)  # type: ignore[attr-defined]
        runs.append(start(clients, app.id, display_name=f"run-{index}"))
    poll(clients, runs[0].id)

    def names(**query: Any) -> list[str]:
        listed = oci.pagination.list_call_get_all_results(
            clients.data_flow.list_runs, COMPARTMENT, limit=1, **query).data
        assert all(isinstance(r, M.RunSummary) for r in listed)
        return [r.display_name for r in listed]

    fake_oci.auto_progress = False  # lists move listed runs on, like GETs: keep the states still here
    assert names() == ["run-2", "run-1", "run-0"]  # timeCreated, newest first
    assert names(application_id=first.id) == ["run-2", "run-0"]
    assert names(lifecycle_state="SUCCEEDED") == ["run-0"]
    assert names(display_name_starts_with="run-", sort_by="displayName") == ["run-0", "run-1", "run-2"]
    assert names(display_name="run-1") == ["run-1"]
    after = datetime.datetime.fromtimestamp(fake_oci.clock() - 1.5, tz=datetime.timezone.utc)
    assert names(time_created_greater_than=after) == ["run-2", "run-1"]
    assert names(sort_by="runDurationInMilliseconds", sort_order="DESC")[0] == "run-0"  # the only one ended
    two = service_error(lambda: clients.data_flow.list_runs(COMPARTMENT, application_id=first.id,
                                                            lifecycle_state="SUCCEEDED"))
    assert (two.status, "only one parameter" in two.message) == (400, True)


def test_a_plugged_workload_decides_what_a_run_prints_and_how_it_ends(fake_oci: FakeOCI,
                                                                      clients: SdkClients) -> None:
    def spark(run: SparkRun) -> SparkOutcome:
        return SparkOutcome(f"counted {run.file_uri} {run.arguments[1]}\n", "WARN spark\n", 0 if run.env else 1)

    fake_oci.dataflow_workload = spark
    app = create_application(clients)

    ran = poll(clients, start(clients, app.id).id)[-1]
    failed = poll(clients, start(clients, app.id, configuration={}).id)[-1]

    assert (ran.lifecycle_state, failed.lifecycle_state) == ("SUCCEEDED", "FAILED")
    assert read_log(clients, ran.id, "spark_application_stdout.log.gz") == f"counted {app.file_uri} {INPUT}\n"
    assert read_log(clients, ran.id, "spark_application_stderr.log.gz") == "WARN spark\n"


def test_every_dataflow_response_deserializes_into_sdk_models(fake_oci: FakeOCI, clients: SdkClients) -> None:
    app = create_application(clients)
    seen = poll(clients, start(clients, app.id).id)

    assert isinstance(clients.data_flow.get_application(app.id).data, M.Application)
    assert all(isinstance(r, M.Run) for r in seen)
    every = [app, *seen, *clients.data_flow.list_applications(COMPARTMENT).data,
             *clients.data_flow.list_runs(COMPARTMENT).data, *clients.data_flow.list_run_logs(seen[-1].id).data]
    assert "UNKNOWN_ENUM_VALUE" not in json.dumps([oci.util.to_dict(model) for model in every], default=str)
    assert fake_oci.application(app.id)["ownerPrincipalId"] == clients.config["user"]


def test_the_fidelity_page_names_tests_that_exist() -> None:
    page = (Path(__file__).parents[2] / "docs" / "oci-fidelity.md").read_text()
    section = page[page.index("### Data Flow"):].split("\n### ")[0]  # up to the next section
    named = set(re.findall(r"`(test_\w+)`", section))
    assert len(named) > 10
    assert named <= {name for name in globals() if name.startswith("test_")}

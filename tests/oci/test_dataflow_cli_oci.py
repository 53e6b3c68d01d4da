"""Issue 17, done means 2: the word count spec applies and runs on the oci backend against the fake (its
code uploaded to codeUri and run on real Spark by the fake); plan after apply shows no changes; an argument
change is an update in place, a compartment change a replace."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest

from jobctl.model.definition import replace
from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import EXAMPLES, assert_each_other_request_refused
from tests.oci.test_idempotency_keys_oci import listed

CODE = "oci://dataflow-code@mytenancy/apps"


@pytest.fixture
def wordcount(tmp_path: Path, fake: FakeOCI, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example in tmp_path, its codeUri a bucket of the fake's."""
    fake.create_bucket("dataflow-code", namespace="mytenancy")
    monkeypatch.setenv("DATAFLOW_CODE", CODE)
    specs = tmp_path / "wordcount"
    shutil.copytree(EXAMPLES / "wordcount", specs)
    return specs


def edit(specs: Path, old: str, new: str) -> None:
    spec = specs / "application.yaml"
    assert old in spec.read_text()
    spec.write_text(spec.read_text().replace(old, new))


def test_the_word_count_applies_runs_on_the_fakes_spark_and_logs_its_counts(
        jobctl, wordcount: Path, fake: FakeOCI, tmp_path: Path) -> None:
    from jobctl.testing.fake_oci.dataflow_workload import spark_workload

    fake.dataflow_workload = spark_workload(fake, tmp_path)
    plan = jobctl("plan", str(wordcount))
    assert plan.exit_code == 0, plan.stderr
    assert "+ application wordcount" in plan.stdout
    applied = jobctl("apply", str(wordcount))
    assert applied.exit_code == 0, applied.stderr
    [app] = fake.applications()
    assert f"application wordcount: created ({app['id']})" in applied.stderr
    digest = hashlib.sha256((wordcount / "wordcount.py").read_bytes()).hexdigest()
    assert app["fileUri"] == f"{CODE}/wordcount/{digest}/wordcount.py"  # content-addressed, uploaded there
    stored = fake.store.objects[("mytenancy", "dataflow-code", f"apps/wordcount/{digest}/wordcount.py")]
    assert stored.content == (wordcount / "wordcount.py").read_bytes()
    assert (app["compartmentId"], app["numExecutors"], app["arguments"]) == (
        "ocid1.compartment.oc1..oci", 2, ["--input", "${input}", "--min-count", "2"])
    same = jobctl("plan", str(wordcount), "--detailed-exitcode")
    assert (same.exit_code, same.stdout.strip()) == (0, "No changes. 0 job(s), 1 application(s) up to date.")

    books = wordcount / "books.txt"
    ran = jobctl("run", "wordcount", "--set", f"parameters.input={books}", "--env", "MODEL=rf", "--wait")
    assert ran.exit_code == 0, ran.stderr
    [run_id] = re.findall(r"started wordcount-run-\S+ \((ocid1\.dataflowrun\.[^)]+)\)", ran.stderr)
    assert fake.dataflow_run(run_id)["configuration"]["spark.driverEnv.MODEL"] == "rf"
    got = json.loads(jobctl("get", run_id, "-o", "json").stdout)
    assert (got["lifecycleState"], got["exitCode"], got["env"]["MODEL"], got["jobName"]) == (
        "SUCCEEDED", 0, "rf", "wordcount")
    assert got["timeStarted"] < got["timeFinished"]  # from its runDurationInMilliseconds: a DURATION to show
    assert got["parameters"] == {"input": str(books)}  # issue 18: a Data Flow run's parameters are shown
    logs = jobctl("logs", run_id)
    assert logs.exit_code == 0, logs.stderr
    assert logs.stdout.splitlines()[:4] == ["it\t6", "of\t6", "the\t6", "was\t6"]
    assert "7 words seen at least 2 times" in logs.stdout


def test_an_argument_change_updates_in_place_and_a_compartment_change_replaces(
        jobctl, wordcount: Path, fake: FakeOCI) -> None:
    assert jobctl("apply", str(wordcount)).exit_code == 0
    [first] = fake.applications()
    edit(wordcount, '"--min-count", "2"', '"--min-count", "3"')
    plan = jobctl("plan", str(wordcount))
    assert "~ application wordcount" in plan.stdout, plan.stdout
    assert "arguments" in plan.stdout
    applied = jobctl("apply", str(wordcount))
    assert applied.exit_code == 0, applied.stderr
    [app] = fake.applications()
    assert (app["id"], app["arguments"][-1]) == (first["id"], "3")
    assert jobctl("plan", str(wordcount), "--detailed-exitcode").exit_code == 0

    # a new compartment: UpdateApplication cannot move it, so a new application, and the old one goes
    edit(wordcount, "  language: PYTHON", "  compartmentId: ocid1.compartment.oc1..other\n  language: PYTHON")
    plan = jobctl("plan", str(wordcount))
    assert "-/+ application wordcount" in plan.stdout, plan.stdout
    assert "compartmentId cannot change in place" in plan.stdout
    assert jobctl("apply", str(wordcount)).exit_code == 2  # destructive: needs --yes
    assert jobctl("apply", str(wordcount), "--yes").exit_code == 0
    live = [a for a in fake.applications() if a["lifecycleState"] == "ACTIVE"]
    assert [(a["compartmentId"], a["arguments"][-1]) for a in live] == [("ocid1.compartment.oc1..other", "3")]
    assert jobctl("plan", str(wordcount), "--detailed-exitcode").exit_code == 0


def test_changed_code_is_a_new_file_and_the_same_code_is_not_uploaded_twice(
        jobctl, wordcount: Path, fake: FakeOCI) -> None:
    assert jobctl("apply", str(wordcount)).exit_code == 0
    code = [key for key in fake.store.objects if key[1] == "dataflow-code"]
    (wordcount / "wordcount.py").write_text((wordcount / "wordcount.py").read_text() + "\n# changed\n")
    plan = jobctl("plan", str(wordcount))
    assert "~ application wordcount" in plan.stdout, plan.stdout
    assert "~ fileUri: " in plan.stdout
    assert jobctl("apply", str(wordcount)).exit_code == 0
    after = [key for key in fake.store.objects if key[1] == "dataflow-code"]
    assert len(after) == 2
    assert set(code) < set(after)
    [app] = fake.applications()
    assert app["fileUri"].endswith(f"/{after[-1][2].split('/')[-2]}/wordcount.py")


def test_a_source_without_code_uri_is_an_error_before_anything_changes(jobctl, tmp_path: Path,
                                                                        fake: FakeOCI) -> None:
    specs = tmp_path / "wordcount"
    shutil.copytree(EXAMPLES / "wordcount", specs)
    edit(specs, "  codeUri: ${DATAFLOW_CODE:-oci://dataflow-code@my-namespace/apps}", "")
    applied = jobctl("apply", str(specs))
    assert applied.exit_code == 3, applied.stderr
    said = "application.yaml:18:11: spec.source: application 'wordcount' needs spec.codeUri on this backend"
    assert said in applied.stderr
    assert "Hint: write spec.codeUri as oci://bucket@namespace/prefix\n" in applied.stderr
    assert fake.applications() == []


def test_a_missing_code_bucket_says_which_and_creates_nothing(jobctl, tmp_path: Path, fake: FakeOCI,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAFLOW_CODE", "oci://no-such-bucket@mytenancy/apps")
    applied = jobctl("apply", str(EXAMPLES / "wordcount"))
    assert applied.exit_code == 6, applied.stderr
    assert "oci://no-such-bucket@mytenancy/apps/wordcount/" in applied.stderr
    assert "the bucket must exist" in applied.stderr
    assert fake.applications() == []


def test_the_ads_user_guides_dataflow_yaml_applies_and_runs_on_the_fake(
        jobctl, tmp_path: Path, fake: FakeOCI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 17, done means 3: ADS's Data Flow YAML as its user guide writes it, applied as it is."""
    from tests.unit.test_ads_dataflow import GUIDE, write

    fake.create_bucket("dataflow-code", namespace="mytenancy")
    path = write(tmp_path, GUIDE)
    applied = jobctl("apply", str(path))
    assert applied.exit_code == 0, applied.stderr
    [app] = fake.applications()
    digest = hashlib.sha256(b"print('hi')\n").hexdigest()
    assert (app["displayName"], app["compartmentId"], app["sparkVersion"], app["fileUri"]) == (
        "dataflow_app_name", "ocid1.compartment.oc1..aaaaexample", "3.2.1",
        f"{CODE}/dataflow-app-name/{digest}/main.py")
    assert (app["driverShapeConfig"], app["executorShapeConfig"]) == (
        {"ocpus": 2.0, "memoryInGBs": 32.0}, {"ocpus": 4.0, "memoryInGBs": 64.0})
    assert app["freeformTags"]["team"] == "ml"
    assert app["privateEndpointId"] == "ocid1.dataflowprivateendpoint.oc1.iad.aaaaexample"
    assert jobctl("plan", str(path), "--detailed-exitcode").exit_code == 0
    elsewhere = jobctl("run", "dataflow-app-name")  # by name: in the default compartment
    assert elsewhere.exit_code == 4
    assert ("Error: no job named 'dataflow-app-name', nor a Data Flow application in compartment "
            "ocid1.compartment.oc1..oci\n") in elsewhere.stderr
    monkeypatch.setenv("OCI_COMPARTMENT_ID", "ocid1.compartment.oc1..aaaaexample")
    ran = jobctl("run", "dataflow-app-name", "--wait")
    assert ran.exit_code == 0, ran.stderr
    [run_id] = re.findall(r"\((ocid1\.dataflowrun\.[^)]+)\)", ran.stderr)
    assert "spark.driverEnv.myEnvVariable=value1" in jobctl("logs", run_id).stdout  # the fake echoes its conf


def test_runs_logs_get_and_cancel_find_an_application_by_its_name(jobctl, wordcount: Path, fake: FakeOCI) -> None:
    assert jobctl("apply", str(wordcount)).exit_code == 0
    [app] = fake.applications()
    first = jobctl("run", "wordcount", "--arg", "first", "--wait")
    assert first.exit_code == 0, first.stderr
    going = jobctl("run", "wordcount", "--set", "configuration.spark.driverEnv.SLEEP=1")  # runs until canceled
    assert going.exit_code == 0, going.stderr
    [going_id] = going.stdout.split()
    runs = json.loads(jobctl("runs", "wordcount", "-o", "json").stdout)["items"]
    assert [(r["id"], r["jobId"]) for r in runs][:1] == [(going_id, app["id"])]  # newest first
    assert [r["lifecycleState"] in ("ACCEPTED", "IN_PROGRESS") for r in runs] == [True, False]
    assert runs[1]["lifecycleState"] == "SUCCEEDED"
    assert jobctl("logs", "--job", "wordcount").stdout == ""  # the latest: going, so no output yet

    got = jobctl("get", "wordcount")
    assert got.exit_code == 0, got.stderr
    assert got.stdout.startswith(f"Application: wordcount ({app['id']})\nManaged:     yes\n"
                                 f"Code:        PYTHON on Spark 3.5.0: {app['fileUri']}\n")
    assert '  numExecutors: 2\n' in got.stdout
    shown = json.loads(jobctl("get", "wordcount", "-o", "json").stdout)
    assert (shown["kind"], shown["id"], shown["definition"]["fileUri"]) == (
        "DataFlowApplication", app["id"], app["fileUri"])

    canceled = jobctl("cancel", "--job", "wordcount", "--wait")
    assert canceled.exit_code == 8, canceled.stderr  # --wait: the exit code of a canceled run
    assert fake.dataflow_run(going_id)["lifecycleState"] == "CANCELED"
    [done] = json.loads(jobctl("runs", "wordcount", "--state", "SUCCEEDED", "-o", "json").stdout)["items"]
    assert "args=--input oci://data@my-namespace/books.txt --min-count 2" not in jobctl("logs", done["id"]).stdout
    assert "args=first" in jobctl("logs", done["id"]).stdout  # --arg replaced the arguments


def test_a_name_that_is_neither_says_so_for_every_command(jobctl, fake: FakeOCI) -> None:
    for command in (("runs", "nothing"), ("logs", "--job", "nothing"), ("cancel", "--job", "nothing")):
        result = jobctl(*command)
        assert result.exit_code == 4, (command, result.stderr)
        assert ("no job named 'nothing', nor a Data Flow application in compartment ocid1.compartment.oc1..oci"
                in result.stderr), (command, result.stderr)
    assert "no job, application or run 'nothing'" in jobctl("get", "nothing").stderr


def test_a_workflow_fans_an_application_out_selects_the_best_run_and_passes_it_on(
        jobctl, wordcount: Path, fake: FakeOCI) -> None:
    """Issue 17: a step may run a Data Flow application (the client engine); its env reaches the driver as
    spark.driverEnv.*, and select reads the metric from the run's output once it has ended."""
    fake.create_bucket("ml-state", namespace="mytenancy")
    assert jobctl("apply", str(wordcount)).exit_code == 0
    flow = wordcount.parent / "flow.yaml"
    flow.write_text(
        "apiVersion: jobctl/v1\nkind: Workflow\nmetadata: {name: spark-flow}\nspec:\n"
        "  state: oci://ml-state@mytenancy/jobctl\n  steps:\n"
        "    - name: tune\n      job: wordcount\n      matrix: {SCORE: ['0.1', '0.9', '0.5']}\n"
        "      select: {metric: score, goal: max, from: logs, pattern: 'spark.driverEnv.SCORE=([0-9.]+)'}\n"
        "    - name: final\n      job: wordcount\n      needs: [tune]\n"
        "      env: {CHOSEN: '${{ steps.tune.best.env.SCORE }}'}\n")
    assert jobctl("validate", str(flow)).exit_code == 0
    ran = jobctl("workflow", "run", str(flow))
    assert ran.exit_code == 0, ran.stderr
    runs = fake.dataflow_runs()
    assert sorted(r["configuration"].get("spark.driverEnv.SCORE", "-") for r in runs) == ["-", "0.1", "0.5", "0.9"]
    [final] = [r for r in runs if "spark.driverEnv.CHOSEN" in r["configuration"]]
    assert final["configuration"]["spark.driverEnv.CHOSEN"] == "0.9"
    assert final["configuration"]["spark.executorEnv.CHOSEN"] == "0.9"


def test_the_pipeline_engine_refuses_an_application_step_at_validate(jobctl, wordcount: Path, fake: FakeOCI,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    flow = wordcount / "flow.yaml"
    flow.write_text("apiVersion: jobctl/v1\nkind: Workflow\nmetadata: {name: f}\nspec:\n  engine: pipeline\n"
                    "  state: oci://ml-state@mytenancy/jobctl\n  steps:\n    - {name: a, job: wordcount}\n")
    result = jobctl("validate", str(wordcount))
    assert result.exit_code == 3
    assert ("flow.yaml:8:22: spec.steps[0].job: 'wordcount' is a Data Flow application: its steps run on the "
            "client engine") in result.stderr
    # second red team: --engine client, and the local backend (where the client engine runs it), take it
    fake.create_bucket("ml-state", namespace="mytenancy")
    assert jobctl("apply", str(wordcount / "application.yaml")).exit_code == 0
    ran = jobctl("workflow", "run", str(flow), "--engine", "client")
    assert ran.exit_code == 0, ran.stderr
    monkeypatch.setenv("JOBCTL_BACKEND", "local")
    assert jobctl("validate", str(wordcount)).exit_code == 0


def test_an_application_made_in_the_console_is_exported_adopted_and_then_unchanged(
        jobctl, tmp_path: Path, fake: FakeOCI, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobctl.model.application import ApplicationDefinition
    from tests.contract.conftest import oci_backend

    made = ApplicationDefinition(
        name="console-app", display_name="Console App", compartment_id="ocid1.compartment.oc1..oci",
        language="PYTHON", driver_shape="VM.Standard2.1", executor_shape="VM.Standard2.1",
        file_uri="oci://code@mytenancy/hand/made.py", arguments=("--in", "${input}"),
        parameters={"input": "oci://data@mytenancy/x"},
        configuration={"spark.driverEnv.DB_PASSWORD": "console-secret-1", "spark.sql.shuffle.partitions": "8"})
    app_id = oci_backend(fake, tmp_path).dataflow.create(made, {"team": "ml"}, retry_token="console")
    assert json.loads(jobctl("applications", "-o", "json").stdout)["items"] == []  # jobctl's own only
    [console] = json.loads(jobctl("applications", "--all", "-o", "json").stdout)["items"]
    assert (console["id"], console["name"], console["managed"]) == (app_id, "Console App", False)
    exported = jobctl("export", app_id, "-d", str(tmp_path / "out"))
    assert exported.exit_code == 0, exported.stderr
    spec = tmp_path / "out" / "console-app" / "application.yaml"
    text = spec.read_text()
    assert oct(spec.stat().st_mode & 0o777) == "0o600"
    assert "console-secret-1" not in text + exported.stdout + exported.stderr
    assert "spark.driverEnv.DB_PASSWORD: ${DB_PASSWORD}" in text
    assert "fileUri: oci://code@mytenancy/hand/made.py" in text  # not jobctl's upload: the code stays there
    assert "- ${input}" in text  # OCI's placeholder, as it is

    monkeypatch.setenv("DB_PASSWORD", "console-secret-1")  # what the export asks for, set as the user would
    plan = jobctl("plan", str(spec), "--adopt")
    assert "~ application console-app" in plan.stdout, plan.stdout
    assert "adopt: from now on managed by jobctl" in plan.stdout
    assert jobctl("apply", str(spec), "--adopt").exit_code == 0
    [app] = fake.applications()
    assert (app["id"], app["freeformTags"]["jobctl-name"], app["freeformTags"]["team"]) == (
        app_id, "console-app", "ml")
    assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0


def test_an_application_jobctl_uploaded_exports_with_its_code_as_source(jobctl, wordcount: Path,
                                                                      tmp_path: Path) -> None:
    assert jobctl("apply", str(wordcount)).exit_code == 0
    assert jobctl("export", "wordcount", "-d", str(tmp_path / "out")).exit_code == 0
    folder = tmp_path / "out" / "wordcount"
    assert (folder / "wordcount.py").read_bytes() == (wordcount / "wordcount.py").read_bytes()
    text = (folder / "application.yaml").read_text()
    assert "source: ./wordcount.py" in text
    assert f"codeUri: {CODE}" in text
    assert "fileUri" not in text
    assert jobctl("validate", str(folder)).exit_code == 0


def test_secret_properties_and_parameters_a_run_prints_are_masked_in_its_log(jobctl, wordcount: Path) -> None:
    """Red team, issue 17: the fake's runs print their configuration; a new process's `logs` showed the secret
    ones in clear (it knows only the run, whose Data Flow record holds them)."""
    from tests.conftest import run_jobctl

    edit(wordcount, 'configuration: {spark.sql.shuffle.partitions: "4"}',
         'configuration: {spark.sql.shuffle.partitions: "4", spark.hadoop.fs.s3a.secret.key: conf-secret-55}')
    assert jobctl("apply", str(wordcount)).exit_code == 0
    ran = jobctl("run", "wordcount", "--set", "parameters.db_password=param-secret-44", "--wait")
    assert ran.exit_code == 0, ran.stderr
    logs = run_jobctl("logs", "--job", "wordcount")
    assert "spark.hadoop.fs.s3a.secret.key=(sensitive)" in logs.stdout, logs.stdout
    assert "conf-secret-55" not in logs.stdout + logs.stderr


def test_a_run_sets_the_fields_spec_md_says_a_run_may_set(jobctl, wordcount: Path, fake: FakeOCI) -> None:
    """Red team, issue 17: --set numExecutors=3 was refused, though spec.md says a run may set it."""
    assert jobctl("apply", str(wordcount)).exit_code == 0
    ran = jobctl("run", "wordcount", "--set", "numExecutors=3", "--set", "driverShapeConfig.ocpus=2",
                 "--set", "maxDurationInMinutes=5", "--set", "parameters.extra=1")
    assert ran.exit_code == 0, ran.stderr
    sent = fake.dataflow_run(ran.stdout.split()[0])
    assert (sent["numExecutors"], sent["driverShapeConfig"], sent["maxDurationInMinutes"]) == (
        3, {"ocpus": 2.0, "memoryInGBs": 16.0}, 5)  # a shape config goes whole
    assert fake.applications()[0]["numExecutors"] == 2  # the application stays as it is


def test_what_oci_would_refuse_in_a_run_is_a_usage_error_before_it_starts(jobctl, wordcount: Path,
                                                                         fake: FakeOCI) -> None:
    """Red team, issue 17: locally exit 2, on OCI exit 1 after a 400 (which reads as a FAILED run)."""
    assert jobctl("apply", str(wordcount)).exit_code == 0
    for given, said in (
            (("--arg", "${undefined}"), "the arguments use ${undefined}, which no parameter gives"),
            (("--set", "parameters.bad-name=x"), "--set parameters.bad-name: a parameter's name is letters"),
            (("--set", "numExecutors=many"), "--set numExecutors: expected a whole number, got 'many'"),
            (("--set", "language=SCALA"), "--set language: not a field a run can set"),
            (("--set", "arguments=[a]", "--arg", "b"), "with --arg or with --set arguments=[...], not both")):
        result = jobctl("run", "wordcount", *given)
        assert result.exit_code == 2, (given, result.stderr)
        assert said in result.stderr, (given, result.stderr)
    assert fake.dataflow_runs() == []


def test_validate_and_plan_know_an_applied_application_of_a_workflow_step(jobctl, wordcount: Path,
                                                                         tmp_path: Path) -> None:
    """Red team, issue 17: a pipeline-engine step naming an applied application validated; and validate passed a
    workflow naming an applied application or job that apply then refused."""
    assert jobctl("apply", str(wordcount)).exit_code == 0
    flow = tmp_path / "flow.yaml"
    flow.write_text("apiVersion: jobctl/v1\nkind: Workflow\nmetadata: {name: f}\nspec:\n"
                    "  state: oci://ml-state@mytenancy/jobctl\n  steps:\n    - {name: a, job: wordcount}\n")
    assert jobctl("validate", str(flow)).exit_code == 0
    assert jobctl("plan", str(flow)).exit_code == 0  # was: "no job or Data Flow application named 'wordcount'"
    flow.write_text(flow.read_text().replace("spec:\n", "spec:\n  engine: pipeline\n"))
    result = jobctl("validate", str(flow))
    assert result.exit_code == 3
    assert "spec.steps[0].job: 'wordcount' is a Data Flow application: its steps run on the client engine" in (
        result.stderr)


@pytest.mark.parametrize(("setting", "said"), [
    ("maxDurationInMinutes=-3", "maxDurationInMinutes"), ("numExecutors=0", "numExecutors"),
    ("driverShape=bogus", "driverShape"), ("archiveUri=notauri", "archiveUri"),
    ("driverShape=VM.Standard2.1", "a shape config is only for Flex shapes"),
    ("configuration.bad key=1", "configuration")])
def test_a_run_setting_that_makes_the_application_invalid_is_refused_before_it_starts(
        jobctl, wordcount: Path, fake: FakeOCI, setting: str, said: str) -> None:
    """Second red team, issue 17: these were sent to OCI as given (and one ran locally, clamped)."""
    assert jobctl("apply", str(wordcount)).exit_code == 0
    result = jobctl("run", "wordcount", "--set", setting)
    assert result.exit_code == 2, result.stderr
    assert "--set makes the run's application invalid: " in result.stderr
    assert said in result.stderr
    assert fake.dataflow_runs() == []


def test_plan_refresh_sees_a_change_made_in_the_console_and_an_unmanaged_namesake_is_warned_of(
        jobctl, wordcount: Path, fake: FakeOCI, tmp_path: Path) -> None:
    """Second red team, issue 17: --refresh said "No changes" after a console edit; apply without --adopt made
    a second application beside an unmanaged one of the same name, unsaid."""
    from jobctl.model.application import ApplicationDefinition
    from tests.contract.conftest import oci_backend

    assert jobctl("apply", str(wordcount)).exit_code == 0
    [app] = fake.applications()
    backend = oci_backend(fake, tmp_path)
    etag, held, current = backend.dataflow.read(app["id"])
    backend.dataflow.update(app["id"], replace(held, num_executors=7), held.tags, etag=etag, current=current)
    assert jobctl("plan", str(wordcount), "--detailed-exitcode").exit_code == 0  # by its spec hash: as applied
    refreshed = jobctl("plan", str(wordcount), "--refresh")
    assert "~ application wordcount" in refreshed.stdout, refreshed.stdout
    assert "changed outside jobctl since it was applied" in refreshed.stdout
    assert "~ numExecutors: 7 → 2" in refreshed.stdout
    assert jobctl("apply", str(wordcount), "--refresh").exit_code == 0
    assert fake.applications()[0]["numExecutors"] == 2

    other = ApplicationDefinition(name="lookalike", display_name="lookalike", compartment_id=app["compartmentId"],
                                  language="PYTHON", driver_shape="VM.Standard2.1", executor_shape="VM.Standard2.1",
                                  file_uri="oci://code@mytenancy/x.py")
    backend.dataflow.create(other, {}, retry_token="lookalike")
    edit(wordcount, "name: wordcount", "name: lookalike")
    plan = jobctl("plan", str(wordcount))
    assert "Warning: application lookalike: one named 'lookalike' exists that jobctl does not manage" in plan.stdout
    assert "apply makes another, --adopt takes it over" in plan.stdout


def test_an_idempotency_key_reattaches_to_its_dataflow_run_and_another_request_names_it(
        jobctl, wordcount: Path, fake: FakeOCI) -> None:
    """Issue 18 item 3 for Data Flow: CreateRun's retry token sent with another body is 409, which showed as a
    plain conflict; a reused key now names its run and what differs (names only), and starts nothing."""
    assert jobctl("apply", str(wordcount)).exit_code == 0
    base = ("run", "wordcount", "--idempotency-key", "k1", "--set", "parameters.input=/books.txt",
            "--env", "SEED=1", "--env", "API_TOKEN=first-secret-21")
    first = jobctl(*base)
    assert first.exit_code == 0, first.stderr
    [run_id] = first.stdout.split()
    again = jobctl(*base)
    assert (again.exit_code, again.stdout.split()) == (0, [run_id]), again.stderr
    assert f"re-attached to wordcount-k1 ({run_id}), " in again.stderr
    said = f"run wordcount-k1 ({run_id}) was started with this idempotency key from another request: its "
    assert_each_other_request_refused(jobctl, base, [
        (("API_TOKEN=first-secret-21", "API_TOKEN=other-secret-22"), "env API_TOKEN differs"),
        (("parameters.input=/books.txt", "parameters.input=/other.txt"), "parameters input differs"),
        (("k1", "k1", "--arg", "--input", "--arg", "${input}"), "args differ"),
        (("k1", "k1", "--set", "configuration.spark.sql.shuffle.partitions=8"),
         "configuration spark.sql.shuffle.partitions differs"),
        (("k1", "k1", "--set", "numExecutors=3"), "numExecutors differs"),
    ], said, "secret-2")
    assert [run["id"] for run in fake.dataflow_runs()] == [run_id]

    fanned = ("run", "wordcount", "--idempotency-key", "k2", "--set", "parameters.input=/books.txt",
              "--matrix", "MODEL=a,b")
    started = jobctl(*fanned)
    assert started.exit_code == 0, started.stderr
    names = {run["id"]: run["displayName"] for run in fake.dataflow_runs() if run["id"] != run_id}
    assert sorted(names.values()) == ["wordcount-k2-a", "wordcount-k2-b"]
    fake.clear_requests()
    reattached = jobctl(*fanned)
    assert (reattached.exit_code, sorted(reattached.stdout.split())) == (0, sorted(names)), reattached.stderr
    assert reattached.stderr.count("re-attached to wordcount-k2-") == 2
    # each key's run was looked up by its name, not by listing every run of the application
    assert sorted(q.get("displayName", "") for q in listed(fake, r"/runs$")) == ["wordcount-k2-a", "wordcount-k2-b"]
    assert len(fake.dataflow_runs()) == 3


def test_a_dataflow_run_and_application_are_named_by_run_name_and_id_prefix_on_oci(
        jobctl, wordcount: Path, fake: FakeOCI) -> None:
    """Red team, issue 18: on OCI a Data Flow run could be named only by its full OCID, an application only by
    its name or full OCID (docs/dataflow.md: as for jobs)."""
    assert jobctl("apply", str(wordcount)).exit_code == 0
    fake.auto_progress = False  # the run stays going, to be canceled by name
    started = jobctl("run", "wordcount", "--name", "wc-by-name", "--set", "parameters.input=/books.txt")
    assert started.exit_code == 0, started.stderr
    [run_id] = started.stdout.split()
    [app] = fake.applications()
    for ref in ("wc-by-name", run_id[:-3]):
        got = jobctl("get", ref, "-o", "json")
        assert got.exit_code == 0, (ref, got.stderr)
        assert json.loads(got.stdout)["id"] == run_id
    assert jobctl("cancel", "wc-by-name").exit_code == 0
    assert fake.dataflow_run(run_id)["lifecycleState"] in ("CANCELING", "CANCELED")
    shown = jobctl("get", app["id"][:-3], "-o", "json")
    assert (shown.exit_code, json.loads(shown.stdout)["id"]) == (0, app["id"])


def test_an_idempotency_key_finds_only_the_dataflow_runs_it_started(jobctl, wordcount: Path, fake: FakeOCI) -> None:
    """Red team finding 1 for Data Flow: keys that clean to one name ("a b", "a/b") shared a run, and a run
    given the key's name without the key was adopted by it. A keyed run keeps its application's tags."""
    from tests.cli.test_idempotency_keys import assert_a_run_of_the_key_s_name_is_not_adopted

    assert jobctl("apply", str(wordcount)).exit_code == 0
    base = ("run", "wordcount", "--set", "parameters.input=/books.txt")
    for key in ("a b", "a/b"):
        result = jobctl(*base, "--idempotency-key", key)
        assert result.exit_code == 0, result.stderr
        assert "re-attached" not in result.stderr
    runs = fake.dataflow_runs()
    assert len({run["displayName"] for run in runs}) == 2
    assert all(run["freeformTags"]["jobctl-name"] == "wordcount" and run["freeformTags"]["jobctl-run-key"]
               for run in runs)
    assert_a_run_of_the_key_s_name_is_not_adopted(jobctl, *base, owner="wordcount")
    assert len(fake.dataflow_runs()) == 3

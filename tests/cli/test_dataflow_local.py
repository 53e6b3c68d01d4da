"""Issue 17, done means 1: a PySpark word count validates, applies and runs on the local backend with real
Spark; its logs show the counts; exit codes mirror success and failure."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from tests.conftest import EXAMPLES, assert_each_other_request_refused, run_jobctl

WORDCOUNT = EXAMPLES / "wordcount"


def test_the_word_count_applies_runs_on_spark_and_logs_its_counts(jobctl, tmp_path: Path) -> None:
    specs = tmp_path / "wordcount"
    shutil.copytree(WORDCOUNT, specs)
    assert jobctl("validate", str(specs)).exit_code == 0
    plan = jobctl("plan", str(specs))
    assert "+ application wordcount" in plan.stdout, plan.stdout
    assert "PYTHON on Spark 3.5.0, 2 executor(s)" in plan.stdout
    applied = jobctl("apply", str(specs))
    assert applied.exit_code == 0, applied.stderr
    assert "application wordcount: created (app-" in applied.stderr
    same = jobctl("plan", str(specs), "--detailed-exitcode")
    assert (same.exit_code, same.stdout.strip()) == (0, "No changes. 0 job(s), 1 application(s) up to date.")

    ran = jobctl("run", "wordcount", "--set", f"parameters.input={specs / 'books.txt'}", "--env", "MODEL=rf", "--wait")
    assert ran.exit_code == 0, ran.stderr
    [run] = json.loads(jobctl("runs", "-o", "json").stdout)["items"]
    assert (run["lifecycleState"], run["exitCode"], run["env"]["MODEL"], run["jobName"]) == (
        "SUCCEEDED", 0, "rf", "wordcount")
    logs = jobctl("logs", run["id"])
    assert logs.stdout.splitlines()[:4] == ["it\t6", "of\t6", "the\t6", "was\t6"]
    assert "7 words seen at least 2 times" in logs.stdout
    assert " INFO " not in logs.stdout  # Spark's chatter stays out

    (specs / "application.yaml").write_text((specs / "application.yaml").read_text().replace(
        'numExecutors: 2', 'numExecutors: 1'))
    update = jobctl("plan", str(specs))
    assert "~ application wordcount" in update.stdout
    assert "~ numExecutors: 2 → 1" in update.stdout
    assert jobctl("apply", str(specs)).exit_code == 0


def test_a_failing_application_exits_as_its_run_failed(jobctl, tmp_path: Path) -> None:
    (tmp_path / "fails.py").write_text("import sys\nsys.exit(3)\n")
    (tmp_path / "app.yaml").write_text(
        "apiVersion: jobctl/v1\nkind: DataFlowApplication\nmetadata: {name: fails}\nspec:\n"
        "  language: PYTHON\n  driverShape: VM.Standard2.1\n  executorShape: VM.Standard2.1\n  source: ./fails.py\n")
    assert jobctl("apply", str(tmp_path / "app.yaml")).exit_code == 0
    ran = jobctl("run", "fails", "--matrix", "MODEL=a,b", "--wait")
    assert ran.exit_code == 1, ran.stderr
    runs = json.loads(jobctl("runs", "-o", "json").stdout)["items"]
    assert sorted((r["env"]["MODEL"], r["lifecycleState"], r["exitCode"]) for r in runs) == [
        ("a", "FAILED", 3), ("b", "FAILED", 3)]
    wrong = jobctl("run", "fails", "--set", "infrastructure.shape=VM.X")
    assert wrong.exit_code == 2
    assert "--set infrastructure.shape: not a field a run can set" in wrong.stderr
    assert "these can: driverShape, driverShapeConfig.ocpus," in wrong.stderr
    appended = jobctl("run", "fails", "--args-append", "x")
    assert appended.exit_code == 2
    assert "--args-append is for jobs" in appended.stderr


def test_changed_code_updates_the_application_in_place(jobctl, tmp_path: Path) -> None:
    """As on OCI, where changed code is a new fileUri, which UpdateApplication takes (decision 0015)."""
    (tmp_path / "app.py").write_text("print('one')\n")
    (tmp_path / "app.yaml").write_text(
        "apiVersion: jobctl/v1\nkind: DataFlowApplication\nmetadata: {name: code}\nspec:\n"
        "  language: PYTHON\n  driverShape: VM.Standard2.1\n  executorShape: VM.Standard2.1\n  source: ./app.py\n")
    assert jobctl("apply", str(tmp_path / "app.yaml")).exit_code == 0
    (tmp_path / "app.py").write_text("print('two')\n")
    plan = jobctl("plan", str(tmp_path / "app.yaml"))
    assert "~ application code" in plan.stdout, plan.stdout
    assert "~ artifact: " in plan.stdout
    assert jobctl("apply", str(tmp_path / "app.yaml")).exit_code == 0
    assert jobctl("run", "code", "--wait").exit_code == 0
    [run] = json.loads(jobctl("runs", "-o", "json").stdout)["items"]
    assert jobctl("logs", run["id"]).stdout == "two\n"


def test_run_name_starts_the_job_when_a_job_and_an_application_share_the_name(jobctl, tmp_path: Path) -> None:
    """Two sets may each hold one (validate keeps names unique only within a set): the job is what runs."""
    for kind, body in (("app", "kind: DataFlowApplication\nmetadata: {name: same}\nspec:\n  language: PYTHON\n"
                                "  driverShape: VM.Standard2.1\n  executorShape: VM.Standard2.1\n  source: ./a.py\n"),
                       ("job", "kind: Job\nmetadata: {name: same}\nspec:\n  infrastructure: {shape: VM.Standard2.1}\n"
                               "  runtime: {type: python, source: ./a.py}\n")):
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "a.py").write_text(f"print('{kind}')\n")
        (tmp_path / kind / "spec.yaml").write_text("apiVersion: jobctl/v1\n" + body)
        assert jobctl("apply", str(tmp_path / kind)).exit_code == 0
    assert jobctl("run", "same", "--wait").exit_code == 0
    [run] = json.loads(jobctl("runs", "-o", "json").stdout)["items"]
    assert jobctl("logs", run["id"]).stdout == "job\n"


def test_a_secret_in_the_spark_configuration_is_masked_in_plans(jobctl, tmp_path: Path) -> None:
    """Both sides of a change: the old value, which a new process reads only from the state, leaked before."""
    (tmp_path / "a.py").write_text("print(1)\n")
    spec = tmp_path / "app.yaml"
    spec.write_text("apiVersion: jobctl/v1\nkind: DataFlowApplication\nmetadata: {name: sec}\nspec:\n"
                    "  language: PYTHON\n  driverShape: VM.Standard2.1\n  executorShape: VM.Standard2.1\n"
                    "  source: ./a.py\n  configuration: {spark.driverEnv.DB_PASSWORD: first-secret}\n")
    assert jobctl("apply", str(spec)).exit_code == 0
    spec.write_text(spec.read_text().replace("first-secret", "second-secret"))
    for fmt in ("table", "json"):
        plan = run_jobctl("plan", str(spec), "-o", fmt)
        assert "configuration.spark.driverEnv.DB_PASSWORD" in plan.stdout, plan.stdout
        assert "first-secret" not in plan.stdout
        assert "second-secret" not in plan.stdout


def test_the_secret_maps_are_the_field_tables_secret_by_key_maps() -> None:
    from jobctl.model.application import ApplicationDefinition
    from jobctl.model.job import JobDefinition
    from jobctl.model.table import rows
    from jobctl.secrets import SECRET_MAPS

    maps = {f"{row.shown}." for table in (JobDefinition, ApplicationDefinition) for row in rows(table)
            if row.kind == "map" and row.secret_by_key}
    assert maps == set(SECRET_MAPS)


def test_prune_deletes_an_application_gone_from_its_set_and_only_from_its_set(jobctl, tmp_path: Path) -> None:
    specs, other = tmp_path / "specs", tmp_path / "other"
    for folder, name in ((specs, "gone"), (specs, "kept"), (other, "elsewhere")):
        folder.mkdir(exist_ok=True)
        (folder / "a.py").write_text("print(1)\n")
        (folder / f"{name}.yaml").write_text(
            f"apiVersion: jobctl/v1\nkind: DataFlowApplication\nmetadata: {{name: {name}}}\nspec:\n"
            "  language: PYTHON\n  driverShape: VM.Standard2.1\n  executorShape: VM.Standard2.1\n  source: ./a.py\n")
    assert jobctl("apply", str(specs)).exit_code == 0
    assert jobctl("apply", str(other)).exit_code == 0
    (specs / "gone.yaml").unlink()
    assert jobctl("plan", str(specs), "--detailed-exitcode").exit_code == 0  # without --prune: nothing to do
    plan = jobctl("plan", str(specs), "--prune")
    assert "  - application gone (app-" in plan.stdout, plan.stdout
    assert "no longer in the specs of its set (--prune)" in plan.stdout
    assert "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete." in plan.stdout
    unconfirmed = jobctl("apply", str(specs), "--prune")
    assert unconfirmed.exit_code == 2
    assert "refusing to replace or delete the applications above without confirmation" in unconfirmed.stderr
    applied = jobctl("apply", str(specs), "--prune", "--yes", "-o", "json")
    assert applied.exit_code == 0, applied.stderr
    assert [(a["name"], a["outcome"]) for a in json.loads(applied.stdout)["applied"]] == [("gone", "deleted")]
    assert jobctl("get", "gone").exit_code == 4
    assert jobctl("get", "elsewhere").exit_code == 0  # another set's: untouched
    assert jobctl("plan", str(specs), "--prune", "--detailed-exitcode").exit_code == 0


def test_secret_properties_and_parameters_are_masked_in_a_runs_log_and_reach_the_driver(
        jobctl, tmp_path: Path) -> None:
    """Red team, issue 17: a spec's spark.driverEnv.DB_PASSWORD did not reach the driver locally, and secret
    properties and parameters printed by the run showed in clear in `logs` (a new process knows only the run)."""
    (tmp_path / "show.py").write_text("import os, sys\nprint(os.environ['DB_PASSWORD'], sys.argv[1:])\n")
    spec = tmp_path / "app.yaml"
    spec.write_text("apiVersion: jobctl/v1\nkind: DataFlowApplication\nmetadata: {name: show}\nspec:\n"
                    "  language: PYTHON\n  driverShape: VM.Standard2.1\n  executorShape: VM.Standard2.1\n"
                    "  source: ./show.py\n  arguments: ['${api_token}', plain]\n"
                    "  parameters: {api_token: param-secret-77}\n"
                    "  configuration: {spark.driverEnv.DB_PASSWORD: conf-secret-66}\n")
    assert jobctl("apply", str(spec)).exit_code == 0
    ran = jobctl("run", "show", "--set", "configuration.spark.sql.shuffle.partitions=4", "--wait")
    assert ran.exit_code == 0, ran.stderr
    logs = run_jobctl("logs", "--job", "show")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == "(sensitive) ['(sensitive)', 'plain']\n"
    shown = run_jobctl("get", "show", "-o", "json")
    assert "param-secret-77" not in shown.stdout
    assert "conf-secret-66" not in shown.stdout
    # issue 18: `get RUN` shows the run's parameters and Spark properties (but the env's), secrets masked
    run_id = json.loads(run_jobctl("runs", "show", "-o", "json").stdout)["items"][0]["id"]
    got = json.loads(run_jobctl("get", run_id, "-o", "json").stdout)
    assert (got["parameters"], got["configuration"]) == (
        {"api_token": "(sensitive)"}, {"spark.sql.shuffle.partitions": "4"})
    table = run_jobctl("get", run_id).stdout.splitlines()
    shown_lines = [line for line in table if line.startswith(("Params:", "Config:"))]
    assert shown_lines == ["Params:    api_token=(sensitive)", "Config:    spark.sql.shuffle.partitions=4"]


def app_spec(folder: Path, name: str, code: str = "print(1)\n") -> Path:
    """An application `name` in `folder`, its source `name.py` (its own: two applications of one folder
    shared `a.py`, so the second's overwrote a first that was meant to keep running)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(code)
    spec = folder / f"{name}.yaml"
    spec.write_text(f"apiVersion: jobctl/v1\nkind: DataFlowApplication\nmetadata: {{name: {name}}}\nspec:\n"
                    "  language: PYTHON\n  driverShape: VM.Standard2.1\n  executorShape: VM.Standard2.1\n"
                    f"  source: ./{name}.py\n")
    return spec


def test_prune_keeps_an_application_whose_run_is_going_and_says_so(jobctl, tmp_path: Path) -> None:
    """Red team, issue 17: the delete failed midway with exit 5 (Data Flow refuses it while a run goes)."""
    spec = app_spec(tmp_path / "specs", "busy", "import time\ntime.sleep(120)\n")
    app_spec(tmp_path / "specs", "other")
    assert jobctl("apply", str(tmp_path / "specs")).exit_code == 0
    [run_id] = jobctl("run", "busy").stdout.split()
    spec.unlink()
    try:
        applied = jobctl("apply", str(tmp_path / "specs"), "--prune", "--yes")
        assert applied.exit_code == 0, applied.stderr
        assert "application busy (app-" in applied.stdout
        assert "has 1 run(s) going: kept; a later --prune deletes it once they end" in applied.stdout
        assert jobctl("get", "busy").exit_code == 0
    finally:
        assert jobctl("cancel", run_id, "--wait").exit_code == 8
    pruned = jobctl("apply", str(tmp_path / "specs"), "--prune", "--yes", "-o", "json")
    assert [(a["name"], a["outcome"]) for a in json.loads(pruned.stdout)["applied"]] == [("busy", "deleted")]


def test_a_plan_says_when_an_application_moves_between_sets_or_shares_a_jobs_name(jobctl, tmp_path: Path) -> None:
    """Red team, issue 17: a set move planned an update with no field and no reason; a job and an application
    of one name (from two sets) went unsaid."""
    app_spec(tmp_path / "first", "mover")
    assert jobctl("apply", str(tmp_path / "first")).exit_code == 0
    app_spec(tmp_path / "second", "mover")
    plan = jobctl("plan", str(tmp_path / "second"))
    assert "~ application mover (app-" in plan.stdout
    assert f"# moves to this set from set {tmp_path / 'first'}" in plan.stdout, plan.stdout

    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "a.py").write_text("print(1)\n")
    (tmp_path / "job" / "job.yaml").write_text(
        "apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: shared}\nspec:\n"
        "  infrastructure: {shape: VM.Standard2.1}\n  runtime: {type: python, source: ./a.py}\n")
    assert jobctl("apply", str(tmp_path / "job")).exit_code == 0
    app_spec(tmp_path / "app", "shared")
    plan = jobctl("plan", str(tmp_path / "app"))
    assert "Warning: application shared: a job of this name exists (job-" in plan.stdout, plan.stdout
    assert "`run shared` and other commands that take a name will mean the job" in plan.stdout


def test_applications_are_listed_and_deleted_by_name(jobctl, tmp_path: Path) -> None:
    """Red team, issue 17: nothing listed applications, and `delete NAME` said there was no such job."""
    first = app_spec(tmp_path / "specs", "lister")
    assert jobctl("apply", str(tmp_path / "specs")).exit_code == 0
    [listed] = json.loads(jobctl("applications", "-o", "json").stdout)["items"]
    assert (listed["name"], listed["managed"], listed["superseded"]) == ("lister", True, False)
    table = jobctl("applications")
    assert table.stdout.splitlines()[0].split() == ["NAME", "ID", "MANAGED", "CREATED"]
    assert table.stdout.splitlines()[1].startswith(f"lister  {listed['id']}  jobctl")
    assert jobctl("run", "lister", "--wait").exit_code == 0
    first.write_text(first.read_text().replace("language: PYTHON", "type: STREAMING\n  language: PYTHON"))
    assert jobctl("apply", str(tmp_path / "specs"), "--yes").exit_code == 0  # a replace: the old one kept
    assert len(json.loads(jobctl("applications", "--history", "-o", "json").stdout)["items"]) == 2
    unconfirmed = jobctl("delete", "lister")
    assert unconfirmed.exit_code == 2
    assert "refusing to delete 1 Data Flow application(s) and 1 earlier generation(s) (their runs stay)" in (
        unconfirmed.stderr)
    deleted = jobctl("delete", "lister", "--yes")
    assert deleted.exit_code == 0, deleted.stderr
    assert json.loads(jobctl("applications", "--history", "-o", "json").stdout)["items"] == []
    assert jobctl("delete", "lister", "--yes").exit_code == 4


def test_run_with_the_file_of_an_application_says_to_run_it_by_name(jobctl, tmp_path: Path) -> None:
    spec = app_spec(tmp_path, "byfile")
    result = jobctl("run", "-p", str(spec))
    assert result.exit_code == 2
    assert f"{spec} defines Data Flow applications, no job: run one by its name once applied" in result.stderr
    assert f"jobctl apply {spec} && jobctl run byfile" in result.stderr


def test_an_applications_source_obeys_the_rules_a_jobs_source_does(jobctl, tmp_path: Path) -> None:
    """Second red team, issue 17: a symlink to a private key, `.env.py` or `id_rsa.py` validated, and apply
    uploaded them."""
    outside = tmp_path / "outside" / "key.pem"
    outside.parent.mkdir()
    outside.write_text("-----BEGIN PRIVATE KEY-----\n")
    for name, said in (("steal.py", "is a symlink to"), (".env.py", "is a file jobctl never uploads"),
                       ("id_rsa.py", "is a file jobctl never uploads")):
        folder = tmp_path / name.strip(".")
        spec = app_spec(folder, "leak")
        (folder / "leak.py").unlink()
        if name == "steal.py":
            (folder / name).symlink_to(outside)
        else:
            (folder / name).write_text("print(1)\n")
        spec.write_text(spec.read_text().replace("./leak.py", f"./{name}"))
        result = jobctl("validate", str(spec))
        assert result.exit_code == 3, (name, result.stderr)
        assert f"spec.source: source {name!r} {said}" in result.stderr


def test_a_secret_value_copied_into_another_field_is_masked_by_get(jobctl, tmp_path: Path) -> None:
    """Second red team, issue 17: only the secret-named entry itself was masked."""
    spec = app_spec(tmp_path, "copies")
    spec.write_text(spec.read_text().replace("{name: copies}", "{name: copies, description: uses copied-secret-88}")
                    + "  arguments: [copied-secret-88]\n  parameters: {api_key: copied-secret-88}\n"
                    "  configuration: {spark.app.plain: copied-secret-88}\n")
    assert jobctl("apply", str(spec)).exit_code == 0
    for fmt in ("table", "json"):
        shown = run_jobctl("get", "copies", "-o", fmt)
        assert shown.returncode == 0, shown.stderr
        assert "copied-secret-88" not in shown.stdout


def test_a_workflow_step_of_an_application_with_an_unfilled_placeholder_stops_before_any_run(
        jobctl, tmp_path: Path) -> None:
    """Second red team, issue 17: the first step ran, then the second failed on ${nope}."""
    app_spec(tmp_path / "specs", "later")
    assert jobctl("apply", str(tmp_path / "specs")).exit_code == 0
    flow = tmp_path / "flow.yaml"
    flow.write_text("apiVersion: jobctl/v1\nkind: Workflow\nmetadata: {name: f}\nspec:\n  steps:\n"
                    "    - {name: first, job: later}\n"
                    "    - {name: second, job: later, needs: [first], args: ['--in', '$${nope}']}\n")
    result = jobctl("workflow", "run", str(flow))
    assert result.exit_code == 2, result.stderr
    assert "step second: its arguments use ${nope}, which no parameter of application 'later' gives" in result.stderr
    assert json.loads(jobctl("runs", "-o", "json").stdout)["items"] == []


def test_a_spark_runs_properties_file_is_gone_once_it_has_ended(jobctl, tmp_path: Path) -> None:
    """Second red team, issue 17: it kept the run's secret properties on disk after the run."""
    spec = app_spec(tmp_path, "tidy")
    spec.write_text(spec.read_text() + "  configuration: {spark.driverEnv.DB_PASSWORD: kept-secret-12}\n")
    assert jobctl("apply", str(spec)).exit_code == 0
    assert jobctl("run", "tidy", "--wait").exit_code == 0
    [run] = json.loads(jobctl("runs", "-o", "json").stdout)["items"]
    folder = Path(os.environ["JOBCTL_HOME"]) / "runs" / run["id"]
    assert folder.is_dir()
    assert not (folder / "spark.properties").exists()


def test_delete_force_cancels_an_applications_runs_first_and_ids_and_prefixes_name_it(jobctl, tmp_path: Path) -> None:
    """Second red team, issue 17: --force said "cancel them first"; an id prefix was not found."""
    app_spec(tmp_path, "busy", "import time\ntime.sleep(120)\n")
    assert jobctl("apply", str(tmp_path)).exit_code == 0
    [run_id] = jobctl("run", "busy").stdout.split()
    [listed] = json.loads(jobctl("applications", "-o", "json").stdout)["items"]
    assert jobctl("get", listed["id"][:10]).exit_code == 0  # a unique prefix of its id
    refused = jobctl("delete", "busy", "--yes")
    assert refused.exit_code == 5
    assert "has 1 run(s) going; Data Flow refuses to delete it" in refused.stderr
    forced = jobctl("delete", listed["id"][:10], "--force", "--yes")
    assert forced.exit_code == 0, forced.stderr
    assert f"deleted application busy ({listed['id']})" in forced.stderr
    assert json.loads(jobctl("get", run_id, "-o", "json").stdout)["lifecycleState"] == "CANCELED"


def test_prune_history_deletes_an_applications_earlier_generations_whose_runs_ended(jobctl, tmp_path: Path) -> None:
    """Second red team, issue 17: it said "No changes", as it does not for jobs."""
    spec = app_spec(tmp_path / "specs", "gens")
    assert jobctl("apply", str(tmp_path / "specs")).exit_code == 0
    assert jobctl("run", "gens", "--wait").exit_code == 0
    spec.write_text(spec.read_text().replace("language: PYTHON", "type: STREAMING\n  language: PYTHON"))
    assert jobctl("apply", str(tmp_path / "specs"), "--yes").exit_code == 0  # replaced: the old one kept
    [old] = [a for a in json.loads(jobctl("applications", "--history", "-o", "json").stdout)["items"]
             if a["superseded"]]
    assert jobctl("plan", str(tmp_path / "specs"), "--detailed-exitcode").exit_code == 0
    plan = jobctl("plan", str(tmp_path / "specs"), "--prune-history")
    assert f"- application gens ({old['id']})  # an earlier generation (kept for its runs)" in plan.stdout, plan.stdout
    assert jobctl("apply", str(tmp_path / "specs"), "--prune-history", "--yes").exit_code == 0
    assert [a["superseded"] for a in json.loads(jobctl("applications", "--history", "-o", "json").stdout)["items"]] == [
        False]


def test_an_idempotency_key_reattaches_to_its_application_run_and_another_request_starts_nothing(
        jobctl, tmp_path: Path) -> None:
    """Issue 18 item 3 for Data Flow: a reused key re-attached silently, also with other env, arguments,
    parameters, configuration or fields. One real Spark run: every later command finds it."""
    spec = app_spec(tmp_path, "keyed")
    spec.write_text(spec.read_text() + "  arguments: ['${size}']\n  parameters: {size: '1'}\n")
    assert jobctl("apply", str(spec)).exit_code == 0
    base = ("run", "keyed", "--idempotency-key", "k1", "--env", "SEED=1", "--env", "DB_PASSWORD=first-secret-31",
            "--set", "parameters.api_token=token-secret-32")  # each differs below, one at a time
    first = jobctl(*base, "--wait")
    assert first.exit_code == 0, first.stderr
    [run_id] = [run["id"] for run in json.loads(jobctl("runs", "-o", "json").stdout)["items"]]
    again = jobctl(*base)
    assert (again.exit_code, again.stdout.split()) == (0, [run_id]), again.stderr
    assert f"re-attached to keyed-k1 ({run_id}), SUCCEEDED" in again.stderr
    assert "started" not in again.stderr.replace("started before", "")
    assert jobctl(*base, "--wait").exit_code == 0  # as the run ended
    said = f"run keyed-k1 ({run_id}) was started with this idempotency key from another request: its "
    assert_each_other_request_refused(jobctl, base, [
        (("SEED=1", "SEED=2"), "env SEED differs"),
        (("DB_PASSWORD=first-secret-31", "DB_PASSWORD=other-secret-33"), "env DB_PASSWORD differs"),
        (("parameters.api_token=token-secret-32", "parameters.api_token=other-secret-34"),
         "parameters api_token differs"),
        (("k1", "k1", "--arg", "2"), "args differ"),
        (("k1", "k1", "--set", "parameters.size=2"), "parameters size differs"),
        (("k1", "k1", "--set", "configuration.spark.app.extra=1"), "configuration spark.app.extra differs"),
        (("k1", "k1", "--set", "numExecutors=2"), "numExecutors differs"),
    ], said, "secret-3")
    assert [run["id"] for run in json.loads(jobctl("runs", "-o", "json").stdout)["items"]] == [run_id]

"""The whole job lifecycle on the local backend, as a user drives it: plan, apply, run, logs, wait, cancel, delete.

Most commands run in-process (CliRunner) for speed; the session, the concurrency and the crash tests use
real `python -m jobctl` processes. Every run is a real supervisor process with a real workload.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from click.testing import CliRunner

from jobctl.backends.local import procs
from jobctl.cli.app import cli
from tests.conftest import Result, run_jobctl

Run = Callable[..., Result]
T = TypeVar("T")

# A workload that shows what it was given and can fail, sleep, chatter on stderr and write many lines.
WORKLOAD = r'''
import os
import sys
import time

print(f"pid={os.getpid()}")
print(f"MODEL={os.environ.get('MODEL', '')}")
print(f"args={sys.argv[1:]}")
for name in ("JOBCTL_RUN_ID", "JOBCTL_JOB_NAME", "JOB_RUN_OCID", "JOB_RUN_ENTRYPOINT"):
    print(f"{name}={os.environ.get(name, '')}")
for i in range(int(os.environ.get("ERR_LINES", "0"))):
    print(f"oops {i}", file=sys.stderr)
if os.environ.get("GO_FILE"):  # hold on until the test says go (bounded, never hangs)
    deadline = time.monotonic() + 30
    while not os.path.exists(os.environ["GO_FILE"]) and time.monotonic() < deadline:
        time.sleep(0.01)
for i in range(int(os.environ.get("LINES", "0"))):
    print(f"line {i:04d}")
if os.environ.get("ESCAPES"):
    print("\x1b[31mred\x1b[0m \x1b]0;title\x07done")
print("last line", flush=True)
time.sleep(float(os.environ.get("SLEEP", "0")))
sys.exit(int(os.environ.get("EXIT", "0")))
'''

ACTIVE = ("ACCEPTED", "IN_PROGRESS", "NEEDS_ATTENTION", "CANCELING")
SUMMARY_CREATE = "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete."


# --- helpers -----------------------------------------------------------------------------------------

def job_doc(
    name: str = "demo", *, description: str = "a", env: dict[str, str] | None = None,
    args: Sequence[str] = ("--x", "1"), max_runtime: int | None = None,
) -> dict[str, Any]:
    runtime: dict[str, Any] = {
        "type": "python", "source": "./workload.py", "entrypoint": "workload.py",
        "env": {"MODEL": "base"} if env is None else env, "args": list(args),
    }
    if max_runtime is not None:
        runtime["maxRuntimeInMinutes"] = max_runtime
    return {
        "apiVersion": "jobctl/v1", "kind": "Job",
        "metadata": {"name": name, "description": description},
        "spec": {
            "infrastructure": {"shape": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGBs": 16},
            "runtime": runtime,
        },
    }


def write_spec(directory: Path, *docs: dict[str, Any], filename: str = "job.yaml") -> Path:
    """Write the workload and a spec file holding `docs` (default: one job `demo`)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "workload.py").write_text(WORKLOAD, encoding="utf-8")
    path = directory / filename
    path.write_text(yaml.safe_dump_all(list(docs or [job_doc()]), sort_keys=False), encoding="utf-8")
    return path


def until(predicate: Callable[[], T], timeout: float = 15.0, what: str = "condition") -> T:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def get_run(jobctl: Run, run_id: str) -> dict[str, Any]:
    data: dict[str, Any] = as_json(jobctl("get", run_id, "-o", "json"))
    return data


def runs_of(jobctl: Run, job: str | None = None) -> list[dict[str, Any]]:
    args = ["runs", *([job] if job else []), "--limit", "1000", "-o", "json"]
    items: list[dict[str, Any]] = as_json(jobctl(*args))["items"]
    return items


def jobs_list(jobctl: Run, *args: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = as_json(jobctl("-o", "json", "jobs", *args))["items"]
    return items


def start(jobctl: Run, *args: str) -> str:
    """`jobctl run ARGS` without waiting: the run id is the one line on stdout."""
    out = ok(jobctl("run", *args)).stdout.split()
    assert len(out) == 1, out
    assert out[0].startswith("run-")
    return out[0]


def in_state(jobctl: Run, run_id: str, *states: str) -> dict[str, Any] | None:
    run = get_run(jobctl, run_id)
    return run if run["lifecycleState"] in states else None


def logged(jobctl: Run, run_id: str, text: str) -> bool:
    return text in jobctl("logs", run_id).stdout


def applied(jobctl: Run, spec: Path | str, *extra: str) -> Result:
    return ok(jobctl("apply", str(spec), *extra))


def db_rows(home: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "state.db") as db:
        return list(db.execute(sql, params).fetchall())


@pytest.fixture(autouse=True)
def cancel_leftover_runs() -> Iterator[None]:
    """A failing test must not leave sleeping workloads behind."""
    yield
    runner = CliRunner()
    listed = runner.invoke(cli, ["runs", "--limit", "1000", "-o", "json", *[f"--state={s}" for s in ACTIVE]])
    if listed.exit_code == 0:
        ids = [r["id"] for r in json.loads(listed.stdout)["items"]]
        if ids:
            runner.invoke(cli, ["cancel", *ids, "--wait", "--timeout", "20s"])


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    return write_spec(tmp_path / "specs")


@pytest.fixture
def demo(jobctl: Run, spec: Path) -> Path:
    """The `demo` job, applied."""
    applied(jobctl, spec)
    return spec


# --- plan and apply ------------------------------------------------------------------------------------

def test_apply_creates_the_job_and_prints_the_plan(jobctl: Run, spec: Path) -> None:
    result = applied(jobctl, spec)
    assert "+ job demo" in result.stdout
    assert SUMMARY_CREATE in result.stdout
    jobs = jobs_list(jobctl)
    assert [(j["name"], j["managed"]) for j in jobs] == [("demo", True)]
    assert jobs[0]["id"].startswith("job-")


def test_second_apply_says_no_changes_and_writes_nothing(jobctl: Run, isolated_env: Path, spec: Path) -> None:
    applied(jobctl, spec)
    jobs_before = jobs_list(jobctl)
    job_before = as_json(jobctl("-o", "json", "get", "demo"))
    etag_before = db_rows(isolated_env, "SELECT id, etag FROM jobs")

    again = applied(jobctl, spec)

    assert "No changes" in again.stdout
    assert "to create" not in again.stdout
    assert jobs_list(jobctl) == jobs_before
    assert as_json(jobctl("-o", "json", "get", "demo")) == job_before
    assert db_rows(isolated_env, "SELECT id, etag FROM jobs") == etag_before


def test_plan_shows_an_in_place_update_and_apply_keeps_the_job(jobctl: Run, tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "specs", job_doc(description="a"))
    applied(jobctl, spec)
    job_id = jobs_list(jobctl)[0]["id"]
    write_spec(tmp_path / "specs", job_doc(description="b"))

    plan = ok(jobctl("plan", str(spec)))
    assert f"~ job demo ({job_id})" in plan.stdout
    assert '~ description: "a" → "b"' in plan.stdout
    assert "forces replacement" not in plan.stdout
    assert "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete." in plan.stdout

    applied(jobctl, spec)  # an update is not destructive: no --yes needed
    assert [j["id"] for j in jobs_list(jobctl)] == [job_id]
    assert as_json(jobctl("-o", "json", "get", "demo"))["definition"]["description"] == "b"
    assert "No changes" in ok(jobctl("plan", str(spec))).stdout


def test_env_change_replaces_the_job_and_needs_confirmation(jobctl: Run, tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "specs", job_doc(env={"MODEL": "base"}))
    applied(jobctl, spec)
    before = jobs_list(jobctl)
    write_spec(tmp_path / "specs", job_doc(env={"MODEL": "rf"}))

    plan = ok(jobctl("plan", str(spec)))
    assert f"-/+ job demo ({before[0]['id']})" in plan.stdout
    line = next(ln for ln in plan.stdout.splitlines() if "~ runtime.env.MODEL:" in ln)
    assert "runtime.env.MODEL" in plan.stdout.splitlines()[0]  # the reason names the field
    assert '"base" → "rf"' in line
    assert "forces replacement" in line
    assert "Plan: 0 to create, 0 to update, 1 to replace, 0 to delete." in plan.stdout

    refused = jobctl("apply", str(spec))  # stdin is not a terminal
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr
    assert jobs_list(jobctl) == before

    applied(jobctl, spec, "--yes")
    after = jobs_list(jobctl)
    assert len(after) == 1
    assert after[0]["id"] != before[0]["id"]
    assert as_json(jobctl("-o", "json", "get", "demo"))["definition"]["runtime"]["env"] == {"MODEL": "rf"}


def test_replace_keeps_the_old_job_with_its_runs_and_the_name_spans_both(jobctl: Run, tmp_path: Path) -> None:
    """Issue 14 rule 4: a replace deleted the old job and its run history; `cancel --job` then said
    "no active runs" while the old job's run went on."""
    spec = write_spec(tmp_path / "specs", job_doc(env={"MODEL": "base"}))
    applied(jobctl, spec)
    old_id = jobs_list(jobctl)[0]["id"]
    done = start(jobctl, "demo")
    ok(jobctl("wait", done))
    busy = start(jobctl, "demo", "--env", "SLEEP=30")
    until(lambda: in_state(jobctl, busy, "IN_PROGRESS"), what="the run to start")

    write_spec(tmp_path / "specs", job_doc(env={"MODEL": "rf"}))
    plan = ok(jobctl("plan", str(spec))).stdout
    assert "the old job stays with its runs while it has any" in plan
    applied(jobctl, spec, "--yes")

    assert get_run(jobctl, busy)["lifecycleState"] == "IN_PROGRESS"
    jobs = {j["id"]: j["superseded"] for j in jobs_list(jobctl, "--history")}
    assert jobs.pop(old_id) is True
    [(new_id, superseded)] = jobs.items()
    assert superseded is False
    assert [j["id"] for j in jobs_list(jobctl)] == [new_id]  # one job per name unless --history
    table = ok(jobctl("jobs"))
    assert old_id not in table.stdout
    assert "1 earlier generation(s) not shown; --history lists them" in table.stderr
    rows = [line.split()[:5] for line in ok(jobctl("jobs", "--history")).stdout.splitlines()]
    assert ["demo", old_id, "ACTIVE", "jobctl", "(superseded)"] in rows
    assert as_json(jobctl("-o", "json", "get", "demo"))["id"] == new_id  # the name means the current job
    fresh = start(jobctl, "demo")
    ok(jobctl("wait", fresh))
    listed = [r["id"] for r in as_json(jobctl("-o", "json", "runs", "demo"))["items"]]
    assert listed == [fresh, busy, done]  # every generation's runs, newest first
    assert ok(jobctl("logs", "--job", "demo")).stdout == ok(jobctl("logs", fresh)).stdout

    canceled = jobctl("-o", "json", "cancel", "--job", "demo", "--wait")
    assert canceled.exit_code == 8, canceled.stderr
    assert [r["id"] for r in json.loads(canceled.stdout)["items"]] == [busy]
    assert "No changes" in ok(jobctl("plan", str(spec))).stdout  # history is kept: nothing to do

    plan = ok(jobctl("plan", str(spec), "--prune-history")).stdout
    assert f"- job demo ({old_id})  # a superseded generation (--prune-history); deletes its 2 run(s)" in plan
    refused = jobctl("apply", str(spec), "--prune-history")  # deleting history needs confirmation
    assert refused.exit_code == 2
    applied(jobctl, spec, "--prune-history", "--yes")
    assert [j["id"] for j in jobs_list(jobctl)] == [new_id]
    assert [r["id"] for r in as_json(jobctl("-o", "json", "runs", "demo"))["items"]] == [fresh]


def test_an_apply_of_many_jobs_of_one_source_creates_them_all(jobctl: Run, tmp_path: Path) -> None:
    """apply changes jobs in parallel; jobs of one source once raced to store their shared artifact
    through one temporary file (exit 6, 'No such file or directory')."""
    names = [f"job-{i:02d}" for i in range(16)]
    spec = write_spec(tmp_path / "specs", *(job_doc(name) for name in names))
    result = applied(jobctl, spec)
    assert [line.split(":")[0] for line in result.stderr.splitlines()[:16]] == names  # reported in plan order
    assert sorted(j["name"] for j in jobs_list(jobctl)) == names
    assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0


def test_detailed_exitcode_is_2_with_pending_changes_and_0_without(jobctl: Run, tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "specs", job_doc(description="a"))
    assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 2
    assert jobctl("plan", str(spec)).exit_code == 0
    applied(jobctl, spec)
    assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0
    write_spec(tmp_path / "specs", job_doc(description="b"))
    assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 2


def test_prune_deletes_a_managed_job_removed_from_the_specs(jobctl: Run, tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    write_spec(specs, job_doc("alpha"), filename="alpha.yaml")
    write_spec(specs, job_doc("beta"), filename="beta.yaml")
    applied(jobctl, specs)
    ids = {j["name"]: j["id"] for j in jobs_list(jobctl)}
    assert set(ids) == {"alpha", "beta"}
    (specs / "beta.yaml").unlink()

    assert "No changes" in ok(jobctl("plan", str(specs))).stdout  # without --prune, beta is left alone
    plan = ok(jobctl("plan", str(specs), "--prune"))
    assert f"- job beta ({ids['beta']})" in plan.stdout
    assert "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete." in plan.stdout

    refused = jobctl("apply", str(specs), "--prune")
    assert refused.exit_code == 2
    assert {j["name"] for j in jobs_list(jobctl)} == {"alpha", "beta"}

    applied(jobctl, specs, "--prune", "--yes")
    assert {j["name"]: j["id"] for j in jobs_list(jobctl)} == {"alpha": ids["alpha"]}


def test_prune_of_a_job_with_an_active_run_says_it_keeps_the_job_and_does(jobctl: Run, tmp_path: Path) -> None:
    """Red team (issue 14): plan said "deletes its 1 run(s)"; apply then kept the job, superseded."""
    specs = tmp_path / "specs"
    write_spec(specs, job_doc("alpha"), filename="alpha.yaml")
    write_spec(specs, job_doc("beta"), filename="beta.yaml")
    applied(jobctl, specs)
    busy = start(jobctl, "beta", "--env", "SLEEP=30")
    until(lambda: in_state(jobctl, busy, "IN_PROGRESS"), what="the run to start")
    (specs / "beta.yaml").unlink()

    plan = ok(jobctl("plan", str(specs), "--prune")).stdout
    assert "it has 1 active run(s): kept, superseded, until they end (a run is never killed)" in plan
    assert "deletes its" not in plan
    [change] = as_json(jobctl("-o", "json", "plan", str(specs), "--prune"))["changes"]
    assert (change["runsDeleted"], change["activeRuns"]) == (0, 1)
    assert "beta: superseded" in ok(jobctl("apply", str(specs), "--prune", "--yes")).stderr
    assert get_run(jobctl, busy)["lifecycleState"] == "IN_PROGRESS"
    assert [j["name"] for j in jobs_list(jobctl)] == ["alpha"]
    assert jobctl("cancel", busy, "--wait").exit_code == 8


SECRET_ENV = {"MODEL": "base", "API_TOKEN": "tok-abc123-visible", "DB_PASSWORD": "pw-hunter2-visible"}


def test_secret_env_values_are_masked_unless_show_secrets(jobctl: Run, tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "specs", job_doc(env=SECRET_ENV))
    secrets = ("tok-abc123-visible", "pw-hunter2-visible")

    plan = ok(jobctl("plan", str(spec)))
    assert "API_TOKEN=(sensitive)" in plan.stdout
    assert "DB_PASSWORD=(sensitive)" in plan.stdout
    assert "MODEL=base" in plan.stdout
    shown = ok(jobctl("plan", str(spec), "--show-secrets")).stdout
    assert all(s in shown for s in secrets)

    apply = applied(jobctl, spec)
    env = as_json(jobctl("-o", "json", "get", "demo"))["definition"]["runtime"]["env"]
    assert env == {"MODEL": "base", "API_TOKEN": "(sensitive)", "DB_PASSWORD": "(sensitive)"}

    write_spec(tmp_path / "specs", job_doc(env={**SECRET_ENV, "API_TOKEN": "tok-new-visible"}))
    replace_plan = ok(jobctl("plan", str(spec)))
    token_line = next(ln for ln in replace_plan.stdout.splitlines() if "~ runtime.env.API_TOKEN:" in ln)
    assert "forces replacement" in token_line
    plan_json = ok(jobctl("plan", str(spec), "-o", "json")).stdout
    fields = json.loads(plan_json)["changes"][0]["fields"]
    assert {"field": "runtime.env.API_TOKEN", "old": "(sensitive)", "new": "(sensitive)", "forcesReplace": True} \
        in fields

    texts = [plan.stdout, plan.stderr, apply.stdout, apply.stderr, replace_plan.stdout, plan_json,
             jobctl("get", "demo").stdout, jobctl("-o", "json", "jobs").stdout]
    for text in texts:
        for secret in (*secrets, "tok-new-visible"):
            assert secret not in text
    unmasked = ok(jobctl("plan", str(spec), "-o", "json", "--show-secrets")).stdout
    assert "tok-new-visible" in unmasked


# --- runs ----------------------------------------------------------------------------------------------

def test_run_with_env_override_waits_and_logs_show_it(jobctl: Run, demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = jobctl("run", "demo", "--env", "MODEL=xgb", "--wait")
    assert result.exit_code == 0, result.stderr
    assert "SUCCEEDED" in result.stderr
    monkeypatch.chdir(demo.parent)  # `logs` with no RUN: the latest run of the job in ./job.yaml
    logs = ok(jobctl("logs"))
    assert "MODEL=xgb" in logs.stdout.splitlines()


def test_arg_replaces_and_args_append_appends(jobctl: Run, demo: Path) -> None:
    ok(jobctl("run", "demo", "--arg=--y", "--arg", "2", "--wait"))
    replaced = runs_of(jobctl, "demo")[0]
    assert replaced["args"] == ["--y", "2"]
    assert "args=['--y', '2']" in ok(jobctl("logs", replaced["id"])).stdout

    ok(jobctl("run", "demo", "--args-append", "--z", "--wait"))
    appended = runs_of(jobctl, "demo")[0]
    assert appended["args"] == ["--x", "1", "--z"]
    assert "args=['--x', '1', '--z']" in ok(jobctl("logs", appended["id"])).stdout

    ok(jobctl("run", "demo", "--wait"))
    assert "args=['--x', '1']" in ok(jobctl("logs", runs_of(jobctl, "demo")[0]["id"])).stdout


def test_a_run_can_be_named_and_found_by_its_name(jobctl: Run, demo: Path) -> None:
    ok(jobctl("run", "demo", "--name", "nightly", "--wait"))
    run = get_run(jobctl, "nightly")
    assert (run["name"], run["jobName"], run["lifecycleState"]) == ("nightly", "demo", "SUCCEEDED")
    assert "last line" in ok(jobctl("logs", "nightly")).stdout
    assert jobctl("wait", "nightly").exit_code == 0


def test_a_failing_run_exits_1_and_records_its_exit_code(jobctl: Run, demo: Path) -> None:
    result = jobctl("run", "demo", "--env", "EXIT=3", "--wait")
    assert result.exit_code == 1
    assert "FAILED" in result.stderr
    run = get_run(jobctl, runs_of(jobctl, "demo")[0]["id"])
    assert run["lifecycleState"] == "FAILED"
    assert run["exitCode"] == 3
    assert jobctl("wait", run["id"]).exit_code == 1
    assert jobctl("logs", run["id"], "--follow").exit_code == 1


def test_follow_prints_every_line_once_in_order_and_exits_with_the_run(jobctl: Run, demo: Path) -> None:
    result = jobctl("run", "demo", "--env", "LINES=300", "--env", "EXIT=3", "--follow")
    assert result.exit_code == 1
    numbered = [ln for ln in result.stdout.splitlines() if ln.startswith("line ")]
    assert numbered == [f"line {i:04d}" for i in range(300)]
    assert result.stdout.splitlines()[-1] == "last line"
    assert "FAILED" in result.stderr

    again = jobctl("run", "demo", "--follow")
    assert again.exit_code == 0
    assert "MODEL=base" in again.stdout.splitlines()


def test_jsonl_follow_streams_log_and_state_events(jobctl: Run, demo: Path) -> None:
    result = jobctl("run", "demo", "--env", "MODEL=rf", "-o", "jsonl", "--follow")
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert {e["type"] for e in events} == {"log", "state"}
    logs = [e for e in events if e["type"] == "log"]
    assert "MODEL=rf" in [e["text"] for e in logs]
    assert all(e["stream"] == "stdout" and e["runId"].startswith("run-") for e in logs)
    states = [e for e in events if e["type"] == "state"]
    assert states[-1]["lifecycleState"] == "SUCCEEDED"
    assert states[-1]["exitCode"] == 0


def test_cancel_wait_exits_8_and_the_run_ends_canceled(jobctl: Run, demo: Path) -> None:
    run_id = start(jobctl, "demo", "--env", "SLEEP=30")
    until(lambda: in_state(jobctl, run_id, "IN_PROGRESS"), what="the run to start")
    result = jobctl("cancel", run_id, "--wait")
    assert result.exit_code == 8
    assert get_run(jobctl, run_id)["lifecycleState"] == "CANCELED"
    assert jobctl("wait", run_id).exit_code == 8


def test_cancel_job_cancels_all_its_active_runs(jobctl: Run, demo: Path) -> None:
    first = start(jobctl, "demo", "--env", "SLEEP=30")
    second = start(jobctl, "demo", "--env", "SLEEP=30")
    for run_id in (first, second):
        until(lambda r=run_id: in_state(jobctl, r, "IN_PROGRESS"), what="the runs to start")
    result = jobctl("cancel", "--job", "demo", "--wait")
    assert result.exit_code == 8
    assert {get_run(jobctl, r)["lifecycleState"] for r in (first, second)} == {"CANCELED"}


def test_cancel_right_after_start_ends_canceled(jobctl: Run, demo: Path) -> None:
    """A CI step that starts a run and cancels it at once must see CANCELED, not a lost runner."""
    run_id = start(jobctl, "demo", "--env", "SLEEP=30")
    result = jobctl("cancel", run_id, "--wait", "--timeout", "20s")
    run = get_run(jobctl, run_id)
    assert run["lifecycleState"] == "CANCELED", run["details"]
    assert result.exit_code == 8


def test_wait_timeout_exits_7_and_the_run_goes_on(jobctl: Run, demo: Path) -> None:
    run_id = start(jobctl, "demo", "--env", "SLEEP=30")
    until(lambda: in_state(jobctl, run_id, "IN_PROGRESS"), what="the run to start")
    result = jobctl("wait", run_id, "--timeout", "1s")
    assert result.exit_code == 7
    assert "timed out" in result.stderr
    assert get_run(jobctl, run_id)["lifecycleState"] == "IN_PROGRESS"
    assert jobctl("cancel", run_id, "--wait").exit_code == 8


def test_run_wait_timeout_exits_7(jobctl: Run, demo: Path) -> None:
    result = jobctl("run", "demo", "--env", "SLEEP=30", "--wait", "--timeout", "1s")
    assert result.exit_code == 7
    assert runs_of(jobctl, "demo")[0]["lifecycleState"] in ("ACCEPTED", "IN_PROGRESS")


def test_matrix_starts_one_run_per_value_and_all_succeed(jobctl: Run, demo: Path) -> None:
    result = jobctl("run", "demo", "--matrix", "MODEL=xgb,rf,lgbm", "--wait")
    assert result.exit_code == 0, result.stderr
    runs = runs_of(jobctl, "demo")
    assert len(runs) == 3
    assert {r["lifecycleState"] for r in runs} == {"SUCCEEDED"}
    assert sorted(r["env"]["MODEL"] for r in runs) == ["lgbm", "rf", "xgb"]
    for run in runs:
        assert f"MODEL={run['env']['MODEL']}" in ok(jobctl("logs", run["id"])).stdout
        assert run["id"] in result.stdout  # the summary table names every run


def test_matrix_with_one_failing_value_exits_1(jobctl: Run, demo: Path) -> None:
    result = jobctl("run", "demo", "--matrix", "EXIT=0,3", "--wait")
    assert result.exit_code == 1
    states = {r["env"]["EXIT"]: r["lifecycleState"] for r in runs_of(jobctl, "demo")}
    assert states == {"0": "SUCCEEDED", "3": "FAILED"}
    failed = as_json(jobctl("runs", "demo", "--state", "FAILED", "-o", "json"))["items"]
    assert [r["env"]["EXIT"] for r in failed] == ["3"]


def test_matrix_follow_prefixes_each_line_with_its_run(jobctl: Run, demo: Path) -> None:
    result = jobctl("run", "demo", "--matrix", "MODEL=xgb,rf", "--follow")
    assert result.exit_code == 0, result.stderr
    names = {r["env"]["MODEL"]: r["name"] for r in runs_of(jobctl, "demo")}
    lines = result.stdout.splitlines()
    for model, name in names.items():
        assert lines.count(f"[{name}] MODEL={model}") == 1
        assert lines.count(f"[{name}] last line") == 1


def test_idempotency_key_attaches_to_the_run_already_started(jobctl: Run, demo: Path) -> None:
    first = start(jobctl, "demo", "--idempotency-key", "ci-42")
    second = start(jobctl, "demo", "--idempotency-key", "ci-42")
    assert first == second
    assert [r["id"] for r in runs_of(jobctl, "demo")] == [first]
    other = start(jobctl, "demo", "--idempotency-key", "ci-43")
    assert other != first


def test_run_of_a_job_not_applied_exits_4_with_a_hint(jobctl: Run, spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    by_name = jobctl("run", "demo")
    assert by_name.exit_code == 4
    assert "jobctl apply" in by_name.stderr
    by_file = jobctl("run", "-p", str(spec))
    assert by_file.exit_code == 4
    assert "jobctl apply" in by_file.stderr
    monkeypatch.chdir(spec.parent)
    from_cwd = jobctl("run")
    assert from_cwd.exit_code == 4
    assert "jobctl apply" in from_cwd.stderr
    assert runs_of(jobctl) == []


def test_run_without_job_uses_the_job_in_cwd_job_yaml(jobctl: Run, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    specs = tmp_path / "specs"
    write_spec(specs, job_doc("other"), filename="other.yaml")
    applied(jobctl, specs / "other.yaml")
    spec = write_spec(specs, job_doc("demo"))
    applied(jobctl, spec)
    monkeypatch.chdir(specs)
    ok(jobctl("run", "--wait"))
    assert len(runs_of(jobctl, "demo")) == 1
    assert runs_of(jobctl, "other") == []
    assert "JOBCTL_JOB_NAME=demo" in ok(jobctl("logs")).stdout

    ok(jobctl("run", "-p", "other.yaml", "--wait"))  # -p names the spec instead
    assert len(runs_of(jobctl, "other")) == 1


def test_run_without_job_when_job_yaml_has_two_jobs_is_a_usage_error(jobctl: Run, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spec = write_spec(tmp_path / "specs", job_doc("alpha"), job_doc("beta"))
    applied(jobctl, spec)
    monkeypatch.chdir(spec.parent)
    result = jobctl("run")
    assert result.exit_code == 2
    assert "alpha" in result.stderr
    assert "beta" in result.stderr
    assert runs_of(jobctl) == []


def test_an_ambiguous_id_prefix_lists_the_candidates(jobctl: Run, demo: Path) -> None:
    first = start(jobctl, "demo")
    second = start(jobctl, "demo")
    result = jobctl("get", "run-")
    assert result.exit_code == 2
    assert first in result.stderr
    assert second in result.stderr
    assert get_run(jobctl, first[:-2])["id"] == first  # a unique prefix is fine

    write_spec(demo.parent, job_doc("other"), filename="other.yaml")
    applied(jobctl, demo.parent / "other.yaml")
    jobs = jobctl("run", "job-")
    assert jobs.exit_code == 2
    assert all(j["id"] in jobs.stderr for j in jobs_list(jobctl))


def test_unknown_run_or_job_exits_4(jobctl: Run, demo: Path) -> None:
    assert jobctl("logs", "run-doesnotexist").exit_code == 4
    assert jobctl("get", "run-doesnotexist").exit_code == 4
    assert jobctl("wait", "run-doesnotexist").exit_code == 4
    assert jobctl("cancel", "run-doesnotexist").exit_code == 4
    assert jobctl("runs", "nosuchjob").exit_code == 4


def start_following(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "jobctl", "run", "demo", "--env", "SLEEP=30", "--follow", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_interrupting_follow_detaches_and_the_run_goes_on(jobctl: Run, demo: Path) -> None:
    proc = start_following()
    try:
        run = until(lambda: next(iter(r for r in runs_of(jobctl, "demo") if r["lifecycleState"] == "IN_PROGRESS"),
                                 None), what="the run to start")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert f"jobctl logs {run['id']} --follow" in err
    assert "Traceback" not in err
    assert get_run(jobctl, run["id"])["lifecycleState"] == "IN_PROGRESS"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_a_signal_with_cancel_on_interrupt_cancels_the_run(jobctl: Run, demo: Path, signum: int) -> None:
    """SIGHUP too (a closed terminal, a dropped SSH session): it detached before, the run going on."""
    proc = start_following("--cancel-on-interrupt")
    try:
        run = until(lambda: next(iter(r for r in runs_of(jobctl, "demo") if r["lifecycleState"] == "IN_PROGRESS"),
                                 None), what="the run to start")
        proc.send_signal(signum)
        proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130
    final = until(lambda: in_state(jobctl, run["id"], "CANCELED", "FAILED", "SUCCEEDED"), what="the run to end")
    assert final["lifecycleState"] == "CANCELED"


def interrupted_while_locked(args: Sequence[str], under_way: Callable[[Path], object],
                             signals: Sequence[int], said: str) -> tuple[int, str, str, re.Match[str]]:
    """Run `jobctl ARGS` while the test holds the state database's write lock (readers go on, as it is
    WAL; writes wait), so what the command records blocks and a signal lands while that is under way.
    Sends `signals` once `under_way(home)` holds, lets the writes go once a stderr line matches `said`.
    Returns the exit code, stdout, stderr and that match."""
    home = Path(os.environ["JOBCTL_HOME"])
    lock = sqlite3.connect(home / "state.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    proc = subprocess.Popen([sys.executable, "-m", "jobctl", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err_lines: list[str] = []
    match = None
    try:
        until(lambda: under_way(home), what="the command's writes to be under way")
        for signum in signals:  # a second one is a user pressing Ctrl-C twice: no spacing is wrong
            proc.send_signal(signum)
            time.sleep(0.02)
        for line in proc.stderr:  # jobctl has taken the interrupt: nothing new begins after this line
            err_lines.append(line)
            match = re.search(said, line)
            if match:
                break
        lock.execute("COMMIT")
        out, rest = proc.communicate(timeout=60)
    finally:
        proc.kill()
        lock.close()
    err = "".join(err_lines) + rest
    assert match is not None, err
    return proc.returncode, out, err, match


@pytest.mark.parametrize("signals", [(signal.SIGTERM,), (signal.SIGINT,), (signal.SIGINT, signal.SIGINT),
                                     (signal.SIGINT, signal.SIGTERM)], ids=["TERM", "INT", "INT-INT", "INT-TERM"])
def test_an_interrupt_while_a_matrix_is_starting_cancels_every_run_started_and_prints_its_id(
    jobctl: Run, demo: Path, signals: tuple[int, ...],
) -> None:
    """Issue 12 item 4: before, the starts went on after the signal (20+ runs left running, no ids).

    The test holds the state database's write lock, so the first starts block where they record their
    run and the signal is sure to land in the start phase (it once landed after all 40 had started, on
    a loaded machine); it lets them go once jobctl says it is waiting for them."""
    code, out, err, said = interrupted_while_locked(
        ["run", "demo", "--env", "SLEEP=60", "--matrix", f"I={','.join(str(i) for i in range(40))}",
         "--max-parallel", "2", "--cancel-on-interrupt", "--wait"],
        lambda home: list((home / "runs").glob("run-*")),  # a start made its run's directory, not yet recorded
        signals, r"Interrupted: no new run starts; waiting for the (\d+) start\(s\) under way")
    under_way = int(said.group(1))
    assert code == 130, err
    assert "Traceback" not in err
    existing = {r["id"] for r in runs_of(jobctl, "demo")}
    assert 1 <= len(existing) == under_way <= 2, err  # the starts under way, no other
    assert set(out.split()) == existing, err  # every run that exists was reported, on stdout
    assert all(run_id in err for run_id in existing)
    # red team, session 14: it said only what it canceled, not that the rest never started
    assert f"canceled {len(existing)} run(s). {40 - len(existing)} of the 40 runs were not started." in err, err
    for run_id in existing:
        final = until(lambda run_id=run_id: in_state(jobctl, run_id, "CANCELED", "FAILED", "SUCCEEDED"),
                      what=f"run {run_id} to end")
        assert final["lifecycleState"] == "CANCELED"
    assert {r["id"] for r in runs_of(jobctl, "demo")} == existing  # and no start came after the signal


def test_more_runs_than_the_limit_need_yes(jobctl: Run, demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 12 item 15: two 60-value --matrix options once started 3,600 OCI runs without a word."""
    monkeypatch.setenv("JOBCTL_MAX_RUNS", "3")
    refused = jobctl("run", "demo", "--matrix", "MODEL=a,b", "--matrix", "SEED=1,2")
    assert refused.exit_code == 2
    assert "refusing to start 4 runs (more than JOBCTL_MAX_RUNS=3)" in refused.stderr
    assert runs_of(jobctl, "demo") == []
    assert len(ok(jobctl("run", "demo", "--matrix", "MODEL=a,b,c")).stdout.split()) == 3  # at the limit
    assert len(ok(jobctl("run", "demo", "--matrix", "MODEL=a,b", "--matrix", "SEED=1,2", "--yes")).stdout.split()) == 4


@pytest.mark.parametrize("yes", [[], ["--yes"]], ids=["asked", "--yes"])
def test_a_fan_out_over_the_limit_is_refused_before_its_runs_are_built(demo: Path, yes: list[str]) -> None:
    """Red team, session 14: 40 values in each of 4 keys built all 2,560,000 combinations (2.2 GB, 18 s) before
    they were refused; with --yes, before the first run started. Under a 512 MiB address space that ran out of
    memory; now it is refused at once, and no command starts more than MAX_FAN_OUT runs."""
    values = ",".join(map(str, range(40)))
    matrix = [arg for key in "ABCD" for arg in ("--matrix", f"{key}={values}")]

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (1 << 29, 1 << 29))

    refused = subprocess.run([sys.executable, "-m", "jobctl", "run", "demo", *matrix, *yes], capture_output=True,
                             text=True, preexec_fn=limited, timeout=60, check=False)
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr.startswith("Error: a command starts at most 10000 runs, not 2560000"), refused.stderr


def test_a_run_name_made_from_an_idempotency_key_holds_no_secret_and_looks_like_no_run_id(
        jobctl: Run, demo: Path) -> None:
    """Red team, session 14: `--idempotency-key hunter2zz` with that value in a secret env var named the run
    demo-hunter2zz (its OCI display name); and a job named `run` with key K named its run run-K, which `cancel
    run-K` then took for it instead of the run whose id starts so."""
    leaky = jobctl("run", "demo", "--env", "DB_TOKEN=hunter2zz", "--idempotency-key", "hunter2zz")
    assert leaky.exit_code == 2
    assert "--idempotency-key: the run's name is made from the key, which holds a secret value" in leaky.stderr
    write_spec(demo.parent, job_doc("run"), filename="run.yaml")
    applied(jobctl, demo.parent / "run.yaml")
    like_an_id = jobctl("run", "run", "--idempotency-key", "ux8c5")
    assert like_an_id.exit_code == 2
    assert "--idempotency-key: the run's name run-ux8c5 would look like a run id" in like_an_id.stderr
    assert runs_of(jobctl, "demo") == runs_of(jobctl, "run") == []


def test_cancel_prints_the_runs_as_json(jobctl: Run, demo: Path) -> None:
    run_id = start(jobctl, "demo", "--env", "SLEEP=30")
    listed = as_json(ok(jobctl("cancel", run_id, "-o", "json")))
    assert (listed["kind"], [r["id"] for r in listed["items"]]) == ("RunList", [run_id])
    until(lambda: in_state(jobctl, run_id, "CANCELED"), what="the run to be canceled")
    assert as_json(ok(jobctl("cancel", "--job", "demo", "-o", "json")))["items"] == []


# --- logs ----------------------------------------------------------------------------------------------

def test_logs_tail_stream_timestamps_and_since(jobctl: Run, demo: Path) -> None:
    ok(jobctl("run", "demo", "--env", "LINES=5", "--wait"))
    run_id = runs_of(jobctl, "demo")[0]["id"]

    assert ok(jobctl("logs", run_id, "--tail", "2")).stdout.splitlines() == ["line 0004", "last line"]

    stamped = ok(jobctl("logs", run_id, "--timestamps")).stdout.splitlines()
    assert stamped[-1].endswith(" last line")
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", ln) for ln in stamped), stamped

    everything = ok(jobctl("logs", run_id)).stdout.splitlines()
    assert ok(jobctl("logs", run_id, "--since", "1h")).stdout.splitlines() == everything
    finished = get_run(jobctl, run_id)["timeFinished"]
    later = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    assert finished < later
    assert ok(jobctl("logs", run_id, "--since", later)).stdout == ""
    # a duration that cannot be one says why, not "expected a duration"
    for since, said in (("0s", "--since: invalid duration '0s': must be positive"),
                        ("-5", "--since: invalid duration '-5': must be positive"),
                        ("11y", "--since '11y': expected a duration (10m, 2h) or an ISO timestamp")):
        refused = jobctl("logs", run_id, "--since", since)
        assert (refused.exit_code, refused.stderr) == (2, f"Error: {said}\n")


def test_logs_stream_filter(jobctl: Run, demo: Path) -> None:
    ok(jobctl("run", "demo", "--env", "ERR_LINES=2", "--wait"))
    run_id = runs_of(jobctl, "demo")[0]["id"]
    assert ok(jobctl("logs", run_id, "--stream", "stderr")).stdout.splitlines() == ["oops 0", "oops 1"]
    stdout_only = ok(jobctl("logs", run_id, "--stream", "stdout")).stdout
    assert "oops" not in stdout_only
    assert "last line" in stdout_only
    every = ok(jobctl("logs", run_id)).stdout
    assert "oops 1" in every
    assert "last line" in every


def test_logs_tail_counts_lines_of_the_chosen_stream(jobctl: Run, demo: Path, tmp_path: Path) -> None:
    """`--tail 2 --stream stderr` means the last two stderr lines, even when stdout lines come after them."""
    go = tmp_path / "go"
    run_id = start(jobctl, "demo", "--env", "ERR_LINES=3", "--env", "LINES=5", "--env", f"GO_FILE={go}")
    until(lambda: "oops 2" in jobctl("logs", run_id, "--stream", "stderr").stdout, what="the stderr lines")
    go.touch()  # now the stdout lines follow the stderr ones in the log
    assert jobctl("wait", run_id).exit_code == 0
    assert ok(jobctl("logs", run_id, "--tail", "2")).stdout.splitlines() == ["line 0004", "last line"]
    assert ok(jobctl("logs", run_id, "--tail", "2", "--stream", "stderr")).stdout.splitlines() == ["oops 1", "oops 2"]


def test_piped_logs_keep_the_raw_text(jobctl: Run, demo: Path) -> None:
    ok(jobctl("run", "demo", "--env", "ESCAPES=1", "--wait"))
    logs = ok(jobctl("logs", runs_of(jobctl, "demo")[0]["id"])).stdout
    assert "\x1b[31mred\x1b[0m \x1b]0;title\x07done" in logs.splitlines()


def test_workload_sees_run_and_job_identity(jobctl: Run, demo: Path) -> None:
    ok(jobctl("run", "demo", "--wait"))
    run_id = runs_of(jobctl, "demo")[0]["id"]
    lines = ok(jobctl("logs", run_id)).stdout.splitlines()
    assert f"JOBCTL_RUN_ID={run_id}" in lines
    assert "JOBCTL_JOB_NAME=demo" in lines
    assert f"JOB_RUN_OCID={run_id}" in lines
    # as on OCI: the entry file in the unpacked artifact (a directory source: under its root directory)
    assert "JOB_RUN_ENTRYPOINT=workload.py" in lines


# --- delete --------------------------------------------------------------------------------------------

def test_delete_refuses_with_active_runs_and_force_cancels_them(jobctl: Run, demo: Path) -> None:
    run_id = start(jobctl, "demo", "--env", "SLEEP=30")
    until(lambda: in_state(jobctl, run_id, "IN_PROGRESS"), what="the run to start")
    refused = jobctl("delete", "demo", "--yes")
    assert refused.exit_code == 5
    assert "active run" in refused.stderr
    assert [j["name"] for j in jobs_list(jobctl)] == ["demo"]

    forced = jobctl("delete", "demo", "--force", "--yes")
    assert forced.exit_code == 0, forced.stderr
    assert jobs_list(jobctl) == []
    assert jobctl("get", run_id).exit_code == 4  # canceled, then deleted with its job (as on OCI)


def test_delete_needs_confirmation_when_not_on_a_terminal(jobctl: Run, demo: Path) -> None:
    refused = jobctl("delete", "demo")
    assert refused.exit_code == 2
    assert "--yes" in refused.stderr
    assert [j["name"] for j in jobs_list(jobctl)] == ["demo"]
    ok(jobctl("delete", "demo", "--yes"))
    assert jobs_list(jobctl) == []
    assert jobctl("get", "demo").exit_code == 4


# --- the local runner's guarantees ---------------------------------------------------------------------

def test_max_runtime_is_enforced(jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBCTL_LOCAL_TIME_SCALE", "0.01")  # one minute lasts 0.6 s
    monkeypatch.setenv("JOBCTL_KILL_GRACE", "0.5")
    spec = write_spec(tmp_path / "specs", job_doc(max_runtime=1))
    applied(jobctl, spec)
    result = jobctl("run", "demo", "--env", "SLEEP=30", "--wait", "--timeout", "20s")
    assert result.exit_code == 1
    run = get_run(jobctl, runs_of(jobctl, "demo")[0]["id"])
    assert run["lifecycleState"] == "FAILED"
    assert "maxRuntimeInMinutes" in run["details"]


def test_a_run_whose_supervisor_was_killed_ends_failed(tmp_path: Path, isolated_env: Path) -> None:
    spec = write_spec(tmp_path / "specs")

    def cli_json(*args: str) -> Any:
        proc = run_jobctl(*args, "-o", "json")
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    assert run_jobctl("apply", str(spec)).returncode == 0
    started = run_jobctl("run", "demo", "--env", "SLEEP=30")
    assert started.returncode == 0, started.stderr
    run_id = started.stdout.strip()
    pid_line = until(lambda: next((ln for ln in run_jobctl("logs", run_id).stdout.splitlines()
                                   if ln.startswith("pid=")), None), what="the workload to start")
    workload_pid = int(pid_line.removeprefix("pid="))
    try:
        [(supervisor_pid,)] = db_rows(isolated_env, "SELECT supervisor_pid FROM runs WHERE id = ?", (run_id,))
        assert cli_json("get", run_id)["lifecycleState"] == "IN_PROGRESS"
        os.kill(supervisor_pid, signal.SIGKILL)
        run = until(lambda: (r := cli_json("get", run_id))["lifecycleState"] != "IN_PROGRESS" and r,
                    what="the run to leave IN_PROGRESS")
        assert run["lifecycleState"] == "FAILED"
        assert "runner lost" in run["details"]
        assert run_jobctl("wait", run_id).returncode == 1
        until(lambda: procs.start_time(workload_pid) is None, what="the workload to die with its supervisor")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(workload_pid, signal.SIGKILL)  # only if the assertion above failed


def test_state_dir_is_private(jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "fresh" / "home"
    monkeypatch.setenv("JOBCTL_HOME", str(home))
    old_umask = os.umask(0o002)  # a common desktop umask: group-writable by default
    try:
        applied(jobctl, write_spec(tmp_path / "specs"))
        ok(jobctl("run", "demo", "--wait"))
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "state.db").stat().st_mode) == 0o600


def test_the_readme_session_as_real_processes(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "specs")
    cwd = spec.parent

    def sh(*args: str) -> Result:
        proc = run_jobctl(*args, cwd=cwd)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    assert SUMMARY_CREATE in ok(sh("apply", "job.yaml")).stdout
    assert "No changes" in ok(sh("apply", "job.yaml")).stdout
    assert sh("run", "demo", "--env", "MODEL=xgb", "--wait").exit_code == 0
    follow = sh("logs", "--follow")
    assert follow.exit_code == 0
    assert "MODEL=xgb" in follow.stdout.splitlines()
    assert sh("run", "--env", "EXIT=3", "--wait").exit_code == 1
    run_id = ok(sh("run", "--env", "SLEEP=30")).stdout.strip()
    assert sh("cancel", run_id, "--wait").exit_code == 8
    assert sh("run", "--matrix", "MODEL=xgb,rf,lgbm", "--wait").exit_code == 0


def test_twenty_concurrent_runs_are_all_recorded_once(jobctl: Run, demo: Path) -> None:
    with ThreadPoolExecutor(max_workers=20) as pool:
        procs = list(pool.map(lambda i: run_jobctl("run", "demo", "--env", f"MODEL=m{i}"), range(20)))
    for proc in procs:
        assert proc.returncode == 0, proc.stderr
    started = [proc.stdout.strip() for proc in procs]
    assert len(set(started)) == 20

    runs = runs_of(jobctl, "demo")
    assert sorted(r["id"] for r in runs) == sorted(started)
    assert sorted(r["env"]["MODEL"] for r in runs) == sorted(f"m{i}" for i in range(20))

    waited = jobctl("wait", *started, "--timeout", "40s")
    assert waited.exit_code == 0, waited.stderr
    assert {r["lifecycleState"] for r in runs_of(jobctl, "demo")} == {"SUCCEEDED"}


def test_sigterm_during_apply_finishes_the_changes_under_way_and_starts_no_other(jobctl: Run, tmp_path: Path) -> None:
    """Issue 14: a CI runner's SIGTERM killed apply at once, mid-change and without a word (exit -15).

    The test holds the state database's write lock, so the first creates block where they record
    their job and the signal lands while they are under way; it lets them go once jobctl says so."""
    spec = write_spec(tmp_path / "specs", *(job_doc(f"j{i}") for i in range(20)))
    assert jobs_list(jobctl) == []  # the state database exists before the test locks it
    code, _, err, _ = interrupted_while_locked(
        ["apply", str(spec), "--yes"], lambda home: list((home / "artifacts").glob("*/*")), [signal.SIGTERM],
        "Interrupted: no other change starts; finishing the ones under way")
    assert code == 130, err
    assert "Traceback" not in err
    made = {j["name"] for j in jobs_list(jobctl)}
    assert 1 <= len(made) <= 8, err  # the creates under way (at most 8 in flight), no other
    assert made == set(re.findall(r"^(j\d+): created", err, re.MULTILINE))  # each one reported
    plan = as_json(jobctl("-o", "json", "plan", str(spec)))
    assert sorted(c["name"] for c in plan["changes"]) == sorted({f"j{i}" for i in range(20)} - made)
    assert {c["action"] for c in plan["changes"]} == {"create"}  # nothing half-made to repair


def test_wait_for_a_job_whose_run_already_failed_fails(jobctl: Run, demo: Path) -> None:
    """Red team (issue 14): `run` then `wait --job` in CI said "no active runs", exit 0, after the run failed."""
    assert jobctl("wait", "--job", "demo").exit_code == 4  # no run at all
    failed = start(jobctl, "demo", "--env", "EXIT=3")
    until(lambda: in_state(jobctl, failed, "FAILED", "SUCCEEDED"), what="the run to end")

    result = jobctl("wait", "--job", "demo")

    assert result.exit_code == 1, result.stderr
    assert "no active runs; the newest, " in result.stderr
    assert f"({failed}), is FAILED" in result.stderr


def test_wait_lists_each_run_once_however_often_it_is_named(jobctl: Run, demo: Path) -> None:
    """Red team, session 14: `wait R R` listed R twice."""
    run_id = start(jobctl, "demo")
    waited = jobctl("wait", run_id, run_id[:-2], "-o", "json")
    assert waited.exit_code == 0, waited.stderr
    assert [r["id"] for r in as_json(waited)["items"]] == [run_id]


def test_export_all_writes_each_name_once_from_its_current_job(jobctl: Run, tmp_path: Path) -> None:
    """Red team: `export --all` wrote every generation to NAME/job.yaml, and an earlier one could win."""
    spec = write_spec(tmp_path / "specs", job_doc(env={"MODEL": "base"}))
    applied(jobctl, spec)
    busy = start(jobctl, "demo", "--env", "SLEEP=30")
    until(lambda: in_state(jobctl, busy, "IN_PROGRESS"), what="the run to start")
    write_spec(tmp_path / "specs", job_doc(env={"MODEL": "rf"}))
    applied(jobctl, spec, "--yes")  # the old job is kept, superseded, for its run
    current = jobs_list(jobctl)[0]["id"]

    exported = as_json(jobctl("-o", "json", "export", "--all", "-d", str(tmp_path / "out")))
    assert [item["jobId"] for item in exported["items"]] == [current]
    assert "MODEL: rf" in (tmp_path / "out" / "demo" / "job.yaml").read_text()
    assert jobctl("cancel", busy, "--wait").exit_code == 8


def applied_shell_job(directory: Path, name: str, script: str) -> None:
    """Apply job `name`, a shell job running `script` (directory/NAME.sh)."""
    (directory / f"{name}.sh").write_text(script)
    (directory / "job.yaml").write_text(yaml.safe_dump({
        "apiVersion": "jobctl/v1", "kind": "Job", "metadata": {"name": name},
        "spec": {"infrastructure": {"shape": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGBs": 16},
                 "runtime": {"type": "shell", "source": f"./{name}.sh"}}}))
    assert run_jobctl("apply", "job.yaml", cwd=directory).returncode == 0


def test_a_workload_starts_with_no_signal_ignored_that_it_would_not_ignore_on_oci(tmp_path: Path) -> None:
    """Red team, session 13: every local workload started with SIGHUP ignored (the supervisor ignored it, and an
    ignored signal stays ignored across exec); on OCI a job's process has its signals at their defaults. (A shell
    job: Python ignores SIGPIPE and SIGXFSZ in itself at its start.)"""
    applied_shell_job(tmp_path, "signals", "grep SigIgn /proc/self/status\n")
    # what a process this test starts has ignored (its runner may ignore some): a workload gets no more
    caller = subprocess.run(["sh", str(tmp_path / "signals.sh")], capture_output=True, text=True, check=True)
    assert int(caller.stdout.split()[-1], 16) & 1 == 0  # (SIGHUP: the red team's)
    for extra in ([], ["--matrix", "I=1,2"]):  # the command's forked supervisor, and a launcher's
        followed = run_jobctl("run", "signals", *extra, "--follow", cwd=tmp_path)
        assert followed.returncode == 0, followed.stderr
        said = [line.split()[-1] for line in followed.stdout.splitlines() if "SigIgn" in line]
        assert said == [caller.stdout.split()[-1]] * (2 if extra else 1), followed.stdout


def test_a_relative_jobctl_home_holds_from_any_directory_and_no_supervisor_keeps_the_callers(
        tmp_path: Path, isolated_env: Path) -> None:
    """Red team, session 13: a supervisor kept the caller's working directory (busy for `umount` while the run
    ran); and with a relative JOBCTL_HOME a job's artifact was stored by a relative path, so a run started from
    another directory (the same home, said from there) did not find it."""
    (tmp_path / "sub").mkdir()
    applied_shell_job(tmp_path, "where", 'echo "supervisor in $(readlink /proc/$PPID/cwd)"\n')
    home = tmp_path / "home"
    assert run_jobctl("apply", "job.yaml", cwd=tmp_path, env={"JOBCTL_HOME": "home"}).returncode == 0
    for extra in ([], ["--matrix", "I=1,2"]):  # the command's forked supervisor, and a launcher's
        followed = run_jobctl("run", "where", *extra, "--follow", cwd=tmp_path / "sub", env={"JOBCTL_HOME": "../home"})
        assert followed.returncode == 0, followed.stderr
        said = [line.split(" in ", 1)[1] for line in followed.stdout.splitlines()]
        assert said == [str(home)] * (2 if extra else 1), followed.stdout


def test_a_wait_on_a_quiet_run_reads_it_about_once_a_second_and_sees_its_end_at_once(
        tmp_path: Path, isolated_env: Path) -> None:
    """Red team, session 13: a quiet `wait` read the database 20 times a second (~70 ms of CPU each second). With
    the run's supervisor watched, it reads it once a second, and still sees the end as the supervisor exits."""
    from jobctl.backends.local.backend import LocalBackend
    from jobctl.engine.follow import wait_for_runs
    from jobctl.model.state import RunState

    applied_shell_job(tmp_path, "quiet", "sleep 2\n")
    run_id = run_jobctl("-q", "run", "quiet", cwd=tmp_path).stdout.strip()
    backend = LocalBackend(isolated_env)
    reads: list[float] = []
    read_runs = backend.get_runs

    def counted(*, run_ids: list[str]) -> list[RunState]:
        reads.append(time.monotonic())
        return read_runs(run_ids=run_ids)

    backend.get_runs = counted  # type: ignore[method-assign]
    try:
        ended = wait_for_runs(backend, [run_id], timeout=60)
    finally:
        backend.close()
    assert [run.state for run in ended] == ["SUCCEEDED"]
    assert len(reads) <= 6, len(reads)  # ~2 s at one read a second (a 50 ms poll read it ~40 times)


@pytest.mark.parametrize("inotify", [True, False], ids=["inotify", "polled"])
def test_a_follow_of_a_quiet_run_reads_its_log_as_lines_come_not_ten_times_a_second(
        tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, inotify: bool) -> None:
    """Red team, session 13: a quiet follow read the log 10 times a second. With its supervisor watched and
    inotify on the log, it reads as lines come (and once a second); without inotify it polls, as before."""
    from jobctl.backends.local import procs
    from jobctl.backends.local.backend import LocalBackend
    from jobctl.engine.follow import follow_logs
    from jobctl.model.state import LogBatch

    if not inotify:
        monkeypatch.setattr(procs.LogWatch, "open", classmethod(lambda cls: None))
    applied_shell_job(tmp_path, "quiet", "echo start\nsleep 2\necho end\n")
    run_id = run_jobctl("-q", "run", "quiet", cwd=tmp_path).stdout.strip()
    backend = LocalBackend(isolated_env)
    reads: list[float] = []
    read_logs = backend.read_logs

    def counted(*, run_id: str, cursor: str | None = None, limit: int | None = None) -> LogBatch:
        reads.append(time.monotonic())
        return read_logs(run_id=run_id, cursor=cursor, limit=limit)

    backend.read_logs = counted  # type: ignore[method-assign]
    lines: dict[str, int] = {}  # each line: how many reads had been made when it came
    states: list[str] = []
    try:
        for event in follow_logs(backend, [run_id], timeout=60):
            if event.line:
                lines[event.line.text] = len(reads)
            elif event.run:
                states.append(event.run.state)
    finally:
        backend.close()
    assert list(lines) == ["start", "end"]
    assert states[-1] == "SUCCEEDED"
    quiet = lines["end"] - lines["start"]  # the reads in the 2 s between them (the start's pace depends on load)
    if inotify:
        assert quiet <= 5, quiet  # the start's state, then a read a second until the end's line wakes it
    else:
        assert quiet >= 8, quiet  # a poll every 100 ms: ~20

"""Issue 18 (UX round 2): what a new user tripped over, each fixed with what they see (exit code, message,
the runs that started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_lifecycle_local import Result, Run, applied, runs_of, write_spec
from tests.conftest import EXAMPLES


@pytest.fixture
def demo(jobctl: Run, tmp_path: Path) -> Path:
    spec = write_spec(tmp_path / "specs")
    applied(jobctl, spec)
    return spec


def test_repeated_matrix_options_of_one_name_merge_their_values(jobctl: Run, demo: Path) -> None:
    """Item 2: `--matrix K=a --matrix K=b` kept only b."""
    result = jobctl("run", "demo", "--matrix", "MODEL=a", "--matrix", "MODEL=b,c", "--wait")
    assert result.exit_code == 0, result.stderr
    assert sorted(r["env"]["MODEL"] for r in runs_of(jobctl, "demo")) == ["a", "b", "c"]


@pytest.mark.parametrize(("given", "said"), [
    (("--matrix", "MODEL=a,a"), "--matrix MODEL: 'a' is listed twice (each value is one run)"),
    (("--matrix", "MODEL=a", "--matrix", "MODEL=a"), "--matrix MODEL: 'a' is listed twice"),
    (("--env", "MODEL=x", "--matrix", "MODEL=a,b"), "--env MODEL and --matrix MODEL: each run's MODEL is its matrix"),
    (("--env", "SEED=1", "--env", "SEED=2"), "--env SEED is given twice, with different values"),
    # red team: a short secret value was repeated in the message
    (("--matrix", "DB_PASSWORD=hunter2,hunter2"), "--matrix DB_PASSWORD: value 2 is listed twice"),
    (("--matrix", "DB_PASSWORD=hunter2,"), "--matrix DB_PASSWORD=(sensitive): expected comma-separated non-empty"),
])
def test_matrix_and_env_that_would_start_other_runs_than_written_are_usage_errors(
        jobctl: Run, demo: Path, given: tuple[str, ...], said: str) -> None:
    """Item 2: duplicates were merged silently, and --env MODEL beside --matrix MODEL was dropped silently."""
    result = jobctl("run", "demo", *given)
    assert result.exit_code == 2, result.stderr
    assert said in result.stderr
    assert "hunter2" not in result.stderr
    assert runs_of(jobctl, "demo") == []


def test_the_same_env_given_twice_is_one_setting(jobctl: Run, demo: Path) -> None:
    assert jobctl("run", "demo", "--env", "SEED=1", "--env", "SEED=1", "--wait").exit_code == 0
    assert [r["env"]["SEED"] for r in runs_of(jobctl, "demo")] == ["1"]


def test_an_idempotency_key_reattaches_to_the_same_request_and_refuses_another(jobctl: Run, demo: Path) -> None:
    """Item 3: a reused key with other overrides re-attached silently (the new env ignored); a reuse said
    "started"."""
    first = jobctl("run", "demo", "--idempotency-key", "ci-42", "--env", "MODEL=a")
    assert first.exit_code == 0, first.stderr
    [run_id] = first.stdout.split()
    again = jobctl("run", "demo", "--idempotency-key", "ci-42", "--env", "MODEL=a")
    assert (again.exit_code, again.stdout.split()) == (0, [run_id])
    assert f"re-attached to demo-ci-42 ({run_id})" in again.stderr
    assert "started demo" not in again.stderr
    other = jobctl("run", "demo", "--idempotency-key", "ci-42", "--env", "MODEL=b", "--arg", "x")
    assert other.exit_code == 5
    assert (f"run demo-ci-42 ({run_id}) was started with this idempotency key from another request: its env MODEL "
            "and args differ") in other.stderr
    assert [r["id"] for r in runs_of(jobctl, "demo")] == [run_id]


def test_global_options_may_follow_the_command(jobctl: Run, demo: Path) -> None:
    """Item 1: `jobctl run … -q` and `jobctl jobs --backend X` failed ("no such option")."""
    quiet = jobctl("validate", str(demo), "-q")
    assert (quiet.exit_code, quiet.stdout) == (0, "")
    assert json.loads(jobctl("jobs", "-o", "json").stdout)["items"] != []
    elsewhere = jobctl("jobs", "--backend", "memory", "-o", "json")  # the memory backend holds nothing
    assert (elsewhere.exit_code, json.loads(elsewhere.stdout)["items"]) == (0, [])
    assert jobctl("jobs", "--backend=memory", "-o", "json").stdout == elsewhere.stdout
    assert jobctl("-o", "json", "jobs", "--backend", "memory").stdout == elsewhere.stdout  # -o before, too
    # a command's own option keeps its value, whatever it looks like
    ran = jobctl("run", "demo", "--arg", "-v", "--wait", "-q")
    assert ran.exit_code == 0, ran.stderr
    assert ran.stderr == ""  # -q: only results and errors
    assert [r["args"] for r in runs_of(jobctl, "demo")] == [["-v"]]
    # red team, session 14: bundled with the command's own short options, a global one was "no such option"
    bundled = jobctl("run", "demo", "-wqa", "x")  # -w -q -a x
    assert (bundled.exit_code, bundled.stderr) == (0, ""), bundled.stderr
    assert json.loads(jobctl("jobs", "-qo", "json").stdout)["kind"] == "JobList"
    assert [r["args"] for r in json.loads(jobctl("runs", "demo", "-qn", "1", "-o", "json").stdout)["items"]] == [["x"]]
    unknown = jobctl("runs", "-qz")
    assert unknown.exit_code == 2
    assert "No such option '-z'" in unknown.stderr


@pytest.mark.parametrize("before", [True, False])
def test_o_means_the_same_before_and_after_the_command(jobctl: Run, demo: Path, before: bool) -> None:
    """Red team: `jobctl -o json logs` printed text while `logs -o json` was refused, and `delete X -o json`
    was "no such option" while `jobctl -o json delete X` was taken."""
    def given(*args: str) -> Result:
        return jobctl("-o", "json", *args) if before else jobctl(*args, "-o", "json")

    assert jobctl("run", "demo", "--wait").exit_code == 0
    for args in (("logs",), ("run", "demo", "--follow")):
        refused = given(*args)
        assert refused.exit_code == 2, refused.stderr
        assert refused.stdout == ""
    assert given("delete", "no-such-job").exit_code == 4  # taken (it prints no data), then not found
    assert json.loads(given("runs").stdout)["kind"] == "RunList"
    # red team, session 14: before the command, -o took only table, json and yaml (`jobctl -o markdown plan`)
    placed = {fmt: jobctl("-o", fmt, *args) if before else jobctl(*args, "-o", fmt)
              for fmt, args in (("markdown", ("plan", str(demo))), ("jsonl", ("logs", "--job", "demo")))}
    assert placed["markdown"].stdout.startswith("<!-- jobctl-plan -->"), placed["markdown"].stderr
    assert {json.loads(line)["type"] for line in placed["jsonl"].stdout.splitlines()} == {"log"}
    cannot = jobctl("-o", "markdown", "jobs") if before else jobctl("jobs", "-o", "markdown")
    assert (cannot.exit_code, cannot.stdout) == (2, "")  # a command still refuses one it cannot print


def test_f_is_follow_on_run_as_on_logs_and_the_spec_file_is_p(jobctl: Run, demo: Path) -> None:
    """Item 1: -f meant --file on run but --follow on logs."""
    followed = jobctl("run", "demo", "-f")
    assert followed.exit_code == 0, followed.stderr
    assert "MODEL=base" in followed.stdout  # the run's output, streamed
    by_file = jobctl("run", "-p", str(demo), "--wait")
    assert by_file.exit_code == 0, by_file.stderr
    old_habit = jobctl("run", "-f", str(demo))
    assert old_habit.exit_code == 2
    assert f"{str(demo)!r} is a spec file: -f is --follow, as for logs" in old_habit.stderr
    assert f"jobctl run -p {demo} --follow" in old_habit.stderr


def test_runs_started_in_one_second_have_names_of_their_own_and_short_ids(jobctl: Run, demo: Path) -> None:
    """Item 4: two runs started within a second had one name (`logs NAME` then exited 2), and a unique id
    prefix was ~16 characters."""
    for _ in range(2):
        assert jobctl("run", "demo").exit_code == 0
    runs = runs_of(jobctl, "demo")
    assert len({r["name"] for r in runs}) == 2
    for run in runs:
        assert jobctl("logs", run["name"]).exit_code == 0
        assert len(run["id"]) == len("run-") + 10
        assert jobctl("get", run["id"][:8], "-o", "json").exit_code == 0  # a few characters are a unique prefix


def test_a_plan_lists_the_files_a_changed_artifact_adds_removes_and_modifies(jobctl: Run, tmp_path: Path) -> None:
    """Item 10: an artifact change showed only two digests."""
    folder = tmp_path / "specs"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "main.py").write_text("print(1)\n")
    (folder / "src" / "util.py").write_text("X = 1\n")
    (folder / "job.yaml").write_text(
        "apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: files}\nspec:\n  infrastructure: {shape: VM.Standard2.1}\n"
        "  runtime: {type: python, source: ./src, entrypoint: main.py}\n")
    applied(jobctl, folder)
    (folder / "src" / "main.py").write_text("print(2)\n")
    (folder / "src" / "util.py").unlink()
    (folder / "src" / "extra.py").write_text("Y = 2\n")
    plan = jobctl("plan", str(folder))
    assert plan.exit_code == 0, plan.stderr
    lines = plan.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "~ artifact: " in line)
    assert [line.strip() for line in lines[at + 1:at + 4]] == ["+ src/extra.py", "~ src/main.py", "- src/util.py"]
    files = json.loads(jobctl("plan", str(folder), "-o", "json").stdout)["changes"][0]["artifactFiles"]
    assert files == {"added": ["src/extra.py"], "removed": ["src/util.py"], "modified": ["src/main.py"]}


def test_a_workflow_or_spec_file_where_a_job_or_run_is_wanted_says_what_to_do(jobctl: Run, demo: Path) -> None:
    """Red team: `run -p workflow.yaml` said a job of the workflow was not in the files given, and `logs -f
    job.yaml` said there was no such run."""
    workflow = EXAMPLES / "model-selection" / "workflow.yaml"
    ran = jobctl("run", "-p", str(workflow))
    assert ran.exit_code == 2
    assert f"{workflow} is a workflow, not a job" in ran.stderr
    assert f"jobctl workflow run {workflow}" in ran.stderr
    logs = jobctl("logs", "-f", str(demo))
    assert logs.exit_code == 2
    assert f"{str(demo)!r} is a spec file, not a run" in logs.stderr
    assert f"jobctl logs --file {demo}" in logs.stderr

"""The CLI as a user meets it: help, version, schema, validate, init, errors, start-up cost."""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobctl.cli.app import COMMANDS
from jobctl.spec.starter import RUNTIME_TYPES
from tests.conftest import EXAMPLES, REPO, Result, run_jobctl

Run = Callable[..., Result]
SCHEMA_FILE = REPO / "schemas" / "jobctl-v1.schema.json"
HELLO = EXAMPLES / "hello" / "job.yaml"
INVALID_SPEC = """\
apiVersion: jobctl/v1
kind: Job
metadata: {name: Bad_Name}
spec:
  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1}
  runtime: {type: python, source: ./missing.py}
"""


@pytest.fixture(params=["in-process", "subprocess"])
def run(request: pytest.FixtureRequest, jobctl: Run) -> Run:
    """The same command through CliRunner and through a real `python -m jobctl` process."""
    if request.param == "in-process":
        return jobctl

    def via_subprocess(*args: str, env: dict[str, str] | None = None) -> Result:
        proc = run_jobctl(*args, cwd=REPO, env=env)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return via_subprocess


@pytest.fixture
def invalid_spec(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(INVALID_SPEC, encoding="utf-8")
    return path


def unwrapped(text: str) -> str:
    """Help text without whitespace, so wrapping (even inside a hyphenated word) does not matter."""
    return "".join(text.split())


# --- help and version ------------------------------------------------------------------------------

def test_help_lists_every_command_with_its_summary(run: Run) -> None:
    result = run("--help")

    assert result.exit_code == 0
    assert result.stderr == ""
    text = unwrapped(result.stdout)
    for name, (_, summary) in COMMANDS.items():
        assert unwrapped(f"{name} {summary}") in text, name
    assert "Examples:" in result.stdout
    assert unwrapped("130 interrupted") in text  # exit codes are documented


def test_short_help_option(jobctl: Run) -> None:
    assert jobctl("-h").stdout == jobctl("--help").stdout


def test_help_names_the_program_jobctl() -> None:
    proc = run_jobctl("--help")

    assert proc.stdout.startswith("Usage: jobctl [OPTIONS] COMMAND [ARGS]...")


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_help_has_examples(run: Run, command: str) -> None:
    result = run(command, "--help")

    assert result.exit_code == 0
    # CliRunner names the program after the click function; a real process calls it jobctl
    assert result.stdout.split()[:3] in (["Usage:", "jobctl", command], ["Usage:", "cli", command])
    assert "Examples:" in result.stdout
    assert f"jobctl {command}" in result.stdout.split("Examples:", 1)[1]


@pytest.mark.parametrize("option", ["--version", "-V"])
def test_version(run: Run, option: str) -> None:
    from jobctl import __version__

    result = run(option)

    assert result.exit_code == 0
    assert result.stdout == f"jobctl {__version__}\n"


def test_unknown_command_suggests_the_closest(run: Run) -> None:
    result = run("valdate", str(HELLO))

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "No such command 'valdate'" in result.stderr
    assert "Did you mean 'validate'?" in result.stderr


def test_unknown_command_without_a_close_match(jobctl: Run) -> None:
    result = jobctl("frobnicate")

    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr
    assert "Did you mean" not in result.stderr


@pytest.mark.parametrize(("args", "said"), [
    (("runs", "--lmit", "3"), "No such option '--lmit'. Did you mean '--limit'?"),
    (("runs", "-z"), "No such option '-z'."),
    (("-qz", "runs"), "No such option '-z'."),
    # a long option with one dash is no cluster of short ones: `-wait` was `-w -a it`, a run with the arg "it"
    (("run", "hello", "-wait"), "No such option '-wait'. Did you mean '--wait'?"),
    (("run", "hello", "-follow=1"), "No such option '-follow'. Did you mean '--follow'?"),
    # red team, session 14: near misses were bundles still (`-wai` ran the arg "i")
    (("run", "hello", "-wai"), "No such option '-wai'. Did you mean '--wait'?"),
    (("run", "hello", "-waitt"), "No such option '-waitt'. Did you mean '--wait'?"),
    (("jobs", "-quiet"), "No such option '-quiet'. Did you mean '--quiet'?"),  # a global one after the command
    (("-output", "json", "jobs"), "No such option '-output'. Did you mean '--output'?"),
    # red team, session 14: a global option without its value after the command took the command as its value
    (("jobs", "--backend"), "Option '--backend' requires an argument."),
    (("run", "hello", "--profile"), "Option '--profile' requires an argument."),
    (("run", "hello", "--quiet=1"), "Option '--quiet' does not take a value."),
])
def test_an_unknown_option_is_a_usage_error_suggesting_only_long_ones(
        jobctl: Run, args: tuple[str, ...], said: str) -> None:
    """A short option is no long one misspelled: click's suggestions are for long options only."""
    result = jobctl(*args)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert said in result.stderr
    assert said.endswith("?") or "Did you mean" not in result.stderr


ODD = "plain-\udce9"  # the byte 0xe9, no UTF-8, as argv holds it (a surrogate escape)


@pytest.mark.parametrize("args", [
    ("run", "hello", "--env", f"MSG={ODD}"), ("run", "hello", "--arg", ODD), ("run", "hello", "--args-append", ODD),
    ("run", "hello", "--set", f"infrastructure.shape={ODD}"), ("run", "hello", "--matrix", f"M=a,{ODD}"),
    ("run", "hello", "--name", ODD), ("run", "hello", "--idempotency-key", ODD), ("run", ODD),
    ("workflow", "run", "flow.yaml", "--env", f"MSG={ODD}"), ("workflow", "run", "flow.yaml", "--idempotency-key", ODD),
    ("runs", "--page", ODD), ("logs", "run-x", "--since", ODD),  # (red team: said as Python escapes)
], ids=lambda args: " ".join(a for a in args if ODD not in a))
def test_text_that_is_no_utf8_is_a_usage_error_naming_where(jobctl: Run, args: tuple[str, ...]) -> None:
    """Red team, session 14: `--env MSG=$(printf 'plain\\xe9')` was taken; every YAML listing of runs then failed
    (an internal error, for good), JSON ones wrote invalid UTF-8, and on OCI one such run made six and a 500."""
    result = jobctl(*args)

    option = args[-2] if args[-2].startswith("--") else "[JOB]"
    assert result.exit_code == 2
    assert re.search(rf"Invalid value for '(-\w' / ')?{re.escape(option)}': byte 0xe9 at character \d+ is not UTF-8 "
                     r"\(jobctl and OCI take UTF-8 text only\)", result.stderr), result.stderr
    assert "plain" not in result.stderr  # (the value may be a secret)


def test_a_spec_file_that_is_not_there_is_named_as_every_path_is_shown(jobctl: Run) -> None:
    """Red team, session 14: `run -p $'a\\xe9'` said "spec file a\\udce9 not found" (Python's escape)."""
    result = jobctl("run", "-p", ODD)
    assert result.exit_code == 4
    assert 'spec file "plain-\\xe9" not found' in result.stderr, result.stderr


@pytest.mark.parametrize("where", ["--set-name", "JOBCTL_SET", "the directory"])
def test_a_set_name_that_is_no_utf8_is_refused_before_anything_is_applied(
        jobctl: Run, tmp_path: Path, where: str) -> None:
    """Red team, session 14: stored as the jobs' set tag, it made every `jobs -o yaml` an internal error, and JSON
    output invalid UTF-8."""
    directory = tmp_path / ("caf\udce9" if where == "the directory" else "specs")
    directory.mkdir()
    (directory / "job.yaml").write_text(HELLO.read_text())
    (directory / "hello.py").write_text("")
    args = ["apply", str(directory / "job.yaml"), *(["--set-name", ODD] if where == "--set-name" else [])]

    result = jobctl(*args, env={"JOBCTL_SET": ODD} if where == "JOBCTL_SET" else None)

    assert result.exit_code == 2, result.stderr
    assert re.search(r"byte 0xe9 at character \d+ is not UTF-8", result.stderr), result.stderr
    assert json.loads(jobctl("jobs", "-o", "json").stdout)["items"] == []


def test_an_interpolated_variable_that_is_no_utf8_is_a_spec_error_at_its_place(
        tmp_path: Path, jobctl: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = HELLO.read_text().replace("MODEL: baseline", "MODEL: ${ODD_MODEL}")
    (tmp_path / "job.yaml").write_text(spec)
    (tmp_path / "hello.py").write_text("")
    monkeypatch.setenv("ODD_MODEL", ODD)
    line = next(n for n, text in enumerate(spec.splitlines(), 1) if "ODD_MODEL" in text)

    result = jobctl("validate", str(tmp_path / "job.yaml"))

    assert result.exit_code == 3
    assert f"job.yaml:{line}:14: spec.runtime.env.MODEL: variable ODD_MODEL: byte 0xe9 at character 7 is not " \
           "UTF-8" in result.stderr


# --- schema ---------------------------------------------------------------------------------------

def test_schema_prints_the_schema_file(jobctl: Run) -> None:
    result = jobctl("schema")

    assert result.exit_code == 0
    assert result.stdout == SCHEMA_FILE.read_text(encoding="utf-8")


def test_schema_output_is_byte_for_byte_the_schema_file() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "jobctl", "schema"], cwd=REPO, capture_output=True, timeout=60, check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == SCHEMA_FILE.read_bytes()


# --- validate -------------------------------------------------------------------------------------

def test_validate_examples_directory(run: Run) -> None:
    result = run("validate", str(EXAMPLES))

    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "valid: 6 jobs, 1 Data Flow application and 2 workflows in 8 files (batch-score, distributed-train, "
        "hello, tune-candidate, train-final, tune-models, wordcount, model-selection, model-selection-pipeline)\n"
    )
    assert result.stderr == ""


def test_validate_of_many_specs_names_ten_and_counts_the_rest(run: Run, tmp_path: Path) -> None:
    """A directory of 2,000 specs printed every name on one 30 KB line; -v still lists them all."""
    (tmp_path / "hello.py").write_text("print(1)\n")
    names = [f"job-{i:02d}" for i in range(12)]
    for name in names:
        (tmp_path / f"{name}.yaml").write_text(HELLO.read_text().replace("name: hello", f"name: {name}"))
    result = run("validate", str(tmp_path))
    assert (result.exit_code, result.stdout) == (0, (
        "valid: 12 jobs in 12 files (job-00, job-01, job-02, job-03, job-04, job-05, job-06, job-07, job-08, "
        "job-09, and 2 more; -v lists them all)\n")), result.stderr
    verbose = run("validate", "-v", str(tmp_path))
    assert verbose.stdout == f"valid: 12 jobs in 12 files ({', '.join(names)})\n"
    assert json.loads(run("validate", "-o", "json", str(tmp_path)).stdout) == []


def test_a_file_named_twice_is_read_once(run: Run) -> None:
    """Red team: `validate DIR DIR/job.yaml` said the job's name "is also defined at" the same file and line."""
    result = run("validate", str(HELLO.parent), str(HELLO), str(HELLO.parent) + "/")
    assert (result.exit_code, result.stdout) == (0, "valid: 1 job in 1 file (hello)\n"), result.stderr


def test_a_spec_path_that_never_ends_is_cut_at_the_limit(run: Run, tmp_path: Path) -> None:
    """Red team: `validate` of a device or a pipe (a link to /dev/zero) read without end: 2.8 GB in 3 s."""
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    result = run("validate", str(tmp_path / "zero.yaml"))
    assert (result.exit_code, result.stderr) == (3, f"{tmp_path / 'zero.yaml'}:1:1: <file>: file is over 1 MiB; "
                                                    "specs are limited to 1 MiB\nError: 1 error in 1 file\n")


def test_validate_json_on_a_valid_file_prints_an_empty_list(run: Run) -> None:
    result = run("validate", "-o", "json", str(HELLO))

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "[]\n"
    assert json.loads(result.stdout) == []


def test_validate_reports_errors_on_stderr_and_exits_3(run: Run, invalid_spec: Path) -> None:
    result = run("validate", str(invalid_spec))

    assert result.exit_code == 3
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert f"{invalid_spec}:3:18: metadata.name: must be lower-case letters" in result.stderr
    assert any(line.startswith(f"{invalid_spec}:5:") and "memoryInGBs" in line for line in lines), lines
    assert any(line.startswith(f"{invalid_spec}:6:") and "does not exist" in line for line in lines), lines
    assert "Error: 3 errors in 1 file" in lines  # (its missing source too, with the schema's errors)
    assert "Traceback" not in result.stderr


def test_validate_says_a_jobs_other_problems_with_its_schema_errors(jobctl: Run, tmp_path: Path) -> None:
    """Red team, session 14: one wrong type (the schema's) hid a secret label and a missing source until it was
    mended: every problem at once, as the README says."""
    (tmp_path / "job.yaml").write_text(
        "apiVersion: jobctl/v1\nkind: Job\nmetadata:\n  name: vv\n  labels: {db: hunter2hunter2}\nspec:\n"
        "  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16, blockStorageSizeInGBs: x}\n"
        "  runtime:\n    type: python\n    source: ./nope.py\n    env: {DB_PASSWORD: hunter2hunter2}\n")

    result = jobctl("validate", str(tmp_path / "job.yaml"))

    assert result.exit_code == 3
    said = [line.split(": ", 2)[1] for line in result.stderr.splitlines() if line.startswith(str(tmp_path))]
    assert said == ["metadata.labels.db", "spec.infrastructure.blockStorageSizeInGBs", "spec.runtime.source"]
    assert "hunter2" not in result.stderr


def test_validate_json_with_errors_lists_them_and_exits_3(jobctl: Run, invalid_spec: Path) -> None:
    result = jobctl("validate", "-o", "json", str(invalid_spec))

    assert result.exit_code == 3
    diagnostics = json.loads(result.stdout)
    assert [sorted(d) for d in diagnostics] == [["column", "file", "line", "message", "path"]] * len(diagnostics)
    assert [(d["file"], d["line"], d["path"]) for d in diagnostics] == [
        (str(invalid_spec), 3, "metadata.name"),
        (str(invalid_spec), 5, "spec.infrastructure"),
        (str(invalid_spec), 6, "spec.runtime.source"),
    ]


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_a_missing_spec_file_is_not_found(jobctl: Run, tmp_path: Path, command: str) -> None:
    """README: exit 4 is "not found (job, run, file)"; a missing spec file exited 3 (red team, issue 14)."""
    result = jobctl(command, str(tmp_path / "nope.yaml"))

    assert result.exit_code == 4
    assert f"{tmp_path / 'nope.yaml'}:1:1: <file>: no such file or directory" in result.stderr


def test_validate_without_a_path_is_a_usage_error(jobctl: Run) -> None:
    result = jobctl("validate")

    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


# --- init -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("runtime", RUNTIME_TYPES)
def test_init_writes_a_project_that_validates(jobctl: Run, tmp_path: Path, runtime: str) -> None:
    target = tmp_path / runtime

    result = jobctl("init", "demo", "--runtime", runtime, "-d", str(target))

    assert result.exit_code == 0, result.stderr
    assert f"wrote {target / 'job.yaml'}" in result.stdout
    spec = (target / "job.yaml").read_text(encoding="utf-8")
    assert "name: demo" in spec
    assert f"type: {runtime}" in spec
    validated = jobctl("validate", str(target))
    assert validated.exit_code == 0, validated.stderr
    assert validated.stdout == "valid: 1 job in 1 file (demo)\n"


@pytest.mark.parametrize("runtime", RUNTIME_TYPES)
def test_every_command_in_a_starter_spec_runs_as_written(jobctl: Run, tmp_path: Path, runtime: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team: job.yaml said `jobctl run my-job -f job.yaml --follow`, and -f is run's --follow (exit 2).
    Each command its comments show is run as written, in order, from the project's directory (on the memory
    backend: a container runtime needs no docker there)."""
    monkeypatch.chdir(tmp_path)
    assert jobctl("init", "my-job", "--runtime", runtime).exit_code == 0
    monkeypatch.chdir(tmp_path / "my-job")
    comments = "\n".join(re.findall(r"#.*", Path("job.yaml").read_text(encoding="utf-8")))
    commands = [quoted or shown for quoted, shown in re.findall(r"`jobctl ([^`]+)`|:\s+jobctl (.+)", comments)]
    assert [line.split()[0] for line in commands] == ["validate", "apply", "run", "schema"]
    for line in commands:
        result = jobctl("--backend", "memory", *shlex.split(line))
        assert result.exit_code == 0, f"jobctl {line}: {result.stderr}"


def test_the_notebook_starter_runs_its_cells_but_the_skipped_one(jobctl: Run, tmp_path: Path) -> None:
    assert jobctl("init", "report", "--runtime", "notebook", "-d", str(tmp_path)).exit_code == 0
    assert jobctl("apply", str(tmp_path / "job.yaml"), "--yes").exit_code == 0
    run = jobctl("-o", "json", "run", "report", "--env", "MODEL=xgb", "--wait")
    assert run.exit_code == 0, run.stderr
    logs = jobctl("logs", json.loads(run.stdout)["items"][0]["id"]).stdout
    assert "MODEL=xgb" in logs
    assert "tagged skip" not in logs


def test_init_shell_script_is_executable(jobctl: Run, tmp_path: Path) -> None:
    assert jobctl("init", "etl", "--runtime", "shell", "-d", str(tmp_path)).exit_code == 0

    assert (tmp_path / "src" / "run.sh").stat().st_mode & stat.S_IXUSR


def test_init_names_the_job_after_the_directory(jobctl: Run, tmp_path: Path) -> None:
    target = tmp_path / "My Project"

    assert jobctl("init", "-d", str(target)).exit_code == 0

    assert "name: my-project" in (target / "job.yaml").read_text(encoding="utf-8")


def test_init_refuses_to_overwrite_without_force(jobctl: Run, tmp_path: Path) -> None:
    assert jobctl("init", "demo", "-d", str(tmp_path)).exit_code == 0
    spec = tmp_path / "job.yaml"
    spec.write_text("# my edits\n", encoding="utf-8")
    main_py = tmp_path / "src" / "main.py"
    before = main_py.read_text(encoding="utf-8")

    result = jobctl("init", "demo", "-d", str(tmp_path))

    assert result.exit_code == 2  # a missing confirmation (README, exit codes)
    assert str(spec) in result.stderr
    assert "--force" in result.stderr
    assert result.stdout == ""
    assert spec.read_text(encoding="utf-8") == "# my edits\n"
    assert main_py.read_text(encoding="utf-8") == before


def test_init_force_overwrites(jobctl: Run, tmp_path: Path) -> None:
    assert jobctl("init", "demo", "-d", str(tmp_path)).exit_code == 0
    spec = tmp_path / "job.yaml"
    spec.write_text("# my edits\n", encoding="utf-8")

    result = jobctl("init", "demo", "-d", str(tmp_path), "--force")

    assert result.exit_code == 0, result.stderr
    assert "name: demo" in spec.read_text(encoding="utf-8")
    assert jobctl("validate", str(spec)).exit_code == 0


@pytest.mark.parametrize(("blocker", "said"), [
    ("my-job", "my-job: it is a file, not a directory"),
    ("my-job", "my-job: it is a symbolic link to gone, which is not there"),
    ("my-job", "my-job: it is a symbolic link to mine.txt, which is not a directory"),  # (it said "not there")
    ("my-job/src", "my-job/src: it is a file, not a directory"),
])
def test_init_refuses_a_file_where_it_writes_a_directory(jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         blocker: str, said: str) -> None:
    """Red team: `init NAME` where NAME was a file or a symbolic link to nothing was an internal FileExistsError
    (exit 1); with src a file, job.yaml was written first. Now a usage error naming the path, and nothing written."""
    monkeypatch.chdir(tmp_path)
    Path(blocker).parent.mkdir(exist_ok=True)
    if "symbolic" in said:
        (tmp_path / "mine.txt").write_text("mine\n")
        os.symlink("gone" if "gone" in said else "mine.txt", blocker)
    else:
        Path(blocker).write_text("mine\n")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))

    result = jobctl("init", "my-job")

    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: cannot write into {said}\n")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before
    assert not Path("gone").exists()


@pytest.mark.parametrize("name", ["Bad_Name", "1job", "job-", "a" * 64])
def test_init_rejects_an_invalid_name(jobctl: Run, tmp_path: Path, name: str) -> None:
    result = jobctl("init", name, "-d", str(tmp_path / "new"))

    assert result.exit_code == 2
    assert f"invalid job name {name!r}" in result.stderr
    assert not (tmp_path / "new" / "job.yaml").exists()


# --- start-up discipline --------------------------------------------------------------------------

HEAVY = ("oci", "rich", "jsonschema")
_PROBE = """
import json, sys
import jobctl.cli.app
after_import = sorted(sys.modules)
code = 0
try:
    jobctl.cli.app.cli.main(sys.argv[1:], prog_name="jobctl", standalone_mode=False)
except SystemExit as exc:
    code = exc.code
print(json.dumps({"after_import": after_import, "after_command": sorted(sys.modules), "exit": code}))
"""


def probe(*args: str) -> dict[str, Any]:
    """Run a command in a fresh interpreter; which top-level packages did import and the command load?"""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], cwd=REPO, capture_output=True, text=True, timeout=60,
        check=False, env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stderr
    outcome: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    for phase in ("after_import", "after_command"):
        outcome[phase] = {name.split(".")[0] for name in outcome[phase]} & set(HEAVY)
    return outcome


@pytest.mark.parametrize(
    "args",
    [("validate", "specs-examples/hello/job.yaml"), ("--help",), ("schema",), ("validate", "specs-examples")],
    ids=" ".join,
)
def test_cli_start_up_imports_no_heavy_package(args: tuple[str, ...]) -> None:
    outcome = probe(*args)

    assert outcome["exit"] == 0
    assert outcome["after_import"] == set()
    assert outcome["after_command"] == set()


def test_jsonschema_is_loaded_only_to_explain_an_invalid_spec(invalid_spec: Path) -> None:
    outcome = probe("validate", str(invalid_spec))

    assert outcome["exit"] == 3
    assert outcome["after_import"] == set()
    assert outcome["after_command"] == {"jsonschema"}


# --- the error boundary ---------------------------------------------------------------------------

def test_spec_errors_show_no_traceback(invalid_spec: Path) -> None:
    proc = run_jobctl("validate", str(invalid_spec))

    assert proc.returncode == 3
    assert "Error: " in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    ("args", "env"),
    [(("--traceback",), {}), ((), {"JOBCTL_TRACEBACK": "1"})],
    ids=["flag", "env"],
)
def test_traceback_on_request(tmp_path: Path, args: tuple[str, ...], env: dict[str, str]) -> None:
    proc = run_jobctl(*args, "validate", str(tmp_path / "missing.yaml"), env=env)

    assert proc.returncode != 0
    assert "Traceback (most recent call last)" in proc.stderr
    assert "SpecError" in proc.stderr


_CRASH = """
import sys
import jobctl.spec.load

def load_specs(*args, **kwargs):
    raise {exception}

jobctl.spec.load.load_specs = load_specs
sys.argv = ["jobctl", *sys.argv[1:]]
import jobctl.cli.app
jobctl.cli.app.main()
"""


def crash(exception: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `jobctl ARGS` in a fresh interpreter where loading specs raises `exception`."""
    return subprocess.run(
        [sys.executable, "-c", _CRASH.format(exception=exception), *args], cwd=REPO, capture_output=True,
        text=True, timeout=60, check=False, env={k: v for k, v in os.environ.items() if k != "JOBCTL_TRACEBACK"},
    )


def test_internal_error_is_a_message_without_traceback() -> None:
    proc = crash("RuntimeError('boom')", "validate", "specs-examples")

    assert proc.returncode == 1
    assert "Error: internal error: RuntimeError: boom" in proc.stderr
    assert "--traceback" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_internal_error_with_traceback_flag_shows_the_traceback() -> None:
    proc = crash("RuntimeError('boom')", "--traceback", "validate", "specs-examples")

    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "RuntimeError: boom" in proc.stderr


def test_keyboard_interrupt_exits_130_without_traceback() -> None:
    proc = crash("KeyboardInterrupt", "validate", "specs-examples")

    assert proc.returncode == 130
    assert "Interrupted" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_init_name_writes_into_a_directory_of_that_name(jobctl: Run, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18 item 7: `init NAME` wrote into the current directory."""
    monkeypatch.chdir(tmp_path)
    result = jobctl("init", "my-job")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "my-job/job.yaml", "my-job/src/main.py"]
    assert "next: jobctl validate my-job/job.yaml && jobctl apply my-job/job.yaml" in result.stdout
    assert jobctl("validate", "my-job").exit_code == 0
    empty = jobctl("init", "")  # an unset variable: not "here"
    assert empty.exit_code == 2
    assert "an empty job name or id (an unset variable?)" in empty.stderr


def test_validate_dir_reads_the_specs_of_an_ml_repo_and_skips_its_other_yaml(jobctl: Run, tmp_path: Path) -> None:
    """Issue 18 item 6: it failed on environment.yml and src/config.yaml."""
    assert jobctl("init", "train", "-d", str(tmp_path)).exit_code == 0
    (tmp_path / "environment.yml").write_text("name: ml\ndependencies: [python=3.11, pandas]\n")
    (tmp_path / "src" / "config.yaml").write_text("lr: 0.1\nlayers: [64, 64]\n")
    (tmp_path / "k8s.yaml").write_text("apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\n")
    result = jobctl("validate", str(tmp_path))
    assert (result.exit_code, result.stdout) == (0, "valid: 1 job in 1 file (train)\n"), result.stderr
    assert result.stderr == "3 other YAML files skipped (not specs); -v names them\n"  # red team: a typo hid
    verbose = jobctl("-v", "validate", str(tmp_path))
    for name in ("environment.yml", "k8s.yaml", "src/config.yaml"):
        assert f"skipped {tmp_path / name}: neither jobctl/v1 nor ADS job YAML" in verbose.stderr
    (tmp_path / "broken.yaml").write_text("kind: Job\nmetadata: {name: b}\nspec: {}\n")  # a spec missing its version
    broken = jobctl("validate", str(tmp_path))
    assert broken.exit_code == 3
    assert "broken.yaml:1:1" in broken.stderr
    only = tmp_path / "configs"
    only.mkdir()
    (only / "a.yaml").write_text("x: 1\n")
    none = jobctl("validate", str(only))
    assert none.exit_code == 3
    assert "directory holds no jobctl spec: its 1 YAML file(s) are neither jobctl/v1 nor ADS job YAML" in none.stderr


@pytest.mark.parametrize(("command", "said"), [
    (("runs",), "No runs found."), (("jobs",), "No jobs found."),
    (("applications",), "No Data Flow applications found."), (("workflow", "status"), "No workflow runs recorded."),
])
def test_an_empty_listing_says_so_on_stderr_and_prints_nothing_on_stdout(
        jobctl: Run, command: tuple[str, ...], said: str) -> None:
    """Red team, issue 18: an empty listing printed nothing at all, which looked like a hang or a failure."""
    result = jobctl(*command)
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", said + "\n")
    quiet = jobctl("-q", *command)
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    listed = jobctl(*command, "-o", "json")
    assert (listed.exit_code, json.loads(listed.stdout)["items"], listed.stderr) == (0, [], "")

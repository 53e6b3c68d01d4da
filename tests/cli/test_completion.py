"""Shell completion: `jobctl completion SHELL`, and job/run names offered from the backend on <Tab>.

Completions are asked for the way a shell asks: click's ShellComplete in-process for most cases, and a
real `python -m jobctl` with COMP_WORDS/COMP_CWORD/_JOBCTL_COMPLETE (and a real bash running the
generated script) for the end-to-end ones.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.shell_completion import ShellComplete

from jobctl.cli import complete
from jobctl.cli.app import cli
from jobctl.cli.context import AppContext
from tests.conftest import EXAMPLES, Result, run_jobctl

Run = Callable[..., Result]
HELLO = EXAMPLES / "hello" / "job.yaml"


def offered(line: str) -> list[str]:
    """What <Tab> offers at the end of `line` (a trailing space starts a new word)."""
    words = shlex.split(line)
    incomplete = "" if line.endswith(" ") else words.pop()
    completer = ShellComplete(cli, {}, "jobctl", "_JOBCTL_COMPLETE")
    return [item.value for item in completer.get_completions(words[1:], incomplete)]


def bash_complete(line: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Ask a real `jobctl` process, exactly as the bash script click generates does."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    return run_jobctl(env={"COMP_WORDS": " ".join(words), "COMP_CWORD": str(len(words) - 1),
                           "_JOBCTL_COMPLETE": "bash_complete", **env})


@pytest.fixture
def applied(jobctl: Run) -> Iterator[None]:
    """The hello job, applied, with one finished run named `nightly`; active runs are cancelled afterwards."""
    assert jobctl("apply", str(HELLO)).exit_code == 0
    assert jobctl("run", "hello", "--name", "nightly", "--wait").exit_code == 0
    yield
    jobctl("cancel", "--job", "hello", "--wait")


# --- the scripts --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("shell", "registration"), [
    ("bash", "complete -o nosort -F _jobctl_completion jobctl"),
    ("zsh", "compdef _jobctl_completion jobctl"),
    ("fish", "complete --no-files --command jobctl"),
])
def test_completion_prints_the_script_for_the_jobctl_program(jobctl: Run, shell: str, registration: str) -> None:
    result = jobctl("completion", shell)

    assert result.exit_code == 0
    assert f"_JOBCTL_COMPLETE={shell}_complete" in result.stdout.replace('"', "").replace("'", "")
    assert registration in result.stdout


def test_completion_rejects_an_unknown_shell(jobctl: Run) -> None:
    result = jobctl("completion", "powershell")

    assert result.exit_code == 2
    assert "'powershell' is not one of 'bash', 'zsh', 'fish'" in result.stderr


def test_commands_and_shells_complete(jobctl: Run) -> None:
    assert offered("jobctl comp") == ["completion"]
    assert offered("jobctl completion ") == ["bash", "zsh", "fish"]
    assert "markdown" in offered("jobctl plan job.yaml -o ")


# --- job and run names from the backend -----------------------------------------------------------------

@pytest.mark.usefixtures("applied")
@pytest.mark.parametrize(("line", "expected"), [
    ("jobctl run ", ["hello"]),
    ("jobctl run he", ["hello"]),
    ("jobctl run x", []),
    ("jobctl runs ", ["hello"]),
    ("jobctl delete ", ["hello"]),
    ("jobctl delete hello ", []),  # each job once
    ("jobctl logs --job ", ["hello"]),
    ("jobctl cancel --job ", ["hello"]),
    ("jobctl logs ", ["nightly"]),
    ("jobctl get ", ["hello", "nightly"]),
    ("jobctl wait ", []),  # nothing is running
    ("jobctl cancel ", []),
])
def test_job_and_run_arguments_complete_from_the_backend(line: str, expected: list[str]) -> None:
    assert offered(line) == expected


@pytest.mark.usefixtures("applied")
def test_ids_are_offered_once_something_is_typed(jobctl: Run) -> None:
    run_id = offered("jobctl logs run-")
    job_id = offered("jobctl run job-")

    assert len(run_id) == 1
    assert jobctl("get", run_id[0], "-o", "json").exit_code == 0
    assert len(job_id) == 1
    assert jobctl("get", job_id[0], "-o", "json").exit_code == 0


@pytest.mark.usefixtures("applied")
def test_wait_and_cancel_offer_only_active_runs_each_once(jobctl: Run) -> None:
    assert jobctl("run", "hello", "--name", "long", "--env", "SLEEP=60").exit_code == 0

    assert offered("jobctl cancel ") == ["long"]
    assert offered("jobctl wait ") == ["long"]
    assert offered("jobctl wait long ") == []
    assert offered("jobctl logs ") == ["long", "nightly"]  # newest first


@pytest.mark.usefixtures("applied")
def test_runs_sharing_a_name_are_offered_by_id(jobctl: Run) -> None:
    assert jobctl("run", "hello", "--name", "nightly", "--wait").exit_code == 0

    values = offered("jobctl logs ")

    assert "nightly" not in values
    assert len(values) == 2
    assert all(value.startswith("run-") for value in values)


@pytest.mark.usefixtures("applied")
def test_the_global_backend_option_on_the_line_is_used() -> None:
    assert offered("jobctl --backend memory run ") == []  # another backend: no hello there
    assert offered("jobctl --backend local run ") == ["hello"]


# --- never raise, never print, never hang ----------------------------------------------------------

def test_a_broken_state_directory_offers_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("", encoding="utf-8")
    monkeypatch.setenv("JOBCTL_HOME", str(not_a_directory))

    assert offered("jobctl run ") == []
    assert offered("jobctl --backend oci logs ") == []  # no OCI config here
    assert capsys.readouterr() == ("", "")


def test_a_backend_that_prints_and_fails_is_silenced(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    class Noisy:
        def list_jobs(self) -> list[object]:
            print("noise on stdout")
            print("noise on stderr", file=sys.stderr)
            raise RuntimeError("boom")

    monkeypatch.setattr(AppContext, "backend", lambda self: Noisy())

    assert offered("jobctl run ") == []
    assert capsys.readouterr() == ("", "")


def test_a_slow_backend_is_abandoned_after_the_time_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(self: AppContext) -> object:
        time.sleep(5)
        raise AssertionError("not reached in time")

    monkeypatch.setattr(AppContext, "backend", slow)
    monkeypatch.setattr(complete, "TIMEOUT_SECONDS", 0.2)

    started = time.monotonic()
    assert offered("jobctl run ") == []
    assert time.monotonic() - started < 2


# --- end to end, as the shell does it ----------------------------------------------------------------

@pytest.mark.usefixtures("applied")
def test_a_real_process_answers_the_bash_protocol() -> None:
    jobs = bash_complete("jobctl run ")
    runs = bash_complete("jobctl get n")

    assert (jobs.returncode, jobs.stdout, jobs.stderr) == (0, "plain,hello\n", "")
    assert (runs.returncode, runs.stdout, runs.stderr) == (0, "plain,nightly\n", "")


@pytest.mark.usefixtures("applied")
def test_zsh_completions_carry_a_description() -> None:
    proc = run_jobctl(env={"COMP_WORDS": "jobctl run ", "COMP_CWORD": "2", "_JOBCTL_COMPLETE": "zsh_complete"})

    kind, value, description = proc.stdout.splitlines()
    assert (kind, value) == ("plain", "hello")
    assert description.startswith("job-")


def test_an_unknown_command_while_completing_is_not_an_error() -> None:
    proc = bash_complete("jobctl valdate ")

    assert (proc.returncode, proc.stderr) == (0, "")  # click falls back to offering the commands


@pytest.mark.usefixtures("applied")
def test_the_generated_bash_script_completes_job_names_in_bash() -> None:
    bin_dir = Path(sys.executable).parent
    assert shutil.which("bash"), "the completion script is bash: this test needs it"
    assert (bin_dir / "jobctl").exists(), "run the tests with the interpreter `make install` set up"
    script = 'source <(jobctl completion bash); COMP_WORDS=(jobctl run ""); COMP_CWORD=2; ' \
             '_jobctl_completion jobctl; printf "%s\\n" "${COMPREPLY[@]}"'
    proc = subprocess.run(
        ["bash", "-c", script], env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
        capture_output=True, text=True, timeout=60, check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "hello\n"

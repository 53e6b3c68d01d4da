"""Issue 18 item 8: which python a local python job runs with — chosen explicitly ($JOBCTL_PYTHON, else the
active virtualenv or conda environment, else jobctl's own), recorded with the run, shown by `run` and `get`,
refused before the run starts when it cannot run, and named in a hint when the job's import failed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from tests.cli.test_lifecycle_local import Run, applied, as_json, job_doc, runs_of

IMPORTS = "import not_installed_anywhere_xyz\n"


def fake_python(prefix: Path) -> Path:
    """`prefix/bin/python`: a stand-in interpreter that notes it was used, then runs the real one."""
    python = prefix / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho used >> "{prefix}/used"\nexec "{sys.executable}" "$@"\n', encoding="utf-8")
    python.chmod(0o755)
    return python


def used(python: Path) -> bool:
    return (python.parents[1] / "used").is_file()


@pytest.fixture
def job(jobctl: Run, tmp_path: Path) -> Path:
    """An applied python job `demo` whose script prints a line."""
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "workload.py").write_text("print('hello from the job')\n", encoding="utf-8")
    spec = specs / "job.yaml"
    spec.write_text(yaml.safe_dump(job_doc(args=())), encoding="utf-8")
    applied(jobctl, spec)
    return spec


def test_an_active_virtualenv_runs_the_job_and_run_and_get_show_it(jobctl: Run, job: Path, tmp_path: Path) -> None:
    python = fake_python(tmp_path / "venv")
    ran = jobctl("run", "demo", "--wait", env={"VIRTUAL_ENV": str(tmp_path / "venv")})
    assert ran.exit_code == 0, ran.stderr
    assert f"python: {python}\n" in ran.stderr
    assert used(python)
    [run] = runs_of(jobctl, "demo")
    assert as_json(jobctl("get", run["id"], "-o", "json"))["interpreter"] == str(python)
    shown = jobctl("get", run["id"])
    assert f"Python:    {python}\n" in shown.stdout


def test_a_conda_environment_is_used_when_no_virtualenv_is_active(jobctl: Run, job: Path, tmp_path: Path) -> None:
    python = fake_python(tmp_path / "conda-env")
    ran = jobctl("run", "demo", "--wait", "-o", "json", env={"CONDA_PREFIX": str(tmp_path / "conda-env")})
    assert ran.exit_code == 0, ran.stderr
    assert as_json(ran)["items"][0]["interpreter"] == str(python)
    assert used(python)


def test_jobctl_python_wins_and_a_run_keeps_the_interpreter_it_started_with(
        jobctl: Run, job: Path, tmp_path: Path) -> None:
    venv, chosen = fake_python(tmp_path / "venv"), fake_python(tmp_path / "chosen")
    started = jobctl("run", "demo", env={"VIRTUAL_ENV": str(venv.parents[1]), "JOBCTL_PYTHON": str(chosen)})
    assert started.exit_code == 0, started.stderr
    [run_id] = started.stdout.split()
    waited = jobctl("wait", run_id, "-o", "json")  # another environment now: the run's own choice stands
    assert waited.exit_code == 0, waited.stderr
    assert as_json(waited)["items"][0]["interpreter"] == str(chosen)
    assert used(chosen)
    assert not used(venv)


@pytest.mark.parametrize("given", ["relative", "name on PATH"])
def test_jobctl_python_as_a_relative_path_or_a_name_on_path_is_the_file_it_names_here(
        jobctl: Run, job: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str) -> None:
    """Red team: JOBCTL_PYTHON=.venv/bin/python passed the check then failed in the run's directory, and
    JOBCTL_PYTHON=python3 "did not exist" with python3 on PATH."""
    chosen = fake_python(tmp_path / "chosen")
    monkeypatch.chdir(tmp_path)
    env = ({"JOBCTL_PYTHON": "chosen/bin/python"} if given == "relative" else
           {"JOBCTL_PYTHON": "python", "PATH": f"{chosen.parent}:/usr/bin:/bin"})
    ran = jobctl("run", "demo", "--wait", "-o", "json", env=env)
    assert ran.exit_code == 0, ran.stderr
    assert as_json(ran)["items"][0]["interpreter"] == str(chosen)
    assert used(chosen)


def test_jobctl_own_environment_active_means_jobctl_own_interpreter(jobctl: Run, job: Path) -> None:
    ran = jobctl("run", "demo", "--wait", "-o", "json", env={"VIRTUAL_ENV": sys.prefix})
    assert ran.exit_code == 0, ran.stderr
    assert as_json(ran)["items"][0]["interpreter"] == sys.executable


@pytest.mark.parametrize("kind", ["missing", "not executable"])
def test_an_interpreter_that_cannot_run_is_refused_before_the_run_starts(
        jobctl: Run, job: Path, tmp_path: Path, kind: str) -> None:
    python = tmp_path / "python"
    if kind == "not executable":
        python.write_text("#!/bin/sh\n", encoding="utf-8")
    ran = jobctl("run", "demo", "--wait", env={"JOBCTL_PYTHON": str(python)})
    assert ran.exit_code == 6, ran.stderr
    problem = "does not exist" if kind == "missing" else "is not an executable file"
    assert f"Error: the python interpreter {python} (JOBCTL_PYTHON) {problem}" in ran.stderr
    assert "set JOBCTL_PYTHON to the python that has your job's packages" in ran.stderr
    assert runs_of(jobctl, "demo") == []


def test_a_bare_name_is_a_command_on_path_not_a_file_of_the_current_directory(
        jobctl: Run, job: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team, session 14: JOBCTL_PYTHON=pyhere, a file here and no command on PATH, passed the check (the file
    was found from here) and was stored as given, so the run, in its own directory, failed to start it."""
    fake_python(tmp_path / "here")
    monkeypatch.chdir(tmp_path / "here" / "bin")
    ran = jobctl("run", "demo", "--wait", env={"JOBCTL_PYTHON": "python", "PATH": "/nonexistent"})
    assert ran.exit_code == 6, ran.stderr
    assert "Error: the python interpreter python (JOBCTL_PYTHON) is no command on PATH (for a file of the " \
           "current directory, give ./python)" in ran.stderr
    assert runs_of(jobctl, "demo") == []


def test_a_shell_job_has_no_interpreter_to_choose(jobctl: Run, tmp_path: Path) -> None:
    specs = tmp_path / "shell"
    specs.mkdir()
    (specs / "run.sh").write_text("echo hi\n", encoding="utf-8")
    doc = job_doc("sh", args=())
    doc["spec"]["runtime"] = {"type": "shell", "source": "./run.sh"}
    (specs / "job.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    applied(jobctl, specs / "job.yaml")
    ran = jobctl("run", "sh", "--wait", "-o", "json", env={"JOBCTL_PYTHON": str(tmp_path / "nowhere")})
    assert ran.exit_code == 0, ran.stderr
    assert "interpreter" not in as_json(ran)["items"][0]
    assert "python:" not in ran.stderr


def test_a_missing_module_names_the_interpreter_that_lacks_it(jobctl: Run, job: Path, tmp_path: Path) -> None:
    (job.parent / "workload.py").write_text(IMPORTS, encoding="utf-8")
    applied(jobctl, job, "--yes")
    python = fake_python(tmp_path / "venv")
    hint = (f"hint: not_installed_anywhere_xyz is not installed in {python}; set JOBCTL_PYTHON or activate the "
            "environment that has it\n")
    ran = jobctl("run", "demo", "--wait", env={"VIRTUAL_ENV": str(tmp_path / "venv")})
    assert ran.exit_code == 1
    assert hint in ran.stderr
    [run] = runs_of(jobctl, "demo")
    waited = jobctl("wait", run["id"])
    assert (waited.exit_code, waited.stderr.count(hint)) == (1, 1)

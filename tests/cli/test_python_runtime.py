"""workingDir, pythonPath, entryFunction and outputDir/outputUri: jobctl's driver runs the code the same
way locally and on OCI (against the fake, running the artifact's real code). Issue 15, item 1."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jobctl.testing.fake_oci import FakeOCI
from jobctl.testing.fake_oci.workloads import artifact_workload
from tests.conftest import Result, job_document, use_fake_oci

Run = Callable[..., Result]

MAIN = """
import json, os, sys
import greet  # from pythonPath


def train(epochs, lr=None, fast="unset"):
    print(json.dumps({"epochs": epochs, "lr": lr, "fast": fast}))


if __name__ == "__main__":
    print(json.dumps({"cwd": os.path.basename(os.getcwd()), "args": sys.argv[1:], "greet": greet.hello(),
                      "pythonpath": os.environ.get("PYTHONPATH", "").split(os.pathsep)}))
    os.makedirs("out/deep", exist_ok=True)
    open("out/result.txt", "w").write("42\\n")
    open("out/deep/model.bin", "wb").write(b"\\x00\\x01")
    sys.exit(int(os.environ.get("EXIT", "0")))
"""


def project(tmp_path: Path, **runtime: Any) -> Path:
    code = tmp_path / "project" / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "lib").mkdir()
    (code / "pkg" / "main.py").write_text(MAIN)
    (code / "lib" / "greet.py").write_text("def hello():\n    return 'hi from lib'\n")
    spec = tmp_path / "project" / "job.yaml"
    fields = {"type": "python", "source": "./code", "entrypoint": "pkg/main.py", "workingDir": ".",
              "pythonPath": ["lib"], "outputDir": "out", "outputUri": "oci://results@mytenancy/runs/$JOB_RUN_OCID",
              **runtime}
    fields = {key: value for key, value in fields.items() if value is not None}
    spec.write_text(json.dumps(job_document("driven", fields)))
    return spec


def ran(jobctl: Run, spec: Path, *run: str, exit_code: int = 0) -> tuple[str, dict[str, Any]]:
    """Apply, run and wait: the run's id and the JSON line its code printed."""
    assert jobctl("apply", str(spec), "--yes").exit_code == 0
    started = jobctl("-o", "json", "run", "driven", "--wait", *run)
    assert started.exit_code == exit_code, started.stderr
    [run_state] = json.loads(started.stdout)["items"]
    logs = jobctl("logs", run_state["id"]).stdout
    [line] = [text for text in logs.splitlines() if text.startswith("{")]
    return run_state["id"], json.loads(line)


def local_bucket() -> Path:
    """Where a local run's outputUri oci://results@mytenancy/ goes (docs/runtimes.md)."""
    return Path(os.environ["JOBCTL_HOME"]) / "object-storage" / "mytenancy" / "results"


SEEN = {"cwd": "code", "args": ["--x", "1"], "greet": "hi from lib"}


def test_locally_the_driver_runs_the_code_where_the_spec_says_and_keeps_its_outputs(jobctl: Run,
                                                                                   tmp_path: Path) -> None:
    spec = project(tmp_path, args=["--x", "1"])
    run_id, seen = ran(jobctl, spec)
    assert {k: seen[k] for k in SEEN} == SEEN
    assert seen["pythonpath"][0].endswith("/code/lib")  # subprocesses import from pythonPath too
    bucket = local_bucket() / "runs" / run_id
    assert (bucket / "result.txt").read_text() == "42\n"
    assert (bucket / "deep" / "model.bin").read_bytes() == b"\x00\x01"


def test_a_failed_run_still_uploads_its_outputs_and_keeps_its_exit_code(jobctl: Run, tmp_path: Path) -> None:
    run_id, _ = ran(jobctl, project(tmp_path), "--env", "EXIT=3", exit_code=1)
    state = json.loads(jobctl("-o", "json", "get", run_id).stdout)
    assert state["exitCode"] == 3
    assert (local_bucket() / "runs" / run_id / "result.txt").exists()


def test_an_entry_function_gets_the_args_as_its_arguments(jobctl: Run, tmp_path: Path) -> None:
    spec = project(tmp_path, entryFunction="train", args=["5", "--lr", "0.1", "--fast"], outputDir=None,
                   outputUri=None)
    _, seen = ran(jobctl, spec)
    assert seen == {"epochs": "5", "lr": "0.1", "fast": None}


def test_on_oci_the_same_spec_runs_the_same_and_uploads_to_the_bucket(
    jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        fake.workload = artifact_workload(fake)
        fake.create_bucket("results", namespace="mytenancy")
        use_fake_oci(fake, tmp_path, monkeypatch, "driven")
        spec = project(tmp_path, args=["--x", "1"])

        run_id, seen = ran(jobctl, spec)

        assert {k: seen[k] for k in SEEN} == SEEN
        [job] = fake.jobs()
        env = job["jobConfigurationDetails"]["environmentVariables"]
        assert env["JOB_RUN_ENTRYPOINT"] == "code/.jobctl/driver.py"
        assert env["JOBCTL_ENTRYPOINT"] == "code/pkg/main.py"
        names = zipfile.ZipFile(io.BytesIO(fake.artifact(job["id"]) or b"")).namelist()
        assert "code/.jobctl/driver.py" in names
        assert fake.store.objects[("mytenancy", "results", f"runs/{run_id}/result.txt")].content == b"42\n"
        assert ("mytenancy", "results", f"runs/{run_id}/deep/model.bin") in fake.store.objects
        assert jobctl("plan", str(spec), "--detailed-exitcode", "--refresh").exit_code == 0  # read back whole


def test_on_oci_a_missing_bucket_fails_the_run(jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOCI() as fake:
        fake.workload = artifact_workload(fake)
        use_fake_oci(fake, tmp_path, monkeypatch, "nobucket")
        run_id, _ = ran(jobctl, project(tmp_path), exit_code=1)
        assert "upload to oci://results@mytenancy/ failed: BucketNotFound" in jobctl("logs", run_id).stdout


def test_outputs_come_from_where_the_code_started_even_if_it_changed_directory(jobctl: Run, tmp_path: Path) -> None:
    """Review: the directory to upload was resolved after the code ran, so an os.chdir() changed it."""
    spec = project(tmp_path, args=["--x", "1"])
    main = tmp_path / "project" / "code" / "pkg" / "main.py"
    main.write_text(main.read_text().replace('    sys.exit(', '    os.chdir("/")\n    sys.exit('))
    run_id, _ = ran(jobctl, spec)
    assert (local_bucket() / "runs" / run_id / "result.txt").read_text() == "42\n"


def test_exporting_a_driven_job_gives_back_its_source_without_the_driver(jobctl: Run, tmp_path: Path) -> None:
    """Review: the exported source held .jobctl/driver.py, which plan then refused as a user file."""
    spec = project(tmp_path)
    assert jobctl("apply", str(spec), "--yes", "--set-name", "x").exit_code == 0
    assert jobctl("export", "driven", "-d", str(tmp_path / "exported")).exit_code == 0
    exported = tmp_path / "exported" / "driven"
    assert not list(exported.rglob(".jobctl"))
    plan = jobctl("plan", str(exported / "job.yaml"), "--detailed-exitcode", "--set-name", "x")
    assert plan.exit_code == 0, plan.stdout + plan.stderr


@pytest.mark.parametrize(("runtime", "message"), [
    ({"outputUri": "oci://results@mytenancy/../../escaped"}, "without a '.' or '..' as a part of it"),
    ({"outputUri": "oci://..@mytenancy/x"}, "without a '.' or '..' as a part of it"),
    ({"workingDir": "nosuch"}, "workingDir 'nosuch' is not a directory in source './code'"),
    ({"workingDir": "pkg/main.py"}, "is not a directory in source"),
])
def test_paths_that_leave_their_place_are_refused_by_validate(jobctl: Run, tmp_path: Path, runtime: dict[str, Any],
                                                              message: str) -> None:
    result = jobctl("validate", str(project(tmp_path, **runtime)))
    assert result.exit_code == 3
    assert message in result.stderr, result.stderr


def test_the_fakes_artifact_workload_runs_a_single_file_source(jobctl: Run, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The red team: a job whose source is one file (not a zip) failed in the fake with 500 BadZipFile."""
    with FakeOCI() as fake:
        fake.workload = artifact_workload(fake)
        use_fake_oci(fake, tmp_path, monkeypatch, "single")
        (tmp_path / "main.py").write_text("import json, sys\nprint(json.dumps({'args': sys.argv[1:]}))\n")
        spec = tmp_path / "job.yaml"
        spec.write_text(json.dumps(job_document("driven", {"type": "python", "source": "./main.py", "args": ["a"]})))
        _, seen = ran(jobctl, spec)
        assert seen == {"args": ["a"]}

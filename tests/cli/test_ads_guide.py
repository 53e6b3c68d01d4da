"""The job YAML examples of ADS's own user guide (tests/data/ads/guide, see its README), as written."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Result

Run = Callable[..., Result]
GUIDE = REPO / "tests" / "data" / "ads" / "guide"
WORKS = {"container_runtime-1.yaml": "my-job", "script_runtime-1.yaml": "my-job",
         "python_runtime-1.yaml": "my-job", "name_substitution-1.yaml": "training-on-mydata",
         "git_runtime-1.yaml": "my-job", "training_job-1.yaml": "my-job",  # git: cloned at run time (network)
         "pytorch_ddp_torchrun-1.yaml": "pytorch-mingpt", "llama2_full-1.yaml": "llama2-fine-tuning",
         "git_notebook-1.yaml": "my-job", "notebook_runtime-1.yaml": "my-job", "quick_start_job-1.yaml": "my-job"}


def test_the_table_covers_every_file_of_the_corpus() -> None:
    assert sorted(p.name for p in GUIDE.glob("*.yaml")) == sorted(WORKS)


@pytest.mark.parametrize(("name", "job"), sorted(WORKS.items()))
def test_a_guide_file_validates_as_written(jobctl: Run, name: str, job: str) -> None:
    result = jobctl("validate", str(GUIDE / name))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"valid: 1 job in 1 file ({job})\n"


def test_the_quick_start_runs_locally_with_its_file_storage_mount_named_by_ip(jobctl: Run) -> None:
    """`src: 10.0.0.10@/example-export` (the guide's form; ADS's code takes `:`) is a directory locally."""
    shared = Path(os.environ["JOBCTL_HOME"]) / "mounts" / "file-storage" / "10.0.0.10" / "example-export"
    shared.mkdir(parents=True)
    (shared / "weights.bin").write_bytes(b"w")
    spec = str(GUIDE / "quick_start_job-1.yaml")
    assert jobctl("apply", spec, "--yes").exit_code == 0
    run = jobctl("-o", "json", "run", "my-job", "--wait")
    assert run.exit_code == 0, run.stderr
    logs = jobctl("logs", json.loads(run.stdout)["items"][0]["id"]).stdout
    assert "Good morning, your environment variable has value of (Welcome to OCI Data Science.)" in logs
    assert "shared: ['weights.bin']" in logs


def test_the_script_runtime_example_runs_locally_as_written(jobctl: Run) -> None:
    spec = str(GUIDE / "script_runtime-1.yaml")
    plan = jobctl("plan", spec)
    assert "display name: 'My Job' (jobctl name 'my-job')" in plan.stdout
    assert jobctl("apply", spec, "--yes").exit_code == 0
    run = jobctl("-o", "json", "run", "my-job", "--wait")
    assert run.exit_code == 0, run.stderr
    [started] = json.loads(run.stdout)["items"]
    logs = jobctl("logs", started["id"]).stdout
    assert "NAME=Welcome to OCI Data Science." in logs
    assert 'arg: 100 linux "hi there"' in logs  # one argument, as ADS quotes each one
    jobs = json.loads(jobctl("-o", "json", "jobs").stdout)["items"]
    assert [(j["name"], j["displayName"]) for j in jobs] == [("my-job", "My Job")]
    assert Path(spec).read_text(encoding="utf-8").count("My Job") == 1  # the file as the guide writes it


def test_the_python_runtime_examples_run_locally_as_written(jobctl: Run) -> None:
    """workingDir, pythonPath, outputDir/outputUri, and ${JOB_RUN_OCID} in outputUri filled at run time."""
    store = Path(os.environ["JOBCTL_HOME"]) / "object-storage"
    specs = [str(GUIDE / "python_runtime-1.yaml"), str(GUIDE / "name_substitution-1.yaml")]
    assert jobctl("apply", *specs, "--yes", "--set-name", "guide").exit_code == 0

    run = json.loads(jobctl("-o", "json", "run", "my-job", "--wait").stdout)["items"][0]
    logs = jobctl("logs", run["id"]).stdout
    assert "greeting from other_packages: Welcome to OCI Data Science." in logs  # imported via pythonPath
    assert "positional=arg1 key=arg2 cwd=" in logs
    assert logs.split("cwd=")[1].split()[0].endswith("/code_dir")  # workingDir: code_dir
    assert (store / "namespace" / "bucket_name" / "path" / "to" / "dir" / "result.txt").is_file()

    run = json.loads(jobctl("-o", "json", "run", "training-on-mydata", "--wait").stdout)["items"][0]
    assert (store / "namespace" / "bucket_name" / "prefix" / run["id"] / "metrics.txt").is_file()


@pytest.mark.parametrize("name", sorted(WORKS))
def test_the_conversion_of_a_guide_file_is_the_job_it_applied(jobctl: Run, tmp_path: Path, name: str) -> None:
    assert jobctl("apply", str(GUIDE / name), "--yes", "--set-name", "guide").exit_code == 0
    converted = tmp_path / "converted" / "job.yaml"
    assert jobctl("convert", str(GUIDE / name), "-o", str(converted)).exit_code == 0
    # secret values are written as ${NAME} references: `apply` takes them from the environment
    import yaml

    ads_env = yaml.safe_load((GUIDE / name).read_text(encoding="utf-8"))["spec"]["runtime"]["spec"].get("env", [])
    secrets = {item["name"]: str(item["value"]) for item in ads_env}
    plan = jobctl("plan", str(converted), "--detailed-exitcode", "--set-name", "guide", env=secrets)
    assert plan.exit_code == 0, plan.stdout + plan.stderr


def test_every_supported_guide_file_applies_and_runs_against_the_fake(
    jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Applied to OCI (the fake) as written, each job runs to SUCCEEDED. The fake's default workload echoes
    the run's configuration: the code of these examples needs github and GPUs, which the tests above
    stand in for."""
    from jobctl.testing.fake_oci import FakeOCI
    from tests.conftest import use_fake_oci

    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "guide")
        storage = fake.add_mount_target("10.0.0.10", ["/example-export"])  # the quick start's mount
        for name in sorted(WORKS):
            applied = jobctl("apply", str(GUIDE / name), "--yes", "--set-name", name)
            assert applied.exit_code == 0, f"{name}: {applied.stderr}"
            job = max(fake.jobs(), key=lambda j: j["timeCreated"])
            ran = jobctl("-o", "json", "run", job["id"], "--wait")
            assert ran.exit_code == 0, f"{name}: {ran.stderr}"
            assert json.loads(ran.stdout)["items"][0]["lifecycleState"] == "SUCCEEDED", name
            if name == "quick_start_job-1.yaml":  # its mount target and export named by IP and path, by OCID here
                mounts = job["jobStorageMountConfigurationDetailsList"]
                assert [(m.get("mountTargetId"), m.get("exportId")) for m in mounts] == [
                    (storage["id"], storage["exports"]["/example-export"]), (None, None)]
            assert jobctl("delete", job["id"], "--yes").exit_code == 0  # the next file's job is also my-job

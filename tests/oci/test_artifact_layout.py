"""Job artifacts as OCI's "Preparing Job Artifacts" requires them: a zip holds all code under one root
directory named as the archive, and JOB_RUN_ENTRYPOINT names the entry file under it. The run's
working directory is where the artifact is unpacked (the root directory's parent), locally as on OCI,
so the same code finds the same files in both places."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import oci
import pytest

from jobctl.testing.fake_oci import FakeOCI
from jobctl.testing.fake_oci.workloads import artifact_workload
from tests.conftest import use_fake_oci
from tests.oci.conftest import SdkClients
from tests.oci.test_fake_oci import job_details

M = oci.data_science.models
MAIN = """
import json, os
import helper  # a sibling module: the entry file's directory is on sys.path
here = os.path.dirname(os.path.abspath(__file__))
print(json.dumps({"cwd_holds_source": os.path.exists("train/data.csv"), "data_in_cwd": os.path.exists("data.csv"),
                  "beside_entry": open(os.path.join(here, "data.csv")).read().strip(), "helper": helper.VALUE}))
"""


def project(tmp_path: Path) -> Path:
    source = tmp_path / "project" / "train"
    source.mkdir(parents=True)
    (source / "main.py").write_text(MAIN)
    (source / "helper.py").write_text("VALUE = 42\n")
    (source / "data.csv").write_text("a,b\n")
    spec = tmp_path / "project" / "job.yaml"
    spec.write_text("""apiVersion: jobctl/v1
kind: Job
metadata: {name: layout}
spec:
  compartmentId: ${OCI_COMPARTMENT_ID:-ocid1.compartment.oc1..placeholder}
  projectId: ${OCI_PROJECT_ID:-ocid1.datascienceproject.oc1.iad.placeholder}
  infrastructure: {shape: VM.Standard2.1}
  logging: {logGroupId: "${OCI_LOG_GROUP_ID:-ocid1.loggroup.oc1.iad.placeholder}", autoCreateLog: true}
  runtime: {type: python, source: ./train, entrypoint: main.py}
""")
    return spec


def what_the_run_saw(jobctl: Any, spec: Path) -> dict[str, Any]:
    assert jobctl("apply", str(spec), "--yes").exit_code == 0
    ran = jobctl("run", "layout", "--wait")
    assert ran.exit_code == 0, ran.stderr
    logs = jobctl("logs", "--job", "layout")
    assert logs.exit_code == 0, logs.stderr
    [line] = [text for text in logs.stdout.splitlines() if text.startswith("{")]
    seen: dict[str, Any] = json.loads(line)
    return seen


EXPECTED = {"cwd_holds_source": True, "data_in_cwd": False, "beside_entry": "a,b", "helper": 42}


def test_locally_a_run_sees_its_files_as_on_oci(jobctl: Any, tmp_path: Path) -> None:
    assert what_the_run_saw(jobctl, project(tmp_path)) == EXPECTED


def test_on_oci_the_artifact_has_one_root_directory_and_the_run_sees_the_same(
    jobctl: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        fake.workload = artifact_workload(fake)  # unpacks the artifact and runs JOB_RUN_ENTRYPOINT from there
        use_fake_oci(fake, tmp_path, monkeypatch, "layout")

        assert what_the_run_saw(jobctl, project(tmp_path)) == EXPECTED

        [job] = fake.jobs()
        names = zipfile.ZipFile(io.BytesIO(fake.artifact(job["id"]) or b"")).namelist()
        assert sorted(names) == ["train/data.csv", "train/helper.py", "train/main.py"]
        assert job["jobConfigurationDetails"]["environmentVariables"]["JOB_RUN_ENTRYPOINT"] == "train/main.py"


@pytest.mark.parametrize(("files", "entry", "problem"), [
    ({"main.py": "print(1)"}, "main.py", "must hold all its files under one directory named train/"),
    ({"train/main.py": "print(1)"}, "main.py", "JOB_RUN_ENTRYPOINT 'main.py' is not a file of the job artifact"),
    ({"train/main.py": "print(1)"}, "train/other.py", "JOB_RUN_ENTRYPOINT 'train/other.py' is not a file"),
])
def test_the_fake_fails_a_run_of_an_artifact_oci_would_not_run(
    clients: SdkClients, files: dict[str, str], entry: str, problem: str,
) -> None:
    config = M.DefaultJobConfigurationDetails(environment_variables={"JOB_RUN_ENTRYPOINT": entry})
    job = clients.data_science.create_job(job_details(job_configuration_details=config)).data
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    clients.data_science.create_job_artifact(job.id, body.getvalue(),
                                             content_disposition="attachment; filename=train.zip")
    run = clients.data_science.create_job_run(M.CreateJobRunDetails(
        project_id=job.project_id, compartment_id=job.compartment_id, job_id=job.id)).data

    for _ in range(3):  # the fake moves a run one step per read
        seen = clients.data_science.get_job_run(run.id).data
    assert seen.lifecycle_state == "FAILED"
    assert problem in seen.lifecycle_details

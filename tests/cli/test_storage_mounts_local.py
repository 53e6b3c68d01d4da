"""Storage mounts: a local run finds each mount's directory at $JOBCTL_MOUNT_<NAME> (under
$JOBCTL_HOME/mounts); on OCI the same variable holds destinationPath/destinationDirectoryName."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobctl.testing.fake_oci import FakeOCI
from tests.cli.test_lifecycle_local import Run, applied, ok
from tests.conftest import use_fake_oci

READER = """\
import os
from pathlib import Path
data = Path(os.environ["JOBCTL_MOUNT_TRAIN_DATA"])
print("read:", (data / "rows.csv").read_text().strip())
(Path(os.environ["JOBCTL_MOUNT_SHARED"]) / "model.txt").write_text("trained")
"""
MOUNTS = [
    {"storageType": "OBJECT_STORAGE", "namespace": "ns", "bucket": "datasets", "prefix": "sales/2026",
     "destinationDirectoryName": "train-data"},
    {"storageType": "FILE_STORAGE", "mountTargetId": "ocid1.mounttarget.oc1.iad.aaaa",
     "exportId": "ocid1.export.oc1.iad.aaaa", "destinationDirectoryName": "shared"},
]


def mounted_job(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "reader.py").write_text(READER)
    spec = {
        "apiVersion": "jobctl/v1", "kind": "Job", "metadata": {"name": "mounted"},
        "spec": {
            "compartmentId": "${OCI_COMPARTMENT_ID:-ocid1.compartment.oc1..x}",
            "projectId": "${OCI_PROJECT_ID:-ocid1.datascienceproject.oc1.iad.x}",
            "storageMounts": MOUNTS,
            "infrastructure": {"shape": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGBs": 16},
            "runtime": {"type": "python", "source": "./reader.py"},
        },
    }
    (directory / "job.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return directory / "job.yaml"


def test_a_local_run_reads_and_writes_its_mounts_under_jobctl_home(
    jobctl: Run, tmp_path: Path, isolated_env: Path,
) -> None:
    bucket = isolated_env / "mounts" / "object-storage" / "ns" / "datasets" / "sales" / "2026"
    bucket.mkdir(parents=True)
    (bucket / "rows.csv").write_text("a,b\n")
    applied(jobctl, mounted_job(tmp_path / "specs"))

    ok(jobctl("run", "mounted", "--wait"))

    assert "read: a,b" in ok(jobctl("logs", "--job", "mounted")).stdout
    export = isolated_env / "mounts" / "file-storage" / "ocid1.export.oc1.iad.aaaa"
    assert (export / "model.txt").read_text() == "trained"


def test_on_oci_the_same_variable_names_the_mount_and_reads_back_as_no_change(
    jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "mounts")
        spec = mounted_job(tmp_path / "specs")
        applied(jobctl, spec)
        [job] = fake.jobs()
        env = job["jobConfigurationDetails"]["environmentVariables"]
        assert (env["JOBCTL_MOUNT_TRAIN_DATA"], env["JOBCTL_MOUNT_SHARED"]) == ("/mnt/train-data", "/mnt/shared")
        assert [m["destinationPath"] for m in job["jobStorageMountConfigurationDetailsList"]] == ["/mnt", "/mnt"]
        assert jobctl("plan", str(spec), "--refresh", "--detailed-exitcode").exit_code == 0

        unmounted = spec.read_text()
        cut = unmounted.index("  storageMounts:")
        spec.write_text(unmounted[:cut] + unmounted[unmounted.index("  infrastructure:"):])
        plan = jobctl("plan", str(spec))
        assert "- storageMounts: " in plan.stdout
        assert "forces replacement" not in plan.stdout
        applied(jobctl, spec)
        [updated] = fake.jobs()
        assert (updated["id"], updated.get("jobStorageMountConfigurationDetailsList") or []) == (job["id"], [])
        assert jobctl("plan", str(spec), "--refresh", "--detailed-exitcode").exit_code == 0


@pytest.mark.parametrize(("names", "says"), [
    (("data", "DATA"), "the variable $JOBCTL_MOUNT_DATA"),
    (("a-b", "a_b"), "the variable $JOBCTL_MOUNT_A_B"),
    (("data", "data"), "the directory /mnt/data"),
])
def test_mounts_that_would_share_a_directory_or_a_variable_are_refused(
    jobctl: Run, tmp_path: Path, names: tuple[str, str], says: str,
) -> None:
    spec = mounted_job(tmp_path / "specs")
    doc = yaml.safe_load(spec.read_text())
    doc["spec"]["storageMounts"] = [{**MOUNTS[0], "destinationDirectoryName": names[0]},
                                    {**MOUNTS[0], "bucket": "other", "destinationDirectoryName": names[1]}]
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))

    result = jobctl("validate", str(spec))

    assert result.exit_code == 3
    assert f"spec.storageMounts[1].destinationDirectoryName: storage mounts 1 and 2 would share {says}" in result.stderr


def test_a_run_cannot_set_the_variables_jobctl_sets(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, mounted_job(tmp_path / "specs"))
    for name in ("JOBCTL_MOUNT_DATA", "JOBCTL_RUN_ID", "CONDA_ENV_SLUG", "JOB_RUN_OCID"):
        result = jobctl("run", "mounted", "--env", f"{name}=/etc")
        assert result.exit_code == 2, result.stderr
        assert f"--env {name}=...: names starting with JOBCTL_, CONDA_ENV_, JOB_RUN_ are set by jobctl" in result.stderr

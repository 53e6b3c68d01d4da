"""A File Storage mount named by mount target IP and export path (ADS's user guide form) is looked up on
OCI at plan time, exactly: search yields candidates, reads confirm them (docs/oci-fidelity.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import Result, job_document

Run = Callable[..., Result]


def spec(directory: Path, **mount: str) -> Path:
    (directory / "main.py").write_text("print('hi')\n")
    path = directory / "job.yaml"
    storage = {"storageType": "FILE_STORAGE", "destinationDirectoryName": "shared", **mount}
    path.write_text(json.dumps(job_document("fss", {"type": "python", "source": "./main.py"},
                                            storageMounts=[storage])))
    return path


def mounts(fake: FakeOCI) -> list[tuple[str, str]]:
    [job] = [j for j in fake.jobs() if j["lifecycleState"] == "ACTIVE"]
    return [(m["mountTargetId"], m["exportId"]) for m in job["jobStorageMountConfigurationDetailsList"]]


def test_a_mount_named_by_ip_and_path_is_created_with_their_ocids_and_plans_no_changes(
    fake: FakeOCI, jobctl: Run, tmp_path: Path,
) -> None:
    near = fake.add_mount_target("10.0.0.100", ["/example-export"])  # found by a loose search for 10.0.0.10
    wanted = fake.add_mount_target("10.0.0.10", ["/example-export", "/other"])
    path = spec(tmp_path, mountTargetIp="10.0.0.10", exportPath="/example-export")
    applied = jobctl("apply", str(path), "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert mounts(fake) == [(wanted["id"], wanted["exports"]["/example-export"])]
    assert near["id"] not in str(fake.jobs())
    fake.clear_requests()
    assert jobctl("plan", str(path), "--detailed-exitcode").exit_code == 0
    assert not [r for r in fake.requests if "/resources" in r.path]  # unchanged: nothing looked up
    refreshed = jobctl("plan", str(path), "--refresh", "--detailed-exitcode")
    assert refreshed.exit_code == 0, refreshed.stdout  # looked up, and equal to what OCI holds


def test_a_mount_target_by_ocid_with_an_export_by_path(fake: FakeOCI, jobctl: Run, tmp_path: Path) -> None:
    target = fake.add_mount_target("10.0.0.10", ["/a", "/b"])
    path = spec(tmp_path, mountTargetId=target["id"], exportPath="/b")
    assert jobctl("apply", str(path), "--yes").exit_code == 0
    assert mounts(fake) == [(target["id"], target["exports"]["/b"])]


def test_no_mount_target_with_the_ip_is_not_found_and_nothing_is_created(
    fake: FakeOCI, jobctl: Run, tmp_path: Path,
) -> None:
    fake.add_mount_target("10.0.0.100", ["/example-export"])
    fake.add_mount_target("10.0.0.10", ["/example-export"], state="DELETED")
    path = spec(tmp_path, mountTargetIp="10.0.0.10", exportPath="/example-export")
    result = jobctl("apply", str(path), "--yes")
    assert result.exit_code == 4
    [line] = [x for x in result.stderr.splitlines() if x.startswith(f"{path}:1:")]
    assert line.endswith(": spec.storageMounts[0].mountTargetIp: no mount target you can see has the IP 10.0.0.10")
    assert "Traceback" not in result.stderr
    assert fake.jobs() == []


def test_every_mount_that_cannot_be_looked_up_is_located_where_the_ads_file_wrote_it(
    fake: FakeOCI, jobctl: Run, tmp_path: Path,
) -> None:
    """The red team: errors pointed at the job's name line, with the translated field, one at a time."""
    from tests.conftest import REPO

    guide = REPO / "tests" / "data" / "ads" / "guide"
    text = (guide / "quick_start_job-1.yaml").read_text(encoding="utf-8").replace(
        "src/quick_start_job", str(guide / "src" / "quick_start_job")).replace(
        "      - src: oci://my-bucket@my-namespace/mounted-prefix\n        dest: bucket-data",
        "      - src: ocid1.mounttarget.oc1.iad.aaaaaaaanotthere:/data\n        dest: bucket-data")
    path = tmp_path / "ads.yaml"
    path.write_text(text, encoding="utf-8")
    result = jobctl("plan", str(path))
    assert result.exit_code == 4
    src_lines = [number for number, line in enumerate(text.splitlines(), 1) if "- src:" in line]
    assert [x.split(": ")[0:3] for x in result.stderr.splitlines() if x.startswith(str(path))] == [
        [f"{path}:{src_lines[0]}:14", "spec.infrastructure.spec.storageMount[0].src", "no mount target you can see "
         "has the IP 10.0.0.10"],
        [f"{path}:{src_lines[1]}:14", "spec.infrastructure.spec.storageMount[1].src", "mount target "
         "ocid1.mounttarget.oc1.iad.aaaaaaaanotthere does not exist, or you may not read it"],
    ]
    assert "Error: 2 errors in 1 file" in result.stderr


def test_an_export_path_the_mount_target_lacks_names_the_ones_it_has(
    fake: FakeOCI, jobctl: Run, tmp_path: Path,
) -> None:
    target = fake.add_mount_target("10.0.0.10", ["/b", "/a"])
    path = spec(tmp_path, mountTargetIp="10.0.0.10", exportPath="/example-export")
    result = jobctl("plan", str(path))
    assert result.exit_code == 4
    assert f": spec.storageMounts[0].exportPath: mount target {target['id']} has no export /example-export " \
           "(its exports: /a, /b)" in result.stderr


def test_two_mount_targets_with_the_ip_are_ambiguous(fake: FakeOCI, jobctl: Run, tmp_path: Path) -> None:
    first, second = (fake.add_mount_target("10.0.0.10", ["/x"]) for _ in range(2))  # two networks
    path = spec(tmp_path, mountTargetIp="10.0.0.10", exportPath="/x")
    result = jobctl("plan", str(path))
    assert result.exit_code == 3
    assert ": spec.storageMounts[0].mountTargetIp: 2 mount targets have the IP 10.0.0.10" in result.stderr
    assert first["id"] in result.stderr
    assert second["id"] in result.stderr
    assert "name the one you mean by mountTargetId" in result.stderr

"""Adopting jobs made outside jobctl: export writes a spec and source; adopt tags; plan shows nothing."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import oci
import pytest
import yaml

from jobctl.backends.local import LocalBackend
from jobctl.backends.oci import mapping
from jobctl.plan.desired import DesiredJob, desired_job
from jobctl.spec.load import load_specs
from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import EXAMPLES, use_fake_oci

ENV = {"OCI_COMPARTMENT_ID": "ocid1.compartment.oc1..adopt", "OCI_PROJECT_ID": "ocid1.datascienceproject.oc1.iad.adopt",
       "OCI_LOG_GROUP_ID": "ocid1.loggroup.oc1.iad.adopt"}


def desired(spec: Path) -> DesiredJob:
    [job] = load_specs([str(spec)], ENV).jobs
    return desired_job(job, defaults={"spec.compartmentId": ENV["OCI_COMPARTMENT_ID"],
                                      "spec.projectId": ENV["OCI_PROJECT_ID"]})


def made_locally(home: Path, spec: Path) -> str:
    """A local job made without jobctl's tags (as if by another tool)."""
    want = desired(spec)
    plain = want.definition.with_tags({"team": "ml"})
    return LocalBackend(home).create_job(definition=plain, artifact=want.artifact, retry_token="console-1").id


def made_in_the_console(fake: FakeOCI, spec: Path, config: Path,
                        edit: Callable[[dict[str, Any]], None] | None = None) -> str:
    """An OCI job as the console makes it: the wire JSON of the same job, with no jobctl tag at all
    (and whatever `edit` sets in that JSON)."""
    want = desired(spec)
    plain = want.definition.with_tags({"team": "ml"})
    assert want.artifact is not None
    details = mapping.create_details(oci.data_science.models, plain, plain.tags, want.artifact.root)
    client = oci.data_science.DataScienceClient(oci.config.from_file(str(config)), service_endpoint=fake.url)
    body = client.base_client.sanitize_for_serialization(details)
    if edit is not None:
        edit(body)
    job = fake.create_job(body)
    fake.put_artifact(job["id"], want.artifact.open().read(), want.artifact.filename)
    return str(job["id"])


@pytest.mark.parametrize("case", ["local/hello", "local/train", "oci/train"])
def test_export_then_adopt_takes_a_console_job_over_without_changes(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path, case: str,
) -> None:
    where, example = case.split("/")
    spec_file = EXAMPLES / example / "job.yaml"
    if where == "oci":
        fake = FakeOCI().start()
        try:
            use_fake_oci(fake, tmp_path, monkeypatch, "adopt")
            job_id = made_in_the_console(fake, spec_file, tmp_path / "oci" / "config")
            check_adoption(jobctl, tmp_path, example, job_id)
        finally:
            fake.stop()
    else:
        check_adoption(jobctl, tmp_path, example, made_locally(isolated_env, spec_file))


def check_adoption(jobctl, tmp_path: Path, example: str, job_id: str) -> None:
    name = "hello" if example == "hello" else "tune-models"
    exported = jobctl("export", name, "-d", str(tmp_path / "exported"))
    assert exported.exit_code == 0, exported.stderr
    spec = tmp_path / "exported" / name / "job.yaml"
    assert exported.stdout.strip() == str(spec)
    assert jobctl("validate", str(spec)).exit_code == 0
    before = jobctl("plan", str(spec))
    assert "+ job" in before.stdout  # without --adopt the unmanaged job is left alone
    assert "is not managed by jobctl" in before.stdout
    adopted = jobctl("adopt", str(spec))
    assert adopted.exit_code == 0, adopted.stderr
    assert "adopt" in adopted.stdout
    after = jobctl("plan", str(spec), "--detailed-exitcode")
    assert after.exit_code == 0, after.stdout
    assert "No changes" in after.stdout
    jobs = json.loads(jobctl("-o", "json", "jobs").stdout)["items"]
    assert [(j["id"], j["managed"]) for j in jobs] == [(job_id, True)]  # the same job, now managed


SECRET = "exported-secret-value-77aa"


def test_export_writes_secret_values_as_references_in_a_private_file(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 12 item 12: export wrote secret env values to a 0644 job.yaml without a word."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "hello.py").write_text((EXAMPLES / "hello" / "hello.py").read_text())
    (project / "job.yaml").write_text((EXAMPLES / "hello" / "job.yaml").read_text().replace(
        "      GREETING: hello", f"      GREETING: hello $HOME\n      DB_PASSWORD: {SECRET}\n"
                              f"      CONN: postgres://app:{SECRET}@db/prod").replace(
        'args: ["--epochs", "3"]', f'args: ["--epochs", "3", "--password={SECRET}"]').replace(
        "description: Print the run's settings", f"description: Print the run's settings with {SECRET}"))
    monkeypatch.setenv("JOBCTL_SET", "hello")  # one set: the spec and its export are in two places
    assert jobctl("apply", str(project / "job.yaml")).exit_code == 0
    exported = jobctl("export", "hello", "-d", str(tmp_path / "out"))
    assert exported.exit_code == 0, exported.stderr
    spec = tmp_path / "out" / "hello" / "job.yaml"
    assert stat.S_IMODE(spec.stat().st_mode) == 0o600
    assert SECRET not in spec.read_text()
    assert "DB_PASSWORD: ${DB_PASSWORD}" in spec.read_text()
    assert "GREETING: hello $$HOME" in spec.read_text()  # a literal $ survives the round trip
    assert "CONN: postgres://app:${DB_PASSWORD}@db/prod" in spec.read_text()  # copies become references
    assert "--password=${DB_PASSWORD}" in spec.read_text()
    assert "DB_PASSWORD" in exported.stderr
    assert SECRET not in exported.stdout + exported.stderr

    missing = jobctl("plan", str(spec))
    assert missing.exit_code == 3
    assert "DB_PASSWORD" in missing.stderr
    monkeypatch.setenv("DB_PASSWORD", SECRET)
    assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0  # the same job, exactly

    listed = json.loads(jobctl("export", "hello", "-d", str(tmp_path / "json"), "-o", "json").stdout)
    assert listed["kind"] == "ExportList"
    assert listed["items"][0]["secretEnvReferences"] == ["DB_PASSWORD"]
    revealed = jobctl("export", "hello", "-d", str(tmp_path / "out"), "--include-secrets")
    assert revealed.exit_code == 0, revealed.stderr
    assert f"DB_PASSWORD: {SECRET}" in spec.read_text()
    assert stat.S_IMODE(spec.stat().st_mode) == 0o600


def test_exporting_again_over_a_widened_spec_keeps_its_text_and_makes_it_private_again(
        jobctl, tmp_path: Path) -> None:
    """An export again finds its spec as it would write it and leaves the text alone; the mode is still 0600."""
    assert jobctl("apply", str(EXAMPLES / "hello" / "job.yaml")).exit_code == 0
    assert jobctl("export", "hello", "-d", str(tmp_path)).exit_code == 0
    spec = tmp_path / "hello" / "job.yaml"
    written = spec.read_text()
    spec.chmod(0o644)

    again = jobctl("export", "hello", "-d", str(tmp_path))

    assert again.exit_code == 0, again.stderr
    assert again.stdout == f"{spec}\n"
    assert spec.read_text() == written
    assert stat.S_IMODE(spec.stat().st_mode) == 0o600


UNMODELED = {  # wire JSON a console user can set, beyond the examples
    "jobStorageMountConfigurationDetailsList": [
        {"storageType": "OBJECT_STORAGE", "destinationDirectoryName": "data", "namespace": "ns", "bucket": "b"},
        {"storageType": "FILE_STORAGE", "destinationDirectoryName": "shared", "destinationPath": "/mnt",
         "mountTargetId": "ocid1.mounttarget.oc1..x", "exportId": "ocid1.export.oc1..x"},
    ],
    "definedTags": {"Finance": {"CostCenter": "42"}, "Oracle-Tags": {"CreatedBy": "someone"}},
}
PROBE = {"jobProbeCheckType": "EXEC", "command": ["test", "-f", "/tmp/ready"], "periodInSeconds": 5}
# a probe in one node group only: a jobctl/v1 job has one probe, for every group
LOST = ["job_node_configuration_details.job_node_group_configuration_details_list[1].job_configuration_details"
        ".startup_probe_details"]


def test_a_replace_that_would_lose_what_no_spec_can_say_is_refused_without_force(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "adopt")

        def edit(body: dict[str, Any]) -> None:
            body.update(UNMODELED)
            body["jobNodeConfigurationDetails"]["jobNodeGroupConfigurationDetailsList"][1][
                "jobConfigurationDetails"]["startupProbeDetails"] = PROBE

        example = EXAMPLES / "distributed" / "job.yaml"
        job = fake.job(made_in_the_console(fake, example, tmp_path / "oci" / "config", edit))
        assert jobctl("export", "distributed-train", "-d", str(tmp_path / "exported")).exit_code == 0
        spec = tmp_path / "exported" / "distributed-train" / "job.yaml"
        assert jobctl("adopt", str(spec)).exit_code == 0  # tagged in place: nothing is lost
        adopted = fake.job(job["id"])
        assert adopted["jobNodeConfigurationDetails"] == job["jobNodeConfigurationDetails"]
        assert len(adopted["jobStorageMountConfigurationDetailsList"]) == 2
        assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0
        spec.write_text(spec.read_text().replace("EPOCHS: '2'", "EPOCHS: '3'"))

        plan = jobctl("plan", str(spec))
        refused = jobctl("apply", str(spec), "--yes")

        assert f"would lose what no spec can say yet: {', '.join(LOST)}" in plan.stdout
        assert refused.exit_code == 3, refused.stderr
        assert f"replacing job 'distributed-train' would lose {', '.join(LOST)}" in refused.stderr
        assert "--force" in refused.stderr
        assert fake.job(job["id"])["lifecycleState"] == "ACTIVE"  # nothing changed
        markdown = jobctl("plan", str(spec), "-o", "markdown").stdout  # the PR comment says it too
        assert f"would lose what no spec can say yet:** `{LOST[0]}`" in markdown
        planned = json.loads(jobctl("plan", str(spec), "-o", "json").stdout)
        assert planned["changes"][0]["drops"] == LOST
        forced = jobctl("apply", str(spec), "--yes", "--force")
        assert forced.exit_code == 0, forced.stderr
        assert "replaced" in forced.stderr


CONSOLE_MADE = {  # what a console user sets, beyond the train example: every field is one jobctl/v1 says
    "jobStorageMountConfigurationDetailsList": UNMODELED["jobStorageMountConfigurationDetailsList"],
    "definedTags": {"Finance": {"CostCenter": "42"}},
}


def test_a_console_job_with_mounts_probe_tags_subnet_and_a_gpu_shape_round_trips(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13's bar: export -> validate -> adopt -> no changes; an env change replaces the job, and the
    new job keeps every field."""
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "adopt")

        def edit(body: dict[str, Any]) -> None:
            body.update(CONSOLE_MADE)
            body["jobConfigurationDetails"]["startupProbeDetails"] = PROBE
            body["jobInfrastructureConfigurationDetails"] = {
                "jobInfrastructureType": "STANDALONE", "shapeName": "VM.GPU.A10.2", "blockStorageSizeInGBs": 200,
                "subnetId": "ocid1.subnet.oc1.iad.console",
            }

        job = fake.job(made_in_the_console(fake, EXAMPLES / "train" / "job.yaml", tmp_path / "oci" / "config", edit))

        assert jobctl("export", "tune-models", "-d", str(tmp_path / "exported")).exit_code == 0
        spec = tmp_path / "exported" / "tune-models" / "job.yaml"
        assert jobctl("validate", str(spec)).exit_code == 0
        adopted = jobctl("adopt", str(spec))
        assert adopted.exit_code == 0, adopted.stderr
        assert "storageMounts" not in adopted.stdout  # a mount made without a path is at OCI's default: no change
        assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0
        before = fake.job(job["id"])

        spec.write_text(spec.read_text().replace("SEED: '7'", "SEED: '8'"))
        replaced = jobctl("apply", str(spec), "--yes")
        assert replaced.exit_code == 0, replaced.stderr

        [new] = [j for j in fake.jobs() if j["id"] != job["id"] and j["lifecycleState"] == "ACTIVE"]
        kept = ("jobStorageMountConfigurationDetailsList", "jobInfrastructureConfigurationDetails", "freeformTags")
        assert {k: new[k] for k in kept if k != "freeformTags"} == {k: before[k] for k in kept if k != "freeformTags"}
        assert new["definedTags"]["Finance"] == {"CostCenter": "42"}
        assert new["jobConfigurationDetails"]["startupProbeDetails"] == PROBE
        assert new["jobConfigurationDetails"]["environmentVariables"]["SEED"] == "8"
        assert new["freeformTags"]["team"] == "ml"
        assert jobctl("plan", str(spec), "--refresh", "--detailed-exitcode").exit_code == 0


def test_an_export_that_would_not_validate_says_where_and_exits_3(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "adopt")

        def edit(body: dict[str, Any]) -> None:  # OCI takes a probe period a jobctl/v1 spec refuses
            body["jobConfigurationDetails"]["startupProbeDetails"] = {**PROBE, "periodInSeconds": 7200}

        made_in_the_console(fake, EXAMPLES / "train" / "job.yaml", tmp_path / "oci" / "config", edit)

        exported = jobctl("export", "tune-models", "-d", str(tmp_path / "exported"), "-o", "json")

        assert exported.exit_code == 3, exported.stderr
        spec = tmp_path / "exported" / "tune-models" / "job.yaml"
        assert spec.exists()
        assert f"{spec}:" in exported.stderr
        assert "spec.runtime.startupProbe.periodInSeconds" in exported.stderr
        [item] = json.loads(exported.stdout)["items"]
        assert "periodInSeconds" in item["problems"][0]


def test_a_console_job_with_a_free_text_name_keeps_it_as_its_display_name(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15: a display name is free text; the jobctl name is derived from it and the display name kept."""
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "adopt")
        job_id = made_in_the_console(fake, EXAMPLES / "train" / "job.yaml", tmp_path / "oci" / "config",
                                     lambda body: body.update(displayName="Tune Models (prod)"))
        exported = jobctl("export", "Tune Models (prod)", "-d", str(tmp_path / "exported"))
        assert exported.exit_code == 0, exported.stderr
        spec = tmp_path / "exported" / "tune-models-prod" / "job.yaml"
        document = yaml.safe_load(spec.read_text())
        assert document["metadata"]["name"] == "tune-models-prod"
        assert document["metadata"]["displayName"] == "Tune Models (prod)"
        assert "kept as metadata.displayName, named 'tune-models-prod'" in spec.read_text()

        assert jobctl("adopt", str(spec)).exit_code == 0
        assert "No changes" in jobctl("plan", str(spec), "--detailed-exitcode").stdout
        assert fake.job(job_id)["displayName"] == "Tune Models (prod)"  # kept: the console still shows it
        [job] = json.loads(jobctl("-o", "json", "jobs").stdout)["items"]
        assert (job["id"], job["name"], job["displayName"]) == (job_id, "tune-models-prod", "Tune Models (prod)")
        run_id = jobctl("run", "tune-models-prod").stdout.strip()
        run = json.loads(jobctl("-o", "json", "get", run_id).stdout)
        assert run["jobName"] == "tune-models-prod"
        assert run["name"].startswith("tune-models-prod-run-")


def ads_artifact() -> bytes:
    """A zip as ADS's PythonRuntime builds it: its drivers at the top and the code under code/, written
    with shutil.make_archive(base_dir="./") (ads/jobs/builders/runtimes/artifact.py), no root directory."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # (writestr stamps each entry with the current time)
        archive.writestr("./driver_python.py", "import runpy, os\nrunpy.run_path(os.environ['CODE_ENTRYPOINT'])\n")
        archive.writestr("./driver_utils.py", "# ADS's helpers\n")
        archive.writestr("./code/train/main.py", "print('training')\n")
    return buffer.getvalue()


def test_a_job_made_by_ads_exports_to_a_spec_that_adopts_it_with_no_changes(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 15: a job ADS made (its env holds ADS's variables, its artifact ADS's driver) is exported as
    it is, and adopting that spec changes nothing but jobctl's tags."""
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "adsmade")
        env = {"CODE_ENTRYPOINT": "train/main.py", "JOB_RUN_ENTRYPOINT": "driver_python.py",
               "OUTPUT_DIR": "outputs", "OUTPUT_URI": "oci://results@ns/ads", "CONDA_ENV_TYPE": "service",
               "CONDA_ENV_SLUG": "generalml_p311_cpu_x86_64_v1", "MODEL": "xgb"}
        job = fake.create_job({
            "compartmentId": "ocid1.compartment.oc1..adsmade", "projectId": "ocid1.datascienceproject.oc1.iad.adsmade",
            "displayName": "Training by ADS",
            "jobConfigurationDetails": {"jobType": "DEFAULT", "environmentVariables": env,
                                        "commandLineArguments": "--epochs 3"},
            "jobInfrastructureConfigurationDetails": {"jobInfrastructureType": "ME_STANDALONE",
                                                      "shapeName": "VM.Standard2.1", "blockStorageSizeInGBs": 50},
        })
        artifact = ads_artifact()  # once: a zip's entries carry the time they were written
        fake.put_artifact(job["id"], artifact, "train.zip")

        exported = jobctl("export", "Training by ADS", "-d", str(tmp_path / "exported"))
        assert exported.exit_code == 0, exported.stderr
        spec = tmp_path / "exported" / "training-by-ads" / "job.yaml"
        runtime = yaml.safe_load(spec.read_text())["spec"]["runtime"]
        assert runtime["entrypoint"] == "driver_python.py"
        assert runtime["env"]["CODE_ENTRYPOINT"] == "train/main.py"  # ADS's own variables, as the job has them
        assert (spec.parent / "src" / "code" / "train" / "main.py").is_file()

        adopted = jobctl("adopt", str(spec))
        assert adopted.exit_code == 0, adopted.stderr
        assert "adopt: from now on managed by jobctl" in adopted.stdout
        assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0
        assert fake.job(job["id"])["lifecycleState"] == "ACTIVE"  # the same job, not a replacement
        assert fake.artifact(job["id"]) == artifact  # the same artifact: ADS's driver, not jobctl's

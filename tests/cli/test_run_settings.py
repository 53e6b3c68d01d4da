"""`jobctl run --set PATH=VALUE`: a run sets, for itself, any field OCI lets a run override; the local
backend honours what it can and says what it cannot, OCI gets each changed part as a run override, and
a setting that makes the job invalid is refused before anything starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobctl.testing.fake_oci import FakeOCI
from tests.cli.test_lifecycle_local import Run, applied, get_run, job_doc, runs_of, write_spec
from tests.cli.test_multi_node_local import multi_node_spec, node_lines
from tests.conftest import EXAMPLES, use_fake_oci


@pytest.fixture(autouse=True)
def fast_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBCTL_LOCAL_TIME_SCALE", "0.01")  # a minute of maxRuntimeInMinutes lasts 0.6 s
    monkeypatch.setenv("JOBCTL_KILL_GRACE", "0.5")


def flex_job(tmp_path: Path) -> Path:
    doc = job_doc()
    doc["spec"]["infrastructure"] = {"shape": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGBs": 16}
    return write_spec(tmp_path / "specs", doc)


def test_a_run_s_maximum_runtime_is_honoured_locally(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, flex_job(tmp_path))

    result = jobctl("run", "demo", "--set", "runtime.maxRuntimeInMinutes=1", "--env", "SLEEP=60", "--wait",
                    "--timeout", "30s")

    assert result.exit_code == 1, result.stderr
    [run] = runs_of(jobctl, "demo")
    assert get_run(jobctl, run["id"])["details"] == "exceeded maxRuntimeInMinutes (1)"


def test_what_only_oci_honours_is_named_and_the_run_goes_on(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, flex_job(tmp_path))

    result = jobctl("run", "demo", "--set", "infrastructure.ocpus=4", "--set", "logging.logId=ocid1.log.oc1.iad.x",
                    "--set", "logging.logGroupId=ocid1.loggroup.oc1.iad.x", "--wait")

    assert result.exit_code == 0, result.stderr
    assert ("Locally these have no effect (they apply on OCI): infrastructure.ocpus, logging.logGroupId, "
            "logging.logId.") in result.stderr


@pytest.mark.parametrize(("setting", "message"), [
    ("infrastructure.shape=VM.Standard2.1", "--set makes the run's job invalid: infrastructure.memoryInGBs: "
                                            "memoryInGBs can only be set for Flex shapes"),
    ("infrastructure.ocpus=lots", "--set infrastructure.ocpus: expected a number, got 'lots'"),
    ("runtime.type=shell", "--set runtime.type: not a field a run can set"),
    ("runtime.maxRuntimeInMinutes=0", "runtime.maxRuntimeInMinutes: must be >= 1"),
    ("runtime.maxRuntimeInMinutes", "--set 'runtime.maxRuntimeInMinutes': missing '='"),
    ("nodes.groups=[{replicas: 2}]", "nodes.groups[0]: missing required field 'name'"),
    ("nodes.groups=[{name: a}]", "--set would make the run's job MULTI_NODE, not ME_STANDALONE: a run keeps its "
                                 "job's infrastructure type"),
    ("infrastructure.subnetId=ocid1.subnet.oc1.iad.aaaa", "a run keeps its job's infrastructure type"),
    ("runtime.entrypoint=/tmp/x.py", "--set runtime.entrypoint: a python or shell job's entry file is part of"),
])
def test_a_setting_that_makes_the_job_invalid_starts_nothing(
    jobctl: Run, tmp_path: Path, setting: str, message: str,
) -> None:
    applied(jobctl, flex_job(tmp_path))

    result = jobctl("run", "demo", "--set", setting)

    assert result.exit_code == 2
    assert message in result.stderr
    assert runs_of(jobctl, "demo") == []


def test_an_empty_value_resets_a_field_to_its_default(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, flex_job(tmp_path))

    result = jobctl("run", "demo", "--set", "infrastructure.shape=VM.Standard2.1", "--set", "infrastructure.ocpus=",
                    "--set", "infrastructure.memoryInGBs=", "--wait")

    assert result.exit_code == 0, result.stderr


def test_a_run_can_change_a_multi_node_job_s_groups(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, multi_node_spec(tmp_path / "specs", tmp_path / "ready", {}))

    result = jobctl("run", "ddp", "--set", "nodes.groups=[{name: main}, {name: workers, replicas: 1}]", "--wait")

    assert result.exit_code == 0, result.stderr
    [run] = runs_of(jobctl, "ddp")
    assert [line.split()[1] for line in node_lines(jobctl, run["id"])] == ["rank=0", "rank=1"]


def test_oci_gets_each_changed_part_as_a_run_override(
    jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "settings")
        applied(jobctl, EXAMPLES / "train" / "job.yaml", "--yes")

        result = jobctl("run", "tune-models", "--set", "infrastructure.ocpus=8",
                        "--set", "infrastructure.memoryInGBs=64", "--set", "logging.logId=ocid1.log.oc1.iad.other",
                        "--set", "logging.autoCreateLog=false",
                        "--set", "runtime.maxRuntimeInMinutes=5")

        assert result.exit_code == 0, result.stderr
        [run] = fake.runs()
        infra: dict[str, Any] = run["jobInfrastructureConfigurationOverrideDetails"]
        assert (infra["shapeName"], infra["jobShapeConfigDetails"]) == ("VM.Standard.E4.Flex",
                                                                        {"ocpus": 8, "memoryInGBs": 64})
        assert run["jobLogConfigurationOverrideDetails"]["logId"] == "ocid1.log.oc1.iad.other"
        assert run["logDetails"]["logId"] == "ocid1.log.oc1.iad.other"
        assert run["jobConfigurationOverrideDetails"]["maximumRuntimeInMinutes"] == 5
        assert "jobEnvironmentConfigurationOverrideDetails" not in run  # not changed: not sent


def test_oci_gets_a_multi_node_run_s_groups_whole(jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "nodesettings")
        applied(jobctl, EXAMPLES / "distributed" / "job.yaml", "--yes")

        groups_setting = "nodes.groups=[{name: main}, {name: workers, replicas: 5}]"
        result = jobctl("run", "distributed-train", "--set", groups_setting, "--wait")

        assert result.exit_code == 0, result.stderr
        [run] = fake.runs()
        override = run["jobNodeConfigurationOverrideDetails"]
        groups = {g["name"]: g for g in override["jobNodeGroupConfigurationDetailsList"]}
        assert groups["workers"]["replicas"] == 5
        assert groups["workers"]["jobInfrastructureConfigurationDetails"]["shapeName"] == "VM.Standard.E4.Flex"
        assert groups["main"]["jobConfigurationDetails"]["environmentVariables"]["EPOCHS"] == "2"


def test_a_run_s_groups_are_checked_as_a_spec_s_and_their_secrets_never_shown(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, multi_node_spec(tmp_path / "specs", tmp_path / "ready", {}))
    secret = "leak-me-not-5"

    result = jobctl("run", "ddp", "--set", f"nodes.groups=[{{name: a, env: {{DB_PASSWORD: {secret}}}}}, {{name: a}}]")

    assert result.exit_code == 2
    assert "nodes.groups[1].name: groups[0] has this name ('a') too" in result.stderr
    assert secret not in result.stderr
    wrong_kind = jobctl("run", "ddp", "--set", f"runtime.maxRuntimeInMinutes={{DB_PASSWORD: {secret}}}")
    assert wrong_kind.exit_code == 2
    assert "expected a whole number, got a mapping" in wrong_kind.stderr
    assert secret not in wrong_kind.stderr
    assert runs_of(jobctl, "ddp") == []


def test_setting_logging_on_a_job_without_it_enables_it(
    jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "logset")
        spec = EXAMPLES / "hello" / "job.yaml"
        text = spec.read_text().replace("./hello.py", str(spec.parent / "hello.py"))
        scoped = tmp_path / "hello.yaml"
        scoped.write_text(text.replace("spec:\n", "spec:\n  compartmentId: ${OCI_COMPARTMENT_ID}\n"
                                                  "  projectId: ${OCI_PROJECT_ID}\n", 1))
        applied(jobctl, scoped, "--yes")

        result = jobctl("run", "hello", "--set", "logging.logGroupId=ocid1.loggroup.oc1.iad.x",
                        "--set", "logging.autoCreateLog=true")

        assert result.exit_code == 0, result.stderr
        [run] = fake.runs()
        assert run["jobLogConfigurationOverrideDetails"]["enableLogging"] is True
        assert run["logDetails"]["logGroupId"] == "ocid1.loggroup.oc1.iad.x"


def test_a_secret_matrix_value_is_named_by_a_digest_not_its_value(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, flex_job(tmp_path))

    result = jobctl("run", "demo", "--matrix", "API_TOKEN=tok-secret-1,tok-secret-2", "--matrix", "MODEL=xgb")

    assert result.exit_code == 0, result.stderr
    names = sorted(run["name"] for run in runs_of(jobctl, "demo"))
    assert len(set(names)) == 2
    assert all("tok-secret" not in name and name.endswith("-xgb") for name in names), names


def test_a_run_s_groups_keep_their_own_env_and_args(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, multi_node_spec(tmp_path / "specs", tmp_path / "ready", {}))

    groups = "nodes.groups=[{name: main, env: {ROLE: own}, args: [--x]}, {name: other}]"
    result = jobctl("run", "ddp", "--set", groups, "--wait")

    assert result.exit_code == 0, result.stderr
    [run] = runs_of(jobctl, "ddp")
    lines = node_lines(jobctl, run["id"])
    assert "role=own" in lines[0]
    assert "args=['--x']" in lines[0]
    assert "role=None" in lines[1]
    assert "args=['--lr', '1']" in lines[1]


def test_a_setting_the_schema_refuses_is_a_usage_error_on_a_multi_node_job(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, multi_node_spec(tmp_path / "specs", tmp_path / "ready", {}))

    for setting in ("infrastructure.shape=", "nodes.groups=[{name: a, infrastructure: {shape: 5}}]"):
        result = jobctl("run", "ddp", "--set", setting)
        assert result.exit_code == 2, (setting, result.stderr)
        assert "internal error" not in result.stderr

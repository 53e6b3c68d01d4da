"""Multi-node jobs on OCI (against the fake, through the real SDK): the job's values live in its node
groups, a plan of the same spec is empty, runs override each group, and a console-made multi-node job
survives export -> adopt -> replace with every field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from jobctl.testing.fake_oci import FakeOCI
from tests.cli.test_export_adopt import made_in_the_console
from tests.conftest import EXAMPLES, use_fake_oci

EXAMPLE = EXAMPLES / "distributed" / "job.yaml"
NODES = "jobNodeConfigurationDetails"
GROUPS = "jobNodeGroupConfigurationDetailsList"


def groups(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {group["name"]: group for group in job[NODES][GROUPS]}


def group_env(job: dict[str, Any], name: str) -> dict[str, str]:
    return dict(groups(job)[name]["jobConfigurationDetails"]["environmentVariables"])


def only_active_job(fake: FakeOCI) -> dict[str, Any]:
    [job] = [j for j in fake.jobs() if j["lifecycleState"] == "ACTIVE"]
    return job


def test_a_multi_node_job_keeps_its_values_in_its_groups_and_plans_no_change(
    jobctl, fake: FakeOCI,
) -> None:
    applied = jobctl("apply", str(EXAMPLE), "--yes")

    assert applied.exit_code == 0, applied.stderr
    job = only_active_job(fake)
    assert "jobInfrastructureConfigurationDetails" not in job  # OCI keeps them per group
    assert "jobConfigurationDetails" not in job
    node = job[NODES]
    assert (node["jobNodeType"], node["startupOrder"], node["maximumRuntimeInMinutes"]) == (
        "MULTI_NODE", "IN_ORDER", 60)
    assert node["jobNetworkConfiguration"] == {"jobNetworkType": "DEFAULT_NETWORK"}
    assert [(g["name"], g["replicas"]) for g in node[GROUPS]] == [("main", 1), ("workers", 2)]
    infra = groups(job)["workers"]["jobInfrastructureConfigurationDetails"]
    assert (infra["jobInfrastructureType"], infra["shapeName"], infra["jobShapeConfigDetails"]["ocpus"]) == (
        "MULTI_NODE", "VM.Standard.E4.Flex", 2)
    assert group_env(job, "workers") == {"EPOCHS": "2", "ROLE": "worker", "JOBCTL_NODE_GROUP": "workers",
                                         "JOB_RUN_ENTRYPOINT": "src/train.py"}  # under the root directory
    assert jobctl("plan", str(EXAMPLE), "--refresh", "--detailed-exitcode").exit_code == 0

    shown = jobctl("get", "distributed-train", "-o", "json")
    assert shown.exit_code == 0, shown.stderr
    assert '"groups"' in shown.stdout
    assert '"workers"' in shown.stdout


def test_a_run_overrides_every_group_and_each_replica_runs(
    jobctl, fake: FakeOCI,
) -> None:
    assert jobctl("apply", str(EXAMPLE), "--yes").exit_code == 0

    ran = jobctl("run", "distributed-train", "--env", "EPOCHS=5", "--wait")

    assert ran.exit_code == 0, ran.stderr
    [run] = fake.runs()
    assert "jobConfigurationOverrideDetails" not in run or run["jobConfigurationOverrideDetails"] == {
        "jobType": "EMPTY"}
    override = {g["name"]: g for g in run["jobNodeConfigurationOverrideDetails"][GROUPS]}
    assert override["workers"]["jobConfigurationDetails"]["environmentVariables"]["EPOCHS"] == "5"
    assert override["workers"]["jobConfigurationDetails"]["environmentVariables"]["ROLE"] == "worker"
    assert override["main"]["jobConfigurationDetails"]["environmentVariables"]["ROLE"] == "main"
    logs = jobctl("logs", run["id"])
    assert logs.exit_code == 0, logs.stderr
    ranks = sorted(line for line in logs.stdout.splitlines() if line.startswith("NODE_RANK="))
    assert ranks == ["NODE_RANK=0", "NODE_RANK=1", "NODE_RANK=2"]  # the fake's echo workload, per replica


def test_a_console_made_multi_node_job_round_trips_and_an_env_change_reaches_its_groups(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 13's bar for MULTI_NODE: export -> validate -> adopt -> no changes; an env change replaces
    the job, and the new job keeps every field and has the new env in every group."""
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "adopt")  # the scope made_in_the_console uses

        def edit(body: dict[str, Any]) -> None:  # what the console adds: a subnet and a GPU group
            body[NODES]["jobNetworkConfiguration"] = {"jobNetworkType": "CUSTOM_NETWORK",
                                                      "subnetId": "ocid1.subnet.oc1.iad.console"}
            body[NODES][GROUPS][1]["jobInfrastructureConfigurationDetails"] = {
                "jobInfrastructureType": "MULTI_NODE", "shapeName": "BM.GPU.H100.8", "blockStorageSizeInGBs": 500}

        source = tmp_path / "src"
        shutil.copytree(EXAMPLE.parent, source)
        made = fake.job(made_in_the_console(fake, source / "job.yaml", tmp_path / "oci" / "config", edit))

        assert jobctl("export", "distributed-train", "-d", str(tmp_path / "exported")).exit_code == 0
        spec = tmp_path / "exported" / "distributed-train" / "job.yaml"
        text = spec.read_text()
        assert "BM.GPU.H100.8" in text
        assert "ocid1.subnet.oc1.iad.console" in text
        assert jobctl("validate", str(spec)).exit_code == 0
        adopted = jobctl("adopt", str(spec))
        assert adopted.exit_code == 0, adopted.stderr
        assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0

        spec.write_text(text.replace("EPOCHS: '2'", "EPOCHS: '3'"))
        replaced = jobctl("apply", str(spec), "--yes")

        assert replaced.exit_code == 0, replaced.stderr
        new = only_active_job(fake)
        assert new["id"] != made["id"]
        for part in ("jobNetworkType", "subnetId"):
            assert new[NODES]["jobNetworkConfiguration"][part] == made[NODES]["jobNetworkConfiguration"][part]
        for name in ("main", "workers"):
            assert groups(new)[name]["jobInfrastructureConfigurationDetails"] == groups(made)[name][
                "jobInfrastructureConfigurationDetails"]
            assert group_env(new, name) == {**group_env(made, name), "EPOCHS": "3"}
        assert jobctl("plan", str(spec), "--refresh", "--detailed-exitcode").exit_code == 0



def test_a_group_s_own_env_stays_in_that_group(jobctl, fake: FakeOCI, tmp_path: Path) -> None:
    spec = tmp_path / "src" / "job.yaml"
    shutil.copytree(EXAMPLE.parent, spec.parent)
    spec.write_text(spec.read_text().replace("env: {ROLE: main}", "env: {ROLE: main, DB_PASSWORD: main-only-pw}"))
    assert jobctl("apply", str(spec), "--yes").exit_code == 0
    assert jobctl("plan", str(spec), "--refresh", "--detailed-exitcode").exit_code == 0

    assert jobctl("run", "distributed-train", "--env", "EPOCHS=4").exit_code == 0

    [run] = fake.runs()
    override = {g["name"]: g["jobConfigurationDetails"]["environmentVariables"]
                for g in run["jobNodeConfigurationOverrideDetails"][GROUPS]}
    assert override["main"]["DB_PASSWORD"] == "main-only-pw"
    assert "DB_PASSWORD" not in override["workers"]
    assert override["workers"]["EPOCHS"] == "4"
    shown = json.loads(jobctl("get", "distributed-train", "-o", "json").stdout)["definition"]
    assert "DB_PASSWORD" not in shown["runtime"]["env"]

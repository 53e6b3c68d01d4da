"""`command`, `dependencies` and `inputs` (ADS's PyTorchDistributedRuntime): the driver installs, fetches,
then runs the command on every node of a multi-node job, torchrun told its place in the run. Locally as
N processes, on OCI against the fake (which runs the artifact's code per node). Issue 15, item 4.
No torch here: a stand-in `torchrun` on PATH runs the script and shows the arguments it was given."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobctl.testing.fake_oci import FakeOCI
from jobctl.testing.fake_oci.workloads import artifact_workload
from tests.conftest import Result, job_document, use_fake_oci

Run = Callable[..., Result]
TRAIN = """import os, sys
import tinypkg
print("rank", os.environ["NODE_RANK"], "of", os.environ["INITIAL_CLUSTER_SIZE"],
      open("data/in.txt").read().strip(), tinypkg.VALUE, sys.argv[1:])
"""


def wheel(directory: Path) -> Path:
    """A tiny wheel, so `pip install --no-index` has something real to install (offline)."""
    path = directory / "tinypkg-0.1-py3-none-any.whl"
    files = {"tinypkg/__init__.py": b"VALUE = 'from-a-wheel'\n",
             "tinypkg-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinypkg\nVersion: 0.1\n",
             "tinypkg-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                            b"Tag: py3-none-any\n"}
    record = "".join(f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b'=').decode()},"
                     f"{len(body)}\n" for name, body in files.items()) + "tinypkg-0.1.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, body in files.items():
            archive.writestr(name, body)
        archive.writestr("tinypkg-0.1.dist-info/RECORD", record)
    return path


def project(tmp_path: Path, command: str, replicas: int = 3) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(TRAIN)
    (tmp_path / "input.txt").write_text("hello data\n")
    whl = wheel(tmp_path)
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump(job_document(
        "ddp", {"type": "python", "source": "./code", "workingDir": ".", "command": command,
                "pythonPath": ["site"], "env": {"PIP_TARGET": "site"},  # pip into the run, not here
                "dependencies": {"pipPackages": f"--no-index {whl}"},
                "inputs": {str(tmp_path / "input.txt"): "data/in.txt"}},
        nodes={"groups": [{"name": "node-group", "replicas": replicas}]})))
    return spec


def node_lines(jobctl: Run, spec: Path) -> list[str]:
    assert jobctl("apply", str(spec), "--yes").exit_code == 0
    ran = jobctl("-o", "json", "run", "ddp", "--wait")
    assert ran.exit_code == 0, ran.stderr
    [run] = json.loads(ran.stdout)["items"]
    return str(jobctl("logs", run["id"]).stdout).splitlines()


def test_locally_every_node_installs_fetches_and_runs_torchrun_in_its_place(
    jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    torchrun = tmp_path / "bin" / "torchrun"
    torchrun.parent.mkdir()
    torchrun.write_text('#!/bin/sh\necho "torchrun $*"\nfor a; do case "$a" in *.py) script=$a;; esac; done\n'
                        'exec python3 "$script"\n')
    torchrun.chmod(torchrun.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{torchrun.parent}{os.pathsep}{os.environ['PATH']}")

    lines = node_lines(jobctl, project(tmp_path, "torchrun train.py --lr 0.1"))

    for rank in range(3):
        node = f"[node-group-{rank}]"
        assert (f"{node} torchrun --nnodes=3 --node_rank={rank} --master_addr=127.0.0.1 --master_port=29400 "
                "train.py --lr 0.1") in lines
        assert f"{node} rank {rank} of 3 hello data from-a-wheel []" in lines
    assert jobctl("plan", str(tmp_path / "job.yaml"), "--detailed-exitcode").exit_code == 0


def test_on_oci_the_nodes_run_the_same(jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOCI() as fake:
        fake.workload = artifact_workload(fake)
        use_fake_oci(fake, tmp_path, monkeypatch, "ddp")
        spec = project(tmp_path, "python3 train.py", replicas=2)

        lines = node_lines(jobctl, spec)

        assert sorted(re.sub(r"^\[[^]]*\] ", "", line) for line in lines if "rank " in line) == [
            "rank 0 of 2 hello data from-a-wheel []", "rank 1 of 2 hello data from-a-wheel []"]
        [job] = fake.jobs()
        groups = job["jobNodeConfigurationDetails"]["jobNodeGroupConfigurationDetailsList"]
        env = groups[0]["jobConfigurationDetails"]["environmentVariables"]
        assert env["JOBCTL_COMMAND"] == "python3 train.py"
        assert jobctl("plan", str(spec), "--detailed-exitcode", "--refresh").exit_code == 0


def test_the_ads_pytorch_example_translates_onto_one_node_group(jobctl: Run, tmp_path: Path) -> None:
    converted = jobctl("convert", "tests/data/ads/guide/pytorch_ddp_torchrun-1.yaml")
    assert converted.exit_code == 0, converted.stderr
    document: dict[str, Any] = yaml.safe_load(converted.stdout)
    assert document["spec"]["nodes"] == {"groups": [{"name": "node-group", "replicas": 2}]}
    runtime = document["spec"]["runtime"]
    assert runtime["command"].startswith("torchrun distributed/minGPT-ddp/mingpt/main.py ")
    assert runtime["dependencies"] == {"pipRequirements": "distributed/minGPT-ddp/requirements.txt"}
    assert runtime["git"]["commit"] == "d91085d2181bf6342ac7dafbeee6fc0a1f64dcec"
    # red team: the plan of a new job did not say where its code would come from, nor what it would run
    plan = jobctl("plan", "tests/data/ads/guide/pytorch_ddp_torchrun-1.yaml").stdout
    assert "code: git https://github.com/pytorch/examples.git at d91085d2181bf6342ac7dafbeee6fc0a1f64dcec" in plan
    assert "command: torchrun distributed/minGPT-ddp/mingpt/main.py" in plan
    assert "pip: -r distributed/minGPT-ddp/requirements.txt" in plan


def test_a_git_job_with_a_command_reads_back_whole_from_oci(jobctl: Run, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team: OCI gave the driver's path back as the entrypoint, so plan --refresh replaced the job."""
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "gitcmd")
        spec = tmp_path / "job.yaml"
        spec.write_text(yaml.safe_dump(job_document("gitcmd", {
            "type": "python", "git": {"url": "https://git.example.com/ml/trainer.git"},
            "command": "torchrun train.py"})))
        assert jobctl("apply", str(spec), "--yes").exit_code == 0
        plan = jobctl("plan", str(spec), "--detailed-exitcode", "--refresh")
        assert plan.exit_code == 0, plan.stdout


def test_a_command_with_an_entrypoint_is_a_located_error(jobctl: Run, tmp_path: Path) -> None:
    spec = project(tmp_path, "python3 train.py")
    document = yaml.safe_load(spec.read_text())
    document["spec"]["runtime"]["entrypoint"] = "train.py"
    spec.write_text(yaml.safe_dump(document))
    result = jobctl("validate", str(spec))
    assert result.exit_code == 3
    assert "command runs instead of an entrypoint: give one of them" in result.stderr


def test_the_driver_never_prints_credentials_of_a_url() -> None:
    from jobctl.driver import redact

    assert redact("pip install --extra-index-url https://alice:s3cret@host/simple pkg") == \
        "pip install --extra-index-url https://***@host/simple pkg"
    assert redact("fetched https://host/data.csv?sig=SECRET&token=T to data.csv") == \
        "fetched https://host/data.csv?*** to data.csv"

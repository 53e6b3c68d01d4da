"""The README quickstart, run verbatim: if a command there stops working, this fails."""

from __future__ import annotations

import re
import shlex
from typing import Any

from tests.conftest import REPO, run_jobctl

BLOCK = re.compile(r"<!-- quickstart:begin -->\s*```sh\n(.*?)```\s*<!-- quickstart:end -->", re.DOTALL)


def quickstart() -> list[tuple[str, int, str]]:
    """(command, expected exit code, comment) for each line of the quickstart block."""
    match = BLOCK.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert match, "README.md has no quickstart block"
    steps = []
    for line in match.group(1).splitlines():
        command, _, comment = line.partition("#")
        code = re.search(r"\bexit (\d+)", comment)
        steps.append((command.strip(), int(code.group(1)) if code else 0, comment.strip()))
    return steps


def test_readme_quickstart_runs_verbatim() -> None:
    steps = quickstart()
    assert len(steps) >= 8
    outputs = {}
    for command, expected, _ in steps:
        argv = shlex.split(command)
        assert argv[0] == "jobctl", command
        proc = run_jobctl(*argv[1:], cwd=REPO, timeout=120)
        assert proc.returncode == expected, f"{command}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        assert "Traceback" not in proc.stderr
        outputs[command] = proc
    logs = outputs["jobctl logs --follow"]
    assert "MODEL=xgb" in logs.stdout
    assert "No changes" in outputs["jobctl apply specs-examples/hello/job.yaml"].stdout
    runs = outputs["jobctl runs hello"].stdout
    assert runs.count("SUCCEEDED") == 4  # the --wait run and three matrix runs
    assert "FAILED" in runs
    assert "CANCELED" in runs
    nodes = run_jobctl("logs", "--job", "distributed-train", cwd=REPO).stdout
    assert "[workers-1] node 2 of 3" in nodes


def run_block(block: str, env: dict[str, str]) -> dict[str, list[Any]]:
    """Each command of a documented block, in order (`export` lines set `env`); each must exit as its
    comment says (`# exit N`, else 0) without a traceback. Their results by subcommand."""
    outputs: dict[str, list[Any]] = {}
    for line in block.splitlines():
        command, _, comment = line.partition("#")
        argv = shlex.split(command)
        if argv[0] == "export":
            env.update(item.split("=", 1) for item in argv[1:])
            continue
        code = re.search(r"\bexit (\d+)", comment)
        proc = run_jobctl(*argv[1:], cwd=REPO, env=env, timeout=120)
        expected = int(code.group(1)) if code else 0
        assert proc.returncode == expected, f"{command}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
        assert "Traceback" not in proc.stderr
        outputs.setdefault(argv[1], []).append(proc)
    return outputs


OCI_BLOCK = re.compile(r"<!-- oci-quickstart:begin -->\s*```sh\n(.*?)```\s*<!-- oci-quickstart:end -->", re.DOTALL)


def test_readme_oci_section_runs_against_the_fake(tmp_path) -> None:
    from jobctl.testing.fake_oci import FakeOCI

    match = OCI_BLOCK.search((REPO / "README.md").read_text(encoding="utf-8"))
    assert match, "README.md has no OCI quickstart block"
    with FakeOCI() as fake:
        env = {
            "OCI_CLI_CONFIG_FILE": str(fake.write_config(tmp_path / "oci")), "JOBCTL_OCI_ENDPOINT": fake.url,
            "JOBCTL_OCI_RETRY": "fast", "JOBCTL_OCI_POLL_SECONDS": "0.05", "JOBCTL_OCI_LOG_SETTLE": "0.3",
            "JOBCTL_OCI_LOG_WAIT": "1",
        }
        outputs = run_block(match.group(1), env)
        assert "MODEL=xgb" in outputs["run"][0].stdout
        assert "MODEL=xgb" in outputs["logs"][0].stdout
        assert "No changes" in outputs["plan"][0].stdout
        jobs = fake.jobs()
        assert [j["displayName"] for j in jobs if j["lifecycleState"] == "ACTIVE"] == ["tune-models"]
        assert fake.artifact(jobs[0]["id"]) is not None


WALKTHROUGH = re.compile(r"<!-- pipeline-walkthrough:begin -->\s*```sh\n(.*?)```\s*<!-- pipeline-walkthrough:end -->",
                         re.DOTALL)


def test_the_pipeline_walkthrough_in_docs_workflows_runs_against_the_fake(tmp_path) -> None:
    from jobctl.testing.fake_oci import FakeOCI
    from jobctl.testing.fake_oci.workloads import artifact_workload

    match = WALKTHROUGH.search((REPO / "docs" / "workflows.md").read_text(encoding="utf-8"))
    assert match, "docs/workflows.md has no pipeline walkthrough block"
    with FakeOCI() as fake:
        fake.workload = artifact_workload(fake)  # the fake runs the example's code
        fake.create_bucket("ml-state", namespace="mytenancy")
        env = {"OCI_CLI_CONFIG_FILE": str(fake.write_config(tmp_path / "oci")), "JOBCTL_OCI_ENDPOINT": fake.url,
               "JOBCTL_OCI_RETRY": "fast", "JOBCTL_OCI_POLL_SECONDS": "0.05", "JOBCTL_OCI_LOG_SETTLE": "0.3",
               "JOBCTL_OCI_LOG_WAIT": "1"}
        outputs = run_block(match.group(1), env)
        [run] = fake.pipeline_runs()
        assert run["lifecycleState"] == "SUCCEEDED"
        [status] = outputs["workflow"][1:2]
        assert "★ selected" in status.stdout
        assert [p["displayName"] for p in fake.pipelines()] == ["model-selection-pipeline"]
        [logs] = outputs["workflow"][2:3]
        assert logs.stdout.startswith("[train train] "), logs.stdout
        assert "final model=" in logs.stdout

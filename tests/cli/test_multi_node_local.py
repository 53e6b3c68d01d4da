"""Multi-node jobs on the local backend: each replica of each node group is a process that sees the
variables OCI gives a node (NODE_RANK, INITIAL_CLUSTER_SIZE, CLUSTER_NODES_METADATA_FILE) and its
group's env and args; IN_ORDER starts a group once the one before it is up; a group succeeds with its
minimum of successful replicas."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli.test_lifecycle_local import Run, applied, get_run, runs_of
from tests.conftest import EXAMPLES, run_jobctl

NODE = r'''
import json, os, sys
rank = int(os.environ["NODE_RANK"])
with open(os.environ["CLUSTER_NODES_METADATA_FILE"]) as f:
    main = [n["IPAddress"] for n in json.load(f) if n["Rank"] == "0"][0]
ready = os.environ["READY"]
if os.environ["JOBCTL_NODE_GROUP"] == "workers" and not os.path.exists(ready):
    sys.exit(f"node {rank}: started before the main node was up")
print(f"rank={rank} size={os.environ['INITIAL_CLUSTER_SIZE']} group={os.environ['JOBCTL_NODE_GROUP']} "
      f"role={os.environ.get('ROLE')} main={main} args={sys.argv[1:]} cwd={os.path.basename(os.getcwd())}")
if os.environ["JOBCTL_NODE_GROUP"] == "main":
    open(ready, "w").close()
fail = os.environ.get("FAIL_RANK", "-1") == str(rank)
if not fail and os.environ.get("SLEEP"):
    import time
    time.sleep(float(os.environ["SLEEP"]))
sys.exit(int(fail))
'''


@pytest.fixture(autouse=True)
def fast_local_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBCTL_LOCAL_TIME_SCALE", "0.01")  # a probe period of 10 s lasts 0.1 s
    monkeypatch.setenv("JOBCTL_KILL_GRACE", "0.5")


def multi_node_spec(directory: Path, ready: Path, workers: dict[str, Any]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "node.py").write_text(NODE)
    doc = {
        "apiVersion": "jobctl/v1", "kind": "Job", "metadata": {"name": "ddp"},
        "spec": {
            "infrastructure": {"shape": "VM.Standard2.1"},
            "runtime": {"type": "python", "source": "./node.py", "env": {"READY": str(ready)}, "args": ["--lr", "1"],
                        # the main node is up once it has written READY: workers start after that
                        "startupProbe": {"command": ["test", "-f", str(ready)], "periodInSeconds": 5,
                                         "failureThreshold": 1000}},
            "nodes": {"startupOrder": "IN_ORDER", "groups": [
                {"name": "main", "env": {"ROLE": "main"}},
                {"name": "workers", "replicas": 3, "env": {"ROLE": "worker"}, "args": ["--worker"], **workers},
            ]},
        },
    }
    path = directory / "job.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def node_lines(jobctl: Run, run_id: str) -> list[str]:
    logs = jobctl("logs", run_id)
    assert logs.exit_code == 0, logs.stderr
    return sorted(line for line in logs.stdout.splitlines() if "rank=" in line)


def run_ddp(jobctl: Run, tmp_path: Path, workers: dict[str, Any], *args: str, code: int = 0) -> str:
    """Apply the test's multi-node job, run it with `args` and --wait; the run's id (exit code `code`)."""
    applied(jobctl, multi_node_spec(tmp_path / "specs", tmp_path / "ready", workers))
    result = jobctl("run", "ddp", *args, "--wait")
    assert result.exit_code == code, result.stderr
    [run_id] = [r["id"] for r in runs_of(jobctl, "ddp")]
    return str(run_id)


def test_each_replica_is_a_process_with_its_rank_group_env_and_args(jobctl: Run, tmp_path: Path) -> None:
    run_id = run_ddp(jobctl, tmp_path, {})
    assert node_lines(jobctl, run_id) == [
        "[main-0] rank=0 size=4 group=main role=main main=127.0.0.1 args=['--lr', '1'] cwd=main-0",
        "[workers-0] rank=1 size=4 group=workers role=worker main=127.0.0.1 args=['--worker'] cwd=workers-0",
        "[workers-1] rank=2 size=4 group=workers role=worker main=127.0.0.1 args=['--worker'] cwd=workers-1",
        "[workers-2] rank=3 size=4 group=workers role=worker main=127.0.0.1 args=['--worker'] cwd=workers-2",
    ]


def test_a_run_s_env_and_args_reach_every_group(jobctl: Run, tmp_path: Path) -> None:
    run_id = run_ddp(jobctl, tmp_path, {}, "--env", "ROLE=any", "--arg", "--fast")
    lines = node_lines(jobctl, run_id)
    assert len(lines) == 4
    assert all("role=any " in line and "args=['--fast']" in line for line in lines), lines


def test_a_group_succeeds_with_its_minimum_of_successful_replicas(jobctl: Run, tmp_path: Path) -> None:
    run_id = run_ddp(jobctl, tmp_path, {"minimumSuccessReplicas": 2}, "--env", "FAIL_RANK=3")
    assert get_run(jobctl, run_id)["lifecycleState"] == "SUCCEEDED"


def test_a_group_below_its_minimum_fails_the_run_with_the_replica_s_exit_code(jobctl: Run, tmp_path: Path) -> None:
    run_id = run_ddp(jobctl, tmp_path, {}, "--env", "FAIL_RANK=2", code=1)
    shown = get_run(jobctl, run_id)
    assert (shown["lifecycleState"], shown["exitCode"]) == ("FAILED", 1)
    assert shown["details"] == ("node group workers: 2 of 3 replicas can succeed, 3 must; "
                                "workers-1 failed with exit code 1")


def test_once_a_group_cannot_succeed_its_other_nodes_are_stopped(jobctl: Run, tmp_path: Path) -> None:
    # exit 1 (failed), not 7 after 60 s of waiting for nodes that sleep 600 s
    run_id = run_ddp(jobctl, tmp_path, {"minimumSuccessReplicas": 3}, "--env", "FAIL_RANK=1", "--env", "SLEEP=600",
                     "--timeout", "60s", code=1)
    shown = get_run(jobctl, run_id)
    assert shown["details"].startswith("node group workers: 2 of 3 replicas can succeed, 3 must")


def test_the_distributed_example_runs_locally(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, EXAMPLES / "distributed" / "job.yaml")

    result = jobctl("run", "distributed-train", "--wait")

    assert result.exit_code == 0, result.stderr
    [run_id] = [r["id"] for r in runs_of(jobctl, "distributed-train")]
    logs = jobctl("logs", run_id).stdout
    assert "[main-0] node 0 of 3 (main in group main); main node at 127.0.0.1" in logs
    assert "[workers-1] node 2 of 3 (worker in group workers); main node at 127.0.0.1" in logs
    assert json.dumps("node 2: epoch 2 done")[1:-1] in logs


def test_a_node_group_s_secrets_stay_out_of_logs_and_exports(jobctl: Run, tmp_path: Path) -> None:
    secret = "hunter2-group-secret"
    spec = multi_node_spec(tmp_path / "specs", tmp_path / "ready", {"env": {"ROLE": "worker", "DB_PASSWORD": secret}})
    node = (tmp_path / "specs" / "node.py").read_text()
    (tmp_path / "specs" / "node.py").write_text("import os\nprint('pw', os.environ.get('DB_PASSWORD'))\n" + node)
    applied(jobctl, spec)
    assert jobctl("run", "ddp", "--wait").exit_code == 0
    [run_id] = [r["id"] for r in runs_of(jobctl, "ddp")]

    # in fresh processes: one that has read the spec knows its secrets already
    commands = (("logs", run_id), ("logs", run_id, "--tail", "5"), ("get", "ddp"), ("get", "ddp", "-o", "json"))
    for command in commands:
        shown = run_jobctl(*command)
        assert shown.returncode == 0, shown.stderr
        assert secret not in shown.stdout + shown.stderr
    assert "pw (sensitive)" in run_jobctl("logs", run_id).stdout
    exported = jobctl("export", "ddp", "-d", str(tmp_path / "exported"))

    text = (tmp_path / "exported" / "ddp" / "job.yaml").read_text()
    assert secret not in text
    assert "DB_PASSWORD: ${DB_PASSWORD_WORKERS}" in text
    assert "DB_PASSWORD_WORKERS" in exported.stderr


def test_appended_args_are_added_to_each_group_s_own(jobctl: Run, tmp_path: Path) -> None:
    run_id = run_ddp(jobctl, tmp_path, {}, "--args-append", "EXTRA")
    lines = node_lines(jobctl, run_id)
    assert "args=['--lr', '1', 'EXTRA']" in lines[0]
    assert all("args=['--worker', 'EXTRA']" in line for line in lines[1:]), lines


def test_more_nodes_than_one_machine_runs_is_refused_before_anything_starts(jobctl: Run, tmp_path: Path) -> None:
    applied(jobctl, multi_node_spec(tmp_path / "specs", tmp_path / "ready", {"replicas": 64}))

    result = jobctl("run", "ddp")

    assert result.exit_code == 1
    assert "would run 65 nodes; the local backend runs at most 64 in one run" in result.stderr
    assert runs_of(jobctl, "ddp") == []


def test_only_node_0_writes_the_run_s_outputs(jobctl: Run, tmp_path: Path) -> None:
    spec = multi_node_spec(tmp_path / "specs", tmp_path / "ready", {})
    node = (tmp_path / "specs" / "node.py").read_text()
    (tmp_path / "specs" / "node.py").write_text(node.replace("sys.exit(int(fail))", (
        "from jobctl import outputs\n"
        "outputs.write({'metrics': {'rank': rank}})\nsys.exit(int(fail))")))
    applied(jobctl, spec)

    assert jobctl("run", "ddp", "--wait").exit_code == 0

    [run_id] = [r["id"] for r in runs_of(jobctl, "ddp")]
    home = Path(os.environ["JOBCTL_HOME"])
    assert json.loads((home / "runs" / run_id / "outputs" / "outputs.json").read_text()) == {"metrics": {"rank": 0}}
    assert "the run's outputs are node 0's" in jobctl("logs", run_id).stdout

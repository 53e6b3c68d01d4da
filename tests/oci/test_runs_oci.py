"""Runs on the oci backend as `get` and `runs` show them: each names its job, read once per job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import EXAMPLES, use_fake_oci


def test_get_and_runs_name_each_run_s_job(jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "runnames")
        for example in ("train", "distributed"):
            assert jobctl("apply", str(EXAMPLES / example / "job.yaml"), "--yes").exit_code == 0
        assert jobctl("run", "tune-models").exit_code == 0
        assert jobctl("run", "distributed-train").exit_code == 0
        by_job = {run["jobId"]: run["id"] for run in fake.runs()}
        names = {job["id"]: job["displayName"] for job in fake.jobs()}

        for job_id, run_id in by_job.items():
            shown = json.loads(jobctl("get", run_id, "-o", "json").stdout)
            assert shown["jobName"] == names[job_id]
        listed = json.loads(jobctl("runs", "-o", "json").stdout)["items"]
        assert sorted(run["jobName"] for run in listed) == ["distributed-train", "tune-models"]


def needing_attention(jobctl, fake: FakeOCI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      details: str) -> dict[str, Any]:
    """A run of the train example that OCI says needs attention (it never ends by itself)."""
    use_fake_oci(fake, tmp_path, monkeypatch, "attention")
    assert jobctl("apply", str(EXAMPLES / "train" / "job.yaml"), "--yes").exit_code == 0
    assert jobctl("run", "tune-models", "--env", "SLEEP=1").exit_code == 0
    [run] = fake.runs()
    fake.set_run(run["id"], state="NEEDS_ATTENTION", details=details)
    return run


def test_wait_says_when_every_run_needs_attention_instead_of_waiting_forever(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        run = needing_attention(jobctl, fake, tmp_path, monkeypatch, "Out of host capacity for VM.Standard.E4.Flex")

        timed_out = jobctl("wait", run["id"], "--timeout", "0.3s")  # a timeout still comes first
        monkeypatch.setenv("JOBCTL_ATTENTION_TIMEOUT", "0.3")
        waited = jobctl("wait", run["id"], "--timeout", "30s")

        assert timed_out.exit_code == 7, timed_out.stderr
        assert waited.exit_code == 1, waited.stderr
        assert "NEEDS_ATTENTION (Out of host capacity" in waited.stderr  # the state as it is reached
        assert "1 run(s) have needed attention for 0.3 s" in waited.stderr
        assert "they are not canceled" in waited.stderr
        assert fake.run(run["id"])["lifecycleState"] == "NEEDS_ATTENTION"


def test_follow_waits_for_a_log_that_oci_ingests_late(jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOCI(log_lag=1.5) as fake:  # every record searchable 1.5 s after it was written
        use_fake_oci(fake, tmp_path, monkeypatch, "lag")
        monkeypatch.setenv("JOBCTL_OCI_LOG_WAIT", "20")
        assert jobctl("apply", str(EXAMPLES / "train" / "job.yaml"), "--yes").exit_code == 0

        followed = jobctl("run", "tune-models", "--env", "MODEL=late", "--follow")

        assert followed.exit_code == 0, followed.stderr
        assert "MODEL=late" in followed.stdout  # printed 0 of its lines before: the settle (0.2 s) < the lag
        assert "args=--trials 20" in followed.stdout


def test_follow_says_when_no_line_of_a_log_arrived_in_time(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI(log_lag=30) as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "lag")
        monkeypatch.setenv("JOBCTL_OCI_LOG_WAIT", "0.5")
        assert jobctl("apply", str(EXAMPLES / "train" / "job.yaml"), "--yes").exit_code == 0

        followed = jobctl("run", "tune-models", "--follow")

        assert followed.exit_code == 0, followed.stderr
        assert "no line of this run's log arrived within 0.5 s of its end" in followed.stdout  # as the log's last line


def test_logs_of_a_run_whose_log_never_arrived_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import run_jobctl

    with FakeOCI(log_lag=600) as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "nolog")
        monkeypatch.setenv("JOBCTL_OCI_LOG_WAIT", "0.2")
        assert run_jobctl("apply", str(EXAMPLES / "train" / "job.yaml"), "--yes").returncode == 0
        assert run_jobctl("run", "tune-models", "--wait").returncode == 0
        [run] = fake.runs()

        for args in ((), ("--tail", "5")):
            shown = run_jobctl("logs", run["id"], *args, timeout=30)  # looped forever before

            assert shown.returncode == 0, shown.stderr
            assert shown.stdout.count("no line of this run's log arrived") == 1


def test_follow_too_ends_when_every_run_needs_attention(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        run = needing_attention(jobctl, fake, tmp_path, monkeypatch, "Image pull failed")
        monkeypatch.setenv("JOBCTL_ATTENTION_TIMEOUT", "0.3")

        followed = jobctl("logs", run["id"], "--follow", "--timeout", "30s")

        assert followed.exit_code == 1, followed.stderr
        assert "have needed attention for 0.3 s" in followed.stderr


def test_logs_are_searched_in_the_log_group_s_compartment(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "logscope")
        group = "ocid1.loggroup.oc1.iad.logscope"  # the train example's, from OCI_LOG_GROUP_ID
        fake.store.log_groups[group] = "ocid1.compartment.oc1..team-logging"  # not the job's compartment
        assert jobctl("apply", str(EXAMPLES / "train" / "job.yaml"), "--yes").exit_code == 0

        followed = jobctl("run", "tune-models", "--env", "MODEL=scoped", "--follow")

        assert followed.exit_code == 0, followed.stderr
        assert "MODEL=scoped" in followed.stdout  # searching the job's compartment finds nothing
        assert fake.count("GET", r"/logGroups/") == 1  # read once, not once per poll

        fake.faults.add(path=r"/logGroups/", method="GET", status=404, code="NotAuthorizedOrNotFound")
        again = jobctl("logs", "--job", "tune-models")  # a new command: the log group is read again
        assert again.exit_code == 0, again.stderr
        # red team: it said only that no line had arrived, and the reason was shown with -v alone
        assert f"Warning: cannot read log group {group} (" in again.stderr
        assert "needs `read log-groups`" in again.stderr


def test_an_idempotency_key_reused_with_another_request_names_its_run_on_oci(jobctl, fake, tmp_path) -> None:
    """Issue 18 item 3, on OCI: the service answers a retry token sent with another body 409; jobctl names the
    run that key started, and what differs."""
    from tests.oci.conftest import train_spec

    assert jobctl("apply", str(train_spec(tmp_path / "specs"))).exit_code == 0
    first = jobctl("run", "tune-models", "--idempotency-key", "k1", "--env", "SEED=1")
    assert first.exit_code == 0, first.stderr
    [run_id] = first.stdout.split()
    again = jobctl("run", "tune-models", "--idempotency-key", "k1", "--env", "SEED=1")
    assert (again.exit_code, again.stdout.split()) == (0, [run_id]), again.stderr
    assert f"re-attached to tune-models-k1 ({run_id})" in again.stderr
    other = jobctl("run", "tune-models", "--idempotency-key", "k1", "--env", "SEED=2")
    assert other.exit_code == 5
    said = f"run tune-models-k1 ({run_id}) was started with this idempotency key from another request: its env SEED"
    assert said in other.stderr

"""Bounded retries (issue 14, rule 8): the SDK's default strategy retried 409 IncorrectState for up to
10 minutes, so `cancel` of a run that was already CANCELING hung. jobctl retries throttling, 5xx and
dropped connections, within a budget, and never a 409."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jobctl.backends.oci.clients import MAX_ATTEMPTS, RETRY_BUDGET_SECONDS
from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import EXAMPLES, use_fake_oci

TRAIN = EXAMPLES / "train"


def train_spec(directory: Path, description: str = "Tune one model class per run") -> Path:
    text = (TRAIN / "job.yaml").read_text().replace("./src", str(TRAIN / "src"))
    spec = directory / "job.yaml"
    spec.write_text(text.replace("description: Tune one model class per run", f"description: {description}"))
    return spec


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with FakeOCI() as running:
        use_fake_oci(running, tmp_path, monkeypatch, "retries")
        yield running


def started_run(jobctl: Any, fake: FakeOCI, directory: Path) -> str:
    assert jobctl("apply", str(train_spec(directory)), "--yes").exit_code == 0
    fake.auto_progress = False
    return str(jobctl("run", "tune-models").stdout.strip())


def test_cancelling_a_canceling_run_is_answered_at_once_with_the_real_strategy(
    jobctl: Any, fake: FakeOCI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    run_id = started_run(jobctl, fake, tmp_path)
    fake.set_run(run_id, state="CANCELING")  # canceled already, by another cancel or the console
    monkeypatch.delenv("JOBCTL_OCI_RETRY")  # the strategy users get, not the tests' fast one
    fake.clear_requests()

    result = jobctl("cancel", run_id)

    assert result.exit_code == 0, result.stderr
    assert fake.count("POST", r"/actions/cancelJobRun$") == 1  # a 409 is not retried


def test_throttling_and_server_errors_are_retried_and_conflicts_are_not(jobctl: Any, fake: FakeOCI,
                                                                       tmp_path: Path) -> None:
    run_id = started_run(jobctl, fake, tmp_path)
    fake.faults.add(path=rf"/jobRuns/{run_id}$", method="GET", status=429, times=1)
    fake.faults.add(path=rf"/jobRuns/{run_id}$", method="GET", status=503, times=1)
    fake.clear_requests()
    assert jobctl("get", run_id).exit_code == 0
    assert fake.count("GET", rf"/jobRuns/{run_id}$") == 3

    fake.faults.add(path=r"/jobs/[^/]+$", method="PUT", status=409, code="IncorrectState")
    fake.clear_requests()
    failed = jobctl("apply", str(train_spec(tmp_path, "changed in place")), "--yes")
    assert failed.exit_code == 5, failed.stderr
    assert "IncorrectState" in failed.stderr
    assert fake.count("PUT", r"/jobs/[^/]+$") == 1


def test_the_budget_is_documented_where_users_read_it() -> None:
    fidelity = (Path(__file__).parents[2] / "docs" / "oci-fidelity.md").read_text()
    assert f"at most {MAX_ATTEMPTS} attempts within {RETRY_BUDGET_SECONDS} s" in fidelity

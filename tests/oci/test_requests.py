"""Requests OCI sees (issue 14, rules 8 and 13): retries are bounded and never retry a 409 (the SDK's
default strategy retried 409 IncorrectState for up to 10 minutes, so `cancel` of a run that was already
CANCELING hung); clients read the API key once; `wait` polls by listing a job's runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jobctl.backends.oci.clients import MAX_ATTEMPTS, RETRY_BUDGET_SECONDS
from jobctl.testing.fake_oci import FakeOCI
from tests.oci.conftest import train_spec


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
    failed = jobctl("apply", str(train_spec(tmp_path, description="changed in place")), "--yes")
    assert failed.exit_code == 5, failed.stderr
    assert "IncorrectState" in failed.stderr
    assert fake.count("PUT", r"/jobs/[^/]+$") == 1


def test_the_budget_is_documented_where_users_read_it() -> None:
    fidelity = (Path(__file__).parents[2] / "docs" / "oci-fidelity.md").read_text()
    assert f"at most {MAX_ATTEMPTS} attempts within {RETRY_BUDGET_SECONDS} s" in fidelity


_RECORDING: dict[str, Any] = {"opened": None, "hooked": False}  # files opened while a test records them


def _record_opens(event: str, args: tuple[Any, ...]) -> None:
    if _RECORDING["opened"] is not None and event == "open" and isinstance(args[0], str):
        _RECORDING["opened"].append(args[0])


def test_the_api_key_is_read_once_for_every_client(tmp_path: Path) -> None:
    """Issue 14 rule 13: each of the four clients read and parsed the key file again."""
    import sys

    from jobctl.backends.oci.clients import build_clients
    from jobctl.backends.settings import OciSettings

    if not _RECORDING["hooked"]:  # an audit hook stays for the process's life; it records only in this test
        sys.addaudithook(_record_opens)
        _RECORDING["hooked"] = True
    with FakeOCI() as fake:
        config = fake.write_config(tmp_path / "oci")
        key_file = next(line.split("=", 1)[1].strip() for line in config.read_text().splitlines()
                        if line.startswith("key_file"))
        _RECORDING["opened"] = []
        try:
            clients = build_clients(OciSettings(config_file=str(config), endpoint=fake.url))
            opened = [path for path in _RECORDING["opened"]  # this key's file (another test's thread has its own)
                      if Path(path).resolve() == Path(key_file).expanduser().resolve()]
        finally:
            _RECORDING["opened"] = None
    assert clients.logging is not None
    assert len(opened) == 1, opened


def test_wait_polls_a_jobs_runs_with_one_listing_not_one_get_per_run(jobctl: Any, fake: FakeOCI,
                                                                     tmp_path: Path) -> None:
    """Issue 14 rule 13: wait sent one GET per run per poll (100 runs: 100 requests a poll)."""
    assert jobctl("apply", str(train_spec(tmp_path)), "--yes").exit_code == 0
    started = jobctl("run", "tune-models", "--matrix", "SEED=1,2,3,4,5,6")
    assert started.exit_code == 0, started.stderr
    runs = started.stdout.split()
    fake.clear_requests()

    waited = jobctl("-o", "json", "wait", *runs)

    assert waited.exit_code == 0, waited.stderr
    gets = fake.count("GET", r"/jobRuns/[^/]+$")
    lists = fake.count("GET", r"/jobRuns$")
    assert gets == len(runs)  # each run read once, to resolve it; then polled by listing
    assert 1 <= lists < gets
    shown = json.loads(waited.stdout)["items"]
    assert [r["lifecycleState"] for r in shown] == ["SUCCEEDED"] * len(runs)
    assert sorted(r["env"]["SEED"] for r in shown) == ["1", "2", "3", "4", "5", "6"]  # the full runs


def test_a_command_stops_retrying_once_its_retry_budget_is_spent(jobctl: Any, fake: FakeOCI, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Rule 8: each call retried for up to 60 s, and a command of many calls could retry for hours."""
    run_id = started_run(jobctl, fake, tmp_path)
    fake.faults.add(path=rf"/jobRuns/{run_id}$", method="GET", status=503)
    fake.clear_requests()
    assert jobctl("get", run_id).exit_code == 1
    assert fake.count("GET", rf"/jobRuns/{run_id}$") == 6  # the (fast) strategy's attempts

    monkeypatch.setenv("JOBCTL_OCI_RETRY_BUDGET", "0")  # spent: a failure is reported at once
    fake.clear_requests()
    failed = jobctl("get", run_id)
    assert failed.exit_code == 1
    assert "503" in failed.stderr
    assert fake.count("GET", rf"/jobRuns/{run_id}$") == 1


def test_no_wait_to_retry_goes_past_what_is_left_of_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team (issue 14): with JOBCTL_OCI_RETRY_BUDGET=10 a command waited 17 s: the budget was checked
    before each wait, and a wait could take the strategy's full backoff past it."""
    from jobctl.backends.oci import clients
    from jobctl.backends.settings import OciSettings

    waits: list[float] = []
    monkeypatch.setattr(clients.time, "sleep", waits.append)
    strategy = clients.retry_strategy(OciSettings(retry_budget=2.5))
    failure = RuntimeError("503")
    def retry_until_refused() -> None:
        for attempt in range(1, 100):
            strategy.do_sleep(attempt, failure)

    with pytest.raises(RuntimeError):
        retry_until_refused()
    assert sum(waits) == pytest.approx(2.5)  # every second of the budget, and not one more
    assert all(0 < wait <= 2.5 for wait in waits)

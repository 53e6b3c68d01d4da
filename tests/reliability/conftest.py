"""What the reliability tests of local runs share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobctl.backends.local import procs
from tests.conftest import Result
from tests.reliability.test_local_lifetime import write_job

Runner = Callable[..., Result]


@pytest.fixture
def keeper(jobctl: Runner, tmp_path: Path) -> Iterator[list[str]]:
    """The `keeper` job, applied; yields a list that tests add run ids to. Any process of those runs
    still alive at the end fails the test, and is killed so it cannot outlive it."""
    applied = jobctl("apply", str(write_job(tmp_path / "spec")))
    assert applied.exit_code == 0, applied.stderr
    runs: list[str] = []
    yield runs
    leftovers = {run_id: procs.run_processes(run_id) for run_id in runs}
    for run_id in runs:
        procs.kill_run_processes(run_id)
    assert not any(leftovers.values()), f"processes outlived the test: {leftovers}"

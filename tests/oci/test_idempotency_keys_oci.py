"""`run --idempotency-key` on OCI (tests/cli/test_idempotency_keys.py: the same locally): a key finds only the
job runs it started, by the freeform tags it leaves on them, with the request it started them with; a retried
start says it re-attached; the service's 409 for a reused retry token names the key's run and what differs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from jobctl.testing.fake_oci import FakeOCI
from tests.cli.test_idempotency_keys import (
    assert_a_run_of_the_key_s_name_is_not_adopted,
    assert_another_name_is_another_request,
    start_and_retry,
)
from tests.oci.conftest import train_spec


@pytest.fixture
def tune(jobctl: Any, fake: FakeOCI, tmp_path: Path) -> FakeOCI:
    assert jobctl("apply", str(train_spec(tmp_path / "specs"))).exit_code == 0
    return fake


def listed(fake: FakeOCI, path: str) -> list[Mapping[str, str]]:
    """The queries of the list requests (GET on a path matching the regex `path`) the fake has answered."""
    return [r.query for r in fake.requests if r.method == "GET" and re.search(path, r.path)]


def test_a_retried_key_looks_its_runs_up_by_name_not_by_listing_the_job_s_history(jobctl: Any, tune: FakeOCI) -> None:
    """A keyed start listed every run of the job to find the key's: a CI retry on a job with thousands of runs
    paged through all of them. Each combination's run is now asked for by its name (ListJobRuns displayName)."""
    fanned = ("run", "tune-models", "--idempotency-key", "ci-42", "--matrix", "MODEL=xgb,rf")
    assert jobctl("run", "tune-models").exit_code == 0  # history the lookup must not read
    first = jobctl(*fanned)
    assert first.exit_code == 0, first.stderr
    tune.clear_requests()
    again = jobctl(*fanned)
    assert (again.exit_code, sorted(again.stdout.split())) == (0, sorted(first.stdout.split())), again.stderr
    assert again.stderr.count("re-attached to tune-models-ci-42-") == 2
    lookups = listed(tune, r"/jobRuns$")
    assert sorted(q.get("displayName", "") for q in lookups) == ["tune-models-ci-42-rf", "tune-models-ci-42-xgb"]
    assert len(tune.runs()) == 3


def names(fake: FakeOCI) -> list[str]:
    return sorted(run["displayName"] for run in fake.runs())


def test_keys_that_clean_to_one_name_each_start_their_own_run_on_oci(jobctl: Any, tune: FakeOCI) -> None:
    """Finding 1: "a b" and "a/b" both named their run tune-models-a_b, and the second re-attached to the
    first's; a run named so without the key was adopted by it."""
    for key in ("a b", "a/b"):
        result = jobctl("run", "tune-models", "--idempotency-key", key)
        assert result.exit_code == 0, result.stderr
        assert "re-attached" not in result.stderr
    assert len(set(names(tune))) == 2
    assert all(run["freeformTags"]["jobctl-run-key"] for run in tune.runs())  # the key's mark, as OCI keeps it
    again = jobctl("run", "tune-models", "--idempotency-key", "a/b")
    assert again.exit_code == 0, again.stderr
    assert "re-attached to tune-models-a_b-" in again.stderr
    assert_a_run_of_the_key_s_name_is_not_adopted(jobctl, "run", "tune-models", owner="tune-models")
    assert len(tune.runs()) == 3


def test_a_changed_set_with_the_same_key_is_another_request_on_oci(jobctl: Any, tune: FakeOCI) -> None:
    """Finding 3: the same key with another --set re-attached (exit 0): only env and args were compared."""
    base = ("run", "tune-models", "--idempotency-key", "k1", "--set", "runtime.maxRuntimeInMinutes=30")
    run_id = start_and_retry(jobctl, *base, name="tune-models-k1")
    for other, differs in [(("runtime.maxRuntimeInMinutes=31",), "--set runtime.maxRuntimeInMinutes differs"),
                           (("infrastructure.ocpus=4", "--set", "runtime.maxRuntimeInMinutes=30"),
                            "--set infrastructure.ocpus differs")]:
        refused = jobctl(*base[:-1], *other)
        assert refused.exit_code == 5, refused.stderr
        assert (f"run tune-models-k1 ({run_id}) was started with this idempotency key from another request: "
                f"its {differs}") in refused.stderr
    assert [run["id"] for run in tune.runs()] == [run_id]


def test_a_named_keyed_retry_re_attaches_and_another_name_names_the_key_s_run_on_oci(
        jobctl: Any, tune: FakeOCI) -> None:
    assert_another_name_is_another_request(jobctl, "tune-models", lambda: [run["id"] for run in tune.runs()])


def test_matrix_runs_have_names_of_their_own_on_oci(jobctl: Any, tune: FakeOCI) -> None:
    """Finding 2 (and 4): two combinations were named …-x-y-z; a secret value showed as its sha256's start."""
    fanned = ("run", "tune-models", "--idempotency-key", "k2", "--matrix", "A=x-y,x", "--matrix", "B=z,y-z",
              "--matrix", "MY_TOKEN=s3cr3t1")
    first = jobctl(*fanned)
    assert first.exit_code == 0, first.stderr
    assert len(set(names(tune))) == 4
    assert all("MY_TOKEN1" in name for name in names(tune))
    again = jobctl(*fanned)
    assert again.exit_code == 0, again.stderr
    assert again.stderr.count("re-attached to tune-models-k2-") == 4
    assert len(tune.runs()) == 4

"""Retry tokens: a retried create never makes a second job, and a new create after a delete makes a
new job (OCI replays a create's response for a retry token for 24 hours, deleted job included)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import EXAMPLES, use_fake_oci

SPEC = EXAMPLES / "train" / "job.yaml"


def active(fake: FakeOCI) -> list[str]:
    return [j["id"] for j in fake.jobs() if j["lifecycleState"] == "ACTIVE"]


def test_apply_delete_apply_makes_a_new_job(jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "tokens")
        assert jobctl("apply", str(SPEC), "--yes").exit_code == 0
        [first] = active(fake)
        assert jobctl("delete", "tune-models", "--yes").exit_code == 0

        again = jobctl("apply", str(SPEC), "--yes")

        assert again.exit_code == 0, again.stderr
        [second] = active(fake)
        assert second != first
        assert jobctl("plan", str(SPEC), "--detailed-exitcode").exit_code == 0


def test_a_create_whose_retry_token_is_rejected_is_made_with_a_new_one(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "tokens")
        # OCI may reject a token whose job has been deleted and purged (its retry-token documentation)
        fake.faults.add(path=r"/jobs$", method="POST", status=409, code="Conflict", times=1)

        applied = jobctl("apply", str(SPEC), "--yes")

        assert applied.exit_code == 0, applied.stderr
        assert len(active(fake)) == 1


def test_a_retried_apply_does_not_make_a_second_job(jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "tokens")
        fake.faults.add(path=r"/jobs$", method="POST", status=500, after=True, times=1)  # made, answer lost

        applied = jobctl("apply", str(SPEC), "--yes")

        assert applied.exit_code == 0, applied.stderr
        assert len(active(fake)) == 1
        assert len(fake.jobs()) == 1

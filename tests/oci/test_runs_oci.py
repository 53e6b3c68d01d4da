"""Runs on the oci backend as `get` and `runs` show them: each names its job, read once per job."""

from __future__ import annotations

import json
from pathlib import Path

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

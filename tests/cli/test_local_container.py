from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import EXAMPLES


def test_container_job_without_docker_or_podman_fails_at_run_time(
    jobctl, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    spec = str(EXAMPLES / "container" / "job.yaml")
    assert jobctl("apply", spec).exit_code == 0
    monkeypatch.setenv("PATH", str(tmp_path))  # no docker, no podman
    result = jobctl("run", "batch-score", "--wait")
    assert result.exit_code == 1
    assert "neither docker nor podman is on PATH" in result.stderr
    listed = jobctl("-o", "json", "runs")
    assert '"items": []' in listed.stdout  # no run was recorded

"""Plans on the oci backend: what OCI needs of every job is said by plan, before apply makes anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import EXAMPLES, use_fake_oci


def test_a_spec_without_compartment_or_project_is_refused_by_plan_before_anything_is_made(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "scope")
        spec = tmp_path / "two.yaml"
        train = (EXAMPLES / "train" / "job.yaml").read_text().replace("./src", str(EXAMPLES / "train" / "src"))
        hello = (EXAMPLES / "hello" / "job.yaml").read_text()
        hello = hello.replace("./hello.py", str(EXAMPLES / "hello" / "hello.py"))
        spec.write_text(train + "---\n" + hello)  # hello has no compartment or project

        for command in ("plan", "apply"):
            result = jobctl(command, str(spec), "--yes") if command == "apply" else jobctl(command, str(spec))
            assert result.exit_code == 3, result.stderr
            assert "job 'hello' needs spec.compartmentId and spec.projectId on this backend" in result.stderr
            assert f"{spec}:" in result.stderr
        assert fake.jobs() == []  # not even the job that had them

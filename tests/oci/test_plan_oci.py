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
        for name in ("OCI_COMPARTMENT_ID", "OCI_PROJECT_ID"):  # no default for what the spec leaves out
            monkeypatch.delenv(name)
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


@pytest.mark.parametrize("given", ["options", "environment", "notebook session"])
def test_compartment_and_project_default_from_options_environment_or_notebook_session(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str,
) -> None:
    """Issue 14 rule 12: plan passed and apply exited 6 for a spec without them, whatever was set."""
    compartment, project = "ocid1.compartment.oc1..given", "ocid1.datascienceproject.oc1.iad.given"
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "scope")
        for name in ("OCI_COMPARTMENT_ID", "OCI_PROJECT_ID"):
            monkeypatch.delenv(name)
        options: list[str] = []
        if given == "options":
            options = ["--compartment-id", compartment, "--project-id", project]
        elif given == "environment":
            monkeypatch.setenv("OCI_COMPARTMENT_ID", compartment)
            monkeypatch.setenv("OCI_PROJECT_ID", project)
        else:  # what OCI sets in a notebook session (ADS reads the same)
            monkeypatch.setenv("NB_SESSION_COMPARTMENT_OCID", compartment)
            monkeypatch.setenv("PROJECT_OCID", project)
        spec = tmp_path / "hello.yaml"
        spec.write_text((EXAMPLES / "hello" / "job.yaml").read_text().replace(
            "./hello.py", str(EXAMPLES / "hello" / "hello.py")))  # no compartment or project

        planned = jobctl(*options, "plan", str(spec))
        assert planned.exit_code == 0, planned.stderr
        assert f"compartment: {compartment}, project: {project}" in planned.stdout  # where it will go
        applied = jobctl(*options, "apply", str(spec), "--yes")
        assert applied.exit_code == 0, applied.stderr

        [job] = fake.jobs()
        assert (job["compartmentId"], job["projectId"]) == (compartment, project)
        assert jobctl(*options, "plan", str(spec), "--detailed-exitcode").exit_code == 0
        assert jobctl(*options, "run", "-p", str(spec)).exit_code == 0
        garbage = jobctl("--compartment-id", "garbage", "plan", str(spec))  # checked as a spec's value is
        assert garbage.exit_code == 2, garbage.stderr
        assert "--compartment-id / OCI_COMPARTMENT_ID: must be a compartment or tenancy OCID" in garbage.stderr

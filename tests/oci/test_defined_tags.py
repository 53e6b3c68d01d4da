"""Defined tags against a tenancy's tag defaults: OCI adds its own namespace to every job, and a required
tag without a value blocks the create (docs/oci-fidelity.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import EXAMPLES, use_fake_oci


def spec_with_tags(tmp_path: Path, tags: str | None) -> Path:
    """The train example, with `definedTags` under metadata when given."""
    text = (EXAMPLES / "train" / "job.yaml").read_text()
    if tags is not None:
        text = text.replace("  labels: {team: ml}\n", f"  labels: {{team: ml}}\n  definedTags: {tags}\n")
    target = tmp_path / "specs" / "job.yaml"
    target.parent.mkdir(parents=True)
    target.write_text(text)
    (target.parent / "src").symlink_to(EXAMPLES / "train" / "src")
    return target


def test_oci_s_own_tags_never_show_as_a_change_and_an_update_keeps_them(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI() as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "tags")
        spec = spec_with_tags(tmp_path, "{Finance: {CostCenter: '42'}}")
        assert jobctl("apply", str(spec)).exit_code == 0
        [job] = fake.jobs()
        assert set(job["definedTags"]) == {"Finance", "Oracle-Tags"}
        assert jobctl("plan", str(spec), "--refresh", "--detailed-exitcode").exit_code == 0

        spec.write_text(spec.read_text().replace("CostCenter: '42'", "CostCenter: '43'"))
        plan = jobctl("plan", str(spec))
        assert "~ definedTags" in plan.stdout
        assert "forces replacement" not in plan.stdout
        assert jobctl("apply", str(spec)).exit_code == 0

        [updated] = fake.jobs()
        assert updated["id"] == job["id"]
        automatic = job["definedTags"]["Oracle-Tags"]
        assert updated["definedTags"] == {"Finance": {"CostCenter": "43"}, "Oracle-Tags": automatic}
        assert jobctl("plan", str(spec), "--refresh", "--detailed-exitcode").exit_code == 0


def test_a_required_tag_without_a_value_is_a_clear_error_and_setting_it_works(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOCI(required_tags={"Finance": ["CostCenter"]}) as fake:
        use_fake_oci(fake, tmp_path, monkeypatch, "tags")
        untagged = spec_with_tags(tmp_path / "a", None)
        refused = jobctl("apply", str(untagged))
        assert refused.exit_code == 1
        assert "Finance.CostCenter" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert fake.jobs() == []

        tagged = spec_with_tags(tmp_path / "b", "{Finance: {CostCenter: '42'}}")
        assert jobctl("apply", str(tagged)).exit_code == 0
        assert [j["definedTags"]["Finance"] for j in fake.jobs()] == [{"CostCenter": "42"}]

from __future__ import annotations

from jobctl.spec.reference import render
from tests.conftest import REPO


def test_docs_spec_md_is_generated_from_the_current_schema() -> None:
    committed = (REPO / "docs" / "spec.md").read_text(encoding="utf-8")
    assert committed == render(), "docs/spec.md is stale: run `python -m jobctl.spec.reference > docs/spec.md`"


def test_every_schema_field_is_in_the_reference() -> None:
    text = render()
    for field in ("metadata.name", "spec.infrastructure.shape", "spec.runtime.env", "spec.logging.logGroupId",
                  "spec.runtime.conda.slug", "spec.runtime.maxRuntimeInMinutes"):
        assert f"`{field}`" in text

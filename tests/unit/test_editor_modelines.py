"""Every example spec points the YAML language server at the committed schema, by a path that resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO

SCHEMA = REPO / "schemas" / "jobctl-v1.schema.json"
MODELINE = re.compile(r"# yaml-language-server: \$schema=(\S+)\n")
SPECS = sorted(p for p in EXAMPLES.glob("*/*") if p.suffix in (".yaml", ".yml"))


def test_there_are_examples() -> None:
    assert len(SPECS) >= 5


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_each_example_starts_with_a_modeline_that_finds_the_schema(spec: Path) -> None:
    match = MODELINE.match(spec.read_text(encoding="utf-8"))

    assert match, f"{spec.name} does not start with a yaml-language-server modeline"
    assert (spec.parent / match.group(1)).resolve() == SCHEMA.resolve()

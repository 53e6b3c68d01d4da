"""Spec detection decides by parsed content; the text check only spares parsing what cannot be a spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.spec import detect


@pytest.mark.parametrize(("text", "spec"), [
    ("apiVersion: jobctl/v1\nkind: Job\n", True),  # the fast path
    ('{"apiVersion": "jobctl/v1", "kind": "Job"}', True),
    ('"\\x6bind": job\n', True),  # an ADS job, its key spelt with an escape
    ("? apiVersion\n: jobctl/v1\n", True),
    ("---\nname: x\n---\n  kind: Workflow\n", True),  # a jobctl kind without apiVersion: read, so it is said
    ("apiVersion: JobCtl/v2\nkind: Job\n", True),  # a misspelt version is the schema's to say, not a skip
    ('{"apiVersion": "batch/v1", "kind": "Job"}', False),  # a Kubernetes Job
    ("kind: !Ref SomeKind\napiVersion: !Sub x\n", False),  # another tool's tags: composed, not an error
    ("metadata: {kind: job}\n", False),  # only top-level fields mark a spec
    ("name: ml\ndependencies: [pandas]\n", False),
    ("kind: [unclosed\n", True),  # may be a spec, does not parse: read, so its problem is said
    ("&a {<<: *a, kind: x}\n", False),  # a mapping that merges itself: followed once (it recursed forever)
    ("&a {<<: *a, kind: job}\n", True),
])
def test_a_file_is_a_spec_by_what_it_holds(tmp_path: Path, text: str, spec: bool) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    assert detect.looks_like_spec(path) is spec


def test_a_text_without_any_mark_is_not_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def parsed(text: str) -> bool:
        raise AssertionError("parsed")

    monkeypatch.setattr(detect, "_holds_spec", parsed)
    path = tmp_path / "environment.yml"
    path.write_text("name: ml\ndependencies: [python=3.11, {pip: [torch]}]\n")
    assert not detect.looks_like_spec(path)

"""Which set a plan acts on (jobctl.plan.sets): what --prune may delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobctl.errors import UsageError
from jobctl.plan.sets import MAX_SET_LENGTH, derive_set, plan_set


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "churn-models"
    (root / ".git").mkdir(parents=True)
    (root / "specs" / "nightly").mkdir(parents=True)
    (root / "specs" / "train.yaml").write_text("")
    (root / "specs" / "nightly" / "a.yaml").write_text("")
    return root


def test_the_set_is_the_specs_directory_within_its_repository(repo: Path) -> None:
    assert derive_set([str(repo / "specs")]) == "churn-models/specs"
    assert derive_set([str(repo / "specs" / "train.yaml")]) == "churn-models/specs"  # a file: its directory
    assert derive_set([str(repo / "specs" / "nightly"), str(repo / "specs" / "train.yaml")]) == "churn-models/specs"
    assert derive_set([str(repo / "specs" / "nightly" / "a.yaml")]) == "churn-models/specs/nightly"
    assert derive_set([str(repo)]) == "churn-models"


def test_a_git_worktree_file_marks_a_repository_too(tmp_path: Path) -> None:
    root = tmp_path / "wt"
    (root / "specs").mkdir(parents=True)
    (root / ".git").write_text("gitdir: /elsewhere\n")
    assert derive_set([str(root / "specs")]) == "wt/specs"


def test_outside_a_repository_the_set_is_the_absolute_directory(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    assert derive_set([str(tmp_path / "specs")]) == str(tmp_path / "specs")


def test_a_given_set_wins_then_the_environment(repo: Path) -> None:
    paths = [str(repo / "specs")]
    assert plan_set(paths, "team", {"JOBCTL_SET": "env"}) == "team"
    assert plan_set(paths, None, {"JOBCTL_SET": "env"}) == "env"
    assert plan_set(paths, None, {}) == "churn-models/specs"


@pytest.mark.parametrize("bad", ["", " team", "a\nb", "x" * (MAX_SET_LENGTH + 1)])
def test_a_set_name_is_short_printable_text(bad: str) -> None:
    with pytest.raises(UsageError, match="--set-name: a set name is"):
        plan_set(["."], bad, {})


@pytest.mark.parametrize("bad", [" team", "a\tb", "x" * (MAX_SET_LENGTH + 1)])
def test_a_bad_jobctl_set_is_named_as_such(bad: str) -> None:
    with pytest.raises(UsageError, match="JOBCTL_SET: a set name is"):
        plan_set(["."], None, {"JOBCTL_SET": bad})


def test_a_derived_set_is_cut_to_the_tag_limit(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["d" * 50] * 6)
    deep.mkdir(parents=True)
    derived = derive_set([str(deep)])
    assert len(derived) <= MAX_SET_LENGTH
    assert derived.endswith("d" * 50)

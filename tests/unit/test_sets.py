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


def test_long_derived_sets_fit_the_tag_and_never_collide(tmp_path: Path) -> None:
    """Cut to their last 200 characters, two directories with one long tail shared a set: each pruned
    the other's jobs."""
    tail = ["d" * 50] * 4
    alice, bob = tmp_path.joinpath("alice", *tail), tmp_path.joinpath("bob", *tail)
    for directory in (alice, bob):
        directory.mkdir(parents=True)
    sets = [derive_set([str(alice)]), derive_set([str(bob)])]
    assert all(len(s) <= MAX_SET_LENGTH for s in sets)
    assert sets[0] != sets[1]
    assert sets[0].split("#")[0].endswith("d" * 50)
    assert derive_set([str(alice)]) == sets[0]  # and stay the same

"""Spec paths as a user sees them (red team, LOW): a name with a newline or a byte that is not UTF-8 is shown
escaped, in text and in JSON; a path too long for the system is a located error; a directory's symbolic link to
nothing is said, not skipped silently."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, Result

Run = Callable[..., Result]

BAD_SPEC = ("apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: NAME}\nspec:\n"
            "  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: many}\n"
            "  runtime: {type: python, source: ./main.py}\n")
GOOD_SPEC = BAD_SPEC.replace("many", "16")


def _jobctl_bytes(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """jobctl as a real process, its output as the bytes it wrote (a surrogate can only show there)."""
    return subprocess.run([sys.executable, "-m", "jobctl", *args], cwd=cwd, capture_output=True, timeout=60,
                          check=False, env={**os.environ, "PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"})


def _odd_names(tmp_path: Path) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    (tmp_path / "main.py").write_text("print(1)\n")
    (specs / "two\nlines.yaml").write_text(BAD_SPEC.replace("NAME", "first").replace("./main", "../main"))
    (specs / os.fsdecode(b"caf\xe9.yaml")).write_text(BAD_SPEC.replace("NAME", "second").replace("./main", "../main"))
    return specs


def test_a_spec_name_with_a_newline_or_a_non_utf8_byte_is_shown_escaped_in_text(tmp_path: Path) -> None:
    _odd_names(tmp_path)

    for command in ("validate", "plan"):
        result = _jobctl_bytes(command, "specs", cwd=tmp_path)

        assert result.returncode == 3, result.stderr
        lines = result.stderr.decode("utf-8").splitlines()  # valid UTF-8, and one line per problem
        assert lines[:2] == [
            '"specs/caf\\xe9.yaml":5:71: spec.infrastructure.memoryInGBs: expected a number, got string "many"',
            '"specs/two\\nlines.yaml":5:71: spec.infrastructure.memoryInGBs: expected a number, got string "many"',
        ]
        assert lines[2] == "Error: 2 errors in 2 files"


def test_a_spec_name_with_a_newline_or_a_non_utf8_byte_is_valid_json(tmp_path: Path) -> None:
    _odd_names(tmp_path)

    result = _jobctl_bytes("validate", "specs", "-o", "json", cwd=tmp_path)

    assert result.returncode == 3, result.stderr
    files = [entry["file"] for entry in json.loads(result.stdout.decode("utf-8"))]  # strict UTF-8
    assert files == ['"specs/caf\\xe9.yaml"', '"specs/two\\nlines.yaml"']


def test_a_name_written_plainly_is_shown_as_given(jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("main.py").write_text("print(1)\n")
    Path("café job.yaml").write_text(BAD_SPEC.replace("NAME", "plain"))

    result = jobctl("validate", "café job.yaml")

    assert result.stderr.splitlines()[0].startswith("café job.yaml:5:71: ")


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
@pytest.mark.parametrize("too_long", ["name", "path"])
def test_a_path_too_long_for_the_system_is_an_invalid_input_naming_it_shortened(
        jobctl: Run, command: str, too_long: str) -> None:
    given = "x" * 300 + ".yaml" if too_long == "name" else "a/" * 3000 + "job.yaml"

    result = jobctl(command, given, *(["--yes"] if command == "apply" else []))

    assert result.exit_code == 3, result.stderr
    assert "internal error" not in result.stderr
    first = result.stderr.splitlines()[0]
    limit = "a name in the path is 305 bytes" if too_long == "name" else "the path is 6008 bytes"
    assert first.endswith(f":1:1: <file>: file name too long: {limit}; this system allows "
                          f"{os.pathconf('/', 'PC_NAME_MAX' if too_long == 'name' else 'PC_PATH_MAX')}")
    assert first.startswith(given[:60])
    assert "characters...]" in first
    assert len(first) < 400


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_a_path_too_long_below_a_directory_is_an_invalid_input_naming_it_shortened(
        jobctl: Run, command: str, tmp_path: Path) -> None:
    """Red team, session 13: a spec ~5,000 characters deep in the directory given was an internal error."""
    deep = os.open(tmp_path, os.O_RDONLY)
    try:
        for _ in range(25):  # each step relative to the one before: no path the system must take whole
            os.mkdir("d" * 200, dir_fd=deep)
            below = os.open("d" * 200, os.O_RDONLY, dir_fd=deep)
            os.close(deep)
            deep = below
        os.close(os.open("job.yaml", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=deep))
    finally:
        os.close(deep)

    result = jobctl(command, str(tmp_path), *(["--yes"] if command == "apply" else []))

    assert result.exit_code == 3, result.stderr
    assert "internal error" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(str(tmp_path))
    assert "characters...]" in first
    assert ": file name too long: the path is " in first
    assert len(first) < 400


def test_a_dangling_symlink_in_a_directory_is_a_warning_naming_its_target(jobctl: Run, tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print(1)\n")
    (tmp_path / "job.yaml").write_text(GOOD_SPEC.replace("NAME", "kept"))
    (tmp_path / "gone.yaml").symlink_to("../elsewhere/gone.yaml")
    (tmp_path / "gone.yml").symlink_to("gone.yml")  # a loop: no file either

    validated = jobctl("validate", str(tmp_path))
    planned = jobctl("plan", str(tmp_path))
    pruned = jobctl("apply", str(tmp_path), "--prune", "--yes")

    warnings = [f"skipped {tmp_path}/gone.yaml: a symbolic link to ../elsewhere/gone.yaml, which is not there",
                f"skipped {tmp_path}/gone.yml: a symbolic link to gone.yml, which is not there"]
    assert validated.exit_code == 0
    assert validated.stderr.splitlines() == [f"Warning: {w}" for w in warnings]
    assert planned.exit_code == 0
    assert [f"Warning: {w}" for w in warnings] == planned.stdout.splitlines()[:2]
    # the spec a link meant may define a job of the set: pruning could delete it
    assert pruned.exit_code == 2
    assert "--prune refused" in pruned.stderr
    assert f"{tmp_path}/gone.yaml" in pruned.stderr


def test_a_dangling_symlink_named_on_the_command_line_is_not_found_naming_its_target(
        jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("job.yaml").symlink_to("moved/job.yaml")

    result = jobctl("validate", "job.yaml")

    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        "job.yaml:1:1: <file>: no such file or directory (a symbolic link to moved/job.yaml, which is not there)",
        "Error: 1 error in 1 file",
    ]


def _linked(tmp_path: Path, real_name: str = "job.yaml") -> Path:
    """The red team's layout: jobs/train/<real_name> (source: ./main.py beside it), and ./job.yaml linking to it."""
    train = tmp_path / "jobs" / "train"
    train.mkdir(parents=True)
    (train / "main.py").write_text("print('trained')\n")
    (train / real_name).write_text(GOOD_SPEC.replace("NAME", "linked"))
    (tmp_path / "job.yaml").symlink_to(Path("jobs", "train", real_name))
    return train / real_name


def test_a_symlinked_spec_resolves_its_paths_from_the_file_it_points_to(
        jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team: ./job.yaml -> jobs/train/job.yaml looked for ./main.py beside the link (exit 3), so `validate .`
    and `run --follow` (which reads ./job.yaml) failed on a valid spec."""
    _linked(tmp_path)
    monkeypatch.chdir(tmp_path)
    for given in ("job.yaml", "."):
        validated = jobctl("validate", given)
        assert (validated.exit_code, validated.stdout) == (0, "valid: 1 job in 1 file (linked)\n"), validated.stderr
    assert jobctl("apply", "job.yaml", "--yes").exit_code == 0
    ran = jobctl("run", "--follow")
    assert ran.exit_code == 0, ran.stderr
    assert "trained" in ran.stdout


@pytest.mark.parametrize(("real_name", "shown"), [("job.yaml", "jobs/train/job.yaml"),
                                                  ("two\nlines.yaml", '"jobs/train/two\\nlines.yaml"')])
def test_a_walk_reads_a_spec_and_its_link_once_by_the_real_path(
        jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_name: str, shown: str) -> None:
    """A walk kept the link (first in sort order) and dropped the file it points to; a file and a link to it are
    one spec, and its errors name the file (shown C-quoted as any path)."""
    real = _linked(tmp_path, real_name)
    real.write_text(real.read_text().replace("16", "many"))
    monkeypatch.chdir(tmp_path)
    result = jobctl("validate", ".", "job.yaml")
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0].startswith(f"{shown}:5:")
    assert "Error: 1 error in 1 file" in result.stderr
    assert "also defined" not in result.stderr


def test_a_symlinked_ads_file_resolves_its_paths_from_the_file_it_points_to(jobctl: Run, tmp_path: Path) -> None:
    """ADS job YAML follows the same rule: its scriptPathURI src/train is beside the file, not the link."""
    (tmp_path / "ads.yaml").symlink_to(REPO / "tests" / "data" / "ads" / "python-service-conda.yaml")
    validated = jobctl("validate", str(tmp_path / "ads.yaml"))
    assert (validated.exit_code, validated.stdout) == (0, "valid: 1 job in 1 file (train-model)\n"), validated.stderr

"""The parse cache: same results as parsing, re-interpolated every time, never stale, never secret."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from jobctl.spec import yamlparse
from jobctl.spec.document import read_documents
from jobctl.spec.interpolate import Interpolator
from tests.conftest import REPO

SPEC = textwrap.dedent("""\
    apiVersion: jobctl/v1
    kind: Job
    metadata: {name: cached}
    spec:
      infrastructure:
        shape: VM.Standard.E4.Flex
        ocpus: ${OCPUS}
        memoryInGBs: 16
      runtime:
        type: python
        source: ./main.py
        env: {MODEL: "${MODEL:-xgb}", TOKEN: "${API_TOKEN}", PRICE: "$$5"}
    """)


def read(path: Path, environ: dict[str, str]) -> tuple[list, list, Interpolator]:
    hook = Interpolator(environ, "spec.yaml")
    documents, problems = read_documents(path, "spec.yaml", hook)
    return documents, problems, hook


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


def forbid_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed again instead of using the cache")

    monkeypatch.setattr(yamlparse, "parse", fail)


def test_a_second_read_comes_from_the_cache_and_equals_the_first(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"OCPUS": "2", "API_TOKEN": "s3cret"}
    first, problems, _ = read(spec, env)
    assert problems == []
    forbid_parsing(monkeypatch)
    second, problems, _ = read(spec, env)
    assert problems == []
    assert [(d.data, d.values, d.keys, d.start, d.index) for d in second] == \
        [(d.data, d.values, d.keys, d.start, d.index) for d in first]
    assert second[0].data["spec"]["infrastructure"]["ocpus"] == 2
    assert second[0].data["spec"]["runtime"]["env"] == {"MODEL": "xgb", "TOKEN": "s3cret", "PRICE": "$5"}


def test_cached_documents_are_interpolated_from_the_current_environment(
    spec: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    read(spec, {"OCPUS": "2", "API_TOKEN": "a"})
    forbid_parsing(monkeypatch)
    documents, _, hook = read(spec, {"OCPUS": "4", "MODEL": "rf"})
    assert documents[0].data["spec"]["infrastructure"]["ocpus"] == 4
    assert documents[0].data["spec"]["runtime"]["env"]["MODEL"] == "rf"
    assert [d.message for d in hook.diagnostics] == [
        "variable API_TOKEN is not set (set it, or write ${API_TOKEN:-default})",
    ]


def test_the_cache_never_holds_interpolated_values(spec: Path, tmp_path: Path) -> None:
    read(spec, {"OCPUS": "2", "API_TOKEN": "very-secret-value"})
    files = list(Path(os.environ["JOBCTL_CACHE_DIR"]).iterdir())
    assert len(files) == 1
    blob = files[0].read_bytes()
    assert b"very-secret-value" not in blob
    assert b"${API_TOKEN}" in blob


def test_a_changed_file_is_parsed_again(spec: Path) -> None:
    read(spec, {"OCPUS": "2"})
    spec.write_text(SPEC.replace("name: cached", "name: changed"))
    documents, _, _ = read(spec, {"OCPUS": "2"})
    assert documents[0].data["metadata"]["name"] == "changed"


def test_an_in_place_edit_that_keeps_size_mtime_and_inode_is_parsed_again(spec: Path) -> None:
    """What `cp -p`, tar and editors on coarse file systems do; the cache used to answer "No changes"."""
    read(spec, {"OCPUS": "2"})
    before = spec.stat()
    with spec.open("r+") as out:  # same inode, same size
        out.write(SPEC.replace("name: cached", "name: edited"))
    os.utime(spec, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = spec.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)
    documents, _, _ = read(spec, {"OCPUS": "2"})
    assert documents[0].data["metadata"]["name"] == "edited"


def test_files_with_problems_are_not_cached(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\n")
    _, problems, _ = read(bad, {})
    assert problems
    assert list(Path(os.environ["JOBCTL_CACHE_DIR"]).iterdir()) == []


def test_a_corrupt_cache_entry_is_ignored(spec: Path) -> None:
    read(spec, {"OCPUS": "2"})
    [entry] = Path(os.environ["JOBCTL_CACHE_DIR"]).iterdir()
    entry.write_bytes(b"\x00garbage")
    documents, problems, _ = read(spec, {"OCPUS": "2"})
    assert problems == []
    assert documents[0].data["metadata"]["name"] == "cached"


def test_no_cache_when_disabled(spec: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBCTL_NO_CACHE", "1")
    read(spec, {"OCPUS": "2"})
    assert list(Path(os.environ["JOBCTL_CACHE_DIR"]).iterdir()) == []


def test_validate_of_an_unchanged_spec_does_not_import_yaml() -> None:
    program = (
        "import sys\n"
        "from jobctl.cli.app import cli\n"
        "try:\n"
        "    cli.main(['validate', 'specs-examples/hello/job.yaml'], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('yaml' in sys.modules)\n"
    )
    runs = [subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, check=True,
                           env=os.environ.copy()) for _ in range(2)]
    assert [r.stdout.split()[-1] for r in runs] == ["True", "False"]

"""The parse cache: same results as parsing, re-interpolated every time, never stale, never secret."""

from __future__ import annotations

import os
import stat
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


def validate_counting_parses(folder: Path) -> tuple[str, int]:
    """`jobctl validate DIR` in a new interpreter: its output, and how many files it parsed (not cached)."""
    program = (
        "import sys\n"
        "from jobctl.spec import yamlparse\n"
        "parsed = []\n"
        "real = yamlparse.parse\n"
        "yamlparse.parse = lambda *a, **k: parsed.append(1) or real(*a, **k)\n"
        "from jobctl.cli.app import cli\n"
        "try:\n"
        f"    cli.main(['validate', {str(folder)!r}], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(len(parsed), file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True, check=True,
                         env={**os.environ, "API_TOKEN": "t"})
    return run.stdout, int(run.stderr.split()[-1])


def spec_tree(root: Path, per_folder: int) -> None:
    for folder in ("a", "b"):
        (root / folder).mkdir(parents=True)
        (root / folder / "main.py").write_text("print(1)\n")
        for i in range(per_folder):
            (root / folder / f"job{i}.yaml").write_text(
                SPEC.replace("name: cached", f"name: {folder}{i}").replace("${OCPUS}", "2"))


def test_validate_dir_keeps_one_cache_file_per_directory_and_reads_every_spec_from_it(tmp_path: Path) -> None:
    """A file per spec cost a file creation each (~0.4 ms on ext4 in a VM): a third of a cold `validate DIR`."""
    spec_tree(tmp_path / "specs", 30)
    output, parsed = validate_counting_parses(tmp_path / "specs")
    assert output.startswith("valid: 60 jobs in 60 files (a0, a1, a10, ")
    assert parsed == 60
    cache = Path(os.environ["JOBCTL_CACHE_DIR"])
    assert sorted(p.name.split("-", 1)[1] for p in cache.iterdir()) == ["a.marshal", "b.marshal"]
    assert validate_counting_parses(tmp_path / "specs")[1] == 0
    edited = SPEC.replace("name: cached", "name: b3").replace("${OCPUS}", "4")
    (tmp_path / "specs" / "b" / "job3.yaml").write_text(edited)
    assert validate_counting_parses(tmp_path / "specs")[1] == 1  # only the edited file, the others still cached


def test_a_cache_pack_drops_files_gone_from_their_directory(tmp_path: Path) -> None:
    spec_tree(tmp_path / "specs", 3)
    validate_counting_parses(tmp_path / "specs")
    cache = Path(os.environ["JOBCTL_CACHE_DIR"])
    [pack] = [p for p in cache.iterdir() if p.name.endswith("-a.marshal")]
    assert b"job2.yaml" in pack.read_bytes()
    (tmp_path / "specs" / "a" / "job2.yaml").unlink()
    (tmp_path / "specs" / "a" / "job9.yaml").write_text(SPEC.replace("name: cached", "name: a9"))
    assert validate_counting_parses(tmp_path / "specs")[1] == 1
    assert b"job2.yaml" not in pack.read_bytes()
    assert b"job9.yaml" in pack.read_bytes()
    assert [p.name for p in cache.iterdir() if p.name.startswith(".")] == []  # no partial file left


@pytest.mark.parametrize(("damage", "misses"), [
    ("cut in its index", 3), ("garbage", 3), ("another directory's pack", 3), ("one byte short", 1),
])
def test_a_damaged_or_foreign_pack_is_a_miss_and_is_rewritten(tmp_path: Path, damage: str, misses: int) -> None:
    spec_tree(tmp_path / "specs", 3)
    validate_counting_parses(tmp_path / "specs")
    cache = Path(os.environ["JOBCTL_CACHE_DIR"])
    [pack_a] = [p for p in cache.iterdir() if p.name.endswith("-a.marshal")]
    [pack_b] = [p for p in cache.iterdir() if p.name.endswith("-b.marshal")]
    whole = pack_a.read_bytes()
    pack_a.write_bytes({"cut in its index": whole[:20], "one byte short": whole[:-1], "garbage": b"\xff" * 40,
                        "another directory's pack": pack_b.read_bytes()}[damage])
    first, parsed = validate_counting_parses(tmp_path / "specs")
    assert first.startswith("valid: 6 jobs in 6 files")
    assert parsed == misses
    assert validate_counting_parses(tmp_path / "specs")[1] == 0


def test_a_spec_known_to_pass_the_schema_is_not_checked_again_but_one_with_variables_always_is(
        tmp_path: Path) -> None:
    """A document without ${VAR} that passed the schema is marked so in the cache: the next command skips the
    validator (and its import). One with a variable, or one that failed, is checked every time."""
    spec_tree(tmp_path / "specs", 1)
    plain = tmp_path / "specs" / "a" / "job0.yaml"
    plain.write_text(plain.read_text().replace('env: {MODEL: "${MODEL:-xgb}", TOKEN: "${API_TOKEN}", PRICE: "$$5"}',
                                               "env: {MODEL: xgb}"))
    broken = tmp_path / "specs" / "b" / "job0.yaml"
    broken.write_text(broken.read_text().replace("ocpus: 2", "ocpus: -3"))
    program = (
        "import sys\n"
        "from jobctl.cli.app import cli\n"
        "try:\n"
        f"    cli.main(['validate', {str(tmp_path / 'specs')!r}], standalone_mode=False)\n"
        "except BaseException as exc:\n"
        "    print(type(exc).__name__, file=sys.stderr)\n"
        "print('jobctl.spec._fastschema' in sys.modules, file=sys.stderr)\n"
    )

    def validate(token: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, "API_TOKEN": token}, check=False)

    first = validate("t")
    assert "b/job0.yaml:7:12: spec.infrastructure.ocpus: must be > 0; got -3" in first.stderr
    for _ in range(2):  # the broken one and the one with a variable are checked again: the validator loads
        again = validate("t")
        assert "spec.infrastructure.ocpus: must be > 0; got -3" in again.stderr
        assert again.stderr.split()[-1] == "True"
    broken.write_text(broken.read_text().replace("ocpus: -3", "ocpus: 2"))
    (tmp_path / "specs" / "b" / "job0.yaml").write_text(plain.read_text().replace("name: a0", "name: b0"))
    validate("t")
    assert validate("t").stderr.split()[-1] == "False"  # every spec now known to pass, none with a variable


def test_a_spec_read_as_known_to_pass_the_schema_builds_what_a_parsed_one_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema fills in defaults (blockStorageSizeInGBs: 50) as it checks: a document not checked again must
    come back from the cache with them, so that the jobs built are the same."""
    from jobctl.spec.load import load_specs

    (tmp_path / "main.py").write_text("print(1)\n")
    spec = tmp_path / "job.yaml"
    spec.write_text(SPEC.replace("${OCPUS}", "2").replace(
        'env: {MODEL: "${MODEL:-xgb}", TOKEN: "${API_TOKEN}", PRICE: "$$5"}', "env: {MODEL: xgb}"))
    parsed = load_specs([str(spec)], {})
    cached = load_specs([str(spec)], {})
    monkeypatch.setenv("JOBCTL_NO_CACHE", "1")
    uncached = load_specs([str(spec)], {})
    assert parsed.diagnostics == cached.diagnostics == uncached.diagnostics == ()
    assert parsed.jobs == cached.jobs == uncached.jobs
    monkeypatch.delenv("JOBCTL_NO_CACHE")
    spec.write_text(spec.read_text() + "# edited\n")
    [document], problems = read_documents(spec, "job.yaml")  # (read without a check: cached, not marked)
    assert (document.checked, problems) == (False, [])
    load_specs([str(spec)], {})  # checks it, and marks the entry an earlier command wrote
    [document], problems = read_documents(spec, "job.yaml")
    assert (document.checked, problems) == (True, [])
    assert document.data["spec"]["infrastructure"]["blockStorageSizeInGBs"] == 50  # as the schema leaves it


COLLISION = REPO / "tests" / "data" / "parse_cache"


def test_two_specs_with_the_same_checksums_are_told_apart(tmp_path: Path) -> None:
    """Red team: the key held the length, CRC-32 and Adler-32 of the file, which a crafted edit matches in a
    second (A.yaml and B.yaml: MODEL safe and evil). A reviewer with A cached planned B as "No changes"."""
    import zlib

    from jobctl.spec.load import load_specs

    safe, evil = ((COLLISION / name).read_bytes() for name in ("A.yaml", "B.yaml"))
    assert (len(safe), zlib.crc32(safe), zlib.adler32(safe)) == (len(evil), zlib.crc32(evil), zlib.adler32(evil))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print(1)\n")
    spec = tmp_path / "job.yaml"
    models = []
    for content in (safe, evil):
        spec.write_bytes(content)
        loaded = load_specs([str(spec)], {})
        assert loaded.diagnostics == ()
        models.append(loaded.jobs[0].definition.env["MODEL"])
    assert models == ["safe", "evil"]


def test_a_cache_directory_others_may_write_to_is_neither_used_nor_changed(
        spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team: JOBCTL_CACHE_DIR=/tmp (or a team's directory) was made 0700, locking everyone else out; and
    what others may write there, the cache would trust."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    monkeypatch.setenv("JOBCTL_CACHE_DIR", str(shared))
    for _ in range(2):
        documents, problems, _ = read(spec, {"OCPUS": "2"})
        assert (problems, documents[0].data["metadata"]["name"]) == ([], "cached")
    assert (stat.S_IMODE(shared.stat().st_mode), list(shared.iterdir())) == (0o1777, [])


def test_a_pack_others_may_write_to_is_not_trusted(tmp_path: Path) -> None:
    spec_tree(tmp_path / "specs", 2)
    validate_counting_parses(tmp_path / "specs")
    packs = list(Path(os.environ["JOBCTL_CACHE_DIR"]).iterdir())
    assert validate_counting_parses(tmp_path / "specs")[1] == 0
    for pack in packs:
        pack.chmod(0o666)
    assert validate_counting_parses(tmp_path / "specs")[1] == 4  # parsed again, and the packs written anew
    assert {stat.S_IMODE(p.stat().st_mode) for p in packs} == {0o600}


@pytest.mark.parametrize(("value", "cached"), [("1", False), ("yes", False), ("0", True), ("false", True),
                                                ("", True)])
def test_jobctl_no_cache_turns_the_cache_off_only_when_it_says_so(
        spec: Path, monkeypatch: pytest.MonkeyPatch, value: str, cached: bool) -> None:
    monkeypatch.setenv("JOBCTL_NO_CACHE", value)
    read(spec, {"OCPUS": "2"})
    assert bool(list(Path(os.environ["JOBCTL_CACHE_DIR"]).iterdir())) == cached


def test_marking_a_file_of_many_documents_writes_its_entry_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each document that passed rewrote its file's whole entry: a cold `validate` of a file of 1,000 documents
    took 22 s (quadratic). The marks are now written once per file."""
    import marshal

    from jobctl.spec import document as module
    from jobctl.spec.load import load_specs

    (tmp_path / "main.py").write_text("print(1)\n")
    plain = SPEC.replace("${OCPUS}", "2").replace('env: {MODEL: "${MODEL:-xgb}", TOKEN: "${API_TOKEN}", PRICE: "$$5"}',
                                                  "env: {MODEL: xgb}")
    spec = tmp_path / "many.yaml"
    spec.write_text("---\n".join(plain.replace("name: cached", f"name: job{i}") for i in range(200)))
    entries = []

    class Counting:
        loads = staticmethod(marshal.loads)

        @staticmethod
        def dumps(value: object) -> bytes:
            if isinstance(value, dict) and "docs" in value:
                entries.append(len(value["docs"]))
            return marshal.dumps(value)

    monkeypatch.setattr(module, "marshal", Counting)
    assert load_specs([str(spec)], {}).diagnostics == ()
    assert entries == [200, 200]  # parsed, then marked: one entry each time, not one per document
    [first, *_], _ = read_documents(spec, "many.yaml")
    assert first.checked

"""The invalid-spec corpus: every broken spec gets exactly the diagnostics a person should see.

Each committed case `tests/data/invalid/NN-what.yaml` (or `.yml`/`.json`) has a sibling
`NN-what.expected` holding the exact error lines, `file:line:col: path: message`, in order, with the
file shown as the repo-relative path the test passes. Fixtures that cases point `source:` at live in
`tests/data/invalid/_src/` (never named *.yaml).

Cases that need raw bytes (encodings, NUL, size limit) are generated into tmp_path from GENERATED.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from jobctl.spec.document import MAX_FILE_BYTES
from tests.conftest import REPO, Result

CORPUS = REPO / "tests" / "data" / "invalid"
CORPUS_REL = CORPUS.relative_to(REPO).as_posix()
CASE_SUFFIXES = (".yaml", ".yml", ".json")
SUMMARY_PREFIX = "Error: "
MIN_CASES = 40

Runner = Callable[..., Result]


def _committed_cases() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_file() and p.suffix in CASE_SUFFIXES)


# name -> (bytes of the file, expected lines with {file} for the path as passed)
_SPEC_TAIL = b"kind: Job\nmetadata:\n  name: demo\n"
GENERATED: dict[str, tuple[bytes, list[str]]] = {
    "80-non-utf8-byte.yaml": (
        b"apiVersion: jobctl/v1\n" + _SPEC_TAIL + b"  description: caf\xe9 menu\n",
        ["{file}:5:19: <file>: file is not valid UTF-8 (byte 0xe9)"],
    ),
    "80-non-utf8-byte-after-a-bom.yaml": (  # the byte and its column, not the BOM's (0xbf at 1:3)
        b"\xef\xbb\xbfab\xffc\n",
        ["{file}:1:3: <file>: file is not valid UTF-8 (byte 0xff)"],
    ),
    "81-utf16-le-bom.yaml": (
        ("apiVersion: jobctl/v1\n" + _SPEC_TAIL.decode()).encode("utf-16"),  # LE with BOM
        ["{file}:1:1: <file>: file is UTF-16; save it as UTF-8"],
    ),
    "82-utf16-be-bom.yaml": (
        b"\xfe\xff" + ("apiVersion: jobctl/v1\n" + _SPEC_TAIL.decode()).encode("utf-16-be"),
        ["{file}:1:1: <file>: file is UTF-16; save it as UTF-8"],
    ),
    "83-utf32-le-bom.yaml": (
        b"\xff\xfe\x00\x00" + ("apiVersion: jobctl/v1\n" + _SPEC_TAIL.decode()).encode("utf-32-le"),
        ["{file}:1:1: <file>: file is UTF-32; save it as UTF-8"],
    ),
    "84-nul-byte.yaml": (
        b"apiVersion: jobctl/v1\nkind: Job\nmetadata:\n  name: de\x00mo\n",
        ["{file}:4:11: <file>: file contains a NUL byte (binary file?)"],
    ),
    "85-utf8-bom-wrong-api-version.yaml": (
        b"\xef\xbb\xbfapiVersion: jobctl/v2\n" + _SPEC_TAIL + b"spec:\n  infrastructure: {shape: VM.GPU.A10.1}\n"
        b"  runtime: {type: container, image: iad.ocir.io/ns/app:1.0}\n",
        ["{file}:1:13: apiVersion: must be 'jobctl/v1'"],
    ),
    "86-crlf-line-endings.yaml": (
        b"apiVersion: jobctl/v1\r\n" + _SPEC_TAIL.replace(b"\n", b"\r\n") + b"  lables: {team: ml}\r\n",
        [
            "{file}:1:1: <document>: missing required field 'spec'",
            "{file}:5:3: metadata.lables: unknown field 'lables' (did you mean 'labels'?)",
        ],
    ),
    "87-over-one-mib.yaml": (
        b"# padding\n" + b"#" * (MAX_FILE_BYTES - 10) + b"\n",  # one byte over the limit
        [f"{{file}}:1:1: <file>: file is {MAX_FILE_BYTES + 1} bytes; specs are limited to 1 MiB"],
    ),
}


def _snapshot(root: Path) -> dict[str, int]:
    """Relative name -> mtime_ns of every file and directory below root."""
    if not root.exists():
        return {}
    entries = {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}
    entries["."] = root.stat().st_mtime_ns
    return entries


def _error_lines(result: Result) -> list[str]:
    """stderr without the final `Error: N errors in M files` summary (and any hint after it)."""
    lines = result.stderr.splitlines()
    assert lines, "validate printed nothing on stderr"
    summary = [i for i, line in enumerate(lines) if line.startswith(SUMMARY_PREFIX)]
    assert summary, f"no '{SUMMARY_PREFIX}...' summary line:\n{result.stderr}"
    return lines[: summary[-1]]


def _check_invalid(result: Result, expected: list[str]) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.exit_code == 3, f"exit code {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert _error_lines(result) == expected
    files = {line.split(":", 1)[0] for line in expected}
    count = len(expected)
    summary = (
        f"{SUMMARY_PREFIX}{count} error{'s' if count != 1 else ''} in {len(files)} file{'s' if len(files) != 1 else ''}"
    )
    assert summary in result.stderr.splitlines()


def _home() -> Path:
    return Path(os.environ["JOBCTL_HOME"])


def test_corpus_is_large_and_complete() -> None:
    cases = _committed_cases()
    assert len(cases) >= MIN_CASES, f"only {len(cases)} committed cases"
    stems = [case.stem for case in cases]
    assert len(stems) == len(set(stems)), "two cases share a stem (and so an .expected file)"
    expected_files = {p.stem for p in CORPUS.glob("*.expected")}
    assert expected_files == set(stems), "every case needs an .expected file, and every .expected a case"
    assert not set(stems) & {Path(name).stem for name in GENERATED}


@pytest.mark.parametrize("case", _committed_cases(), ids=lambda p: p.name)
def test_committed_case(case: Path, jobctl: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    expected = case.with_suffix(".expected").read_text(encoding="utf-8").splitlines()
    assert expected, f"{case.with_suffix('.expected')} is empty"
    before = (_snapshot(CORPUS), _snapshot(_home()))

    result = jobctl("validate", f"{CORPUS_REL}/{case.name}")

    assert (_snapshot(CORPUS), _snapshot(_home())) == before, "validate wrote to the corpus or $JOBCTL_HOME"
    _check_invalid(result, expected)


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_generated_case(name: str, jobctl: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    content, expected = GENERATED[name]
    work = tmp_path / "cases"
    work.mkdir()
    (work / name).write_bytes(content)
    monkeypatch.chdir(work)
    before = (_snapshot(work), _snapshot(_home()))

    result = jobctl("validate", name)

    assert (_snapshot(work), _snapshot(_home())) == before, "validate wrote next to the spec or to $JOBCTL_HOME"
    _check_invalid(result, [line.format(file=name) for line in expected])


def test_json_output_matches_human_lines(jobctl: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    case = f"{CORPUS_REL}/51-many-errors.yaml"

    human = jobctl("validate", case)
    machine = jobctl("validate", case, "-o", "json")

    assert machine.exit_code == 3
    assert "Traceback" not in machine.stdout + machine.stderr
    entries = json.loads(machine.stdout)
    assert isinstance(entries, list)
    assert len(entries) > 1
    for entry in entries:
        assert set(entry) == {"file", "line", "column", "path", "message"}
    as_lines = [f"{e['file']}:{e['line']}:{e['column']}: {e['path']}: {e['message']}" for e in entries]
    assert as_lines == _error_lines(human)
    positions = [(e["line"], e["column"]) for e in entries]
    assert positions == sorted(positions), "diagnostics must come sorted by line"

"""Reading YAML into data with positions: what a user sees when a spec file is odd or hostile."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from jobctl.errors import Diagnostic
from jobctl.spec import yamlparse
from jobctl.spec.document import Document, read_documents

MIB = 1024 * 1024


def write(tmp_path: Path, content: str | bytes, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(textwrap.dedent(content), encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def read(path: Path) -> tuple[list[Document], list[Diagnostic]]:
    return read_documents(path, path.name)


def only_problem(path: Path) -> Diagnostic:
    """The file must yield no document and exactly one diagnostic."""
    documents, problems = read(path)
    assert documents == []
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


# --- positions -------------------------------------------------------------------------------------

NESTED = """\
top:
  inner:
    leaf: value
  items:
    - first
    - key: v
      other: 2
"""


def test_positions_of_keys_and_values_are_one_based_in_nested_mappings_and_lists(tmp_path: Path) -> None:
    [document], problems = read(write(tmp_path, NESTED))

    assert problems == []
    assert document.data == {"top": {"inner": {"leaf": "value"}, "items": ["first", {"key": "v", "other": 2}]}}
    assert document.start == (1, 1)
    assert document.keys[("top",)] == (1, 1)
    assert document.keys[("top", "inner", "leaf")] == (3, 5)
    assert document.values[("top", "inner", "leaf")] == (3, 11)
    assert document.keys[("top", "items")] == (4, 3)
    assert document.values[("top", "items", 0)] == (5, 7)
    assert document.values[("top", "items", 1)] == (6, 7)
    assert document.keys[("top", "items", 1, "key")] == (6, 7)
    assert document.values[("top", "items", 1, "key")] == (6, 12)
    assert document.keys[("top", "items", 1, "other")] == (7, 7)
    assert document.values[("top", "items", 1, "other")] == (7, 14)


def test_positions_in_flow_collections(tmp_path: Path) -> None:
    [document], _ = read(write(tmp_path, "labels: {team: ml, tier: gold}\nargs: [--n, 5]\n"))

    assert document.keys[("labels", "tier")] == (1, 20)
    assert document.values[("labels", "tier")] == (1, 26)
    assert document.values[("args", 1)] == (2, 13)


def test_diagnostics_point_at_value_or_key_and_fall_back_to_the_enclosing_field(tmp_path: Path) -> None:
    [document], _ = read(write(tmp_path, NESTED))

    assert str(document.diagnostic(("top", "items", 1, "other"), "bad")) == "spec.yaml:7:14: top.items[1].other: bad"
    assert str(document.diagnostic(("top", "items", 1, "other"), "bad", at_key=True)) == (
        "spec.yaml:7:7: top.items[1].other: bad"
    )
    # a field that is not written: located at the nearest enclosing one that is
    assert str(document.diagnostic(("top", "items", 1, "missing"), "bad")) == "spec.yaml:6:7: top.items[1].missing: bad"
    assert str(document.diagnostic(("top", "absent"), "bad")) == "spec.yaml:1:1: top.absent: bad"
    assert str(document.diagnostic((), "bad")) == "spec.yaml:1:1: <document>: bad"


# --- several documents -----------------------------------------------------------------------------

def test_multi_document_file_with_an_empty_trailing_document(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        # two jobs in one file
        name: first
        ---
        name: second
        nested: {a: 1}
        ---
        """)

    documents, problems = read(path)

    assert problems == []
    assert [d.data for d in documents] == [{"name": "first"}, {"name": "second", "nested": {"a": 1}}]
    assert [d.start for d in documents] == [(2, 1), (4, 1)]
    assert [d.index for d in documents] == [0, 1]
    assert documents[1].values[("nested", "a")] == (5, 13)


def test_empty_documents_between_and_after_others_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\n---\n---\n# only a comment\n---\nb: 2\n---\n# trailing comment\n")

    documents, problems = read(path)

    assert problems == []
    assert [d.data for d in documents] == [{"a": 1}, {"b": 2}]
    assert documents[1].start == (6, 1)


@pytest.mark.parametrize("content", ["", "# just a comment\n", "---\n", "---\n---\n"])
def test_a_file_without_any_document_is_reported(tmp_path: Path, content: str) -> None:
    problem = only_problem(write(tmp_path, content))

    assert (problem.line, problem.column) == (1, 1)
    assert "no spec documents" in problem.message


def test_a_bad_document_does_not_hide_the_good_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "a: 1\n---\n- a list\n---\nb: 2\n")

    documents, problems = read(path)

    assert [d.data for d in documents] == [{"a": 1}, {"b": 2}]
    assert [(p.line, p.column, p.path) for p in problems] == [(3, 1, "<document>")]


# --- duplicate keys and merge keys -----------------------------------------------------------------

def test_duplicate_key_is_reported_at_the_second_key_naming_the_first_line(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        spec:
          runtime:
            type: python
            env: {A: "1"}
            type: shell
        """)

    [document], [problem] = read(path)

    assert str(problem).startswith("spec.yaml:5:5: spec.runtime.type: duplicate key 'type'")
    assert "line 3" in problem.message
    # read on with the first value, so that the document's other problems are said with this one
    assert document.data == {"spec": {"runtime": {"type": "python", "env": {"A": "1"}}}}


def test_duplicate_top_level_key(tmp_path: Path) -> None:
    _, [problem] = read(write(tmp_path, "kind: Job\nmetadata: {}\nkind: Job\n"))

    assert (problem.line, problem.column, problem.path) == (3, 1, "kind")
    assert "duplicate key 'kind'" in problem.message
    assert "line 1" in problem.message


def test_merge_key_copies_the_anchor_and_explicit_keys_win(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        base: &base
          shape: VM.Standard.E4.Flex
          ocpus: 1
          memoryInGBs: 16
        infrastructure:
          <<: *base
          ocpus: 4
        """)

    [document], problems = read(path)

    assert problems == []
    assert document.data["infrastructure"] == {"shape": "VM.Standard.E4.Flex", "ocpus": 4, "memoryInGBs": 16}
    assert document.values[("infrastructure", "ocpus")] == (7, 10)


def test_merge_key_with_several_sources_earlier_source_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  w: 0\n")

    [document], problems = read(path)

    assert problems == []
    assert document.data["c"] == {"w": 0, "x": 1, "y": 1, "z": 2}


def test_merge_key_needs_a_mapping(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "a: &a [1, 2]\nb:\n  <<: *a\n"))

    assert "merge" in problem.message


# --- hostile or malformed input --------------------------------------------------------------------

_READ_IN_CHILD = """
import json, sys
from pathlib import Path
from jobctl.spec.document import read_documents
documents, problems = read_documents(Path(sys.argv[1]), "bomb.yaml")
print(json.dumps({"documents": len(documents), "problems": [p.message for p in problems]}))
"""


def test_alias_bomb_stops_with_a_message_instead_of_expanding(tmp_path: Path) -> None:
    # "billion laughs": 10 levels of 10 aliases each expand to 10**9 strings.
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = write(tmp_path, "\n".join(lines) + "\n", "bomb.yaml")

    # In a child process with a timeout: a regression must fail the test, not hang or exhaust the runner.
    proc = subprocess.run(
        [sys.executable, "-c", _READ_IN_CHILD, str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )

    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout)
    assert outcome["documents"] == 0
    assert len(outcome["problems"]) == 1
    assert "alias bomb" in outcome["problems"][0]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param("a: " + "[" * 100 + "]" * 100 + "\n", id="deep-flow-lists"),
        pytest.param("a: " + "[" * 20_000 + "]" * 20_000 + "\n", id="very-deep-flow-lists"),
        pytest.param("".join("  " * i + f"k{i}:\n" for i in range(100)) + "  " * 100 + "v: 1\n", id="deep-block-maps"),
    ],
)
@pytest.mark.parametrize("loader", ["libyaml", "pure-python"])
def test_deep_or_recursive_nesting_gives_a_diagnostic_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, loader: str
) -> None:
    if loader == "pure-python":  # what users get from a PyYAML built without libyaml
        monkeypatch.setattr(yamlparse, "_Loader", yaml.SafeLoader)

    problem = only_problem(write(tmp_path, content))

    assert problem.file == "spec.yaml"
    assert problem.line >= 1
    assert "nest" in problem.message.lower()


@pytest.mark.parametrize(("content", "path"), [
    ("a: &loop [*loop]\n", "a[0]"),
    ("metadata: &m\n  name: x\n  self: *m\n", "metadata.self"),
    ("a: &m\n  <<: *m\n  b: 1\n", "a.<<"),
], ids=["list", "mapping", "merge-key"])
@pytest.mark.parametrize("loader", ["libyaml", "pure-python"])
def test_a_recursive_alias_is_said_as_such_where_it_recurs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, path: str, loader: str
) -> None:
    """Red team, session 13: it was reported as nesting deeper than 64 levels, at a path 64 levels deep."""
    if loader == "pure-python":
        monkeypatch.setattr(yamlparse, "_Loader", yaml.SafeLoader)

    problem = only_problem(write(tmp_path, content))

    assert (problem.path, problem.line) == (path, 1)
    assert problem.message == "a recursive alias: refers to the node (line 1) that holds it"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("!Ref my-bucket", id="local-tag-on-scalar"),
        pytest.param("!!binary aGVsbG8=", id="binary"),
        pytest.param("!!python/name:os.system ''", id="python-name"),
        pytest.param("!custom {x: 1}", id="tag-on-mapping"),
        pytest.param("!!python/object/apply:os.system [echo hi]", id="tag-on-sequence"),
    ],
)
def test_unsupported_tags_are_rejected_at_the_tagged_value(tmp_path: Path, value: str) -> None:
    problem = only_problem(write(tmp_path, f"name: x\nvalue: {value}\n"))

    assert (problem.line, problem.column, problem.path) == (2, 8, "value")
    assert "unsupported YAML tag" in problem.message


def test_standard_scalar_tags_are_accepted(tmp_path: Path) -> None:
    [document], problems = read(write(tmp_path, "a: !!str 1\nb: !!int '2'\nc: !!float 1.5\nd: !!bool true\n"))

    assert problems == []
    assert document.data == {"a": "1", "b": 2, "c": 1.5, "d": True}


@pytest.mark.parametrize(
    ("content", "kind"),
    [("- apiVersion: jobctl/v1\n", "a list"), ("just text\n", "a single value"), ("42\n", "a single value")],
)
def test_a_document_that_is_not_a_mapping_is_reported(tmp_path: Path, content: str, kind: str) -> None:
    problem = only_problem(write(tmp_path, content))

    assert (problem.line, problem.column, problem.path) == (1, 1, "<document>")
    assert "must be a mapping" in problem.message
    assert kind in problem.message


@pytest.mark.parametrize(("content", "column"), [("spec:\n\tname: x\n", 1), ("spec:\n  \tname: x\n", 3)])
def test_tab_indentation_is_reported_where_the_tab_is(tmp_path: Path, content: str, column: int) -> None:
    problem = only_problem(write(tmp_path, content))

    assert (problem.line, problem.column) == (2, column)
    assert "tab" in problem.message


def test_a_tab_inside_a_value_is_fine(tmp_path: Path) -> None:
    [document], problems = read(write(tmp_path, 'a: "x\ty"\nb: |\n  x\ty\n'))

    assert problems == []
    assert document.data == {"a": "x\ty", "b": "x\ty\n"}


def test_utf8_bom_is_accepted_and_does_not_shift_columns(tmp_path: Path) -> None:
    [document], problems = read(write(tmp_path, b"\xef\xbb\xbfname: caf\xc3\xa9\n"))

    assert problems == []
    assert document.data == {"name": "café"}
    assert document.keys[("name",)] == (1, 1)
    assert document.values[("name",)] == (1, 7)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_rejected_with_advice(tmp_path: Path, encoding: str) -> None:
    content = "name: x\n".encode(encoding)
    if encoding != "utf-16":  # the explicit-endian codecs write no BOM; editors that save UTF-16 do
        content = ("\ufeff" + "name: x\n").encode(encoding)

    problem = only_problem(write(tmp_path, content))

    assert (problem.line, problem.column) == (1, 1)
    assert "UTF-16" in problem.message
    assert "UTF-8" in problem.message


def test_invalid_utf8_is_located_at_the_offending_byte(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, b"a: 1\nb: caf\xc3\xa9\nc: ok \xff here\n"))

    assert (problem.file, problem.line, problem.column) == ("spec.yaml", 3, 7)
    assert "UTF-8" in problem.message
    assert "0xff" in problem.message


def test_nul_byte_is_reported(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, b"a: 1\nb: \x00\n"))

    assert problem.line == 2
    assert "NUL" in problem.message


def test_files_over_one_mib_are_rejected(tmp_path: Path) -> None:
    content = b"a: 1\n#" + b"x" * MIB + b"\n"

    problem = only_problem(write(tmp_path, content))

    assert (problem.line, problem.column, problem.path) == (1, 1, "<file>")
    assert "1 MiB" in problem.message


def test_a_file_of_exactly_one_mib_is_read(tmp_path: Path) -> None:
    head = b"a: 1\n#"
    content = head + b"x" * (MIB - len(head) - 1) + b"\n"
    assert len(content) == MIB

    [document], problems = read(write(tmp_path, content))

    assert problems == []
    assert document.data == {"a": 1}


def test_yaml_syntax_error_is_located(tmp_path: Path) -> None:
    problem = only_problem(write(tmp_path, "a: 1\nb: [1, 2\nc: 3\n"))

    assert problem.line in (2, 3)
    assert problem.message.startswith("invalid YAML:")


def test_missing_file_is_a_diagnostic(tmp_path: Path) -> None:
    problem = only_problem(tmp_path / "absent.yaml")

    assert problem.file == "absent.yaml"
    assert "cannot read file" in problem.message

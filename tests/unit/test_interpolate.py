"""`${VAR}` interpolation as a spec author sees it: values, types and located errors."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from jobctl.errors import Diagnostic
from jobctl.spec.document import read_documents
from jobctl.spec.interpolate import Interpolator
from jobctl.spec.load import load_specs

ENV = {"NAME": "trainer", "EMPTY": "", "N": "2", "F": "1.5", "YES": "true", "NO": "false", "WORD": "abc"}


def interpolate(tmp_path: Path, text: str, environ: Mapping[str, str] = ENV) -> tuple[Any, list[Diagnostic]]:
    """The data of the single document in `text`, and every diagnostic (reading + interpolation)."""
    path = tmp_path / "job.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    interpolator = Interpolator(environ, "job.yaml")
    documents, problems = read_documents(path, "job.yaml", interpolator)
    assert len(documents) == 1, [str(p) for p in problems]
    return documents[0].data, [*problems, *interpolator.diagnostics]


def value_of(tmp_path: Path, yaml_value: str, environ: Mapping[str, str] = ENV) -> Any:
    data, problems = interpolate(tmp_path, f"v: {yaml_value}\n", environ)
    assert problems == [], [str(p) for p in problems]
    return data["v"]


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("${NAME}", "trainer"),
        ("job-${NAME}-v1", "job-trainer-v1"),
        ("${NAME}/${WORD}", "trainer/abc"),
        ('"${NAME}"', "trainer"),
        ("'${NAME}'", "trainer"),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${NAME:-fallback}", "trainer"),
        ("${UNSET:-}", ""),
        ("${UNSET:-a:b/c}", "a:b/c"),
        ("${EMPTY}", ""),
        ("$${NAME}", "${NAME}"),
        ("cost $$5", "cost $5"),
        ("$$$${NAME}", "$${NAME}"),
        ("$${{ matrix.model }}", "$${{ matrix.model }}"),  # a workflow's literal ${{, unescaped by the workflow
        ("${{ matrix.model }}", "${{ matrix.model }}"),
        ('"--model=${{ matrix.model }}"', "--model=${{ matrix.model }}"),
        ("$HOME", "$HOME"),
        ("5$", "5$"),
        ("no dollar at all", "no dollar at all"),
    ],
)
def test_string_interpolation(tmp_path: Path, yaml_value: str, expected: str) -> None:
    assert value_of(tmp_path, yaml_value) == expected


def test_interpolation_applies_in_nested_mappings_and_lists(tmp_path: Path) -> None:
    data, problems = interpolate(tmp_path, """\
        spec:
          runtime:
            args: ["--name", "${NAME}"]
            env: {MODEL: "${NAME}"}
        """)

    assert problems == []
    assert data["spec"]["runtime"] == {"args": ["--name", "trainer"], "env": {"MODEL": "trainer"}}


def test_a_block_scalar_is_interpolated_and_stays_text(tmp_path: Path) -> None:
    data, problems = interpolate(tmp_path, "v: |\n  name=${NAME}\n  n=${N}\n")

    assert problems == []
    assert data["v"] == "name=trainer\nn=2\n"


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("${N}", 2),
        ("${F}", 1.5),
        ("${N:-7}", 2),
        ("${UNSET:-7}", 7),
        ("${YES}", True),
        ("${NO}", False),
        ("${UNSET:-false}", False),
    ],
)
def test_a_plain_scalar_that_is_one_variable_takes_the_type_of_its_value(
    tmp_path: Path, yaml_value: str, expected: object
) -> None:
    value = value_of(tmp_path, yaml_value)

    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ('"${N}"', "2"),
        ("'${N}'", "2"),
        ('"${YES}"', "true"),
        ("${N}${N}", "22"),
        ("${N}x", "2x"),
        ("v${N}", "v2"),
        ("${WORD}", "abc"),
    ],
)
def test_quoted_or_composite_values_stay_strings(tmp_path: Path, yaml_value: str, expected: str) -> None:
    assert value_of(tmp_path, yaml_value) == expected


def test_unset_variable_is_a_diagnostic_with_file_line_column_and_path(tmp_path: Path) -> None:
    data, problems = interpolate(tmp_path, """\
        spec:
          runtime:
            args:
              - --data
              - prefix-${MISSING}-suffix
        """)

    assert [str(p).split(": ", 2)[:2] for p in problems] == [["job.yaml:5:9", "spec.runtime.args[1]"]]
    assert "MISSING is not set" in problems[0].message
    assert "${MISSING:-default}" in problems[0].message  # tells the user how to give a default
    assert data["spec"]["runtime"]["args"][1] == "prefix--suffix"


def test_every_unset_variable_is_reported(tmp_path: Path) -> None:
    _, problems = interpolate(tmp_path, "a: ${ONE}\nb: x\nc: ${TWO} ${THREE}\n")

    assert sorted((p.line, p.column, p.path) for p in problems) == [(1, 4, "a"), (3, 4, "c"), (3, 4, "c")]
    assert {m for p in problems for m in ("ONE", "TWO", "THREE") if m in p.message} == {"ONE", "TWO", "THREE"}


@pytest.mark.parametrize(
    ("yaml_value", "fragment"),
    [
        ("${1X}", "bad interpolation '${1X}'"),
        ("${}", "bad interpolation"),
        ("${A B}", "bad interpolation"),
        ("${A-b}", "bad interpolation"),
        ('"abc ${OPEN"', "unclosed '${'"),
        ("tail ${", "unclosed '${'"),
        ('"${A:-${B}}"', "a default cannot hold another interpolation"),  # gave '${B}' literally
        ('"${A:-x$$y}"', "a default cannot hold another interpolation"),
    ],
)
def test_bad_syntax_is_a_located_diagnostic(tmp_path: Path, yaml_value: str, fragment: str) -> None:
    _, problems = interpolate(tmp_path, f"name: x\nv: {yaml_value}\n")

    assert len(problems) == 1, [str(p) for p in problems]
    assert (problems[0].file, problems[0].line, problems[0].column, problems[0].path) == ("job.yaml", 2, 4, "v")
    assert fragment in problems[0].message


def test_the_environment_is_read_from_the_mapping_given(tmp_path: Path) -> None:
    assert value_of(tmp_path, "${NAME}", {"NAME": "other"}) == "other"


def test_interpolated_number_passes_schema_validation_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print('hi')\n")
    spec = tmp_path / "job.yaml"
    spec.write_text(textwrap.dedent("""\
        apiVersion: jobctl/v1
        kind: Job
        metadata: {name: "${JOB_NAME:-demo}"}
        spec:
          infrastructure:
            shape: VM.Standard.E4.Flex
            ocpus: ${OCPUS}
            memoryInGBs: ${MEMORY:-16}
          runtime:
            type: python
            source: ./main.py
            env: {QUOTED: "${OCPUS}"}
        """))

    result = load_specs([str(spec)], {"OCPUS": "2"})

    assert [str(d) for d in result.diagnostics] == []
    [job] = result.jobs
    assert job.name == "demo"
    assert job.definition.ocpus == 2
    assert job.definition.memory_in_gbs == 16
    assert job.definition.env == {"QUOTED": "2"}


def test_unset_variable_fails_load_with_its_location(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print('hi')\n")
    spec = tmp_path / "job.yaml"
    spec.write_text(textwrap.dedent("""\
        apiVersion: jobctl/v1
        kind: Job
        metadata: {name: demo}
        spec:
          compartmentId: ${OCI_COMPARTMENT_ID}
          infrastructure: {shape: VM.Standard2.1}
          runtime: {type: python, source: ./main.py}
        """))

    result = load_specs([str(spec)], {})

    unset = [d for d in result.diagnostics if "OCI_COMPARTMENT_ID is not set" in d.message]
    assert [(d.line, d.column, d.path) for d in unset] == [(5, 18, "spec.compartmentId")]

"""Data Flow applications (issue 17): the field table against the SDK and the schema, and what validate says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from oci.data_flow import models

from jobctl.model.application import ApplicationDefinition, env_configuration, placeholders, substituted
from jobctl.model.table import from_document, rows, to_document
from jobctl.spec.load import load_specs
from tests.conftest import EXAMPLES
from tests.unit.test_field_table import assert_rows_in_schema

WORDCOUNT = EXAMPLES / "wordcount"
ROWS = [r for r in rows(ApplicationDefinition) if r.oci]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.attr)
def test_each_sdk_path_exists_on_the_application_and_its_create_details(row: object) -> None:
    for model in (models.Application, models.CreateApplicationDetails):
        node: object = model
        for part in row.oci.split("."):  # type: ignore[attr-defined]
            types = node().swagger_types  # type: ignore[operator]
            assert part in types, f"{model.__name__}.{row.oci}: no {part!r}"  # type: ignore[attr-defined]
            node = getattr(models, types[part], None) or node


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.attr)
def test_a_field_is_in_place_exactly_when_update_application_details_carries_it(row: object) -> None:
    carried = row.oci.split(".")[0] in models.UpdateApplicationDetails().swagger_types  # type: ignore[attr-defined]
    assert carried is row.in_place  # type: ignore[attr-defined]


@pytest.mark.parametrize("row", [r for r in rows(ApplicationDefinition) if r.run], ids=lambda r: r.attr)
def test_a_field_a_run_may_set_is_one_create_run_details_carries(row: object) -> None:
    top = {"parameters": "parameters", "log_group_id": "application_log_config", "log_id": "application_log_config"}
    name = top.get(row.attr) or row.oci.split(".")[0]  # type: ignore[attr-defined]
    assert name in models.CreateRunDetails().swagger_types


def test_each_spec_path_is_in_the_schema() -> None:
    assert_rows_in_schema(ApplicationDefinition, "dataFlowSpec")


def test_the_wordcount_example_loads_with_its_values_and_reads_back_from_its_document() -> None:
    result = load_specs([str(WORDCOUNT)], {})
    assert result.ok, [str(d) for d in result.diagnostics]
    [app] = result.applications
    assert result.jobs == ()
    assert app.source == WORDCOUNT / "wordcount.py"
    d = app.definition
    assert (d.language, d.spark_version, d.num_executors, d.executor_ocpus, d.local_slots) == (
        "PYTHON", "3.5.0", 2, 1, 2)
    assert d.arguments == ("--input", "${input}", "--min-count", "2")  # OCI's placeholder, left as written
    assert d.parameters == {"input": "oci://data@my-namespace/books.txt"}
    assert d.configuration == {"spark.sql.shuffle.partitions": "4"}
    assert ApplicationDefinition(**from_document(ApplicationDefinition, to_document(d))) == d


def test_placeholders_are_filled_once_and_env_reaches_driver_and_executors() -> None:
    assert placeholders(["${a}-${b}", "x", "${a}"]) == ["a", "b"]
    assert substituted(["${a}${b} ${a}", "${c}"], {"a": "1", "b": "${c}", "c": "3"}) == ["1${c} 1", "3"]
    assert env_configuration({"MODEL": "rf"}) == {"spark.driverEnv.MODEL": "rf", "spark.executorEnv.MODEL": "rf"}


def application(tmp_path: Path, spec: str, files: dict[str, str] | None = None) -> Path:
    for name, text in (files or {"app.py": "print('hi')\n"}).items():
        (tmp_path / name).write_text(text)
    path = tmp_path / "app.yaml"
    path.write_text("apiVersion: jobctl/v1\nkind: DataFlowApplication\nmetadata: {name: app}\nspec:\n" + spec)
    return path


BASE = "  driverShape: VM.Standard2.1\n  executorShape: VM.Standard2.1\n"


@pytest.mark.parametrize(("spec", "message"), [
    ("  language: PYTHON\n" + BASE, "spec: give the code as source (a local file) or fileUri (in Object Storage)"),
    ("  language: PYTHON\n  source: ./missing.py\n" + BASE, "spec.source: ./missing.py does not exist"),
    ("  language: JAVA\n  source: ./app.py\n  className: com.x.Main\n" + BASE,
     "spec.source: a JAVA application's code is a .jar file, not app.py"),
    ("  language: SCALA\n  fileUri: oci://b@ns/app.jar\n" + BASE,
     "spec: missing required field 'className': a JAVA or SCALA application needs className"),
    ("  language: PYTHON\n  source: ./app.py\n  className: Main\n" + BASE,
     "spec.className: only JAVA and SCALA applications have a main class; this one is PYTHON"),
    ("  language: PYTHON\n  source: ./app.py\n  arguments: ['${input}']\n" + BASE,
     "spec.arguments[0]: ${input} needs a value: add parameters.input"),
    ("  language: PYTHON\n  source: ./app.py\n  driverShape: VM.Standard.E4.Flex\n  executorShape: VM.Standard2.1\n",
     "spec.driverShape: the Flex shape VM.Standard.E4.Flex needs driverShapeConfig with ocpus and memoryInGBs"),
    ("  language: PYTHON\n  source: ./app.py\n  executorShapeConfig: {ocpus: 1}\n" + BASE,
     "spec.executorShapeConfig: a shape config is only for Flex shapes; VM.Standard2.1 is fixed"),
    ("  language: PYTHON\n  source: ./app.py\n  fileUri: oci://b@ns/app.py\n" + BASE, "give the code as source"),
])
def test_what_validate_says_of_a_broken_application(jobctl, tmp_path: Path, spec: str, message: str) -> None:
    result = jobctl("validate", str(application(tmp_path, spec)))
    assert result.exit_code == 3
    assert message in result.stderr


def test_an_application_and_a_job_may_not_share_a_name(jobctl, tmp_path: Path) -> None:
    path = application(tmp_path, "  language: PYTHON\n  source: ./app.py\n" + BASE)
    (tmp_path / "job.yaml").write_text("apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: app}\nspec:\n"
                                       "  infrastructure: {shape: VM.Standard2.1}\n"
                                       "  runtime: {type: python, source: ./app.py}\n")
    result = jobctl("validate", str(path), str(tmp_path / "job.yaml"))
    assert result.exit_code == 3
    assert f"job name 'app' is also defined at {path}:3" in result.stderr


def test_validate_counts_applications_apart_from_jobs(jobctl) -> None:
    result = jobctl("validate", str(WORDCOUNT))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "valid: 1 Data Flow application in 1 file (wordcount)\n"


def test_the_local_backend_plans_an_application(jobctl, tmp_path: Path) -> None:
    path = application(tmp_path, "  language: PYTHON\n  source: ./app.py\n" + BASE)
    plan = jobctl("plan", str(path))
    assert plan.exit_code == 0, plan.stderr
    assert "+ application app" in plan.stdout
    assert "not yet applied" not in plan.stdout
    ignored = json.loads(jobctl("plan", str(path), "-o", "json").stdout)["ignored"]
    assert ignored[:2] == ["driverShape", "executorShape"]  # what only OCI honours, said as for a job's fields


def test_arguments_parameters_and_configuration_reach_spark_as_written(tmp_path: Path) -> None:
    path = application(tmp_path, "  language: PYTHON\n  source: ./app.py\n" + BASE
                       + "  arguments: [01, no]\n  parameters: {p: 1.10}\n  configuration: {spark.x: 0x1F}\n")
    [app] = load_specs([str(path)], {}).applications
    d = app.definition
    assert (d.arguments, d.parameters, d.configuration) == (("01", "no"), {"p": "1.10"}, {"spark.x": "0x1F"})


def test_validate_says_an_applications_problems_with_its_schema_errors_at_once(jobctl, tmp_path: Path) -> None:
    """Red team, issue 17: a missing className hid the wrong file kind and a placeholder without a parameter."""
    path = application(tmp_path, "  language: JAVA\n  source: ./app.py\n  arguments: ['${missing}']\n" + BASE)
    result = jobctl("validate", str(path))
    assert result.exit_code == 3
    for said in ("spec: missing required field 'className': a JAVA or SCALA application needs className",
                 "spec.source: a JAVA application's code is a .jar file, not app.py",
                 "spec.arguments[0]: ${missing} needs a value: add parameters.missing"):
        assert said in result.stderr, result.stderr

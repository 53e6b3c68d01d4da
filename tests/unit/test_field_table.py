"""The field table against its sources of truth: the OCI SDK's models, the spec schema, stored state."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from oci.data_science import models

from jobctl.backends.local.store import Store
from jobctl.model.definition import asdict, replace
from jobctl.model.job import JobDefinition
from jobctl.model.table import from_document, rows, to_document
from jobctl.spec.schema import load_schema
from tests.contract.test_field_table import CONTAINER, PYTHON


def sdk_type(class_name: str, path: str) -> str:
    """The swagger type at an attribute path; subtypes of polymorphic models are searched too."""
    *parents, leaf = path.split(".")
    candidates = [class_name]
    for part in [*parents, leaf]:
        found = []
        for name in candidates:
            cls = getattr(models, name)
            subtypes = [c for c in vars(models).values() if isinstance(c, type) and issubclass(c, cls)]
            found += [c().swagger_types[part] for c in subtypes if part in c().swagger_types]
        assert found, f"{class_name}.{path}: no SDK model has {part!r}"
        candidates = found
    return candidates[0]


@pytest.mark.parametrize("row", [r for r in rows(JobDefinition) if r.oci], ids=lambda r: r.attr)
def test_each_sdk_path_exists_on_the_job_and_its_create_details(row: object) -> None:
    assert sdk_type("Job", row.oci) == sdk_type("CreateJobDetails", row.oci)  # type: ignore[attr-defined]


@pytest.mark.parametrize("row", [r for r in rows(JobDefinition) if r.oci], ids=lambda r: r.attr)
def test_a_field_is_in_place_exactly_when_update_job_details_carries_it(row: object) -> None:
    top = row.oci.split(".")[0]  # type: ignore[attr-defined]
    carried = top in models.UpdateJobDetails().swagger_types
    if row.oci.endswith("job_infrastructure_type"):  # type: ignore[attr-defined]
        # the discriminator travels with the infrastructure details, but the type cannot change (the fake
        # refuses it: docs/oci-fidelity.md), so a new type is a new job
        assert carried
        assert not row.in_place  # type: ignore[attr-defined]
        return
    assert carried is row.in_place  # type: ignore[attr-defined]


def assert_rows_in_schema(resource: type, spec: str) -> None:
    """Each spec path of `resource`'s table names a field of the schema (its spec under $defs/`spec`)."""
    schema = load_schema()
    for row in rows(resource):
        if not row.in_spec:
            continue
        node = {"properties": {"metadata": schema["$defs"]["metadata"], "spec": schema["$defs"][spec]}}
        for part in row.parts:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node
            assert part in node.get("properties", {}), f"{row.path}: schema has no {part!r}"
            node = node["properties"][part]


def test_each_spec_path_is_in_the_schema() -> None:
    assert_rows_in_schema(JobDefinition, "jobSpec")


@pytest.mark.parametrize("definition", [PYTHON, CONTAINER, JobDefinition(name="min", shape="S", runtime_type="python")],
                         ids=["python", "container", "minimal"])
def test_a_definition_reads_back_from_the_document_written_for_it(definition: JobDefinition) -> None:
    document = to_document(definition)
    assert JobDefinition(**from_document(JobDefinition, document)) == definition


def test_the_document_leaves_out_defaults_and_blocks_that_change_nothing() -> None:
    document = to_document(JobDefinition(name="min", shape="S", runtime_type="python", entrypoint="main.py"))
    assert document == {"metadata": {"name": "min"}, "spec": {"infrastructure": {"shape": "S"},
                                                              "runtime": {"type": "python", "entrypoint": "main.py"}}}
    logged = to_document(JobDefinition(name="min", shape="S", runtime_type="python", log_enabled=True))
    assert logged["spec"]["logging"] == {"enabled": True}


def test_a_definition_stored_before_the_table_is_read_as_it_was(tmp_path: Path) -> None:
    old = asdict(CONTAINER)
    old.pop("labels")
    old.pop("owner_tags")
    old["tags"] = {"team": "ml", "jobctl-managed": "true"}
    old["container_entrypoint"] = list(old.pop("entrypoint"))
    old["entrypoint"] = None
    definition = Store.definition_from_json(json.dumps(old))
    assert definition == replace(CONTAINER, owner_tags={"jobctl-managed": "true"})
    assert Store.definition_from_json(Store.encode_definition(definition)) == definition


def test_output_docs_name_every_field_of_a_json_definition() -> None:
    from jobctl.model.table import shown_tree

    text = (Path(__file__).parents[2] / "docs" / "output.md").read_text()
    paragraph = text[text.index("a `definition`"):text.index("**Run**")]
    documented = set(re.findall(r"`([A-Za-z]+)`", paragraph)) - {"definition", "spec.", "metadata."}

    def keys(tree: dict[str, object]) -> set[str]:
        return {k for key, v in tree.items() for k in ({key} | (keys(v) if isinstance(v, dict) and v else set()))}

    inner = {"MODEL", "SEED", "team", "Finance", "CostCenter", "periodInSeconds", "failureThreshold"}  # map keys
    assert documented == keys(shown_tree(PYTHON)) - inner


def test_plans_show_numbers_and_booleans_as_a_spec_writes_them() -> None:
    from jobctl.plan.diff import field_changes
    from jobctl.render.human import show_value

    observed = replace(PYTHON, ocpus=2.0, memory_in_gbs=16.0, log_enabled=True)  # as OCI returns them
    wanted = replace(PYTHON, ocpus=4, memory_in_gbs=32.5, log_enabled=False)

    shown = {c.field: (show_value(c.field, c.old, False), show_value(c.field, c.new, False))
             for c in field_changes(observed, wanted)}

    assert shown == {"infrastructure.ocpus": ("2", "4"), "infrastructure.memoryInGBs": ("16", "32.5"),
                     "logging.enabled": ("true", "false")}
    assert to_document(observed)["spec"]["infrastructure"]["ocpus"] == 2


def filled(class_name: str) -> object:
    """An SDK model with every attribute set, nested models too (the richest subtype of a polymorphic one)."""
    cls = getattr(models, class_name)
    if hasattr(cls, "get_subtype"):
        subtypes = [c for c in vars(models).values() if isinstance(c, type) and issubclass(c, cls) and c is not cls]
        cls = max(subtypes, key=lambda c: (len(c().swagger_types), c.__name__))
    samples: dict[str, object] = {"str": "x", "int": 1, "float": 1.5, "bool": True, "list[str]": ["x"],
                                  "dict(str, str)": {"k": "v"}, "dict(str, dict(str, object))": {"ns": {"k": "v"}}}
    values = {}
    for attr, kind in cls().swagger_types.items():
        if kind in samples:
            values[attr] = samples[kind]
        elif kind == "datetime":
            values[attr] = datetime(2026, 1, 1, tzinfo=timezone.utc)
        elif kind.startswith("list["):
            values[attr] = [filled(kind[5:-1])]
        else:
            values[attr] = filled(kind)
    return cls(**values)


def leaves(node: object, prefix: str = "") -> list[str]:
    found = []
    for attr in node.swagger_types:  # type: ignore[attr-defined]
        held = getattr(node, attr)
        found += leaves(held, f"{prefix}{attr}.") if hasattr(held, "swagger_types") else [prefix + attr]
    return found


MODELED = {row.oci for row in rows(JobDefinition) if row.oci}


def covered(path: str, paths: object) -> bool:
    return any(path == p or path.startswith(p + ".") for p in paths)  # type: ignore[attr-defined]


def test_a_job_with_every_sdk_field_set_loses_nothing_silently() -> None:
    from jobctl.backends.oci.mapping import READ_BY_HAND, unmodeled

    job = filled("Job")
    job.job_node_configuration_details = None  # type: ignore[attr-defined]  # a single-node job: see below
    reported = unmodeled(job)

    silent = [path for path in leaves(job) if path != "job_node_configuration_details"
              and not covered(path, [*MODELED, *READ_BY_HAND, *reported])]

    assert silent == []
    assert not set(reported) & (MODELED | READ_BY_HAND)


def test_a_multi_node_job_with_every_sdk_field_set_loses_nothing_silently() -> None:
    """Each group's parts are read as the job's (those of the first group) or reported; a multi-node job's
    job-level infrastructure, configuration and container (OCI keeps them per group) are reported."""
    from jobctl.backends.oci.mapping import READ_BY_HAND, definition_from_job

    job = filled("Job")
    reported = definition_from_job(job).unmodeled
    nodes = "job_node_configuration_details"
    group = job.job_node_configuration_details.job_node_group_configuration_details_list[0]  # type: ignore[attr-defined]
    where = f"{nodes}.job_node_group_configuration_details_list[0]."
    per_group = {"name", "replicas", "minimum_success_replicas"}

    silent = [path for path in leaves(group) if path not in per_group and not covered(where + path, reported)
              and not covered(path, [*MODELED, *READ_BY_HAND, *reported])]

    assert silent == []
    for part in ("job_infrastructure_configuration_details", "job_configuration_details",
                 "job_environment_configuration_details"):
        assert part in reported
    assert f"{nodes}.startup_order" not in reported


def test_the_reserved_env_prefixes_are_the_schema_s() -> None:
    from jobctl.model.job import RESERVED_ENV_PREFIXES

    rule = load_schema()["$defs"]["env"]["propertyNames"]["allOf"][1]["not"]["pattern"]
    assert rule == "^(" + "|".join(RESERVED_ENV_PREFIXES) + ")"

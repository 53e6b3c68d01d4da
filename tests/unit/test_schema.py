"""The JSON Schema and its generated fast validator: fresh, in agreement, and documented."""

from __future__ import annotations

import copy
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from jobctl.spec import _fastschema
from jobctl.spec import schema as schema_module
from jobctl.spec.document import Document, read_documents
from jobctl.spec.interpolate import Interpolator
from jobctl.spec.load import load_specs
from jobctl.spec.schema import generate_fast_validator, load_schema, schema_text, validate_document
from tests.conftest import EXAMPLES, REPO

PACKAGED_SCHEMA = REPO / "jobctl" / "schemas" / "jobctl-v1.schema.json"
REPO_SCHEMA = REPO / "schemas" / "jobctl-v1.schema.json"


# --- helpers ---------------------------------------------------------------------------------------

def full_validator() -> Any:
    """jobctl's authority: jsonschema's Draft 2020-12 validator, with ECMA-262 `pattern` semantics.

    Plain `Draft202012Validator` matches patterns with Python's `re.search`, where `$` also matches
    before a final newline ("hello\\n" passes `^[a-z]+$`); JSON Schema patterns are ECMA-262, where it
    does not. jobctl's validator restores the ECMA meaning, and that is the one the fast path must match.
    """
    return schema_module._full_validator()


def fast_accepts(data: Any) -> bool:
    try:
        _fastschema.validate(data)
    except _fastschema.JsonSchemaValueException:
        return False
    return True


def jobctl_accepts(data: Any) -> bool:
    """What `jobctl validate` concludes: no schema diagnostics."""
    return not validate_document(Document("m.yaml", Path("m.yaml"), 0, data, (1, 1)))


def example_documents() -> dict[str, dict[str, Any]]:
    """Every document in specs-examples, by job name, interpolated with an empty environment."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        documents, problems = read_documents(path, str(path), Interpolator({}, str(path)))
        assert problems == [], [str(p) for p in problems]
        for document in documents:
            found[document.data["metadata"]["name"]] = document.data
    return found


EXAMPLE_DOCS = example_documents()
DIGEST = "sha256:" + "ab" * 32
OBJECT_MOUNT = {"storageType": "OBJECT_STORAGE", "namespace": "ns", "bucket": "b", "destinationDirectoryName": "d"}
FILE_MOUNT = {"storageType": "FILE_STORAGE", "mountTargetId": "ocid1.mounttarget.oc1.iad.aaaa",
              "exportId": "ocid1.export.oc1.iad.aaaa", "destinationDirectoryName": "shared"}


def mutate(base: str, *, set_: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A copy of an example with dotted paths set (parents created) or removed."""
    doc = copy.deepcopy(EXAMPLE_DOCS[base])
    for dotted, value in (set_ or {}).items():
        *parents, last = dotted.split(".")
        target = doc
        for part in parents:
            target = target.setdefault(part, {})
        target[last] = value
    for dotted in drop:
        *parents, last = dotted.split(".")
        target = doc
        for part in parents:
            target = target[part]
        del target[last]
    return doc


def case(id_: str, valid: bool, base: str = "hello", **kwargs: Any) -> Any:
    return pytest.param(base, kwargs.get("set_"), kwargs.get("drop", ()), valid, id=id_)


MUTATIONS = [
    case("apiVersion-v2", False, set_={"apiVersion": "jobctl/v2"}),
    case("kind-lowercase", False, set_={"kind": "job"}),
    case("no-metadata", False, drop=("metadata",)),
    case("unknown-top-level-field", False, set_={"status": {}}),
    case("name-uppercase", False, set_={"metadata.name": "Hello"}),
    case("name-63-chars", True, set_={"metadata.name": "a" * 63}),
    case("name-64-chars", False, set_={"metadata.name": "a" * 64}),
    case("name-trailing-dash", False, set_={"metadata.name": "hello-"}),
    case("name-trailing-newline", False, set_={"metadata.name": "hello\n"}),
    case("name-number", False, set_={"metadata.name": 7}),
    case("description-400", True, set_={"metadata.description": "d" * 400}),
    case("description-401", False, set_={"metadata.description": "d" * 401}),
    case("label-reserved-key", False, set_={"metadata.labels": {"jobctl-name": "x"}}),
    case("label-key-with-dot", False, set_={"metadata.labels": {"a.b": "x"}}),
    case("label-value-int", False, set_={"metadata.labels": {"team": 5}}),
    case("labels-50", True, set_={"metadata.labels": {f"k{i}": "v" for i in range(50)}}),
    case("labels-51", False, set_={"metadata.labels": {f"k{i}": "v" for i in range(51)}}),
    case("typo-in-runtime", False, set_={"spec.runtime.entrypont": "x.py"}),
    case("no-infrastructure", False, drop=("spec.infrastructure",)),
    case("fixed-shape-without-sizes", True, set_={"spec.infrastructure": {"shape": "VM.GPU.A10.1"}}),
    case("fixed-shape-with-ocpus", False, set_={"spec.infrastructure.shape": "VM.GPU.A10.1"}),
    case("flex-without-memory", False, drop=("spec.infrastructure.memoryInGBs",)),
    case("shape-garbage", False, set_={"spec.infrastructure.shape": "big"}),
    case("shape-gpu-a100-v2", True, set_={"spec.infrastructure": {"shape": "BM.GPU.A100-v2.8"}}),
    case("shape-bm-standard-e5", True, set_={"spec.infrastructure": {"shape": "BM.Standard.E5.192"}}),
    case("shape-trailing-dash-segment", False, set_={"spec.infrastructure": {"shape": "BM.GPU.-8"}}),
    case("flex-cpu-baseline", True, set_={"spec.infrastructure.cpuBaseline": "BASELINE_1_2"}),
    case("flex-cpu-baseline-unknown", False, set_={"spec.infrastructure.cpuBaseline": "BASELINE_1_4"}),
    case("fixed-shape-cpu-baseline", False,
         set_={"spec.infrastructure": {"shape": "VM.GPU.A10.2", "cpuBaseline": "BASELINE_1_2"}}),
    case("capacity-reservation", True,
         set_={"spec.infrastructure.capacityReservationId": "ocid1.capacityreservation.oc1.iad.aaaa"}),
    case("capacity-reservation-not-an-ocid", False, set_={"spec.infrastructure.capacityReservationId": "cr-1"}),
    case("defined-tags", True, set_={"metadata.definedTags": {"Finance": {"CostCenter": "42"}}}),
    case("defined-tags-empty-namespace", False, set_={"metadata.definedTags": {"Finance": {}}}),
    case("defined-tags-dotted-key", False, set_={"metadata.definedTags": {"Finance": {"Cost.Center": "42"}}}),
    case("defined-tags-number", False, set_={"metadata.definedTags": {"Finance": {"CostCenter": 42}}}),
    case("defined-tags-newline", False, set_={"metadata.definedTags": {"Finance": {"CostCenter": "4\n2"}}}),
    case("mount-object", True, set_={"spec.storageMounts": [OBJECT_MOUNT]}),
    case("mount-bucket-dotdot", False, set_={"spec.storageMounts": [{**OBJECT_MOUNT, "bucket": ".."}]}),
    case("mount-bucket-dots-inside", True, set_={"spec.storageMounts": [{**OBJECT_MOUNT, "bucket": "a..b"}]}),
    case("mount-prefix-traversal", False, set_={"spec.storageMounts": [{**OBJECT_MOUNT, "prefix": "a/../../b"}]}),
    case("mount-prefix-control", False, set_={"spec.storageMounts": [{**OBJECT_MOUNT, "prefix": "a\nb"}]}),
    case("mount-prefix-plain", True, set_={"spec.storageMounts": [{**OBJECT_MOUNT, "prefix": "sales/2026/"}]}),
    case("mount-path-traversal", False,
         set_={"spec.storageMounts": [{**OBJECT_MOUNT, "destinationPath": "/mnt/x/../../etc"}]}),
    case("mount-file-with-bucket", False, set_={"spec.storageMounts": [{**FILE_MOUNT, "bucket": "b"}]}),
    case("mount-file", True, set_={"spec.storageMounts": [FILE_MOUNT]}),
    case("mount-object-without-bucket", False,
         set_={"spec.storageMounts": [{k: v for k, v in OBJECT_MOUNT.items() if k != "bucket"}]}),
    case("ocpus-zero", False, set_={"spec.infrastructure.ocpus": 0}),
    case("ocpus-half", True, set_={"spec.infrastructure.ocpus": 0.5}),
    case("ocpus-bool", False, set_={"spec.infrastructure.ocpus": True}),
    case("ocpus-string", False, set_={"spec.infrastructure.ocpus": "2"}),
    case("block-storage-49", False, set_={"spec.infrastructure.blockStorageSizeInGBs": 49}),
    case("block-storage-float-integral", True, set_={"spec.infrastructure.blockStorageSizeInGBs": 60.0}),
    case("block-storage-fraction", False, set_={"spec.infrastructure.blockStorageSizeInGBs": 60.5}),
    case("subnet-ok", True, set_={"spec.infrastructure.subnetId": "ocid1.subnet.oc1.iad.aaaa"}),
    case("subnet-wrong-kind", False, set_={"spec.infrastructure.subnetId": "ocid1.vcn.oc1.iad.aaaa"}),
    case("compartment-tenancy", True, set_={"spec.compartmentId": "ocid1.tenancy.oc1..aaaa"}),
    case("project-not-ocid", False, set_={"spec.projectId": "my-project"}),
    case("logging-auto-without-group", False, set_={"spec.logging": {"autoCreateLog": True}}),
    case("logging-auto-false-alone", True, set_={"spec.logging": {"autoCreateLog": False}}),
    case("logging-log-and-auto", False, set_={"spec.logging": {
        "logGroupId": "ocid1.loggroup.oc1.iad.a", "logId": "ocid1.log.oc1.iad.a", "autoCreateLog": True}}),
    case("logging-log-and-group", True, set_={"spec.logging": {
        "logGroupId": "ocid1.loggroup.oc1.iad.a", "logId": "ocid1.log.oc1.iad.a"}}),
    case("logging-enabled-string", False, set_={"spec.logging": {"enabled": "yes"}}),
    case("runtime-type-unknown", False, set_={"spec.runtime.type": "ruby"}),
    case("python-without-source", False, drop=("spec.runtime.source",)),
    case("python-with-image", False, set_={"spec.runtime.image": "iad.ocir.io/ns/repo:1"}),
    case("python-with-cmd", False, set_={"spec.runtime.cmd": ["x"]}),
    case("python-entrypoint-list", False, set_={"spec.runtime.entrypoint": ["python"]}),
    case("python-entrypoint-empty", False, set_={"spec.runtime.entrypoint": ""}),
    case("conda-slug-and-uri", False, base="tune-models",
         set_={"spec.runtime.conda": {"slug": "a", "uri": "oci://b@ns/env"}}),
    case("conda-empty", False, base="tune-models", set_={"spec.runtime.conda": {}}),
    case("conda-uri", True, base="tune-models", set_={"spec.runtime.conda": {"uri": "oci://envs@ns/conda/env"}}),
    case("conda-bad-uri", False, base="tune-models", set_={"spec.runtime.conda": {"uri": "https://x/env"}}),
    case("env-name-digit", False, set_={"spec.runtime.env": {"1BAD": "x"}}),
    case("env-reserved-prefix", False, set_={"spec.runtime.env": {"JOBCTL_X": "x"}}),
    case("env-scalars", True, set_={"spec.runtime.env": {"A": 1, "B": 1.5, "C": True, "D": "x"}}),
    case("env-null", False, set_={"spec.runtime.env": {"A": None}}),
    case("env-list", False, set_={"spec.runtime.env": {"A": ["x"]}}),
    case("env-256", True, set_={"spec.runtime.env": {f"V{i}": "x" for i in range(256)}}),
    case("env-257", False, set_={"spec.runtime.env": {f"V{i}": "x" for i in range(257)}}),
    case("args-257", False, set_={"spec.runtime.args": ["x"] * 257}),
    case("args-nested", False, set_={"spec.runtime.args": [["x"]]}),
    case("max-runtime-zero", False, set_={"spec.runtime.maxRuntimeInMinutes": 0}),
    case("max-runtime-fraction", False, set_={"spec.runtime.maxRuntimeInMinutes": 1.5}),
    case("container-without-image", False, base="batch-score", drop=("spec.runtime.image",)),
    case("container-entrypoint-string", False, base="batch-score", set_={"spec.runtime.entrypoint": "python"}),
    case("container-with-conda", False, base="batch-score", set_={"spec.runtime.conda": {"slug": "x"}}),
    case("container-digest", True, base="batch-score", set_={"spec.runtime.imageDigest": DIGEST}),
    case("container-bad-digest", False, base="batch-score", set_={"spec.runtime.imageDigest": "sha256:XYZ"}),
    case("container-image-uppercase", False, base="batch-score", set_={"spec.runtime.image": "IAD.ocir.io/x:1"}),
    case("container-without-cmd", True, base="batch-score", drop=("spec.runtime.cmd",)),
    case("container-image-signature", True, base="batch-score",
         set_={"spec.runtime.imageSignatureId": "ocid1.containerimagesignature.oc1.iad.aaaa"}),
    case("python-image-signature", False,
         set_={"spec.runtime.imageSignatureId": "ocid1.containerimagesignature.oc1.iad.aaaa"}),
]


def test_the_mutation_set_is_large_and_mixed() -> None:
    expected = [param.values[3] for param in MUTATIONS]
    assert len(MUTATIONS) >= 25
    assert expected.count(True) >= 8
    assert expected.count(False) >= 25


# --- freshness and agreement -----------------------------------------------------------------------

def test_generated_fast_validator_is_fresh() -> None:
    generated = Path(_fastschema.__file__).read_text(encoding="utf-8")

    assert generated == generate_fast_validator(), (
        "jobctl/spec/_fastschema.py is stale: run `python -m jobctl.spec.schema --generate`"
    )


@pytest.mark.parametrize("name", sorted(EXAMPLE_DOCS))
def test_fast_and_full_validators_accept_every_example(name: str) -> None:
    doc = EXAMPLE_DOCS[name]

    assert (fast_accepts(doc), full_validator().is_valid(doc)) == (True, True)


def test_the_full_validator_is_draft_2020_12() -> None:
    assert full_validator().META_SCHEMA["$id"] == Draft202012Validator.META_SCHEMA["$id"]


def test_examples_hold_all_three_runtimes() -> None:
    runtimes = sorted(doc["spec"]["runtime"]["type"] for doc in EXAMPLE_DOCS.values() if doc["kind"] == "Job")
    assert runtimes == ["container", "python", "python", "python", "python", "python"]
    workflows = [name for name, doc in EXAMPLE_DOCS.items() if doc["kind"] == "Workflow"]
    assert workflows == ["model-selection", "model-selection-pipeline"]


@pytest.mark.parametrize(("base", "set_", "drop", "valid"), MUTATIONS)
def test_fast_validator_full_validator_and_jobctl_agree_on_mutations(
    base: str, set_: dict[str, Any] | None, drop: tuple[str, ...], valid: bool
) -> None:
    doc = mutate(base, set_=set_, drop=drop)

    verdicts = {"fast": fast_accepts(doc), "jsonschema": full_validator().is_valid(doc), "jobctl": jobctl_accepts(doc)}

    assert verdicts == {"fast": valid, "jsonschema": valid, "jobctl": valid}


@pytest.mark.parametrize("doc", [[], "text", None, 1, {}], ids=["list", "string", "null", "number", "empty"])
def test_validators_agree_on_non_mapping_documents(doc: Any) -> None:
    assert fast_accepts(doc) is False
    assert full_validator().is_valid(doc) is False


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


# Interesting strings: valid values for some field, so a random swap often lands near the boundary.
# Newlines are left out: the trailing-newline case is a fixed mutation above.
_INTERESTING = st.sampled_from([
    "jobctl/v1", "Job", "python", "shell", "container", "hello", "VM.Standard.E4.Flex", "VM.GPU.A10.1",
    "ocid1.subnet.oc1.iad.aaaa", "ocid1.loggroup.oc1.iad.aaaa", "ocid1.log.oc1.iad.aaaa",
    "ocid1.compartment.oc1..aaaa", "ocid1.datascienceproject.oc1.iad.aaaa", "oci://b@ns/env", DIGEST,
    "iad.ocir.io/ns/repo:1.0", "JOBCTL_X", "jobctl-x", "", "x.py",
])
_SCALARS = (
    st.none() | st.booleans() | st.integers(-3, 70_000) | st.floats(-10, 5_000, allow_nan=False)
    | _INTERESTING | st.text("abcXYZ019-_.:/@ ", max_size=12)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text("abEnvMODEL_1-", max_size=6), children,
                                                                      max_size=3),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_and_full_validators_agree_on_random_mutations(data: st.DataObject) -> None:
    doc = copy.deepcopy(EXAMPLE_DOCS[data.draw(st.sampled_from(sorted(EXAMPLE_DOCS)), label="base")])
    path = data.draw(st.sampled_from([p for p in _paths(doc) if p]), label="path")
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    operation = data.draw(st.sampled_from(["replace", "delete", "add-sibling"]), label="operation")
    if operation == "replace":
        parent[path[-1]] = data.draw(_VALUES, label="value")
    elif operation == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(st.text("abcEnvMODEL_-", min_size=1, max_size=8), label="key")] = data.draw(_VALUES)
    else:
        parent.append(data.draw(_VALUES, label="item"))

    event(f"valid={full_validator().is_valid(doc)}")
    assert fast_accepts(doc) == full_validator().is_valid(doc), json.dumps(doc, indent=1)


# --- values a validator should refuse -------------------------------------------------------------

@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
@pytest.mark.parametrize("field", ["ocpus", "memoryInGBs"])
def test_non_finite_sizes_are_rejected(tmp_path: Path, field: str, value: str) -> None:
    (tmp_path / "main.py").write_text("print('hi')\n")
    sizes = {"ocpus": "1", "memoryInGBs": "16", field: value}
    spec = tmp_path / "job.yaml"
    spec.write_text(textwrap.dedent(f"""\
        apiVersion: jobctl/v1
        kind: Job
        metadata: {{name: nan}}
        spec:
          infrastructure:
            shape: VM.Standard.E4.Flex
            ocpus: {sizes["ocpus"]}
            memoryInGBs: {sizes["memoryInGBs"]}
          runtime: {{type: python, source: ./main.py}}
        """))

    result = load_specs([str(spec)], {})

    assert [d.path for d in result.diagnostics] == [f"spec.infrastructure.{field}"]


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ('metadata: {name: "nl\\n"}', "metadata.name"),
        ('metadata: {name: nl, labels: {"team\\n": ml}}', "metadata.labels"),
        ("metadata: {name: nl}", None),
    ],
    ids=["name", "label-key", "control"],
)
def test_a_trailing_newline_does_not_satisfy_a_pattern(tmp_path: Path, line: str, path: str | None) -> None:
    (tmp_path / "main.py").write_text("print('hi')\n")
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "apiVersion: jobctl/v1\nkind: Job\n" + line + "\n"
        "spec:\n  infrastructure: {shape: VM.GPU.A10.1}\n  runtime: {type: python, source: ./main.py}\n"
    )

    result = load_specs([str(spec)], {})

    assert [d.path.split("[")[0] for d in result.diagnostics] == ([path] if path else [])


# --- the schema document itself --------------------------------------------------------------------

def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema()

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are expected, got {ref}"
        target: Any = schema
        for part in ref[2:].split("/"):
            target = target[part]
        node = target
    return node


def _declared_properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every field a spec author can write, as (dotted name, its resolved schema).

    Only `properties` reached from the root count, plus the two bodies of `spec` (a Job's and a
    Workflow's, chosen by `kind`) and the items of lists of objects (workflow steps): other
    `properties` inside if/then/else refine fields declared elsewhere. Map fields (env, labels) are
    the described field; their additionalProperties value schema is not a field of its own.
    """
    found: list[tuple[str, dict[str, Any]]] = []

    def visit(node: dict[str, Any], prefix: str) -> None:
        for name, sub in _resolve(schema, node).get("properties", {}).items():
            target = _resolve(schema, sub)
            found.append((prefix + name, target))
            visit(target, f"{prefix}{name}.")
            items = target.get("items")
            if isinstance(items, dict) and "$ref" in items:
                visit(items, f"{prefix}{name}[].")

    visit(schema, "")
    for body in ("jobSpec", "workflowSpec"):
        visit(schema["$defs"][body], "spec.")
    return found


def _is_section(node: dict[str, Any]) -> bool:
    """An object with its own fields: each of those carries examples, the section need not."""
    return node.get("type") == "object" and "properties" in node


def test_every_field_has_a_description_and_examples() -> None:
    schema = load_schema()
    fields = _declared_properties(schema)

    names = {name for name, _ in fields}
    assert len(fields) >= 25
    assert {"metadata.labels", "spec.runtime.env", "spec.runtime.conda.uri", "spec.logging.logId"} <= names
    undescribed = [name for name, node in fields if not str(node.get("description", "")).strip()]
    without_examples = [name for name, node in fields if not _is_section(node) and not node.get("examples")]
    assert undescribed == []
    assert without_examples == []


def _object_schemas(node: Any, pointer: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    """Schemas that define an object; an `if` only tests one (it may look at some properties only)."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            yield pointer, node
        for key, child in node.items():
            if key == "if":
                continue
            yield from _object_schemas(child, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _object_schemas(child, f"{pointer}/{index}")


def test_every_object_schema_with_properties_forbids_unknown_fields() -> None:
    objects = list(_object_schemas(load_schema()))

    assert len(objects) >= 7  # root, metadata, jobSpec, infrastructure, logging, runtime, conda
    assert [pointer for pointer, node in objects if node.get("additionalProperties") is not False] == []


def test_repository_schema_file_equals_the_packaged_one() -> None:
    assert REPO_SCHEMA.read_bytes() == PACKAGED_SCHEMA.read_bytes()
    assert schema_text().encode("utf-8") == PACKAGED_SCHEMA.read_bytes()
    json.loads(REPO_SCHEMA.read_text(encoding="utf-8"))

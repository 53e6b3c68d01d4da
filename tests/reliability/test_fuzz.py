"""Property tests: loading any document or text gives diagnostics, never a crash; valid specs round-trip
through OCI's wire format unchanged.

(a) documents shaped by the JSON Schema, the examples and the ADS job files, then mutated (keys deleted,
    inserted, retyped; random scalars, unicode, huge numbers) — `load_specs` returns diagnostics or raises a
    JobctlError, nothing else;
(b) random text and bytes as a spec file — the same;
(c) valid specs -> desired JobDefinition -> CreateJobDetails -> the SDK's JSON -> an SDK `Job` -> back
    to a JobDefinition: equal, field for field (what OCI cannot hold travels in the jobctl-source tag),
    both through the SDK's own (de)serializer and through the fake OCI service.

Derandomized, no example database, small budgets: the whole file runs in a few seconds.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oci
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from jobctl.backends.oci import OciBackend, mapping
from jobctl.backends.settings import OciSettings
from jobctl.errors import Diagnostic, JobctlError
from jobctl.model.definition import fields
from jobctl.model.job import JobDefinition
from jobctl.plan.desired import DesiredJob, desired_job
from jobctl.spec.load import LoadResult, load_specs
from jobctl.spec.schema import load_schema
from jobctl.testing.fake_oci import FakeOCI

FUZZ = settings(database=None, derandomize=True, deadline=None, max_examples=200,
                phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])
COMPARTMENT = "ocid1.compartment.oc1..fuzz"
PROJECT = "ocid1.datascienceproject.oc1.iad.fuzz"
_names = itertools.count()


# --- a scratch project every example writes into ----------------------------------------------------------

@pytest.fixture(scope="module")
def project() -> Iterator[Path]:
    """Files for `source:` to point at (some with names a shell or a tag separator would trip on)."""
    with tempfile.TemporaryDirectory(prefix="jobctl-fuzz-") as directory:
        root = Path(directory)
        (root / "src" / "pkg").mkdir(parents=True)
        for name in (*SINGLE_FILES, *(f"src/{entry}" for entry in ENTRYPOINTS)):
            (root / name).write_text("print('fuzz')\n")
        yield root


def write_spec(root: Path, content: str | bytes) -> Path:
    """A fresh file name per example: the parse cache keys on path, size, mtime and inode."""
    path = root / f"spec-{next(_names)}.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load_never_crashes(path: Path) -> LoadResult | None:
    """load_specs (validate's way and apply's way) returns diagnostics or raises a JobctlError — nothing else."""
    results = []
    for build in (False, True):
        try:
            result = load_specs([str(path)], {}, build=build)
        except JobctlError:
            return None
        for diagnostic in result.diagnostics:
            assert isinstance(diagnostic, Diagnostic)
            assert diagnostic.file == str(path)
            assert diagnostic.line >= 1
            assert diagnostic.column >= 1
            assert diagnostic.message
        results.append(result)
    validated, built = results
    assert validated.ok == built.ok, (validated.diagnostics, built.diagnostics)
    if built.ok:
        for spec in built.jobs:
            with contextlib.suppress(JobctlError):
                desired_job(spec)  # builds the artifact and the hash, as plan does
    return built


# --- (a) documents shaped like the schema, then mutated --------------------------------------------------

SCHEMA = load_schema()
TEXT = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
HUGE = st.one_of(st.integers(), st.sampled_from([2**63, -(2**63) - 1, 10**40, -(10**40), 2**1000]))
SCALARS = st.one_of(
    st.none(), st.booleans(), HUGE, st.floats(allow_nan=True, allow_infinity=True), TEXT,
    st.sampled_from(["", "~", "null", "yes", "0x1F", "1e999", "${UNSET}", "$${X}", "\0", "\u202e", "🦄", "ſ"]),
)
ANY_VALUE = st.recursive(
    SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
    max_leaves=8,
)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _pattern(node: dict[str, Any]) -> str | None:
    if "pattern" in node:
        return str(node["pattern"])
    for part in node.get("allOf", []):
        if "pattern" in part:
            return str(part["pattern"])
    return None


def from_schema(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values shaped by the schema node: types, enums, patterns and bounds (if/then rules ignored)."""
    node = _resolve(node)
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kinds = node.get("type")
    if isinstance(kinds, list):
        return st.one_of(*(from_schema({**node, "type": kind}) for kind in kinds))
    if kinds == "object" or "properties" in node:
        properties = node.get("properties", {})
        required = {k: from_schema(v) for k, v in properties.items() if k in node.get("required", [])}
        optional = {k: from_schema(v) for k, v in properties.items() if k not in required}
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and not properties:
            pattern = _pattern(node.get("propertyNames", {})) or r"^[A-Za-z_]{1,8}$"
            keys = st.from_regex(pattern, fullmatch=True).filter(lambda k: len(k) <= 40)
            return st.dictionaries(keys, from_schema(extra), max_size=4)
        return st.fixed_dictionaries(required, optional=optional)
    if kinds == "string":
        pattern = _pattern(node)
        strings = st.from_regex(pattern, fullmatch=True) if pattern else TEXT
        return strings.filter(lambda s: len(s) <= node.get("maxLength", 10_000) and len(s) >= node.get("minLength", 0))
    if kinds == "integer":
        return st.integers(node.get("minimum", -(2**64)), node.get("maximum", 2**64))
    if kinds == "number":
        low = node.get("minimum", node.get("exclusiveMinimum", -1e9))
        return st.floats(low, node.get("maximum", 1e9), exclude_min="exclusiveMinimum" in node) | st.integers(1, 256)
    if kinds == "boolean":
        return st.booleans()
    if kinds == "array":
        items = node.get("items", {"type": "string"})
        return st.lists(from_schema(items), max_size=min(node.get("maxItems", 4), 4))
    return ANY_VALUE


SCHEMA_DOCUMENTS = from_schema(SCHEMA)
REPO = Path(__file__).resolve().parents[2]
SEEDS = [  # the examples and the ADS job files (which go through the ADS translator)
    document
    for path in sorted([*(REPO / "specs-examples").rglob("*.yaml"), *(REPO / "tests" / "data" / "ads").glob("*.yaml")])
    for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
    if isinstance(document, dict)
]
SEED_DOCUMENTS = st.sampled_from(SEEDS).map(copy.deepcopy)


def _containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(value, (dict, list)):
        yield path, value
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            yield from _containers(child, (*path, key))


@st.composite
def mutated(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> Any:
    """A document with 0-4 mutations: delete, insert or retype a key, or replace a value."""
    document = draw(documents)
    for _ in range(draw(st.integers(0, 4))):
        containers = list(_containers(document))
        if not containers:
            return draw(ANY_VALUE)
        _, container = draw(st.sampled_from(containers))
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        action = draw(st.sampled_from(["delete", "insert", "retype", "retype", "rekey"]))
        if action == "insert" or not keys:
            if isinstance(container, dict):
                container[draw(st.one_of(TEXT, st.sampled_from(["spec", "runtime", "env", "<<"])))] = draw(ANY_VALUE)
            else:
                container.append(draw(ANY_VALUE))
            continue
        key = draw(st.sampled_from(keys))
        if action == "delete":
            del container[key]
        elif action == "retype":
            container[key] = draw(ANY_VALUE)
        elif isinstance(container, dict):
            container[draw(st.one_of(TEXT, HUGE, st.booleans()))] = container.pop(key)
    return document


def _source_fix(document: Any, choice: int) -> Any:
    """Point most generated sources at files that exist, so documents get past the source checks."""
    runtime = document.get("spec", {}).get("runtime") if isinstance(document.get("spec"), dict) else None
    if isinstance(runtime, dict) and "source" in runtime and choice:
        runtime["source"] = "./main.py" if choice == 1 else "./src"
        if choice == 2:
            runtime["entrypoint"] = "train.py"
    return document


def dump(document: Any, as_json: bool) -> str:
    if as_json:
        return json.dumps(document, ensure_ascii=False, allow_nan=True)
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


@settings(FUZZ, max_examples=400)
@given(document=mutated(st.one_of(SCHEMA_DOCUMENTS, SEED_DOCUMENTS)), source=st.integers(0, 2), as_json=st.booleans())
def test_schema_shaped_documents_and_their_mutations_give_diagnostics_not_crashes(
    project: Path, document: Any, source: int, as_json: bool,
) -> None:
    if isinstance(document, dict):
        document = _source_fix(document, source)
    load_never_crashes(write_spec(project, dump(document, as_json)))


FOUND_BY_FUZZING = {  # minimal documents the test above shrank a crash to; each must give diagnostics
    "ads-script-runtime-without-scriptPathURI-but-with-env": """\
kind: job
spec:
  name: found
  infrastructure: {kind: infrastructure, type: dataScienceJob, spec: {shapeName: VM.Standard2.1}}
  runtime:
    kind: runtime
    type: script
    spec:
      entrypoint: run.sh
      env: [{name: MODEL, value: x}]
""",
}


@pytest.mark.parametrize("name", sorted(FOUND_BY_FUZZING))
def test_documents_the_fuzzer_found_give_diagnostics(project: Path, name: str) -> None:
    result = load_never_crashes(write_spec(project, FOUND_BY_FUZZING[name]))
    assert result is None or not result.ok


# --- (b) random text and bytes ----------------------------------------------------------------------------

YAML_ALPHABET = "abcjobJ:-[]{}&*!|>'\"#%@` \n\t0123456789.,?$\\~<=\r\x85\u2028\ufeff\x00"
HEADER = "apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: fuzz}\n"


@settings(FUZZ, max_examples=400)
@given(text=st.one_of(
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=300),
    st.text(alphabet=YAML_ALPHABET, max_size=300),
    st.text(alphabet=YAML_ALPHABET, max_size=300).map(lambda t: HEADER + "spec:\n  " + t),
))
def test_random_text_gives_diagnostics_not_crashes(project: Path, text: str) -> None:
    load_never_crashes(write_spec(project, text))


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_give_diagnostics_not_crashes(project: Path, data: bytes) -> None:
    load_never_crashes(write_spec(project, data))


# --- (c) valid specs round-trip through OCI's wire format ------------------------------------------------

def _regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


# '$' would start ${VAR} interpolation: generated *valid* specs keep it out
UNICODE = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="$"), max_size=30)
ARG_SCALARS = st.one_of(UNICODE, st.text(alphabet=" '\"\\$`;|&*?~#\t-=", max_size=8), st.integers(-(10**20), 10**20),
                        st.floats(allow_nan=False, allow_infinity=False), st.booleans())
ENV_NAMES = _regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}").filter(
    lambda n: not n.startswith(("JOBCTL_", "CONDA_ENV_", "JOB_RUN_")),
)
LABEL_KEYS = _regex(r"[A-Za-z0-9_-]{1,20}").filter(lambda k: not k.startswith("jobctl-"))
FLEX_SHAPES = ["VM.Standard.E4.Flex", "VM.Standard3.Flex", "VM.Optimized3.Flex"]
FIXED_SHAPES = ["VM.Standard2.1", "VM.GPU.A10.1", "BM.Standard3.64"]
SINGLE_FILES = ["main.py", "run.sh", "odd|name.py", "ünï cødé.py"]
ENTRYPOINTS = ["train.py", "pkg/helper.py", "we|ird.py", "spa ce.py"]
IMAGES = ["iad.ocir.io/ns/app:1.0", "iad.ocir.io/ns/team/trainer:v2", "fra.ocir.io/tenancy/x@sha256:" + "a" * 64]


def _optional(draw: st.DrawFn, target: dict[str, Any], key: str, strategy: st.SearchStrategy[Any]) -> None:
    if draw(st.booleans()):
        target[key] = draw(strategy)


@st.composite
def valid_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A jobctl/v1 document the schema accepts, covering every field and runtime."""
    metadata: dict[str, Any] = {"name": draw(_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?"))}
    _optional(draw, metadata, "description", st.one_of(UNICODE, st.text(max_size=400).filter(
        lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s) and "\x00" not in s and "$" not in s)))
    _optional(draw, metadata, "labels", st.dictionaries(LABEL_KEYS, UNICODE, max_size=4))
    shape = draw(st.sampled_from(FLEX_SHAPES + FIXED_SHAPES))
    infrastructure: dict[str, Any] = {"shape": shape}
    if shape.endswith(".Flex"):
        infrastructure["ocpus"] = draw(st.one_of(st.integers(1, 256), st.floats(0.01, 256)))
        infrastructure["memoryInGBs"] = draw(st.one_of(st.integers(1, 4096), st.floats(0.5, 4096)))
    _optional(draw, infrastructure, "blockStorageSizeInGBs", st.integers(50, 32768))
    _optional(draw, infrastructure, "subnetId", _regex(r"ocid1\.subnet\.oc1\.iad\.[a-z0-9]{1,20}"))
    spec: dict[str, Any] = {"compartmentId": COMPARTMENT, "projectId": PROJECT, "infrastructure": infrastructure}
    if draw(st.booleans()):
        spec["logging"] = draw(_logging())
    spec["runtime"] = draw(_runtime())
    return {"apiVersion": "jobctl/v1", "kind": "Job", "metadata": metadata, "spec": spec}


@st.composite
def _logging(draw: st.DrawFn) -> dict[str, Any]:
    logging: dict[str, Any] = {}
    _optional(draw, logging, "enabled", st.booleans())
    mode = draw(st.sampled_from(["none", "group", "log", "auto"]))
    if mode != "none":
        logging["logGroupId"] = draw(_regex(r"ocid1\.loggroup\.oc1\.iad\.[a-z0-9]{1,12}"))
    if mode == "log":
        logging["logId"] = draw(_regex(r"ocid1\.log\.oc1\.iad\.[a-z0-9]{1,12}"))
        _optional(draw, logging, "autoCreateLog", st.just(False))
    if mode == "auto":
        logging["autoCreateLog"] = True
    return logging


@st.composite
def _runtime(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["python", "shell", "container"]))
    runtime: dict[str, Any] = {"type": kind}
    if kind == "container":
        runtime["image"] = draw(st.sampled_from(IMAGES))
        _optional(draw, runtime, "imageDigest", _regex(r"sha256:[a-f0-9]{64}"))
        _optional(draw, runtime, "cmd", st.lists(UNICODE, max_size=3))
        _optional(draw, runtime, "entrypoint", st.lists(UNICODE, min_size=1, max_size=3))
    else:
        if draw(st.booleans()):
            suffix = ".py" if kind == "python" else ".sh"  # jobctl checks a single file's extension
            runtime["source"] = "./" + draw(st.sampled_from([f for f in SINGLE_FILES if f.endswith(suffix)]))
        else:
            runtime["source"] = "./src"
            runtime["entrypoint"] = draw(st.sampled_from(ENTRYPOINTS))
        conda = draw(st.sampled_from(["none", "slug", "uri"]))
        if conda == "slug":
            runtime["conda"] = {"slug": draw(_regex(r"[A-Za-z0-9_.-]{1,30}"))}
        elif conda == "uri":
            runtime["conda"] = {"uri": draw(_regex(r"oci://[a-z0-9-]{1,10}@[a-z0-9@-]{1,10}/[a-zA-Z0-9_./-]{1,20}"))}
    _optional(draw, runtime, "args", st.lists(ARG_SCALARS, max_size=5))
    _optional(draw, runtime, "env", st.dictionaries(ENV_NAMES, ARG_SCALARS, max_size=5))
    _optional(draw, runtime, "maxRuntimeInMinutes", st.one_of(st.integers(1, 10_000), st.integers(1, 2**62)))
    return runtime


def desired_from(project: Path, document: dict[str, Any]) -> DesiredJob:
    path = write_spec(project, yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    loaded = load_specs([str(path)], {})
    assert loaded.ok, [str(d) for d in loaded.diagnostics]  # the generator must only make valid specs
    [spec] = loaded.jobs
    return desired_job(spec)


def same_definition(original: JobDefinition, back: JobDefinition) -> None:
    """Field for field; jobctl-source is the one tag OCI holds for jobctl, so it is not the user's."""
    back = back.with_tags({k: v for k, v in back.tags.items() if k != mapping.TAG_SOURCE})
    differences = {
        f.name: (getattr(original, f.name), getattr(back, f.name))
        for f in fields(JobDefinition)
        if getattr(original, f.name) != getattr(back, f.name)
    }
    assert not differences, f"lost in the round trip (original, back): {differences}"


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The SDK's own (de)serializer, from a client that never sends a request."""
    with FakeOCI() as fake:
        config_path = fake.write_config(tmp_path_factory.mktemp("fuzz-oci"))
    client = oci.data_science.DataScienceClient(oci.config.from_file(str(config_path)))
    return client.base_client


def sdk_round_trip(sdk: Any, desired: DesiredJob) -> None:
    """JobDefinition -> CreateJobDetails -> the SDK's JSON -> an SDK Job -> JobDefinition: unchanged."""
    definition = desired.definition
    layout = desired.artifact.root if desired.artifact else None
    tags = {**definition.tags, mapping.TAG_SOURCE: mapping.source_tag(definition, layout)}
    details = mapping.create_details(oci.data_science.models, definition, tags, layout)

    wire = sdk.sanitize_for_serialization(details)
    wire.update(id="ocid1.datasciencejob.oc1.iad.fuzz", lifecycleState="ACTIVE",
                timeCreated="2024-01-01T00:00:00.000Z", createdBy="ocid1.user.oc1..fuzz")
    job = sdk.deserialize_response_data(json.dumps(wire).encode(), "Job")

    same_definition(definition, mapping.definition_from_job(job))


@settings(FUZZ, max_examples=300)
@given(document=valid_documents())
def test_valid_specs_round_trip_through_the_sdk_models_exactly(
    project: Path, sdk: Any, document: dict[str, Any],
) -> None:
    sdk_round_trip(sdk, desired_from(project, document))


EDGE_RUNTIME = {"type": "python", "source": "./main.py"}
EDGES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {  # name -> (spec.logging or {}, spec.runtime)
    "logging-disabled-with-log-group": ({"enabled": False, "logGroupId": "ocid1.loggroup.oc1.iad.a"}, EDGE_RUNTIME),
    "logging-disabled-with-auto-create": (
        {"enabled": False, "logGroupId": "ocid1.loggroup.oc1.iad.a", "autoCreateLog": True}, EDGE_RUNTIME),
    "logging-disabled-with-log-id": (
        {"enabled": False, "logGroupId": "ocid1.loggroup.oc1.iad.a", "logId": "ocid1.log.oc1.iad.b"}, EDGE_RUNTIME),
    "single-file-source-with-a-pipe": ({}, {"type": "python", "source": "./odd|name.py"}),
    "zip-entrypoint-with-a-pipe": ({}, {"type": "python", "source": "./src", "entrypoint": "we|ird.py"}),
    "unicode-and-space-entrypoint": ({}, {"type": "python", "source": "./ünï cødé.py"}),
    "args-needing-quotes": ({}, {**EDGE_RUNTIME, "args": ["", " ", "'", '"', "a b", "$HOME", "\\", "--x=1 2"]}),
    "huge-max-runtime": ({}, {**EDGE_RUNTIME, "maxRuntimeInMinutes": 2**62}),
    "env-values-of-every-scalar-type": (
        {}, {**EDGE_RUNTIME, "env": {"A": 1, "B": 1.5, "C": True, "D": "", "E": "x=y"}}),
    "container-with-empty-cmd": ({}, {"type": "container", "image": IMAGES[0], "cmd": [], "entrypoint": ["sh"]}),
}


@pytest.mark.parametrize("name", sorted(EDGES))
def test_edge_cases_round_trip_through_the_sdk_models_exactly(project: Path, sdk: Any, name: str) -> None:
    """The fuzz test stops at its first failure; these keep every known edge visible on its own."""
    logging, runtime = EDGES[name]
    spec: dict[str, Any] = {"compartmentId": COMPARTMENT, "projectId": PROJECT,
                            "infrastructure": {"shape": "VM.Standard2.1"}, "runtime": runtime}
    if logging:
        spec["logging"] = logging
    document = {"apiVersion": "jobctl/v1", "kind": "Job", "metadata": {"name": "edge"}, "spec": spec}
    sdk_round_trip(sdk, desired_from(project, document))


@pytest.fixture(scope="module")
def oci_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeOCI, OciBackend]]:
    with FakeOCI() as fake:
        config = fake.write_config(tmp_path_factory.mktemp("fuzz-fake"))
        settings_ = OciSettings(config_file=str(config), endpoint=fake.url, compartment_id=COMPARTMENT,
                                project_id=PROJECT, fast_retries=True)
        yield fake, OciBackend(settings_)


@settings(FUZZ, max_examples=60, phases=[Phase.explicit, Phase.generate])  # the SDK test shrinks
@given(document=valid_documents())
def test_valid_specs_round_trip_through_the_fake_oci_service_exactly(
    project: Path, oci_backend: tuple[FakeOCI, OciBackend], document: dict[str, Any],
) -> None:
    _, backend = oci_backend
    desired = desired_from(project, document)
    created = backend.create_job(definition=desired.definition, artifact=desired.artifact,
                                 retry_token=f"fuzz-{next(_names)}")
    read_back = OciBackend(backend.settings, clients=backend.clients).get_job(job_id=created.id)  # no cache
    assert read_back.definition is not None
    same_definition(desired.definition, read_back.definition)

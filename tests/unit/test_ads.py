"""ADS job YAML in, jobctl/v1 out: the translation, and errors that point into the ADS file."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from jobctl.model.job import JobDefinition, name_from_display
from jobctl.spec.ads import AdsDocument, is_ads_document, translate
from jobctl.spec.document import Document, read_documents
from jobctl.spec.load import load_specs
from tests.conftest import REPO

ADS = REPO / "tests" / "data" / "ads"
COMPARTMENT = "ocid1.compartment.oc1..aaaaaaaaexample"
PROJECT = "ocid1.datascienceproject.oc1.iad.amaaaaaaexample"
LOG_GROUP = "ocid1.loggroup.oc1.iad.amaaaaaaexample"
LOG = "ocid1.log.oc1.iad.amaaaaaaexample"
SUBNET = "ocid1.subnet.oc1.iad.aaaaaaaaexample"


def read_one(path: Path) -> Document:
    documents, problems = read_documents(path, path.name)
    assert problems == []
    assert len(documents) == 1
    return documents[0]


def translated(path: Path) -> AdsDocument:
    document, problems = translate(read_one(path))
    assert [str(p) for p in problems] == []
    assert document is not None
    return document


def errors(path: Path) -> list[str]:
    """What `validate` would print for one file, as `file:line:col: path: message` lines."""
    return [str(d) for d in load_specs([str(path)], {}).diagnostics]


def ads_file(tmp_path: Path, runtime: str = "", infrastructure: str = "", *, head: str = "",
             name: str = "demo") -> Path:
    """An ADS document; `runtime`/`infrastructure` extend the spec of each (indented for you)."""
    (tmp_path / "main.py").write_text("print('hi')\n", encoding="utf-8")
    text = textwrap.dedent("""\
        kind: job
        HEADspec:
          name: NAME
          infrastructure:
            kind: infrastructure
            type: dataScienceJob
            spec:
              shapeName: VM.Standard.E4.Flex
              shapeConfigDetails: {ocpus: 1, memoryInGBs: 16}
        INFRASTRUCTURE
          runtime:
            kind: runtime
            type: python
            spec:
              scriptPathURI: main.py
        RUNTIME
        """)
    text = text.replace("HEAD", head).replace("NAME", name)
    text = text.replace("INFRASTRUCTURE\n", textwrap.indent(textwrap.dedent(infrastructure), " " * 6))
    text = text.replace("RUNTIME\n", textwrap.indent(textwrap.dedent(runtime), " " * 6))
    path = tmp_path / "ads.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    """1-based line of the first line containing `needle` (so expectations survive edits to the files)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# --- detection --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "expected"), [
    ({"kind": "job", "spec": {}}, True),
    ({"kind": "job", "apiVersion": "v1.0"}, True),
    ({"kind": "Job", "apiVersion": "jobctl/v1"}, False),
    ({"kind": "job", "apiVersion": "jobctl/v1"}, False),  # a jobctl/v1 typo: the schema explains it
    ({"apiVersion": "jobctl/v1"}, False),
])
def test_an_ads_document_is_one_whose_kind_is_job(data: dict[str, Any], expected: bool) -> None:
    assert is_ads_document(data) is expected


# --- translations -----------------------------------------------------------------------------------

def test_python_runtime_with_service_conda_and_a_working_dir() -> None:
    assert translated(ADS / "python-service-conda.yaml").data == {
        "apiVersion": "jobctl/v1",
        "kind": "Job",
        "metadata": {"name": "train-model"},
        "spec": {
            "compartmentId": COMPARTMENT,
            "projectId": PROJECT,
            "infrastructure": {
                "shape": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGBs": 16,
                "blockStorageSizeInGBs": 100, "subnetId": SUBNET,
            },
            "logging": {"logGroupId": LOG_GROUP, "logId": LOG},
            "runtime": {
                "type": "python",
                "source": "src/train",
                "entrypoint": "trainer/train.py",
                "workingDir": ".",  # ADS's workingDir 'train' (from the source's parent) is the source itself
                "conda": {"slug": "generalml_p311_cpu_x86_64_v1"},
                "args": ["--epochs", "3"],
                "env": {"MODEL": "xgboost", "DATA_URI": "oci://datasets@mytenancy/sales/train.csv"},
                "maxRuntimeInMinutes": 60,
            },
        },
    }


def test_script_runtime_with_a_directory_published_conda_and_a_log_group_only() -> None:
    spec = translated(ADS / "script-directory.yaml").data["spec"]

    assert spec["infrastructure"] == {"shape": "VM.Standard2.1", "blockStorageSizeInGBs": 50}
    assert spec["logging"] == {"logGroupId": LOG_GROUP, "autoCreateLog": True}
    assert spec["runtime"] == {
        "type": "shell",  # a .sh entrypoint
        "source": "src/etl",
        "entrypoint": "bin/run.sh",  # ADS names the directory too: etl/bin/run.sh
        "conda": {"uri": "oci://conda-envs@mytenancy/conda_environments/cpu/etl/1.0/etl_v1"},
        "args": ["--date", "2024-01-31"],
        "env": {"TARGET_TABLE": "sales_daily"},
    }


def test_container_runtime_keeps_the_entrypoint_list_and_makes_cmd_a_list() -> None:
    document = translated(ADS / "container.yaml")

    assert document.data["metadata"] == {"name": "batch-scoring"}
    assert document.data["spec"]["runtime"] == {
        "type": "container",
        "image": "iad.ocir.io/mytenancy/scoring:1.4.0",
        "imageDigest": "sha256:0f0b2e1d1c6e4f8a9b7c5d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a",
        "entrypoint": ["/bin/sh", "-c"],
        "cmd": ["python -m scoring --batch-size 512 && echo done"],
        "env": {"GREETINGS": "Welcome to OCI Data Science", "BATCH_SIZE": "512"},
        "maxRuntimeInMinutes": 240,
    }
    assert "subnetId" not in document.data["spec"]["infrastructure"]


def test_snake_case_keys_read_as_their_camel_case_fields() -> None:
    assert translated(ADS / "snake-case.yaml").data["spec"] == {
        "compartmentId": COMPARTMENT,
        "projectId": PROJECT,
        "infrastructure": {
            "shape": "VM.Standard3.Flex", "ocpus": 2, "memoryInGBs": 32, "blockStorageSizeInGBs": 60,
            "subnetId": SUBNET,
        },
        "logging": {"logGroupId": LOG_GROUP, "autoCreateLog": True},
        "runtime": {
            "type": "python", "source": "src/hello.py",
            "conda": {"slug": "generalml_p311_cpu_x86_64_v1"}, "maxRuntimeInMinutes": 30,
        },
    }


def test_exported_job_freeform_tags_of_both_sections_become_labels() -> None:
    data = translated(ADS / "freeform-tags.yaml").data

    assert data["metadata"] == {
        "name": "weekly-report", "labels": {"team": "analytics", "cost-center": "4711", "owner": "reporting"},
    }
    assert data["spec"]["infrastructure"] == {
        "shape": "VM.Standard.E4.Flex", "ocpus": 1.0, "memoryInGBs": 8.0, "blockStorageSizeInGBs": 50,
    }
    assert isinstance(data["spec"]["infrastructure"]["blockStorageSizeInGBs"], int)  # 50.0 in the file
    assert data["spec"]["runtime"] == {
        "type": "python",  # a script runtime running a .py file
        "source": "src/report.py", "args": ["weekly"], "env": {"REPORT_FORMAT": "pdf", "DRY_RUN": "false"},
    }


def test_loading_an_ads_file_gives_the_job_spec_a_jobctl_spec_would() -> None:
    result = load_specs([str(ADS / "python-service-conda.yaml")], {})

    assert result.diagnostics == ()
    (job,) = result.jobs
    assert job.source == (ADS / "src" / "train").resolve()
    assert job.definition == JobDefinition(
        name="train-model", compartment_id=COMPARTMENT, project_id=PROJECT,
        shape="VM.Standard.E4.Flex", ocpus=1, memory_in_gbs=16, block_storage_size_in_gbs=100, subnet_id=SUBNET,
        log_enabled=True, log_group_id=LOG_GROUP, log_id=LOG,
        runtime_type="python", entrypoint="trainer/train.py", working_dir=".",
        conda_slug="generalml_p311_cpu_x86_64_v1", args=("--epochs", "3"), env={"MODEL": "xgboost", "DATA_URI": "oci://datasets@mytenancy/sales/train.csv"},
        max_runtime_in_minutes=60,
    )
    assert job.origin is not None
    path = ADS / "python-service-conda.yaml"
    assert (job.origin.file, job.origin.line) == (str(path), line_of(path, "name: train-model"))


@pytest.mark.parametrize("entrypoint", ["main.py", "code/main.py"])
def test_a_directory_entrypoint_may_or_may_not_name_the_directory(tmp_path: Path, entrypoint: str) -> None:
    (tmp_path / "code").mkdir()
    path = ads_file(tmp_path, f"entrypoint: {entrypoint}\n")
    (tmp_path / "code" / "main.py").write_text("print('hi')\n", encoding="utf-8")
    path.write_text(path.read_text(encoding="utf-8").replace("scriptPathURI: main.py", "scriptPathURI: code"),
                    encoding="utf-8")

    assert translated(path).data["spec"]["runtime"]["entrypoint"] == "main.py"


def test_a_subdirectory_named_like_the_source_directory_is_not_mistaken_for_it(tmp_path: Path) -> None:
    (tmp_path / "code" / "code").mkdir(parents=True)
    (tmp_path / "code" / "code" / "main.py").write_text("print('nested')\n", encoding="utf-8")
    path = ads_file(tmp_path, "entrypoint: code/main.py\n")
    path.write_text(path.read_text(encoding="utf-8").replace("scriptPathURI: main.py", "scriptPathURI: code"),
                    encoding="utf-8")

    assert translated(path).data["spec"]["runtime"]["entrypoint"] == "code/main.py"


def test_env_may_also_be_a_mapping_and_cmd_a_comma_separated_string(tmp_path: Path) -> None:
    path = ads_file(tmp_path, "env: {A: '1', B: two}\n")
    assert translated(path).data["spec"]["runtime"]["env"] == {"A": "1", "B": "two"}

    container = tmp_path / "container.yaml"
    container.write_text(path.read_text(encoding="utf-8").replace("type: python", "type: container").replace(
        "scriptPathURI: main.py", "image: iad.ocir.io/ns/app:1.0\n      cmd: -c, echo hi\n      entrypoint: /bin/sh",
    ).replace("env: {A: '1', B: two}", ""), encoding="utf-8")
    runtime = translated(container).data["spec"]["runtime"]
    assert (runtime["entrypoint"], runtime["cmd"]) == (["/bin/sh"], ["-c", "echo hi"])


def test_empty_fields_that_are_not_supported_yet_are_accepted(tmp_path: Path) -> None:
    path = ads_file(tmp_path, "definedTags: {}\noutputUri:\n", "storageMount: []\n")

    assert translated(path).data["metadata"] == {"name": "demo"}


def test_the_name_may_come_from_the_display_name(tmp_path: Path) -> None:
    path = ads_file(tmp_path, infrastructure="displayName: from-display\n")
    path.write_text(path.read_text(encoding="utf-8").replace("  name: demo\n", ""), encoding="utf-8")

    assert translated(path).data["metadata"] == {"name": "from-display"}


@pytest.mark.parametrize(("name", "expected"), [
    ("My Job", "my-job"), ("Train_Model v2", "train-model-v2"), ("2024 report", "job-2024-report"),
    ("--x--", "x"), ("a" * 80, "a" * 63), ("Ünïcödé Jöb", "unicode-job"),
])
def test_names_derived_from_display_names(name: str, expected: str) -> None:
    assert name_from_display(name) == expected


# --- positions --------------------------------------------------------------------------------------

def test_translated_paths_keep_the_ads_positions_and_field_names() -> None:
    path = ADS / "python-service-conda.yaml"
    document = translated(path)

    shape_line = line_of(path, "shapeName:")
    assert document.position(("spec", "infrastructure", "shape")) == (shape_line, 18)
    assert document.position(("spec", "infrastructure", "shape"), prefer_key=True) == (shape_line, 7)
    assert document.position(("spec", "runtime", "env", "MODEL"), prefer_key=True) == (line_of(path, "MODEL"), 15)
    assert document.position(("spec", "runtime", "env", "MODEL")) == (line_of(path, "xgboost"), 16)
    assert document.position(("metadata", "name")) == (line_of(path, "name: train-model"), 9)
    diagnostic = document.diagnostic(("spec", "runtime", "maxRuntimeInMinutes"), "too long")
    assert str(diagnostic) == (
        f"python-service-conda.yaml:{line_of(path, 'maximumRuntimeInMinutes')}:32: "
        "spec.runtime.spec.maximumRuntimeInMinutes: too long"
    )
    assert document.diagnostic(("spec", "runtime", "env", "MODEL"), "x", at_key=True).path == (
        "spec.runtime.spec.env[0].name"
    )
    assert document.diagnostic(("spec", "runtime", "args", 1), "x").path == "spec.runtime.spec.args[1]"


def test_schema_errors_after_translation_point_at_the_ads_fields() -> None:
    path = ADS / "broken-values.yaml"
    shown = str(path)

    assert errors(path) == [
        f"{shown}:{line_of(path, 'ocpus: 0')}:16: spec.infrastructure.spec.shapeConfigDetails.ocpus: "
        "must be > 0; got 0",
        f"{shown}:{line_of(path, 'subnetId')}:17: spec.infrastructure.spec.subnetId: "
        "must be a subnet OCID (ocid1.subnet.oc1.<region>.<id>)",
        f"{shown}:{line_of(path, 'blockStorageSize')}:25: spec.infrastructure.spec.blockStorageSize: "
        "must be >= 50; got 20",
        f"{shown}:{line_of(path, '1ST_VALUE')}:15: spec.runtime.spec.env[0].name: "
        "environment variable names are letters, digits and '_', not starting with a digit",
    ]


def test_a_missing_entrypoint_is_reported_at_the_ads_entrypoint(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    path = ads_file(tmp_path, "entrypoint: nothere.py\n")
    path.write_text(path.read_text(encoding="utf-8").replace("scriptPathURI: main.py", "scriptPathURI: code"),
                    encoding="utf-8")

    assert errors(path) == [
        f"{path}:{line_of(path, 'entrypoint')}:19: spec.runtime.spec.entrypoint: "
        "entrypoint 'nothere.py' not found in source 'code'",
    ]


# --- what cannot be translated ----------------------------------------------------------------------

def test_a_data_flow_runtime_on_a_data_science_job_infrastructure_is_an_error() -> None:
    path = ADS / "broken-dataflow.yaml"
    assert errors(path) == [
        f"{path}:{line_of(path, 'type: dataFlow')}:11: spec.runtime.type: a dataFlow runtime goes with a dataFlow "
        "infrastructure, not 'dataScienceJob'",
    ]


def test_git_python_runtime_becomes_a_python_runtime_with_git() -> None:
    runtime = translated(ADS / "git-python.yaml").data["spec"]["runtime"]
    assert runtime == {"type": "python", "git": {"url": "https://github.com/pytorch/tutorials.git",
                                                 "branch": "master"},
                       "entrypoint": "beginner_source/examples_nn/polynomial_nn.py",
                       "conda": {"slug": "pytorch19_p37_gpu_v1"}}


def test_a_source_in_object_storage_is_not_supported_yet() -> None:
    path = ADS / "broken-oci-source.yaml"
    assert errors(path) == [
        f"{path}:{line_of(path, 'scriptPathURI')}:22: spec.runtime.spec.scriptPathURI: a source at oci:// "
        "is not supported yet: jobctl needs a local source; download it and point scriptPathURI at the local "
        "file or directory",
    ]


def test_every_unknown_or_unsupported_field_is_its_own_error() -> None:
    path = ADS / "broken-unsupported-fields.yaml"
    assert errors(path) == [
        f"{path}:{line_of(path, 'logGroupID')}:7: spec.infrastructure.spec.logGroupID: "
        "unknown ADS field 'spec.infrastructure.spec.logGroupID' (did you mean 'logGroupId'?)",
        f"{path}:{line_of(path, '- src:')}:14: spec.infrastructure.spec.storageMount[0].src: storage mount src "
        "'nfs.example.com:/exports/data': expected oci://bucket@namespace/prefix, or <mount target OCID or IP "
        "address>:<export OCID or path>",
    ]


def test_a_free_text_name_is_the_display_name_and_the_jobctl_name_is_derived_from_it() -> None:
    """Issue 15: ADS names are display names; jobctl rejected 'My Training Job'."""
    document = translated(ADS / "display-name.yaml")
    assert document.data["metadata"] == {"name": "my-training-job", "displayName": "My Training Job"}
    [job] = load_specs([str(ADS / "display-name.yaml")]).jobs
    assert (job.definition.name, job.definition.display_name) == ("my-training-job", "My Training Job")


def test_two_ads_names_that_make_one_jobctl_name_are_an_error(tmp_path: Path) -> None:
    text = (ADS / "display-name.yaml").read_text(encoding="utf-8")
    path = tmp_path / "two.yaml"
    path.write_text(text.replace("src/hello.py", str(ADS / "src" / "hello.py")) + "---\n"
                    + text.replace("My Training Job", "my training job").replace("src/hello.py",
                                                                             str(ADS / "src" / "hello.py")),
                    encoding="utf-8")
    result = load_specs([str(path)])
    assert [d.message for d in result.diagnostics] == [f"job name 'my-training-job' is also defined at {path}:4"]


@pytest.mark.parametrize("name", ["!!!", "   ", 42])
def test_an_ads_name_that_makes_no_jobctl_name_is_an_error(tmp_path: Path, name: object) -> None:
    path = ads_file(tmp_path)
    path.write_text(path.read_text(encoding="utf-8").replace("  name: demo\n", f"  name: {name!r}\n"),
                    encoding="utf-8")
    [message] = errors(path)
    assert ":3:9: spec.name: " in message


# ads_file() puts the extra infrastructure fields on line 10 and the runtime's after them.
@pytest.mark.parametrize(("runtime", "infrastructure", "expected"), [
    ("", "logId: ocid1.log.oc1.iad.amaaaaaaexample\n",
     ["10:14: spec.infrastructure.spec.logId: logId needs logGroupId: ADS looks the log group up through the "
      "OCI API, jobctl needs it written in the file"]),
    ("", "jobInfrastructureType: STANDALONE\n",
     ["10:30: spec.infrastructure.spec.jobInfrastructureType: STANDALONE (custom networking) needs subnetId; "
      "omit both for managed networking"]),
    ("", "jobInfrastructureType: ME_STANDALONE\nsubnetId: ocid1.subnet.oc1.iad.aaaaaaaaexample\n",
     ["10:30: spec.infrastructure.spec.jobInfrastructureType: ME_STANDALONE (managed networking) conflicts "
      "with subnetId; remove one"]),
    ("", "jobInfrastructureType: MULTI_NODE\n",
     ["10:30: spec.infrastructure.spec.jobInfrastructureType: jobInfrastructureType 'MULTI_NODE' is not "
      "supported yet (supported: STANDALONE, ME_STANDALONE)"]),
    ("", "jobType: NOTEBOOK\n",
     ["10:16: spec.infrastructure.spec.jobType: jobType must be DEFAULT; got 'NOTEBOOK'"]),
    ("", "shape_name: VM.Standard2.1\n",
     ["10:7: spec.infrastructure.spec.shape_name: 'shape_name' is the same ADS field as 'shapeName', given twice"]),
    ("", "displayName: other\n",
     ["10:20: spec.infrastructure.spec.displayName: displayName 'other' differs from the job name 'demo'; "
      "remove one"]),
    ("freeformTags: {team: b}\n", "freeformTags: {team: a}\n",
     ["16:22: spec.runtime.spec.freeformTags.team: freeform tag 'team' is also set to 'a' on line 10"]),
    ("env: [{name: A, value: '1'}, {name: A, value: '2'}]\n", "",
     ["15:43: spec.runtime.spec.env[1].name: environment variable 'A' is also set on line 15"]),
    ("env: [{name: A}]\n", "",
     ["15:13: spec.runtime.spec.env[0]: missing required field 'value'"]),
    ("conda: {type: service, uri: 'oci://b@n/p'}\n", "",
     ["15:7: spec.runtime.spec.conda: missing required field 'slug' (a service conda environment is named by "
      "its slug)",
      "15:30: spec.runtime.spec.conda.uri: uri does not apply to a service conda environment"]),
    ("conda: {type: custom, slug: x}\n", "",
     ["15:21: spec.runtime.spec.conda.type: conda type must be service or published; got 'custom'"]),
    ("conda: {type: published, uri: 'oci://b@n/p', region: us-ashburn-1}\n", "",
     ["15:52: spec.runtime.spec.conda.region: ADS field 'spec.runtime.spec.conda.region' is not supported yet"]),
    ("entrypoint: main.sh\n", "",
     ["15:19: spec.runtime.spec.entrypoint: python runtime entrypoint 'main.sh' must be a .py file for jobctl"]),
    ("workingDir: elsewhere\n", "",
     ["15:19: spec.runtime.spec.workingDir: workingDir 'elsewhere' must be '.' for a single-file source: ADS "
      "runs the code from the source's parent directory, which holds nothing else"]),
    ("pythonPath: 42\n", "",
     ["15:19: spec.runtime.spec.pythonPath: expected a list, got integer 42"]),
])
def test_ads_fields_jobctl_cannot_honour_are_located_errors(
    tmp_path: Path, runtime: str, infrastructure: str, expected: list[str],
) -> None:
    path = ads_file(tmp_path, runtime, infrastructure)

    assert errors(path) == [f"{path}:{line}" for line in expected]


@pytest.mark.parametrize(("replace", "by", "expected"), [
    ("type: python", "type: dataFlowNotebook",
     ["12:11: spec.runtime.type: ADS runtime type 'dataFlowNotebook' is not supported yet "
      "(supported: python, script, notebook, pyTorchDistributed, gitPython, container, dataFlow)"]),
    ("type: python", "type: git",
     ["12:11: spec.runtime.type: unknown ADS runtime type 'git' (did you mean 'gitPython'?); "
      "jobctl supports python, script, notebook, pyTorchDistributed, gitPython, container, dataFlow"]),
    ("type: dataScienceJob", "type: dataFlow",
     ["6:11: spec.infrastructure.type: a dataFlow infrastructure goes with a dataFlow runtime, not 'python'"]),
    ("kind: runtime", "kind: infrastructure",
     ["11:11: spec.runtime.kind: must be 'runtime'; got 'infrastructure'"]),
    ("scriptPathURI: main.py", "scriptPathURI: https://example.com/main.py",
     ["14:22: spec.runtime.spec.scriptPathURI: a source at https:// is not supported yet: jobctl needs a local "
      "source; download it and point scriptPathURI at the local file or directory"]),
    ("scriptPathURI: main.py", "scriptPathURI: code.zip",
     ["14:22: spec.runtime.spec.scriptPathURI: an archive source is not supported yet: unpack it and set "
      "scriptPathURI to the directory"]),
    ("scriptPathURI: main.py", "scriptPath: main.py",
     ["13:5: spec.runtime.spec: missing required field 'scriptPathURI' (the local file or directory to run)",
      "14:7: spec.runtime.spec.scriptPath: unknown ADS field 'spec.runtime.spec.scriptPath' "
      "(did you mean 'scriptPathURI'?)"]),
    ("      shapeName: VM.Standard.E4.Flex\n", "",
     ["7:5: spec.infrastructure.spec: missing required field 'shapeName' (jobctl has no notebook session to "
      "take it from)"]),
    ("  name: demo\n", "",
     ["2:1: spec: missing required field 'name' (jobctl identifies a job by its name)"]),
    ("kind: job\n", "kind: job\napiVersion: v2\n",
     ["2:13: apiVersion: ADS apiVersion must be v1.0 (or omitted); got 'v2'"]),
    ("kind: job\n", "kind: job\nmetadata: {}\n",
     ["2:1: metadata: unknown ADS field 'metadata'; known here: kind, apiVersion, spec"]),
])
def test_documents_jobctl_cannot_translate(tmp_path: Path, replace: str, by: str, expected: list[str]) -> None:
    path = ads_file(tmp_path)
    text = path.read_text(encoding="utf-8")
    assert replace in text
    path.write_text(text.replace(replace, by, 1), encoding="utf-8")

    assert errors(path) == [f"{path}:{line}" for line in expected]


def test_a_kind_job_typo_in_a_jobctl_spec_stays_a_schema_error(tmp_path: Path) -> None:
    path = tmp_path / "job.yaml"
    path.write_text("apiVersion: jobctl/v1\nkind: job\nmetadata: {name: x}\n", encoding="utf-8")

    assert (f"{path}:2:7: kind: must be one of: Job, Workflow, DataFlowApplication; got \"job\" (did you mean "
            "'Job'?)") in errors(path)


def test_ads_files_take_nothing_from_the_environment(tmp_path: Path) -> None:
    """ADS's Job.from_yaml is yaml.load: `${VAR}` of an unset variable was an error, a set one filled in."""
    path = ads_file(tmp_path, "env: [{name: MODEL, value: '${MODEL:-xgb}'}]\n",
                    infrastructure="compartmentId: ocid1.compartment.oc1..aaaaaaaaexample\n", name="Train ${REGION}")

    for environ in ({}, {"REGION": "iad", "MODEL": "rf"}):
        result = load_specs([str(path)], environ)
        assert result.diagnostics == ()
        [job] = result.jobs
        assert (job.name, job.definition.display_name) == ("train-region", "Train ${REGION}")
        assert dict(job.definition.env) == {"MODEL": "${MODEL:-xgb}"}  # no such entry: kept as written


def test_env_values_and_the_name_are_filled_from_the_jobs_env_as_ads_does(tmp_path: Path) -> None:
    """ADS: env_var_parser.py fills `${NAME}` from other entries ($$ is $, other $ kept); the name is
    string.Template-substituted from the env (DataScienceJob.create)."""
    path = ads_file(tmp_path, textwrap.dedent("""\
        env:
        - {name: DATASET, value: mnist}
        - {name: DATA_DIR, value: '/data/${DATASET}'}
        - {name: OUT, value: '${DATA_DIR}/out'}
        - {name: PRICE, value: '$$10 and $10 and ${NOPE}'}
        - {name: SEED, value: 7}
        - {name: EMPTY, value: null}
        """), name="Training on $DATASET (${SEED})")

    [job] = load_specs([str(path)], {"DATASET": "ignored"}).jobs

    assert dict(job.definition.env) == {"DATASET": "mnist", "DATA_DIR": "/data/mnist", "OUT": "/data/mnist/out",
                                        "PRICE": "$10 and $10 and ${NOPE}", "SEED": "7", "EMPTY": ""}
    assert (job.name, job.definition.display_name) == ("training-on-mnist-7", "Training on mnist (7)")


def test_env_entries_that_refer_to_each_other_in_a_loop_are_an_error(tmp_path: Path) -> None:
    path = ads_file(tmp_path, "env: [{name: A, value: '${B}'}, {name: B, value: 'x${A}'}]\n")

    line = line_of(path, "env:")
    assert errors(path) == [
        f"{path}:{line}:30: spec.runtime.spec.env[0].value: env 'A' refers back to itself: A -> B -> A",
        f"{path}:{line}:56: spec.runtime.spec.env[1].value: env 'B' refers back to itself: B -> A -> B",
    ]


def test_a_jobctl_document_beside_an_ads_one_keeps_its_interpolation(tmp_path: Path) -> None:
    path = ads_file(tmp_path, name="ads-${X}")
    path.write_text(path.read_text(encoding="utf-8") + textwrap.dedent("""\
        ---
        apiVersion: jobctl/v1
        kind: Job
        metadata: {name: "native-${X}"}
        spec:
          infrastructure: {shape: VM.Standard2.1}
          runtime: {type: python, source: ./main.py}
        """), encoding="utf-8")

    assert sorted(job.name for job in load_specs([str(path)], {"X": "one"}).jobs) == ["ads-x", "native-one"]
    assert errors(path) == [f"{path}:{line_of(path, 'native-')}:18: metadata.name: variable X is not set "
                            "(set it, or write ${X:-default})"]


def test_ads_and_jobctl_documents_mix_in_one_file(tmp_path: Path) -> None:
    path = ads_file(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + textwrap.dedent("""\
        ---
        apiVersion: jobctl/v1
        kind: Job
        metadata: {name: native}
        spec:
          infrastructure: {shape: VM.Standard2.1}
          runtime: {type: python, source: ./main.py}
        """), encoding="utf-8")

    result = load_specs([str(path)], {})

    assert result.diagnostics == ()
    assert [job.name for job in result.jobs] == ["demo", "native"]


def test_env_references_cannot_expand_into_a_memory_bomb(tmp_path: Path) -> None:
    """Red team: 1 KB of env entries that refer to each other 8 times a level made validate use 1.9 GB."""
    entries = "".join(f"- {{name: E{i}, value: '{('${E' + str(i + 1) + '}') * 8}'}}\n" for i in range(1, 9))
    path = ads_file(tmp_path, "env:\n" + textwrap.indent(entries + f"- {{name: E9, value: {'A' * 100}}}\n", "  "))
    problems = errors(path)
    assert problems
    assert all("expands to more than 32 KiB" in p for p in problems)


def test_a_long_chain_of_env_references_is_not_called_a_loop(tmp_path: Path) -> None:
    entries = "".join(f"- {{name: E{i}, value: '${{E{i + 1}}}'}}\n" for i in range(1, 14))
    entries += "- {name: E14, value: end}\n"
    path = ads_file(tmp_path, "env:\n" + textwrap.indent(entries, "  "))
    problems = errors(path)
    assert problems
    assert all("nests references more than 10 deep" in p for p in problems)


def test_null_fields_say_nothing_as_in_ads_exports(tmp_path: Path) -> None:
    """Red team: `workingDir: null` was 'workingDir None must be ...'; a null is an unset field."""
    path = ads_file(tmp_path, "workingDir: null\npythonPath: null\n", infrastructure="subnetId: null\n")
    assert errors(path) == []
    path = ads_file(tmp_path, name="null")
    assert [e.split(": ", 2)[2] for e in errors(path)] == [
        "missing required field 'name' (jobctl identifies a job by its name)"]


MT = "ocid1.mounttarget.oc1.iad.aaaaaaaaexample"
EXPORT = "ocid1.export.oc1.iad.aaaaaaaaexample"


@pytest.mark.parametrize(("src", "fields"), [
    (f"{MT}:{EXPORT}", {"mountTargetId": MT, "exportId": EXPORT}),
    ("10.0.0.10:/exports/data", {"mountTargetIp": "10.0.0.10", "exportPath": "/exports/data"}),  # ADS's code
    ("10.0.0.10@/exports/data", {"mountTargetIp": "10.0.0.10", "exportPath": "/exports/data"}),  # its guide
    (f"{MT}:/exports/data", {"mountTargetId": MT, "exportPath": "/exports/data"}),
    (f"10.0.0.10:{EXPORT}", {"mountTargetIp": "10.0.0.10", "exportId": EXPORT}),
])
def test_a_file_storage_src_names_the_mount_target_and_export_by_ocid_or_by_ip_and_path(
    tmp_path: Path, src: str, fields: dict[str, str],
) -> None:
    path = ads_file(tmp_path, infrastructure=f"storageMount:\n- src: '{src}'\n  dest: /fss/shared\n")
    [mount] = translated(path).data["spec"]["storageMounts"]
    assert mount == {"storageType": "FILE_STORAGE", **fields, "destinationPath": "/fss",
                     "destinationDirectoryName": "shared"}
    assert errors(path) == []


def test_a_file_storage_src_with_a_bad_address_is_an_error_at_the_src(tmp_path: Path) -> None:
    path = ads_file(tmp_path, infrastructure="storageMount:\n- src: 10.0.0.300@/exports/\n  dest: shared\n")
    assert [e.split(": ", 1)[1] for e in errors(path)] == [
        "spec.infrastructure.spec.storageMount[0].src: must be an IPv4 address such as 10.0.0.10",
        "spec.infrastructure.spec.storageMount[0].src: must be an export path: '/' and path elements of at most "
        "255 characters, none of them . or .., not ending in '/'",
    ]


def git_notebook(tmp_path: Path, output_dir: str) -> Path:
    path = ads_file(tmp_path)
    text = path.read_text(encoding="utf-8").replace("type: python", "type: gitPython").replace(
        "scriptPathURI: main.py", f"url: https://github.com/o/r.git\n      entrypoint: nbs/a.ipynb\n"
                                  f"      outputDir: {output_dir}\n      outputUri: oci://b@ns/out")
    path.write_text(text, encoding="utf-8")
    return path


def test_a_git_notebooks_output_dir_is_the_repositorys_path_made_the_notebook_directorys(tmp_path: Path) -> None:
    """The red team: ADS's outputDir nbs/out (from the repository's root) became nbs/nbs/out, and the run
    uploaded nothing without an error."""
    runtime = translated(git_notebook(tmp_path, "nbs/out")).data["spec"]["runtime"]
    assert (runtime["type"], runtime["entrypoint"], runtime["outputDir"]) == ("notebook", "nbs/a.ipynb", "out")


def test_a_git_notebooks_output_dir_outside_its_directory_is_an_error(tmp_path: Path) -> None:
    path = git_notebook(tmp_path, "results")
    assert [e.split(": ", 1)[1] for e in errors(path)] == [
        "spec.runtime.spec.outputDir: outputDir 'results' is outside the notebook's directory 'nbs': a notebook's "
        "outputs are uploaded from its own directory"]

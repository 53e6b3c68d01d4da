"""load_specs: files and directories in, JobSpecs and sorted, located diagnostics out."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jobctl.model.job import JobDefinition
from jobctl.spec.load import load_specs
from tests.conftest import EXAMPLES


def job_yaml(name: str, *, runtime: str = "{type: python, source: ./main.py}", extra: str = "") -> str:
    return textwrap.dedent(f"""\
        apiVersion: jobctl/v1
        kind: Job
        metadata: {{name: {name}}}
        spec:
          infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}}
          runtime: {runtime}
        """) + extra


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    return path


def project(root: Path, name: str, spec_name: str = "job.yaml") -> Path:
    """A spec with the source file it points at."""
    write(root / "main.py", "print('hi')\n")
    return write(root / spec_name, job_yaml(name))


# --- directories -----------------------------------------------------------------------------------

def test_a_directory_loads_every_yaml_and_yml_file_recursively_in_sorted_order(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    project(specs / "b" / "d", "e-job", "e.yaml")
    project(specs, "z-job", "z.yaml")
    project(specs / "b", "c-job", "c.yml")
    project(specs, "a-job", "a.yaml")
    write(specs / "notes.txt", "not a spec")
    write(specs / "job.json", "{}")
    # hidden directories and files are skipped: these would be errors if they were read
    write(specs / ".git" / "config.yaml", "not: [valid")
    write(specs / ".hidden" / "deep" / "x.yml", "- a list\n")
    write(specs / ".draft.yaml", "- a list\n")

    result = load_specs([str(specs)], {})

    assert [str(d) for d in result.diagnostics] == []
    assert result.files == tuple(
        str(specs / rel) for rel in ("a.yaml", "b/c.yml", "b/d/e.yaml", "z.yaml")
    )
    assert [job.name for job in result.jobs] == ["a-job", "c-job", "e-job", "z-job"]


def test_files_and_directories_given_together_keep_the_order_given(tmp_path: Path) -> None:
    second = project(tmp_path / "two", "second")
    project(tmp_path / "one", "first")

    result = load_specs([str(second), str(tmp_path / "one")], {})

    assert result.ok
    assert [job.name for job in result.jobs] == ["second", "first"]


def test_an_empty_directory_is_reported(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    result = load_specs([str(tmp_path / "empty")], {})

    assert [(d.file, d.message) for d in result.diagnostics] == [
        (str(tmp_path / "empty"), "directory holds no *.yaml or *.yml files")
    ]


def test_a_missing_path_is_reported_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    result = load_specs(["nope/job.yaml"], {})

    assert [str(d) for d in result.diagnostics] == ["nope/job.yaml:1:1: <file>: no such file or directory"]
    assert not result.ok


# --- source and entrypoint -------------------------------------------------------------------------

def test_source_is_resolved_relative_to_the_spec_file_not_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = tmp_path / "proj"
    write(proj / "src" / "main.py", "print('hi')\n")
    write(proj / "job.yaml", job_yaml("rel", runtime="{type: python, source: ./src, entrypoint: main.py}"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    result = load_specs(["../proj/job.yaml"], {})

    assert [str(d) for d in result.diagnostics] == []
    [job] = result.jobs
    assert job.source == (proj / "src").resolve()
    assert job.definition.entrypoint == "main.py"


def test_a_source_next_to_the_cwd_but_not_the_spec_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "proj" / "job.yaml", job_yaml("rel", runtime="{type: python, source: ./src, entrypoint: main.py}"))
    write(tmp_path / "src" / "main.py", "print('decoy')\n")  # relative to the cwd, not to the spec
    monkeypatch.chdir(tmp_path)

    result = load_specs(["proj/job.yaml"], {})

    assert len(result.diagnostics) == 1
    problem = result.diagnostics[0]
    assert (problem.file, problem.line, problem.path) == ("proj/job.yaml", 6, "spec.runtime.source")
    assert "does not exist" in problem.message


def test_a_single_file_source_sets_the_entrypoint_to_the_file_name(tmp_path: Path) -> None:
    write(tmp_path / "scripts" / "train.py", "print('hi')\n")
    spec = write(tmp_path / "job.yaml", job_yaml("single", runtime="{type: python, source: scripts/train.py}"))

    [job] = load_specs([str(spec)], {}).jobs

    assert job.source == (tmp_path / "scripts" / "train.py").resolve()
    assert job.definition.entrypoint == "train.py"


def test_a_single_file_source_with_another_entrypoint_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "train.py", "print('hi')\n")
    runtime = "{type: python, source: train.py, entrypoint: other.py}"
    spec = write(tmp_path / "job.yaml", job_yaml("single", runtime=runtime))

    result = load_specs([str(spec)], {})

    assert [(d.path, d.line) for d in result.diagnostics] == [("spec.runtime.entrypoint", 6)]
    assert "train.py" in result.diagnostics[0].message


@pytest.mark.parametrize(
    ("runtime", "path", "fragment"),
    [
        ("{type: python, source: ./src}", "spec.runtime", "entrypoint is required"),
        ("{type: python, source: ./src, entrypoint: nope.py}", "spec.runtime.entrypoint", "not found"),
        ("{type: shell, source: ./src, entrypoint: ../outside.sh}", "spec.runtime.entrypoint", "outside source"),
    ],
)
def test_directory_source_needs_an_entrypoint_inside_it(tmp_path: Path, runtime: str, path: str, fragment: str) -> None:
    write(tmp_path / "src" / "main.py", "print('hi')\n")
    write(tmp_path / "outside.sh", "echo hi\n")
    spec = write(tmp_path / "job.yaml", job_yaml("dir", runtime=runtime))

    result = load_specs([str(spec)], {})

    assert [d.path for d in result.diagnostics] == [path]
    assert fragment in result.diagnostics[0].message


# --- duplicates and ordering -----------------------------------------------------------------------

def test_duplicate_job_names_across_files_are_reported_at_the_second_naming_the_first(tmp_path: Path) -> None:
    write(tmp_path / "main.py", "print('hi')\n")
    first = write(tmp_path / "a.yaml", "# first definition\n" + job_yaml("dup"))
    second = write(tmp_path / "b.yaml", job_yaml("dup"))

    result = load_specs([str(tmp_path)], {})

    assert len(result.diagnostics) == 1
    problem = result.diagnostics[0]
    assert (problem.file, problem.line, problem.column, problem.path) == (str(second), 3, 18, "metadata.name")
    assert "'dup'" in problem.message
    assert problem.message.endswith(f"{first}:4")  # the first file's metadata.name line


def test_duplicate_job_names_within_one_file(tmp_path: Path) -> None:
    write(tmp_path / "main.py", "print('hi')\n")
    spec = write(tmp_path / "jobs.yaml", job_yaml("dup") + "---\n" + job_yaml("other") + "---\n" + job_yaml("dup"))

    result = load_specs([str(spec)], {})

    assert [(d.line, d.path) for d in result.diagnostics] == [(17, "metadata.name")]
    assert result.diagnostics[0].message.endswith(f"{spec}:3")


def test_diagnostics_are_sorted_by_file_then_line(tmp_path: Path) -> None:
    b = write(tmp_path / "b.yaml", job_yaml("Bad-B", runtime="{type: python, source: ./missing.py}"))
    a = write(tmp_path / "a.yaml", job_yaml("ok-a", runtime="{type: python}") + "extra: 1\n")
    c = write(tmp_path / "c.yaml", "- not a mapping\n")

    result = load_specs([str(c), str(b), str(a)], {})

    located = [(d.file, d.line) for d in result.diagnostics]
    assert located == sorted(located)
    assert {d.file for d in result.diagnostics} == {str(a), str(b), str(c)}
    assert located[0][0] == str(a)
    assert located[-1][0] == str(c)


def test_all_files_are_checked_even_after_errors(tmp_path: Path) -> None:
    write(tmp_path / "main.py", "print('hi')\n")
    write(tmp_path / "1-bad.yaml", "kind: [\n")
    write(tmp_path / "2-good.yaml", job_yaml("good"))
    write(tmp_path / "3-bad.yaml", job_yaml("x", runtime="{type: ruby, source: ./main.py}"))

    result = load_specs([str(tmp_path)], {})

    assert sorted({Path(d.file).name for d in result.diagnostics}) == ["1-bad.yaml", "3-bad.yaml"]
    assert [job.name for job in result.jobs] == ["good"]


# --- the JobSpec built ----------------------------------------------------------------------------

FULL = """\
apiVersion: jobctl/v1
kind: Job
metadata:
  name: full
  description: Every field
  labels: {team: ml, cost-center: research}
spec:
  compartmentId: ocid1.compartment.oc1..aaaa
  projectId: ocid1.datascienceproject.oc1.iad.aaaa
  infrastructure:
    shape: VM.Standard.E4.Flex
    ocpus: 2
    memoryInGBs: 32.5
  logging: {logGroupId: ocid1.loggroup.oc1.iad.aaaa, autoCreateLog: true}
  runtime:
    type: python
    source: ./src
    entrypoint: main.py
    conda: {slug: generalml_p311_cpu_x86_64_v1}
    args: ["--trials", 50, 0.5, true, false]
    env: {TEXT: xgb, INT: 7, FLOAT: 1.5, ON: true, OFF: false}
    maxRuntimeInMinutes: 120
"""


def test_jobspec_fields_from_a_full_spec(tmp_path: Path) -> None:
    write(tmp_path / "src" / "main.py", "print('hi')\n")
    spec = write(tmp_path / "job.yaml", FULL)

    result = load_specs([str(spec)], {})

    assert [str(d) for d in result.diagnostics] == []
    [job] = result.jobs
    assert job.source == (tmp_path / "src").resolve()
    assert job.definition == JobDefinition(
        name="full", description="Every field", labels={"team": "ml", "cost-center": "research"},
        compartment_id="ocid1.compartment.oc1..aaaa", project_id="ocid1.datascienceproject.oc1.iad.aaaa",
        shape="VM.Standard.E4.Flex", ocpus=2, memory_in_gbs=32.5, block_storage_size_in_gbs=50, subnet_id=None,
        log_enabled=True, log_group_id="ocid1.loggroup.oc1.iad.aaaa", log_id=None, log_auto_create=True,
        runtime_type="python", entrypoint="main.py", conda_slug="generalml_p311_cpu_x86_64_v1",
        args=("--trials", "50", "0.5", "true", "false"),
        env={"TEXT": "xgb", "INT": "7", "FLOAT": "1.5", "ON": "true", "OFF": "false"},
        max_runtime_in_minutes=120,
    )
    assert job.origin is not None
    assert (job.origin.file, job.origin.line) == (str(spec), 4)  # where metadata.name is


def test_defaults_for_omitted_fields(tmp_path: Path) -> None:
    spec = project(tmp_path, "minimal")

    [job] = load_specs([str(spec)], {}).jobs

    assert job.definition.block_storage_size_in_gbs == 50
    assert job.definition.subnet_id is None
    assert (job.definition.log_enabled, job.definition.log_group_id, job.definition.log_auto_create) == (
        False, None, False)
    assert job.definition.description is None
    assert dict(job.definition.labels) == {}
    assert job.definition.args == ()
    assert dict(job.definition.env) == {}
    assert job.definition.max_runtime_in_minutes is None


def test_logging_defaults_when_the_section_is_present(tmp_path: Path) -> None:
    write(tmp_path / "main.py", "print('hi')\n")
    spec = write(tmp_path / "job.yaml", job_yaml("logs") + "  logging: {logGroupId: ocid1.loggroup.oc1.iad.aaaa}\n")

    [job] = load_specs([str(spec)], {}).jobs

    assert (job.definition.log_enabled, job.definition.log_group_id, job.definition.log_auto_create) == (
        True, "ocid1.loggroup.oc1.iad.aaaa", False)


def test_container_runtime_fields(tmp_path: Path) -> None:
    spec = write(tmp_path / "job.yaml", job_yaml("box", runtime=(
        "{type: container, image: 'iad.ocir.io/ns/repo:1.0', entrypoint: [python, -m, app], cmd: [--x, '1']}"
    )))

    [job] = load_specs([str(spec)], {}).jobs

    assert job.definition.runtime_type == "container"
    assert job.definition.image == "iad.ocir.io/ns/repo:1.0"
    assert job.definition.container_entrypoint == ("python", "-m", "app")
    assert job.definition.cmd == ("--x", "1")
    assert job.definition.entry_file is None
    assert job.source is None


def test_examples_load_with_their_documented_values() -> None:
    result = load_specs([str(EXAMPLES)], {})

    assert result.ok, [str(d) for d in result.diagnostics]
    jobs = {job.name: job for job in result.jobs}
    assert sorted(jobs) == ["batch-score", "distributed-train", "hello", "train-final", "tune-candidate",
                            "tune-models"]
    assert [w.name for w in result.workflows] == ["model-selection", "model-selection-pipeline"]
    assert jobs["hello"].definition.entrypoint == "hello.py"
    assert jobs["tune-models"].definition.block_storage_size_in_gbs == 100
    assert dict(jobs["tune-models"].definition.env) == {"MODEL": "xgb", "SEED": "7"}
    assert jobs["tune-models"].definition.compartment_id is None  # on OCI: --compartment-id or the environment


def test_environment_overrides_example_defaults() -> None:
    result = load_specs([str(EXAMPLES / "train")], {"OCI_LOG_GROUP_ID": "ocid1.loggroup.oc1.iad.mine"})

    [job] = result.jobs
    assert job.definition.log_group_id == "ocid1.loggroup.oc1.iad.mine"


YAML11 = """\
apiVersion: jobctl/v1
kind: Job
metadata: {name: scalars}
spec:
  infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 16}
  runtime:
    type: python
    source: ./main.py
    env:
      ZIP: 01234
      V: 1.10
      FLAG: no
      YES: on
      HEX: 0x1F
      BIG: 1_000
      SEED: 7
      FROM_ENV: ${CODE}
      T: true
    args: [on, 0x1F, 1_000, 7, "quoted", 2.50]
"""


def test_env_values_and_args_keep_what_the_user_wrote(tmp_path: Path) -> None:
    """Issue 13 §3: YAML 1.1 read `01234` as 668, `1.10` as 1.1, `no` as false, `0x1F` as 31; env values and
    args are text, so they reach the workload as written (also from the parse cache, also interpolated)."""
    (tmp_path / "main.py").write_text("print(1)\\n")
    (tmp_path / "job.yaml").write_text(YAML11)
    for _ in range(2):  # parsed, then read back from the parse cache
        loaded = load_specs([str(tmp_path / "job.yaml")], {"CODE": "0042"})
        loaded.raise_for_errors()
        [job] = loaded.jobs
        assert dict(job.definition.env) == {"ZIP": "01234", "V": "1.10", "FLAG": "no", "YES": "on", "HEX": "0x1F",
                                         "BIG": "1_000", "SEED": "7", "FROM_ENV": "0042", "T": "true"}
        assert job.definition.args == ("on", "0x1F", "1_000", "7", "quoted", "2.50")

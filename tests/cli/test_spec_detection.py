"""A directory's specs are found by what a file holds once parsed, not by how it is written (red team, HIGH): a
spec written as JSON, in flow style, with quoted keys, a tag or indented was skipped, and `apply DIR --prune`
deleted its job, with its runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, Result

Run = Callable[..., Result]

INFRASTRUCTURE = {"shape": "VM.Standard.E4.Flex", "ocpus": 1, "memoryInGBs": 4}
RUNTIME = {"type": "python", "source": "./src", "entrypoint": "main.py"}
BODY = "spec: {infrastructure: {shape: VM.Standard.E4.Flex, ocpus: 1, memoryInGBs: 4}, " \
       "runtime: {type: python, source: ./src, entrypoint: main.py}}"
SPELLINGS = {
    "json": json.dumps({"apiVersion": "jobctl/v1", "kind": "Job", "metadata": {"name": "spelt"},
                        "spec": {"infrastructure": INFRASTRUCTURE, "runtime": RUNTIME}}),
    "flow": "{apiVersion: jobctl/v1, kind: Job, metadata: {name: spelt}, "
            + BODY.removeprefix("spec: ").join(("spec: ", "}")),
    "quoted-keys": f'"apiVersion": "jobctl/v1"\n"kind": "Job"\n"metadata": {{"name": "spelt"}}\n{BODY}\n',
    "tag": f"apiVersion: !!str jobctl/v1\nkind: !!str Job\nmetadata: {{name: spelt}}\n{BODY}\n",
    "indented": f"  apiVersion: jobctl/v1\n  kind: Job\n  metadata: {{name: spelt}}\n  {BODY}\n",
    "merge-key": f"<<: {{apiVersion: jobctl/v1, kind: Job}}\nmetadata: {{name: spelt}}\n{BODY}\n",
}


def project(tmp_path: Path) -> Path:
    """A directory with a job's source and the other YAML an ML repository holds."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print(1)\n")
    (tmp_path / "environment.yml").write_text("name: ml\ndependencies: [python=3.11, pandas]\n")
    (tmp_path / "k8s.json.yaml").write_text('{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"}}')
    return tmp_path


def test_the_red_team_repro_a_json_spec_survives_apply_dir_prune(jobctl: Run, tmp_path: Path) -> None:
    """The job of a JSON spec applied alone was deleted by `apply DIR --prune` of its directory."""
    project(tmp_path)
    (tmp_path / "job.yaml").write_text(SPELLINGS["json"].replace("spelt", "json-job"))
    assert jobctl("apply", str(tmp_path / "job.yaml"), "--set-name", "j", "--yes").exit_code == 0
    (tmp_path / "plain.yaml").write_text(f"apiVersion: jobctl/v1\nkind: Job\nmetadata: {{name: plain-job}}\n{BODY}\n")
    applied = jobctl("apply", str(tmp_path), "--prune", "--set-name", "j", "--yes")
    assert applied.exit_code == 0, applied.stderr
    assert "deleted" not in applied.stdout.replace("0 deleted", "")
    assert "1 unchanged: json-job" in applied.stdout
    jobs = json.loads(jobctl("jobs", "-o", "json").stdout)["items"]
    assert sorted(job["name"] for job in jobs) == ["json-job", "plain-job"]


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_spec_in_any_spelling_is_read_from_a_directory(jobctl: Run, tmp_path: Path, command: str,
                                                         spelling: str) -> None:
    project(tmp_path)
    (tmp_path / "job.yaml").write_text(SPELLINGS[spelling])
    result = jobctl(command, str(tmp_path))
    assert result.exit_code == 0, result.stderr
    if command == "validate":
        assert result.stdout == "valid: 1 job in 1 file (spelt)\n"
        assert result.stderr == "2 other YAML files skipped (not specs); -v names them\n"  # still skipped
    else:
        assert "+ job spelt" in result.stdout


def test_an_ads_job_written_as_json_is_read_from_a_directory(jobctl: Run, tmp_path: Path) -> None:
    ads = yaml.safe_load((REPO / "tests" / "data" / "ads" / "container.yaml").read_text())
    (project(tmp_path) / "ads.yaml").write_text(json.dumps(ads))
    result = jobctl("validate", str(tmp_path))
    assert (result.exit_code, result.stdout) == (0, "valid: 1 job in 1 file (batch-scoring)\n"), result.stderr


def test_a_file_that_may_be_a_spec_but_does_not_parse_is_an_error(jobctl: Run, tmp_path: Path) -> None:
    (project(tmp_path) / "job.yaml").write_text('{"apiVersion": "jobctl/v1", "kind": "Job", "metadata": {')
    result = jobctl("validate", str(tmp_path))
    assert result.exit_code == 3
    assert "job.yaml:" in result.stderr


def test_prune_is_refused_when_a_skipped_file_names_jobctl(jobctl: Run, tmp_path: Path) -> None:
    """A spec jobctl does not read as one (nested, a misspelt key) keeps its job: --prune exits 2, naming it."""
    project(tmp_path)
    (tmp_path / "plain.yaml").write_text(f"apiVersion: jobctl/v1\nkind: Job\nmetadata: {{name: plain-job}}\n{BODY}\n")
    (tmp_path / "nested.yaml").write_text(f"jobs:\n- {SPELLINGS['json']}\n")
    assert jobctl("validate", str(tmp_path)).exit_code == 0  # not a spec: skipped, as before
    for command in ("plan", "apply"):
        refused = jobctl(command, str(tmp_path), "--prune", "--yes" if command == "apply" else "--prune")
        assert refused.exit_code == 2, refused.stderr
        assert f"--prune refused: {tmp_path / 'nested.yaml'} mentions jobctl/ but holds no spec" in refused.stderr
    assert jobctl("plan", str(tmp_path)).exit_code == 0  # without --prune nothing is deleted: no refusal


def applied_pair(jobctl: Run, tmp_path: Path) -> None:
    """The red team's set: a.yaml and b.yaml, each a job, applied from their directory."""
    project(tmp_path)
    for name, job in (("a.yaml", "casejob"), ("b.yaml", "casejob2")):
        (tmp_path / name).write_text(f"apiVersion: jobctl/v1\nkind: Job\nmetadata: {{name: {job}}}\n{BODY}\n")
    assert jobctl("apply", str(tmp_path), "--set-name", "s", "--yes").exit_code == 0


@pytest.mark.parametrize("renamed", ["b.YAML", "b.YML", "b.Yaml"])
def test_an_upper_case_extension_is_a_spec_file(jobctl: Run, tmp_path: Path, renamed: str) -> None:
    """Red team: b.yaml renamed b.YAML was neither read nor said, and `plan DIR --prune` deleted its job."""
    applied_pair(jobctl, tmp_path)
    (tmp_path / "b.yaml").rename(tmp_path / renamed)
    validated = jobctl("validate", str(tmp_path))
    assert (validated.exit_code, validated.stdout) == (0, "valid: 2 jobs in 2 files (casejob, casejob2)\n")
    planned = jobctl("plan", str(tmp_path), "--prune", "--set-name", "s")
    assert planned.exit_code == 0, planned.stderr
    assert planned.stdout.splitlines()[0] == "No changes. 2 job(s) up to date."


@pytest.mark.parametrize("hidden", [".b.yaml", ".jobs/b.yaml"])
def test_a_hidden_spec_is_named_with_v_and_prune_refuses(jobctl: Run, tmp_path: Path, hidden: str) -> None:
    """Red team: a spec moved to a hidden file or directory was skipped unsaid, and `--prune` deleted its job.
    Hidden files stay skipped (as git and ls hide them), but -v says so and --prune refuses."""
    applied_pair(jobctl, tmp_path)
    (tmp_path / hidden).parent.mkdir(exist_ok=True)
    (tmp_path / "b.yaml").rename(tmp_path / hidden)
    said = f"skipped {tmp_path / hidden}: hidden (jobctl skips hidden files and directories)\n"
    validated = jobctl("-v", "validate", str(tmp_path))
    assert (validated.exit_code, validated.stdout) == (0, "valid: 1 job in 1 file (casejob)\n")
    assert said in validated.stderr
    quiet = jobctl("validate", str(tmp_path))
    assert quiet.stderr == "3 other YAML files skipped (not specs, or hidden); -v names them\n"
    for command in ("plan", "apply"):
        yes = ["--yes"] if command == "apply" else []
        refused = jobctl(command, str(tmp_path), "--prune", "--set-name", "s", *yes)
        assert refused.exit_code == 2, refused.stderr
        assert (f"--prune refused: {tmp_path / hidden} is hidden, which jobctl skips, but looks like a spec"
                in refused.stderr)
    jobs = json.loads(jobctl("jobs", "-o", "json").stdout)["items"]
    assert sorted(job["name"] for job in jobs) == ["casejob", "casejob2"]


def test_tool_directories_are_not_walked(jobctl: Run, tmp_path: Path) -> None:
    """.git, .venv and the like are not entered: their YAML is neither read, said, nor a reason to refuse --prune."""
    applied_pair(jobctl, tmp_path)
    for tool in (".git", ".venv/lib/site-packages/jobctl"):
        (tmp_path / tool).mkdir(parents=True)
        (tmp_path / tool / "spec.yaml").write_text("apiVersion: jobctl/v1\nkind: Job\n")
    validated = jobctl("-v", "validate", str(tmp_path))
    assert validated.exit_code == 0
    assert ".git" not in validated.stderr
    assert ".venv" not in validated.stderr
    assert jobctl("plan", str(tmp_path), "--prune", "--set-name", "s").exit_code == 0


@pytest.mark.parametrize("command", ["validate", "plan", "apply"])
def test_v_names_the_skipped_files_on_every_command_that_reads_a_directory(jobctl: Run, tmp_path: Path,
                                                                           command: str) -> None:
    """Red team: only `validate -v` named the files skipped; `plan -v` and `apply -v` read the same directory."""
    applied_pair(jobctl, tmp_path)
    result = jobctl("-v", command, str(tmp_path), *(["--yes"] if command == "apply" else []))
    assert result.exit_code == 0, result.stderr
    for name in ("environment.yml", "k8s.json.yaml"):
        assert f"skipped {tmp_path / name}: neither jobctl/v1 nor ADS job YAML\n" in result.stderr

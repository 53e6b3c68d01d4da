"""ADS job YAML through the CLI: validate/plan/apply/run accept it, and `jobctl convert` writes the same job."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, Result

Run = Callable[..., Result]
ADS = REPO / "tests" / "data" / "ads"
VALID = {
    "python-service-conda.yaml": "train-model",
    "script-directory.yaml": "nightly-etl",
    "container.yaml": "batch-scoring",
    "snake-case.yaml": "snake-case-job",
    "freeform-tags.yaml": "weekly-report",
    "display-name.yaml": "my-training-job",
    "substitution.yaml": "train-on-mnist",
    "git-python.yaml": "git-job",
}
BROKEN = sorted(p.name for p in ADS.glob("broken-*.yaml"))


def ok(result: Result) -> Result:
    assert result.exit_code == 0, f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith(("Error: ", "Hint: "))]


@pytest.fixture
def ads_copy(tmp_path: Path) -> Path:
    """The ADS examples and their sources in a scratch directory (a test may change or add files)."""
    target = tmp_path / "ads"
    shutil.copytree(ADS, target)
    return target


# --- validate, plan, apply, run -------------------------------------------------------------------

@pytest.mark.parametrize(("name", "job"), sorted(VALID.items()))
def test_validate_accepts_ads_files(jobctl: Run, name: str, job: str) -> None:
    result = ok(jobctl("validate", str(ADS / name)))

    assert result.stdout == f"valid: 1 job in 1 file ({job})\n"


def test_validate_reports_every_broken_ads_file_at_ads_positions(jobctl: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ADS)

    result = jobctl("validate", *BROKEN)

    assert result.exit_code == 3
    lines = error_lines(result)
    assert {line.split(":")[0] for line in lines} == set(BROKEN)
    assert all(line.split(": ")[1].startswith(("spec.", "apiVersion")) for line in lines), lines
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", sorted(VALID))
def test_applying_an_ads_file_creates_the_job_its_conversion_describes(jobctl: Run, tmp_path: Path, name: str) -> None:
    ok(jobctl("apply", str(ADS / name), "--yes", "--set-name", "ads"))  # one set: the files are in two places
    converted = tmp_path / "converted" / "job.yaml"
    ok(jobctl("convert", str(ADS / name), "-o", str(converted)))

    result = ok(jobctl("plan", str(converted), "--detailed-exitcode", "--set-name", "ads"))

    assert "No changes" in result.stdout


def test_applying_the_conversion_leaves_nothing_for_the_ads_file_to_change(jobctl: Run, ads_copy: Path) -> None:
    converted = ads_copy / "deploy" / "job.yaml"  # a sibling directory: the source path becomes ../src/...
    ok(jobctl("convert", str(ads_copy / "python-service-conda.yaml"), "-o", str(converted)))
    ok(jobctl("apply", str(converted), "--yes", "--set-name", "ads"))  # one set: the files are in two places

    assert "No changes" in ok(jobctl("plan", str(ads_copy / "python-service-conda.yaml"), "--set-name", "ads")).stdout
    assert yaml.safe_load(converted.read_text(encoding="utf-8"))["spec"]["runtime"]["source"] == "../src/train"


def test_plan_shows_an_ads_job_in_jobctl_terms(jobctl: Run) -> None:
    result = ok(jobctl("plan", str(ADS / "script-directory.yaml")))

    assert "+ job nightly-etl" in result.stdout
    assert "runtime: shell, bin/run.sh" in result.stdout
    assert "Plan: 1 to create" in result.stdout


@pytest.mark.parametrize(("name", "expected"), [
    ("python-service-conda.yaml", ["MODEL=xgboost", "args=['--epochs', '3']"]),
    ("script-directory.yaml", ["TARGET_TABLE=sales_daily", "args=--date 2024-01-31"]),
])
def test_an_ads_job_runs_on_the_local_backend(jobctl: Run, name: str, expected: list[str]) -> None:
    ok(jobctl("apply", str(ADS / name), "--yes"))

    result = ok(jobctl("run", "-p", str(ADS / name), "--follow"))

    for line in expected:
        assert line in result.stdout.splitlines()


# --- convert --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(VALID))
def test_convert_prints_a_jobctl_spec_that_validates(
    jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
) -> None:
    monkeypatch.chdir(tmp_path)

    result = ok(jobctl("convert", str(ADS / name)))

    assert result.stdout.startswith(f"# jobctl/v1 spec converted from {ADS / name}")
    document = yaml.safe_load(result.stdout)
    assert (document["apiVersion"], document["kind"], document["metadata"]["name"]) == ("jobctl/v1", "Job", VALID[name])
    (tmp_path / "job.yaml").write_text(result.stdout, encoding="utf-8")  # stdout: paths relative to the cwd
    assert ok(jobctl("validate", "job.yaml")).stdout == f"valid: 1 job in 1 file ({VALID[name]})\n"
    assert result.stderr == ""


def test_convert_output_of_a_python_runtime(jobctl: Run, ads_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ads_copy)

    result = ok(jobctl("convert", "python-service-conda.yaml"))

    assert result.stdout == (
        "# jobctl/v1 spec converted from python-service-conda.yaml (ADS job YAML) by `jobctl convert`.\n"
        "apiVersion: jobctl/v1\n"
        "kind: Job\n"
        "metadata:\n"
        "  name: train-model\n"
        "spec:\n"
        "  compartmentId: ocid1.compartment.oc1..aaaaaaaaexample\n"
        "  projectId: ocid1.datascienceproject.oc1.iad.amaaaaaaexample\n"
        "  infrastructure:\n"
        "    shape: VM.Standard.E4.Flex\n"
        "    ocpus: 1\n"
        "    memoryInGBs: 16\n"
        "    blockStorageSizeInGBs: 100\n"
        "    subnetId: ocid1.subnet.oc1.iad.aaaaaaaaexample\n"
        "  logging:\n"
        "    logGroupId: ocid1.loggroup.oc1.iad.amaaaaaaexample\n"
        "    logId: ocid1.log.oc1.iad.amaaaaaaexample\n"
        "  runtime:\n"
        "    type: python\n"
        "    source: ./src/train\n"
        "    entrypoint: trainer/train.py\n"
        "    workingDir: .\n"
        "    conda:\n"
        "      slug: generalml_p311_cpu_x86_64_v1\n"
        "    args:\n"
        "    - --epochs\n"
        "    - '3'\n"
        "    env:\n"
        "      MODEL: xgboost\n"
        "      DATA_URI: oci://datasets@mytenancy/sales/train.csv\n"
        "    maxRuntimeInMinutes: 60\n"
    )


def test_convert_writes_a_file_with_sources_relative_to_it(jobctl: Run, ads_copy: Path) -> None:
    target = ads_copy / "jobctl" / "specs" / "etl.yaml"

    result = ok(jobctl("convert", str(ads_copy / "script-directory.yaml"), "-o", str(target)))

    assert result.stdout == f"wrote {target} (1 job from {ads_copy / 'script-directory.yaml'})\n"
    spec = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert spec["spec"]["runtime"]["source"] == "../../src/etl"
    assert spec["spec"]["runtime"]["entrypoint"] == "bin/run.sh"
    assert ok(jobctl("validate", str(target))).stdout == "valid: 1 job in 1 file (nightly-etl)\n"


def test_convert_quiet_writes_without_a_word(jobctl: Run, tmp_path: Path) -> None:
    result = ok(jobctl("-q", "convert", str(ADS / "container.yaml"), "-o", str(tmp_path / "job.yaml")))

    assert (result.stdout, result.stderr) == ("", "")
    assert (tmp_path / "job.yaml").is_file()


def test_convert_writes_what_the_ads_file_means_by_its_own_dollar_rules(jobctl: Run, ads_copy: Path) -> None:
    result = ok(jobctl("convert", str(ads_copy / "substitution.yaml"), env={"HOME": "/home/me", "UNIT": "kg"}))

    [document] = yaml.safe_load_all(result.stdout)
    assert document["metadata"] == {"name": "train-on-mnist", "displayName": "Train on mnist"}
    runtime = document["spec"]["runtime"]
    assert runtime["args"] == ["--budget", "$$5", "--home", "$${HOME}"]  # literal: jobctl/v1 writes $ as $$
    assert runtime["env"] == {"DATASET": "mnist", "DATA_DIR": "/data/mnist", "PRICE": "$$10 per $${UNIT}"}


def test_a_compartment_written_as_a_variable_is_taken_literally_as_ads_does(jobctl: Run, ads_copy: Path) -> None:
    """ADS's Job.from_yaml does not read the environment; jobctl once filled ${VAR} in ADS files from it."""
    ads = ads_copy / "with-vars.yaml"
    text = (ads_copy / "snake-case.yaml").read_text(encoding="utf-8")
    ads.write_text(text.replace("ocid1.compartment.oc1..aaaaaaaaexample", "${OCI_COMPARTMENT_ID}"), encoding="utf-8")

    result = jobctl("convert", str(ads), env={"OCI_COMPARTMENT_ID": "ocid1.compartment.oc1..aaaaaaaasecret"})

    assert result.exit_code == 3
    assert error_lines(result) == [
        f"{ads}:10:23: spec.infrastructure.spec.compartment_id: must be a compartment or tenancy OCID "
        "(ocid1.compartment.oc1..<id>)",
    ]
    assert "aaaaaaaasecret" not in result.stdout + result.stderr


@pytest.mark.parametrize("name", BROKEN)
def test_convert_of_a_file_it_cannot_translate_exits_3_and_writes_nothing(
    jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
) -> None:
    monkeypatch.chdir(ADS)
    target = tmp_path / "job.yaml"

    result = jobctl("convert", name, "-o", str(target))

    assert result.exit_code == 3
    assert result.stdout == ""
    assert error_lines(result) == error_lines(jobctl("validate", name))
    assert not target.exists()


def test_convert_of_an_unsupported_runtime_names_it(jobctl: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ADS)

    result = jobctl("convert", "broken-dataflow.yaml")

    assert result.exit_code == 3
    assert result.stderr.splitlines() == [
        "broken-dataflow.yaml:14:11: spec.runtime.type: a dataFlow runtime goes with a dataFlow infrastructure, "
        "not 'dataScienceJob'",
        "Error: 1 error in 1 file",
    ]


def test_convert_refuses_a_jobctl_spec(jobctl: Run, tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("print('hi')\n", encoding="utf-8")
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "apiVersion: jobctl/v1\nkind: Job\nmetadata: {name: native}\n"
        "spec:\n  infrastructure: {shape: VM.Standard2.1}\n  runtime: {type: python, source: ./main.py}\n",
        encoding="utf-8",
    )

    result = jobctl("convert", str(spec))

    assert result.exit_code == 3
    assert error_lines(result) == [f"{spec}:1:1: <document>: not an ADS job document (kind: job); nothing to convert"]


def test_convert_of_a_missing_file_exits_4(jobctl: Run, tmp_path: Path) -> None:
    result = jobctl("convert", str(tmp_path / "nope.yaml"))

    assert result.exit_code == 4
    assert error_lines(result) == [f"{tmp_path / 'nope.yaml'}:1:1: <file>: no such file or directory"]


def test_convert_refuses_to_overwrite_without_force(jobctl: Run, tmp_path: Path) -> None:
    target = tmp_path / "job.yaml"
    target.write_text("# mine\n", encoding="utf-8")

    refused = jobctl("convert", str(ADS / "container.yaml"), "-o", str(target))

    assert refused.exit_code == 2  # a missing confirmation (README, exit codes)
    assert refused.stderr.splitlines() == [
        f"Error: {target} already exists", "Hint: pass --force to overwrite, or -o to write elsewhere",
    ]
    assert target.read_text(encoding="utf-8") == "# mine\n"

    ok(jobctl("convert", str(ADS / "container.yaml"), "-o", str(target), "--force"))
    assert yaml.safe_load(target.read_text(encoding="utf-8"))["metadata"]["name"] == "batch-scoring"


def test_convert_refuses_a_format_name_as_its_file(
        jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team, session 14: `convert ads.yaml -o json` (-o as for every other command) wrote a file named json."""
    monkeypatch.chdir(tmp_path)
    refused = jobctl("convert", str(ADS / "container.yaml"), "-o", "json")
    assert refused.exit_code == 2
    assert refused.stderr.splitlines() == [
        "Error: -o json: convert's -o is the FILE to write (a jobctl/v1 spec is YAML), not a format",
        "Hint: to write a file of that name, give ./json",
    ]
    assert list(tmp_path.iterdir()) == []
    ok(jobctl("convert", str(ADS / "container.yaml"), "-o", "./json"))
    assert yaml.safe_load((tmp_path / "json").read_text(encoding="utf-8"))["kind"] == "Job"


def test_convert_help_has_examples_and_the_command_is_listed(jobctl: Run) -> None:
    help_text = ok(jobctl("convert", "--help")).stdout

    assert "Examples:\n    jobctl convert ads-job.yaml" in help_text
    assert "-o, --output FILE" in help_text
    listing = " ".join(ok(jobctl("--help")).stdout.split())  # the column width follows the longest command name
    assert "convert Translate an ADS job YAML file into a jobctl/v1 spec." in listing


def test_convert_writes_secret_values_as_references_in_a_private_file(jobctl: Run, ads_copy: Path) -> None:
    """Red team: to stdout the password came out as '(sensitive)' (the masking of output), which the plan
    then wanted to apply; with -o it was written in clear text, world-readable."""
    ads = ads_copy / "with-secret.yaml"
    text = (ads_copy / "python-service-conda.yaml").read_text(encoding="utf-8")
    secret = "      - name: DB_PASSWORD\n        value: hunter2-very-secret\n"
    ads.write_text(text.replace("      env:\n", "      env:\n" + secret), encoding="utf-8")
    printed = ok(jobctl("convert", str(ads)))
    assert "DB_PASSWORD: ${DB_PASSWORD}" in printed.stdout
    assert "hunter2" not in printed.stdout + printed.stderr
    assert "the values of DB_PASSWORD are not written" in printed.stderr

    target = ads_copy / "out" / "job.yaml"
    ok(jobctl("convert", str(ads), "-o", str(target)))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    ok(jobctl("apply", str(ads), "--yes", "--set-name", "s"))
    plan = jobctl("plan", str(target), "--detailed-exitcode", "--set-name", "s",
                  env={"DB_PASSWORD": "hunter2-very-secret"})
    assert plan.exit_code == 0, plan.stdout


def test_a_secret_an_env_value_takes_in_is_written_as_a_reference_too(jobctl: Run, ads_copy: Path) -> None:
    """Red team: `URL: postgres://u:${DB_PASSWORD}@h/db` came out as `...u:(sensitive)@h...` on stdout and with
    the password in clear text in the file."""
    ads = ads_copy / "with-secret.yaml"
    text = (ads_copy / "python-service-conda.yaml").read_text(encoding="utf-8")
    entries = ("      - name: DB_PASSWORD\n        value: hunter2-very-secret\n"
               "      - name: URL\n        value: postgres://u:${DB_PASSWORD}@h/$db\n")
    ads.write_text(text.replace("      env:\n", "      env:\n" + entries), encoding="utf-8")
    printed = ok(jobctl("convert", str(ads)))
    assert "URL: postgres://u:${DB_PASSWORD}@h/$$db" in printed.stdout  # the reference, and a literal $
    target = ads_copy / "out" / "job.yaml"
    ok(jobctl("convert", str(ads), "-o", str(target)))
    assert "hunter2" not in target.read_text(encoding="utf-8")
    ok(jobctl("apply", str(ads), "--yes", "--set-name", "s"))
    plan = jobctl("plan", str(target), "--detailed-exitcode", "--set-name", "s",
                  env={"DB_PASSWORD": "hunter2-very-secret"})
    assert plan.exit_code == 0, plan.stdout


def test_a_name_that_takes_in_a_secret_is_an_error(jobctl: Run, ads_copy: Path) -> None:
    """Red team: `name: job ${API_TOKEN}` put the token in the OCI display name and the jobctl-name tag."""
    ads = ads_copy / "secret-name.yaml"
    text = (ads_copy / "python-service-conda.yaml").read_text(encoding="utf-8")
    name = yaml.safe_load(text)["spec"]["name"]
    text = text.replace(f"name: {name}", "name: job ${API_TOKEN}", 1).replace(
        "      env:\n", "      env:\n      - name: API_TOKEN\n        value: tok3nvalue99\n")
    ads.write_text(text, encoding="utf-8")
    result = jobctl("validate", str(ads))
    assert result.exit_code == 3
    assert "spec.name: a job's display name cannot hold a secret value" in result.stderr
    assert "tok3nvalue99" not in result.stdout + result.stderr


def test_a_file_convert_cannot_write_is_an_error_naming_it(jobctl: Run, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = jobctl("convert", str(ADS / "container.yaml"), "-o", str(blocker / "job.yaml"))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot write {blocker / 'job.yaml'}: ")
    assert "internal error" not in result.stderr


def test_an_ads_file_name_with_a_newline_is_shown_quoted_and_cannot_reach_the_yaml(
        jobctl: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The header comment named the ADS file as given: a newline in the name ended the comment, and the rest of
    the name became YAML of the converted spec."""
    monkeypatch.chdir(tmp_path)
    name = "ads\nkind: Workflow\n.yaml"
    shutil.copy(ADS / "container.yaml", tmp_path / name)

    printed = ok(jobctl("convert", name))
    written = ok(jobctl("convert", name, "-o", "job.yaml"))

    assert printed.stdout.splitlines()[0] == ('# jobctl/v1 spec converted from "ads\\nkind: Workflow\\n.yaml" '
                                              "(ADS job YAML) by `jobctl convert`.")
    assert yaml.safe_load(printed.stdout)["kind"] == "Job"
    assert written.stdout == 'wrote job.yaml (1 job from "ads\\nkind: Workflow\\n.yaml")\n'

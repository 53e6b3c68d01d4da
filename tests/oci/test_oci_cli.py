"""The real oci CLI (PyPI `oci-cli`) against the fake: the README's OCI section done with `oci` commands.

The CLI pins its own `oci` SDK, so it lives in a venv of its own: `make ocicli` pip-installs it into
.venv-ocicli/, and `make install` / `make test` do so too. Without it these tests skip and say how to
install it, except under `make test` (JOBCTL_REQUIRE_OCI_CLI=1), where a missing CLI is a failure.
Every command is a Python start-up (~1 s), so the tests run only the commands they need, and the ones
that do not depend on each other at once.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from jobctl.testing.fake_oci import FakeOCI
from jobctl.testing.fake_oci.state import Store
from tests.conftest import REPO

# Read at import: the autouse isolated_env fixture removes JOBCTL_* variables before each test runs.
OCI_CLI = Path(os.environ.get("JOBCTL_OCI_CLI") or REPO / ".venv-ocicli" / "bin" / "oci")
REQUIRED = bool(os.environ.get("JOBCTL_REQUIRE_OCI_CLI"))
COMPARTMENT = "ocid1.compartment.oc1..aaaaclitest"
PROJECT = "ocid1.datascienceproject.oc1.iad.aaaaclitest"
LOG_GROUP = "ocid1.loggroup.oc1.iad.aaaaclitest"
LOG = "ocid1.log.oc1.iad.aaaaclitest"
BUCKET = "cli-data"
CODE = "print('hello from the oci CLI')\n"
CSV = "model,score\nxgb,0.9\n"


@dataclass(frozen=True)
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def data(self) -> Any:
        """The `data` of a successful command's JSON output."""
        assert self.exit_code == 0, self.stderr
        return json.loads(self.stdout)["data"]

    @property
    def service_error(self) -> dict[str, Any]:
        """The ServiceError the CLI prints to stderr when the service answers an error."""
        assert self.exit_code == 1, self.stdout
        body = self.stderr.partition("ServiceError:")[2]
        assert body, self.stderr
        error: dict[str, Any] = json.loads(body)
        return error


@dataclass(frozen=True)
class OciCli:
    """`oci ...` with a config whose key the fake accepts, every service sent to the fake."""

    fake: FakeOCI
    config: Path
    home: Path

    def __call__(self, *args: str) -> Outcome:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.home),  # no rc file of the developer's
               "OCI_CLI_SUPPRESS_FILE_PERMISSIONS_WARNING": "True", "SUPPRESS_LABEL_WARNING": "True"}
        done = subprocess.run([str(OCI_CLI), "--config-file", str(self.config), "--endpoint", self.fake.url, *args],
                              env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
                              check=False)
        return Outcome(done.returncode, done.stdout, done.stderr)

    def together(self, *commands: Sequence[str]) -> list[Outcome]:
        """Run independent commands at once; outcomes in the order given."""
        with ThreadPoolExecutor(len(commands)) as pool:
            return list(pool.map(lambda command: self(*command), commands))


@pytest.fixture(scope="module")
def oci_cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciCli]:
    if not OCI_CLI.is_file():
        reason = (f"the oci CLI is not installed at {OCI_CLI}: run `make ocicli` (pip-installs oci-cli into "
                  ".venv-ocicli/, which needs PyPI), or set JOBCTL_OCI_CLI to an oci executable")
        if REQUIRED:
            pytest.fail(reason)
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("oci-cli")
    with FakeOCI() as fake:
        fake.create_bucket(BUCKET)
        yield OciCli(fake, fake.write_config(directory / "oci"), directory)


def test_a_job_created_run_cancelled_and_deleted_with_the_oci_cli(oci_cli: OciCli, tmp_path: Path) -> None:
    artifact = tmp_path / "train.py"
    artifact.write_text(CODE)
    job = oci_cli(
        "data-science", "job", "create", "--compartment-id", COMPARTMENT, "--project-id", PROJECT,
        "--display-name", "cli-train",
        "--configuration-details", json.dumps({"jobType": "DEFAULT", "environmentVariables": {"MODEL": "lr"}}),
        "--infrastructure-configuration-details", json.dumps({
            "jobInfrastructureType": "ME_STANDALONE", "shapeName": "VM.Standard.E4.Flex",
            "blockStorageSizeInGBs": 50, "jobShapeConfigDetails": {"ocpus": 1, "memoryInGBs": 16}}),
        "--log-configuration-details", json.dumps({"enableLogging": True, "logGroupId": LOG_GROUP, "logId": LOG}),
    ).data
    assert job["id"].startswith("ocid1.datasciencejob.")
    assert (job["display-name"], job["job-configuration-details"]["environment-variables"]) == ("cli-train",
                                                                                               {"MODEL": "lr"})

    uploaded = oci_cli("data-science", "job", "create-job-artifact", "--job-id", job["id"],
                       "--job-artifact-file", str(artifact), "--content-disposition", "attachment; filename=train.py")
    assert (uploaded.exit_code, uploaded.stdout) == (0, ""), uploaded.stderr
    assert oci_cli.fake.artifact(job["id"]) == CODE.encode()

    run = oci_cli(
        "data-science", "job-run", "create", "--compartment-id", COMPARTMENT, "--project-id", PROJECT,
        "--job-id", job["id"], "--display-name", "cli-run", "--configuration-override-details",
        json.dumps({"jobType": "DEFAULT", "environmentVariables": {"MODEL": "cli", "SLEEP": "1"}}),
    ).data
    assert (run["job-id"], run["lifecycle-state"]) == (job["id"], "ACCEPTED")

    seen, listed, got = oci_cli.together(  # the fake starts a run on a GET of it: its log is written then
        ("data-science", "job-run", "get", "--job-run-id", run["id"]),
        ("data-science", "job", "list", "--compartment-id", COMPARTMENT, "--all"),
        ("data-science", "job", "get", "--job-id", job["id"]))
    assert seen.data["lifecycle-state"] == "ACCEPTED"
    assert [(j["id"], j["lifecycle-state"]) for j in listed.data] == [(job["id"], "ACTIVE")]
    assert got.data["job-log-configuration-details"]["log-id"] == LOG
    assert json.loads(got.stdout)["etag"]

    now = datetime.now(timezone.utc)
    query = f"search \"{Store.logging_compartment}/{LOG_GROUP}/{LOG}\" | where source = '*{run['id']}'"
    window = ("--time-start", (now - timedelta(minutes=10)).isoformat(),
              "--time-end", (now + timedelta(minutes=1)).isoformat())
    searched, cancelled = oci_cli.together(
        ("logging-search", "search-logs", "--search-query", query, *window),
        ("data-science", "job-run", "cancel", "--job-run-id", run["id"]))
    messages = [r["data"]["logContent"]["data"]["message"] for r in searched.data["results"]]
    assert {"MODEL=cli", "SLEEP=1"} <= set(messages)
    assert (cancelled.exit_code, cancelled.stdout) == (0, ""), cancelled.stderr
    assert oci_cli.fake.run(run["id"])["lifecycleState"] == "CANCELING"
    assert oci_cli.fake.step(run["id"]) == "CANCELED"  # an active run blocks DeleteJob (docs/oci-fidelity.md)

    deleted = oci_cli("data-science", "job", "delete", "--job-id", job["id"], "--delete-related-job-runs", "true",
                      "--force", "--wait-for-state", "SUCCEEDED", "--wait-interval-seconds", "0")  # 1 s, then none

    work_request = deleted.data  # the CLI polled GetWorkRequest until SUCCEEDED and prints it
    assert (work_request["operation-type"], work_request["status"], work_request["percent-complete"]) == (
        "JOB_DELETE", "SUCCEEDED", 100.0)
    assert [(r["identifier"], r["action-type"]) for r in work_request["resources"]] == [(job["id"], "DELETED")]
    assert "Waiting until the work request has entered state" in deleted.stderr
    assert oci_cli.fake.job(job["id"])["lifecycleState"] == "DELETED"
    assert oci_cli.fake.run(run["id"])["lifecycleState"] == "DELETED"


def test_object_storage_with_the_oci_cli(oci_cli: OciCli, tmp_path: Path) -> None:
    source = tmp_path / "scores.csv"
    source.write_text(CSV)
    namespace = oci_cli.fake.namespace
    put = ("os", "object", "put", "--namespace", namespace, "--bucket-name", BUCKET, "--file", str(source), "--name")

    got_namespace, bucket, missing, nested, top = oci_cli.together(
        ("os", "ns", "get"),
        ("os", "bucket", "get", "--bucket-name", BUCKET),
        ("os", "bucket", "get", "--bucket-name", "no-such-bucket"),
        (*put, "runs/1/scores.csv"), (*put, "latest.csv"))

    assert got_namespace.data == namespace == "fakenamespace"
    assert (bucket.data["name"], bucket.data["namespace"]) == (BUCKET, namespace)
    assert json.loads(bucket.stdout)["etag"] == bucket.data["etag"]
    error = missing.service_error
    assert (error["status"], error["code"], error["operation_name"]) == (404, "BucketNotFound", "get_bucket")
    for outcome, name in ((nested, "runs/1/scores.csv"), (top, "latest.csv")):
        assert outcome.exit_code == 0, outcome.stderr
        assert json.loads(outcome.stdout)["etag"] == oci_cli.fake.store.objects[(namespace, BUCKET, name)].etag

    listed, downloaded = oci_cli.together(
        ("os", "object", "list", "--namespace", namespace, "--bucket-name", BUCKET, "--delimiter", "/"),
        ("os", "object", "get", "--namespace", namespace, "--bucket-name", BUCKET, "--name", "runs/1/scores.csv",
         "--file", "-"))

    assert [(o["name"], o["size"]) for o in listed.data] == [("latest.csv", len(CSV))]
    assert json.loads(listed.stdout)["prefixes"] == ["runs/"]
    assert (downloaded.exit_code, downloaded.stdout) == (0, CSV), downloaded.stderr

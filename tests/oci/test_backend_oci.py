"""The OCI backend through the CLI against the fake: config errors, logs, and what -vv never prints."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobctl.engine.follow import follow_logs
from jobctl.engine.resolve import resolve_job
from jobctl.engine.runs import plan_runs, start_runs
from jobctl.model.definition import replace
from jobctl.plan.desired import desired_job
from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import EXAMPLES, run_jobctl, use_fake_oci
from tests.contract.conftest import oci_backend
from tests.contract.test_backend_contract import apply, write_spec

TRAIN = str(EXAMPLES / "train" / "job.yaml")


@pytest.fixture
def fake_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOCI]:
    with FakeOCI() as server:
        use_fake_oci(server, tmp_path, monkeypatch)
        yield server


@pytest.mark.parametrize(("setup", "expected"), [
    ("missing-file", "OCI config file"),
    ("missing-profile", "profile 'NOPE' not found in"),
    ("missing-key-file", "key_file"),
    ("bad-fingerprint", "fingerprint"),
])
def test_config_problems_exit_6_naming_file_profile_and_key(
    jobctl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: str, expected: str,
) -> None:
    config = tmp_path / "config"
    key = tmp_path / "key.pem"
    key.write_text("not really a key\n")
    fingerprint = "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99"
    if setup == "bad-fingerprint":
        fingerprint = "nope"
    if setup == "missing-key-file":
        key = tmp_path / "absent.pem"
    if setup != "missing-file":
        config.write_text(
            "[DEFAULT]\nuser=ocid1.user.oc1..u\ntenancy=ocid1.tenancy.oc1..t\n"
            f"fingerprint={fingerprint}\nkey_file={key}\nregion=us-ashburn-1\n"
        )
    monkeypatch.setenv("JOBCTL_BACKEND", "oci")
    monkeypatch.setenv("OCI_COMPARTMENT_ID", "ocid1.compartment.oc1..t")
    args = ["--config-file", str(config)] + (["--profile", "NOPE"] if setup == "missing-profile" else [])
    result = jobctl(*args, "jobs")
    assert result.exit_code == 6, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    if setup != "missing-file":
        assert str(config) in result.stderr


def test_listing_without_a_compartment_is_a_config_error(jobctl, fake_env: FakeOCI,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OCI_COMPARTMENT_ID")
    result = jobctl("jobs")
    assert result.exit_code == 6
    assert "needs a compartment" in result.stderr


def test_late_log_records_are_not_lost_and_none_is_repeated(fake_oci: FakeOCI, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    backend = oci_backend(fake_oci, tmp_path)
    backend.log_settle = 1.5
    desired = write_spec(tmp_path)
    apply(backend, desired)
    job = resolve_job(backend, "contract")
    [run] = start_runs(backend, job, plan_runs(job, env={"MODEL": "late"}, args=None))
    backend.get_run(run_id=run.id)  # ACCEPTED -> IN_PROGRESS: the workload's lines are written
    now = time.time()
    # written before the newest line but ingested 0.5 s later, out of order
    fake_oci.append_log(run.id, "late line", time=now - 5, visible_after=now + 0.5)
    fake_oci.append_log(run.id, "later line", time=now, visible_after=now + 0.8)
    events = list(follow_logs(backend, [run.id], timeout=20))
    lines = [e.line.text for e in events if e.line]
    assert lines.count("MODEL=late") == 1
    assert lines.count("late line") == 1
    assert lines.count("later line") == 1


def test_a_run_without_a_log_says_so(jobctl, fake_env: FakeOCI, tmp_path: Path) -> None:
    spec = tmp_path / "nolog.yaml"
    spec.write_text((EXAMPLES / "train" / "job.yaml").read_text().replace("  logging:\n", "  # logging:\n")
                    .replace("    logGroupId:", "    # logGroupId:").replace("    autoCreateLog:", "    # auto:"))
    (tmp_path / "src").symlink_to(EXAMPLES / "train" / "src")
    assert jobctl("apply", str(spec)).exit_code == 0
    result = jobctl("run", "tune-models", "--follow")
    assert result.exit_code == 0
    assert "this run has no OCI log" in result.stdout + result.stderr


def test_debug_output_never_shows_credentials(fake_env: FakeOCI) -> None:
    result = run_jobctl("-vv", "apply", TRAIN)
    assert result.returncode == 0, result.stderr
    assert "jobctl: creating job tune-models" in result.stderr
    for secret in ("Authorization", "Signature", "keyId", "BEGIN", "PRIVATE KEY", "x-content-sha256"):
        assert secret not in result.stderr


def test_security_token_profiles_sign_with_the_session_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             jobctl) -> None:
    """`oci session authenticate` profiles: the SDK does not read security_token_file; jobctl does."""
    with FakeOCI(verify_signatures=False) as fake:
        config = fake.write_config(tmp_path / "oci")
        token = tmp_path / "token"
        token.write_text("session-token-text\n")
        config.write_text(config.read_text() + f"security_token_file={token}\n")
        for name, value in {"JOBCTL_BACKEND": "oci", "OCI_CLI_CONFIG_FILE": str(config),
                            "JOBCTL_OCI_ENDPOINT": fake.url, "OCI_COMPARTMENT_ID": "ocid1.compartment.oc1..t"}.items():
            monkeypatch.setenv(name, value)
        result = jobctl("--auth", "security_token", "jobs")
        assert result.exit_code == 0, result.stderr
        [request] = [r for r in fake.requests if r.path.endswith("/jobs")]
        assert request.status == 200
        token.unlink()
        missing = jobctl("--auth", "security_token", "jobs")
        assert missing.exit_code == 6
        assert "session token" in missing.stderr


def test_a_search_the_service_finds_too_large_is_split_without_losing_or_repeating_lines(
    fake_oci: FakeOCI, tmp_path: Path,
) -> None:
    backend = oci_backend(fake_oci, tmp_path)
    apply(backend, write_spec(tmp_path))
    job = resolve_job(backend, "contract")
    [run] = start_runs(backend, job, plan_runs(job, env={"MODEL": "split"}, args=None))
    fake_oci.faults.add(path=r"/search$", status=400, times=2, code="InvalidParameter",
                        message="The search result is too large, narrow the time range")
    lines = [e.line.text for e in follow_logs(backend, [run.id], timeout=20) if e.line]
    assert lines.count("MODEL=split") == 1
    assert [r.status for r in fake_oci.requests if r.path.endswith("/search")][:2] == [400, 400]


def test_a_run_s_configuration_override_keeps_the_job_s_startup_probe(fake_oci: FakeOCI, tmp_path: Path) -> None:
    """OCI replaces the job's whole configuration with a run's override: one without the probe would drop it."""
    backend = oci_backend(fake_oci, tmp_path)
    desired = write_spec(tmp_path)
    probe = {"command": ["test", "-f", "/tmp/ready"], "periodInSeconds": 5, "failureThreshold": 4}
    desired = desired_job(desired.spec.replace(definition=replace(desired.spec.definition, startup_probe=probe)))
    apply(backend, desired)
    job = resolve_job(backend, "contract")

    [run] = start_runs(backend, job, plan_runs(job, env={"MODEL": "probed"}, args=None))

    [sent] = [r for r in fake_oci.runs() if r["id"] == run.id]
    override = sent["jobConfigurationOverrideDetails"]
    assert override["startupProbeDetails"] == {"jobProbeCheckType": "EXEC", **probe}
    assert override["environmentVariables"]["MODEL"] == "probed"

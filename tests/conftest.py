"""Shared fixtures: every test gets its own $JOBCTL_HOME and a clean environment."""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jobctl.cli.app import cli
from jobctl.secrets import REDACTOR

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "specs-examples"

# pytest caches the test modules it rewrites (for its assert messages) as bytecode next to them, unless
# writing bytecode is off: with PYTHONDONTWRITEBYTECODE set, each of the suite's workers rewrote every
# module again on every run (~3 s each). The cache is git-ignored; jobctl's own is compiled by `make install`.
sys.dont_write_bytecode = False


def pytest_configure(config: pytest.Config) -> None:
    """Give SIGINT back its default handling when the suite was started with it ignored.

    A non-interactive shell starts background jobs (`make test &`, nohup, some CI runners) with SIGINT
    ignored, and every child inherits that, so the tests that press Ctrl-C on a jobctl process would find
    it deaf. Handlers reset to the default on exec; only "ignored" is inherited.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def parse_each_key_once() -> Iterator[None]:
    """Speed only: the SDK parses and checks the RSA key for each signer it makes (40-70 ms: the check tests
    the primes), so once per in-process command against OCI; the suite's configs share a few keys. A key is
    parsed once per content and pass phrase; what fails to parse is tried again each time (and fails)."""
    import oci.signer

    original = oci.signer.load_private_key
    parse = functools.lru_cache(maxsize=64)(original)

    def load_private_key(secret: Any, pass_phrase: Any) -> Any:
        return parse(secret, pass_phrase)

    oci.signer.load_private_key = load_private_key
    yield
    oci.signer.load_private_key = original


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private JOBCTL_HOME; no OCI or jobctl settings leak in from the developer's shell."""
    home = tmp_path_factory.mktemp("jobctl-home")
    for name in list(os.environ):
        if name.startswith(("JOBCTL_", "OCI_")) or name in ("NO_COLOR", "VIRTUAL_ENV", "CONDA_PREFIX"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JOBCTL_HOME", str(home))
    monkeypatch.setenv("JOBCTL_CACHE_DIR", str(tmp_path_factory.mktemp("jobctl-cache")))
    REDACTOR.forget()  # the secrets an earlier test's commands learnt mask nothing in this one's output
    return home


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def jobctl() -> object:
    """Run jobctl in-process (CliRunner): `jobctl("validate", "x.yaml")` -> Result."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        outcome = runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False, prog_name="jobctl")
        return Result(outcome.exit_code, outcome.stdout, outcome.stderr)

    return run


def run_jobctl(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run jobctl as a real subprocess, the way a user or CI does."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "jobctl", *args], cwd=cwd, env=full_env,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def use_fake_oci(fake: object, directory: Path, monkeypatch: pytest.MonkeyPatch, scope: str = "t") -> None:
    """Point jobctl (in-process and subprocesses) at a FakeOCI: backend, config, fast retries and polls."""
    config = fake.write_config(directory / "oci")  # type: ignore[attr-defined]
    for name, value in {
        "JOBCTL_BACKEND": "oci", "OCI_CLI_CONFIG_FILE": str(config), "JOBCTL_OCI_ENDPOINT": fake.url,  # type: ignore[attr-defined]
        "JOBCTL_OCI_RETRY": "fast", "JOBCTL_OCI_POLL_SECONDS": "0.02", "JOBCTL_OCI_LOG_SETTLE": "0.2",
        "JOBCTL_OCI_LOG_WAIT": "1",
        "OCI_COMPARTMENT_ID": f"ocid1.compartment.oc1..{scope}",
        "OCI_PROJECT_ID": f"ocid1.datascienceproject.oc1.iad.{scope}",
        "OCI_LOG_GROUP_ID": f"ocid1.loggroup.oc1.iad.{scope}",
    }.items():
        monkeypatch.setenv(name, value)


def job_document(name: str, runtime: dict[str, object], **spec: object) -> dict[str, object]:
    """A jobctl/v1 Job that plans on every backend: its compartment, project and log group come from the
    environment (use_fake_oci sets them), placeholders elsewhere."""
    return {"apiVersion": "jobctl/v1", "kind": "Job", "metadata": {"name": name}, "spec": {
        "compartmentId": "${OCI_COMPARTMENT_ID:-ocid1.compartment.oc1..placeholder}",
        "projectId": "${OCI_PROJECT_ID:-ocid1.datascienceproject.oc1.iad.placeholder}",
        "infrastructure": {"shape": "VM.Standard2.1"},
        "logging": {"logGroupId": "${OCI_LOG_GROUP_ID:-ocid1.loggroup.oc1.iad.placeholder}", "autoCreateLog": True},
        "runtime": runtime, **spec,
    }}


def ads_document(name: str, runtime_type: str, runtime: dict[str, object]) -> dict[str, object]:
    """An ADS job YAML document (kind: job) on a small standard shape."""
    return {"kind": "job", "spec": {
        "name": name,
        "infrastructure": {"kind": "infrastructure", "type": "dataScienceJob", "spec": {"shapeName": "VM.Standard2.1"}},
        "runtime": {"kind": "runtime", "type": runtime_type, "spec": runtime},
    }}


def assert_each_other_request_refused(jobctl: Any, base: tuple[str, ...], changes: list[tuple[tuple[str, ...], str]],
                                      said: str, secret: str) -> None:
    """Each change of the command `base` (one of its arguments swapped for another, then arguments added) exits 5
    saying `said` and what differs, and shows no value holding `secret`."""
    for (old, new, *extra), differs in changes:
        other = jobctl(*[new if given == old else given for given in base], *extra)
        assert other.exit_code == 5, (old, new, extra, other.stderr)
        assert said + differs in other.stderr, other.stderr
        assert secret not in other.stdout + other.stderr

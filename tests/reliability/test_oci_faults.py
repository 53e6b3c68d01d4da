"""OCI backend under faults: throttling and 5xx, dropped connections, lost responses, crashed applies.

Whatever happens, a re-run converges: one job, its artifact, no duplicate runs, no lost log line.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobctl.testing.fake_oci import FakeOCI
from tests.conftest import EXAMPLES, REPO, use_fake_oci

SPEC = str(EXAMPLES / "train" / "job.yaml")


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOCI]:
    with FakeOCI(seed=7) as server:
        use_fake_oci(server, tmp_path, monkeypatch, "faults")
        yield server


def active_jobs(fake: FakeOCI) -> list[dict]:
    return [j for j in fake.jobs() if j["lifecycleState"] == "ACTIVE"]


def assert_converged(fake: FakeOCI, jobctl) -> None:
    """Exactly one managed job with its artifact, and a plan with nothing left to do."""
    jobs = active_jobs(fake)
    assert [j["displayName"] for j in jobs] == ["tune-models"]
    assert fake.artifact(jobs[0]["id"]) is not None
    plan = jobctl("plan", SPEC, "--detailed-exitcode")
    assert plan.exit_code == 0, plan.stdout + plan.stderr


def test_apply_run_and_follow_succeed_with_a_fifth_of_calls_failing(fake: FakeOCI, jobctl) -> None:
    fake.faults.add(status=429, rate=0.1)
    fake.faults.add(status=500, rate=0.1)
    applied = jobctl("apply", SPEC)
    assert applied.exit_code == 0, applied.stderr
    waited = jobctl("run", "tune-models", "--env", "MODEL=rf", "--wait")
    assert waited.exit_code == 0, waited.stderr
    followed = jobctl("run", "tune-models", "--env", "MODEL=xgb", "--follow")
    assert followed.exit_code == 0, followed.stderr
    assert followed.stdout.count("MODEL=xgb") == 1  # every line once: none lost, none repeated
    logs = jobctl("logs", "--job", "tune-models")
    assert logs.exit_code == 0
    assert logs.stdout.count("MODEL=xgb") == 1
    statuses = [r.status for r in fake.requests]
    assert statuses.count(429) >= 3
    assert statuses.count(500) >= 3
    assert len(fake.runs()) == 2
    fake.faults.clear()
    assert_converged(fake, jobctl)


def full_apply_requests(tmp_path: Path, jobctl, monkeypatch: pytest.MonkeyPatch) -> int:
    with FakeOCI() as clean:
        use_fake_oci(clean, tmp_path / "clean", monkeypatch, "faults")
        assert jobctl("apply", SPEC).exit_code == 0
        return len(clean.requests)


def each_crash_converges(tmp_path: Path, jobctl, monkeypatch: pytest.MonkeyPatch,
                         crash: Callable[[FakeOCI, int], None]) -> None:
    """For every request of a full apply: a fresh fake, `crash` an apply after that many requests,
    then a clean re-run must converge (one job, its artifact, nothing left to plan)."""
    total = full_apply_requests(tmp_path, jobctl, monkeypatch)
    assert total >= 4  # list, create, upload, tag (at least)
    for survived in range(1, total):
        with FakeOCI() as fake:
            use_fake_oci(fake, tmp_path / f"k{survived}", monkeypatch, "faults")
            crash(fake, survived)
            fake.faults.clear()
            again = jobctl("apply", SPEC, "--yes")
            assert again.exit_code == 0, f"after {survived} requests: {again.stderr}"
            assert_converged(fake, jobctl)


def test_an_apply_killed_after_any_request_converges_when_run_again(tmp_path: Path, jobctl,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def drop_after(fake: FakeOCI, survived: int) -> None:
        fake.faults.add(drop=True, skip=survived)  # the client loses the service after `survived` requests
        crashed = jobctl("apply", SPEC)
        assert crashed.exit_code != 0
        assert "Traceback" not in crashed.stderr

    each_crash_converges(tmp_path, jobctl, monkeypatch, drop_after)


def test_lost_responses_are_retried_with_the_same_token_and_never_duplicate(fake: FakeOCI, jobctl) -> None:
    fake.faults.add(path=r"/jobs$", method="POST", status=500, after=True, times=1)
    fake.faults.add(path=r"/jobRuns$", method="POST", status=500, after=True, times=1)
    assert jobctl("apply", SPEC).exit_code == 0
    assert jobctl("run", "tune-models", "--wait").exit_code == 0
    assert len(active_jobs(fake)) == 1
    assert len(fake.runs()) == 1
    creates = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/jobs")]
    assert len(creates) == 2
    assert creates[0].retry_token == creates[1].retry_token


def test_an_unreachable_service_is_a_clear_error(fake: FakeOCI, jobctl) -> None:
    fake.faults.add(drop=True)
    result = jobctl("jobs")
    assert result.exit_code == 1
    assert "cannot reach OCI" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_refused_connection_names_the_endpoint_and_the_reason_not_the_sdk_s_tuple(
        fake: FakeOCI, jobctl, monkeypatch: pytest.MonkeyPatch) -> None:
    """Red team, issue 18: a refused connection printed the SDK's tuple of urllib3's retry message."""
    with socket.socket() as closed:  # a port nothing listens on: bound, never listening
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
        monkeypatch.setenv("JOBCTL_OCI_ENDPOINT", endpoint)
        result = jobctl("jobs")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[:2] == [
        f"Error: listing jobs: cannot reach OCI at {endpoint} (Connection refused)",
        "Hint: check the network, a proxy (HTTPS_PROXY) and the profile's region"]


@pytest.mark.slow
def test_an_apply_killed_with_sigkill_after_each_request_converges(tmp_path: Path, jobctl,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The real thing: a `jobctl apply` process killed -9 while its next request is in flight."""

    def kill_after(fake: FakeOCI, survived: int) -> None:
        fake.faults.add(latency=2.0, skip=survived)  # request survived+1 hangs: kill the client then
        process = subprocess.Popen([sys.executable, "-m", "jobctl", "apply", SPEC], cwd=REPO,
                                   env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while len(fake.requests) < survived:
            assert time.monotonic() < deadline, f"apply never made {survived} requests"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()

    each_crash_converges(tmp_path, jobctl, monkeypatch, kill_after)


@pytest.mark.parametrize(("text", "said"), [
    ("(\"HTTPSConnectionPool(host='ds.example', port=443): Max retries exceeded with url: /20190101/jobs (Caused by "
     "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')))\", "
     "'Request Endpoint: GET https://ds.example/20190101/jobs See https://docs.oracle.com/...')",
     " at https://ds.example (SSL: CERTIFICATE_VERIFY_FAILED)"),
    ("(\"HTTPSConnectionPool(host='ds.example', port=443): Max retries exceeded (Caused by ConnectTimeoutError(..., "
     "'Connection to ds.example timed out. (connect timeout=10)'))\", 'Request Endpoint: POST https://ds.example/x')",
     " at https://ds.example (timed out)"),
    ("something else", ""),
])
def test_why_a_request_got_no_answer_is_said_in_a_few_words(text: str, said: str) -> None:
    from jobctl.backends.oci import unreachable

    assert unreachable(text) == said


def test_an_endpoint_that_is_not_oci_is_said_to_be_so_not_taken_for_a_missing_job(
        fake: FakeOCI, jobctl, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Red team, issue 18: a web server's 404 page at --endpoint printed its HTML and exited 4, and `get JOB`
    said there was no such job."""
    import functools
    import http.server
    import threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # not on the command's stderr
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("JOBCTL_OCI_ENDPOINT", endpoint)
    try:
        for command, what in [(("runs",), "listing runs"), (("get", "tune-models"), "listing jobs")]:
            result = jobctl(*command)
            assert result.exit_code == 6, (command, result.stderr)
            assert result.stderr.splitlines()[0] == f"Error: {what}: {endpoint} answered HTTP 404 without an OCI error"
            assert "<" not in result.stderr
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("endpoint", "said"), [
    ("http://127.0.0.1:99999", ", not 'http://127.0.0.1:99999' (Port out of range 0-65535)"),
    ("http://[::1", ", not 'http://[::1' (Invalid IPv6 URL)"),
    ("ftp://host", ", not 'ftp://host'"),
    ("http://me:s3cret-pw@host", " without a user or password"),
])
def test_an_endpoint_that_is_no_url_is_a_configuration_error(
        fake: FakeOCI, jobctl, monkeypatch: pytest.MonkeyPatch, endpoint: str, said: str) -> None:
    """Red team, issue 18: a port out of range, a broken IPv6 address or a user in the URL were internal
    errors (ValueError, exit 1)."""
    result = jobctl("jobs", "--endpoint", endpoint)
    assert (result.exit_code, result.stderr.splitlines()[0]) == (
        6, f"Error: --endpoint / JOBCTL_OCI_ENDPOINT must be an http(s) URL{said}")
    assert "s3cret" not in result.stderr

"""Against the fake OCI service: conflicting applies, a job changed behind apply's back, and faults on every
endpoint in turn.

Conflicts: one apply wins, the other exits 5 naming the job, and the job holds one spec's values — never
a mix. Faults (429, 500, 503, dropped connections, responses lost after the change was made, responses
slower than the client's timeout) on each endpoint, for apply, run --wait, logs --follow and cancel: every
command either succeeds through the SDK's retries or fails with one clear error, a re-run converges, and
there is never a duplicate job or run nor a lost or repeated log line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import jobctl.backends.oci
from jobctl.testing.fake_oci import FakeOCI, FaultRule
from tests.conftest import EXAMPLES, Result, use_fake_oci

Runner = Callable[..., Result]
TRAIN = EXAMPLES / "train" / "job.yaml"
# The client's read timeout in these tests (jobctl's own is 60 s and cannot be set). Every answer the
# fake gives without a "slow" fault must come within it, also on a loaded 2-core machine where the
# fake's thread shares the interpreter with the command: at 0.3 s one did not (.ci/soak), and one
# timeout more than the five faults below exhausts the SDK's six attempts.
READ_TIMEOUT = 1.0
SLOW = READ_TIMEOUT + 0.4


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOCI]:
    with FakeOCI(seed=11) as server:
        use_fake_oci(server, tmp_path, monkeypatch, "conflicts")
        yield server


def spec_variant(directory: Path, name: str, *, description: str = "Tune one model class per run",
                 team: str = "ml", seed: str = "7") -> Path:
    """The train example with a different description, label or env (env forces a replace)."""
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "src").exists():
        (directory / "src").symlink_to(EXAMPLES / "train" / "src")
    text = TRAIN.read_text()
    for old, new in (("description: Tune one model class per run", f"description: {description}"),
                     ("labels: {team: ml}", f"labels: {{team: {team}}}"), ("SEED: 7", f"SEED: {seed}")):
        assert old in text, f"the train example no longer has {old!r}"
        text = text.replace(old, new)
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def active_jobs(fake: FakeOCI) -> list[dict[str, Any]]:
    return [j for j in fake.jobs() if j["lifecycleState"] == "ACTIVE"]


def start_jobctl(*args: str) -> subprocess.Popen[str]:
    """A real, separate jobctl process (two applies race as two CI jobs would)."""
    return subprocess.Popen([sys.executable, "-m", "jobctl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=os.environ.copy())


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr
    assert "internal error" not in errors[0], stderr
    return errors[0]


# --- conflicts --------------------------------------------------------------------------------------------

def before_handling(fake: FakeOCI, monkeypatch: pytest.MonkeyPatch, method: str, path_end: str,
                    hook: Callable[[], None]) -> None:
    """Run `hook` in the fake just before it handles each `method` request whose path ends with
    `path_end` (outside the fake's lock)."""
    handle = fake.app._handle

    def gated(environ: Any, request_method: str, path: str, *rest: Any) -> Any:
        if request_method == method and path.endswith(path_end):
            hook()
        return handle(environ, request_method, path, *rest)

    monkeypatch.setattr(fake.app, "_handle", gated)


def gate_job_updates(fake: FakeOCI, monkeypatch: pytest.MonkeyPatch, job_id: str,
                     before_update: Callable[[], None]) -> None:
    """Run `before_update` in the fake just before it handles each PUT of the job."""
    before_handling(fake, monkeypatch, "PUT", f"/jobs/{job_id}", before_update)


def test_two_concurrent_conflicting_applies_one_wins_and_the_other_exits_5(
    fake: FakeOCI, jobctl: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = spec_variant(tmp_path, "base")
    assert jobctl("apply", str(base)).exit_code == 0
    [job] = active_jobs(fake)
    specs = {
        "a": spec_variant(tmp_path, "a", description="Changed by A", team="team-a"),
        "b": spec_variant(tmp_path, "b", description="Changed by B", team="team-b"),
    }
    fake.clear_requests()

    def both_have_read_the_job() -> None:  # so both updates carry the same, soon stale, etag
        deadline = time.monotonic() + 30
        while fake.count("GET", rf"/jobs/{job['id']}$") < 2 and time.monotonic() < deadline:
            time.sleep(0.005)

    gate_job_updates(fake, monkeypatch, job["id"], both_have_read_the_job)
    processes = {name: start_jobctl("apply", str(path)) for name, path in specs.items()}
    outcomes = {name: (p.wait(timeout=60), *p.communicate()) for name, p in processes.items()}

    assert fake.count("GET", rf"/jobs/{job['id']}$") == 2
    codes = sorted(code for code, _, _ in outcomes.values())
    assert codes == [0, 5], {name: (code, err) for name, (code, _, err) in outcomes.items()}
    winner = next(name for name, (code, _, _) in outcomes.items() if code == 0)
    loser = "b" if winner == "a" else "a"
    error = one_error_line(outcomes[loser][2])
    assert job["id"] in error, error
    assert "412" in error or "changed" in error, error

    [after] = active_jobs(fake)
    assert after["id"] == job["id"], "an in-place update must not create a job"
    assert after["description"] == f"Changed by {winner.upper()}"
    assert after["freeformTags"]["team"] == f"team-{winner}", "description from one spec, labels from the other"
    assert jobctl("plan", str(specs[winner]), "--detailed-exitcode").exit_code == 0
    assert jobctl("plan", str(specs[loser]), "--detailed-exitcode").exit_code == 2


def assert_one_apply_created_the_job(outcomes: dict[str, tuple[int, str, str]], live: list[str]) -> str:
    """Two applies raced to create one job name: one exit 0, one exit 5 naming the job that won, which is
    the only live job of that name. Returns the winner's key."""
    codes = sorted(code for code, _, _ in outcomes.values())
    assert codes == [0, 5], {name: (code, err) for name, (code, _, err) in outcomes.items()}
    assert len(live) == 1, f"{len(live)} live jobs of one name: {live}"
    winner = next(name for name, (code, _, _) in outcomes.items() if code == 0)
    loser = next(name for name in outcomes if name != winner)
    error = one_error_line(outcomes[loser][2])
    assert live[0] in error, error
    assert "at the same time" in error, error
    return winner


def test_two_applies_creating_one_new_job_name_at_once_leave_one_job(
    fake: FakeOCI, jobctl: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both applies list (and plan a create) before either creates: without a check both said "created"
    and two jobs of one name remained (issue 12 item 5)."""
    specs = {"a": spec_variant(tmp_path, "a", seed="1"), "b": spec_variant(tmp_path, "b", seed="2")}
    def both_have_planned() -> None:  # hold each create until both applies have listed the jobs
        deadline = time.monotonic() + 30
        while fake.count("GET", r"/jobs$") < 2 and time.monotonic() < deadline:
            time.sleep(0.005)

    before_handling(fake, monkeypatch, "POST", "/jobs", both_have_planned)
    processes = {name: start_jobctl("apply", str(path)) for name, path in specs.items()}
    outcomes = {name: (p.wait(timeout=60), *p.communicate()) for name, p in processes.items()}
    assert fake.count("POST", r"/jobs$") == 2  # both really created a job
    live = [j["id"] for j in fake.jobs() if j["lifecycleState"] in ("ACTIVE", "CREATING")]
    winner = assert_one_apply_created_the_job(outcomes, live)
    assert jobctl("plan", str(specs[winner]), "--detailed-exitcode").exit_code == 0


def test_an_apply_whose_job_another_apply_replaced_mid_upload_says_so_and_touches_nothing(
    fake: FakeOCI, jobctl: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Red team (issue 14): two identical applies at once; the second replaced the first one's job while
    it uploaded, and the first said "the unfinished job is left; `jobctl delete NAME` removes it" — a
    hint that would delete the good job."""
    spec = spec_variant(tmp_path, "same")
    uploads = []

    def hold_the_first_upload_until_the_job_is_replaced() -> None:
        uploads.append(1)
        if len(uploads) > 1:  # the second apply's own upload
            return
        deadline = time.monotonic() + 30
        while not fake.count("DELETE", r"/jobs/[^/]+$") and time.monotonic() < deadline:
            time.sleep(0.005)

    before_handling(fake, monkeypatch, "POST", "/artifact", hold_the_first_upload_until_the_job_is_replaced)
    first = start_jobctl("apply", str(spec))
    deadline = time.monotonic() + 30
    while not uploads and time.monotonic() < deadline:  # the first apply is uploading: its job is CREATING
        time.sleep(0.005)
    second = jobctl("apply", str(spec), "--yes")
    code, _, err = first.wait(timeout=60), *first.communicate()
    assert second.exit_code == 0, second.stderr
    assert code == 5, err
    assert "was deleted while its artifact was uploaded: another apply replaced it" in one_error_line(err)
    assert "jobctl delete" not in err
    [job] = active_jobs(fake)
    assert jobctl("plan", str(spec), "--detailed-exitcode").exit_code == 0
    assert fake.job(job["id"])["lifecycleState"] == "ACTIVE"


def test_a_job_changed_between_plan_and_update_is_a_conflict_with_nothing_half_applied(
    fake: FakeOCI, jobctl: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = spec_variant(tmp_path, "base")
    assert jobctl("apply", str(base)).exit_code == 0
    [job] = active_jobs(fake)
    before_tags = dict(job["freeformTags"])
    changed = spec_variant(tmp_path, "changed", description="From the spec", team="spec-team")
    edits = []

    def someone_edits_it_in_the_console() -> None:  # after apply read the job and planned, before it writes
        if not edits:
            with fake.store.lock:
                edits.append(fake.store.update_job(job["id"], {"description": "Edited in the console"}, None))

    gate_job_updates(fake, monkeypatch, job["id"], someone_edits_it_in_the_console)
    result = jobctl("apply", str(changed))

    assert edits, "apply never tried to update the job"
    assert result.exit_code == 5, result.stderr
    assert job["id"] in one_error_line(result.stderr)
    [after] = active_jobs(fake)
    assert after["description"] == "Edited in the console", "apply overwrote a change it never saw"
    assert after["freeformTags"] == before_tags, "labels or the hash tag were half applied"
    again = jobctl("apply", str(changed))
    assert again.exit_code == 0, again.stderr
    [converged] = active_jobs(fake)
    assert (converged["description"], converged["freeformTags"]["team"]) == ("From the spec", "spec-team")


def test_a_retried_run_with_an_idempotency_key_attaches_even_a_second_later(fake: FakeOCI, jobctl: Runner) -> None:
    """The README's CI retry: the generated run name carries a timestamp, and it must not turn the retry
    into a 409 'opc-retry-token was already used for a different request'."""
    assert jobctl("apply", str(TRAIN)).exit_code == 0
    first = jobctl("run", "tune-models", "--idempotency-key", "ci-pipeline-42")
    assert first.exit_code == 0, first.stderr
    second_now = int(time.time())
    while int(time.time()) == second_now:  # the retried CI step starts in a later second
        time.sleep(0.01)
    retried = jobctl("run", "tune-models", "--idempotency-key", "ci-pipeline-42")
    assert retried.exit_code == 0, retried.stderr
    assert retried.stdout.split() == first.stdout.split()
    assert len(fake.runs()) == 1


# --- faults on each endpoint in turn ----------------------------------------------------------------------

ENDPOINTS: dict[str, tuple[str | None, str]] = {
    "jobs.list": ("GET", r"^/20190101/jobs$"),
    "jobs.get": ("GET", r"^/20190101/jobs/[^/]+$"),
    "jobs.create": ("POST", r"^/20190101/jobs$"),
    "jobs.update": ("PUT", r"^/20190101/jobs/[^/]+$"),
    "jobs.delete": ("DELETE", r"^/20190101/jobs/[^/]+$"),
    "jobs.artifact": (None, r"^/20190101/jobs/[^/]+/artifact"),
    "jobRuns.create": ("POST", r"^/20190101/jobRuns$"),
    "jobRuns.get": ("GET", r"^/20190101/jobRuns/[^/]+$"),
    "jobRuns.list": ("GET", r"^/20190101/jobRuns$"),
    "jobRuns.cancel": ("POST", r"/actions/cancelJobRun$"),
    "search": ("POST", r"^/20190909/search$"),
}
# In every command, the first calls to the endpoint meet one fault each, in this order; the SDK makes
# six attempts with JOBCTL_OCI_RETRY=fast, so the chain is survivable: 429 and 503 answers, a dropped
# connection, a change made and its answer lost (500), and — in the first command that calls the
# endpoint, as each costs a read timeout of waiting — an answer slower than the client waits.
FAULT_CHAIN: dict[str, dict[str, Any]] = {
    "429": {"status": 429},
    "503": {"status": 503},
    "drop": {"drop": True},
    "lost": {"status": 500, "after": True},
    "slow": {"latency": SLOW, "skip": 4},  # latency alone never decides, so skip the four before it
}


@pytest.fixture
def short_client_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """jobctl fixes the SDK timeout at (10, 60) s; give these in-process runs a 1 s read timeout."""
    build = jobctl.backends.oci.build_clients

    def with_short_timeout(settings: Any) -> Any:
        clients = build(settings)
        for client in (clients.data_science, clients.log_search):
            client.base_client.timeout = (5, READ_TIMEOUT)
        return clients

    monkeypatch.setattr(jobctl.backends.oci, "build_clients", with_short_timeout)


@dataclass
class Step:
    label: str
    args: list[str]
    expected: int


@dataclass
class SessionReport:
    fired: dict[str, int] = field(default_factory=dict)  # step -> faults injected
    outcomes: dict[str, str] = field(default_factory=dict)  # step -> "ok" | "failed clearly, rerun ok"
    followed: list[str] = field(default_factory=list)


def session_steps(tmp_path: Path) -> list[Step]:
    first = spec_variant(tmp_path / "specs", "first")
    replaced = spec_variant(tmp_path / "specs", "replaced", seed="8")  # env changes: create new, delete old
    return [
        Step("apply (create)", ["apply", str(first)], 0),
        Step("apply (replace)", ["apply", str(replaced), "--yes"], 0),
        Step("run --wait", ["run", "tune-models", "--name", "waited", "--idempotency-key", "k-wait",
                            "--env", "MODEL=rf", "--wait"], 0),
        Step("logs --follow", ["logs", "--job", "tune-models", "--follow"], 0),
        Step("run", ["run", "tune-models", "--name", "sleeper", "--idempotency-key", "k-sleep",
                     "--env", "SLEEP=1"], 0),
        Step("cancel --wait", ["cancel", "--job", "tune-models", "--wait"], 8),
    ]


def run_session(fake: FakeOCI, jobctl: Runner, steps: list[Step],
                arm: Callable[[], list[FaultRule]]) -> SessionReport:
    """Each step with fresh faults; a step that fails must fail clearly and succeed once faults are gone."""
    report = SessionReport()
    for step in steps:
        rules = arm()
        result = jobctl(*step.args)
        report.fired[step.label] = sum(rule.fired for rule in rules)
        fake.faults.clear()
        if result.exit_code == step.expected:
            report.outcomes[step.label] = "ok"
        else:
            error = one_error_line(result.stderr)
            assert result.exit_code in (1, 5, 7), f"{step.label}: exit {result.exit_code}\n{result.stderr}"
            # CI's retry of the step; an apply may now have to replace a job left incomplete: --yes
            result = jobctl(*step.args, *(["--yes"] if step.args[0] == "apply" else []))
            assert result.exit_code == step.expected, f"{step.label} after the faults: {result.stderr}"
            report.outcomes[step.label] = f"failed clearly ({error}), rerun ok"
        assert "Traceback" not in result.stderr, result.stderr
        if step.label == "logs --follow":
            report.followed = result.stdout.splitlines()
        if step.args[0] == "apply":
            jobs = [j["id"] for j in active_jobs(fake)]
            assert len(jobs) == 1, f"{step.label} ({report.outcomes[step.label]}) left {len(jobs)} jobs: {jobs}"
    return report


def assert_nothing_lost_or_duplicated(fake: FakeOCI, jobctl: Runner, steps: list[Step],
                                      report: SessionReport) -> None:
    jobs = active_jobs(fake)
    assert [j["displayName"] for j in jobs] == ["tune-models"], [(j["id"], j["freeformTags"]) for j in jobs]
    assert fake.artifact(jobs[0]["id"]) is not None
    assert jobctl("plan", steps[1].args[1], "--detailed-exitcode").exit_code == 0
    runs = {r["displayName"]: r for r in fake.runs()}
    assert sorted(runs) == ["sleeper", "waited"], f"duplicate or missing runs: {[r['id'] for r in fake.runs()]}"
    assert [r["jobId"] for r in runs.values()] == [jobs[0]["id"]] * 2
    assert runs["waited"]["lifecycleState"] == "SUCCEEDED"
    assert runs["sleeper"]["lifecycleState"] in ("CANCELING", "CANCELED")
    written = [record.message for record in fake.logs(runs["waited"]["id"])]
    assert "MODEL=rf" in written
    assert Counter(report.followed) == Counter(written), "a log line was lost or repeated while following"
    again = jobctl("logs", runs["waited"]["id"])
    assert Counter(again.stdout.splitlines()) == Counter(written)


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_transient_faults_on_each_endpoint_are_survived_without_duplicates_or_lost_lines(
    endpoint: str, fake: FakeOCI, jobctl: Runner, tmp_path: Path, short_client_timeout: None,
) -> None:
    method, path = ENDPOINTS[endpoint]
    slow: list[FaultRule] = []

    def arm() -> list[FaultRule]:
        chain = {k: v for k, v in FAULT_CHAIN.items() if k != "slow" or not any(r.fired for r in slow)}
        rules = {kind: fake.faults.add(path=path, method=method, times=1, **fault) for kind, fault in chain.items()}
        slow.extend(rule for kind, rule in rules.items() if kind == "slow")
        return list(rules.values())

    steps = session_steps(tmp_path)
    report = run_session(fake, jobctl, steps, arm)

    print(f"\n{endpoint} [{', '.join(FAULT_CHAIN)}] faults injected: {report.fired}; outcomes: {report.outcomes}")
    assert sum(report.fired.values()) >= len(FAULT_CHAIN), f"the session never called {endpoint}"
    assert sum(rule.fired for rule in slow) == 1, f"no command met a slow answer from {endpoint}"
    assert_nothing_lost_or_duplicated(fake, jobctl, steps, report)
    retried = {label: outcome for label, outcome in report.outcomes.items() if outcome != "ok"}
    assert not retried, f"survivable faults on {endpoint} were not retried: {retried}"


@pytest.mark.slow
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_an_endpoint_that_keeps_failing_is_a_clear_error_and_a_rerun_converges(
    endpoint: str, fake: FakeOCI, jobctl: Runner, tmp_path: Path,
) -> None:
    method, path = ENDPOINTS[endpoint]

    def arm() -> list[FaultRule]:
        return [fake.faults.add(path=path, method=method, status=503)]

    steps = session_steps(tmp_path)
    report = run_session(fake, jobctl, steps, arm)

    print(f"\n{endpoint} [503 until cleared] faults injected: {report.fired}; outcomes: {report.outcomes}")
    assert any(outcome != "ok" for outcome in report.outcomes.values()), f"no command depends on {endpoint}?"
    assert_nothing_lost_or_duplicated(fake, jobctl, steps, report)


# --- cancel racing a run's end (issue 12 item 14) ----------------------------------------------------------

def end_runs_before_their_cancel(fake: FakeOCI, monkeypatch: pytest.MonkeyPatch, ending: set[str]) -> None:
    """A run in `ending` finishes just before its cancel request is handled: the service answers 409."""
    for run_id in ending:
        before_handling(fake, monkeypatch, "POST", f"/jobRuns/{run_id}/actions/cancelJobRun",
                        lambda run_id=run_id: fake.set_run(run_id, state="SUCCEEDED", details="ended on its own"))


def test_cancelling_runs_that_end_meanwhile_is_no_error_and_every_other_run_is_canceled(
    fake: FakeOCI, jobctl: Runner, monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake.auto_progress = False
    assert jobctl("apply", str(TRAIN)).exit_code == 0
    started = jobctl("run", "tune-models", "--matrix", "MODEL=a,b,c,d")
    assert started.exit_code == 0, started.stderr
    run_ids = started.stdout.split()
    for run_id in run_ids:
        fake.set_run(run_id, state="IN_PROGRESS")
    end_runs_before_their_cancel(fake, monkeypatch, {run_ids[0], run_ids[2]})

    single = jobctl("cancel", run_ids[0])
    assert single.exit_code == 0, single.stderr
    assert "SUCCEEDED" in single.stderr
    fake.set_run(run_ids[0], state="IN_PROGRESS")  # and again, among others, with --job
    whole = jobctl("cancel", "--job", "tune-models")
    assert whole.exit_code == 0, whole.stderr
    states = {run["id"]: run["lifecycleState"] for run in fake.runs()}
    assert [states[r] for r in run_ids] == ["SUCCEEDED", "CANCELING", "SUCCEEDED", "CANCELING"]

    for run_id in (run_ids[1], run_ids[3]):  # a cancel that really fails does not stop the others
        fake.set_run(run_id, state="IN_PROGRESS")
    fake.faults.add(path=rf"/jobRuns/{run_ids[1]}/actions/cancelJobRun", method="POST", status=500)
    partial = jobctl("cancel", "--job", "tune-models")
    assert partial.exit_code == 1
    assert f"({run_ids[1]}): not canceled" in partial.stderr
    assert "1 of 2 run(s) could not be canceled" in one_error_line(partial.stderr)
    assert fake.run(run_ids[3])["lifecycleState"] == "CANCELING"

"""The engine over the in-memory backend: plan/diff rules, apply semantics, run fan-out, waiting, following."""

from __future__ import annotations

import re
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import pytest

from jobctl.backends.memory import MemoryBackend
from jobctl.cli.assignments import parse_assignments, parse_matrix
from jobctl.engine.apply import apply_plan, build_plan, retry_token
from jobctl.engine.follow import follow_logs, wait_for_runs, worst_exit_code
from jobctl.engine.runs import plan_runs, start_runs
from jobctl.errors import ConflictError, ExitCode, UsageError, WaitTimeoutError
from jobctl.model.definition import replace
from jobctl.model.job import (
    CANCELED,
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
    TAG_MANAGED,
    TAG_SUPERSEDED,
    JobDefinition,
    JobState,
    LogBatch,
    RunState,
)
from jobctl.model.table import flatten, rows
from jobctl.plan.desired import DesiredJob, desired_job
from jobctl.plan.model import Action, FieldChange
from jobctl.spec.model import JobSpec


def want(
    name: str = "demo", *, description: str = "a", labels: Mapping[str, str] | None = None,
    shape: str = "VM.Standard.E4.Flex", ocpus: float = 1, memory: float = 16, disk: int = 50,
    env: Mapping[str, str] | None = None, args: Sequence[str] = ("--x", "1"), entrypoint: str = "main.py",
    max_runtime: int | None = None,
) -> DesiredJob:
    """A desired job without a source (no artifact), so no files are needed."""
    return desired_job(JobSpec(JobDefinition(
        name=name, description=description, labels=dict(labels or {}),
        shape=shape, ocpus=ocpus, memory_in_gbs=memory, block_storage_size_in_gbs=disk,
        runtime_type="python", entrypoint=entrypoint, args=tuple(args),
        env=dict({"MODEL": "base"} if env is None else env), max_runtime_in_minutes=max_runtime,
    )))


def applied(backend: MemoryBackend, *desired: DesiredJob, prune: bool = False) -> list[Any]:
    return apply_plan(backend, build_plan(backend, list(desired), prune=prune))


def only_job(backend: MemoryBackend, name: str = "demo") -> JobState:
    [job] = [j for j in backend.jobs.values() if j.name == name]
    return job


def run_state(state: str, run_id: str = "run-1") -> RunState:
    return RunState(run_id, "job-1", run_id, state, datetime(2026, 1, 1, tzinfo=timezone.utc))


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class CountingBackend(MemoryBackend):
    """Counts GETs, so the plan's fast path (no GET when the hash tag matches) is visible."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get_job(self, *, job_id: str) -> JobState:
        self.gets += 1
        return super().get_job(job_id=job_id)


# --- plan: create / update / replace / delete ---------------------------------------------------------

def test_empty_backend_plans_one_create() -> None:
    plan = build_plan(MemoryBackend(), [want()])
    assert [(c.action, c.name, c.fields) for c in plan.changes] == [(Action.CREATE, "demo", ())]
    assert plan.summary() == "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete."
    assert not plan.destructive


def test_apply_is_idempotent_and_the_second_plan_makes_no_get() -> None:
    backend = CountingBackend()
    [result] = applied(backend, want())
    assert result.outcome == "created"
    assert backend.writes == 1
    job = only_job(backend)
    assert job.managed
    assert job.tags[TAG_MANAGED] == "true"

    backend.gets = 0
    plan = build_plan(backend, [want()])
    assert not plan.has_changes
    assert plan.unchanged == ("demo",)
    assert backend.gets == 0
    assert apply_plan(backend, plan) == []
    assert backend.writes == 1
    assert backend.jobs == {job.id: job}


MUTABLE_CASES = [
    ({"description": "b"}, "description", "a", "b"),
    ({"labels": {"team": "ml"}}, "labels", {}, {"team": "ml"}),
    ({"shape": "VM.Standard.E5.Flex"}, "infrastructure.shape", "VM.Standard.E4.Flex", "VM.Standard.E5.Flex"),
    ({"ocpus": 2}, "infrastructure.ocpus", 1, 2),
    ({"memory": 32}, "infrastructure.memoryInGBs", 16, 32),
    ({"disk": 100}, "infrastructure.blockStorageSizeInGBs", 50, 100),
]
FORCING_CASES = [
    ({"env": {"MODEL": "rf"}}, "runtime.env.MODEL", "base", "rf"),
    ({"env": {"MODEL": "base", "SEED": "7"}}, "runtime.env.SEED", None, "7"),
    ({"env": {}}, "runtime.env.MODEL", "base", None),
    ({"args": ("--y",)}, "runtime.args", ["--x", "1"], ["--y"]),
    ({"max_runtime": 30}, "runtime.maxRuntimeInMinutes", None, 30),
    ({"entrypoint": "other.py"}, "runtime.entrypoint", "main.py", "other.py"),
]


@pytest.mark.parametrize(("change", "field", "old", "new"), MUTABLE_CASES, ids=[c[1] for c in MUTABLE_CASES])
def test_mutable_field_is_an_in_place_update(change: dict[str, Any], field: str, old: Any, new: Any) -> None:
    backend = MemoryBackend()
    applied(backend, want())
    job = only_job(backend)

    plan = build_plan(backend, [want(**change)])

    [step] = plan.changes
    assert step.action is Action.UPDATE
    assert step.job_id == job.id
    assert step.fields == (FieldChange(field, old, new, forces_replace=False),)
    assert not plan.destructive
    [result] = apply_plan(backend, plan)
    assert (result.outcome, result.job_id) == ("updated", job.id)
    assert not build_plan(backend, [want(**change)]).has_changes


@pytest.mark.parametrize(("change", "field", "old", "new"), FORCING_CASES,
                         ids=[f"{c[1]}-{i}" for i, c in enumerate(FORCING_CASES)])
def test_immutable_field_forces_a_replace_naming_it(change: dict[str, Any], field: str, old: Any, new: Any) -> None:
    backend = MemoryBackend()
    applied(backend, want())
    old_job = only_job(backend)

    plan = build_plan(backend, [want(**change)])

    [step] = plan.changes
    assert step.action is Action.REPLACE
    assert step.fields == (FieldChange(field, old, new, forces_replace=True),)
    assert step.reason is not None
    assert field in step.reason
    assert plan.destructive
    [result] = apply_plan(backend, plan)
    assert result.outcome == "replaced"
    assert result.job_id != old_job.id
    assert list(backend.jobs) == [result.job_id]  # no active runs: the old job is gone
    assert not build_plan(backend, [want(**change)]).has_changes


def test_mixed_change_replaces_and_marks_only_the_forcing_field() -> None:
    backend = MemoryBackend()
    applied(backend, want())
    [step] = build_plan(backend, [want(description="b", env={"MODEL": "rf"})]).changes
    assert step.action is Action.REPLACE
    assert [(f.field, f.forces_replace) for f in step.fields] == [("description", False), ("runtime.env.MODEL", True)]
    assert step.reason is not None
    assert "runtime.env.MODEL" in step.reason
    assert "description" not in step.reason


def test_mutable_fields_are_exactly_what_oci_updates_in_place() -> None:
    in_place = {row.shown for row in rows(JobDefinition) if row.in_place}
    assert in_place == {  # OCI's UpdateJobDetails: display name, description, infrastructure, mounts, tags
        "name", "displayName", "description", "labels", "definedTags", "storageMounts", "infrastructure.shape",
        "infrastructure.ocpus", "infrastructure.memoryInGBs", "infrastructure.cpuBaseline",
        "infrastructure.blockStorageSizeInGBs", "infrastructure.subnetId", "infrastructure.capacityReservationId",
    }
    every_field = {name.rsplit(".", 1)[0] if name.startswith("runtime.env.") else name
                   for name, _ in flatten(want(env={"MODEL": "x"}).definition)}
    assert {"runtime.env", "runtime.args", "runtime.maxRuntimeInMinutes", "artifact"} <= every_field - in_place


def test_update_is_sent_with_the_etag_and_a_concurrent_change_conflicts() -> None:
    backend = MemoryBackend()
    applied(backend, want())
    job = only_job(backend)
    plan = build_plan(backend, [want(description="b")])
    assert job.definition is not None
    backend.update_job(job_id=job.id, definition=replace(job.definition, description="console edit"), etag=None)
    with pytest.raises(ConflictError) as caught:
        apply_plan(backend, plan)
    assert caught.value.exit_code == ExitCode.CONFLICT


# --- replace while runs are active ---------------------------------------------------------------------

def test_replace_keeps_the_old_job_superseded_until_prune_history_once_its_runs_end() -> None:
    backend = MemoryBackend()
    applied(backend, want())
    old = only_job(backend)
    run = backend.start_run(job_id=old.id, name="busy", env={"SLEEP": "1"}, args=[])
    assert backend.get_run(run_id=run.id).state == IN_PROGRESS

    [result] = applied(backend, want(env={"MODEL": "rf"}))

    assert result.outcome == "replaced"
    assert backend.get_run(run_id=run.id).state == IN_PROGRESS  # an apply never kills a run
    kept = backend.get_job(job_id=old.id)
    assert kept.superseded
    assert kept.tags[TAG_SUPERSEDED] == "true"
    assert result.job_id != old.id
    assert not backend.get_job(job_id=result.job_id).superseded

    assert not build_plan(backend, [want(env={"MODEL": "rf"})]).has_changes  # still busy: kept

    backend.cancel_run(run_id=run.id)
    assert backend.get_run(run_id=run.id).state == CANCELED
    assert not build_plan(backend, [want(env={"MODEL": "rf"})]).has_changes  # its history is kept
    plan = build_plan(backend, [want(env={"MODEL": "rf"})], prune_history=True)
    [step] = plan.changes
    assert (step.action, step.job_id, step.runs) == (Action.DELETE, old.id, 1)
    assert step.explanation == "a superseded generation (--prune-history); deletes its 1 run(s)"
    assert plan.destructive
    apply_plan(backend, plan)
    assert list(backend.jobs) == [result.job_id]
    assert [r.id for r in backend.list_runs()] == []  # its run went with it


def test_replace_deletes_an_old_job_that_never_ran() -> None:
    backend = MemoryBackend()
    applied(backend, want())
    old = only_job(backend)
    [result] = applied(backend, want(env={"MODEL": "rf"}))
    assert (result.outcome, result.retired) == ("replaced", "deleted")
    assert old.id not in backend.jobs


# --- ownership and prune -------------------------------------------------------------------------------

def make_unmanaged(backend: MemoryBackend, name: str) -> JobState:
    definition = want(name).definition.with_tags({"owner": "console"})
    return backend.create_job(definition=definition, artifact=None, retry_token=f"console-{name}")


def test_prune_deletes_managed_jobs_not_in_the_specs() -> None:
    backend = MemoryBackend()
    applied(backend, want("alpha"), want("beta"))
    beta = only_job(backend, "beta")
    assert not build_plan(backend, [want("alpha")]).has_changes  # without prune, beta stays
    plan = build_plan(backend, [want("alpha")], prune=True)
    assert [(c.action, c.name, c.job_id) for c in plan.changes] == [(Action.DELETE, "beta", beta.id)]
    assert plan.destructive
    apply_plan(backend, plan)
    assert [j.name for j in backend.jobs.values()] == ["alpha"]


def test_unmanaged_jobs_are_never_touched() -> None:
    backend = MemoryBackend()
    same_name = make_unmanaged(backend, "demo")
    other = make_unmanaged(backend, "legacy")

    plan = build_plan(backend, [want("demo")], prune=True)
    assert [(c.action, c.name) for c in plan.changes] == [(Action.CREATE, "demo")]
    assert any("not managed" in w for w in plan.warnings)
    apply_plan(backend, plan)

    plan = build_plan(backend, [], prune=True)
    deleted = [c.job_id for c in plan.changes if c.action is Action.DELETE]
    assert same_name.id not in deleted
    assert other.id not in deleted
    apply_plan(backend, plan)
    assert backend.jobs == {same_name.id: same_name, other.id: other}


# --- retry tokens --------------------------------------------------------------------------------------

def test_retry_tokens_are_deterministic() -> None:
    assert retry_token("demo", "abc", "") == retry_token("demo", "abc", "")
    assert retry_token("demo", "abc", "") != retry_token("demo", "abd", "")
    assert retry_token("a", "bc") != retry_token("ab", "c")
    assert len(retry_token("demo", "x" * 500)) <= 64


def test_create_with_the_same_token_makes_one_job() -> None:
    backend = MemoryBackend()
    first = backend.create_job(definition=want().definition, artifact=None, retry_token="t1")
    second = backend.create_job(definition=want().definition, artifact=None, retry_token="t1")
    assert first.id == second.id
    assert len(backend.jobs) == 1


def test_reapplying_a_stale_create_plan_makes_no_duplicate() -> None:
    backend = MemoryBackend()
    plan = build_plan(backend, [want()])
    apply_plan(backend, plan)
    apply_plan(backend, plan)  # e.g. a CI retry of the same step
    assert len(backend.jobs) == 1
    assert backend.writes == 1


# --- exit codes ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("states", "code"), [
    ([SUCCEEDED], ExitCode.OK),
    ([SUCCEEDED, SUCCEEDED, SUCCEEDED], ExitCode.OK),
    ([], ExitCode.OK),
    ([FAILED], ExitCode.ERROR),
    ([CANCELED], ExitCode.CANCELED),
    ([SUCCEEDED, CANCELED], ExitCode.CANCELED),
    ([SUCCEEDED, FAILED, CANCELED], ExitCode.ERROR),
    ([CANCELED, FAILED], ExitCode.ERROR),
    ([IN_PROGRESS], ExitCode.ERROR),
])
def test_worst_exit_code(states: list[str], code: ExitCode) -> None:
    assert worst_exit_code([run_state(s, f"run-{i}") for i, s in enumerate(states)]) == code


# --- parsing overrides ---------------------------------------------------------------------------------

def test_parse_assignments() -> None:
    assert parse_assignments(["A=1", "B=x=y", "C="], "--env") == {"A": "1", "B": "x=y", "C": ""}
    assert parse_assignments(["A=1", "A=1"], "--env") == {"A": "1"}
    with pytest.raises(UsageError, match="--env A is given twice, with different values"):  # issue 18 item 2
        parse_assignments(["A=1", "A=2"], "--env")


@pytest.mark.parametrize("value", ["MODEL", "=x", "1X=a", "A-B=c", "A B=c", "A=\0"])
def test_parse_assignments_rejects(value: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_assignments([value], "--env")
    assert caught.value.exit_code == ExitCode.USAGE
    assert "--env" in caught.value.message


def test_parse_matrix_is_the_cartesian_product() -> None:
    assert parse_matrix([]) == [{}]
    assert parse_matrix(["MODEL=xgb,rf,lgbm"]) == [{"MODEL": "xgb"}, {"MODEL": "rf"}, {"MODEL": "lgbm"}]
    assert parse_matrix(["MODEL=xgb,rf", "SEED=1,2"]) == [
        {"MODEL": "xgb", "SEED": "1"}, {"MODEL": "xgb", "SEED": "2"},
        {"MODEL": "rf", "SEED": "1"}, {"MODEL": "rf", "SEED": "2"},
    ]
    assert parse_matrix(["MODEL=xgb", "MODEL=rf"]) == [{"MODEL": "xgb"}, {"MODEL": "rf"}]  # merged (issue 18)
    with pytest.raises(UsageError, match="'xgb' is listed twice"):  # never merged silently (issue 18)
        parse_matrix(["MODEL=xgb,xgb,rf"])


@pytest.mark.parametrize("value", ["MODEL", "MODEL=", "MODEL=a,,b", "MODEL=a,", "9=a,b"])
def test_parse_matrix_rejects(value: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_matrix([value])
    assert "--matrix" in caught.value.message


# --- planning runs -------------------------------------------------------------------------------------

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


@pytest.fixture
def job() -> JobState:
    backend = MemoryBackend()
    applied(backend, want(env={"MODEL": "base", "GREETING": "hi"}, args=("--x", "1")))
    return only_job(backend)


def test_plan_runs_merges_env_and_keeps_job_args(job: JobState) -> None:
    [request] = plan_runs(job, env={"MODEL": "xgb", "NEW": "1"}, args=None, now=NOW)
    assert dict(request.env) == {"MODEL": "xgb", "GREETING": "hi", "NEW": "1"}
    assert dict(request.overrides) == {"MODEL": "xgb", "NEW": "1"}
    assert request.args == ("--x", "1")
    assert re.fullmatch(r"demo-run-20260304-050607-[a-z0-9]{4}", request.name)  # unique within the second
    assert request.retry_token is None


def test_plan_runs_args_replace_and_append(job: JobState) -> None:
    assert plan_runs(job, env={}, args=["--y", "2"], now=NOW)[0].args == ("--y", "2")
    assert plan_runs(job, env={}, args=None, append_args=["--z"], now=NOW)[0].args == ("--x", "1", "--z")
    assert plan_runs(job, env={}, args=["--y"], append_args=["--z"], now=NOW)[0].args == ("--y", "--z")
    assert plan_runs(job, env={}, args=[], now=NOW)[0].args == ()


def test_plan_runs_matrix_names_and_env(job: JobState) -> None:
    requests = plan_runs(job, env={"GREETING": "yo"}, args=None, matrix=parse_matrix(["MODEL=xgb,rf"]), name="tune",
                         now=NOW)
    assert [r.name for r in requests] == ["tune-xgb", "tune-rf"]
    assert [dict(r.env) for r in requests] == [
        {"MODEL": "xgb", "GREETING": "yo"}, {"MODEL": "rf", "GREETING": "yo"},
    ]
    combos = parse_matrix(["A=1,2", "B=x,y"])
    assert len({r.name for r in plan_runs(job, env={}, args=None, matrix=combos, now=NOW)}) == 4


def test_plan_runs_idempotency_tokens_are_stable_and_distinct_per_combination(job: JobState) -> None:
    first = plan_runs(job, env={}, args=None, matrix=parse_matrix(["MODEL=xgb,rf"]), idempotency_key="ci-1", now=NOW)
    again = plan_runs(job, env={}, args=None, matrix=parse_matrix(["MODEL=xgb,rf"]), idempotency_key="ci-1",
                      now=datetime(2027, 1, 1, tzinfo=timezone.utc))
    other = plan_runs(job, env={}, args=None, matrix=parse_matrix(["MODEL=xgb,rf"]), idempotency_key="ci-2", now=NOW)
    tokens = [r.retry_token for r in first]
    assert all(tokens)
    assert len(set(tokens)) == 2
    assert [r.retry_token for r in again] == tokens
    assert not set(tokens) & {r.retry_token for r in other}


def test_start_runs_with_an_idempotency_key_twice_starts_each_run_once() -> None:
    backend = MemoryBackend()
    applied(backend, want())
    job = only_job(backend)
    requests = plan_runs(job, env={}, args=None, matrix=parse_matrix(["MODEL=a,b,c"]), idempotency_key="k")
    first = start_runs(backend, job, requests)
    again = plan_runs(job, env={}, args=None, matrix=parse_matrix(["MODEL=a,b,c"]), idempotency_key="k")
    second = start_runs(backend, job, again)
    assert [r.id for r in first] == [r.id for r in second]
    assert len(backend.list_runs(job_id=job.id)) == 3


class SlowStartBackend(MemoryBackend):
    """Records how many start_run calls overlap."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight = 0
        self.most = 0
        self.guard = threading.Lock()

    def start_run(self, **kwargs: Any) -> RunState:
        with self.guard:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        time.sleep(0.01)  # latency of a real API call, so calls can overlap
        try:
            return super().start_run(**kwargs)
        finally:
            with self.guard:
                self.in_flight -= 1


def test_start_runs_bounds_concurrency_and_keeps_request_order() -> None:
    backend = SlowStartBackend()
    applied(backend, want())
    job = only_job(backend)
    requests = plan_runs(job, env={}, args=None, matrix=parse_matrix([f"N={','.join(str(i) for i in range(12))}"]))
    seen: list[str] = []
    runs = start_runs(backend, job, requests, max_parallel=3, on_started=lambda r: seen.append(r.id))
    assert [r.env["N"] for r in runs] == [str(i) for i in range(12)]
    assert sorted(seen) == sorted(r.id for r in runs)
    assert 1 < backend.most <= 3


class GatedBackend(MemoryBackend):
    """start_run (or with `creates`, create_job) holds until the test opens the gate; `begun` is set once
    the first is under way."""

    def __init__(self, *, creates: bool = False) -> None:
        super().__init__()
        self.creates = creates
        self.begun = threading.Event()
        self.gate = threading.Event()

    def _hold(self, gated: bool) -> None:
        if gated:
            self.begun.set()
            assert self.gate.wait(timeout=30)

    def start_run(self, **kwargs: Any) -> RunState:
        self._hold(not self.creates)
        return super().start_run(**kwargs)

    def create_job(self, **kwargs: Any) -> JobState:
        self._hold(self.creates)
        return super().create_job(**kwargs)


def test_an_interrupt_during_start_runs_lets_the_starts_under_way_finish_and_begins_no_other() -> None:
    """Issue 12 item 4: every run that exists when the interrupt propagates has been seen by on_started."""
    backend = GatedBackend()
    applied(backend, want())
    job = only_job(backend)
    requests = plan_runs(job, env={}, args=None, matrix=parse_matrix([f"N={','.join(str(i) for i in range(10))}"]))
    seen: list[str] = []

    main = threading.main_thread().ident
    assert main is not None

    def draining() -> bool:
        frame = sys._current_frames().get(main)
        while frame is not None:
            if frame.f_code.co_name == "drain":
                return True
            frame = frame.f_back
        return False

    def interrupt_once_a_start_is_under_way() -> None:
        assert backend.begun.wait(timeout=30)
        signal.pthread_kill(main, signal.SIGINT)  # what Ctrl-C does: KeyboardInterrupt in the main thread
        deadline = time.monotonic() + 30
        while not draining() and time.monotonic() < deadline:  # the main thread took it: release the starts
            time.sleep(0.005)
        backend.gate.set()

    helper = threading.Thread(target=interrupt_once_a_start_is_under_way)
    helper.start()
    with pytest.raises(KeyboardInterrupt):
        start_runs(backend, job, requests, max_parallel=2, on_started=lambda r: seen.append(r.id))
    helper.join()
    made = [r.id for r in backend.list_runs()]
    assert 1 <= len(made) <= 2  # the starts under way, no more
    assert sorted(seen) == sorted(made)


# --- waiting and following ------------------------------------------------------------------------------

def started(backend: MemoryBackend, **env: str) -> RunState:
    if not backend.jobs:
        applied(backend, want())
    return backend.start_run(job_id=next(iter(backend.jobs)), name="r", env=env, args=["--a"])


def test_wait_for_runs_returns_terminal_states_and_reports_each_change_once() -> None:
    backend = MemoryBackend()
    ok, bad = started(backend), started(backend, EXIT_CODE="3")
    changes: list[tuple[str, str]] = []
    fake = FakeTime()
    final = wait_for_runs(backend, [ok.id, bad.id], on_change=lambda r: changes.append((r.id, r.state)),
                          clock=fake.clock, sleep=fake.sleep)
    assert [(r.state, r.exit_code) for r in final] == [(SUCCEEDED, 0), (FAILED, 3)]
    assert [s for i, s in changes if i == ok.id] == [IN_PROGRESS, SUCCEEDED]
    assert [s for i, s in changes if i == bad.id] == [IN_PROGRESS, FAILED]
    assert worst_exit_code(final) == ExitCode.ERROR


def test_wait_for_runs_times_out_on_the_fake_clock() -> None:
    backend = MemoryBackend()
    backend.poll_interval = 1.0
    run = started(backend, SLEEP="1")
    fake = FakeTime()
    begun = time.monotonic()
    with pytest.raises(WaitTimeoutError) as caught:
        wait_for_runs(backend, [run.id], timeout=5, clock=fake.clock, sleep=fake.sleep)
    assert time.monotonic() - begun < 1  # no real waiting
    assert caught.value.exit_code == ExitCode.TIMEOUT
    assert run.id in caught.value.message
    assert fake.now - 1000.0 >= 5
    assert set(fake.sleeps) == {1.0}
    assert backend.get_run(run_id=run.id).state == IN_PROGRESS  # a timeout does not cancel


class DrippingBackend(MemoryBackend):
    """Hands out at most 7 log lines per read, so following must page through cursors."""

    def read_logs(self, *, run_id: str, cursor: str | None = None, limit: int | None = None) -> LogBatch:
        return super().read_logs(run_id=run_id, cursor=cursor, limit=7)


def chatty(run: RunState) -> tuple[list[str], int | None]:
    return [f"{run.name} {i}" for i in range(50)], int(run.env.get("EXIT_CODE", "0"))


def test_follow_logs_yields_every_line_once_in_order_and_ends() -> None:
    backend = DrippingBackend(program=chatty)
    applied(backend, want())
    job_id = next(iter(backend.jobs))
    first = backend.start_run(job_id=job_id, name="a", env={}, args=[])
    second = backend.start_run(job_id=job_id, name="b", env={"EXIT_CODE": "2"}, args=[])
    fake = FakeTime()

    events = list(follow_logs(backend, [first.id, second.id], sleep=fake.sleep, clock=fake.clock))

    for run, name in ((first, "a"), (second, "b")):
        lines = [e.line.text for e in events if e.run_id == run.id and e.line is not None]
        assert lines == [f"{name} {i}" for i in range(50)]
    final = {e.run_id: e.run.state for e in events if e.run is not None}
    assert final == {first.id: SUCCEEDED, second.id: FAILED}
    last_state = max(i for i, e in enumerate(events) if e.run is not None and e.run_id == first.id)
    assert all(e.line is None for e in events[last_state:] if e.run_id == first.id)  # drained before the end


class DrainedDripping(DrippingBackend):
    """As DrippingBackend, saying each batch holds every line logged so far (as the local backend does when
    it read to the end of the file)."""

    def read_logs(self, *, run_id: str, cursor: str | None = None, limit: int | None = None) -> LogBatch:
        return super().read_logs(run_id=run_id, cursor=cursor)._replace(drained=True)


@pytest.mark.parametrize(("backend_class", "waits"), [(DrippingBackend, False), (DrainedDripping, True)])
def test_a_follow_reads_again_at_once_only_when_lines_may_be_waiting(backend_class: type[MemoryBackend],
                                                                     waits: bool) -> None:
    """Each wake-up of a follow costs it more CPU than anything it does then: a batch that read the log to
    its end is followed by the idle pause; one that may have left lines (a page, or not known) by another
    read at once."""
    backend = backend_class(program=chatty)
    backend.poll_interval = 0.5
    run = started(backend)
    fake = FakeTime()

    lines = [e.line.text for e in follow_logs(backend, [run.id], sleep=fake.sleep, clock=fake.clock) if e.line]

    assert lines == [f"r {i}" for i in range(50)]
    between_batches = fake.sleeps.count(2 * backend.poll_interval)  # the idle pause; the run's start has others
    assert between_batches >= 7 if waits else between_batches == 0  # 50 lines in batches of 7: 8 reads


def test_follow_logs_from_a_cursor_skips_what_was_already_shown() -> None:
    backend = MemoryBackend(program=chatty)
    run = started(backend)
    wait_for_runs(backend, [run.id])
    cursor = backend.read_logs(run_id=run.id, limit=45).cursor
    lines = [e.line.text for e in follow_logs(backend, [run.id], cursors={run.id: cursor}) if e.line]
    assert lines == [f"r {i}" for i in range(45, 50)]


def test_follow_logs_times_out_when_the_run_never_ends() -> None:
    backend = MemoryBackend()
    backend.poll_interval = 1.0
    run = started(backend, SLEEP="1")
    fake = FakeTime()
    seen: list[Any] = []
    with pytest.raises(WaitTimeoutError):
        seen.extend(follow_logs(backend, [run.id], sleep=fake.sleep, clock=fake.clock, timeout=10))
    texts = [e.line.text for e in seen if e.line]
    assert texts == ["SLEEP=1", "args=['--a']"]


def test_prune_never_deletes_a_job_without_a_set_and_says_so() -> None:
    """Jobs applied by a jobctl without sets carry no jobctl-set tag: no set's prune may delete them."""
    backend = MemoryBackend()
    applied(backend, want("old"))  # no set, as before sets
    plan = build_plan(backend, [], prune=True, set_name="team/specs")
    assert plan.changes == ()
    assert plan.warnings == ("--prune leaves alone 1 managed job(s) applied by a jobctl without sets; "
                             "apply their specs once to give them one",)


def test_an_interrupt_during_apply_says_so_finishes_the_changes_under_way_and_starts_no_other() -> None:
    backend = GatedBackend(creates=True)
    plan = build_plan(backend, [want(f"job-{i}") for i in range(12)])
    said: list[str] = []
    main = threading.main_thread().ident
    assert main is not None

    def interrupt_once_a_create_is_under_way() -> None:
        assert backend.begun.wait(timeout=30)
        signal.pthread_kill(main, signal.SIGINT)  # Ctrl-C: KeyboardInterrupt in the main thread
        deadline = time.monotonic() + 30
        while not said and time.monotonic() < deadline:  # the main thread took it: release the creates
            time.sleep(0.005)
        backend.gate.set()

    helper = threading.Thread(target=interrupt_once_a_create_is_under_way)
    helper.start()
    reported: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        apply_plan(backend, plan, max_in_flight=3, on_change=lambda c: reported.append(c.change.name),
                   on_interrupt=lambda: said.append("interrupted"))
    helper.join()
    made = sorted(j.name for j in backend.jobs.values())
    assert said == ["interrupted"]
    assert 1 <= len(made) <= 3  # the creates under way, no more
    assert sorted(reported) == made  # and each was reported

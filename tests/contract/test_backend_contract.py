"""One contract, every backend: the same scenarios must pass on memory, local and oci-against-the-fake."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from jobctl.backends.base import Backend
from jobctl.cli.assignments import parse_matrix
from jobctl.engine.apply import apply_plan, build_plan
from jobctl.engine.follow import follow_logs, wait_for_runs, worst_exit_code
from jobctl.engine.resolve import resolve_job
from jobctl.engine.runs import plan_runs, start_runs
from jobctl.errors import ConflictError, ExitCode, NotFoundError, UsageError
from jobctl.model.definition import replace
from jobctl.model.job import ACTIVE_STATES, CANCELED, FAILED, SUCCEEDED
from jobctl.plan.desired import DesiredJob, desired_job
from jobctl.plan.model import Action
from jobctl.spec.load import load_specs
from tests.contract.harness import Harness

HERE = Path(__file__).parent
COMPARTMENT = "ocid1.compartment.oc1..contract"
PROJECT = "ocid1.datascienceproject.oc1.iad.contract"


def write_spec(directory: Path, *, name: str = "contract", description: str = "first", model: str = "base",
               args: tuple[str, ...] = ("--epochs", "1"), ocpus: int = 1) -> DesiredJob:
    source = directory / "src"
    source.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "workload.py", source / "workload.py")
    spec = directory / f"{name}.yaml"
    spec.write_text(textwrap.dedent(f"""\
        apiVersion: jobctl/v1
        kind: Job
        metadata: {{name: {name}, description: {description}}}
        spec:
          compartmentId: {COMPARTMENT}
          projectId: {PROJECT}
          infrastructure: {{shape: VM.Standard.E4.Flex, ocpus: {ocpus}, memoryInGBs: 16}}
          logging: {{logGroupId: ocid1.loggroup.oc1.iad.contract, logId: ocid1.log.oc1.iad.contract}}
          runtime:
            type: python
            source: ./src
            entrypoint: workload.py
            env: {{MODEL: {model}}}
            args: {list(args)}
        """))
    loaded = load_specs([str(spec)], {})
    assert loaded.ok, loaded.diagnostics
    return desired_job(loaded.jobs[0])


def apply(backend: Backend, *desired: DesiredJob, prune: bool = False) -> None:
    apply_plan(backend, build_plan(backend, list(desired), prune=prune))


def managed(backend: Backend) -> list[str]:
    return sorted(j.managed_name or "" for j in backend.list_jobs(compartment_id=COMPARTMENT) if j.managed)


def test_create_then_plan_shows_no_changes(harness: Harness, tmp_path: Path) -> None:
    desired = write_spec(tmp_path)
    plan = build_plan(harness.backend, [desired])
    assert [c.action for c in plan.changes] == [Action.CREATE]
    apply(harness.backend, desired)
    again = build_plan(harness.backend, [desired])
    assert not again.has_changes
    assert again.unchanged == ("contract",)
    assert managed(harness.backend) == ["contract"]


def test_reapply_writes_nothing(harness: Harness, tmp_path: Path) -> None:
    desired = write_spec(tmp_path)
    apply(harness.backend, desired)
    job = resolve_job(harness.backend, "contract")
    apply(harness.backend, desired)
    after = resolve_job(harness.backend, "contract")
    assert (after.id, after.etag) == (job.id, job.etag)


def test_description_and_shape_change_update_in_place(harness: Harness, tmp_path: Path) -> None:
    apply(harness.backend, write_spec(tmp_path))
    job_id = resolve_job(harness.backend, "contract").id
    changed = write_spec(tmp_path, description="second", ocpus=2)
    plan = build_plan(harness.backend, [changed])
    assert [c.action for c in plan.changes] == [Action.UPDATE]
    assert {f.field for f in plan.changes[0].fields} == {"description", "infrastructure.ocpus"}
    apply_plan(harness.backend, plan)
    job = resolve_job(harness.backend, "contract")
    assert job.id == job_id
    assert job.definition is not None
    assert (job.definition.description, job.definition.ocpus) == ("second", 2)
    assert not build_plan(harness.backend, [changed]).has_changes


def test_env_change_replaces_the_job_naming_the_field(harness: Harness, tmp_path: Path) -> None:
    apply(harness.backend, write_spec(tmp_path))
    old_id = resolve_job(harness.backend, "contract").id
    changed = write_spec(tmp_path, model="xgb")
    plan = build_plan(harness.backend, [changed])
    assert [c.action for c in plan.changes] == [Action.REPLACE]
    assert "runtime.env.MODEL" in (plan.changes[0].reason or "")
    apply_plan(harness.backend, plan)
    new = resolve_job(harness.backend, "contract")
    assert new.id != old_id
    assert managed(harness.backend) == ["contract"]
    harness.assert_job_gone(old_id)


def test_prune_deletes_only_managed_jobs_no_longer_specified(harness: Harness, tmp_path: Path) -> None:
    keep, drop = write_spec(tmp_path / "a", name="keep"), write_spec(tmp_path / "b", name="drop")
    apply(harness.backend, keep, drop)
    unmanaged = replace(drop.definition, name="console-made", display_name="console-made").with_tags({"team": "ml"})
    harness.backend.create_job(definition=unmanaged, artifact=drop.artifact, retry_token="unmanaged-1")
    plan = build_plan(harness.backend, [keep], prune=True)
    assert [(c.action, c.name) for c in plan.changes] == [(Action.DELETE, "drop")]
    apply_plan(harness.backend, plan)
    assert managed(harness.backend) == ["keep"]
    names = {j.name for j in harness.backend.list_jobs(compartment_id=COMPARTMENT)}
    assert "console-made" in names


def test_run_with_overrides_succeeds_and_logs_show_them(harness: Harness, tmp_path: Path) -> None:
    apply(harness.backend, write_spec(tmp_path))
    job = resolve_job(harness.backend, "contract")
    [request] = plan_runs(job, env={"MODEL": "xgb"}, args=["--epochs", "9"])
    [run] = start_runs(harness.backend, job, [request])
    [done] = wait_for_runs(harness.backend, [run.id], timeout=harness.timeout)
    assert done.state == SUCCEEDED
    assert done.exit_code == 0
    assert done.env["MODEL"] == "xgb"
    text = harness.log_text(run.id)
    assert "MODEL=xgb" in text
    assert "--epochs" in text
    assert "9" in text


def test_matrix_fan_out_starts_one_run_per_value(harness: Harness, tmp_path: Path) -> None:
    apply(harness.backend, write_spec(tmp_path))
    job = resolve_job(harness.backend, "contract")
    requests = plan_runs(job, env={}, args=None, matrix=parse_matrix(["MODEL=xgb,rf,lgbm"]))
    runs = start_runs(harness.backend, job, requests, max_parallel=3)
    assert len({r.id for r in runs}) == 3
    final = wait_for_runs(harness.backend, [r.id for r in runs], timeout=harness.timeout)
    assert {r.env["MODEL"] for r in final} == {"xgb", "rf", "lgbm"}
    assert worst_exit_code(final) == ExitCode.OK


def test_failing_run_reports_its_exit_code(harness: Harness, tmp_path: Path) -> None:
    apply(harness.backend, write_spec(tmp_path))
    job = resolve_job(harness.backend, "contract")
    [run] = start_runs(harness.backend, job, plan_runs(job, env={"EXIT_CODE": "3"}, args=None))
    [done] = wait_for_runs(harness.backend, [run.id], timeout=harness.timeout)
    assert (done.state, done.exit_code) == (FAILED, 3)
    assert worst_exit_code([done]) == ExitCode.ERROR


def test_cancel_ends_canceled(harness: Harness, tmp_path: Path) -> None:
    apply(harness.backend, write_spec(tmp_path))
    job = resolve_job(harness.backend, "contract")
    [run] = start_runs(harness.backend, job, plan_runs(job, env={"SLEEP": "60"}, args=None))
    harness.backend.cancel_run(run_id=run.id)
    [done] = wait_for_runs(harness.backend, [run.id], timeout=harness.timeout)
    assert done.state == CANCELED
    assert worst_exit_code([done]) == ExitCode.CANCELED


def test_follow_logs_yields_each_line_once_and_ends(harness: Harness, tmp_path: Path) -> None:
    apply(harness.backend, write_spec(tmp_path))
    job = resolve_job(harness.backend, "contract")
    [run] = start_runs(harness.backend, job, plan_runs(job, env={"MODEL": "rf"}, args=None))
    events = list(follow_logs(harness.backend, [run.id], timeout=harness.timeout))
    lines = [e.line.text for e in events if e.line]
    assert lines.count("MODEL=rf") == 1
    states = [e.run.state for e in events if e.run]
    assert states[-1] == SUCCEEDED


def test_delete_refuses_active_runs_then_deletes(harness: Harness, tmp_path: Path) -> None:
    apply(harness.backend, write_spec(tmp_path))
    job = resolve_job(harness.backend, "contract")
    [run] = start_runs(harness.backend, job, plan_runs(job, env={"SLEEP": "60"}, args=None))
    harness.started(run.id)
    with pytest.raises(ConflictError):
        harness.backend.delete_job(job_id=job.id)
    harness.backend.cancel_run(run_id=run.id)
    wait_for_runs(harness.backend, [run.id], timeout=harness.timeout)
    assert not harness.backend.list_runs(job_id=job.id, states=ACTIVE_STATES)
    harness.backend.delete_job(job_id=job.id)
    assert managed(harness.backend) == []


def test_unknown_ids_are_not_found(harness: Harness) -> None:
    with pytest.raises(NotFoundError):
        harness.backend.get_run(run_id=harness.missing_run_id)
    with pytest.raises(NotFoundError):
        harness.backend.get_job(job_id=harness.missing_job_id)


def test_update_with_a_stale_etag_is_a_conflict(harness: Harness, tmp_path: Path) -> None:
    apply(harness.backend, write_spec(tmp_path))
    job = resolve_job(harness.backend, "contract")
    assert job.definition is not None
    harness.backend.update_job(job_id=job.id, definition=replace(job.definition, description="x"), etag=job.etag)
    with pytest.raises(ConflictError):
        harness.backend.update_job(job_id=job.id, definition=replace(job.definition, description="y"), etag=job.etag)


def test_retry_tokens_make_creates_idempotent(harness: Harness, tmp_path: Path) -> None:
    desired = write_spec(tmp_path)
    first = harness.backend.create_job(definition=desired.definition, artifact=desired.artifact, retry_token="t-1")
    second = harness.backend.create_job(definition=desired.definition, artifact=desired.artifact, retry_token="t-1")
    assert first.id == second.id
    job = resolve_job(harness.backend, first.id)
    [request] = plan_runs(job, env={}, args=None, idempotency_key="ci-42")
    one = harness.backend.start_run(job_id=job.id, name="r", env=request.env, args=request.args,
                                    retry_token=request.retry_token)
    two = harness.backend.start_run(job_id=job.id, name="r", env=request.env, args=request.args,
                                    retry_token=request.retry_token)
    assert one.id == two.id
    assert len(harness.backend.list_runs(job_id=job.id)) == 1


def test_runs_are_listed_a_page_at_a_time_without_skipping_or_repeating(harness: Harness, tmp_path: Path) -> None:
    """`runs --page`: each page resumes after the last run of the one before, even when runs start in between."""
    from jobctl.backends.listing import RunStream

    backend = harness.backend
    apply(backend, write_spec(tmp_path))
    job = resolve_job(backend, "contract")
    first = start_runs(backend, job, plan_runs(job, env={}, args=None, matrix=parse_matrix(["MODEL=a,b,c,d,e,f,g"])),
                       max_parallel=3)
    newest_first = [r.id for r in backend.list_runs(job_id=job.id)]
    assert sorted(newest_first) == sorted(r.id for r in first)

    def page(token: str | None) -> tuple[list[str], RunStream]:
        stream = backend.stream_runs(job_ids=[job.id], after=token)
        return [r.id for _, r in zip(range(3), stream, strict=False)], stream

    one, stream = page(None)
    assert one == newest_first[:3]
    later = start_runs(backend, job, plan_runs(job, env={}, args=None, matrix=parse_matrix(["MODEL=h,i"])),
                       max_parallel=2)  # started between pages: not on the later pages
    two, stream = page(stream.token())
    three, stream = page(stream.token())
    assert two + three == newest_first[3:]
    assert not set(two + three) & {r.id for r in later}
    assert next(backend.stream_runs(job_ids=[job.id], after=stream.token()), None) is None
    assert stream.total() in (None, 9)  # a backend that counts counts them all
    with pytest.raises(UsageError, match="another listing"):
        backend.stream_runs(job_ids=[job.id], states=["FAILED"], after=stream.token())
    with pytest.raises(UsageError, match="not a page token"):
        backend.stream_runs(after="garbage")

    named = backend.find_runs(first[0].name, job_id=job.id)
    assert [r.id for r in named] == [first[0].id]
    by_prefix = backend.find_runs(first[0].id[:-2], job_id=job.id)
    assert first[0].id in [r.id for r in by_prefix]
    assert backend.find_runs("no-such-run") == []
    wait_for_runs(backend, [r.id for r in (*first, *later)], timeout=harness.timeout)

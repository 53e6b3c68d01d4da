"""The Backend protocol as callers use it, on every backend: its members, scoping, tail, the plain
log copy and artifact download."""

from __future__ import annotations

import inspect
import io
import zipfile
from pathlib import Path

from jobctl.backends.base import Backend
from jobctl.engine.apply import apply_plan, build_plan
from jobctl.engine.follow import wait_for_runs
from jobctl.engine.resolve import resolve_job
from jobctl.engine.runs import plan_runs, start_runs
from jobctl.model.definition import replace
from jobctl.model.job import SUCCEEDED
from jobctl.plan.desired import desired_job
from tests.contract.harness import Harness
from tests.contract.test_backend_contract import COMPARTMENT, PROJECT, apply, write_spec

OTHER_PROJECT = "ocid1.datascienceproject.oc1.iad.other"


def test_the_backend_has_every_member_of_the_protocol_with_its_signature(harness: Harness) -> None:
    members = [name for name in dir(Backend) if not name.startswith("_")]
    assert {"poll_interval", "copy_log_text", "tail_logs", "download_artifact"} <= {*members, "poll_interval"}
    assert isinstance(harness.backend.poll_interval, float | int)
    assert isinstance(harness.backend.name, str)
    for name in members:
        wanted = inspect.signature(getattr(Backend, name))
        given = inspect.signature(getattr(harness.backend, name))
        expected = [(p.name, p.kind) for p in wanted.parameters.values() if p.name != "self"]
        assert [(p.name, p.kind) for p in given.parameters.values()] == expected, name


def test_jobs_are_listed_by_compartment_and_project(harness: Harness, tmp_path: Path) -> None:
    mine = write_spec(tmp_path / "a", name="mine")
    written = write_spec(tmp_path / "b", name="theirs").spec
    theirs = desired_job(written.replace(definition=replace(written.definition, project_id=OTHER_PROJECT)))
    apply_plan(harness.backend, build_plan(harness.backend, [mine]))
    apply_plan(harness.backend, build_plan(harness.backend, [theirs]))

    def names(**scope: str) -> set[str]:
        return {j.managed_name or "" for j in harness.backend.list_jobs(**scope) if j.managed}

    assert names(compartment_id=COMPARTMENT, project_id=PROJECT) == {"mine"}
    assert names(compartment_id=COMPARTMENT, project_id=OTHER_PROJECT) == {"theirs"}
    assert names(compartment_id=COMPARTMENT) == {"mine", "theirs"}
    assert names(compartment_id="ocid1.compartment.oc1..elsewhere") == set()


def finished_run(harness: Harness, tmp_path: Path) -> tuple[str, list[str]]:
    """A run that has ended, and every line of its log (each backend's workload prints its own way)."""
    apply(harness.backend, write_spec(tmp_path))
    job = resolve_job(harness.backend, "contract")
    [run] = start_runs(harness.backend, job, plan_runs(job, env={"MODEL": "xgb"}, args=["--epochs", "2"]))
    [done] = wait_for_runs(harness.backend, [run.id], timeout=harness.timeout)
    assert done.state == SUCCEEDED
    lines = harness.log_text(run.id).splitlines()
    assert len(lines) >= 2
    assert "MODEL=xgb" in lines
    return run.id, lines


def test_tail_gives_the_last_lines_and_a_cursor_past_them(harness: Harness, tmp_path: Path) -> None:
    run_id, lines = finished_run(harness, tmp_path)

    batch = harness.backend.tail_logs(run_id=run_id, lines=1)

    assert [line.text for line in batch.lines] == lines[-1:]
    after = harness.backend.read_logs(run_id=run_id, cursor=batch.cursor)
    assert after.lines == ()
    assert [line.text for line in harness.backend.tail_logs(run_id=run_id, lines=len(lines) + 5).lines] == lines


def test_the_plain_log_copy_is_the_whole_log_as_text(harness: Harness, tmp_path: Path) -> None:
    run_id, lines = finished_run(harness, tmp_path)
    out = io.BytesIO()

    harness.backend.copy_log_text(run_id=run_id, out=out)

    assert out.getvalue().decode() == "".join(line + "\n" for line in lines)


def test_the_artifact_downloads_as_it_was_uploaded(harness: Harness, tmp_path: Path) -> None:
    desired = write_spec(tmp_path)
    apply(harness.backend, desired)
    job = resolve_job(harness.backend, "contract")
    target = tmp_path / "download"
    target.mkdir()

    path = harness.backend.download_artifact(job_id=job.id, directory=target)

    assert path is not None
    assert path.parent == target
    assert desired.artifact is not None
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert any(name.endswith("workload.py") for name in names)

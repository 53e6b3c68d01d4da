"""Data Flow applications on the local backend (issue 17): held beside jobs, run as real Spark by the run
supervisor, their runs ordinary local runs (wait, logs, cancel, gc)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from jobctl.backends.local import LocalBackend, gc
from jobctl.engine.follow import wait_for_runs
from jobctl.errors import ConflictError
from jobctl.model.application import ApplicationDefinition
from jobctl.model.definition import replace
from jobctl.model.job import CANCELED, FAILED, SUCCEEDED
from jobctl.spec.load import load_specs
from tests.conftest import EXAMPLES

WORDCOUNT = EXAMPLES / "wordcount"
TAGS = {"jobctl-managed": "true", "jobctl-name": "wordcount"}


def wordcount() -> tuple[ApplicationDefinition, Path]:
    [app] = load_specs([str(WORDCOUNT)], {}).applications
    assert app.source is not None
    return app.definition, app.source


def log_text(backend: LocalBackend, run_id: str) -> str:
    out = io.BytesIO()
    backend.copy_log_text(run_id=run_id, out=out)
    return out.getvalue().decode()


def test_an_application_is_held_read_back_updated_in_place_and_made_once_per_retry_token(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, java=shutil.which("java"))
    app, source = wordcount()
    app_id = backend.dataflow.create(app, TAGS, "t1", source=source)
    assert backend.dataflow.create(app, TAGS, "t1", source=source) == app_id
    etag, read, kept = backend.dataflow.read(app_id)
    assert read == app.with_tags(TAGS)
    assert Path(kept).read_bytes() == source.read_bytes()  # kept by its digest, as a job's artifact is
    backend.dataflow.update(app_id, replace(app, num_executors=4), TAGS, etag=etag)
    assert backend.dataflow.read(app_id)[1].num_executors == 4
    with pytest.raises(ConflictError, match="changed since it was read"):
        backend.dataflow.update(app_id, app, TAGS, etag=etag)
    assert [i for i, _ in backend.dataflow.listed()] == [app_id]
    assert backend.list_jobs() == []  # applications are not jobs


def test_a_finished_run_of_an_application_is_not_taken_for_an_orphan_by_gc(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, java=shutil.which("java"))
    (tmp_path / "ok.py").write_text("print('ok')\n")
    app = ApplicationDefinition(name="ok", language="PYTHON", driver_shape="VM.Standard2.1",
                                executor_shape="VM.Standard2.1")
    app_id = backend.dataflow.create(app, TAGS, "t2", source=tmp_path / "ok.py")
    run = backend.dataflow.start(app, app_id, name="ok-1", env={"MODEL": "rf"}, retry_token="r1")
    [done] = wait_for_runs(backend, [run.id], timeout=60)
    assert (done.state, log_text(backend, run.id)) == (SUCCEEDED, "ok\n")
    assert [r.id for r in backend.dataflow.runs(app_id)] == [run.id]
    assert gc.collect(backend, keep_workdirs=5, older_than=None, dry_run=True).removals == []


def test_a_failing_application_fails_with_its_exit_code_and_a_cancel_ends_one_that_runs(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path, java=shutil.which("java"))
    (tmp_path / "fails.py").write_text("import sys, time\ntime.sleep(float(sys.argv[1]))\nsys.exit(3)\n")
    app = ApplicationDefinition(name="fails", language="PYTHON", driver_shape="VM.Standard2.1",
                                executor_shape="VM.Standard2.1", arguments=("0",))
    app_id = backend.dataflow.create(app, TAGS, "t3", source=tmp_path / "fails.py")
    run = backend.dataflow.start(app, app_id, name="fails-1", env={}, retry_token="r2")
    [done] = wait_for_runs(backend, [run.id], timeout=60)
    assert (done.state, done.exit_code) == (FAILED, 3)
    long = backend.dataflow.start(app, app_id, name="fails-2", env={}, retry_token="r3", arguments=["60"])
    with pytest.raises(ConflictError, match="has 1 run"):
        backend.dataflow.delete(app_id)  # not while it runs, as Data Flow refuses
    backend.dataflow.cancel(long.id)
    [canceled] = wait_for_runs(backend, [long.id], timeout=60)
    assert canceled.state == CANCELED
    backend.dataflow.delete(app_id)
    assert backend.dataflow.listed() == []


def test_a_database_from_before_applications_gets_their_table(tmp_path: Path) -> None:
    import sqlite3

    from jobctl.backends.local.store import SCHEMA

    old = sqlite3.connect(tmp_path / "state.db")
    old.executescript(SCHEMA.replace("CREATE TABLE IF NOT EXISTS applications", "CREATE TABLE IF NOT EXISTS x"))
    old.close()
    backend = LocalBackend(tmp_path, java=shutil.which("java"))
    assert backend.dataflow.listed() == []
    assert gc.collect(backend, keep_workdirs=5, older_than=None, dry_run=True).removals == []


def test_a_source_changed_between_plan_and_apply_is_refused_not_put_under_the_old_digest(tmp_path: Path) -> None:
    """The upload path holds the content digest the plan showed: other bytes under it would break "the same
    code is never uploaded twice" for good."""
    from jobctl.plan.applications import apply_application, plan_applications

    code = tmp_path / "app.py"
    code.write_text("print(1)\n")
    (tmp_path / "app.yaml").write_text(
        "apiVersion: jobctl/v1\nkind: DataFlowApplication\nmetadata: {name: racy}\nspec:\n  language: PYTHON\n"
        "  driverShape: VM.Standard2.1\n  executorShape: VM.Standard2.1\n  source: ./app.py\n")
    [spec] = load_specs([str(tmp_path / "app.yaml")], {}).applications
    backend = LocalBackend(tmp_path / "home", java=shutil.which("java"))
    [change], _, _ = plan_applications(backend.dataflow, [spec], "set")
    code.write_text("print(2)\n")  # while apply asks for confirmation
    with pytest.raises(ConflictError, match=r"app\.py changed since the plan was made"):
        apply_application(backend.dataflow, change)
    assert backend.dataflow.listed() == []

"""`jobctl wait`: block until runs end; the exit code mirrors them."""

from __future__ import annotations

import click

from jobctl.cli.complete import complete_active_runs, complete_jobs
from jobctl.cli.context import AppContext
from jobctl.cli.options import JOB_REF, RUN_REF, timeout_option
from jobctl.cli.output import Item, renders
from jobctl.cli.watch import wait_runs
from jobctl.errors import NotFoundError, UsageError


@click.command()
@click.argument("runs", nargs=-1, metavar="RUN...", type=RUN_REF, shell_complete=complete_active_runs)
@click.option("--job", "job", type=JOB_REF, shell_complete=complete_jobs,
              help="Wait for every active run of this job (and of its earlier generations).")
@timeout_option
@renders()
def command(app: AppContext, *, runs: tuple[str, ...], job: str | None, timeout: float | None) -> Item:
    """Wait until every RUN (or every active run of --job) is SUCCEEDED, FAILED or CANCELED.

    Exit code: 0 when all succeeded, else the worst: 1 FAILED, 8 CANCELED; 7 on --timeout. When --job
    has no active run, its newest run (of any generation) answers: a run that failed before `wait`
    started still fails the step. A job without runs: exit 4.

    \b
    Examples:
      jobctl wait run-mf3k2a1b
      jobctl wait $(jobctl run tune-models --matrix MODEL=xgb,rf) --timeout 2h
      jobctl wait --job tune-models
    """
    from jobctl.engine.resolve import resolve_run, runs_of_name
    from jobctl.model.job import ACTIVE_STATES

    if not runs and not job:
        raise UsageError("name the runs to wait for, or --job JOB")
    backend = app.backend()
    resolved = [resolve_run(backend, ref) for ref in runs]
    if job:
        active = runs_of_name(backend, job, states=ACTIVE_STATES)
        if not active:  # the run a CI step started may have ended already: its result is still the answer
            newest = runs_of_name(backend, job, limit=1)
            if not newest:
                raise NotFoundError(f"job {job!r} has no runs", hint=f"start one with `jobctl run {job}`")
            app.info(f"no active runs; the newest, {newest[0].name} ({newest[0].id}), is {newest[0].state}")
            active = newest
        resolved += active
    once = list({run.id: run for run in resolved}.values())  # `wait R R`, or R and --job: each run once
    return wait_runs(app, once, timeout=timeout)

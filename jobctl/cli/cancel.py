"""`jobctl cancel`: stop runs."""

from __future__ import annotations

import click

from jobctl.cli.complete import complete_active_runs, complete_jobs
from jobctl.cli.context import AppContext
from jobctl.cli.options import JOB_REF, RUN_REF, timeout_option
from jobctl.cli.output import Item, renders
from jobctl.cli.watch import run_list, wait_runs
from jobctl.errors import UsageError


@click.command()
@click.argument("runs", nargs=-1, metavar="RUN...", type=RUN_REF, shell_complete=complete_active_runs)
@click.option("--job", "job", type=JOB_REF, shell_complete=complete_jobs,
              help="Cancel every active run of this job (and of its earlier generations).")
@click.option("-w", "--wait", is_flag=True, help="Wait until the runs have ended.")
@timeout_option
@renders()
def command(app: AppContext, *, runs: tuple[str, ...], job: str | None, wait: bool, timeout: float | None) -> Item:
    """Cancel RUNs (or all active runs of --job). The workload gets SIGTERM, then SIGKILL after a grace period.

    \b
    Examples:
      jobctl cancel run-mf3k2a1b
      jobctl cancel --job tune-models --wait
    """
    from jobctl.engine.runs import cancel_runs, cancel_targets, raise_for_failures

    if not runs and not job:
        raise UsageError("name the runs to cancel, or --job JOB")
    backend = app.backend()
    targets = cancel_targets(backend, runs, job)
    if not targets:
        app.info("no active runs")
        return run_list(app, [])
    canceled, failed = cancel_runs(backend, targets, on_canceled=lambda r: app.info(f"{r.name} ({r.id}): {r.state}"))
    for run, error in failed:
        app.info(f"{run.name} ({run.id}): not canceled: {error.message}")
    raise_for_failures(failed, len(targets))
    return wait_runs(app, canceled, timeout=timeout) if wait else run_list(app, canceled)

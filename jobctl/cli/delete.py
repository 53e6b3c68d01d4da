"""`jobctl delete`: remove jobs."""

from __future__ import annotations

import click

from jobctl.cli.apply import confirm_destructive
from jobctl.cli.complete import complete_jobs
from jobctl.cli.context import AppContext
from jobctl.cli.options import pass_app
from jobctl.errors import ConflictError, UsageError
from jobctl.model.job import ACTIVE_STATES


@click.command()
@click.argument("jobs", nargs=-1, required=True, metavar="JOB...", shell_complete=complete_jobs)
@click.option("--force", is_flag=True, help="Cancel active runs first; also delete jobs jobctl does not manage.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def command(app: AppContext, *, jobs: tuple[str, ...], force: bool, yes: bool) -> None:
    """Delete jobs. Refuses while a job has active runs, unless --force (which cancels them first).

    \b
    Examples:
      jobctl delete hello --yes
      jobctl delete tune-models --force --yes
    """
    from jobctl.engine import resolve_job, wait_for_runs

    backend = app.backend()
    targets = [resolve_job(backend, ref) for ref in jobs]
    for job in targets:
        if not job.managed and not force:
            raise UsageError(f"job {job.name!r} ({job.id}) is not managed by jobctl", hint="pass --force to delete it")
        active = backend.list_runs(job_id=job.id, states=ACTIVE_STATES)
        if active and not force:
            raise ConflictError(
                f"job {job.name!r} has {len(active)} active run(s)",
                hint="cancel them (`jobctl cancel --job NAME`) or pass --force",
            )
    confirm_destructive(app, yes, f"delete {len(targets)} job(s): {', '.join(j.name for j in targets)}")
    for job in targets:
        active = backend.list_runs(job_id=job.id, states=ACTIVE_STATES)
        for run in active:
            backend.cancel_run(run_id=run.id)
        if active:
            wait_for_runs(backend, [r.id for r in active])
        backend.delete_job(job_id=job.id)
        app.info(f"deleted {job.managed_name or job.name} ({job.id})")

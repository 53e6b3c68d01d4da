"""`jobctl delete`: remove jobs."""

from __future__ import annotations

import click

from jobctl.cli.apply import confirm_destructive
from jobctl.cli.complete import complete_jobs
from jobctl.cli.context import AppContext
from jobctl.cli.options import JOB_REF, pass_app


@click.command()
@click.argument("jobs", nargs=-1, required=True, metavar="JOB...", type=JOB_REF, shell_complete=complete_jobs)
@click.option("--force", is_flag=True, help="Cancel active runs first; also delete jobs jobctl does not manage.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def command(app: AppContext, *, jobs: tuple[str, ...], force: bool, yes: bool) -> None:
    """Delete jobs, with their runs and earlier generations (jobs an apply replaced). Refuses while
    any of them has active runs, unless --force (which cancels them first).

    \b
    Examples:
      jobctl delete hello --yes
      jobctl delete tune-models --force --yes
    """
    from jobctl.engine.apply import check_deletable, delete_jobs
    from jobctl.engine.resolve import generations, resolve_job

    backend = app.backend()
    named = [resolve_job(backend, ref) for ref in jobs]
    targets = list({job.id: job for current in named for job in generations(backend, current)}.values())
    check_deletable(backend, targets, force=force)
    earlier = len(targets) - len(named)
    also = f" and {earlier} earlier generation(s)" if earlier else ""
    confirm_destructive(app, yes, f"delete {len(named)} job(s){also} with their runs: "
                                  f"{', '.join(j.managed_name or j.name for j in named)}")
    delete_jobs(backend, targets, on_deleted=lambda job: app.info(f"deleted {job.managed_name or job.name} ({job.id})"))

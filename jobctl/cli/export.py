"""`jobctl export`: write jobctl/v1 specs (and their source) for jobs that exist."""

from __future__ import annotations

from pathlib import Path

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import pass_app
from jobctl.errors import UsageError


@click.command()
@click.argument("jobs", nargs=-1, metavar="JOB...")
@click.option("--all", "every", is_flag=True, help="Every active job, managed by jobctl or not.")
@click.option("-d", "--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Write DIR/NAME/job.yaml and the job's source next to it.")
@pass_app
def command(app: AppContext, *, jobs: tuple[str, ...], every: bool, directory: str) -> None:
    """Write a spec for existing jobs, including ones made in the console, with their source.

    The artifact is downloaded next to the spec (a zip unpacked into src/). Apply the export with
    --adopt (or run `jobctl adopt`) to take the job over: it is tagged as managed, and the next plan
    shows no changes.

    \b
    Examples:
      jobctl export hello -d exported/
      jobctl --backend oci export --all -d exported/
      jobctl apply exported/hello --adopt
    """
    from jobctl.engine import resolve_job
    from jobctl.export import export_job

    if not jobs and not every:
        raise UsageError("name the jobs to export, or --all")
    backend = app.backend()
    targets = [j for j in backend.list_jobs() if j.lifecycle_state == "ACTIVE"] if every else \
        [resolve_job(backend, ref) for ref in jobs]
    for job in targets:
        spec = export_job(backend, job, Path(directory))
        click.echo(str(spec))

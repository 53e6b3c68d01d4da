"""`jobctl jobs`: list jobs."""

from __future__ import annotations

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import output_option, pass_app
from jobctl.render.human import print_jobs
from jobctl.render.machine import dumps, envelope, job_dict


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Include jobs jobctl does not manage.")
@output_option()
@pass_app
def command(app: AppContext, *, show_all: bool, output: str | None) -> None:
    """List the jobs in the backend (managed by jobctl, or all with --all).

    \b
    Examples:
      jobctl jobs
      jobctl jobs --all -o json
    """
    jobs = [j for j in app.backend().list_jobs() if show_all or j.managed]
    fmt = app.output_format(output)
    if fmt == "table":
        print_jobs(app.printer(), jobs)
    else:
        click.echo(dumps(envelope("JobList", [job_dict(j) for j in jobs]), fmt), nl=False)

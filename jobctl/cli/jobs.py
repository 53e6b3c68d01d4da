"""`jobctl jobs`: list jobs."""

from __future__ import annotations

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import listing_options
from jobctl.cli.output import Listing, renders
from jobctl.plan.generations import earlier_generations
from jobctl.render.human import job_row
from jobctl.render.machine import job_dict


@click.command()
@listing_options("jobs")
@renders()
def command(app: AppContext, *, show_all: bool, history: bool) -> Listing:
    """List the jobs in the backend (managed by jobctl, or all with --all).

    A name has one current job. A replace keeps the old job while it has runs (docs/sets.md); such
    earlier generations are listed with --history, marked superseded. `runs NAME` spans them all.

    \b
    Examples:
      jobctl jobs
      jobctl jobs --history
      jobctl jobs --all -o json
    """
    listed = [j for j in app.backend().list_jobs() if show_all or j.managed]
    earlier = earlier_generations(listed)
    jobs = [j for j in listed if history or j.id not in earlier]

    def footer(app: AppContext) -> None:
        if earlier and not history:
            app.info(f"{len(earlier)} earlier generation(s) not shown; --history lists them")

    return Listing("JobList", jobs, lambda j: job_dict(j) | {"superseded": j.id in earlier},
                   ["NAME", "ID", "STATE", "MANAGED", "CREATED"], lambda j: job_row(j, earlier), footer=footer,
                   empty="No jobs found.")

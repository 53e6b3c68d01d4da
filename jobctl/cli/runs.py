"""`jobctl runs`: list runs, newest first."""

from __future__ import annotations

import click

from jobctl.cli.complete import complete_jobs
from jobctl.cli.context import AppContext
from jobctl.cli.options import JOB_REF, output_option, pass_app, show_secrets_option
from jobctl.model.state import RUN_STATES
from jobctl.render.human import print_runs
from jobctl.render.machine import dumps, envelope, run_dict


@click.command()
@click.argument("job", required=False, type=JOB_REF, shell_complete=complete_jobs)
@click.option("-s", "--state", "states", multiple=True, type=click.Choice(RUN_STATES, case_sensitive=False),
              help="Only runs in this state (repeatable).")
@click.option("-n", "--limit", type=click.IntRange(1, 100_000), default=50, show_default=True,
              help="At most this many runs.")
@show_secrets_option
@output_option()
@pass_app
def command(
    app: AppContext, *, job: str | None, states: tuple[str, ...], limit: int, show_secrets: bool, output: str | None,
) -> None:
    """List runs of JOB (or of every job), newest first.

    JOB's runs include those of the jobs an apply replaced (its earlier generations).

    \b
    Examples:
      jobctl runs
      jobctl runs tune-models --state FAILED
      jobctl runs hello -n 5 -o json
    """
    backend = app.backend()
    wanted = [s.upper() for s in states] or None
    if job:  # every generation of the name: the runs of jobs an apply replaced too
        from jobctl.engine.resolve import runs_of_name

        runs = runs_of_name(backend, job, states=wanted, limit=limit)
    else:
        runs = backend.list_runs(states=wanted, limit=limit)
    fmt = app.output_format(output)
    if fmt == "table":
        print_runs(app.printer(), runs)
    else:
        click.echo(dumps(envelope("RunList", [run_dict(r, show_secrets) for r in runs]), fmt), nl=False)

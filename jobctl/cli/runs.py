"""`jobctl runs`: list runs, newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.core import ParameterSource

from jobctl.cli.complete import complete_jobs
from jobctl.cli.context import AppContext
from jobctl.cli.options import JOB_REF, TEXT, show_secrets_option
from jobctl.cli.output import Listing, renders
from jobctl.errors import UsageError
from jobctl.model.state import RUN_STATES, RunState


@click.command()
@click.argument("job", required=False, type=JOB_REF, shell_complete=complete_jobs)
@click.option("-s", "--state", "states", multiple=True, type=click.Choice(RUN_STATES, case_sensitive=False),
              help="Only runs in this state (repeatable).")
@click.option("-n", "--limit", type=click.IntRange(1, None), default=50, show_default=True,
              help="At most this many runs (a page).")
@click.option("--all", "show_all", is_flag=True, help="Every run, however many (written as they are read).")
@click.option("--page", "page", type=TEXT, metavar="TOKEN",
              help="The page after the one that printed TOKEN (`nextPage` in -o json; the hint after a table).")
@show_secrets_option
@renders()
def command(
    app: AppContext, *, job: str | None, states: tuple[str, ...], limit: int, show_all: bool, page: str | None,
    show_secrets: bool,
) -> Listing:
    """List runs of JOB (or of every job), newest first: the newest 50, or -n N, or --all.

    JOB's runs include those of the jobs an apply replaced (its earlier generations). When more runs
    follow, a table is followed (on stderr) by how many there are and the command for the next page;
    -o json and -o yaml carry `total` (where the backend can count: local) and `nextPage` (a token for
    --page, null on the last page). A page resumes after the last run of the one before, so runs started
    in between do not shift it.

    \b
    Examples:
      jobctl runs
      jobctl runs tune-models --state FAILED
      jobctl runs hello -n 5 -o json
      jobctl runs hello --page eyJsIjoi...       # the next page
      jobctl runs --all -o json > runs.json
    """
    from jobctl.render.human import RUN_HEADERS, run_row, state_style
    from jobctl.render.machine import run_dict

    if show_all and click.get_current_context().get_parameter_source("limit") is ParameterSource.COMMANDLINE:
        raise UsageError("--all lists every run: give either --all or -n")
    if page is not None and not page.strip():
        raise UsageError("--page '': an empty token (an unset variable?)")
    backend = app.backend()
    wanted = [s.upper() for s in states] or None
    job_ids = None
    if job:  # every generation of the name: the runs of jobs an apply replaced too
        from jobctl.engine.resolve import ids_of_name

        job_ids = ids_of_name(backend, job)
    stream = backend.stream_runs(job_ids=job_ids, states=wanted, after=page)
    next_page: list[str | None] = [None]

    def taken() -> Iterator[RunState]:
        after_last = None
        for count, run in enumerate(stream):
            if count == limit and not show_all:  # one more than shown: a next page, after the last one shown
                next_page[0] = after_last
                return
            yield run
            if count + 1 == limit:  # where the next page starts (a token costs: not for every run of --all)
                after_last = stream.token()

    total = stream.total()

    def footer(app: AppContext) -> None:
        if next_page[0]:
            shown = f"{limit} of {total} runs" if total is not None else f"{limit} run{'s' if limit != 1 else ''}"
            app.info(f"showing {shown} ({'after the page given' if page else 'the newest'}); next page: "
                     f"{_again(next_page[0])} (or -n N, --all)")

    return Listing(
        "RunList", taken(), lambda run: run_dict(run, show_secrets),
        RUN_HEADERS, run_row, styles={2: state_style}, head={"total": total},
        tail=lambda: {"nextPage": next_page[0]}, footer=footer, empty="No runs found.")


def _again(token: str) -> str:
    """This command line as it was given (its global options too), for the page after `token`."""
    import shlex  # here: only a listing with a next page needs it

    from jobctl.cli.app import ARGV

    given = click.get_current_context().find_root().meta.get(ARGV, [])
    kept = [arg for index, arg in enumerate(given) if not (arg == "--page" or arg.startswith("--page=")
                                                           or (index and given[index - 1] == "--page"))]
    return shlex.join(["jobctl", *kept, f"--page={token}"])

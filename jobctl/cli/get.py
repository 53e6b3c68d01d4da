"""`jobctl get`: one job or run in detail."""

from __future__ import annotations

import click

from jobctl.cli.complete import complete_jobs_and_runs
from jobctl.cli.context import AppContext
from jobctl.cli.options import Ref, show_secrets_option
from jobctl.cli.output import Item, renders
from jobctl.errors import NotFoundError
from jobctl.render.human import print_job, print_run
from jobctl.render.machine import job_dict, run_dict


@click.command()
@click.argument("ref", metavar="JOB|RUN", type=Ref("job or run"), shell_complete=complete_jobs_and_runs)
@show_secrets_option
@renders()
def command(app: AppContext, *, ref: str, show_secrets: bool) -> Item:
    """Show a job, a Data Flow application or a run, by name, id or unique id prefix.

    \b
    Examples:
      jobctl get hello
      jobctl get wordcount                 # a Data Flow application
      jobctl get run-mf3k2a1b -o json
    """
    from jobctl.engine.resolve import application_generations, resolve_job, resolve_run

    backend = app.backend()
    try:
        job = resolve_job(backend, ref)
    except NotFoundError:
        applications = application_generations(backend, ref)
        if applications:
            return _application(app, applications[0], show_secrets)
        try:
            run = resolve_run(backend, ref)
        except NotFoundError:
            raise NotFoundError(f"no job, application or run {ref!r}",
                                hint="list them with `jobctl jobs` / `jobctl runs`") from None
        return Item(lambda: {"apiVersion": "jobctl/v1", "kind": "Run", **run_dict(run, show_secrets)},
                    lambda app: print_run(app.printer(), run, show_secrets=show_secrets))
    return Item(lambda: {"apiVersion": "jobctl/v1", "kind": "Job", **job_dict(job, show_secrets)},
                lambda app: print_job(app.printer(), job, show_secrets=show_secrets))


def _application(app: AppContext, application_id: str, show_secrets: bool) -> Item:
    from jobctl.render.human import print_application
    from jobctl.render.machine import application_dict

    _, definition, _ = app.backend().dataflow.read(application_id)  # type: ignore[attr-defined]
    return Item(lambda: application_dict(application_id, definition, show_secrets),
                lambda app: print_application(app.printer(), application_id, definition, show_secrets=show_secrets))

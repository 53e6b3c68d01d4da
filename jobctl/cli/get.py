"""`jobctl get`: one job or run in detail."""

from __future__ import annotations

import click

from jobctl.cli.complete import complete_jobs_and_runs
from jobctl.cli.context import AppContext
from jobctl.cli.options import Ref, output_option, pass_app, show_secrets_option
from jobctl.errors import NotFoundError
from jobctl.render.human import print_job, print_run
from jobctl.render.machine import dumps, job_dict, run_dict


@click.command()
@click.argument("ref", metavar="JOB|RUN", type=Ref("job or run"), shell_complete=complete_jobs_and_runs)
@show_secrets_option
@output_option()
@pass_app
def command(app: AppContext, *, ref: str, show_secrets: bool, output: str | None) -> None:
    """Show a job, a Data Flow application or a run, by name, id or unique id prefix.

    \b
    Examples:
      jobctl get hello
      jobctl get wordcount                 # a Data Flow application
      jobctl get run-mf3k2a1b -o json
    """
    from jobctl.engine.resolve import application_generations, resolve_job, resolve_run

    backend = app.backend()
    fmt = app.output_format(output)
    try:
        job = resolve_job(backend, ref)
    except NotFoundError:
        applications = application_generations(backend, ref)
        if applications:
            _show_application(app, applications[0], fmt, show_secrets)
            return
        try:
            run = resolve_run(backend, ref)
        except NotFoundError:
            raise NotFoundError(f"no job, application or run {ref!r}",
                                hint="list them with `jobctl jobs` / `jobctl runs`") from None
        if fmt == "table":
            print_run(app.printer(), run, show_secrets=show_secrets)
        else:
            click.echo(dumps({"apiVersion": "jobctl/v1", "kind": "Run", **run_dict(run, show_secrets)}, fmt), nl=False)
        return
    if fmt == "table":
        print_job(app.printer(), job, show_secrets=show_secrets)
    else:
        click.echo(dumps({"apiVersion": "jobctl/v1", "kind": "Job", **job_dict(job, show_secrets)}, fmt), nl=False)


def _show_application(app: AppContext, application_id: str, fmt: str, show_secrets: bool) -> None:
    from jobctl.render.human import print_application
    from jobctl.render.machine import application_dict

    _, definition, _ = app.backend().dataflow.read(application_id)  # type: ignore[attr-defined]
    if fmt == "table":
        print_application(app.printer(), application_id, definition, show_secrets=show_secrets)
    else:
        click.echo(dumps(application_dict(application_id, definition, show_secrets), fmt), nl=False)

"""`jobctl export`: write jobctl/v1 specs (and their source) for jobs that exist."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import JOB_REF
from jobctl.cli.output import Item, renders
from jobctl.errors import UsageError

if TYPE_CHECKING:
    from jobctl.backends.base import Backend
    from jobctl.model.job import JobState


@click.command()
@click.argument("jobs", nargs=-1, metavar="JOB...", type=JOB_REF)
@click.option("--all", "every", is_flag=True, help="Every active job, managed by jobctl or not.")
@click.option("-d", "--dir", "directory", type=click.Path(file_okay=False), default=".", show_default=True,
              help="Write DIR/NAME/job.yaml and the job's source next to it.")
@click.option("--include-secrets", is_flag=True,
              help="Write secret env values into the spec instead of ${NAME} references.")
@renders()
def command(app: AppContext, *, jobs: tuple[str, ...], every: bool, directory: str, include_secrets: bool) -> Item:
    """Write a spec for existing jobs (or Data Flow applications), including ones made in the console, with
    their source.

    The artifact is downloaded next to the spec (a zip unpacked into src/). Apply the export with
    --adopt (or run `jobctl adopt`) to take the job over: it is tagged as managed, and the next plan
    shows no changes. Specs are written mode 0600; the values of secret env vars (TOKEN, PASSWORD,
    KEY, … in the name) are written as ${NAME}, to be set in the environment of `jobctl apply`,
    unless --include-secrets. Each spec is validated as written: where the job holds a value a
    jobctl/v1 spec does not accept, the problems are listed and the exit code is 3 (the files are
    written, to be edited).

    \b
    Examples:
      jobctl export hello -d exported/
      jobctl --backend oci export --all -d exported/
      jobctl apply exported/hello --adopt
      jobctl export wordcount -d exported/     # a Data Flow application: application.yaml and its code
    """
    from jobctl.errors import Diagnostic, SpecError
    from jobctl.export import export_application, export_job
    from jobctl.secrets import MIN_SECRET_LENGTH
    from jobctl.spec.load import load_specs

    if not jobs and not every:
        raise UsageError("name the jobs to export, or --all")
    backend = app.backend()
    targets: list[JobState | str]
    if every:  # each name once: its current job, not the earlier generations kept for their runs
        from jobctl.plan.generations import earlier_generations

        listed = [j for j in backend.list_jobs() if j.lifecycle_state == "ACTIVE"]
        earlier = earlier_generations(listed)
        targets = [j for j in listed if j.id not in earlier]
    else:
        targets = [_target(backend, ref) for ref in jobs]
    items = []
    problems: list[Diagnostic] = []
    for job in targets:
        if isinstance(job, str):  # a Data Flow application's id
            exported = export_application(backend.dataflow, job, Path(directory),  # type: ignore[attr-defined]
                                          include_secrets=include_secrets)
        else:
            exported = export_job(backend, job, Path(directory), include_secrets=include_secrets)
        # what OCI holds but a jobctl/v1 spec does not accept (a probe period over an hour, ...) is said now
        placeholders = dict.fromkeys(exported.referenced, "x" * MIN_SECRET_LENGTH)
        found = load_specs([str(exported.spec)], {**app.environ, **placeholders}, build=False).diagnostics
        problems += found
        items.append({**({"applicationId": job} if isinstance(job, str) else {"jobId": job.id}),
                      "spec": str(exported.spec), "secretEnvReferences": list(exported.referenced),
                      "problems": [str(d) for d in found]})
        if exported.referenced:
            names = ", ".join(exported.referenced)
            app.info(f"{exported.spec}: the values of {names} are written as ${{NAME}} references; "
                     "set them in the environment before applying (--include-secrets writes the values)")
    hint = ("the specs are written: edit what they say above (the job holds values a jobctl/v1 spec does not "
            "accept), then `jobctl validate` them")
    error = SpecError(problems, hint=hint) if problems else None
    return Item(lambda: {"apiVersion": "jobctl/v1", "kind": "ExportList", "items": items},
                lambda app: app.stdout.write("".join(f"{item['spec']}\n" for item in items)), error=error)


def _target(backend: Backend, ref: str) -> JobState | str:
    """The job `ref` names, else the id of the Data Flow application it names (by name, or by OCID wherever it
    is: one made in the console too)."""
    from jobctl.engine.resolve import application_generations, neither, resolve_job
    from jobctl.errors import NotFoundError

    try:
        return resolve_job(backend, ref)
    except NotFoundError as missing:
        found = application_generations(backend, ref)
        if not found:
            raise neither(backend, missing) from None
        return found[0]

"""`jobctl delete`: remove jobs."""

from __future__ import annotations

import click

from jobctl.cli.apply import confirm_destructive
from jobctl.cli.complete import complete_jobs
from jobctl.cli.context import AppContext
from jobctl.cli.options import JOB_REF, pass_app
from jobctl.errors import ConflictError, NotFoundError


@click.command()
@click.argument("jobs", nargs=-1, required=True, metavar="JOB...", type=JOB_REF, shell_complete=complete_jobs)
@click.option("--force", is_flag=True, help="Cancel active runs first; also delete jobs jobctl does not manage.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def command(app: AppContext, *, jobs: tuple[str, ...], force: bool, yes: bool) -> None:
    """Delete jobs, with their runs and earlier generations (jobs an apply replaced). Refuses while
    any of them has active runs, unless --force (which cancels them first).

    A Data Flow application named here (no job has its name) is deleted with its earlier generations; its
    runs stay, as on OCI. That is refused while one of its runs goes (Data Flow refuses it): cancel them first.

    \b
    Examples:
      jobctl delete hello --yes
      jobctl delete tune-models --force --yes
      jobctl delete wordcount --yes            # a Data Flow application
    """
    from jobctl.engine.apply import check_deletable, delete_jobs
    from jobctl.engine.resolve import generations, resolve_job

    backend = app.backend()
    named, applications = [], []
    for ref in jobs:
        try:
            named.append(resolve_job(backend, ref))
        except NotFoundError as missing:
            applications.append((ref, _application_ids(app, ref, missing, force=force)))
    if applications:
        _delete_applications(app, applications, yes=yes)
    if not named:
        return
    targets = list({job.id: job for current in named for job in generations(backend, current)}.values())
    check_deletable(backend, targets, force=force)
    earlier = len(targets) - len(named)
    also = f" and {earlier} earlier generation(s)" if earlier else ""
    confirm_destructive(app, yes, f"delete {len(named)} job(s){also} with their runs: "
                                  f"{', '.join(j.managed_name or j.name for j in named)}")
    delete_jobs(backend, targets, on_deleted=lambda job: app.info(f"deleted {job.managed_name or job.name} ({job.id})"))


def _application_ids(app: AppContext, ref: str, missing: NotFoundError, *, force: bool) -> list[str]:
    """The ids of application `ref` and its earlier generations, checked: jobctl's own (unless --force), none
    with a run going."""
    from jobctl.engine.resolve import application_generations, neither
    from jobctl.model.job import ACTIVE_STATES, TAG_MANAGED

    backend = app.backend()
    found = application_generations(backend, ref)
    if not found:
        raise neither(backend, missing) from None
    held = backend.dataflow  # type: ignore[attr-defined]
    for application_id in found:
        _, definition, _ = held.read(application_id)
        if definition.owner_tags.get(TAG_MANAGED) != "true" and not force:
            raise ConflictError(f"application {ref!r} ({application_id}) is not managed by jobctl",
                                hint="pass --force to delete it anyway")
        going = [run for run in held.runs(application_id) if run.state in ACTIVE_STATES]
        if going:
            raise ConflictError(f"application {ref!r} ({application_id}) has {len(going)} run(s) going; Data Flow "
                                "refuses to delete it", hint=f"cancel them first: jobctl cancel --job {ref} --wait")
    return found


def _delete_applications(app: AppContext, applications: list[tuple[str, list[str]]], *, yes: bool) -> None:
    ids = [application_id for _, found in applications for application_id in found]
    earlier = len(ids) - len(applications)
    also = f" and {earlier} earlier generation(s)" if earlier else ""
    confirm_destructive(app, yes, f"delete {len(applications)} Data Flow application(s){also} (their runs stay): "
                                  f"{', '.join(ref for ref, _ in applications)}")
    held = app.backend().dataflow  # type: ignore[attr-defined]
    for ref, found in applications:
        for application_id in found:
            held.delete(application_id)
            app.info(f"deleted application {ref} ({application_id})")

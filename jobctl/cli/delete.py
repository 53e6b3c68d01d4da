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
    runs stay, as on OCI. That is refused while one of its runs goes (Data Flow refuses it), unless --force,
    which cancels them and waits for them to end first.

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


CANCEL_WAIT_SECONDS = 600  # how long delete --force waits for an application's canceled runs to end


def _application_ids(app: AppContext, ref: str, missing: NotFoundError, *,
                     force: bool) -> list[tuple[str, str, list[str]]]:
    """Application `ref` and its earlier generations, checked: jobctl's own (unless --force), none with a run
    going (unless --force): (id, name, the ids of its runs going) each."""
    from jobctl.engine.resolve import application_generations, neither
    from jobctl.model.job import ACTIVE_STATES, TAG_MANAGED

    backend = app.backend()
    found = application_generations(backend, ref)
    if not found:
        raise neither(backend, missing) from None
    held = backend.dataflow  # type: ignore[attr-defined]
    checked = []
    for application_id in found:
        _, definition, _ = held.read(application_id)
        if definition.owner_tags.get(TAG_MANAGED) != "true" and not force:
            raise ConflictError(f"application {ref!r} ({application_id}) is not managed by jobctl",
                                hint="pass --force to delete it anyway")
        going = [run for run in held.runs(application_id) if run.state in ACTIVE_STATES]
        if going and not force:
            raise ConflictError(f"application {ref!r} ({application_id}) has {len(going)} run(s) going; Data Flow "
                                "refuses to delete it", hint="pass --force to cancel them first")
        checked.append((application_id, definition.name, [run.id for run in going]))
    return checked


def _delete_applications(app: AppContext, applications: list[tuple[str, list[tuple[str, str, list[str]]]]], *,
                         yes: bool) -> None:
    ids = [application_id for _, found in applications for application_id, _, _ in found]
    earlier = len(ids) - len(applications)
    also = f" and {earlier} earlier generation(s)" if earlier else ""
    canceled = " and cancel their runs going" if any(runs for _, found in applications for _, _, runs in found) else ""
    confirm_destructive(app, yes, f"delete {len(applications)} Data Flow application(s){also}{canceled} (their runs "
                                  "stay): "
                                  f"{', '.join(ref for ref, _ in applications)}")
    backend = app.backend()
    going = [run_id for _, found in applications for _, _, runs in found for run_id in runs]
    if going:  # --force: canceled, and waited for (Data Flow refuses the delete until they have ended)
        from jobctl.engine.follow import wait_for_runs

        for run_id in going:
            backend.cancel_run(run_id=run_id)
            app.info(f"canceling run {run_id}")
        wait_for_runs(backend, going, timeout=CANCEL_WAIT_SECONDS)
    held = backend.dataflow  # type: ignore[attr-defined]
    for _, found in applications:
        for application_id, name, _ in found:
            held.delete(application_id)
            app.info(f"deleted application {name} ({application_id})")

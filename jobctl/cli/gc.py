"""`jobctl gc`: reclaim the local backend's disk space."""

from __future__ import annotations

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import Duration
from jobctl.cli.output import Item, renders
from jobctl.errors import UsageError
from jobctl.render.machine import envelope


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    value, unit = count / 1024, "KB"
    for bigger in ("MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


@click.command()
@click.option("--keep-workdirs", type=click.IntRange(0, 100_000), default=None, metavar="N",
              help="Keep the work directories of each job's newest N finished runs "
                   "(default: JOBCTL_KEEP_WORKDIRS, else 5).")
@click.option("--older-than", type=Duration(), default=None,
              help="Also delete finished runs (record, log, outputs) created longer ago than this, e.g. 30d.")
@click.option("-n", "--dry-run", is_flag=True, help="Only show what would be removed.")
@renders()
def command(app: AppContext, *, keep_workdirs: int | None, older_than: float | None, dry_run: bool) -> Item:
    """Reclaim disk space of the local backend. Never touches an active run.

    Removes the work directories (unpacked artifact and scratch files) of finished runs beyond each
    job's newest N — as OCI discards a job run's block volume — while keeping their logs and
    outputs; the runs of deleted jobs; artifacts no job uses (older than an hour, so an apply in
    flight keeps its own); and, with --older-than, whole finished runs older than that. Starting a
    run already prunes that job's work directories to the newest N.

    \b
    Examples:
      jobctl gc --dry-run
      jobctl gc --keep-workdirs 0 --older-than 30d
    """
    from jobctl.backends.local import LocalBackend, gc

    backend = app.backend()
    if not isinstance(backend, LocalBackend):
        raise UsageError("gc reclaims the local backend's disk; on OCI the service manages storage",
                         hint="run it with --backend local")
    keep = backend.keep_workdirs if keep_workdirs is None else keep_workdirs
    report = gc.collect(backend, keep_workdirs=keep, older_than=older_than, dry_run=dry_run)
    items = [{"kind": r.kind, "path": str(r.path), "bytes": r.size, "runId": r.run_id} for r in report.removals]

    def said(app: AppContext) -> None:
        verb = "Would remove" if dry_run else "Removed"
        parts = [f"{report.count(kind)} {label}" for kind, label in (
            ("workdir", "work directories"), ("run", "runs"), ("artifact", "artifacts"), ("partial", "partial files"))]
        lines = [f"{verb} {', '.join(parts)}: {_size(report.freed)}{' would be' if dry_run else ''} freed."]
        if app.verbose:
            lines += [f"  {removal.kind:<9} {_size(removal.size):>9}  {removal.path}" for removal in report.removals]
        app.stdout.write("".join(line + "\n" for line in lines))

    return Item(lambda: {**envelope("GcReport", items), "dryRun": dry_run, "bytesFreed": report.freed}, said)

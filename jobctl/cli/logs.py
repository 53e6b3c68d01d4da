"""`jobctl logs`: print or follow a run's output."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from jobctl.cli.complete import complete_jobs, complete_runs
from jobctl.cli.context import AppContext
from jobctl.cli.options import JOB_REF, RUN_REF, Duration, output_option, pass_app, show_secrets_option, timeout_option
from jobctl.cli.run import DEFAULT_SPEC, job_from_scope
from jobctl.cli.watch import follow_runs
from jobctl.errors import NotFoundError, UsageError
from jobctl.model.job import LogLine, LogView, RunState
from jobctl.render.human import format_log
from jobctl.render.machine import log_dict


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.now(timezone.utc) - timedelta(seconds=Duration().convert(text, None, None))
    except click.BadParameter:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r}: expected a duration (10m, 2h) or an ISO timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _target_run(app: AppContext, run: str | None, job: str | None, spec_file: str | None) -> RunState:
    from jobctl.engine.resolve import latest_run, resolve_run, runs_of_name

    backend = app.backend()
    if run:
        return resolve_run(backend, run)
    if job and not spec_file:  # a job's, or a Data Flow application's
        latest = runs_of_name(backend, job, limit=1)
        if not latest:
            raise NotFoundError(f"{job!r} has no runs", hint=f"start one with `jobctl run {job}`")
        return latest[0]
    if job or spec_file or Path(DEFAULT_SPEC).exists():
        return latest_run(backend, job_from_scope(app, job, spec_file))
    runs = backend.list_runs(limit=1)
    if not runs:
        raise NotFoundError("there are no runs yet", hint="start one with `jobctl run JOB`")
    return runs[0]


@click.command()
@click.argument("run", required=False, type=RUN_REF, shell_complete=complete_runs)
@click.option("--job", type=JOB_REF, shell_complete=complete_jobs,
              help="Latest run of this job (default: the job in ./job.yaml, else the latest run).")
@click.option("--file", "spec_file", type=click.Path(dir_okay=False), help="Latest run of the job in this spec.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the run ends; exit code mirrors it.")
@click.option("-n", "--tail", type=click.IntRange(0, 10_000_000), default=None,
              help="Only the last N lines (then follow).")
@click.option("--since", help="Only lines newer than a duration (10m) or an ISO timestamp.")
@click.option("-t", "--timestamps", is_flag=True, help="Prefix each line with its UTC timestamp.")
@click.option("--stream", type=click.Choice(["stdout", "stderr"]), help="Only this output stream.")
@timeout_option
@show_secrets_option
@output_option("table", "jsonl")
@pass_app
def command(
    app: AppContext, *, run: str | None, job: str | None, spec_file: str | None, follow: bool, tail: int | None,
    since: str | None, timestamps: bool, stream: str | None, timeout: float | None, show_secrets: bool,
    output: str | None,
) -> None:
    """Print a run's output: RUN, or the latest run of --job / ./job.yaml / any job.

    The values of the run's secret env vars are masked wherever the workload printed them, as CI
    systems mask secrets in build logs, unless --show-secrets.

    With --follow, lines are printed as they are written and the command exits with the run's
    code once it has ended and its log is drained (0 SUCCEEDED, 1 FAILED, 8 CANCELED).
    Control characters are stripped when printing to a terminal.

    \b
    Examples:
      jobctl logs --follow
      jobctl logs run-mf3k2a1b --tail 100 --timestamps
      jobctl logs --job hello --since 10m --stream stderr
    """
    fmt = app.output_format(output)
    fmt = "jsonl" if fmt == "jsonl" else "table"
    target = _target_run(app, run, job, spec_file)
    cutoff = _since(since)
    backend = app.backend()
    plain = fmt == "table" and not (follow or tail is not None or since or timestamps or stream)
    if plain and not _isatty(app.stdout) and hasattr(app.stdout, "buffer"):
        app.stdout.flush()
        backend.copy_log_text(run_id=target.id, out=app.stdout.buffer)  # bytes straight through: disk speed
        app.stdout.buffer.flush()
        return
    if not follow and _print_from_backend(app, target, fmt=fmt, tail=tail, cutoff=cutoff, timestamps=timestamps,
                                          stream=stream):
        return
    cursor: str | None = None
    if tail is not None and (stream or cutoff):
        lines, cursor = _last_matching(app, target, tail, cutoff=cutoff, stream=stream)
        _emit(app, target, lines, fmt=fmt, timestamps=timestamps, cutoff=None, stream=None)
        if not follow:
            return
        follow_runs(app, [target], fmt=fmt, timestamps=timestamps, timeout=timeout, cursors={target.id: cursor},
                    stream=stream)
    if tail is not None:
        batch = backend.tail_logs(run_id=target.id, lines=tail)
        _emit(app, target, batch.lines, fmt=fmt, timestamps=timestamps, cutoff=cutoff, stream=stream)
        cursor = batch.cursor
        if not follow:
            return
    if follow:
        if cutoff is None:
            follow_runs(app, [target], fmt=fmt, timestamps=timestamps, timeout=timeout, cursors={target.id: cursor},
                        stream=stream)
        _follow_since(app, target, cursor, fmt=fmt, timestamps=timestamps, cutoff=cutoff, stream=stream)
        return
    while True:
        batch = backend.read_logs(run_id=target.id, cursor=cursor)
        if not batch.lines:
            return
        _emit(app, target, batch.lines, fmt=fmt, timestamps=timestamps, cutoff=cutoff, stream=stream)
        cursor = batch.cursor


def _print_from_backend(
    app: AppContext, target: RunState, *, fmt: str, tail: int | None, cutoff: datetime | None, timestamps: bool,
    stream: str | None,
) -> bool:
    """Let the backend print the lines from its own bytes if it can (a local log: disk speed, constant memory
    for any --tail); the same text as _emit writes, so only when stdout takes UTF-8 bytes."""
    import codecs
    import json

    out = app.stdout
    if not hasattr(out, "buffer") or codecs.lookup(getattr(out, "encoding", None) or "ascii").name != "utf-8":
        return False
    sanitize = fmt != "jsonl" and (app.printer().rich or _isatty(out))

    def render(line: LogLine) -> str:
        if fmt == "jsonl":
            return json.dumps(log_dict(line, target.id))
        return format_log(line, timestamps=timestamps, sanitize=sanitize)

    view = LogView(render, timestamps=timestamps, stream=stream, since=cutoff, tail=tail, sanitize=sanitize,
                   jsonl_run_id=target.id if fmt == "jsonl" else None)
    out.flush()
    printed = app.backend().print_log(run_id=target.id, out=out.buffer, view=view)
    out.buffer.flush()
    return printed


def _last_matching(
    app: AppContext, target: RunState, count: int, *, cutoff: datetime | None, stream: str | None,
) -> tuple[list[LogLine], str | None]:
    """The last `count` lines that pass the filters (so --tail counts lines of the chosen stream)."""
    from collections import deque

    kept: deque[LogLine] = deque(maxlen=count)
    cursor: str | None = None
    while True:
        batch = app.backend().read_logs(run_id=target.id, cursor=cursor)
        if not batch.lines:
            return list(kept) if count else [], cursor
        kept.extend(ln for ln in batch.lines
                    if (cutoff is None or ln.time >= cutoff) and (stream is None or ln.stream == stream))
        cursor = batch.cursor


def _follow_since(
    app: AppContext, target: RunState, cursor: str | None, *, fmt: str, timestamps: bool, cutoff: datetime | None,
    stream: str | None,
) -> None:
    """Skip lines older than the cutoff, then follow the rest."""
    backend = app.backend()
    while True:
        batch = backend.read_logs(run_id=target.id, cursor=cursor)
        fresh = [ln for ln in batch.lines if cutoff is None or ln.time >= cutoff]
        if fresh or not batch.lines:
            _emit(app, target, fresh, fmt=fmt, timestamps=timestamps, cutoff=None, stream=stream)
            follow_runs(app, [target], fmt=fmt, timestamps=timestamps, cursors={target.id: batch.cursor},
                        stream=stream)
        cursor = batch.cursor


def _emit(
    app: AppContext, run: RunState, lines: tuple[LogLine, ...] | list[LogLine], *, fmt: str, timestamps: bool,
    cutoff: datetime | None, stream: str | None,
) -> None:
    import json

    out = app.stdout
    sanitize = app.printer().rich or _isatty(out)
    for line in lines:
        if (cutoff is not None and line.time < cutoff) or (stream and line.stream != stream):
            continue
        if fmt == "jsonl":
            out.write(json.dumps(log_dict(line, run.id)) + "\n")
        else:
            out.write(format_log(line, timestamps=timestamps, sanitize=sanitize) + "\n")
    out.flush()


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False

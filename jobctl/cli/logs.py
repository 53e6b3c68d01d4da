"""`jobctl logs`: print or follow a run's output."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from jobctl.cli.complete import complete_jobs, complete_runs
from jobctl.cli.context import AppContext, is_tty
from jobctl.cli.options import JOB_REF, RUN_REF, TEXT, parse_duration, show_secrets_option, timeout_option
from jobctl.cli.output import renders
from jobctl.errors import ExitCode, NotFoundError, UsageError
from jobctl.model.state import LogLine, LogView, RunState


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.now(timezone.utc) - timedelta(seconds=parse_duration(text))
    except ValueError as exc:
        said = str(exc)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        if "use e.g." not in said:  # a duration, but 0 or over 10 years: say that, not "expected a duration"
            raise UsageError(f"--since: {said}") from None
        raise UsageError(f"--since {text!r}: expected a duration (10m, 2h) or an ISO timestamp") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _target_run(app: AppContext, run: str | None, job: str | None, spec_file: str | None) -> RunState:
    from jobctl.engine.resolve import latest_run, resolve_run, runs_of_name

    backend = app.backend()
    if run and run.endswith((".yaml", ".yml")) and Path(run).is_file():
        raise UsageError(f"{run!r} is a spec file, not a run",
                         hint=f"the latest run of its job: jobctl logs --file {run}")
    if run:
        return resolve_run(backend, run)
    if job and not spec_file:  # a job's, or a Data Flow application's
        latest = runs_of_name(backend, job, limit=1)
        if not latest:
            raise NotFoundError(f"{job!r} has no runs", hint=f"start one with `jobctl run {job}`")
        return latest[0]
    from jobctl.cli.run import DEFAULT_SPEC, job_from_scope  # only here: it loads the engine and spec layers

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
@click.option("--since", type=TEXT, help="Only lines newer than a duration (10m) or an ISO timestamp.")
@click.option("-t", "--timestamps", is_flag=True, help="Prefix each line with its UTC timestamp.")
@click.option("--stream", type=click.Choice(["stdout", "stderr"]), help="Only this output stream.")
@timeout_option
@show_secrets_option
@renders("table", "jsonl")
def command(
    app: AppContext, *, run: str | None, job: str | None, spec_file: str | None, follow: bool, tail: int | None,
    since: str | None, timestamps: bool, stream: str | None, timeout: float | None, show_secrets: bool,
) -> int:
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
    target = _target_run(app, run, job, spec_file)
    cutoff = _since(since)
    backend = app.backend()
    plain = app.for_people and not (follow or tail is not None or since or timestamps or stream)
    if plain and not is_tty(app.stdout) and hasattr(app.stdout, "buffer"):
        app.stdout.flush()
        backend.copy_log_text(run_id=target.id, out=app.stdout.buffer)  # bytes straight through: disk speed
        app.stdout.buffer.flush()
        return ExitCode.OK
    from jobctl.cli.watch import follow_runs  # only past the plain copy: it loads the engine

    cursor: str | None = None
    # what is logged so far from the backend's bytes, then what comes after it (a --since that follows reads its
    # lines one by one: one stamped later than now is only printed once it is no longer in the future)
    if not follow or tail is not None or cutoff is None:
        if follow:  # its reader gone or a full disk already: as when following (decision 22)
            from jobctl.cli.watch import output_lost
            from jobctl.engine.follow import worst_exit_code

            final, printed = {target.id: target}, []
            with output_lost(app, [target], final):
                printed.append(_print_from_backend(app, target, tail=tail, cutoff=cutoff, timestamps=timestamps,
                                                   stream=stream))
            if not printed:  # lost, and the run had ended
                return worst_exit_code([final[target.id]])
            cursor = printed[0]
        else:
            cursor = _print_from_backend(app, target, tail=tail, cutoff=cutoff, timestamps=timestamps, stream=stream)
        if cursor is not None:
            return follow_runs(app, [target], timestamps=timestamps, timeout=timeout, cursors={target.id: cursor},
                               stream=stream) if follow else ExitCode.OK
    if tail is not None and (stream or cutoff):
        lines, cursor = _last_matching(app, target, tail, cutoff=cutoff, stream=stream)
        _emit(app, target, lines, timestamps=timestamps, cutoff=None, stream=None)
        if not follow:
            return ExitCode.OK
        return follow_runs(app, [target], timestamps=timestamps, timeout=timeout, cursors={target.id: cursor},
                           stream=stream)
    if tail is not None:
        batch = backend.tail_logs(run_id=target.id, lines=tail)
        _emit(app, target, batch.lines, timestamps=timestamps, cutoff=cutoff, stream=stream)
        cursor = batch.cursor
        if not follow:
            return ExitCode.OK
    if follow:
        if cutoff is None:
            return follow_runs(app, [target], timestamps=timestamps, timeout=timeout, cursors={target.id: cursor},
                               stream=stream)
        return _follow_since(app, target, cursor, timestamps=timestamps, cutoff=cutoff, stream=stream)
    while True:
        batch = backend.read_logs(run_id=target.id, cursor=cursor)
        if not batch.lines:
            return ExitCode.OK
        _emit(app, target, batch.lines, timestamps=timestamps, cutoff=cutoff, stream=stream)
        cursor = batch.cursor


def _print_from_backend(
    app: AppContext, target: RunState, *, tail: int | None, cutoff: datetime | None, timestamps: bool,
    stream: str | None,
) -> str | None:
    """Let the backend print the lines from its own bytes if it can (a local log: disk speed, constant memory
    for any --tail); the same text as _emit writes, so only when stdout takes UTF-8 bytes. The cursor to
    follow from, None when it could not."""
    import codecs

    from jobctl.cli.watch import log_events

    out = app.stdout
    if not hasattr(out, "buffer") or codecs.lookup(getattr(out, "encoding", None) or "ascii").name != "utf-8":
        return None
    events = log_events(app, [target], timestamps)
    view = LogView(lambda line: events.text(line, target.id), timestamps=timestamps, stream=stream, since=cutoff,
                   tail=tail, sanitize=events.sanitize, jsonl_run_id=target.id if events.jsonl else None)
    out.flush()
    cursor = app.backend().print_log(run_id=target.id, out=out.buffer, view=view)
    out.buffer.flush()
    return cursor


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
                    if _wanted(ln, cutoff, stream))
        cursor = batch.cursor


def _follow_since(
    app: AppContext, target: RunState, cursor: str | None, *, timestamps: bool, cutoff: datetime | None,
    stream: str | None,
) -> int:
    """Skip lines older than the cutoff, then follow the rest."""
    from jobctl.cli.watch import follow_runs

    backend = app.backend()
    while True:
        batch = backend.read_logs(run_id=target.id, cursor=cursor)
        fresh = [ln for ln in batch.lines if _wanted(ln, cutoff, None)]
        if fresh or not batch.lines:
            _emit(app, target, fresh, timestamps=timestamps, cutoff=None, stream=stream)
            return follow_runs(app, [target], timestamps=timestamps, cursors={target.id: batch.cursor},
                               stream=stream)
        cursor = batch.cursor


def _emit(
    app: AppContext, run: RunState, lines: tuple[LogLine, ...] | list[LogLine], *, timestamps: bool,
    cutoff: datetime | None, stream: str | None,
) -> None:
    from jobctl.cli.watch import log_events

    events = log_events(app, [run], timestamps)
    for line in lines:
        if _wanted(line, cutoff, stream):
            events.line(line, run.id)
    app.stdout.flush()


def _wanted(line: LogLine, cutoff: datetime | None, stream: str | None) -> bool:
    """Whether --since and --stream keep the line."""
    return (cutoff is None or line.time >= cutoff) and (not stream or line.stream == stream)

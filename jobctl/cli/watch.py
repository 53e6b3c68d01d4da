"""Waiting on runs and streaming their logs, shared by `run`, `wait` and `logs`.

Ctrl-C detaches (the runs go on) unless cancel_on_interrupt, which also makes SIGTERM and SIGHUP cancel
them, so a CI job that is itself cancelled, or a session whose terminal is gone, takes its runs down with it.
"""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

from jobctl.cli.context import AppContext, is_tty
from jobctl.cli.entry import interrupted
from jobctl.cli.output import Item, discard_output
from jobctl.cli.signals import interrupt_on
from jobctl.engine.follow import follow_logs, wait_for_runs, worst_exit_code
from jobctl.errors import ExitCode, Interrupted, JobctlError, ReaderGoneError, write_failed
from jobctl.model.job import LogLine, RunState
from jobctl.render.human import duration, format_log, print_runs, state_style
from jobctl.render.machine import envelope, log_dict, run_dict


@contextlib.contextmanager
def interruptible(
    app: AppContext, runs: Sequence[RunState], *, cancel_on_interrupt: bool, ids_to_stdout: bool = False,
    planned: int | None = None,
) -> Iterator[None]:
    """Turn Ctrl-C (and SIGTERM and SIGHUP when cancelling) into a clean detach or cancel, exit 130.

    `runs` may still be growing (runs being started): whatever it holds when the interrupt lands is
    canceled or reported. With ids_to_stdout their ids are also printed on stdout, as a finished
    `jobctl run` would have. `planned`: how many were to start (those not started are said).
    """
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) if cancel_on_interrupt else (signal.SIGINT,)
    with interrupt_on(*signals):  # held through the cancels and the report: a second signal is ignored
        try:
            yield
        except (KeyboardInterrupt, Exception) as error:
            if not interrupted(error):
                raise
            backend = app.backend()
            runs = list(runs)
            ids = " ".join(r.id for r in runs)
            if ids_to_stdout:
                for run in runs:
                    click.echo(run.id)
            unstarted = f" {planned - len(runs)} of the {planned} runs were not started." \
                if planned is not None and runs and len(runs) < planned else ""
            if not runs:
                app.info("\nInterrupted before any run started.")
            elif cancel_on_interrupt:
                for run in runs:
                    with contextlib.suppress(Exception):
                        backend.cancel_run(run_id=run.id)
                app.info(f"\nInterrupted: canceled {len(runs)} run(s).{unstarted} Check: jobctl wait {ids}")
            else:
                app.info(f"\nDetached; the run(s) continue.{unstarted} Reattach: jobctl logs {runs[0].id} --follow"
                         + (f"  (all: jobctl wait {ids})" if len(runs) > 1 else ""))
            raise Interrupted from None


def report_state(app: AppContext, run: RunState, many: bool) -> None:
    if app.quiet:
        return
    details = f" ({run.details})" if run.details else ""
    who = f"{run.name}: " if many else ""
    app.printer(err=True).line(f"{who}{run.state}{details}", state_style(run.state))


def run_list(app: AppContext, runs: Sequence[RunState], show: Callable[[AppContext], object] = lambda app: None, *,
             exit_code: int = ExitCode.OK) -> Item:
    """Runs as a command's result: a RunList for machines, `show` for people."""
    return Item(lambda: envelope("RunList", [run_dict(r, app.show_secrets) for r in runs]), show,
                exit_code=exit_code)


def wait_runs(
    app: AppContext, runs: Sequence[RunState], *, timeout: float | None, cancel_on_interrupt: bool = False,
) -> Item:
    """Block until all runs end (each state said as it is reached); the runs as they ended, a table when
    several, and the worst run's exit code."""
    status = app.printer(err=True)
    with interruptible(app, runs, cancel_on_interrupt=cancel_on_interrupt):
        if status.rich and len(runs) > 1 and not app.quiet:
            final = _wait_live(app, runs, timeout, status.console)
        else:
            final = wait_for_runs(
                app.backend(), [r.id for r in runs], timeout=timeout,
                on_change=lambda r: report_state(app, r, len(runs) > 1),
                attention_timeout=app.settings().oci.attention_timeout,
            )
    hint_missing_modules(app, final)
    return run_list(app, final, lambda app: print_runs(app.printer(), final) if len(final) > 1 else None,
                    exit_code=worst_exit_code(final))


def _wait_live(app: AppContext, runs: Sequence[RunState], timeout: float | None, console: Any) -> list[RunState]:
    """On a terminal: one table of the runs, redrawn in place as their states change."""
    from rich.live import Live
    from rich.table import Table

    latest = {r.id: r for r in runs}

    def table() -> Table:
        view = Table(box=None, header_style="bold", pad_edge=False)
        for header in ("NAME", "STATE", "EXIT", "DURATION"):
            view.add_column(header)
        for run in latest.values():
            style = state_style(run.state) or ""
            code = "-" if run.exit_code is None else str(run.exit_code)
            view.add_row(run.name, f"[{style}]{run.state}[/]" if style else run.state, code, duration(run))
        return view

    def changed(run: RunState) -> None:
        latest[run.id] = run

    with Live(console=console, get_renderable=table, refresh_per_second=4, transient=True):
        return wait_for_runs(app.backend(), [r.id for r in runs], timeout=timeout, on_change=changed,
                             attention_timeout=app.settings().oci.attention_timeout)


MISSING_MODULE = "ModuleNotFoundError: No module named '"
MAX_MODULE_HINTS = 3


def hint_missing_modules(app: AppContext, runs: Sequence[RunState]) -> None:
    """A local python run that failed importing a module: name the interpreter that lacks it (read from the
    last lines of the run's log, only for such runs)."""
    import re

    said: set[str] = set()
    for run in runs:
        if run.state != "FAILED" or not run.interpreter or len(said) >= MAX_MODULE_HINTS:
            continue
        try:
            lines = app.backend().tail_logs(run_id=run.id, lines=20).lines
        except JobctlError:
            continue
        found = next((m for line in reversed(lines) if (m := re.search(
            re.escape(MISSING_MODULE) + r"([^']+)'", line.text))), None)
        hint = found and (f"hint: {found[1]} is not installed in {run.interpreter}; set JOBCTL_PYTHON or "
                          "activate the environment that has it")
        if hint and hint not in said:
            said.add(hint)
            app.stderr.write(hint + "\n")
            app.stderr.flush()


def follow_runs(
    app: AppContext, runs: Sequence[RunState], *, timestamps: bool = False, timeout: float | None = None,
    cancel_on_interrupt: bool = False, cursors: dict[str, str | None] | None = None, stream: str | None = None,
) -> int:
    """Stream the runs' logs (prefixed by run name when several) until they end, as events with -o jsonl;
    the exit code as `wait` gives it."""
    many = len(runs) > 1
    final: dict[str, RunState] = {r.id: r for r in runs}
    events = log_events(app, runs, timestamps)
    with interruptible(app, runs, cancel_on_interrupt=cancel_on_interrupt), output_lost(app, runs, final, events):
        for event in follow_logs(app.backend(), [r.id for r in runs], cursors=cursors, timeout=timeout,
                                 attention_timeout=app.settings().oci.attention_timeout):
            if event.run is not None:
                final[event.run_id] = event.run
                events.state(event.run, many)
            elif event.line is not None and not (stream and event.line.stream != stream):
                events.line(event.line, event.run_id)
            app.stdout.flush()
    final_runs = [final[r.id] for r in runs]
    hint_missing_modules(app, final_runs)
    return worst_exit_code(final_runs) if all(r.terminal for r in final_runs) else ExitCode.OK


@contextlib.contextmanager
def output_lost(app: AppContext, runs: Sequence[RunState], final: dict[str, RunState] | None = None,
                events: TextEvents | None = None) -> Iterator[None]:
    """While following runs (their lines so far, then what comes): stdout that cannot be written stops the follow
    as decision 22 says. Its reader gone (`| head`): the runs' code if they have ended, else ReaderGoneError (141)
    naming those that go on; a full disk: an error saying whether they go on. `final`: the states seen so far."""
    final = {r.id: r for r in runs} if final is None else final
    try:
        yield
    except BrokenPipeError:  # `| head`: the exit code mirrors only runs that have ended
        going = _stopped_following(app, runs, final, events or log_events(app, runs, False))
        if going:
            raise ReaderGoneError(f"stopped following: the output's reader went away; {len(going)} run(s) "
                                  "go on", hint=f"jobctl wait {' '.join(going)}") from None
    except OSError as error:  # `> /dev/full`: what the runs printed is lost, which is an error (decision 22)
        if not write_failed(error):
            raise
        going = _stopped_following(app, runs, final, events or log_events(app, runs, False))
        gone = f"{len(going)} run(s) go on" if going else "the run(s) ended"
        raise JobctlError(f"stopped following: cannot write the output ({error.strerror}); {gone}",
                          hint=f"jobctl wait {' '.join(going or [r.id for r in runs])}") from None


def _stopped_following(app: AppContext, runs: Sequence[RunState], final: dict[str, RunState],
                       events: TextEvents) -> list[str]:
    """Once stdout cannot be written: the runs' states as they are now (their ends said, and kept in `final`),
    and the ids of those that go on."""
    discard_output()
    for run in _states_now(app, runs):  # blocked writing lines, it had not read how the runs ended
        if run.terminal and not final[run.id].terminal:
            events.state(run, len(runs) > 1)
        final[run.id] = run
    return [r.id for r in runs if not final[r.id].terminal]


def _states_now(app: AppContext, runs: Sequence[RunState]) -> list[RunState]:
    """The runs as the backend has them now; none when it cannot say (then the states the follow saw decide)."""
    try:
        return app.backend().get_runs(run_ids=[r.id for r in runs])
    except JobctlError:
        return []


def log_events(app: AppContext, runs: Sequence[RunState], timestamps: bool) -> TextEvents:
    """How runs' log lines (and state changes) are written in the command's output format."""
    return _EVENTS.get(app.output, TextEvents)(app, runs, timestamps)


class TextEvents:
    """Runs' lines as text on stdout (prefixed by the run's name when several), their states on stderr. The
    caller flushes."""

    jsonl = False

    def __init__(self, app: AppContext, runs: Sequence[RunState], timestamps: bool) -> None:
        self.app, self.out, self.timestamps = app, app.stdout, timestamps
        self.prefixes = {r.id: f"[{r.name}] " if len(runs) > 1 else "" for r in runs}
        self.sanitize = not self.jsonl and is_tty(app.stdout)  # a terminal; JSON escapes them

    def state(self, run: RunState, many: bool) -> None:
        report_state(self.app, run, many)

    def text(self, line: LogLine, run_id: str) -> str:
        """A line as it is printed (without its newline)."""
        return format_log(line, timestamps=self.timestamps, sanitize=self.sanitize, prefix=self.prefixes[run_id])

    def line(self, line: LogLine, run_id: str) -> None:
        self.out.write(self.text(line, run_id) + "\n")


class JsonlEvents(TextEvents):
    """-o jsonl: each line and each state change as one JSON object on stdout."""

    jsonl = True

    def state(self, run: RunState, many: bool) -> None:
        self.out.write(json.dumps({"type": "state", **run_dict(run, self.app.show_secrets)}) + "\n")

    def text(self, line: LogLine, run_id: str) -> str:
        return json.dumps(log_dict(line, run_id))


_EVENTS = {"jsonl": JsonlEvents}


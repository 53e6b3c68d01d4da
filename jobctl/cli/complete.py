"""Dynamic shell completion of JOB and RUN arguments, from the backend the command would use.

The shell starts `jobctl` on every <Tab> (see `jobctl completion`), and click parses the words typed
so far without running any command, so there is no AppContext yet: these callbacks build one from the
global options on the line or their environment variables (JOBCTL_BACKEND, OCI_CLI_PROFILE, …), ask the
backend in a worker thread with a time limit, and swallow every error and every byte of output. A
completion that cannot be computed offers nothing rather than breaking the shell.
"""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

import click

from jobctl.cli.context import AppContext

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem  # imported where items are made: most commands never are

    from jobctl.backends.base import Backend

    # What a lister returns: (always offered, offered only once the user has typed something).
    Candidates = tuple[list[CompletionItem], list[CompletionItem]]
    # (backend, values already on the line) -> candidates; a job or run already named by id or name is left out.
    Lister = Callable[[Backend, set[str]], Candidates]

TIMEOUT_SECONDS = 5.0  # a slow or unreachable backend must not freeze the shell
RUN_LIMIT = 100  # the newest runs are the ones worth offering
_OCI_OPTIONS = ("profile", "config_file", "auth", "region", "endpoint", "compartment_id", "project_id")


def complete_jobs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """JOB: the names of active jobs (and their ids once something is typed)."""
    return _complete(ctx, param, incomplete, _jobs)


def complete_runs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """RUN: the newest runs' names (and their ids once something is typed)."""
    return _complete(ctx, param, incomplete, lambda backend, given: _runs(backend, given, states=None))


def complete_active_runs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """RUN for wait and cancel: only runs that have not ended."""
    from jobctl.model.job import ACTIVE_STATES

    return _complete(ctx, param, incomplete, lambda backend, given: _runs(backend, given, states=ACTIVE_STATES))


def complete_jobs_and_runs(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """JOB|RUN for get."""

    def both(backend: Backend, given: set[str]) -> Candidates:
        jobs, runs = _jobs(backend, given), _runs(backend, given, states=None)
        return jobs[0] + runs[0], jobs[1] + runs[1]

    return _complete(ctx, param, incomplete, both)


def _complete(ctx: click.Context, param: click.Parameter, incomplete: str, lister: Lister) -> list[CompletionItem]:
    try:
        value = ctx.params.get(param.name or "") or ()
        given = set(value) if isinstance(value, (tuple, list)) else set()  # RUN...: offer each run once
        settings = _settings(ctx)
        primary, secondary = _bounded(lambda: lister(settings.backend(), given))
        offered = primary + (secondary if incomplete else [])
        seen: set[str] = set()
        items = []
        for item in offered:
            if item.value.startswith(incomplete) and item.value not in seen:
                seen.add(item.value)
                items.append(item)
        return items
    except Exception:  # never break the user's shell
        return []


def _settings(ctx: click.Context) -> AppContext:
    """The AppContext the root command would build: global options as typed, else their env vars/defaults."""
    params = ctx.find_root().params
    return AppContext(
        backend_name=params.get("backend") or "local",
        oci_options={name: params.get(name) for name in _OCI_OPTIONS},
        color=False, quiet=True,
    )


def _bounded(fetch: Callable[[], Candidates]) -> Candidates:
    """fetch() in a daemon thread, silenced; nothing if it fails or outlasts TIMEOUT_SECONDS."""
    outcome: list[Candidates] = []

    def work() -> None:
        with contextlib.suppress(Exception):
            outcome.append(fetch())

    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        worker = threading.Thread(target=work, name="jobctl-complete", daemon=True)
        worker.start()
        worker.join(TIMEOUT_SECONDS)
    return outcome[0] if outcome else ([], [])


def _jobs(backend: Backend, given: set[str]) -> Candidates:
    """By name; jobs that share a name (e.g. made in the console) by id, as a name would be ambiguous."""
    from click.shell_completion import CompletionItem

    jobs = sorted(
        (job for job in backend.list_jobs() if job.lifecycle_state == "ACTIVE" and not job.superseded
         and not given & {job.managed_name or job.name, job.id}),
        key=lambda job: job.managed_name or job.name,
    )
    shared = Counter(job.managed_name or job.name for job in jobs)
    primary, ids = [], []
    for job in jobs:
        name = job.managed_name or job.name
        if shared[name] == 1:
            primary.append(CompletionItem(name, help=job.id))
            ids.append(CompletionItem(job.id, help=name))
        else:
            primary.append(CompletionItem(job.id, help=name))
    return primary, ids


def _runs(backend: Backend, given: set[str], *, states: Collection[str] | None) -> Candidates:
    """Newest first. A name two runs share would be ambiguous, so those runs are offered by id."""
    from click.shell_completion import CompletionItem

    runs = backend.list_runs(states=states, limit=RUN_LIMIT)
    shared = Counter(run.name for run in runs)
    primary, ids = [], []
    for run in runs:
        if given & {run.name, run.id}:
            continue
        about = f"{run.state} {run.job_name or ''}".rstrip()
        if shared[run.name] == 1:
            primary.append(CompletionItem(run.name, help=f"{about} {run.id}"))
            ids.append(CompletionItem(run.id, help=f"{about} {run.name}"))
        else:
            primary.append(CompletionItem(run.id, help=f"{about} {run.name}"))
    return primary, ids

"""Starting runs (with matrix fan-out and idempotency keys) and cancelling them."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from jobctl.backends.base import Backend
from jobctl.engine.inflight import InFlight
from jobctl.engine.resolve import resolve_run, runs_of_name
from jobctl.engine.run_names import run_base_name, run_names
from jobctl.errors import ConflictError, JobctlError, UsageError
from jobctl.model.definition import replace
from jobctl.model.job import ACTIVE_STATES, JobDefinition, JobState, Metadata, RunState
from jobctl.model.record import Record
from jobctl.model.request import (
    KEY_MARK,
    REQUEST_MARK,
    START_MARK,
    job_request_parts,
    key_digest,
    marked_settings,
    request_digest,
    retry_token,
    set_digests,
    set_marks,
)

if TYPE_CHECKING:
    from jobctl.model.application import ApplicationDefinition

D = TypeVar("D", bound=Metadata)


class RunRequest(Record):
    """One run to start: its name, environment and arguments, and how it is told apart from a retry."""

    __slots__ = ("args", "env", "key", "keyed_name", "name", "overrides", "retry_token", "settings", "started_by")
    name: str
    env: Mapping[str, str]
    args: tuple[str, ...]
    overrides: Mapping[str, str]  # the matrix/--env part, for display
    retry_token: str | None
    settings: Mapping[str, Any]  # fields the run sets for itself, by attribute
    keyed_name: bool  # its name comes from its idempotency key: a run of that name may be its earlier start
    key: str | None  # the digest of its idempotency key (jobctl.model.request.key_digest)
    started_by: str  # this command, among those that sent the request: a run another started is re-attached to

    def __init__(self, name: str, env: Mapping[str, str], args: tuple[str, ...], *,
                 overrides: Mapping[str, str] | None = None, retry_token: str | None = None,
                 settings: Mapping[str, Any] | None = None, keyed_name: bool = False, key: str | None = None,
                 started_by: str = "") -> None:
        overrides, settings = ({} if given is None else given for given in (overrides, settings))
        self._assign(locals())


def run_definition(definition: JobDefinition, settings: Mapping[str, Any]) -> JobDefinition:
    """The job as a run with these settings (`--set`, by attribute) runs it: the job's spec with the
    settings written in, checked as a spec would be (what they make invalid is a usage error naming
    the field) and read back as a spec is (a logging block set on a job without one is enabled)."""
    if not settings:
        return definition
    from jobctl.spec.load import node_group_problems

    if "entrypoint" in settings and definition.runtime_type != "container":
        raise UsageError("--set runtime.entrypoint: a python or shell job's entry file is part of its artifact",
                         hint="change it in the spec and apply")
    changed = replace(_as_set(definition, settings, "Job", node_group_problems),
                      artifact_digest=definition.artifact_digest, owner_tags=definition.owner_tags)
    if changed.infrastructure_type != definition.infrastructure_type:
        raise UsageError(f"--set would make the run's job {changed.infrastructure_type}, not "
                         f"{definition.infrastructure_type}: a run keeps its job's infrastructure type",
                         hint="change the spec and apply")
    return changed


def run_application(definition: ApplicationDefinition, settings: Mapping[str, Any]) -> ApplicationDefinition:
    """A Data Flow application as a run with these settings (`--set numExecutors=8`, by attribute) runs it,
    checked as a spec would be: what they make invalid (a negative duration, a shape config on a fixed shape)
    is a usage error, on every backend, before the run starts."""
    if not settings:
        return definition
    from pathlib import Path

    from jobctl.spec.application import application_problems

    changed = _as_set(definition, settings, "DataFlowApplication",
                      lambda document: application_problems(document, Path(".")))
    return replace(changed, artifact_digest=definition.artifact_digest, owner_tags=definition.owner_tags,
                   file_uri=definition.file_uri, code_uri=definition.code_uri)


def _as_set(definition: D, settings: Mapping[str, Any], kind: str, more: Callable[[Any], list[Any]]) -> D:
    """`definition` with `settings` written into its spec document, which must stay as valid as it was (the
    schema's checks and `more`'s); read back as a spec is."""
    import copy
    from pathlib import Path

    from jobctl.model.table import branch, from_document, rows, to_document
    from jobctl.secrets import REDACTOR
    from jobctl.spec.document import Document
    from jobctl.spec.schema import validate_document

    table: type[D] = type(definition)
    REDACTOR.remember_document({row.path: settings[row.attr] for row in rows(table) if row.attr in settings})
    if "\0" in repr(dict(settings)):
        raise UsageError("--set: values cannot contain NUL")

    def problems(data: dict[str, Any]) -> set[tuple[str, str]]:
        document = Document("--set", Path("--set"), 0, data, (1, 1))
        return {(d.path, d.message) for d in [*validate_document(document), *more(document)]}

    before = {"apiVersion": "jobctl/v1", "kind": kind, **to_document(definition)}
    after = copy.deepcopy(before)
    for row in rows(table):
        if row.attr in settings:
            *parents, leaf = row.parts
            node = branch(after, parents)
            given = settings[row.attr]
            if given is None or given == row.default:
                node.pop(leaf, None)
            elif isinstance(given, Mapping):  # a map's entries, added to the map's
                node[leaf] = {**node.get(leaf, {}), **given}
            else:
                node[leaf] = list(given) if isinstance(given, tuple) else given
    new = sorted(problems(after) - problems(before))
    if new:
        shown = "; ".join(f"{path.split('.', 1)[-1]}: {message}" for path, message in new)
        what = "job" if kind == "Job" else "application"
        raise UsageError(f"--set makes the run's {what} invalid: {shown}")
    return table(**from_document(table, after))


def changed_fields(job: JobDefinition, run: JobDefinition) -> dict[str, Any]:
    """What a run's job sets differently from the job, by attribute: the settings a backend applies."""
    from jobctl.model.table import rows

    return {row.attr: getattr(run, row.attr) for row in rows(JobDefinition)
            if getattr(run, row.attr) != getattr(job, row.attr)}


def plan_runs(
    job: JobState, *, env: Mapping[str, str], args: Sequence[str] | None, append_args: Sequence[str] = (),
    matrix: Sequence[Mapping[str, str]] = ({},), name: str | None = None, idempotency_key: str | None = None,
    now: datetime | None = None, settings: Mapping[str, Any] | None = None,
) -> list[RunRequest]:
    """The runs to start: job env + overrides (OCI replaces the job's env, so we merge here)."""
    assert job.definition is not None
    run_job = run_definition(job.definition, settings or {})
    settings = changed_fields(job.definition, run_job)
    when = now or datetime.now(timezone.utc)
    base_env = dict(run_job.env)  # the run's job: --set nodes.groups may move env and args between levels
    final_args = tuple(args) if args is not None else run_job.args
    final_args = (*final_args, *append_args)
    if run_job.node_groups and (args is not None or append_args):
        # each node group's own: --arg replaces every group's args, --args-append adds to each group's
        groups = tuple({**group, "args": [*(args if args is not None else runs["args"]), *append_args]}
                       for group, runs in zip(run_job.node_groups, run_job.node_group_runs(), strict=True))
        settings = {**settings, "node_groups": groups}
        final_args = replace(run_job, node_groups=groups).args
    return fan_out(job.id, run_base_name(job.managed_name or job.name, name, idempotency_key, when), base_env,
                   final_args, settings, env=env, matrix=matrix, idempotency_key=idempotency_key,
                   keyed_name=name is None)


def fan_out(owner_id: str, base_name: str, base_env: Mapping[str, str], args: tuple[str, ...],
            settings: Mapping[str, Any], *, env: Mapping[str, str], matrix: Sequence[Mapping[str, str]],
            idempotency_key: str | None, keyed_name: bool) -> list[RunRequest]:
    """One request per matrix combination of a job's or application's (`owner_id`), each with the retry token
    its idempotency key and combination give (`keyed_name`: its name came from the key)."""
    combinations = list(matrix) or [{}]
    this_command = os.urandom(8).hex()  # as secrets.token_hex, whose imports (hmac, OpenSSL) a run need not load
    requests = []
    for combo, name in zip(combinations, run_names(base_name, combinations), strict=True):
        overrides = {**env, **combo}
        token = retry_token(idempotency_key, owner_id, *sorted(f"{k}={v}" for k, v in combo.items())) \
            if idempotency_key else None
        requests.append(RunRequest(
            name, {**base_env, **overrides}, args, overrides=overrides, retry_token=token, settings=dict(settings),
            keyed_name=keyed_name and idempotency_key is not None,
            key=key_digest(idempotency_key) if idempotency_key else None, started_by=this_command,
        ))
    return requests


def run_marks(request: RunRequest, parts: Mapping[str, Any]) -> dict[str, str]:
    """What a keyed request leaves on its run (none without a key): its key's digest, the digest of the
    request (`parts`: each part a digest, jobctl.model.request), and which command started it."""
    if request.key is None:
        return {}
    return {KEY_MARK: request.key, REQUEST_MARK: request_digest(parts), START_MARK: request.started_by}


def job_run_marks(request: RunRequest) -> dict[str, str]:
    """A job's run's marks: also what each field its --set changes was set to (digests), to name one that
    differs."""
    if not request.key:  # marks are an idempotency key's: a run without one has none (and digests nothing)
        return {}
    parts = job_request_parts(request.env, request.args, request.settings)
    return {**run_marks(request, parts), **set_marks(request.settings)}


def check_key(run: RunState, request: RunRequest) -> None:
    """Exit 5 unless the run a keyed request found (by name, or by its retry token) was started with that key."""
    if run.marks.get(KEY_MARK) != request.key:
        raise ConflictError(f"run {run.name} ({run.id}) was not started with this idempotency key: a run of that "
                            "name was started without it, or with another key",
                            hint="give this request's runs another name (--name), or use another key")


def check_same_request(run: RunState, request: RunRequest) -> None:
    """A run an idempotency key found: its key's, and the one this request would start, or exit 5 naming it
    and what differs (its name, env names, args, the --set fields; never a value, which may be secret)."""
    from jobctl.model.table import rows

    check_key(run, request)
    if run.name == request.name and run.marks.get(REQUEST_MARK) == job_run_marks(request)[REQUEST_MARK]:
        return
    shown = {row.attr: row.shown for row in rows(JobDefinition)}
    before = {"name": run.name, "env": dict(run.env), "args": tuple(run.args),
              "--set": {shown.get(attr, attr): text for attr, text in marked_settings(run.marks).items()}}
    after = {"name": request.name, "env": dict(request.env), "args": tuple(request.args),
             "--set": {shown.get(attr, attr): text for attr, text in set_digests(request.settings).items()}}
    refuse_another_request(run, request_differences(before, after) or ["request"])


def request_differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The parts of a request that differ from those of the run it found: a map (env, parameters, ...) as the
    names whose values differ, never the values, which may be secret; any other part by its name."""
    found = []
    for part in dict.fromkeys([*before, *after]):
        old, new = before.get(part), after.get(part)
        if isinstance(old, Mapping) and isinstance(new, Mapping):
            names = sorted(k for k in {*old, *new} if old.get(k) != new.get(k))
            found += [f"{part} {', '.join(names)}"] * bool(names)
        elif old != new:
            found.append(part)
    return found


def refuse_another_request(run: RunState, differs: Sequence[str]) -> None:
    """Exit 5 naming the run an idempotency key started and what the request now differs in, if anything."""
    if differs:
        several = len(differs) > 1 or ", " in differs[0] or differs[0] in ("args", "arguments")
        raise ConflictError(f"run {run.name} ({run.id}) was started with this idempotency key from another request: "
                            f"its {' and '.join(differs)} {'differ' if several else 'differs'}",
                            hint="use a new key for a new request, or send the same one again to re-attach to that run")


def start_runs(
    backend: Backend, job: JobState, requests: Sequence[RunRequest], *, max_parallel: int = 8,
    on_started: Callable[[RunState], None] | None = None, on_interrupt: Callable[[int], None] | None = None,
    on_reattached: Callable[[RunState], None] | None = None,
) -> list[RunState]:
    """Start every request of the job's (see `start_each`)."""
    def start(request: RunRequest) -> RunState:
        return backend.start_run(job_id=job.id, name=request.name, env=request.env, args=request.args,
                                 retry_token=request.retry_token, settings=request.settings,
                                 marks=job_run_marks(request))

    return start_each(
        requests, RunStarter(lambda: backend.list_runs(job_id=job.id),
                             lambda name: [run for run in backend.find_runs(name, job_id=job.id) if run.name == name],
                             lambda run_id: backend.get_run(run_id=run_id), start, check_same_request),
        max_parallel=max_parallel, on_started=on_started, on_interrupt=on_interrupt, on_reattached=on_reattached)


class RunStarter(NamedTuple):
    """How runs of one job or application are listed, and found by name (the newest few; either may leave out
    what a run was started with), read in full, started, and checked against the request an idempotency key
    found them by (ConflictError)."""

    listed: Callable[[], Sequence[RunState]]
    named: Callable[[str], Sequence[RunState]]
    read: Callable[[str], RunState]
    start: Callable[[RunRequest], RunState]
    check: Callable[[RunState, RunRequest], None]


def start_each(
    requests: Sequence[RunRequest], starter: RunStarter, *, max_parallel: int = 8,
    on_started: Callable[[RunState], None] | None = None, on_interrupt: Callable[[int], None] | None = None,
    on_reattached: Callable[[RunState], None] | None = None,
) -> list[RunState]:
    """Start every request with at most `max_parallel` calls in flight; results keep request order.

    A request named by its idempotency key whose run exists is re-attached to (`on_reattached`), once it is
    that key's and the same request; so is one whose retry token the backend knows (locally, the run it
    started; OCI: a 409, as a retry's body differs at least in the command it names, after which the key's run
    is found by the key's mark), and one whose start gave back a run another command started. The calls run in
    worker threads, so an interrupt (Ctrl-C, SIGTERM made KeyboardInterrupt) reaches this thread while they are
    in flight: no new start begins, `on_interrupt` hears how many are under way, those finish (so `on_started`
    has seen every run that exists), and the interrupt propagates.
    """
    starts = InFlight()

    def start(request: RunRequest) -> RunState | None:
        if not starts.begin():
            return None
        try:
            # a retried command (its idempotency key names its runs): the run it started before, re-attached to;
            # found by its name, so the lookup costs the same whatever the job's history holds
            named = starter.named(request.name) if request.keyed_name else ()
            if named:
                found = next((run for run in named if run.marks.get(KEY_MARK) == request.key), named[0])
                earlier = starter.read(found.id)  # in full: a listing has no env (OCI)
                starter.check(earlier, request)
                (on_reattached or on_started or (lambda run: None))(earlier)
                return earlier
            try:
                run = starter.start(request)
            except ConflictError:  # OCI: its retry token came with another request before (409)
                held = _held_by_key(starter, request)
                if held is None:
                    raise
                run = held
            if request.key is not None:
                starter.check(run, request)
                if run.marks.get(START_MARK) != request.started_by:  # started before, by another command
                    (on_reattached or on_started or (lambda run: None))(run)
                    return run
            if on_started:
                on_started(run)
            return run
        finally:
            starts.end()

    try:
        started = _in_threads(start, requests, max_parallel)
    except BaseException as exc:
        under_way = starts.stop()
        if isinstance(exc, KeyboardInterrupt) and on_interrupt:
            with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C must not skip the drain
                on_interrupt(under_way)
        starts.drain()
        raise
    return [run for run in started if run is not None]


def _in_threads(call: Callable[[RunRequest], RunState | None], requests: Sequence[RunRequest],
                max_parallel: int) -> list[RunState | None]:
    """`call` for every request in worker threads, at most `max_parallel` at once; the results in request
    order, or the first request's error. A single request gets one plain thread: a pool (concurrent.futures,
    which imports logging) costs a `jobctl run`'s start ~4 ms of imports before its only run is recorded."""
    if len(requests) == 1:
        outcome: list[RunState | None] = []
        failure: list[BaseException] = []

        def work() -> None:
            try:
                outcome.append(call(requests[0]))
            except BaseException as exc:  # handed to the waiting thread
                failure.append(exc)

        worker = threading.Thread(target=work, name="jobctl-start")
        worker.start()
        worker.join()  # an interrupt (Ctrl-C) lands here, as in a pool's `result()`
        if failure:
            raise failure[0]
        return outcome
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=max(1, min(max_parallel, len(requests))))
    try:
        started = [future.result() for future in [pool.submit(call, request) for request in requests]]
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    # Every call has returned: the idle workers are joined now. Left to the interpreter's exit, they kept the
    # command from ending at once (cli.app._end_at_once): its teardown freed the whole OCI SDK, ~0.3 s of a
    # 100-run fan-out.
    pool.shutdown(wait=True)
    return started


def _held_by_key(starter: RunStarter, request: RunRequest) -> RunState | None:
    """The run the request's key started for its combination (read in full): one with the key's mark and its
    overrides, else any with the key's mark; None without a key or such a run."""
    if request.key is None:
        return None
    held = [starter.read(run.id) for run in starter.listed() if run.marks.get(KEY_MARK) == request.key]
    same = [run for run in held if all(run.env.get(name) == text for name, text in request.overrides.items())]
    return next(iter(same or held), None)


def cancel_targets(backend: Backend, runs: Sequence[str], job: str | None) -> list[RunState]:
    """The runs `cancel` means: each run named (by name, id or id prefix), and every active run of `job`."""
    targets = [resolve_run(backend, ref) for ref in runs]
    if job:  # every generation's: a run of the job an apply replaced keeps running
        targets += runs_of_name(backend, job, states=ACTIVE_STATES)
    return list({run.id: run for run in targets}.values())


def raise_for_failures(failed: Sequence[tuple[RunState, JobctlError]], total: int) -> None:
    """One error for cancels that failed (after the others were done), as the first failure's kind."""
    if failed:
        run, first = failed[0]
        if total == 1:
            raise type(first)(f"run {run.name} ({run.id}) could not be canceled: {first.message}",
                              hint="see its state with `jobctl get RUN`; cancel it again once it can be")
        others = f"the other {total - len(failed)} were" if total > len(failed) else "none was"
        raise type(first)(f"{len(failed)} of {total} run(s) could not be canceled ({run.id}: {first.message}); "
                          f"{others}", hint="see their state with `jobctl runs`; cancel them again once they can be")


def cancel_runs(
    backend: Backend, runs: Sequence[RunState], *, on_canceled: Callable[[RunState], None] | None = None,
) -> tuple[list[RunState], list[tuple[RunState, JobctlError]]]:
    """Cancel every run, going on past one that fails; (runs as they are now, failures). A run that
    ended meanwhile is no failure: the backend returns it as it ended."""
    done: list[RunState] = []
    failed: list[tuple[RunState, JobctlError]] = []
    for run in runs:
        try:
            now = backend.cancel_run(run_id=run.id)
        except JobctlError as exc:
            failed.append((run, exc))
            continue
        done.append(now)
        if on_canceled:
            on_canceled(now)
    return done, failed

"""Run a workflow over any Backend: each step once the steps it needs have succeeded, independent steps at
the same time, each step's runs in a sliding window of maxParallel (and at most the workflow's maxParallel
runs at once over all steps).

Every change is written to the state store first, and every run is started with a retry token
derived from (workflow run, step, matrix combination, attempt), so a run interrupted anywhere —
even between starting a run and recording it — resumes without starting anything twice.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jobctl.backends.base import Backend
from jobctl.driver import finite
from jobctl.driver import reported as reported_metrics  # one reading of outputs.json, both engines
from jobctl.engine.follow import worst_exit_code
from jobctl.engine.resolve import neither, resolve_application, resolve_job
from jobctl.errors import ConflictError, ExitCode, NotFoundError, UsageError
from jobctl.model.job import ACCEPTED, CANCELED, CANCELING, SUCCEEDED, JobState, LogLine, RunState
from jobctl.secrets import MASK, REDACTOR, is_secret, mask_env
from jobctl.workflow.expressions import Context, ExpressionError, RunView, render
from jobctl.workflow.model import Select, Step, Workflow
from jobctl.workflow.state import StateStore

if TYPE_CHECKING:
    from jobctl.model.application import ApplicationDefinition

Event = Callable[[str], None]
LogSink = Callable[[str, str, LogLine], None]  # (step, run name, line)


combo_key = Step.key


HEARTBEAT_SECONDS = 30.0  # how often a `workflow run` with nothing to say saves its state anyway
SILENT_SECONDS = 300.0  # a running state not saved for this long: its process may have stopped


def _driver(state: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """Of a client-engine run still `running`: ("gone", driver) when the process driving it (on this machine)
    has ended, ("silent", driver with `silent` seconds) when it runs elsewhere and has not saved for a while,
    ("alive", driver) otherwise; None for a run with no word of its driver."""
    driver = state.get("driver")
    if state.get("status") != "running" or state.get("engine") == "pipeline" or not isinstance(driver, dict):
        return None
    if driver.get("host") == socket.gethostname():
        try:
            os.kill(int(driver["pid"]), 0)
        except ProcessLookupError:
            return "gone", driver
        except (OSError, ValueError, KeyError):
            pass  # alive, as another user's process
        return "alive", driver
    try:
        silent = (datetime.now(timezone.utc) - datetime.fromisoformat(str(driver["seen"]))).total_seconds()
    except (KeyError, ValueError):
        return "alive", driver
    return ("silent", {**driver, "silent": silent}) if silent >= SILENT_SECONDS else ("alive", driver)


def liveness(state: dict[str, Any]) -> dict[str, Any]:
    """The state as `workflow status` shows it: a run still `running` whose `workflow run` process has
    ended (on this machine) is `interrupted`; one not heard of for a while (elsewhere) carries a note."""
    found = _driver(state)
    resume = f"resume it with `jobctl workflow run FILE --resume {state['run']}`"
    if found is None or found[0] == "alive":
        return state
    how, driver = found
    if how == "gone":
        return {**state, "status": "interrupted",
                "note": f"the `workflow run` that drove it (pid {driver['pid']}) has ended; {resume}"}
    return {**state, "note": f"no word from the `workflow run` driving it (on {driver.get('host')}, pid "
                             f"{driver.get('pid')}) for {driver['silent'] / 60:.0f} min: if it was stopped, {resume}"}


def driven_by_another(state: dict[str, Any]) -> str | None:
    """The other `workflow run` process driving this run, as words, if one is (alive, or heard of lately)."""
    found = _driver(state)
    if found is None or found[0] != "alive" or (found[1].get("host") == socket.gethostname()
                                                 and found[1].get("pid") == os.getpid()):
        return None
    return f"pid {found[1].get('pid')} on {found[1].get('host')}"


def now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def inputs_of(workflow: Workflow, env: Mapping[str, str]) -> str:
    """What a workflow run was started with: its spec as written and its --env (secret values by name only:
    their values are never stored, so they cannot be compared)."""
    shown = {name: ("<secret>" if is_secret(name) else value) for name, value in env.items()}
    return hashlib.sha256(json.dumps([workflow.digest, shown], sort_keys=True).encode()).hexdigest()


def run_name(workflow: str, step: str, combo: Mapping[str, str]) -> str:
    """A run's display name: the workflow, the step and its matrix values, each value cut to what a name
    holds well (letters, digits, `.`, `_`, `-`; anything else, a space or a slash, becomes `-`)."""
    values = [re.sub(r"[^A-Za-z0-9._]+", "-", value).strip("-")[:40] or "x" for value in combo.values()]
    return "-".join([workflow, step, *values])[:255]


def new_state(workflow: Workflow, env: Mapping[str, str], key: str | None = None) -> dict[str, Any]:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return {
        "apiVersion": "jobctl/v1", "kind": "WorkflowState", "workflow": workflow.name,
        "run": f"{workflow.name}-{stamp}-{hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:6]}",
        "status": "running", "started": now(), "finished": None, "env": dict(env),
        "inputs": inputs_of(workflow, env), "idempotencyKey": key,
        "order": [s.name for s in workflow.order()],
        "steps": {s.name: {"status": "pending", "runs": [], "best": None, "error": None,
                           "selectedBy": s.select.metric if s.select else None} for s in workflow.steps},
    }


def env_differences(before: Mapping[str, str], after: Mapping[str, str]) -> list[str]:
    """The --env names whose values differ between two runs' inputs (secrets: only whether given)."""
    def shown(env: Mapping[str, str], name: str) -> str | None:
        if name not in env:
            return None
        return "<secret>" if is_secret(name) or MASK in str(env[name]) else env[name]

    return sorted(name for name in {*before, *after} if shown(before, name) != shown(after, name))


def storable(state: dict[str, Any]) -> dict[str, Any]:
    """The state without secret values, as it is saved (a local file, an Object Storage object) and
    shown: secret --env values are kept as names only (`secretEnv`, asked for again on resume), and
    each run's secret env values are masked."""
    saved = copy.deepcopy(state)
    env = saved.get("env", {})
    saved["secretEnv"] = sorted({*saved.get("secretEnv", []), *(name for name in env if is_secret(name))})
    saved["env"] = {name: value for name, value in env.items() if not is_secret(name)}
    for step in saved.get("steps", {}).values():
        for run in step.get("runs", []):
            run["env"] = mask_env(run.get("env") or {})
    # and any secret value copied under another name (PLAIN: ${{ env.TOKEN }}), even with --show-secrets
    masked: dict[str, Any] = json.loads(REDACTOR.redact(json.dumps(saved), always=True))
    return masked


@dataclass(frozen=True)
class Launch:
    """What every run of a step starts with: the job (or the Data Flow application: (id, definition)), and the
    step's rendered env and args."""

    job: JobState | None
    env: dict[str, str]
    args: tuple[str, ...] | None
    application: tuple[str, ApplicationDefinition] | None = None


def check_placeholders(step: str, args: tuple[str, ...] | None, application: ApplicationDefinition) -> None:
    """A step of a Data Flow application: each ${name} its arguments use has a parameter (OCI refuses a run
    otherwise), said before any run of the workflow starts."""
    from jobctl.model.application import placeholders

    for missing in [p for p in placeholders(list(args) if args is not None else application.arguments)
                    if p not in application.parameters]:
        raise UsageError(f"step {step}: its arguments use ${{{missing}}}, which no parameter of application "
                         f"{application.name!r} gives", hint=f"add parameters.{missing} to the application's spec "
                         "and apply it, or leave it out of the step's args")


@dataclass
class StepOutcome:
    code: ExitCode
    message: str


TERMINAL = ("SUCCEEDED", "FAILED", "CANCELED", "DELETED")
LATEST = "latest"  # `--resume` without a run id
VANISHED = "the run no longer exists (deleted with its job?); started again"
REPORT_HINT = ("write {\"%s\": 0.93} into $JOBCTL_OUTPUT_DIR/outputs.json, or print `%s=0.93` and set "
               "`select: {metric: %s, from: logs}`")


class _Stopped(Exception):
    """The runner was asked to stop (Ctrl-C, a failure elsewhere): the runs go on; resume later."""


class WorkflowRunner:
    def __init__(
        self, backend: Backend, store: StateStore, workflow: Workflow, *, env: Mapping[str, str],
        on_event: Event = lambda message: None, read_outputs: Callable[[str], dict[str, Any] | None] | None = None,
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
        on_log: LogSink | None = None,
    ) -> None:
        self.backend = backend
        self.store = store
        self.workflow = workflow
        self.env = dict(env)
        self.event = on_event
        self.read_outputs = read_outputs or (lambda run_id: backend.read_outputs(run_id=run_id))
        self.sleep = sleep
        self.clock = clock
        self._saved_at = clock()
        self.on_log = on_log
        self.state: dict[str, Any] = {}
        self.lock = threading.RLock()  # the state, as steps running at once change it
        self.stop = threading.Event()
        self.slots = threading.BoundedSemaphore(workflow.max_parallel) if workflow.max_parallel else None

    # --- which run: a new one, or one to resume -------------------------------------------------------
    def prepare(self, *, resume: str | None = None, restart: bool = False, key: str | None = None) -> str:
        """Choose the workflow run this invocation drives (saved when `run` starts) and say why, in one line:
        `key`: the run started with this idempotency key (re-attached) or a new one that records it;
        `resume`: that run (or LATEST), to retry what did not succeed; else the latest run if it did not
        finish and was started with the same spec and --env (unless `restart`), else a new run."""
        name = self.workflow.name
        if key is not None:
            found = next((s for s in (self.store.load(name, r) for r in reversed(self.store.runs(name)))
                          if s and s.get("idempotencyKey") == key), None)
            if found is None:
                return self._new(key, f"started run {{run}} (idempotency key {key!r})")
            self._same_inputs(found, f"idempotency key {key!r} belongs to run {found['run']}")
            if found["status"] != "running":
                self.state = found
                return (f"re-attached to run {found['run']} (idempotency key {key!r}): it {found['status']}"
                        + self._uncompared(found))
            return self._resume(found, f"re-attached to run {found['run']} (idempotency key {key!r})"
                                + self._uncompared(found))
        if resume is not None:
            found = self.store.load(name, None if resume == LATEST else resume)
            if found is None:
                runs = ", ".join(self.store.runs(name)[-5:]) or "none yet"
                raise NotFoundError(f"workflow {name!r} has no run {resume!r}" if resume != LATEST
                                    else f"workflow {name!r} has not run here", hint=f"its latest runs: {runs}")
            if set(found.get("steps", {})) != {s.name for s in self.workflow.steps}:
                raise ConflictError(f"run {found['run']} had other steps than {name!r} has now",
                                    hint="start a new run: drop --resume")
            if found.get("inputs") != inputs_of(self.workflow, inputs_env(found)):  # its runs would not be this spec's
                raise ConflictError(f"run {found['run']} was started from another version of the spec of {name!r}",
                                    hint="resume it with the spec it was started with, or start a new run: drop "
                                         "--resume")
            self.store.clear_cancel(name, found["run"])  # resumed: a `workflow cancel` of it is over
            differ = env_differences(inputs_env(found), {**inputs_env(found), **self.env})
            changed = (f", with --env {', '.join(differ)} changed: the runs it starts from now on get the new "
                       "values, the runs that succeeded keep theirs") if differ else ""
            return self._resume(found, f"resuming run {found['run']} ({found['status']}){changed}")
        last = self.store.load(name)
        if last is None or last.get("status") != "running":
            return self._new(None, "started run {run}")
        differ = env_differences(inputs_env(last), self.env)
        spec_changed = last.get("inputs") != inputs_of(self.workflow, self.env) and not differ
        if restart or differ or spec_changed:
            why = "--restart" if restart else (f"--env {', '.join(differ)} differs" if differ else "the spec changed"
                                               if last.get("inputs") else "its inputs are not recorded")
            return self._new(None, f"started run {{run}}; the unfinished run {last['run']} was not resumed ({why}: "
                                   f"resume it with --resume {last['run']})")
        return self._resume(last, f"resuming run {last['run']}: it did not finish, and its spec and --env are the "
                                  f"same (--restart starts a new run){self._uncompared(last)}")

    def _uncompared(self, stored: dict[str, Any]) -> str:
        """What a message says of the secret --env the run was started with and this command gives again: their
        values were never stored, so whether they changed is not known."""
        secrets = [name for name in stored.get("secretEnv", []) if name in self.env]
        return (f"; secret {', '.join(secrets)} cannot be compared (never stored): the runs it starts get the "
                "value given now") if secrets else ""

    def _same_inputs(self, state: dict[str, Any], what: str) -> None:
        differ = env_differences(inputs_env(state), self.env)
        if differ or state.get("inputs") not in (None, inputs_of(self.workflow, self.env)):
            said = f"--env {', '.join(differ)}" if differ else "the workflow's spec"
            raise ConflictError(f"{what}, which was started with other inputs: {said} differs",
                                hint="use another key for other inputs, or the same inputs for this key")

    def _new(self, key: str | None, message: str) -> str:
        self.state = new_state(self.workflow, self.env, key)
        return message.replace("{run}", self.state["run"])  # not format: a key may hold braces

    def _resume(self, stored: dict[str, Any], message: str) -> str:
        other = driven_by_another(stored)
        if other:
            raise ConflictError(f"run {stored['run']} is being driven by another `workflow run` ({other})",
                                hint=f"follow it: jobctl workflow status {stored['workflow']} (or workflow logs "
                                     f"{stored['workflow']} -f); --restart starts a new run beside it")
        masked = [name for name, value in stored.get("env", {}).items() if MASK in str(value)]
        missing = [name for name in [*stored.get("secretEnv", []), *masked] if name not in self.env]
        if missing and stored.get("status") != "succeeded":  # a run that succeeded starts nothing: needs none
            raise UsageError(
                f"resuming workflow run {stored['run']} needs the secret value(s) it was started with: "
                f"{', '.join(missing)} (their values are never stored)",
                hint=" ".join(f"--env {name}=..." for name in missing) + ", or --restart for a new run",
            )
        self.state = stored
        self.state.update(status="running", finished=None)
        self.env = {**stored.get("env", {}), **self.env}
        self.state["env"] = self.env
        return message

    def save(self) -> None:
        """Store the state, with word of the process driving it (`workflow status` tells a run whose
        process has gone from one still going)."""
        with self.lock:
            if not self.finished:
                self.state["driver"] = {"host": socket.gethostname(), "pid": os.getpid(), "seen": now()}
            self.store.save(self.workflow.name, storable(self.state))
            self._saved_at = self.clock()

    def _heartbeat(self) -> None:
        """Save now and then while nothing changes, so the state says its process is alive."""
        if self.clock() - self._saved_at >= HEARTBEAT_SECONDS:
            self.save()

    @property
    def finished(self) -> bool:
        return bool(self.state.get("status") not in (None, "running"))

    # --- running -----------------------------------------------------------------------------------
    def run(self) -> ExitCode:
        """Drive the run to its end; steps whose needs succeeded start at once, in parallel."""
        if self.finished:  # a finished run re-attached to by its idempotency key: nothing to start
            return exit_code_of(self.state)
        steps = {step.name: step for step in self.workflow.order()}
        waiting = [name for name in steps if self.state["steps"][name]["status"] != "succeeded"]
        targets = {job: self._target(job) for job in dict.fromkeys(steps[name].job for name in waiting)}
        for name in waiting:  # each step's job is applied, and an application's placeholders are filled
            application = targets[steps[name].job][1]
            if application is not None:
                check_placeholders(name, steps[name].args, application[1])
        self.save()  # prepare chose the run; saved only now, once the command has checked the workflow
        for name in steps:
            if name not in waiting:
                self.event(f"{name}: succeeded in an earlier attempt of this run, not run again")
        codes: list[ExitCode] = []
        with ThreadPoolExecutor(max_workers=len(steps), thread_name_prefix="step") as pool:
            running: dict[Future[StepOutcome], str] = {}
            try:
                while waiting or running:
                    for name in [n for n in waiting if not set(steps[n].needs) & {*waiting, *running.values()}]:
                        waiting.remove(name)
                        record = self.state["steps"][name]
                        blocked = [n for n in steps[name].needs if self.state["steps"][n]["status"] != "succeeded"]
                        if blocked:
                            with self.lock:
                                record.update(status="skipped", error=f"needs {', '.join(blocked)}, which did not "
                                                                      "succeed")
                            self.event(f"{name}: skipped ({record['error']})")
                            self.save()
                            continue
                        running[pool.submit(self._run_step, steps[name], record)] = name
                    if not running:
                        continue
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        name = running.pop(future)
                        outcome = future.result()
                        codes.append(outcome.code)
                        record = self.state["steps"][name]
                        self.event(f"{name}: {record['status']}" + (f" ({outcome.message})" if outcome.message else ""))
            except BaseException:
                self.stop.set()  # the other steps stop driving their runs (which go on); the state is kept
                raise
        return self._conclude(codes)

    def _conclude(self, codes: list[ExitCode]) -> ExitCode:
        statuses = [s["status"] for s in self.state["steps"].values()]
        failed = [c for c in codes if c != ExitCode.OK]
        if all(s == "succeeded" for s in statuses):
            status = "succeeded"  # also when a cancel came after the last run had ended
        elif "failed" in statuses:
            status = "failed"
        elif "canceled" in statuses or self._cancel_requested():
            status = "canceled"
        else:
            status = "failed"
        with self.lock:
            self.state.update(status=status, finished=now())
        self.save()
        if status == "canceled":
            return ExitCode.CANCELED
        if not failed:
            return ExitCode.OK if status == "succeeded" else ExitCode.ERROR
        return ExitCode.ERROR if ExitCode.ERROR in failed else max(failed)

    def _context(self) -> Context:
        views = {}
        with self.lock:
            for name, record in self.state["steps"].items():
                best = next((r for r in record["runs"] if r["id"] == record.get("best")), None)
                if best is not None:
                    outputs = best.get("outputs") or {}
                    metrics = {**reported_metrics(outputs), **(best.get("metrics") or {})}
                    views[name] = RunView(best["id"], best["name"], best.get("env", {}),
                                          {**outputs, "metrics": metrics})
        return Context(views, self.env, {"name": self.workflow.name, "run": self.state["run"]})

    def _run_step(self, step: Step, record: dict[str, Any]) -> StepOutcome:
        with self.lock:
            record.update(status="running", error=None)
        self.save()
        try:
            context = self._context()
            job, application = self._target(step.job)
            launch = Launch(
                job, {k: render(v, context) for k, v in step.env.items()},
                tuple(render(a, context) for a in step.args) if step.args is not None else None, application,
            )
        except ExpressionError as exc:
            with self.lock:
                record.update(status="failed", error=str(exc))
            self.save()
            return StepOutcome(ExitCode.ERROR, str(exc))
        try:
            finished = self._drive(step, record, launch)
        except _Stopped:
            return StepOutcome(ExitCode.INTERRUPTED, "stopped; its runs go on")
        if not finished:
            with self.lock:
                record.update(status="failed", error=f"timed out after {step.timeout_seconds:g} s")
            self.save()
            return StepOutcome(ExitCode.TIMEOUT, record["error"])
        return self._finish_step(step, record)

    def _target(self, name: str) -> tuple[JobState | None, tuple[str, ApplicationDefinition] | None]:
        """What a step runs: the job of this name, else the Data Flow application (docs/dataflow.md)."""
        try:
            return resolve_job(self.backend, name, runnable=True), None
        except NotFoundError as missing:
            application = resolve_application(self.backend, name)
            if application is None:
                raise neither(self.backend, missing) from None
            return None, application

    def _take_slot(self) -> bool:
        return self.slots is None or self.slots.acquire(blocking=False)

    def _give_slot(self) -> None:
        if self.slots is not None:
            self.slots.release()

    def _drive(self, step: Step, record: dict[str, Any], launch: Launch) -> bool:
        """Start the step's runs, at most maxParallel at once (and while the workflow has room), until every
        one has ended; follow their logs when asked. False if the step timed out (its runs canceled): its
        timeout counts from its first run's start, not from a wait for room under spec.maxParallel."""
        deadline: float | None = None
        combos = step.combinations()
        window = step.max_parallel or len(combos)
        waiting = list(combos)
        active: list[dict[str, Any]] = []  # started, not ended: each holds a slot
        draining: list[dict[str, Any]] = []  # ended, their log still being read (following)
        cursors: dict[str, str | None] = {}
        vanished: set[str] = set()  # combinations whose run no longer exists (deleted with its job)
        interval = max(self.backend.poll_interval, 0.05)
        try:
            while waiting or active or draining:
                if self.stop.is_set():
                    raise _Stopped
                while waiting and len(active) < window and not self._cancel_requested() and self._take_slot():
                    entry = self._ensure_run(step, record, launch, waiting.pop(0))
                    if deadline is None and step.timeout_seconds is not None:
                        deadline = self.clock() + step.timeout_seconds
                    if entry["state"] in TERMINAL:
                        self._give_slot()  # recorded as ended in an earlier attempt of this run
                    else:
                        active.append(entry)
                if waiting and not active and self._cancel_requested():
                    waiting.clear()  # `workflow cancel`: start nothing more
                progressed = self._read_logs(step, [*active, *draining], cursors, draining) if self.on_log else False
                for run in self._poll(active):
                    entry = next(e for e in active if e["id"] == run.id)
                    self._record(entry, run, step)
                    if run.terminal:
                        active.remove(entry)
                        self._give_slot()
                        if run.details == VANISHED and entry["key"] not in vanished:
                            vanished.add(entry["key"])  # started again, once: what it ran is gone
                            waiting.append(dict(combos[[combo_key(c) for c in combos].index(entry["key"])]))
                        elif self.on_log:
                            draining.append(entry)
                        progressed = True
                if deadline is not None and self.clock() >= deadline and (active or waiting):
                    for entry in active:
                        self._record(entry, self.backend.cancel_run(run_id=entry["id"]), step)
                    return False
                if not progressed and (waiting or active or draining):
                    self._heartbeat()
                    self.sleep(interval)
        finally:
            for _ in active:
                self._give_slot()
        return True

    def _poll(self, active: list[dict[str, Any]]) -> list[RunState]:
        """The active runs as they are now; one that no longer exists (its job was deleted while no one
        drove this workflow run) is FAILED, with VANISHED as its details."""
        if not active:
            return []
        try:
            return self.backend.get_runs(run_ids=[e["id"] for e in active])
        except NotFoundError:
            found = []
            for entry in active:
                try:
                    found.append(self.backend.get_run(run_id=entry["id"]))
                except NotFoundError:
                    found.append(RunState(entry["id"], "", entry["name"], "FAILED", datetime.now(timezone.utc),
                                          details=VANISHED))
            return found

    def _read_logs(self, step: Step, entries: list[dict[str, Any]], cursors: dict[str, str | None],
                   draining: list[dict[str, Any]]) -> bool:
        assert self.on_log is not None
        progressed = False
        for entry in entries:
            batch = self.backend.read_logs(run_id=entry["id"], cursor=cursors.get(entry["id"]))
            cursors[entry["id"]] = batch.cursor
            for line in batch.lines:
                self.on_log(step.name, entry["name"], line)
            progressed = progressed or bool(batch.lines)
            if entry in draining and batch.complete:
                draining.remove(entry)
        return progressed

    def _ensure_run(self, step: Step, record: dict[str, Any], launch: Launch, combo: dict[str, str]) -> dict[str, Any]:
        """The run for this combination: the recorded one if it has not failed, else a new attempt."""
        key = combo_key(combo)
        with self.lock:
            attempts: list[dict[str, Any]] = [r for r in record["runs"] if r["key"] == key]
        if attempts and attempts[-1]["state"] not in ("FAILED", "CANCELED") and not self._canceled(attempts[-1]):
            return attempts[-1]
        overrides = {**launch.env, **combo}
        uri = self.store.output_uri(self.workflow.name, self.state["run"], step.name, key)
        if uri:
            overrides["JOBCTL_OUTPUT_URI"] = uri
        token = hashlib.sha256(
            json.dumps([self.state["run"], step.name, key, len(attempts)]).encode()).hexdigest()[:64]
        # this workflow run's (its id's last characters), and its attempt's: `get NAME` names one run
        name = f"{run_name(self.workflow.name, step.name, combo)[:240]}-{self.state['run'][-6:]}" + (
            f"-{len(attempts) + 1}" if attempts else "")
        if launch.application is not None:  # its env reaches the driver and executors as Spark properties
            application_id, application = launch.application
            run = self.backend.dataflow.start(  # type: ignore[attr-defined]
                application, application_id, name=name, env=overrides, retry_token=token,
                arguments=list(launch.args) if launch.args is not None else None)
        else:
            job = launch.job
            assert job is not None
            assert job.definition is not None
            run = self.backend.start_run(
                job_id=job.id, name=name, env={**job.definition.env, **overrides},
                args=launch.args if launch.args is not None else job.definition.args, retry_token=token,
            )
        # The run may be over already (it can end before start_run returns; a retry token may find one
        # that ended). Its end is recorded by _drive, which reads its exit code, outputs and log only for
        # runs not yet recorded as ended: so it is entered as not ended.
        entry = {"key": key, "id": run.id, "name": run.name, "state": ACCEPTED if run.terminal else run.state,
                 "exitCode": None, "details": None, "env": dict(run.env), "outputs": None}
        with self.lock:
            record["runs"].append(entry)
        self.save()
        self.event(f"{step.name}: started {run.name} ({run.id})")
        return entry

    def _canceled(self, entry: dict[str, Any]) -> bool:
        """Whether a run recorded as going has been canceled meanwhile (a `workflow cancel` of the run this
        one resumes): then it is started again, as a run that failed is."""
        if entry["state"] in TERMINAL:
            return False
        try:
            return self.backend.get_run(run_id=entry["id"]).state in (CANCELING, CANCELED)
        except NotFoundError:
            return False  # gone with its job: polling it says VANISHED, and it starts again once

    def _record(self, entry: dict[str, Any], run: RunState, step: Step) -> None:
        if run.state == entry["state"]:
            return
        outputs = self.read_outputs(run.id) if run.state == SUCCEEDED else None
        with self.lock:
            entry.update(state=run.state, exitCode=run.exit_code, details=run.details)
            if run.state == SUCCEEDED:
                entry["outputs"] = outputs
        if run.terminal:
            self.event(f"{step.name}: {run.name} {run.state}" + (f" ({run.details})" if run.details else ""))
        self.save()

    def _finish_step(self, step: Step, record: dict[str, Any]) -> StepOutcome:
        with self.lock:
            latest = {r["key"]: r for r in record["runs"]}  # the last attempt of each combination
        runs = list(latest.values())
        succeeded = [r for r in runs if r["state"] == "SUCCEEDED"]
        failed = [r for r in runs if r["state"] != "SUCCEEDED"]
        if failed and not (step.continue_on_error and succeeded):
            first = failed[0]
            code = worst_exit_code([_run_state(r) for r in failed])
            with self.lock:
                record.update(status="canceled" if code == ExitCode.CANCELED else "failed",
                              error=f"run {first['name']} ({first['id']}) {first['state']}"
                                    + (f": {first['details']}" if first.get("details") else "")
                                    + f"; logs: jobctl logs {first['id']}")
            self.save()
            return StepOutcome(code, record["error"])
        best, message = self._select(step, succeeded)
        # continueOnError: the step goes on, and says what it went on without (status and its line)
        tolerated = (f"{len(failed)} of {len(runs)} runs did not succeed ({', '.join(r['name'] for r in failed)}); "
                     "continueOnError") if failed else None
        with self.lock:
            if best is None:
                record.update(status="failed", error=message)
            else:
                record.update(status="succeeded", best=best["id"], error=tolerated)
        self.save()
        return StepOutcome(ExitCode.ERROR if best is None else ExitCode.OK,
                           "; ".join(filter(None, (message, tolerated))))

    def _select(self, step: Step, succeeded: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
        """The best run by the step's metric; ties go to the first in matrix order."""
        if step.select is None:
            return succeeded[0], ""
        metric, goal = step.select.metric, step.select.goal
        scored = []
        missing = []
        for entry in succeeded:
            value, looked = self._metric(entry, step.select)  # None, or a finite number
            if value is None:
                missing.append(f"{entry['name']} ({entry['id']}): {looked}")
                continue
            with self.lock:
                entry["metrics"] = {**(entry.get("metrics") or {}), metric: value}
            scored.append((value, entry))
        if not scored:
            return None, (f"no run reported the metric {metric!r}: " + "; ".join(missing)
                          + ". To report it, " + REPORT_HINT % (metric, metric, metric))
        best_value = max(v for v, _ in scored) if goal == "max" else min(v for v, _ in scored)
        best = next(entry for value, entry in scored if value == best_value)
        ties = sum(1 for value, _ in scored if value == best_value)
        notes = [f"best {best['name']} with {metric}={best_value:g}"]
        if ties > 1:
            notes.append(f"{ties} runs tied; the first in matrix order was chosen")
        if missing:
            notes.append(f"ignored (no {metric}): {', '.join(m.split(' (')[0] for m in missing)}")
        return best, "; ".join(notes)

    def _metric(self, entry: dict[str, Any], select: Select) -> tuple[float | None, str]:
        """The run's value of the metric, or None and where it looked and what it found."""
        if select.source == "logs":
            out = io.BytesIO()
            self.backend.copy_log_text(run_id=entry["id"], out=out)
            text = out.getvalue().decode("utf-8", "replace")
            found = select.log_pattern().findall(text)
            if not found:
                lines = text.count("\n")
                return None, f"none of its {lines} log line(s) matches {select.log_pattern().pattern!r}"
            try:
                read = float(found[-1])
            except ValueError:
                return None, f"its last matching log line gives {found[-1]!r}, not a number"
            return (read, "") if math.isfinite(read) else (None, f"its last matching log line gives {read}")
        outputs = entry.get("outputs")
        if outputs is None:
            return None, "it wrote no outputs.json"
        nested = outputs.get("metrics")
        value = (nested if isinstance(nested, dict) else outputs).get(select.metric)
        if value is None:
            keys = ", ".join(sorted(reported_metrics(outputs))) or "none"
            return None, f"its outputs.json has no {select.metric!r} (metrics it has: {keys})"
        number = finite(value)
        if number is None:
            shown = json.dumps(value) if not isinstance(value, int) or abs(value) < 10**20 else "a huge number"
            return None, (f"its outputs.json gives {select.metric}={shown}, not a finite number"
                          + (" (write the number itself, not text)" if isinstance(value, str) else ""))
        return number, ""

    # --- cancel -----------------------------------------------------------------------------------
    def _cancel_requested(self) -> bool:
        return bool(self.state) and self.store.cancel_requested(self.workflow.name, self.state["run"])

    def cancel(self) -> list[str]:
        """Cancel the active runs of the run in `state`, and tell a `workflow run` driving it to start no more."""
        self.store.request_cancel(self.workflow.name, self.state["run"])
        canceled = []
        for record in self.state["steps"].values():
            for entry in record["runs"]:
                if entry["state"] not in TERMINAL:
                    self.backend.cancel_run(run_id=entry["id"])
                    canceled.append(entry["id"])
            if record["status"] in ("running", "pending"):
                record["status"] = "canceled"
        self.state.update(status="canceled", finished=now())
        self.save()
        return canceled


def inputs_env(state: Mapping[str, Any]) -> dict[str, str]:
    """The --env a stored run was started with, secret ones by name (their values are not stored)."""
    return {**state.get("env", {}), **dict.fromkeys(state.get("secretEnv", []), MASK)}


def _run_state(entry: dict[str, Any]) -> RunState:
    return RunState(entry["id"], "", entry["name"], entry["state"], datetime.now(timezone.utc),
                    exit_code=entry.get("exitCode"))


def exit_code_of(state: dict[str, Any]) -> ExitCode:
    """The exit code a finished state stands for (used by `workflow status`)."""
    statuses = [s["status"] for s in state["steps"].values()]
    if all(s == "succeeded" for s in statuses):
        return ExitCode.OK
    return ExitCode.CANCELED if "canceled" in statuses and "failed" not in statuses else ExitCode.ERROR


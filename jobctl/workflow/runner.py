"""Run a workflow over any Backend: steps in dependency order, each step's runs in parallel batches.

Every change is written to the state store first, and every run is started with a retry token
derived from (workflow run, step, matrix combination, attempt), so a run interrupted anywhere —
even between starting a run and recording it — resumes without starting anything twice.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from jobctl.backends.base import Backend
from jobctl.engine.follow import follow_logs, worst_exit_code
from jobctl.engine.resolve import resolve_job
from jobctl.errors import ExitCode, UsageError, WaitTimeoutError
from jobctl.model.job import ACCEPTED, SUCCEEDED, JobState, LogLine, RunState
from jobctl.secrets import MASK, REDACTOR, is_secret, mask_env
from jobctl.workflow.expressions import Context, ExpressionError, RunView, render
from jobctl.workflow.model import Step, Workflow
from jobctl.workflow.state import StateStore

Event = Callable[[str], None]
LogSink = Callable[[str, str, LogLine], None]  # (step, run name, line)


def combo_key(combo: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in combo.items()) or "-"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def new_state(workflow: Workflow, env: Mapping[str, str]) -> dict[str, Any]:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return {
        "apiVersion": "jobctl/v1", "kind": "WorkflowState", "workflow": workflow.name,
        "run": f"{workflow.name}-{stamp}-{hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:6]}",
        "status": "running", "started": _now(), "finished": None, "env": dict(env),
        "order": [s.name for s in workflow.order()],
        "steps": {s.name: {"status": "pending", "runs": [], "best": None, "error": None} for s in workflow.steps},
    }


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
    """What every run of a step starts with: the job, and the step's rendered env and args."""

    job: JobState
    env: dict[str, str]
    args: tuple[str, ...] | None


@dataclass
class StepOutcome:
    code: ExitCode
    message: str


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
        self.on_log = on_log
        self.state: dict[str, Any] = {}

    # --- state -------------------------------------------------------------------------------------
    def prepare(self, *, restart: bool) -> dict[str, Any]:
        """The state to continue from: the stored one (resume) unless it finished or restart."""
        stored = self.store.load(self.workflow.name)
        if restart or stored is None or set(stored.get("steps", {})) != {s.name for s in self.workflow.steps}:
            self.state = new_state(self.workflow, self.env)
        else:
            masked = [name for name, value in stored.get("env", {}).items() if MASK in str(value)]
            missing = [name for name in [*stored.get("secretEnv", []), *masked] if name not in self.env]
            if missing:
                raise UsageError(
                    f"resuming workflow {self.workflow.name!r} needs the secret value(s) it was started with: "
                    f"{', '.join(missing)} (their values are never stored)",
                    hint=" ".join(f"--env {name}=..." for name in missing) + ", or --restart",
                )
            self.state = stored
            self.state["status"] = "running"
            self.state["finished"] = None
            self.env = {**stored.get("env", {}), **self.env}
            self.state["env"] = self.env
        self.save()
        return self.state

    def save(self) -> None:
        self.store.save(self.workflow.name, storable(self.state))

    # --- running -----------------------------------------------------------------------------------
    def run(self) -> ExitCode:
        codes: list[ExitCode] = []
        for step in self.workflow.order():
            record = self.state["steps"][step.name]
            if record["status"] == "succeeded":
                self.event(f"{step.name}: already succeeded, not run again")
                continue
            blocked = [n for n in step.needs if self.state["steps"][n]["status"] != "succeeded"]
            if blocked:
                record.update(status="skipped", error=f"needs {', '.join(blocked)}, which did not succeed")
                self.event(f"{step.name}: skipped ({record['error']})")
                self.save()
                continue
            outcome = self._run_step(step, record)
            codes.append(outcome.code)
            self.event(f"{step.name}: {record['status']}" + (f" ({outcome.message})" if outcome.message else ""))
        failed = [c for c in codes if c != ExitCode.OK]
        skipped = any(s["status"] == "skipped" for s in self.state["steps"].values())
        self.state["status"] = "succeeded" if not failed and not skipped else "failed"
        self.state["finished"] = _now()
        self.save()
        if not failed:
            return ExitCode.ERROR if skipped else ExitCode.OK
        return ExitCode.ERROR if ExitCode.ERROR in failed else max(failed)

    def _context(self) -> Context:
        views = {}
        for name, record in self.state["steps"].items():
            best = next((r for r in record["runs"] if r["id"] == record.get("best")), None)
            if best is not None:
                views[name] = RunView(best["id"], best["name"], best.get("env", {}), best.get("outputs") or {})
        return Context(views, self.env, {"name": self.workflow.name, "run": self.state["run"]})

    def _run_step(self, step: Step, record: dict[str, Any]) -> StepOutcome:
        record.update(status="running", error=None)
        self.save()
        try:
            context = self._context()
            launch = Launch(
                resolve_job(self.backend, step.job, runnable=True),
                {k: render(v, context) for k, v in step.env.items()},
                tuple(render(a, context) for a in step.args) if step.args is not None else None,
            )
        except ExpressionError as exc:
            record.update(status="failed", error=str(exc))
            self.save()
            return StepOutcome(ExitCode.ERROR, str(exc))
        combos = step.combinations()
        deadline = None if step.timeout_seconds is None else self.clock() + step.timeout_seconds
        batch_size = step.max_parallel or len(combos)
        for start in range(0, len(combos), batch_size):
            batch = combos[start:start + batch_size]
            runs = [self._ensure_run(step, record, launch, combo) for combo in batch]
            if not self._wait(step, record, runs, deadline):
                record.update(status="failed", error=f"timed out after {step.timeout_seconds:g} s")
                self.save()
                return StepOutcome(ExitCode.TIMEOUT, record["error"])
        return self._finish_step(step, record)

    def _ensure_run(self, step: Step, record: dict[str, Any], launch: Launch, combo: dict[str, str]) -> dict[str, Any]:
        """The run for this combination: the recorded one if it has not failed, else a new attempt."""
        key = combo_key(combo)
        attempts: list[dict[str, Any]] = [r for r in record["runs"] if r["key"] == key]
        if attempts and attempts[-1]["state"] not in ("FAILED", "CANCELED"):
            return attempts[-1]
        job = launch.job
        assert job.definition is not None
        overrides = {**launch.env, **combo}
        uri = self.store.output_uri(self.workflow.name, self.state["run"], step.name, key)
        if uri:
            overrides["JOBCTL_OUTPUT_URI"] = uri
        token = hashlib.sha256(
            json.dumps([self.state["run"], step.name, key, len(attempts)]).encode()).hexdigest()[:64]
        suffix = "-".join(combo.values())
        name = f"{self.workflow.name}-{step.name}" + (f"-{suffix}" if suffix else "")
        run = self.backend.start_run(
            job_id=job.id, name=name[:255], env={**job.definition.env, **overrides},
            args=launch.args if launch.args is not None else job.definition.args, retry_token=token,
        )
        # The run may be over already (it can end before start_run returns; a retry token may find one
        # that ended). Its end is recorded by _wait/_follow, which read its exit code, outputs and log
        # only for runs not yet recorded as ended: so it is entered as not ended.
        entry = {"key": key, "id": run.id, "name": run.name, "state": ACCEPTED if run.terminal else run.state,
                 "exitCode": None, "details": None, "env": dict(run.env), "outputs": None}
        record["runs"].append(entry)
        self.save()
        self.event(f"{step.name}: started {run.name} ({run.id})")
        return entry

    def _wait(self, step: Step, record: dict[str, Any], runs: list[dict[str, Any]], deadline: float | None) -> bool:
        """Poll until every run is terminal (recording each change); False if the step timed out."""
        if self.on_log is not None:
            return self._follow(step, runs, deadline)
        interval = max(self.backend.poll_interval, 0.05)
        while True:
            pending = [r for r in runs if r["state"] not in ("SUCCEEDED", "FAILED", "CANCELED", "DELETED")]
            for entry in pending:
                self._record(entry, self.backend.get_run(run_id=entry["id"]), step)
            if not [r for r in runs if r["state"] not in ("SUCCEEDED", "FAILED", "CANCELED", "DELETED")]:
                return True
            if deadline is not None and self.clock() >= deadline:
                for entry in runs:
                    self.backend.cancel_run(run_id=entry["id"])
                return False
            self.sleep(interval)

    def _follow(self, step: Step, runs: list[dict[str, Any]], deadline: float | None) -> bool:
        """Like _wait, streaming the runs' log lines to on_log as they come."""
        assert self.on_log is not None
        by_id = {entry["id"]: entry for entry in runs}
        active = [i for i, e in by_id.items() if e["state"] not in ("SUCCEEDED", "FAILED", "CANCELED", "DELETED")]
        try:
            for event in follow_logs(self.backend, active, sleep=self.sleep, clock=self.clock,
                                     timeout=None if deadline is None else max(0.0, deadline - self.clock())):
                if event.line is not None:
                    self.on_log(step.name, by_id[event.run_id]["name"], event.line)
                if event.run is not None:
                    self._record(by_id[event.run_id], event.run, step)
        except WaitTimeoutError:
            for run_id in active:
                self.backend.cancel_run(run_id=run_id)
            return False
        for run_id in active:
            self._record(by_id[run_id], self.backend.get_run(run_id=run_id), step)
        return True

    def _record(self, entry: dict[str, Any], run: RunState, step: Step) -> None:
        if run.state == entry["state"]:
            return
        entry.update(state=run.state, exitCode=run.exit_code, details=run.details)
        if run.state == SUCCEEDED:
            entry["outputs"] = self.read_outputs(run.id)
        if run.terminal:
            self.event(f"{step.name}: {run.name} {run.state}" + (f" ({run.details})" if run.details else ""))
        self.save()

    def _finish_step(self, step: Step, record: dict[str, Any]) -> StepOutcome:
        latest = {r["key"]: r for r in record["runs"]}  # the last attempt of each combination
        runs = list(latest.values())
        succeeded = [r for r in runs if r["state"] == "SUCCEEDED"]
        failed = [r for r in runs if r["state"] != "SUCCEEDED"]
        if failed and not (step.continue_on_error and succeeded):
            first = failed[0]
            code = worst_exit_code([_run_state(r) for r in failed])
            record.update(status="canceled" if code == ExitCode.CANCELED else "failed",
                          error=f"run {first['name']} ({first['id']}) {first['state']}"
                                + (f": {first['details']}" if first.get("details") else "")
                                + f"; logs: jobctl logs {first['id']}")
            self.save()
            return StepOutcome(code, record["error"])
        best, message = self._select(step, succeeded)
        if best is None:
            record.update(status="failed", error=message)
            self.save()
            return StepOutcome(ExitCode.ERROR, message)
        record.update(status="succeeded", best=best["id"])
        self.save()
        return StepOutcome(ExitCode.OK, message)

    def _select(self, step: Step, succeeded: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str]:
        """The best run by the step's metric; ties go to the first in matrix order."""
        if step.select is None:
            return succeeded[0], ""
        metric, goal = step.select.metric, step.select.goal
        scored = []
        missing = []
        for entry in succeeded:
            value = ((entry.get("outputs") or {}).get("metrics") or {}).get(metric)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                scored.append((float(value), entry))
            else:
                missing.append(entry["name"])
        if not scored:
            return None, f"no run reported a numeric metrics.{metric} in its outputs.json"
        best_value = max(v for v, _ in scored) if goal == "max" else min(v for v, _ in scored)
        best = next(entry for value, entry in scored if value == best_value)
        ties = sum(1 for value, _ in scored if value == best_value)
        notes = [f"best {best['name']} with {metric}={best_value:g}"]
        if ties > 1:
            notes.append(f"{ties} runs tied; the first in matrix order was chosen")
        if missing:
            notes.append(f"ignored (no {metric}): {', '.join(missing)}")
        return best, "; ".join(notes)

    # --- cancel -----------------------------------------------------------------------------------
    def cancel(self) -> list[str]:
        """Cancel the active runs of the stored state; the workflow is marked canceled."""
        canceled = []
        for record in self.state["steps"].values():
            for entry in record["runs"]:
                if entry["state"] not in ("SUCCEEDED", "FAILED", "CANCELED", "DELETED"):
                    self.backend.cancel_run(run_id=entry["id"])
                    canceled.append(entry["id"])
            if record["status"] in ("running", "pending"):
                record["status"] = "canceled"
        self.state.update(status="canceled", finished=_now())
        self.save()
        return canceled


def _run_state(entry: dict[str, Any]) -> RunState:
    return RunState(entry["id"], "", entry["name"], entry["state"], datetime.now(timezone.utc),
                    exit_code=entry.get("exitCode"))


def exit_code_of(state: dict[str, Any]) -> ExitCode:
    """The exit code a finished state stands for (used by `workflow status`)."""
    statuses = [s["status"] for s in state["steps"].values()]
    if all(s == "succeeded" for s in statuses):
        return ExitCode.OK
    return ExitCode.CANCELED if "canceled" in statuses and "failed" not in statuses else ExitCode.ERROR


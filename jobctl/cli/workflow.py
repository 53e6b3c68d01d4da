"""`jobctl workflow run|status|cancel`: multi-step runs with fan-out, selection and resume."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Collection
from typing import Any

import click

from jobctl.cli.context import AppContext, is_tty
from jobctl.cli.options import TEXT, pass_app
from jobctl.cli.output import Item, Listing, renders
from jobctl.errors import ExitCode, Interrupted, NotFoundError, UsageError


@click.group()
def command() -> None:
    """Run workflows: steps that start runs of applied jobs, in parallel and in order.

    \b
    Examples:
      jobctl apply specs-examples/model-selection/
      jobctl workflow run specs-examples/model-selection/workflow.yaml
      jobctl workflow status model-selection
    """


def _load(app: AppContext, paths: tuple[str, ...], env: Collection[str] | None = None,
          engine: str | None = None) -> Any:
    """The one workflow in `paths`, checked against the jobs in the files given or applied and, given `env`
    (the names of the run's --env), against it: a mistake in the last step is found before any run starts.
    `engine`: the one --engine chose (or that runs it), over its spec.engine."""
    from jobctl.engine.resolve import applied_env
    from jobctl.spec.load import load_specs

    loaded = load_specs(paths, app.environ, external_jobs=applied_env(app.backend), workflow_env=env,
                        pipelines=app.backend_name == "oci", engine=engine)
    if env is not None and loaded.diagnostics:  # validate does not know this run's --env: no hint towards it
        from jobctl.errors import SpecError

        raise SpecError(loaded.diagnostics, hint="give the --env values the workflow uses, and fix what else is said")
    loaded.raise_for_errors()
    if len(loaded.workflows) != 1:
        found = ", ".join(w.name for w in loaded.workflows) or "none"
        raise UsageError(f"expected exactly one kind: Workflow document in {', '.join(paths)}; found {found}")
    return loaded.workflows[0]


state_option = click.option(
    "--state", "location", envvar="JOBCTL_WORKFLOW_STATE", metavar="oci://BUCKET@NAMESPACE/PREFIX",
    help="Where the workflow keeps its state (its spec.state); needed with --backend oci.",
)


@command.command("run")
@click.argument("paths", nargs=-1, required=True, metavar="FILE...|NAME")
@click.option("-e", "--env", "env", multiple=True, type=TEXT, metavar="K=V",
              help="A value for ${{ env.K }} (repeatable).")
@click.option("--resume", "resume", is_flag=False, flag_value="latest", default=None, metavar="[RUN]",
              help="Resume this workflow run (default: the latest), retrying what did not succeed.")
@click.option("--restart", is_flag=True, help="Start a new run even when the latest did not finish and could resume.")
@click.option("--idempotency-key", "key", type=TEXT, metavar="KEY",
              help="The run started with this key: re-attach to it if it exists (same inputs), else start one "
                   "that records it. For CI retries.")
@click.option("-f", "-F", "--follow", is_flag=True,
              help="Stream the runs' output, each line prefixed [step run] (pipeline engine: until the pipeline "
                   "run ends, exiting with its outcome).")
@click.option("-y", "--yes", is_flag=True,
              help="Pipeline engine: do not ask before replacing the workflow's pipeline (as apply --yes).")
@click.option("-w", "--wait", is_flag=True,
              help="Pipeline engine: wait for the pipeline run to end, saying each step's change; the exit code "
                   "mirrors it (the client engine always waits).")
@click.option("--engine", type=click.Choice(["client", "pipeline"]), default=None,
              help="client: this process drives the runs; pipeline: an OCI Data Science pipeline run does, and "
                   "this command returns once it has started (oci backend; docs/decisions/0014) [default: the "
                   "workflow's spec.engine, else client].")
@state_option
@renders()
def run_command(app: AppContext, *, paths: tuple[str, ...], env: tuple[str, ...], resume: str | None,
                restart: bool, key: str | None, follow: bool, wait: bool, engine: str | None,
                location: str | None, yes: bool) -> Item:
    """Start a run of the workflow in FILE (or resume one); its jobs must be applied. With NAME instead
    of files: a run of the workflow's applied pipeline (pipeline engine).

    Each `workflow run` starts a new workflow run, except: when the latest run did not finish (the
    process was killed or interrupted) and the spec and --env are the same, it resumes that run, and
    says so; `--resume [RUN]` resumes a run explicitly (a failed one too: its failed runs are tried
    again, what succeeded is kept); `--idempotency-key` re-attaches to the run started with that key.
    Steps start once the steps they need have succeeded, independent steps at the same time; a step's
    matrix runs at most maxParallel at once. State is saved after every change. Exit code: 0 when every
    step succeeded, else the worst step's (1 failed, 7 timed out, 8 canceled); 5 when --resume or a key
    meets other inputs.

    On the pipeline engine the command makes the workflow's pipeline (and its selector job) as the spec
    says if `apply` has not, starts a pipeline run and returns; with --wait it waits for the run to end.

    \b
    Examples:
      jobctl workflow run specs-examples/model-selection/workflow.yaml
      jobctl workflow run flow.yaml --env DATASET=2024-q4
      jobctl workflow run flow.yaml --resume               # the latest run, retrying what failed
      jobctl workflow run flow.yaml --idempotency-key "$CI_PIPELINE_ID"
      jobctl workflow run flow.yaml --follow
      jobctl workflow run flow.yaml --engine pipeline --wait
      jobctl workflow run model-selection --env DATASET=2024-q4   # its applied pipeline
    """
    from jobctl.cli.assignments import parse_assignments
    from jobctl.render.human import format_log
    from jobctl.workflow.runner import WorkflowRunner

    if sum(map(bool, (resume, restart, key))) > 1:
        raise UsageError("--resume, --restart and --idempotency-key each choose the run: give one of them")
    given = parse_assignments(env, "--env")
    by_name = _a_name(paths)
    if by_name and engine == "client":
        raise UsageError(f"{paths[0]!r} is not a file: the client engine runs a workflow from its spec file",
                         hint="give the workflow's file; by name runs its applied pipeline (--engine pipeline)")
    if engine == "pipeline" or by_name:  # said first: the backend is checked before the jobs are looked up in it
        return _start_pipeline(app, paths, given, (resume, restart), key=key, wait=wait or follow, follow=follow,
                               location=location, yes=yes)
    workflow = _with_state(_load(app, paths, engine=engine), location)
    if engine is None and workflow.engine == "pipeline" and app.backend().name != "local":
        return _start_pipeline(app, paths, given, (resume, restart), key=key, wait=wait or follow, follow=follow,
                               location=location, yes=yes)
    if wait:
        raise UsageError("--wait is for the pipeline engine: the client engine always waits for the workflow")
    backend = app.backend()
    if workflow.engine == "pipeline" and engine is None:
        app.info(f"workflow {workflow.name}: the local backend has no pipelines; this process runs it (client "
                 "engine)")
    sanitize = is_tty(app.stdout)

    def show(step: str, run: str, line: Any) -> None:
        app.stdout.write(format_log(line, timestamps=False, sanitize=sanitize, prefix=f"[{step} {run}] ") + "\n")
        app.stdout.flush()

    store = backend.workflow_store(workflow.state)
    runner = WorkflowRunner(backend, store, workflow, env=given,
                            on_event=_reader_may_go(app.info), on_log=_reader_may_go(show) if follow else None)
    chosen = runner.prepare(resume=resume, restart=restart, key=key)
    _load(app, paths, set(runner.env), engine="client")  # its ${{ env.X }}: this run's, a resumed run's included
    app.info(f"workflow {workflow.name}: {chosen}")
    try:
        code = runner.run()
    except KeyboardInterrupt:
        app.info(f"\nInterrupted; the runs continue. Resume with: jobctl workflow run {' '.join(paths)} "
                 f"--resume {runner.state['run']}")
        raise Interrupted from None
    app.info(f"workflow {workflow.name}: run {runner.state['run']} {runner.state['status']}")
    return _state_result(store.load(workflow.name, runner.state["run"]) or runner.state, code)  # as it is kept


def _state_result(state: dict[str, Any], code: int = ExitCode.OK) -> Item:
    """A workflow run as `workflow run` ends with it: said on stderr as it went, for machines its state (as
    `workflow status -o json` shows it)."""
    return Item(lambda: state, lambda app: None, exit_code=code)


def _reader_may_go(write: Callable[..., None]) -> Callable[..., None]:
    """`write`, which keeps the workflow going when whoever reads its output has gone (`| head`): the rest of
    the output goes nowhere, and the exit code is still the workflow's."""

    def guarded(*args: Any) -> None:
        try:
            write(*args)
        except BrokenPipeError:
            import os

            devnull = os.open(os.devnull, os.O_WRONLY)
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
                    os.dup2(devnull, stream.fileno())

    return guarded


def _with_state(workflow: Any, location: str | None) -> Any:
    """The workflow with --state (or JOBCTL_WORKFLOW_STATE) as its state location where its spec gives none;
    a spec that gives another with --state is a usage error (which would be meant?)."""
    from dataclasses import replace

    if location is None or workflow.state == location:
        return workflow
    source = click.get_current_context().get_parameter_source("location")
    if workflow.state and source is click.core.ParameterSource.ENVIRONMENT:
        return workflow  # JOBCTL_WORKFLOW_STATE is for workflows that say nothing
    if workflow.state:
        raise UsageError(f"--state {location} is not the spec.state of workflow {workflow.name!r} ({workflow.state})",
                         hint="drop --state (or JOBCTL_WORKFLOW_STATE), or change spec.state")
    return replace(workflow, state=location)


def _a_name(paths: tuple[str, ...]) -> bool:
    """A workflow's name rather than files: one argument that is no file and does not look like a path."""
    from pathlib import Path

    return (len(paths) == 1 and not Path(paths[0]).exists() and "/" not in paths[0]
            and not paths[0].endswith((".yaml", ".yml", ".json")))


def _start_pipeline(app: AppContext, paths: tuple[str, ...], env: dict[str, str],
                    client_only: tuple[Any, ...], *, key: str | None, wait: bool, follow: bool,
                    location: str | None, yes: bool) -> Item:
    from jobctl.backends.oci import OciBackend
    from jobctl.cli.apply import confirm_destructive
    from jobctl.plan.sets import plan_set
    from jobctl.workflow import pipeline_engine

    backend = app.backend()
    if not isinstance(backend, OciBackend) and _a_name(paths):
        raise UsageError(f"{paths[0]!r} is not a file: by name, a workflow runs as its pipeline applied on OCI "
                         "(--backend oci)", hint="give the workflow's spec file")
    if not isinstance(backend, OciBackend):
        raise UsageError("the pipeline engine runs on OCI Data Science Pipelines: use --backend oci",
                         hint="or --engine client, which runs the workflow from this process on any backend")
    if any(client_only):
        raise UsageError("--resume and --restart are for --engine client: a pipeline run cannot be resumed; start "
                         "another (or re-attach to one with --idempotency-key)")
    if _a_name(paths):
        store, state, said = pipeline_engine.run_applied(backend, paths[0], env, location, key)
    else:
        workflow = _with_state(_load(app, paths, set(env), engine="pipeline"), location)
        store, state, said = pipeline_engine.run_file(
            backend, workflow, env, set_name=plan_set(paths, None, app.environ), report=app.info, key=key,
            confirm=lambda what: confirm_destructive(app, yes, what))
    name = state["workflow"]
    app.info(f"workflow {name}: {said}; it goes on without this process: jobctl workflow status {name} --state "
             f"{state['stateUri']}")
    return _wait_pipeline(app, store, state, follow=follow) if wait else _state_result(state)


def _wait_pipeline(app: AppContext, store: Any, state: dict[str, Any], *, follow: bool) -> Item:
    """Follow a pipeline run until it ends, saying each step's change (with `follow`, printing its runs'
    output instead); its state as it ended, and its outcome as the exit code."""
    import time

    said: dict[str, str] = {}
    try:
        if follow:
            state = _print_logs(app, store, state, (), follow=True)
        while not follow:
            state = _refreshed(app, store, state)
            for step in state.get("order") or sorted(state["steps"]):
                status = state["steps"][step]["status"]
                if said.get(step, "pending") != status:
                    app.info(f"  {step}: {status}")
                said[step] = status
            if state["status"] != "running":
                break
            time.sleep(app.backend().poll_interval)
    except KeyboardInterrupt:
        app.info(f"\nInterrupted; the pipeline run goes on (jobctl workflow cancel {state['workflow']} stops it)")
        raise Interrupted from None
    app.info(f"workflow {state['workflow']}: run {state['run']} {state['status']}"
             + (f": {state['error']}" if state.get("error") else ""))
    return _state_result(state, {"succeeded": ExitCode.OK, "canceled": ExitCode.CANCELED}.get(state["status"],
                                                                                             ExitCode.ERROR))


def _store_and_state(app: AppContext, name: str, location: str | None,
                     run: str | None = None) -> tuple[Any, dict[str, Any]]:
    store = app.backend().workflow_store(location or _applied_state(app, name))
    state = store.load(name, run)
    if state is None and run is not None and store.runs(name):
        raise NotFoundError(f"workflow {name!r} has no run {run!r}",
                            hint=f"its latest runs: {', '.join(store.runs(name)[-5:])}")
    if state is None:
        known = ", ".join(store.names()) or "none yet"
        raise NotFoundError(f"no workflow {name!r} has run here", hint=f"known workflows: {known}")
    return store, state


def _applied_state(app: AppContext, name: str) -> str | None:
    """On OCI without --state: where the workflow's applied pipeline says its state is (its `jobctl-state` tag),
    if it has one."""
    backend = app.backend()
    if backend.name != "oci" or "spec.compartmentId" not in backend.spec_defaults():
        return None
    from jobctl.backends.oci import OciBackend
    from jobctl.workflow.deploy import current

    assert isinstance(backend, OciBackend)
    try:
        return current(backend, name).state_uri
    except NotFoundError:
        return None


run_option = click.option("--run", "run", metavar="RUN", help="This run of the workflow [default: its latest].")


@command.command("status")
@click.argument("name", required=False)
@state_option
@run_option
@click.option("--once", is_flag=True, help="On a terminal, print once instead of following a running workflow.")
@renders()
def status_command(app: AppContext, *, name: str | None, location: str | None, run: str | None,
                   once: bool) -> Item | Listing:
    """Show the steps and runs of a workflow's latest run, or of --run RUN (without NAME: each workflow
    run here, with its latest run and how many runs it has).

    On a terminal, a running workflow's tree is redrawn until it finishes (Ctrl-C to leave).

    \b
    Examples:
      jobctl workflow status
      jobctl workflow status model-selection
      jobctl workflow status model-selection -o json
      jobctl workflow status model-selection --run model-selection-20261130-101500-3fa2c1
    """
    if name is None:
        store = app.backend().workflow_store(location)
        found = [(s, len(store.runs(n))) for n in store.names() if (s := _listed(store, n))]
        return Listing("WorkflowStateList", found, lambda item: {**item[0], "runs": item[1]},
                       ["WORKFLOW", "LATEST RUN", "STATUS", "STARTED", "RUNS"],
                       lambda item: [item[0]["workflow"], item[0]["run"], item[0]["status"], item[0]["started"],
                                     str(item[1])], empty="No workflow runs recorded.")
    store, state = _store_and_state(app, name, location, run)
    state = _refreshed(app, store, state)

    def show(app: AppContext) -> None:
        printer = app.printer()
        if not printer.rich:
            _print_tree(app, state)
        elif once or state["status"] != "running":
            printer.console.print(_rich_tree(state))
        else:
            _watch(printer.console, store, name, state)

    return Item(lambda: state, show)


def _watch(console: Any, store: Any, name: str, state: dict[str, Any]) -> None:
    import time

    from rich.live import Live

    try:
        with Live(_rich_tree(state), console=console, refresh_per_second=2) as live:
            while state["status"] == "running":
                time.sleep(1.0)
                state = store.load(name, state["run"]) or state
                live.update(_rich_tree(state))
    except KeyboardInterrupt:
        raise Interrupted from None


_COLOURS = {"succeeded": "green", "SUCCEEDED": "green", "failed": "red", "FAILED": "red", "running": "cyan",
            "IN_PROGRESS": "cyan", "canceled": "yellow", "interrupted": "yellow", "CANCELED": "yellow",
            "skipped": "dim", "pending": "dim"}


def _rich_tree(state: dict[str, Any]) -> Any:
    from rich.markup import escape
    from rich.tree import Tree

    def paint(text: str) -> str:
        colour = _COLOURS.get(text)
        return f"[{colour}]{text}[/]" if colour else text

    note = f"\n[yellow]{escape(state['note'])}[/]" if state.get("note") else ""
    tree = Tree(f"[bold]{state['workflow']}[/]  run {state['run']}  {paint(state['status'])}{note}")
    for step_name in state.get("order") or sorted(state["steps"]):
        record = state["steps"][step_name]
        error = f"  [red]{escape(record['error'])}[/]" if record.get("error") else ""
        branch = tree.add(f"[bold]{step_name}[/] {paint(record['status'])}{error}")
        for entry in record["runs"]:
            shown = " ".join(f"{k}={v}" for k, v in _shown_metrics(entry).items())
            star = "  [bold green]★ selected[/]" if _selected(record, entry) else ""
            branch.add(f"{escape(entry['key'])}  {paint(entry['state'])}  [dim]{entry['id']}[/]  {shown}{star}")
    return tree


def _listed(store: Any, name: str) -> dict[str, Any] | None:
    """A workflow's latest run for the list; one whose state cannot be read is said, and left out."""
    from jobctl.errors import ConfigError
    from jobctl.log import warn
    from jobctl.workflow.runner import liveness

    try:
        state: dict[str, Any] | None = store.load(name)
    except ConfigError as exc:
        warn(f"workflow {name}: {exc.message}")
        return None
    return liveness(state) if state is not None else None


def _refreshed(app: AppContext, store: Any, state: dict[str, Any]) -> dict[str, Any]:
    """A pipeline-engine run as its pipeline run is now (read from the service), kept in the state; a client
    one as its process is (jobctl.workflow.runner.liveness)."""
    if state.get("engine") != "pipeline":
        from jobctl.workflow.runner import liveness

        return _current_runs(app, liveness(state))
    if state.get("status") not in ("running", None) or not state.get("pipelineRunId"):
        return state  # ended; or its pipeline run was never made (a retry with its idempotency key makes it)
    from jobctl.workflow.pipeline_engine import refresh

    run_id = state["pipelineRunId"]
    refresh(state, app.backend().pipelines.get(run_id),  # type: ignore[attr-defined]
            lambda step: store.read(state["workflow"], "pipeline-runs", run_id, step, "best.json"))
    store.save(state["workflow"], state)
    return state


def _current_runs(app: AppContext, state: dict[str, Any]) -> dict[str, Any]:
    """A client-engine run's tree with each run not yet ended as the backend has it now (a run canceled by a
    timeout, or one that ended after its `workflow run` was killed); what is stored is the driver's."""
    import copy

    from jobctl.errors import JobctlError
    from jobctl.model.job import ACTIVE_STATES

    entries = [entry for record in state["steps"].values() for entry in record["runs"]
               if entry["state"] in ACTIVE_STATES and entry["id"]]
    if not entries:
        return state
    try:
        now = {run.id: run.state for run in app.backend().get_runs(run_ids=[entry["id"] for entry in entries])}
    except JobctlError:
        return state  # a run gone with its job: the stored word stands
    shown = copy.deepcopy(state)
    for record in shown["steps"].values():
        for entry in record["runs"]:
            entry["state"] = now.get(entry["id"], entry["state"])
    return shown


def _selected(record: dict[str, Any], entry: dict[str, Any]) -> bool:
    """The run `select` chose: a step without `select` has a `best` too (its first run), but chose nothing."""
    return bool(record.get("selectedBy")) and entry["id"] == record.get("best")


def _shown_metrics(entry: dict[str, Any]) -> dict[str, Any]:
    from jobctl.driver import reported as reported_metrics

    return {**reported_metrics(entry.get("outputs") or {}), **(entry.get("metrics") or {})}


def _print_tree(app: AppContext, state: dict[str, Any]) -> None:
    printer = app.printer()
    printer.line(f"{state['workflow']}  run {state['run']}  {state['status']}")
    if state.get("note"):
        printer.line(f"  ({state['note']})")
    for step_name in state.get("order") or sorted(state["steps"]):
        record = state["steps"][step_name]
        printer.line(f"├─ {step_name}: {record['status']}" + (f"  ({record['error']})" if record.get("error") else ""))
        for entry in record["runs"]:
            marker = "  ★ selected" if _selected(record, entry) else ""
            metrics = _shown_metrics(entry)
            shown = " ".join(f"{k}={v}" for k, v in metrics.items())
            printer.line(f"│   {entry['key']:<20} {entry['state']:<11} {entry['id']}  {shown}{marker}")


@command.command("cancel")
@click.argument("name")
@state_option
@run_option
@pass_app
def cancel_command(app: AppContext, *, name: str, location: str | None, run: str | None) -> None:
    """Cancel a workflow run (its latest, or --run RUN): its active runs are canceled, and the `workflow run`
    driving it starts no more.

    \b
    Examples:
      jobctl workflow cancel model-selection
    """
    from jobctl.workflow.model import Workflow
    from jobctl.workflow.runner import WorkflowRunner

    store, state = _store_and_state(app, name, location, run)
    if state.get("engine") == "pipeline" and state["status"] == "running" and not state.get("pipelineRunId"):
        store.save(name, {**state, "status": "canceled"})  # its start was interrupted before the run was made
        app.info(f"workflow {name}: run {state['run']} canceled (its pipeline run was never made)")
        return
    if state.get("engine") == "pipeline" and state["status"] == "running":
        from jobctl.workflow.pipeline_engine import refresh

        refresh(state, app.backend().pipelines.cancel(state["pipelineRunId"]))  # type: ignore[attr-defined]
        store.save(name, state)
        app.info(f"workflow {name}: run {state['run']}: pipeline run {state['pipelineRunId']} "
                 f"{state['pipelineRunState']}")
        return
    if state["status"] != "running":
        app.info(f"workflow {name}: run {state['run']} has ended ({state['status']}); nothing to cancel")
        return
    runner = WorkflowRunner(app.backend(), store, Workflow(name, ()), env={})
    runner.state = state
    canceled = runner.cancel()
    app.info(f"workflow {name}: run {state['run']} canceled ({len(canceled)} active run(s) canceled)")


@command.command("logs")
@click.argument("name")
@click.option("-s", "--step", "steps", multiple=True, metavar="STEP", help="Only this step's runs (repeatable).")
@click.option("-f", "--follow", is_flag=True, help="Keep printing as the runs log, and the runs that start later, "
                                                   "until the workflow run ends.")
@state_option
@run_option
@pass_app
def logs_command(app: AppContext, *, name: str, steps: tuple[str, ...], follow: bool, location: str | None,
                 run: str | None) -> None:
    """Print the logs of a workflow run's runs (its latest, or --run RUN), each line prefixed [step run],
    one run after another in the order of the steps; on either engine.

    With --follow, the runs going on are followed until they end, then the runs started since, until
    the workflow run ends (Ctrl-C leaves; the runs go on).

    \b
    Examples:
      jobctl workflow logs model-selection
      jobctl workflow logs model-selection --step tune
      jobctl workflow logs model-selection --follow
    """
    store, state = _store_and_state(app, name, location, run)
    unknown = sorted(set(steps) - set(state["steps"]))
    if unknown:
        raise UsageError(f"workflow {name!r} has no step {', '.join(map(repr, unknown))}",
                         hint=f"its steps: {', '.join(state.get('order') or sorted(state['steps']))}")
    try:
        _print_logs(app, store, state, steps, follow=follow)
    except KeyboardInterrupt:
        raise Interrupted from None


def _print_logs(app: AppContext, store: Any, state: dict[str, Any], steps: Collection[str], *,
                follow: bool) -> dict[str, Any]:
    """The logs of the workflow run's runs (of `steps`, or all), each line prefixed [step run]; with
    `follow`, until the workflow run ends. The state as last read."""
    import time

    from jobctl.engine.follow import follow_logs
    from jobctl.render.human import format_log

    backend = app.backend()
    sanitize = is_tty(app.stdout)
    printed: set[str] = set()
    while True:
        state = _refreshed(app, store, state)
        chosen = [(step, entry) for step in state.get("order") or sorted(state["steps"])
                  if not steps or step in steps for entry in state["steps"][step]["runs"]
                  if entry.get("id") and entry["id"] not in printed]
        prefixes = {entry["id"]: f"[{step} {entry['name']}] " for step, entry in chosen}
        for event in follow_logs(backend, list(prefixes), follow=follow):
            if event.line is not None:
                app.stdout.write(format_log(event.line, timestamps=False, sanitize=sanitize,
                                            prefix=prefixes[event.run_id]) + "\n")
                app.stdout.flush()
        printed.update(prefixes)
        if not follow or state["status"] != "running":
            return state
        if not prefixes:
            time.sleep(backend.poll_interval)
        state = store.load(state["workflow"], state["run"]) or state

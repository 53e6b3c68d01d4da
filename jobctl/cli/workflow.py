"""`jobctl workflow run|status|cancel`: multi-step runs with fan-out, selection and resume."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import output_option, pass_app
from jobctl.errors import ExitCode, NotFoundError, UsageError


@click.group()
def command() -> None:
    """Run workflows: steps that start runs of applied jobs, in parallel and in order.

    \b
    Examples:
      jobctl apply specs-examples/model-selection/
      jobctl workflow run specs-examples/model-selection/workflow.yaml
      jobctl workflow status model-selection
    """


def _load(app: AppContext, paths: tuple[str, ...], env: Collection[str] | None = None) -> Any:
    """The one workflow in `paths`, checked against the jobs in the files given or applied and, given `env`
    (the names of the run's --env), against it: a mistake in the last step is found before any run starts."""
    from jobctl.engine.resolve import applied_env
    from jobctl.spec.load import load_specs

    loaded = load_specs(paths, app.environ, external_jobs=applied_env(app.backend), workflow_env=env)
    if env is not None and loaded.diagnostics:  # validate does not know this run's --env: no hint towards it
        from jobctl.errors import SpecError

        raise SpecError(loaded.diagnostics, hint="give the --env values the workflow uses, and fix what else is said")
    loaded.raise_for_errors()
    if len(loaded.workflows) != 1:
        found = ", ".join(w.name for w in loaded.workflows) or "none"
        raise UsageError(f"expected exactly one kind: Workflow document in {', '.join(paths)}; found {found}")
    return loaded.workflows[0]


@command.command("run")
@click.argument("paths", nargs=-1, required=True, metavar="FILE...")
@click.option("-e", "--env", "env", multiple=True, metavar="K=V", help="A value for ${{ env.K }} (repeatable).")
@click.option("--resume", "resume", is_flag=False, flag_value="latest", default=None, metavar="[RUN]",
              help="Resume this workflow run (default: the latest), retrying what did not succeed.")
@click.option("--restart", is_flag=True, help="Start a new run even when the latest did not finish and could resume.")
@click.option("--idempotency-key", "key", metavar="KEY",
              help="The run started with this key: re-attach to it if it exists (same inputs), else start one "
                   "that records it. For CI retries.")
@click.option("-F", "--follow", is_flag=True, help="Stream the runs' output, each line prefixed [step run].")
@click.option("--engine", type=click.Choice(["client", "pipeline"]), default=None,
              help="client: this process drives the runs; pipeline: an OCI Data Science pipeline run does, and "
                   "this command returns once it has started (oci backend; docs/decisions/0014) [default: the "
                   "workflow's spec.engine, else client].")
@pass_app
def run_command(app: AppContext, *, paths: tuple[str, ...], env: tuple[str, ...], resume: str | None,
                restart: bool, key: str | None, follow: bool, engine: str | None) -> None:
    """Start a run of the workflow in FILE (or resume one); its jobs must be applied.

    Each `workflow run` starts a new workflow run, except: when the latest run did not finish (the
    process was killed or interrupted) and the spec and --env are the same, it resumes that run, and
    says so; `--resume [RUN]` resumes a run explicitly (a failed one too: its failed runs are tried
    again, what succeeded is kept); `--idempotency-key` re-attaches to the run started with that key.
    Steps start once the steps they need have succeeded, independent steps at the same time; a step's
    matrix runs at most maxParallel at once. State is saved after every change. Exit code: 0 when every
    step succeeded, else the worst step's (1 failed, 7 timed out, 8 canceled); 5 when --resume or a key
    meets other inputs.

    \b
    Examples:
      jobctl workflow run specs-examples/model-selection/workflow.yaml
      jobctl workflow run flow.yaml --env DATASET=2024-q4
      jobctl workflow run flow.yaml --resume               # the latest run, retrying what failed
      jobctl workflow run flow.yaml --idempotency-key "$CI_PIPELINE_ID"
      jobctl workflow run flow.yaml --follow
    """
    from jobctl.cli.assignments import parse_assignments
    from jobctl.render.human import format_log
    from jobctl.workflow.runner import WorkflowRunner

    if sum(map(bool, (resume, restart, key))) > 1:
        raise UsageError("--resume, --restart and --idempotency-key each choose the run: give one of them")
    given = parse_assignments(env, "--env")
    if engine == "pipeline":  # said first: the backend is checked before the jobs are looked up in it
        _start_pipeline(app, paths, given, (resume, restart, key, follow))
        return
    workflow = _load(app, paths)
    if engine is None and workflow.engine == "pipeline":
        _start_pipeline(app, paths, given, (resume, restart, key, follow))
        return
    backend = app.backend()
    sanitize = app.printer().rich or _isatty(app.stdout)

    def show(step: str, run: str, line: Any) -> None:
        app.stdout.write(format_log(line, timestamps=False, sanitize=sanitize, prefix=f"[{step} {run}] ") + "\n")
        app.stdout.flush()

    runner = WorkflowRunner(backend, backend.workflow_store(workflow.state), workflow,
                            env=given, on_event=app.info, on_log=show if follow else None)
    chosen = runner.prepare(resume=resume, restart=restart, key=key)
    _load(app, paths, set(runner.env))  # its ${{ env.X }}: what this run has, the resumed run's --env included
    app.info(f"workflow {workflow.name}: {chosen}")
    try:
        code = runner.run()
    except KeyboardInterrupt:
        app.info(f"\nInterrupted; the runs continue. Resume with: jobctl workflow run {' '.join(paths)} "
                 f"--resume {runner.state['run']}")
        raise SystemExit(ExitCode.INTERRUPTED) from None
    app.info(f"workflow {workflow.name}: run {runner.state['run']} {runner.state['status']}")
    raise SystemExit(code)


def _start_pipeline(app: AppContext, paths: tuple[str, ...], env: dict[str, str],
                    client_only: tuple[Any, ...]) -> None:
    from jobctl.backends.oci import OciBackend
    from jobctl.workflow import pipeline_engine

    backend = app.backend()
    if not isinstance(backend, OciBackend):
        raise UsageError("the pipeline engine runs on OCI Data Science Pipelines: use --backend oci",
                         hint="or --engine client, which runs the workflow from this process on any backend")
    if any(client_only):
        raise UsageError("--resume, --restart, --idempotency-key and --follow are for --engine client: a pipeline "
                         "run is followed with `jobctl workflow status`")
    workflow = _load(app, paths, set(env))
    state = pipeline_engine.start(backend, backend.workflow_store(workflow.state), workflow, env)
    app.info(f"workflow {workflow.name}: started run {state['run']} as pipeline run {state['pipelineRunId']}; it "
             f"goes on without this process: jobctl workflow status {workflow.name} --state {workflow.state}")


state_option = click.option(
    "--state", "location", envvar="JOBCTL_WORKFLOW_STATE", metavar="oci://BUCKET@NAMESPACE/PREFIX",
    help="Where the workflow keeps its state (its spec.state); needed with --backend oci.",
)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _store_and_state(app: AppContext, name: str, location: str | None,
                     run: str | None = None) -> tuple[Any, dict[str, Any]]:
    store = app.backend().workflow_store(location)
    state = store.load(name, run)
    if state is None and run is not None and store.runs(name):
        raise NotFoundError(f"workflow {name!r} has no run {run!r}",
                            hint=f"its latest runs: {', '.join(store.runs(name)[-5:])}")
    if state is None:
        known = ", ".join(store.names()) or "none yet"
        raise NotFoundError(f"no workflow {name!r} has run here", hint=f"known workflows: {known}")
    return store, state


run_option = click.option("--run", "run", metavar="RUN", help="This run of the workflow [default: its latest].")


@command.command("status")
@click.argument("name", required=False)
@state_option
@run_option
@click.option("--once", is_flag=True, help="On a terminal, print once instead of following a running workflow.")
@output_option()
@pass_app
def status_command(app: AppContext, *, name: str | None, location: str | None, run: str | None, once: bool,
                   output: str | None) -> None:
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
    from jobctl.render.machine import dumps, envelope

    fmt = app.output_format(output)
    if name is None:
        store = app.backend().workflow_store(location)
        found = [(s, len(store.runs(n))) for n in store.names() if (s := _listed(store, n))]
        if fmt != "table":
            click.echo(dumps(envelope("WorkflowStateList", [{**s, "runs": count} for s, count in found]), fmt),
                       nl=False)
            return
        app.printer().table(["WORKFLOW", "LATEST RUN", "STATUS", "STARTED", "RUNS"],
                            [[s["workflow"], s["run"], s["status"], s["started"], str(count)] for s, count in found])
        return
    store, state = _store_and_state(app, name, location, run)
    state = _refreshed(app, store, state)
    if fmt != "table":
        click.echo(dumps(state, fmt), nl=False)
        return
    printer = app.printer()
    if not printer.rich:
        _print_tree(app, state)
        return
    if once or state["status"] != "running":
        printer.console.print(_rich_tree(state))
        return
    _watch(printer.console, store, name, state)


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
        raise SystemExit(ExitCode.INTERRUPTED) from None


_COLOURS = {"succeeded": "green", "SUCCEEDED": "green", "failed": "red", "FAILED": "red", "running": "cyan",
            "IN_PROGRESS": "cyan", "canceled": "yellow", "CANCELED": "yellow", "skipped": "dim", "pending": "dim"}


def _rich_tree(state: dict[str, Any]) -> Any:
    from rich.markup import escape
    from rich.tree import Tree

    def paint(text: str) -> str:
        colour = _COLOURS.get(text)
        return f"[{colour}]{text}[/]" if colour else text

    tree = Tree(f"[bold]{state['workflow']}[/]  run {state['run']}  {paint(state['status'])}")
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

    try:
        state: dict[str, Any] | None = store.load(name)
    except ConfigError as exc:
        warn(f"workflow {name}: {exc.message}")
        return None
    return state


def _refreshed(app: AppContext, store: Any, state: dict[str, Any]) -> dict[str, Any]:
    """A pipeline-engine run as its pipeline run is now (read from the service), kept in the state."""
    if state.get("engine") != "pipeline" or state.get("status") not in ("running", None):
        return state
    from jobctl.workflow.pipeline_engine import refresh

    run_id = state["pipelineRunId"]
    refresh(state, app.backend().pipelines.get(run_id),  # type: ignore[attr-defined]
            lambda step: store.read(state["workflow"], "pipeline-runs", run_id, step, "best.json"))
    store.save(state["workflow"], state)
    return state


def _selected(record: dict[str, Any], entry: dict[str, Any]) -> bool:
    """The run `select` chose: a step without `select` has a `best` too (its first run), but chose nothing."""
    return bool(record.get("selectedBy")) and entry["id"] == record.get("best")


def _shown_metrics(entry: dict[str, Any]) -> dict[str, Any]:
    from jobctl.driver import reported as reported_metrics

    return {**reported_metrics(entry.get("outputs") or {}), **(entry.get("metrics") or {})}


def _print_tree(app: AppContext, state: dict[str, Any]) -> None:
    printer = app.printer()
    printer.line(f"{state['workflow']}  run {state['run']}  {state['status']}")
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

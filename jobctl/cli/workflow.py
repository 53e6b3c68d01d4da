"""`jobctl workflow run|status|cancel`: multi-step runs with fan-out, selection and resume."""

from __future__ import annotations

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


def _load(app: AppContext, paths: tuple[str, ...]) -> Any:
    from jobctl.spec.load import load_specs

    loaded = load_specs(paths, app.environ, external_jobs=True)
    loaded.raise_for_errors()
    if len(loaded.workflows) != 1:
        found = ", ".join(w.name for w in loaded.workflows) or "none"
        raise UsageError(f"expected exactly one kind: Workflow document in {', '.join(paths)}; found {found}")
    return loaded.workflows[0]


@command.command("run")
@click.argument("paths", nargs=-1, required=True, metavar="FILE...")
@click.option("-e", "--env", "env", multiple=True, metavar="K=V", help="A value for ${{ env.K }} (repeatable).")
@click.option("--restart", is_flag=True, help="Start over instead of resuming the last run of this workflow.")
@click.option("-F", "--follow", is_flag=True, help="Stream the runs' output, each line prefixed [step run].")
@pass_app
def run_command(app: AppContext, *, paths: tuple[str, ...], env: tuple[str, ...], restart: bool,
                follow: bool) -> None:
    """Run (or resume) the workflow in FILE; its jobs must be applied.

    Steps run in the order their `needs` give; a step's matrix runs in parallel (at most maxParallel
    at once). State is saved after every change: after a crash or Ctrl-C, running the same command
    again resumes without repeating finished steps or runs. Exit code: 0 when every step succeeded,
    else the worst step's (1 failed, 7 timed out, 8 canceled).

    \b
    Examples:
      jobctl workflow run specs-examples/model-selection/workflow.yaml
      jobctl workflow run flow.yaml --env DATASET=2024-q4 --restart
      jobctl workflow run flow.yaml --follow
    """
    from jobctl.cli.assignments import parse_assignments
    from jobctl.render.human import format_log
    from jobctl.workflow.runner import WorkflowRunner

    workflow = _load(app, paths)
    backend = app.backend()
    sanitize = app.printer().rich or _isatty(app.stdout)

    def show(step: str, run: str, line: Any) -> None:
        app.stdout.write(format_log(line, timestamps=False, sanitize=sanitize, prefix=f"[{step} {run}] ") + "\n")
        app.stdout.flush()

    runner = WorkflowRunner(backend, backend.workflow_store(workflow.state), workflow,
                            env=parse_assignments(env, "--env"), on_event=app.info, on_log=show if follow else None)
    state = runner.prepare(restart=restart)
    app.info(f"workflow {workflow.name}: run {state['run']}")
    try:
        code = runner.run()
    except KeyboardInterrupt:
        app.info(f"\nInterrupted; the runs continue. Resume with: jobctl workflow run {' '.join(paths)}")
        raise SystemExit(ExitCode.INTERRUPTED) from None
    app.info(f"workflow {workflow.name}: {runner.state['status']}")
    raise SystemExit(code)


state_option = click.option(
    "--state", "location", envvar="JOBCTL_WORKFLOW_STATE", metavar="oci://BUCKET@NAMESPACE/PREFIX",
    help="Where the workflow keeps its state (its spec.state); needed with --backend oci.",
)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _store_and_state(app: AppContext, name: str, location: str | None) -> tuple[Any, dict[str, Any]]:
    store = app.backend().workflow_store(location)
    state = store.load(name)
    if state is None:
        known = ", ".join(store.names()) or "none yet"
        raise NotFoundError(f"no workflow {name!r} has run here", hint=f"known workflows: {known}")
    return store, state


@command.command("status")
@click.argument("name", required=False)
@state_option
@click.option("--once", is_flag=True, help="On a terminal, print once instead of following a running workflow.")
@output_option()
@pass_app
def status_command(app: AppContext, *, name: str | None, location: str | None, once: bool,
                   output: str | None) -> None:
    """Show the steps and runs of a workflow's last run (or list the workflows run here).

    On a terminal, a running workflow's tree is redrawn until it finishes (Ctrl-C to leave).

    \b
    Examples:
      jobctl workflow status
      jobctl workflow status model-selection
      jobctl workflow status model-selection -o json
    """
    from jobctl.render.machine import dumps, envelope

    fmt = app.output_format(output)
    if name is None:
        store = app.backend().workflow_store(location)
        states = [s for s in (store.load(n) for n in store.names()) if s]
        if fmt != "table":
            click.echo(dumps(envelope("WorkflowStateList", states), fmt), nl=False)
            return
        app.printer().table(["WORKFLOW", "RUN", "STATUS", "STARTED"],
                            [[s["workflow"], s["run"], s["status"], s["started"]] for s in states])
        return
    store, state = _store_and_state(app, name, location)
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
                state = store.load(name) or state
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
            metrics = (entry.get("outputs") or {}).get("metrics") or {}
            shown = " ".join(f"{k}={v}" for k, v in metrics.items())
            star = "  [bold green]★ selected[/]" if entry["id"] == record.get("best") else ""
            branch.add(f"{escape(entry['key'])}  {paint(entry['state'])}  [dim]{entry['id']}[/]  {shown}{star}")
    return tree


def _print_tree(app: AppContext, state: dict[str, Any]) -> None:
    printer = app.printer()
    printer.line(f"{state['workflow']}  run {state['run']}  {state['status']}")
    for step_name in state.get("order") or sorted(state["steps"]):
        record = state["steps"][step_name]
        best = record.get("best")
        printer.line(f"├─ {step_name}: {record['status']}" + (f"  ({record['error']})" if record.get("error") else ""))
        for entry in record["runs"]:
            marker = "  ★ selected" if entry["id"] == best else ""
            metrics = (entry.get("outputs") or {}).get("metrics") or {}
            shown = " ".join(f"{k}={v}" for k, v in metrics.items())
            printer.line(f"│   {entry['key']:<20} {entry['state']:<11} {entry['id']}  {shown}{marker}")


@command.command("cancel")
@click.argument("name")
@state_option
@pass_app
def cancel_command(app: AppContext, *, name: str, location: str | None) -> None:
    """Cancel the active runs of a workflow's current run and mark it canceled.

    \b
    Examples:
      jobctl workflow cancel model-selection
    """
    from jobctl.workflow.model import Workflow
    from jobctl.workflow.runner import WorkflowRunner

    store, state = _store_and_state(app, name, location)
    runner = WorkflowRunner(app.backend(), store, Workflow(name, ()), env={})
    runner.state = state
    canceled = runner.cancel()
    app.info(f"workflow {name}: canceled {len(canceled)} run(s)")

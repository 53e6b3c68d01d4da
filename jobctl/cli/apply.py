"""`jobctl apply`: execute exactly the plan it shows."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from jobctl.cli.context import AppContext
from jobctl.cli.options import show_secrets_option, spec_paths_argument
from jobctl.cli.output import Item, render, renders
from jobctl.cli.plan import PlanRequest, PlanResult, adopt_option, compute_plan, plan_options
from jobctl.cli.signals import interrupt_on
from jobctl.errors import InexpressibleError, UsageError

if TYPE_CHECKING:
    from jobctl.backends.base import Backend
    from jobctl.plan.model import Plan
    from jobctl.workflow.deploy import AppliedPipelineChange


def confirm_destructive(app: AppContext, yes: bool, what: str) -> None:
    """Destructive steps need --yes, or a person at a terminal who says yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {what} without confirmation", hint="pass --yes to confirm")
    if not click.confirm(f"Do you want to {what}?", default=False, err=True):
        raise UsageError("nothing was changed")


@click.command()
@spec_paths_argument()
@plan_options
@click.option("-y", "--yes", is_flag=True, help="Do not ask before replacing or deleting jobs.")
@click.option("--force", is_flag=True,
              help="Replace jobs even if they hold fields no spec can express yet (they are lost).")
@adopt_option
@show_secrets_option
@renders()
def command(
    app: AppContext, *, paths: tuple[str, ...], request: PlanRequest, yes: bool, force: bool, show_secrets: bool,
) -> Item:
    """Create, update, replace or delete jobs so the backend matches the specs.

    Prints the plan, asks before anything destructive (replace/delete) unless --yes, then
    executes exactly that plan. Running it again with unchanged specs says "No changes" and writes
    nothing. Jobs jobctl does not manage are never touched (unless --adopt takes over one whose
    display name matches a spec). A replaced job that has runs is kept, tagged superseded, so its
    runs stay listed under the job's name; --prune-history deletes such generations once their runs
    have ended. --prune deletes only jobs of this set (docs/sets.md), and refuses (exit 2) while a YAML file
    it skipped mentions jobctl/, or a hidden one looks like a spec. Ctrl-C or SIGTERM stops it
    cleanly: no other change starts, the ones under way finish and are reported, exit 130; the next
    apply does the rest.

    \b
    Examples:
      jobctl apply job.yaml
      jobctl apply specs/ --prune --yes     # CI on main
      jobctl export my-console-job -d specs/ && jobctl apply specs/my-console-job --adopt
    """
    return apply_specs(app, paths, request, yes=yes, force=force, show_secrets=show_secrets)


def apply_specs(
    app: AppContext, paths: tuple[str, ...], request: PlanRequest, *, yes: bool, force: bool, show_secrets: bool,
) -> Item:
    """The body of `apply` (and of `adopt`, which is apply --adopt): for people, the plan is shown before it is
    applied (and confirmed), then each change as it is made; for machines, the plan and what was applied."""
    from jobctl.engine.apply import AppliedChange, apply_plan

    app.show_secrets = show_secrets
    plan = compute_plan(app, paths, request)
    if app.for_people:
        render(app, PlanResult(plan, show_secrets), "table")
    if not plan.has_changes:  # the plan said so
        return Item(PlanResult(plan, show_secrets, extra={"kind": "ApplyResult", "applied": []}).data, lambda app: None)
    lossy = [c for c in plan.changes if c.drops]
    if lossy and not force:
        raise InexpressibleError(
            "; ".join(f"replacing job {c.name!r} would lose {', '.join(c.drops)}" for c in lossy),
            hint="keep the job as it is (leave its spec unchanged), or pass --force to replace it without them",
        )
    if plan.destructive:
        kinds = [kind for kind, held in (("jobs", plan.changes), ("pipelines", plan.pipelines),
                                         ("applications", plan.applications)) if held]
        confirm_destructive(app, yes, f"replace or delete the {' and '.join(kinds)} above")

    def report(step: AppliedChange) -> None:
        old = ""
        if step.retired in ("superseded", "kept"):
            old = f"; old job {step.change.job_id} kept with its runs as an earlier generation"
        elif step.retired:
            old = f"; old job {step.change.job_id} {step.retired}"
        note = " (kept with its runs as an earlier generation)" if step.outcome in ("superseded", "kept") else ""
        app.progress(f"{step.change.name}: {step.outcome} ({step.job_id}){old}{note}")

    def report_pipeline(step: AppliedPipelineChange) -> None:
        old = f"; old pipeline {step.change.pipeline_id} {step.retired}" if step.retired else ""
        app.progress(f"pipeline {step.change.name}: {step.outcome} ({step.pipeline_id}){old}")

    backend = app.backend()
    pipelines: list[AppliedPipelineChange] = []
    with interrupt_on(signal.SIGINT, signal.SIGTERM):  # a CI runner's SIGTERM stops the apply as Ctrl-C does
        # a pipeline that goes is deleted before its jobs, one that stays is made once its jobs are
        pipelines += apply_pipelines(backend, plan, deletes=True, on_change=report_pipeline)
        applied = apply_plan(backend, plan, on_change=report, on_interrupt=lambda: app.info(
            "Interrupted: no other change starts; finishing the ones under way"))
        pipelines += apply_pipelines(backend, plan, deletes=False, on_change=report_pipeline)
        applications = apply_applications(backend, plan, on_change=lambda name, outcome, app_id: app.progress(
            f"application {name}: {outcome} ({app_id})"))

    def summary(app: AppContext) -> None:
        results = [(a.outcome, a.retired) for a in applied] + [(p.outcome, p.retired) for p in pipelines] + [
            (outcome, None) for _, outcome, _ in applications]
        outcomes = [outcome for outcome, _ in results]
        counts = ", ".join(f"{outcomes.count(o)} {o}" for o in ("created", "updated", "replaced", "deleted"))
        kept = sum(1 for result in results for what in result if what in ("superseded", "kept"))
        extra = f", {kept} kept as earlier generations (with their runs)" if kept else ""
        app.info(f"Apply complete: {counts}{extra}.")

    done = PlanResult(plan, show_secrets, extra={"kind": "ApplyResult", "applied": [
        *({"kind": "job", "name": a.change.name, "action": a.change.action.value, "outcome": a.outcome,
           "jobId": a.job_id} for a in applied),
        *({"kind": "pipeline", "name": p.change.name, "action": p.change.action.value, "outcome": p.outcome,
           "pipelineId": p.pipeline_id} for p in pipelines),
        *({"kind": "application", "name": name, "outcome": outcome, "applicationId": app_id}
          for name, outcome, app_id in applications),
    ]})
    return Item(done.data, summary)


def apply_applications(backend: Backend, plan: Plan,
                       on_change: Callable[[str, str, str], None]) -> list[tuple[str, str, str]]:
    """The plan's Data Flow application changes: (name, outcome, id) each."""
    if not plan.applications:
        return []
    from jobctl.plan.applications import apply_application

    held = backend.dataflow  # type: ignore[attr-defined]
    done = []
    for change in plan.applications:
        app_id, outcome = apply_application(held, change)
        done.append((change.name, outcome, app_id))
        on_change(change.name, outcome, app_id)
    return done


def apply_pipelines(backend: Backend, plan: Plan, *, deletes: bool,
                    on_change: Callable[[AppliedPipelineChange], None]) -> list[AppliedPipelineChange]:
    """The plan's pipeline deletes (`deletes`), or its other pipeline changes, one after another."""
    from jobctl.plan.model import Action

    chosen = [c for c in plan.pipelines if (c.action is Action.DELETE) == deletes]
    if not chosen:
        return []
    from jobctl.backends.oci import OciBackend
    from jobctl.workflow.deploy import JobLookup, apply_pipeline

    assert isinstance(backend, OciBackend)
    lookup = JobLookup(backend)  # the jobs as this apply has left them
    done = []
    for change in chosen:
        done.append(apply_pipeline(lookup, change, set_name=plan.set_name))
        on_change(done[-1])
    return done

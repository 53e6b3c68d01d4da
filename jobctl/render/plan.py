"""The human rendering of a Plan: Terraform-style symbols, field-level old -> new, secrets masked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from jobctl.plan.model import Action, Change, FieldChange, Plan
from jobctl.render.human import Printer, show_value
from jobctl.secrets import mask_env

if TYPE_CHECKING:
    from jobctl.plan.applications import ApplicationChange
    from jobctl.workflow.deploy import PipelineChange

_STYLE = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.REPLACE: "magenta", Action.DELETE: "red"}


def _field_line(change: FieldChange, show_secrets: bool) -> tuple[str, str]:
    old, new = show_value(change.field, change.old, show_secrets), show_value(change.field, change.new, show_secrets)
    note = "  # forces replacement" if change.forces_replace else ""
    if change.old is None:
        return f"      + {change.field}: {new}{note}", "green"
    if change.new is None:
        return f"      - {change.field}: {old}{note}", "red"
    return f"      ~ {change.field}: {old} → {new}{note}", "yellow"


def _change_lines(change: Change, show_secrets: bool) -> Iterable[tuple[str, str | None]]:
    symbol = change.action.symbol
    where = f" ({change.job_id})" if change.job_id else ""
    reason = f"  # {change.explanation}" if change.explanation else ""
    yield f"  {symbol} job {change.name}{where}{reason}", _STYLE[change.action]
    if change.drops:
        yield (f"      ! the new job would lose what no spec can say yet: {', '.join(change.drops)} "
               "(apply refuses without --force)"), "red"
    if change.action is Action.CREATE and change.desired is not None:
        d = change.desired.definition
        infra = d.shape + (f" ({d.ocpus:g} OCPU, {d.memory_in_gbs:g} GB)" if d.ocpus and d.memory_in_gbs else "")
        if d.display_name != d.name:  # an ADS file's free-text name: jobctl's is derived from it
            yield f"      display name: {d.display_name!r} (jobctl name {d.name!r})", None
        entry = d.entry_file or d.image
        yield f"      runtime: {d.runtime_type}" + (f", {entry}" if entry else ""), None
        if d.git_url:  # where the code will come from is what a reviewer most needs to see
            at = d.git_commit or (f"branch {d.git_branch}" if d.git_branch else "its default branch")
            yield f"      code: git {d.git_url} at {at}", None
        for label, shown in (("command", d.command), ("pip", " ".join(filter(None, (
                d.pip_requirements and f"-r {d.pip_requirements}", d.pip_packages)))),
                ("inputs", ", ".join(f"{url} -> {dest}" for url, dest in sorted(d.inputs.items()))),
                ("outputs", d.output_uri and f"{d.output_dir or '.'} -> {d.output_uri}")):
            if shown:
                yield f"      {label}: {shown}", None
        yield f"      infrastructure: {infra}", None
        if d.compartment_id or d.project_id:  # where it goes (OCI; locally these only scope the plan)
            yield f"      compartment: {d.compartment_id or '-'}, project: {d.project_id or '-'}", None
        if d.env:
            env = mask_env(d.env, show_secrets)
            yield "      env: " + ", ".join(f"{k}={v}" for k, v in sorted(env.items())), None
        if d.args:
            yield f"      args: {list(d.args)}", None
        if d.node_groups:
            groups = ", ".join(f"{g['name']} ×{g['replicas']}" for g in d.node_groups)
            yield f"      nodes: {groups} ({d.node_startup_order})", None
    for field_change in change.fields:
        yield _field_line(field_change, show_secrets)
        if field_change.field == "artifact":
            yield from artifact_file_lines(change.artifact_files)


SHOWN_FILES = 20  # of a changed artifact's files, those a plan lists (the rest counted)


def artifact_file_lines(files: tuple[tuple[str, str], ...]) -> Iterable[tuple[str, str | None]]:
    """Which files of a changed artifact were added (+), removed (-) or modified (~)."""
    styles = {"+": "green", "-": "red", "~": "yellow"}
    for mark, name in files[:SHOWN_FILES]:
        yield f"          {mark} {name}", styles[mark]
    if len(files) > SHOWN_FILES:
        yield f"          … and {len(files) - SHOWN_FILES} more file(s)", None


def _header(kind: str, change: PipelineChange | ApplicationChange) -> tuple[str, str]:
    where = f" ({change.pipeline_id})" if change.pipeline_id else ""
    reason = f"  # {change.explanation}" if change.explanation else ""
    return f"  {change.action.symbol} {kind} {change.name}{where}{reason}", _STYLE[change.action]


def pipeline_lines(change: PipelineChange, show_secrets: bool) -> Iterable[tuple[str, str | None]]:
    yield _header("pipeline", change)
    if change.action is Action.CREATE and change.workflow is not None:
        steps = ", ".join(f"{s.name} ×{len(s.combinations())}" if s.matrix else s.name for s in change.workflow.order())
        yield f"      workflow steps: {steps}", None
    for field_change in change.fields:
        yield _field_line(field_change, show_secrets)


def application_lines(change: ApplicationChange, show_secrets: bool) -> Iterable[tuple[str, str | None]]:
    yield _header("application", change)
    app = change.desired
    if change.action is Action.CREATE and app is not None:
        yield f"      {app.language} on Spark {app.spark_version}, {app.num_executors} executor(s)", None
    for field_change in change.fields:
        yield _field_line(field_change, show_secrets)


def up_to_date(plan: Plan) -> str:
    """What "No changes" covers."""
    pipelines = f", {len(plan.unchanged_pipelines)} pipeline(s)" if plan.unchanged_pipelines else ""
    apps = f", {len(plan.unchanged_applications)} application(s)" if plan.unchanged_applications else ""
    return f"No changes. {len(plan.unchanged)} job(s){pipelines}{apps} up to date."


def print_plan(printer: Printer, plan: Plan, *, show_secrets: bool = False) -> None:
    for warning in plan.warnings:
        printer.line(f"Warning: {warning}", "yellow")
    if not plan.has_changes:
        printer.line(up_to_date(plan), "green")
        return
    for change in plan.changes:
        for text, style in _change_lines(change, show_secrets):
            printer.line(text, style)
    for pipeline in plan.pipelines:
        for text, style in pipeline_lines(pipeline, show_secrets):
            printer.line(text, style)
    for application in plan.applications:
        for text, style in application_lines(application, show_secrets):
            printer.line(text, style)
    unchanged = [*plan.unchanged, *(f"{name} (pipeline)" for name in plan.unchanged_pipelines),
                 *(f"{name} (application)" for name in plan.unchanged_applications)]
    if unchanged:
        printer.line(f"  {len(unchanged)} unchanged: {', '.join(unchanged)}")
    printer.line("")
    printer.line(plan.summary(), "bold")
    if plan.set_note:
        printer.line(plan.set_note, "dim")
    if plan.ignored:
        printer.line(f"Locally these have no effect (they apply on OCI): {', '.join(plan.ignored)}.", "dim")

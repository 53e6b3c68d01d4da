"""A Plan as GitHub/GitLab-flavoured markdown, for a pull or merge request comment (`plan -o markdown`).

The same facts as the human plan — action symbol, job, reason, each field old → new, secrets masked
the same way — as a summary line and one small table per change. A long plan folds its details into a
<details> block under a one-line-per-job overview, and a huge one is cut short of GitHub's comment limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from jobctl.plan.model import Action, Change, FieldChange, Plan
from jobctl.render.human import show_value
from jobctl.render.plan import up_to_date

if TYPE_CHECKING:
    from jobctl.plan.applications import ApplicationChange
    from jobctl.workflow.deploy import PipelineChange
from jobctl.secrets import mask_env

MARKER = "<!-- jobctl-plan -->"  # first line: lets a CI step find (and update) the comment it posted before
COLLAPSE_AFTER_LINES = 50  # details longer than this fold into <details>
MAX_CHARS = 60_000  # GitHub rejects comments over 65,536 characters
MAX_UNCHANGED_SHOWN = 10  # more unchanged job names than this fold into <details>

# C0/C1 control characters: nothing from a spec or the backend may inject terminal or markdown oddities.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def plan_markdown(plan: Plan, *, show_secrets: bool = False) -> str:
    """The whole comment; ends with a newline."""
    lines = [MARKER, "### jobctl plan", ""]
    for warning in plan.warnings:
        lines += [f"> **Warning:** {_text(warning)}", ""]
    if not plan.has_changes:
        lines.append(f"**No changes.** {up_to_date(plan).removeprefix('No changes. ')}")
        return "\n".join(lines) + "\n"
    lines += [f"**{plan.summary()}**", ""]
    if plan.set_note:
        lines += [_text(plan.set_note), ""]
    sections = [_section(change, show_secrets) for change in plan.changes]
    sections += [_pipeline_section(change, show_secrets) for change in plan.pipelines]
    sections += [_pipeline_section(change, show_secrets, "application") for change in plan.applications]
    if sum(len(section) for section in sections) > COLLAPSE_AFTER_LINES:
        lines += [*_overview([*plan.changes, *plan.pipelines, *plan.applications]), ""]
        lines += ["<details>", f"<summary>Details of the {len(sections)} changes</summary>", ""]
        lines += _within_limit(sections, len("\n".join(lines)))
        lines += ["</details>", ""]
    else:
        lines += _within_limit(sections, len("\n".join(lines)))
    lines += _unchanged((*plan.unchanged, *(f"{name} (pipeline)" for name in plan.unchanged_pipelines),
                         *(f"{name} (application)" for name in plan.unchanged_applications)))
    return "\n".join(lines).rstrip("\n") + "\n"


def _section(change: Change, show_secrets: bool) -> list[str]:
    """One change: a bold header line with symbol, action, job, id and reason; then its facts."""
    where = f" ({_code(change.job_id)})" if change.job_id else ""
    reason = f" — {_text(change.explanation)}" if change.explanation else ""
    lines = [f"**{_code(change.action.symbol)} {change.action.value} {_code(change.name)}**{where}{reason}", ""]
    if change.drops:
        lines += [f"> **The new job would lose what no spec can say yet:** {', '.join(_code(d) for d in change.drops)}"
                  " — `apply` refuses without `--force`.", ""]
    if change.action is Action.CREATE and change.desired is not None:
        lines += [*_created(change, show_secrets), ""]
    if change.fields:
        lines += [*_field_table(change.fields, show_secrets), ""]
    if change.artifact_files:
        from jobctl.render.plan import SHOWN_FILES

        files = change.artifact_files
        shown = ", ".join(_code(f"{mark} {name}") for mark, name in files[:SHOWN_FILES])
        lines += [f"Files of the artifact: {shown}"
                  + (f" and {len(files) - SHOWN_FILES} more" if len(files) > SHOWN_FILES else ""), ""]
    return lines


def _pipeline_section(change: PipelineChange | ApplicationChange, show_secrets: bool,
                      kind: str = "pipeline") -> list[str]:
    """A workflow's pipeline, or (`kind`) a Data Flow application."""
    where = f" ({_code(change.pipeline_id)})" if change.pipeline_id else ""
    reason = f" — {_text(change.explanation)}" if change.explanation else ""
    lines = [f"**{_code(change.action.symbol)} {change.action.value} {kind} {_code(change.name)}**{where}{reason}",
             ""]
    if change.fields:
        lines += [*_field_table(change.fields, show_secrets), ""]
    return lines


def _created(change: Change, show_secrets: bool) -> Iterable[str]:
    assert change.desired is not None
    d = change.desired.definition
    infra = d.shape + (f" ({d.ocpus:g} OCPU, {d.memory_in_gbs:g} GB)" if d.ocpus and d.memory_in_gbs else "")
    entry = d.entry_file or d.image
    yield f"- runtime: {_code(d.runtime_type)}" + (f", {_code(entry)}" if entry else "")
    yield f"- infrastructure: {_code(infra)}"
    if d.env:
        env = mask_env(d.env, show_secrets)
        yield "- env: " + ", ".join(_code(f"{k}={v}") for k, v in sorted(env.items()))
    if d.args:
        yield f"- args: {_code(str(list(d.args)))}"


def _field_table(fields: Iterable[FieldChange], show_secrets: bool) -> Iterable[str]:
    fields = list(fields)
    forcing = any(f.forces_replace for f in fields)
    yield "| | field | old | new |" + (" |" if forcing else "")
    yield "|---|---|---|---|" + ("---|" if forcing else "")
    for f in fields:
        symbol = "+" if f.old is None else "-" if f.new is None else "~"
        old = "" if f.old is None else _code(show_value(f.field, f.old, show_secrets), in_table=True)
        new = "" if f.new is None else _code(show_value(f.field, f.new, show_secrets), in_table=True)
        note = (" forces replacement |" if f.forces_replace else " |") if forcing else ""
        yield f"| {_code(symbol)} | {_code(f.field, in_table=True)} | {old} | {new} |{note}"


def _overview(changes: Iterable[Change | PipelineChange | ApplicationChange]) -> Iterable[str]:
    """One row per change, always visible above the folded details (a reason column only if any has one)."""
    rows = [(c, _text(c.explanation) if c.explanation else "") for c in changes]
    with_reasons = any(reason for _, reason in rows)
    yield "| | job | action |" + (" reason |" if with_reasons else "")
    yield "|---|---|---|" + ("---|" if with_reasons else "")
    for change, reason in rows:
        name = change.name if isinstance(change, Change) else \
            f"{change.name} ({'pipeline' if hasattr(change, 'workflow') else 'application'})"
        row = f"| {_code(change.action.symbol, in_table=True)} | {_code(name, in_table=True)} | " \
              f"{change.action.value} |"
        yield row + (f" {reason} |" if with_reasons else "")


def _within_limit(sections: list[list[str]], used: int) -> list[str]:
    """As many whole sections as fit in the comment size limit, then a note naming how many were left out."""
    kept: list[str] = []
    for index, section in enumerate(sections):
        size = len("\n".join(section)) + 1
        if used + size > MAX_CHARS - 500:  # room for the note and the closing lines
            left = len(sections) - index
            kept += [f"_… and {left} more change(s), not shown to keep this comment within size limits; "
                     "see `jobctl plan -o json` in the job log._", ""]
            break
        kept += section
        used += size
    return kept


def _unchanged(names: tuple[str, ...]) -> list[str]:
    if not names:
        return []
    listed = ", ".join(_code(name) for name in names)
    if len(names) <= MAX_UNCHANGED_SHOWN:
        return [f"{len(names)} unchanged: {listed}"]
    return ["<details>", f"<summary>{len(names)} unchanged</summary>", "", listed, "", "</details>"]


def _code(text: str, *, in_table: bool = False) -> str:
    """`text` as an inline code span, whatever backticks it holds; pipes escaped inside a table cell."""
    text = _CONTROL.sub(" ", text)
    if in_table:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _text(text: str) -> str:
    """Plain text with markdown's special characters escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _CONTROL.sub(" ", text))

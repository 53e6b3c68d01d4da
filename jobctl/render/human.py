"""Human output: rich tables and colour on a terminal; plain aligned text when piped or --no-color.

Rich is imported only on the interactive path, so scripted use pays nothing for it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TextIO

from jobctl.model.state import JobState, LogLine, RunState, is_application
from jobctl.secrets import MASK, mask_env, mask_field

if TYPE_CHECKING:
    from jobctl.model.application import ApplicationDefinition

_STATE_STYLE = {
    "SUCCEEDED": "green", "FAILED": "red", "CANCELED": "yellow", "CANCELING": "yellow",
    "IN_PROGRESS": "cyan", "ACCEPTED": "blue", "NEEDS_ATTENTION": "red",
}
# C0/C1 control characters except tab: ESC sequences in workload output must not drive the terminal; and the
# bidirectional embeddings, overrides and isolates, which make text show in another order than it is (U+202E)
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"  # compiled (and cached) by `re` when used


def clean(text: str) -> str:
    """Strip control characters (terminal escapes) from untrusted text before it reaches a terminal."""
    return re.sub(_CONTROL, "", text)


class Printer:
    """Writes lines and tables to one stream, styled only when `rich` is true."""

    def __init__(self, stream: TextIO, *, rich: bool) -> None:
        self.stream = stream
        self.rich = rich
        self._console: Any = None

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=True)
        return self._console

    def line(self, text: str = "", style: str | None = None) -> None:
        text = clean(text)  # names, env values, args and messages can come from an untrusted spec
        if self.rich and style:
            from rich.text import Text

            self.console.print(Text(text, style=style))
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    def table(
        self, headers: Sequence[str], rows: Iterable[Sequence[str]], styles: dict[int, Any] | None = None,
        *, header: bool = True,
    ) -> None:
        """`header`: False for the later parts of a table printed a part at a time."""
        rows = [[clean(str(cell)) for cell in r] for r in rows]
        if self.rich:
            from rich.table import Table

            table = Table(box=None, header_style="bold", pad_edge=False, show_header=header)
            for title in headers:
                table.add_column(title)
            for row in rows:
                cells = [
                    f"[{styles[i](cell)}]{_escape(cell)}[/]" if styles and i in styles and styles[i](cell)
                    else _escape(cell)
                    for i, cell in enumerate(row)
                ]
                table.add_row(*cells)
            self.console.print(table)
            return
        widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=True)]
        for row in [list(headers), *rows][0 if header else 1:]:
            self.stream.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
        self.stream.flush()


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


def state_style(state: str) -> str | None:
    return _STATE_STYLE.get(state)


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "-"
    seconds = int(((now or datetime.now(timezone.utc)) - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{max(seconds, 0)}s ago"


def duration(run: RunState, now: datetime | None = None) -> str:
    if run.started is None:
        return "-"
    end = run.finished or now or datetime.now(timezone.utc)
    seconds = max(0.0, (end - run.started).total_seconds())
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


# --- jobs, runs, logs -------------------------------------------------------------------------------

def job_row(job: JobState, earlier: Collection[str] = ()) -> list[str]:
    """A job as `jobs` lists it; `earlier`: ids of earlier generations (superseded, or FAILED with a newer job
    of the name)."""
    owner = "jobctl" + (" (superseded)" if job.superseded or job.id in earlier else "") if job.managed else "-"
    return [job.managed_name or job.name, job.id, job.lifecycle_state, owner, ago(job.created)]


RUN_HEADERS = ("NAME", "ID", "STATE", "EXIT", "CREATED", "DURATION")


def run_row(run: RunState) -> list[str]:
    """A run as `runs` lists it (RUN_HEADERS)."""
    return [run.name, run.id, run.state, "-" if run.exit_code is None else str(run.exit_code), ago(run.created),
            duration(run)]


def print_runs(printer: Printer, runs: Sequence[RunState]) -> None:
    printer.table(RUN_HEADERS, [run_row(r) for r in runs], styles={2: state_style})


def print_run(printer: Printer, run: RunState, *, show_secrets: bool = False) -> None:
    fields = [
        ("Run", f"{run.name} ({run.id})"), (_owner(run), f"{run.job_name or ''} ({run.job_id})"), ("State", run.state),
        ("Exit code", "-" if run.exit_code is None else str(run.exit_code)), ("Details", run.details or "-"),
        ("Created", run.created.isoformat()), ("Duration", duration(run)),
        ("Args", " ".join(run.args) or "-"),
    ]
    if run.interpreter:  # a local python job's run
        fields.append(("Python", run.interpreter))
    for key, value in fields:
        printer.line(f"{key + ':':<11}{value}")
    _print_env(printer, run.env, show_secrets)
    from jobctl.render.machine import masked_map

    for field, title in (("parameters", "Params"), ("configuration", "Config")):  # a Data Flow run's
        _print_map(printer, title, masked_map(field, getattr(run, field), show_secrets))


def _owner(run: RunState) -> str:
    """What a run is a run of: a job, or a Data Flow application (local ids app-…, OCI ocid1.dataflowapplication…)."""
    return "App" if is_application(run.job_id) else "Job"


def _print_env(printer: Printer, env: Mapping[str, str], show_secrets: bool) -> None:
    _print_map(printer, "Env", mask_env(env, show_secrets))


def _print_map(printer: Printer, title: str, values: Mapping[str, str]) -> None:
    """KEY=VALUE lines, sorted, the first titled."""
    for index, (key, value) in enumerate(sorted(values.items())):
        printer.line(f"{title + ':' if index == 0 else '':<11}{key}={value}")


def print_job(printer: Printer, job: JobState, *, show_secrets: bool = False) -> None:
    d = job.definition
    printer.line(f"{'Job:':<11}{job.managed_name or job.name} ({job.id})")
    printer.line(f"{'State:':<11}{job.lifecycle_state}{' (superseded)' if job.superseded else ''}")
    printer.line(f"{'Managed:':<11}{'yes' if job.managed else 'no'}")
    if d is None:
        return
    printer.line(f"{'Runtime:':<11}{d.runtime_type} {d.entry_file or d.image or ''}".rstrip())
    infra = d.shape + (f" ({d.ocpus:g} OCPU, {d.memory_in_gbs:g} GB)" if d.ocpus and d.memory_in_gbs else "")
    printer.line(f"{'Shape:':<11}{infra}, {d.block_storage_size_in_gbs} GB disk")
    printer.line(f"{'Args:':<11}{' '.join(d.args) or '-'}")
    _print_env(printer, d.env, show_secrets)
    if d.artifact_digest:
        missing = " (not uploaded)" if job.incomplete or job.lifecycle_state == "FAILED" else ""
        printer.line(f"{'Artifact:':<11}{d.artifact_digest}{missing}")
    from jobctl.model.table import set_fields, value

    for row in set_fields(d):  # every other field the job sets, as a plan names it
        if row.attr not in _SUMMARIZED:
            printer.line(f"  {row.shown}: {show_value(row.shown, value(d, row), show_secrets)}")


def print_application(printer: Printer, application_id: str, d: ApplicationDefinition, *,
                      show_secrets: bool = False) -> None:
    """A Data Flow application: what it runs, then every other field it sets, as a plan names them."""
    from jobctl.model.state import TAG_MANAGED, TAG_SUPERSEDED
    from jobctl.model.table import set_fields, value

    printer.line(f"{'Application:':<13}{d.name} ({application_id})")
    managed = d.owner_tags.get(TAG_MANAGED) == "true"
    printer.line(f"{'Managed:':<13}{'yes' if managed else 'no'}"
                 f"{' (superseded)' if d.owner_tags.get(TAG_SUPERSEDED) == 'true' else ''}")
    printer.line(f"{'Code:':<13}{d.language} on Spark {d.spark_version}: {d.file_uri or '(kept here)'}")
    for row in set_fields(d):
        if row.attr not in ("name", "language", "spark_version", "file_uri"):
            if row.kind == "map" and row.secret_by_key:
                for key, text in sorted(value(d, row).items()):
                    printer.line(f"  {row.shown}.{key}: {show_value(f'{row.shown}.{key}', text, show_secrets)}")
            else:
                printer.line(f"  {row.shown}: {show_value(row.shown, value(d, row), show_secrets)}")


def show_value(field: str, value: Any, show_secrets: bool) -> str:
    """A plan field's value for people: strings quoted, maps as {k: v}, secrets as (sensitive)."""
    if value is None:
        return "(none)"
    if mask_field(field, value, show_secrets) is not value:
        return MASK
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"  # as a spec spells it
    if isinstance(value, dict | list):  # nested objects (mounts, a probe) as compact JSON, not Python's repr
        import json

        if isinstance(value, list) and not show_secrets:  # node groups: each env masked by its names
            value = [{**item, "env": mask_env(item["env"])} if isinstance(item, dict) and "env" in item else item
                     for item in value]

        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(value.items())) + "}" if value else "{}"
        return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return str(value)


# what print_job's first lines show of a definition
_SUMMARIZED = frozenset({"name", "runtime_type", "entrypoint", "image", "shape", "ocpus", "memory_in_gbs",
                         "block_storage_size_in_gbs", "args", "env", "artifact_digest"})


def format_log(line: LogLine, *, timestamps: bool, sanitize: bool, prefix: str = "") -> str:
    text = clean(line.text) if sanitize else line.text
    if timestamps:
        stamp = line.time.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return f"{prefix}{stamp} {text}"
    return f"{prefix}{text}"

"""Machine output: JSON or YAML, stable keys, for scripts and CI."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from jobctl.secrets import mask_env, mask_field

if TYPE_CHECKING:  # kept out of start-up: `validate -o json` needs none of them
    from jobctl.model.application import ApplicationDefinition
    from jobctl.model.job import JobState, LogLine, RunState
    from jobctl.plan.model import Plan

API_VERSION = "jobctl/v1"


def envelope(kind: str, items: list[Any]) -> dict[str, Any]:
    """The versioned wrapper every list output uses: {apiVersion, kind, items}."""
    return {"apiVersion": API_VERSION, "kind": kind, "items": items}


def dumps(value: Any, fmt: str) -> str:
    """Serialize for `-o json` / `-o yaml`; the text ends with a newline."""
    import json

    if fmt == "yaml":
        import yaml

        dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: 40x the pure-Python one
        text: str = yaml.dump(value, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
        return text
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def job_dict(job: JobState, show_secrets: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": job.id, "name": job.managed_name or job.name, "displayName": job.name,
        "lifecycleState": job.lifecycle_state, "managed": job.managed, "superseded": job.superseded,
        "specHash": job.spec_hash, "etag": job.etag, "timeCreated": _time(job.created), "tags": dict(job.tags),
    }
    if job.definition is not None:
        from jobctl.model.table import shown_tree

        definition = shown_tree(job.definition)
        definition["runtime"]["env"] = mask_env(job.definition.env, show_secrets)
        out["definition"] = definition
    return out


def application_dict(application_id: str, app: ApplicationDefinition, show_secrets: bool = False) -> dict[str, Any]:
    """`get APP -o json`: the application's id and jobctl's tags, and its fields as a spec writes them."""
    from jobctl.model.state import TAG_MANAGED, TAG_SUPERSEDED
    from jobctl.model.table import shown_tree

    definition = shown_tree(app)
    for field in ("configuration", "parameters"):
        definition[field] = masked_map(field, getattr(app, field), show_secrets)
    return {"apiVersion": API_VERSION, "kind": "DataFlowApplication", "id": application_id, "name": app.name,
            "managed": app.owner_tags.get(TAG_MANAGED) == "true",
            "superseded": app.owner_tags.get(TAG_SUPERSEDED) == "true", "tags": dict(app.tags),
            "definition": definition}


def run_dict(run: RunState, show_secrets: bool = False) -> dict[str, Any]:
    found = {
        "id": run.id, "name": run.name, "jobId": run.job_id, "jobName": run.job_name,
        "lifecycleState": run.state, "exitCode": run.exit_code, "details": run.details,
        "timeCreated": _time(run.created), "timeStarted": _time(run.started), "timeFinished": _time(run.finished),
        "env": mask_env(run.env, show_secrets), "args": list(run.args),
    }
    if run.interpreter:  # a local python job's run
        found["interpreter"] = run.interpreter
    for field in ("parameters", "configuration"):  # a Data Flow application's run
        if getattr(run, field):
            found[field] = masked_map(field, getattr(run, field), show_secrets)
    return found


def masked_map(field: str, values: Mapping[str, str], show_secrets: bool) -> dict[str, str]:
    """An application's (or its run's) `parameters` or `configuration`, secret-named entries masked."""
    return {key: mask_field(f"{field}.{key}", text, show_secrets) for key, text in values.items()}


def log_dict(line: LogLine, run_id: str) -> dict[str, Any]:
    return {"type": "log", "runId": run_id, "time": _time(line.time), "stream": line.stream, "text": line.text}


def plan_dict(plan: Plan, show_secrets: bool = False) -> dict[str, Any]:
    from jobctl.plan.applications import change_dict
    from jobctl.plan.model import Action

    return {
        "apiVersion": API_VERSION, "kind": "Plan",
        "set": plan.set_name,
        "summary": {a.value: plan.count(a) for a in Action},
        "changes": [
            {
                "action": c.action.value, "name": c.name, "jobId": c.job_id, "reason": c.reason,
                "explanation": c.explanation, "runsDeleted": c.runs_deleted, "activeRuns": c.active_runs,
                "drops": list(c.drops),
                "artifactFiles": {kind: [name for mark, name in c.artifact_files if mark == sign]
                                  for kind, sign in (("added", "+"), ("removed", "-"), ("modified", "~"))},
                "fields": [
                    {"field": f.field, "old": mask_field(f.field, f.old, show_secrets),
                     "new": mask_field(f.field, f.new, show_secrets), "forcesReplace": f.forces_replace}
                    for f in c.fields
                ],
            }
            for c in plan.changes
        ],
        "unchanged": list(plan.unchanged),
        "pipelines": [
            {"action": c.action.value, "name": c.name, "pipelineId": c.pipeline_id, "reason": c.reason,
             "explanation": c.explanation,
             "fields": [{"field": f.field, "old": mask_field(f.field, f.old, show_secrets),
                         "new": mask_field(f.field, f.new, show_secrets), "forcesReplace": f.forces_replace}
                        for f in c.fields]}
            for c in plan.pipelines
        ],
        "unchangedPipelines": list(plan.unchanged_pipelines),
        "applications": [change_dict(c, lambda field, value: mask_field(field, value, show_secrets))
                         for c in plan.applications],
        "unchangedApplications": list(plan.unchanged_applications),
        "warnings": list(plan.warnings),
        "ignored": list(plan.ignored),
    }

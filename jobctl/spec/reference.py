"""docs/spec.md, generated from the JSON Schema: `python -m jobctl.spec.reference > docs/spec.md`.

A test fails when the committed file is stale, so the reference can never drift from the schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from jobctl.spec.schema import load_schema

_SECTIONS = (
    ("Document", None, ""),
    ("metadata", "metadata", "metadata."),
    ("spec", "jobSpec", "spec."),
    ("spec.infrastructure", "infrastructure", "spec.infrastructure."),
    ("spec.logging", "logging", "spec.logging."),
    ("spec.runtime", "runtime", "spec.runtime."),
    ("spec.runtime.conda", None, "spec.runtime.conda."),
    ("spec.runtime.startupProbe", None, "spec.runtime.startupProbe."),
    ("spec.storageMounts[]", "storageMount", "spec.storageMounts[]."),
    ("spec.nodes", "nodes", "spec.nodes."),
    ("spec.nodes.groups[]", "nodeGroup", "spec.nodes.groups[]."),
    ("spec.nodes.groups[].infrastructure", None, "spec.nodes.groups[].infrastructure."),
    ("Workflow: spec", "workflowSpec", "spec."),
    ("Workflow: spec.steps[]", "step", "spec.steps[]."),
    ("DataFlowApplication: spec", "dataFlowSpec", "spec."),
    ("DataFlowApplication: spec.driverShapeConfig, spec.executorShapeConfig", "sparkShapeConfig",
     "spec.driverShapeConfig."),
    ("DataFlowApplication: spec.logging", None, "spec.logging."),
)


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        resolved: dict[str, Any] = schema
        for part in ref[2:].split("/"):
            resolved = resolved[part]
        return resolved
    return node


def _type(node: dict[str, Any], schema: dict[str, Any]) -> str:
    node = _resolve(schema, node)
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "object")
    kinds = kind if isinstance(kind, list) else [kind]
    text = " or ".join(kinds)
    if "pattern" in node:
        text += f" matching `{node['pattern']}`"
    bounds = [f"{k} {node[k]}" for k in ("minimum", "exclusiveMinimum", "maximum", "maxLength", "maxItems",
                                         "maxProperties") if k in node]
    if bounds:
        text += " (" + ", ".join(bounds) + ")"
    return text


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


IDENTITY = ("name", "compartment_id", "project_id")


def _change(path: str, title: str) -> str:
    """How a plan changes an existing job (or application) when this field changes, from its field table."""
    from jobctl.model.application import ApplicationDefinition
    from jobctl.model.job import JobDefinition
    from jobctl.model.table import rows

    if title.startswith("Workflow"):
        return ""
    application = title.startswith("DataFlowApplication")
    what = "application" if application else "job"
    for row in rows(ApplicationDefinition if application else JobDefinition):
        if row.path == path:
            where = f" (OCI `{row.oci}`)" if row.oci else ""
            run = "; a run may set it" if application and row.run else ""
            if row.attr in IDENTITY:
                identity = "an application is its name and compartment" if application else \
                    "a job is its name, compartment and project"
                return f"another {what}: {identity}{where}"
            if row.in_place and row.fixed_when is not None:
                return "in place; replaces a multi-node job" + where
            return ("in place" if row.in_place else f"replaces the {what}") + where + run
    return ""


def _rows(schema: dict[str, Any], node: dict[str, Any], prefix: str, title: str) -> Iterator[str]:
    required = set(node.get("required", []))
    for name, prop in node.get("properties", {}).items():
        target = _resolve(schema, prop)
        description = prop.get("description") or target.get("description", "")
        examples = prop.get("examples") or target.get("examples") or []
        example = f"`{json.dumps(examples[0])}`" if examples else ""
        default = f" Default: `{json.dumps(target['default'])}`." if "default" in target else ""
        change = _change(prefix + name, title)
        yield (f"| `{prefix}{name}` | {'yes' if name in required else ''} | {_cell(_type(prop, schema))} | "
               f"{_cell(description)}{default} | {_cell(example)} | {change} |")


def render() -> str:
    schema = load_schema()
    lines = [
        "# Spec reference: `jobctl/v1`",
        "",
        "Generated from `schemas/jobctl-v1.schema.json` by `python -m jobctl.spec.reference`; do not edit.",
        "Values may use `${VAR}` / `${VAR:-default}` (from the environment); `$$` is a literal `$`.",
        "\"On change\" says what `apply` does to an existing job when the field changes (from the field",
        "table in `jobctl/model/job.py`): OCI updates it in place, or the job is replaced by a new one.",
        "",
    ]
    for title, definition, prefix in _SECTIONS:
        if title == "Document":
            node = schema
        elif definition is None:  # an object inside the section before it
            parent = schema["$defs"]["nodeGroup" if title.startswith("spec.nodes") else "dataFlowSpec"
                                     if title.startswith("DataFlowApplication") else "runtime"]
            node = parent["properties"][title.rsplit(".", 1)[1]]
        else:
            node = schema["$defs"][definition]
        lines += [f"## {title}", "", node.get("description", ""), "",
                  "| field | required | type | description | example | on change |", "|---|---|---|---|---|---|"]
        lines += list(_rows(schema, node, prefix, title))
        lines.append("")
    lines += [
        "## Rules across fields",
        "",
        "- Flex shapes (names ending in `.Flex`) need `ocpus` and `memoryInGBs`; other shapes must not set them.",
        "- `python` and `shell` runtimes need `source`; `entrypoint` is required when `source` is a directory",
        "  and must name a file inside it. `image`, `imageDigest` and `cmd` are for `container` only.",
        "- `container` runtimes need `image`; their `entrypoint` is a list; `conda` does not apply.",
        "- `logging.logId` and `logging.autoCreateLog: true` need `logging.logGroupId`, and not both at once.",
        "- `cpuBaseline` is for Flex shapes only; `imageSignatureId` for the `container` runtime only.",
        "- An `OBJECT_STORAGE` mount needs `namespace` and `bucket`; a `FILE_STORAGE` mount needs `mountTargetId`",
        "  or `mountTargetIp`, and `exportId` or `exportPath` (the oci backend looks an IP address and a path up",
        "  at plan time). Two mounts may not share a directory or a `$JOBCTL_MOUNT_<NAME>` variable.",
        "- Labels and defined tags may not hold a secret value (OCI tags are readable by anyone who can read",
        "  the job).",
        "- Env names starting with `JOBCTL_`, `CONDA_ENV_` or `JOB_RUN_` are reserved; label keys starting",
        "  with `jobctl-` are reserved for jobctl's ownership tags.",
        "- `infrastructure.type` STANDALONE needs `subnetId`, ME_STANDALONE may not have one; `nodes` make a",
        "  job MULTI_NODE, and MULTI_NODE needs `nodes`. Node group names are unique in a job,",
        "  `minimumSuccessReplicas` is at most `replicas`, and a group's shape is sized as the Flex rule says",
        "  (a group naming a shape gives its own `ocpus`/`memoryInGBs`; without one it resizes the job's).",
        "- Job and Data Flow application names are unique (together) across all documents given to one command;",
        "  so are workflow names.",
        "- Data Flow applications: `source` (a local file) or `fileUri`, one of them; the code is a `.py` file for",
        "  PYTHON, a `.jar` for JAVA and SCALA (which need `className`), a `.sql` file for SQL. Every `${name}` in",
        "  `arguments` needs `parameters.name` (arguments are not `${VAR}`-interpolated: `${name}` is OCI's",
        "  placeholder). Flex driver and executor shapes need their shape config with `ocpus` and `memoryInGBs`.",
        "- Workflow steps: names are unique, `needs` name other steps and form no cycle, `job` names a job",
        "  defined in the files given, and `${{ steps.NAME... }}` refers to a step listed (directly or",
        "  indirectly) in `needs`. Expressions: `${{ steps.NAME.best.env.VAR }}`,",
        "  `${{ steps.NAME.best.outputs.KEY }}`, `${{ steps.NAME.best.metrics.METRIC }}`,",
        "  `${{ steps.NAME.best.run.id }}`, `${{ env.VAR }}` (from `workflow run --env`), `${{ workflow.run }}`.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")

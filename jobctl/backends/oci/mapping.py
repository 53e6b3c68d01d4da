"""JobDefinition <-> OCI Data Science SDK models, in one place.

Fields whose row in the table (jobctl.model.job) names an SDK path (`oci=`) are mapped both ways by
that path; this module maps by hand only what OCI keeps in another form:

| jobctl (JobDefinition)            | OCI                                                                  |
|-----------------------------------|----------------------------------------------------------------------|
| labels + owner tags               | freeform_tags                                                        |
| env, args                         | DefaultJobConfigurationDetails (args as one shlex-joined string)     |
| conda_slug / conda_uri            | env CONDA_ENV_TYPE/SLUG (service) or …/NAMESPACE/BUCKET/OBJECT_NAME  |
| entrypoint (zip artifact)         | env JOB_RUN_ENTRYPOINT                                               |
| entrypoint (container)            | OcirContainerJobEnvironmentConfigurationDetails.entrypoint           |
| log_id                            | log_id, unless OCI creates the log (auto-creation)                   |
| runtime_type, entrypoint, digest  | freeform tag jobctl-source (OCI cannot give these back)              |
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from jobctl.artifact import DRIVER, DRIVER_VARIABLES, driver_fields, run_environment
from jobctl.backends.oci import nodes
from jobctl.model.definition import replace
from jobctl.model.job import (
    OCI_CONFIG,
    OCI_ENV,
    OCI_INFRA,
    OCI_LOG,
    SUCCEEDED,
    TAG_MANAGED,
    TAG_NAME,
    JobDefinition,
    JobState,
    RunState,
    name_from_display,
    split_tags,
)
from jobctl.model.mounts import DEFAULT_MOUNT_PATH, mount_variable
from jobctl.model.request import marks_of
from jobctl.model.table import Row, branch, row_for, rows, value
from jobctl.secrets import REDACTOR

TAG_SOURCE = "jobctl-source"
DERIVED_ENV = re.compile(r"^(CONDA_ENV_[A-Z_]+|JOB_RUN_ENTRYPOINT|JOBCTL_MOUNT_[A-Z0-9_]+|JOBCTL_NODE_GROUP|"
                         rf"{DRIVER_VARIABLES})$")
_EXIT_CODE = re.compile(r"exit code (\d+)", re.IGNORECASE)
_PUBLISHED = re.compile(r"^oci://(?P<bucket>[^@/]+)@(?P<namespace>[^/]+)/(?P<object>.+)$")


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("|", "%7C")


def _unescape(text: str) -> str:
    return text.replace("%7C", "|").replace("%25", "%")


def source_tag(definition: JobDefinition, layout: str | None) -> str:
    """`type|entrypoint|digest|layout` ('|' and '%' escaped): what OCI cannot tell us back. The layout
    of the artifact: `file`, or `zip:<root>` (a zip of one root directory; `zip`: files at its top,
    as jobctl made them before OCI's root-directory rule was followed)."""
    kind = "file" if layout is None else f"zip:{layout}" if layout else "zip"
    fields = (definition.runtime_type, definition.entry_file or "", definition.artifact_digest or "", kind)
    return "|".join(_escape(f) for f in fields)


def parse_source_tag(value: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """(runtime type, entry file, digest, layout): layout None for a single file, else the zip's root
    directory ("" for a zip without one)."""
    if not value:
        return None, None, None, None
    parts = [_unescape(p) for p in [*value.split("|"), "", "", "", ""][:4]]
    layout = parts[3].removeprefix("zip").removeprefix(":") if parts[3].startswith("zip") else None
    return parts[0] or None, parts[1] or None, parts[2] or None, layout


def layout_of(env: Mapping[str, str]) -> str | None:
    """The artifact layout a job's JOB_RUN_ENTRYPOINT implies (a job jobctl did not make): the root
    directory OCI requires is its first part."""
    entry = env.get("JOB_RUN_ENTRYPOINT")
    if entry is None:
        return None
    return entry.split("/", 1)[0] if "/" in entry else ""


def job_layout(job: Any) -> str | None:
    """The artifact layout of an SDK Job: as jobctl's tag records it, else as its JOB_RUN_ENTRYPOINT says."""
    tag = (job.freeform_tags or {}).get(TAG_SOURCE)
    if tag:
        return parse_source_tag(tag)[3]
    return layout_of(getattr(job.job_configuration_details, "environment_variables", None) or {})


def derived_env(definition: JobDefinition, layout: str | None) -> dict[str, str]:
    """Variables the OCI job runner reads: conda environment and the entry file of a zip (under its
    root directory: OCI's "Preparing Job Artifacts")."""
    env: dict[str, str] = {}
    if definition.conda_slug:
        env.update(CONDA_ENV_TYPE="service", CONDA_ENV_SLUG=definition.conda_slug)
    elif definition.conda_uri:
        match = _PUBLISHED.match(definition.conda_uri)
        if match:
            env.update(
                CONDA_ENV_TYPE="published", CONDA_ENV_NAMESPACE=match["namespace"],
                CONDA_ENV_BUCKET=match["bucket"], CONDA_ENV_OBJECT_NAME=match["object"],
            )
    if layout is not None:
        env.update(run_environment(definition, layout or None))
    for mount in definition.storage_mounts:  # where the run finds each mount, by the same name as locally
        where = str(mount.get("destinationPath") or DEFAULT_MOUNT_PATH).rstrip("/")
        env[mount_variable(mount)] = f"{where}/{mount['destinationDirectoryName']}"
    return env


def _configuration(d: JobDefinition, env: Mapping[str, str], args: Sequence[str]) -> dict[str, Any]:
    """The job configuration details as values: the table's, with env and args as given."""
    values: dict[str, Any] = table_values(d).get(OCI_CONFIG, {})
    values.update(job_type="DEFAULT", environment_variables=dict(env) or None,
                  command_line_arguments=shlex.join(args) if args else None)
    if d.startup_probe:
        values["startup_probe_details"] = {"jobProbeCheckType": "EXEC", **d.startup_probe}
    return values


def run_overrides(models: Any, d: JobDefinition, env: Mapping[str, str], args: Sequence[str], *,
                  layout: str | None, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A run's CreateJobRunDetails overrides. OCI replaces the job's whole configuration with the
    configuration override, so it is complete; a multi-node job gets each group's in a node override.
    `settings` (the run's `--set`, by attribute) add the override of each part they change, whole."""
    run = replace(d, **settings) if settings else d
    parts = {_RUN_PARTS.get(attr) or (row_for_attr(attr).oci or "").split(".")[0] for attr in settings or {}}
    derived = derived_env(run, layout)
    values = _sdk_values(run)
    out: dict[str, Any] = {}
    if OCI_LOG in parts:
        out["job_log_configuration_override_details"] = build(
            models, "JobLogConfigurationDetails", values[OCI_LOG] or {"enable_logging": False})
    if OCI_ENV in parts and run.runtime_type == "container":
        out["job_environment_configuration_override_details"] = build(
            models, "JobEnvironmentConfigurationDetails", values[OCI_ENV])
    if _MOUNTS in parts:
        out["job_storage_mount_configuration_override_details_list"] = [
            build(models, "StorageMountConfigurationDetails", mount) for mount in values[_MOUNTS] or ()]
    if not run.node_groups:
        config = _configuration(run, {**env, **derived}, args)
        out["job_configuration_override_details"] = build(models, "JobConfigurationDetails", config)
        if OCI_INFRA in parts:
            out["job_infrastructure_configuration_override_details"] = build(
                models, "JobInfrastructureConfigurationDetails", values[OCI_INFRA])
        return out
    full = nodes.node_configuration({**values, OCI_CONFIG: _configuration(run, {}, ())}, run, derived, env, args)
    whole = bool(parts & {OCI_INFRA, nodes.NODES})  # the groups' sizes and machines too
    keep = {"name", OCI_CONFIG} | ({"replicas", "minimum_success_replicas", OCI_INFRA} if whole else set()) | (
        {OCI_ENV} if OCI_ENV in parts else set())
    groups = [{k: v for k, v in group.items() if k in keep}
              for group in full["job_node_group_configuration_details_list"]]
    override = {"job_node_type": full["job_node_type"], "job_node_group_configuration_details_list": groups}
    if whole:
        override.update({key: full[key] for key in ("startup_order", "job_network_configuration")})
    if OCI_CONFIG in parts:
        override["maximum_runtime_in_minutes"] = full["maximum_runtime_in_minutes"]
    out["job_node_configuration_override_details"] = build(models, "JobNodeConfigurationDetails", override)
    return out


_MOUNTS = "job_storage_mount_configuration_details_list"
# the part of a run's overrides that carries a field mapped by hand
_RUN_PARTS = {"log_id": OCI_LOG, "entrypoint": OCI_ENV, "node_groups": nodes.NODES, "conda_slug": OCI_CONFIG,
              "conda_uri": OCI_CONFIG}


def row_for_attr(attr: str) -> Row:
    return next(row for row in rows(JobDefinition) if row.attr == attr)


def build(models: Any, class_name: str, values: Mapping[str, Any]) -> Any:
    """An SDK model from its attribute values, nested models as dicts; the subtype is chosen by its
    discriminator as the SDK does. None values are left out, and so is a nested model with no value."""
    cls = getattr(models, class_name)
    probe = cls()  # swagger_types and attribute_map live on instances
    if hasattr(cls, "get_subtype"):
        by_wire_name = {probe.attribute_map.get(key, key): given for key, given in values.items()}
        cls = getattr(models, cls.get_subtype(by_wire_name))
        probe = cls()
    types: dict[str, str] = probe.swagger_types
    by_attribute = {wire: attr for attr, wire in probe.attribute_map.items()}
    kwargs: dict[str, Any] = {}
    for key, given in ((by_attribute.get(k, k), v) for k, v in values.items()):  # wire names allowed too
        if given is None or (isinstance(given, list) and not given):
            continue
        kind = types.get(key)
        if kind is None:
            raise ValueError(f"{cls.__name__} has no attribute {key!r}")  # a table row names a wrong SDK path
        if isinstance(given, Mapping) and kind[:1].isupper():  # a nested model; a dict(...) is a value
            if any(v is not None for v in given.values()):
                kwargs[key] = build(models, kind, given)
        elif isinstance(given, list) and kind.startswith("list[") and kind[5:6].isupper():
            kwargs[key] = [build(models, kind[5:-1], item) for item in given]
        else:
            kwargs[key] = given
    return cls(**kwargs)


def table_values(d: Any, *, in_place_only: bool = False) -> dict[str, Any]:
    """The definition's fields that have an SDK path (a job's, an application's), nested by that path."""
    out: dict[str, Any] = {}
    for row in rows(type(d)):
        if row.oci is None or (in_place_only and not row.changes_in_place(d)):
            continue
        *parents, leaf = row.oci.split(".")
        branch(out, parents)[leaf] = value(d, row)
    return out


def _sdk_values(d: JobDefinition, *, in_place_only: bool = False) -> dict[str, Any]:
    """Table values plus what is mapped by hand: infrastructure type, logging, container entrypoint."""
    values = table_values(d, in_place_only=in_place_only)
    if values.get(OCI_INFRA):  # none in an update of a multi-node job: its infrastructure is its groups'
        values[OCI_INFRA]["job_infrastructure_type"] = d.infrastructure_type  # the discriminator, also in an update
    if in_place_only:
        return values
    if d.log_enabled or d.log_group_id or d.log_id or d.log_auto_create:
        values[OCI_LOG]["log_id"] = d.log_id  # sent also when disabled but naming a log: it reads back unchanged
    else:
        values[OCI_LOG] = {}
    if d.runtime_type == "container":
        values[OCI_ENV].update(job_environment_type="OCIR_CONTAINER", entrypoint=list(d.container_entrypoint))
    else:
        values[OCI_ENV] = {}
    return values


def create_details(models: Any, d: JobDefinition, tags: Mapping[str, str], layout: str | None) -> Any:
    values = _sdk_values(d)
    values["defined_tags"] = value(d, _DEFINED_TAGS) or None
    derived = derived_env(d, layout)
    values[OCI_CONFIG] = _configuration(d, {**d.env, **derived}, d.args)
    if d.node_groups:
        values[nodes.NODES] = nodes.node_configuration(values, d, derived)
    return build(models, "CreateJobDetails", {**values, "freeform_tags": dict(tags)})


def update_details(models: Any, d: JobDefinition, tags: Mapping[str, str], current: Any = None) -> Any:
    """Only what UpdateJobDetails accepts: the table's in-place fields, and the tags. An update replaces
    each object it sends, so what `current` (the job as read) holds there beyond the table is kept."""
    values = _sdk_values(d, in_place_only=True)
    # defined tags are sent whole, so that removing one removes it; OCI's own namespace is kept as it is
    automatic = (getattr(current, "defined_tags", None) or {}).get(AUTOMATIC_TAG_NAMESPACE)
    values["defined_tags"] = {**value(d, _DEFINED_TAGS), **({AUTOMATIC_TAG_NAMESPACE: automatic} if automatic else {})}
    if current is not None:
        _keep_unmodeled(values, current)
    details = build(models, "UpdateJobDetails", {**values, "freeform_tags": dict(tags)})
    if not d.storage_mounts:  # sent empty, so that removing the last mount removes it
        details.job_storage_mount_configuration_details_list = []
    return details


def _keep_unmodeled(values: dict[str, Any], current: Any) -> None:
    for key, given in values.items():
        held: Any = getattr(current, key, None)
        if isinstance(given, dict) and hasattr(held, "swagger_types"):
            for attr in held.swagger_types:
                if attr not in given and getattr(held, attr) is not None:
                    given[attr] = getattr(held, attr)
            _keep_unmodeled(given, held)


def read_row(job: Any, row: Row) -> Any:
    node = job
    for part in (row.oci or "").split("."):
        node = getattr(node, part, None)
        if node is None:
            return row.absent
    if hasattr(node, "swagger_types"):
        return _wire(node)
    if isinstance(node, list):
        return tuple(_wire(item) if hasattr(item, "swagger_types") else item for item in node)
    return node


def _wire(model: Any) -> dict[str, Any]:
    """An SDK model as its wire JSON (what a spec says for a row of kind object)."""
    return {model.attribute_map[attr]: getattr(model, attr) for attr in model.swagger_types
            if getattr(model, attr) is not None}


# What definition_from_job reads by hand, and a Job's read-only metadata: neither is unmodeled.
READ_BY_HAND = frozenset({
    "freeform_tags", "defined_tags", f"{OCI_ENV}.job_environment_type",
    f"{OCI_ENV}.entrypoint", f"{OCI_CONFIG}.job_type", f"{OCI_CONFIG}.environment_variables",
    f"{OCI_CONFIG}.command_line_arguments", f"{OCI_LOG}.log_id", f"{OCI_INFRA}.capacity_reservation_ids",
    "id", "time_created", "created_by", "lifecycle_state", "lifecycle_details",
})
AUTOMATIC_TAG_NAMESPACE = "Oracle-Tags"  # CreatedBy/CreatedOn, which tenancies' tag defaults add to everything
_DEFINED_TAGS = row_for(JobDefinition, "definedTags")


def unmodeled(job: Any) -> tuple[str, ...]:
    """The SDK paths of values `job` holds that no row of the table can express, nor jobctl maps by hand."""
    known = {row.oci for row in rows(JobDefinition) if row.oci} | READ_BY_HAND
    found: list[str] = []

    def walk(node: Any, prefix: str) -> None:
        for attr in node.swagger_types:
            path, held = prefix + attr, getattr(node, attr, None)
            if path == "defined_tags" and held:
                held = {space: tags for space, tags in held.items() if space != AUTOMATIC_TAG_NAMESPACE}
            if held is None or (isinstance(held, list | dict) and not held) or path in known:
                continue
            if hasattr(held, "swagger_types") and any(k.startswith(path + ".") for k in known):
                walk(held, path + ".")
            else:
                found.append(path)

    walk(job, "")
    return tuple(sorted(found))


def _own_env(config: Any) -> dict[str, str]:
    return {k: v for k, v in (getattr(config, "environment_variables", None) or {}).items() if not DERIVED_ENV.match(k)}


def definition_from_job(job: Any) -> JobDefinition:
    """An SDK Job back into a JobDefinition (derived env vars folded back into conda/entrypoint)."""
    if nodes.is_multi_node(job):  # the first group's values at the job level, then every group
        single = definition_from_job(nodes.single_node_view(job))
        # each group holds its whole env and args: the job's are what they share (jobctl.model.nodes)
        return replace(single, env={}, node_groups=nodes.groups_of(job, _own_env),
                       node_startup_order=job.job_node_configuration_details.startup_order,
                       unmodeled=tuple(sorted({*single.unmodeled, *nodes.unmodeled_in_groups(job)})))
    labels, owner_tags = split_tags(job.freeform_tags or {})
    runtime_type, entrypoint, digest, _ = parse_source_tag(owner_tags.get(TAG_SOURCE))
    table = {row.attr: read_row(job, row) for row in rows(JobDefinition) if row.oci is not None}
    config = job.job_configuration_details
    env = dict(getattr(config, "environment_variables", None) or {})
    logs = job.job_log_configuration_details
    container = job.job_environment_configuration_details
    is_container = getattr(container, "job_environment_type", None) == "OCIR_CONTAINER"
    root = job_layout(job)
    entry = env.get("JOB_RUN_ENTRYPOINT")
    if entry is not None and entry.endswith(DRIVER):  # a driven job: the runner starts the driver, which runs
        entry = env.get("JOBCTL_ENTRYPOINT")  # this entry file (none for a command)
    if entry is not None and "JOBCTL_GIT_URL" not in env:  # within the source: under the zip's root directory
        entry = entry.removeprefix(f"{root}/") if root else entry
    conda_uri = None
    if env.get("CONDA_ENV_TYPE") == "published":
        conda_uri = f"oci://{env.get('CONDA_ENV_BUCKET')}@{env.get('CONDA_ENV_NAMESPACE')}/{env.get('CONDA_ENV_OBJECT_NAME')}"
    defined = {space: dict(tags) for space, tags in (getattr(job, "defined_tags", None) or {}).items()
               if space != AUTOMATIC_TAG_NAMESPACE}
    table["startup_probe"] = {k: v for k, v in table["startup_probe"].items() if k != "jobProbeCheckType"}  # EXEC
    # a mount made without a destinationPath is where OCI's default puts it: /mnt, as jobctl sends it
    table["storage_mounts"] = tuple({"destinationPath": DEFAULT_MOUNT_PATH, **m} for m in table["storage_mounts"])
    return JobDefinition(
        **table,
        # a job's identity: its jobctl-name tag, or (unmanaged) what its display name stands for
        name=owner_tags.get(TAG_NAME) or name_from_display(job.display_name or "") or "my-job",
        labels=labels,
        defined_tags=defined,
        log_id=None if logs is None or logs.enable_auto_log_creation else logs.log_id,
        runtime_type=runtime_type or ("container" if is_container else "python"),
        entrypoint=(tuple(getattr(container, "entrypoint", None) or ()) or None if is_container
                    else entry or entrypoint),
        conda_slug=env.get("CONDA_ENV_SLUG") if env.get("CONDA_ENV_TYPE") == "service" else None,
        conda_uri=conda_uri,
        args=tuple(shlex.split(getattr(config, "command_line_arguments", None) or "")),
        env=_own_env(config),
        artifact_digest=digest,
        **driver_fields(env, root),  # type: ignore[arg-type]
        owner_tags=owner_tags,
        unmodeled=unmodeled(job) if hasattr(job, "swagger_types") else (),
    )


def job_name(job: Any) -> str | None:
    """What a run shows as its job: the jobctl name of a managed job, else the display name."""
    tags = job.freeform_tags or {}
    name: str | None = tags.get(TAG_NAME) if tags.get(TAG_MANAGED) == "true" else None
    return name or job.display_name


def job_state(job: Any, etag: str | None = None, with_definition: bool = True) -> JobState:
    """Job or JobSummary -> JobState (summaries carry tags but no configuration)."""
    definition = definition_from_job(job) if with_definition else None
    return JobState(
        id=job.id, name=job.display_name, lifecycle_state=job.lifecycle_state,
        tags=dict(job.freeform_tags or {}), created=job.time_created, definition=definition, etag=etag,
        details=getattr(job, "lifecycle_details", None),
    )


def exit_code(state: str, details: str | None) -> int | None:
    """OCI reports the workload's exit code only inside lifecycle_details ("… exit code N")."""
    if state == SUCCEEDED:
        return 0
    match = _EXIT_CODE.search(details or "")
    return int(match.group(1)) if match else None


def run_state(run: Any, job_name: str | None = None) -> RunState:
    """JobRun or JobRunSummary -> RunState; env/args are the run's own (derived vars removed)."""
    override = getattr(run, "job_configuration_override_details", None)
    groups = getattr(getattr(run, "job_node_configuration_override_details", None),
                     "job_node_group_configuration_details_list", None)
    if groups:  # a multi-node run: its first group's env, and every group's secrets learnt
        override = groups[0].job_configuration_details
        for group in groups:
            REDACTOR.remember_env(getattr(group.job_configuration_details, "environment_variables", None) or {})
    env = dict(getattr(override, "environment_variables", None) or {})
    args = tuple(shlex.split(getattr(override, "command_line_arguments", None) or ""))
    details = run.lifecycle_details or None
    return RunState(
        id=run.id, job_id=run.job_id, name=run.display_name or run.id, state=run.lifecycle_state,
        created=run.time_accepted, started=run.time_started, finished=run.time_finished,
        exit_code=exit_code(run.lifecycle_state, details), details=details,
        env={k: v for k, v in env.items() if not DERIVED_ENV.match(k)}, args=args, job_name=job_name,
        marks=marks_of(getattr(run, "freeform_tags", None)),
    )

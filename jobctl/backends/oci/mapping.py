"""JobDefinition ⇄ OCI Data Science SDK models, in one place.

| jobctl (JobDefinition)            | OCI                                                                  |
|-----------------------------------|----------------------------------------------------------------------|
| name, description, tags           | display_name, description, freeform_tags                             |
| compartment_id, project_id        | compartment_id, project_id                                           |
| shape, ocpus, memory_in_gbs       | job_infrastructure_configuration_details.shape_name / shape config   |
| block_storage_size_in_gbs         | ….block_storage_size_in_gbs                                          |
| subnet_id (None)                  | STANDALONE with subnet_id (ME_STANDALONE: managed egress)            |
| env, args, max_runtime            | DefaultJobConfigurationDetails (args as one shlex-joined string)     |
| conda_slug / conda_uri            | env CONDA_ENV_TYPE/SLUG (service) or …/NAMESPACE/BUCKET/OBJECT_NAME  |
| entrypoint (zip artifact)         | env JOB_RUN_ENTRYPOINT                                               |
| log_*                             | JobLogConfigurationDetails                                           |
| image, cmd, container_entrypoint  | OcirContainerJobEnvironmentConfigurationDetails                      |
| runtime_type, entrypoint, digest  | freeform tag jobctl-source (OCI cannot give these back)              |
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from jobctl.backends.base import SUCCEEDED, JobDefinition, JobState, RunState

TAG_SOURCE = "jobctl-source"
DERIVED_ENV = re.compile(r"^(CONDA_ENV_[A-Z_]+|JOB_RUN_ENTRYPOINT)$")
_EXIT_CODE = re.compile(r"exit code (\d+)", re.IGNORECASE)
_PUBLISHED = re.compile(r"^oci://(?P<bucket>[^@/]+)@(?P<namespace>[^/]+)/(?P<object>.+)$")


def _escape(text: str) -> str:
    return text.replace("%", "%25").replace("|", "%7C")


def _unescape(text: str) -> str:
    return text.replace("%7C", "|").replace("%25", "%")


def source_tag(definition: JobDefinition, artifact_is_zip: bool) -> str:
    """`type|entrypoint|digest|zip-or-file` ('|' and '%' escaped): what OCI cannot tell us back."""
    kind = "zip" if artifact_is_zip else "file"
    fields = (definition.runtime_type, definition.entrypoint or "", definition.artifact_digest or "", kind)
    return "|".join(_escape(f) for f in fields)


def parse_source_tag(value: str | None) -> tuple[str | None, str | None, str | None, bool]:
    if not value:
        return None, None, None, False
    parts = [_unescape(p) for p in [*value.split("|"), "", "", "", ""][:4]]
    return parts[0] or None, parts[1] or None, parts[2] or None, parts[3] == "zip"


def derived_env(definition: JobDefinition, artifact_is_zip: bool) -> dict[str, str]:
    """Variables the OCI job runner reads: conda environment and the entry file of a zip."""
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
    if artifact_is_zip and definition.entrypoint:
        env["JOB_RUN_ENTRYPOINT"] = definition.entrypoint
    return env


def job_configuration(
    models: Any, env: Mapping[str, str], args: tuple[str, ...], max_runtime: int | None,
) -> Any:
    return models.DefaultJobConfigurationDetails(
        job_type="DEFAULT", environment_variables=dict(env) or None,
        command_line_arguments=shlex.join(args) if args else None, maximum_runtime_in_minutes=max_runtime,
    )


def infrastructure(models: Any, d: JobDefinition) -> Any:
    shape_config = (
        models.JobShapeConfigDetails(ocpus=d.ocpus, memory_in_gbs=d.memory_in_gbs)
        if d.ocpus is not None or d.memory_in_gbs is not None else None
    )
    if d.subnet_id:
        return models.StandaloneJobInfrastructureConfigurationDetails(
            job_infrastructure_type="STANDALONE", shape_name=d.shape, subnet_id=d.subnet_id,
            block_storage_size_in_gbs=d.block_storage_size_in_gbs, job_shape_config_details=shape_config,
        )
    return models.ManagedEgressStandaloneJobInfrastructureConfigurationDetails(
        job_infrastructure_type="ME_STANDALONE", shape_name=d.shape,
        block_storage_size_in_gbs=d.block_storage_size_in_gbs, job_shape_config_details=shape_config,
    )


def log_configuration(models: Any, d: JobDefinition) -> Any:
    """Sent also when logging is disabled but names a log, so the definition reads back unchanged."""
    if not (d.log_enabled or d.log_group_id or d.log_id or d.log_auto_create):
        return None
    return models.JobLogConfigurationDetails(
        enable_logging=d.log_enabled, enable_auto_log_creation=d.log_auto_create,
        log_group_id=d.log_group_id, log_id=d.log_id,
    )


def environment(models: Any, d: JobDefinition) -> Any:
    if d.runtime_type != "container":
        return None
    return models.OcirContainerJobEnvironmentConfigurationDetails(
        job_environment_type="OCIR_CONTAINER", image=d.image, cmd=list(d.cmd) or None,
        entrypoint=list(d.container_entrypoint) or None, image_digest=d.image_digest,
    )


def create_details(models: Any, d: JobDefinition, tags: Mapping[str, str], artifact_is_zip: bool) -> Any:
    env = {**d.env, **derived_env(d, artifact_is_zip)}
    return models.CreateJobDetails(
        project_id=d.project_id, compartment_id=d.compartment_id, display_name=d.name, description=d.description,
        job_configuration_details=job_configuration(models, env, d.args, d.max_runtime_in_minutes),
        job_infrastructure_configuration_details=infrastructure(models, d),
        job_log_configuration_details=log_configuration(models, d),
        job_environment_configuration_details=environment(models, d),
        freeform_tags=dict(tags),
    )


def update_details(models: Any, d: JobDefinition, tags: Mapping[str, str]) -> Any:
    """Only what UpdateJobDetails accepts: display name, description, infrastructure, tags."""
    return models.UpdateJobDetails(
        display_name=d.name, description=d.description,
        job_infrastructure_configuration_details=infrastructure(models, d), freeform_tags=dict(tags),
    )


def definition_from_job(job: Any) -> JobDefinition:
    """An SDK Job back into a JobDefinition (derived env vars folded back into conda/entrypoint)."""
    tags = dict(job.freeform_tags or {})
    runtime_type, entrypoint, digest, _ = parse_source_tag(tags.get(TAG_SOURCE))
    config = job.job_configuration_details
    env = dict(getattr(config, "environment_variables", None) or {})
    infra = job.job_infrastructure_configuration_details
    shape_config = getattr(infra, "job_shape_config_details", None)
    logs = job.job_log_configuration_details
    container = job.job_environment_configuration_details
    is_container = getattr(container, "job_environment_type", None) == "OCIR_CONTAINER"
    conda_uri = None
    if env.get("CONDA_ENV_TYPE") == "published":
        conda_uri = f"oci://{env.get('CONDA_ENV_BUCKET')}@{env.get('CONDA_ENV_NAMESPACE')}/{env.get('CONDA_ENV_OBJECT_NAME')}"
    return JobDefinition(
        name=job.display_name, description=job.description, compartment_id=job.compartment_id,
        project_id=job.project_id,
        shape=getattr(infra, "shape_name", None) or "",
        ocpus=getattr(shape_config, "ocpus", None), memory_in_gbs=getattr(shape_config, "memory_in_gbs", None),
        block_storage_size_in_gbs=getattr(infra, "block_storage_size_in_gbs", None) or 50,
        subnet_id=getattr(infra, "subnet_id", None),
        log_enabled=bool(logs and logs.enable_logging), log_group_id=getattr(logs, "log_group_id", None),
        log_id=None if logs is None or logs.enable_auto_log_creation else logs.log_id,
        log_auto_create=bool(logs and logs.enable_auto_log_creation),
        runtime_type=runtime_type or ("container" if is_container else "python"),
        entrypoint=env.get("JOB_RUN_ENTRYPOINT") or entrypoint,
        conda_slug=env.get("CONDA_ENV_SLUG") if env.get("CONDA_ENV_TYPE") == "service" else None,
        conda_uri=conda_uri,
        image=getattr(container, "image", None) if is_container else None,
        image_digest=getattr(container, "image_digest", None) if is_container else None,
        container_entrypoint=tuple(getattr(container, "entrypoint", None) or ()) if is_container else (),
        cmd=tuple(getattr(container, "cmd", None) or ()) if is_container else (),
        args=tuple(shlex.split(getattr(config, "command_line_arguments", None) or "")),
        env={k: v for k, v in env.items() if not DERIVED_ENV.match(k)},
        max_runtime_in_minutes=getattr(config, "maximum_runtime_in_minutes", None),
        artifact_digest=digest,
        tags=tags,
    )


def job_state(job: Any, etag: str | None = None, with_definition: bool = True) -> JobState:
    """Job or JobSummary -> JobState (summaries carry tags but no configuration)."""
    definition = definition_from_job(job) if with_definition else None
    return JobState(
        id=job.id, name=job.display_name, lifecycle_state=job.lifecycle_state,
        tags=dict(job.freeform_tags or {}), created=job.time_created, definition=definition, etag=etag,
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
    env = dict(getattr(override, "environment_variables", None) or {})
    args = tuple(shlex.split(getattr(override, "command_line_arguments", None) or ""))
    details = run.lifecycle_details or None
    return RunState(
        id=run.id, job_id=run.job_id, name=run.display_name or run.id, state=run.lifecycle_state,
        created=run.time_accepted, started=run.time_started, finished=run.time_finished,
        exit_code=exit_code(run.lifecycle_state, details), details=details,
        env={k: v for k, v in env.items() if not DERIVED_ENV.match(k)}, args=args, job_name=job_name,
    )

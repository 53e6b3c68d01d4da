"""Data Flow applications and runs in the SDK's terms (oci.data_flow.models), both ways, from the field table
(jobctl.model.application): what the OCI backend sends and reads (docs/decisions/0015-dataflow-applications.md).

Facts used (docs/oci-fidelity.md, "Data Flow"): UpdateApplicationDetails is CreateApplicationDetails without
`compartmentId` and `type`, and whether an update clears a field it leaves out is not documented, so an update
sends every in-place field, emptied ones as empty; parameters travel as [{name, value}]; a run's overrides
are CreateRunDetails fields, sent whole (how the service merges a run's parameters and configuration with the
application's is not documented); `sparkVersion` goes with `execute` only, never with an application.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jobctl.backends.oci.mapping import AUTOMATIC_TAG_NAMESPACE, build, read_row, table_values
from jobctl.model.application import ApplicationDefinition, env_configuration
from jobctl.model.job import TAG_NAME, name_from_display, split_tags
from jobctl.model.table import rows

TAG_ARTIFACT = "jobctl-artifact"  # the digest of the source jobctl uploaded as the application's file
_BY_HAND = ("parameters", "defined_tags", "log_group_id", "log_id")  # not a plain SDK attribute each


def _values(app: ApplicationDefinition, *, in_place_only: bool) -> dict[str, Any]:
    values = table_values(app, in_place_only=in_place_only)
    values.pop("application_log_config", None)  # both or neither: OCI requires both ids
    if app.log_group_id and app.log_id:
        values["application_log_config"] = {"log_group_id": app.log_group_id, "log_id": app.log_id}
    values["parameters"] = [{"name": name, "value": text} for name, text in sorted(app.parameters.items())]
    values["defined_tags"] = {space: dict(tags) for space, tags in app.defined_tags.items()} or None
    return values


def create_details(models: Any, app: ApplicationDefinition, tags: Mapping[str, str]) -> Any:
    """CreateApplicationDetails for `app` (its file_uri the uploaded source's, when it has one)."""
    return build(models, "CreateApplicationDetails", {**_values(app, in_place_only=False), "freeform_tags": dict(tags)})


def update_details(models: Any, app: ApplicationDefinition, tags: Mapping[str, str], current: Any = None) -> Any:
    """UpdateApplicationDetails: every in-place field, sent whole; one emptied is sent empty, so that it clears.
    OCI's own defined-tag namespace on `current` (the application as read) is kept."""
    values = _values(app, in_place_only=True)
    automatic = (getattr(current, "defined_tags", None) or {}).get(AUTOMATIC_TAG_NAMESPACE)
    values["defined_tags"] = {**(values["defined_tags"] or {}),
                              **({AUTOMATIC_TAG_NAMESPACE: automatic} if automatic else {})}
    details = build(models, "UpdateApplicationDetails", {**values, "freeform_tags": dict(tags)})
    details.arguments = list(app.arguments)
    details.parameters = [models.ApplicationParameter(name=p["name"], value=p["value"]) for p in values["parameters"]]
    details.configuration = dict(app.configuration)
    return details


def definition_from_application(application: Any) -> ApplicationDefinition:
    """An SDK Application back into an ApplicationDefinition (what a plan compares with the spec)."""
    labels, owner_tags = split_tags(application.freeform_tags or {})
    table = {row.attr: read_row(application, row) for row in rows(ApplicationDefinition)
             if row.oci is not None and row.attr not in _BY_HAND}
    table["arguments"] = tuple(table.get("arguments") or ())
    table["configuration"] = dict(table.get("configuration") or {})
    log = getattr(application, "application_log_config", None)
    defined = {space: dict(tags) for space, tags in (getattr(application, "defined_tags", None) or {}).items()
               if space != AUTOMATIC_TAG_NAMESPACE}
    return ApplicationDefinition(
        **table,
        name=owner_tags.get(TAG_NAME) or name_from_display(application.display_name or "") or "my-application",
        labels=labels, defined_tags=defined,
        parameters={p.name: p.value for p in getattr(application, "parameters", None) or ()},
        log_group_id=getattr(log, "log_group_id", None), log_id=getattr(log, "log_id", None),
        artifact_digest=owner_tags.get(TAG_ARTIFACT), owner_tags=owner_tags,
    )


def run_details(models: Any, app: ApplicationDefinition, *, application_id: str, name: str,
                env: Mapping[str, str], arguments: Sequence[str] | None = None,
                parameters: Mapping[str, str] | None = None, configuration: Mapping[str, str] | None = None,
                tags: Mapping[str, str] | None = None) -> Any:
    """CreateRunDetails of a run of the application: its --env as spark.driverEnv/executorEnv, and what it
    overrides, each sent whole (the application's merged with the run's)."""
    values: dict[str, Any] = {"application_id": application_id, "compartment_id": app.compartment_id,
                              "display_name": name, "freeform_tags": dict(tags) if tags else None}
    if arguments is not None:
        values["arguments"] = list(arguments)
    if parameters:
        merged = {**app.parameters, **parameters}
        values["parameters"] = [{"name": key, "value": text} for key, text in sorted(merged.items())]
    if configuration or env:
        values["configuration"] = {**app.configuration, **(configuration or {}), **env_configuration(env)}
    return build(models, "CreateRunDetails", values)

"""OCI Data Flow applications: create, update and delete, and the `${name}` parameters of their arguments.

An application is ACTIVE once created (CreateApplication answers the Application itself, no work request).
Requests are checked against the SDK's CreateApplicationDetails / UpdateApplicationDetails (`schema.py`),
and every `${name}` placeholder in the arguments needs a parameter of that name, on create and on update.
An update replaces each top-level field it is sent and cannot change `type` or `compartmentId`. Deleting an
application is refused while one of its runs is active (ADS cancels them first); the application is then
DELETED at once and stays readable. Runs are `dataflow_runs`'. Every rule and its source is in
docs/oci-fidelity.md ("Data Flow").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobctl.testing.fake_oci import schema
from jobctl.testing.fake_oci.errors import conflict, existing, incorrect_state, invalid, limit_exceeded, missing
from jobctl.testing.fake_oci.state import apply_update, check_etag, present
from jobctl.testing.fake_oci.wire import format_time

if TYPE_CHECKING:
    from jobctl.testing.fake_oci.state import Store

ACTIVE, DELETING, DELETED = "ACTIVE", "DELETING", "DELETED"
APPLICATION_STATES = ("ACTIVE", "DELETING", "DELETED", "INACTIVE")
APPLICATION_SUMMARY_FIELDS = ("compartmentId", "definedTags", "displayName", "freeformTags", "id", "language",
                              "lifecycleState", "ownerPrincipalId", "ownerUserName", "poolId", "sparkVersion",
                              "timeCreated", "timeUpdated", "type")
DEFAULT_TYPE = "BATCH"
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_]+")


@dataclass
class ApplicationRecord:
    resource: dict[str, Any]  # the Application's wire JSON
    seq: int

    @property
    def state(self) -> str:
        return str(self.resource["lifecycleState"])


def application(store: Store, application_id: str) -> ApplicationRecord:
    return existing(store.dataflow_applications, "Application", application_id)


def check_parameters(values: Mapping[str, Any]) -> None:
    """Parameter names are word characters, and each `${name}` in the arguments has a parameter."""
    names = [parameter["name"] for parameter in values.get("parameters") or []]
    malformed = [name for name in names if not _PARAMETER_NAME.fullmatch(name)]
    if malformed:
        raise invalid(f"parameters: a name must be one or more word characters (a-z, A-Z, 0-9, _): "
                      f"{', '.join(map(repr, malformed))}")
    unfilled = sorted(set(placeholders(values.get("arguments") or [])) - set(names))
    if unfilled:
        raise invalid(f"arguments: each placeholder must be in the parameters; none for "
                      f"{', '.join('${' + name + '}' for name in unfilled)}")


def placeholders(arguments: Iterable[str]) -> list[str]:
    return [name for argument in arguments for name in _PLACEHOLDER.findall(argument)]


def substituted(arguments: Iterable[str], parameters: Iterable[Mapping[str, str]]) -> list[str]:
    """The arguments with each `${name}` replaced by its parameter's value, once (a value is not substituted
    again); text around a placeholder stays: `${a}${b} ${c}` is one argument."""
    values = {parameter["name"]: parameter["value"] for parameter in parameters}
    return [_PLACEHOLDER.sub(lambda found: values.get(found.group(1), found.group(0)), argument)
            for argument in arguments]


def create_application(store: Store, body: Any, owner: str) -> dict[str, Any]:
    """CreateApplication: the application, ACTIVE."""
    schema.CREATE_APPLICATION.check(body, "")
    if body.get("fileUri") is None and body.get("execute") is None:
        raise missing("fileUri is required (or execute, a spark-submit command line naming the file)")
    check_parameters(body)
    if len(store.dataflow_applications) >= store.limits.max_dataflow_applications:
        raise limit_exceeded(f"the fake holds at most {store.limits.max_dataflow_applications} applications")
    now = format_time(store.now())
    resource = {"freeformTags": {}, "definedTags": {}, "type": DEFAULT_TYPE, **present(body)}
    resource["definedTags"] = store.tag_defaults(resource["definedTags"], owner)
    resource.update(id=store.new_id("dataflowapplication"), lifecycleState=ACTIVE, timeCreated=now,
                    timeUpdated=now, ownerPrincipalId=owner)
    store.dataflow_applications[resource["id"]] = ApplicationRecord(resource, store.next_seq())
    return resource


def update_application(store: Store, application_id: str, body: Any, if_match: str | None) -> dict[str, Any]:
    """UpdateApplication: each UpdateApplicationDetails field sent replaces the application's."""
    record = application(store, application_id)

    def check(changes: dict[str, Any]) -> None:
        if record.state != ACTIVE:
            raise conflict(f"application {application_id} is {record.state} and cannot be updated")
        check_parameters({**record.resource, **changes})

    specs = (schema.UPDATE_APPLICATION, schema.CREATE_APPLICATION)
    return apply_update(record.resource, body, if_match, specs, store.now(), check=check)


def delete_application(store: Store, application_id: str, if_match: str | None) -> None:
    """DeleteApplication: DELETED at once; refused while a run of it is active."""
    record = application(store, application_id)
    check_etag(record.resource, if_match)
    if record.state in (DELETING, DELETED):
        raise conflict(f"application {application_id} is already {record.state}")
    active = [run.resource["id"] for run in store.dataflow_runs.values()
              if run.resource["applicationId"] == application_id and run.active]
    if active:
        raise incorrect_state(f"application {application_id} has active runs: {', '.join(active)}; cancel them "
                              "(DeleteRun) first")
    record.resource.update(lifecycleState=DELETED, timeUpdated=format_time(store.now()))

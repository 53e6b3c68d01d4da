"""Data Flow applications and runs in the SDK's terms (oci.data_flow.models), both ways, from the field table
(jobctl.model.application): what the OCI backend sends and reads (docs/decisions/0015-dataflow-applications.md).

Facts used (docs/oci-fidelity.md, "Data Flow"): UpdateApplicationDetails is CreateApplicationDetails without
`compartmentId` and `type`, and whether an update clears a field it leaves out is not documented, so an update
sends every in-place field, emptied ones as empty; parameters travel as [{name, value}]; a run's overrides
are CreateRunDetails fields, sent whole (how the service merges a run's parameters and configuration with the
application's is not documented); `sparkVersion` goes with `execute` only, never with an application.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from jobctl.backends.oci.mapping import AUTOMATIC_TAG_NAMESPACE, build, read_row, table_values
from jobctl.backends.oci.paging import list_all
from jobctl.errors import ConfigError, ConflictError
from jobctl.model.application import (
    DRIVER_ENV,
    TAG_ARTIFACT,
    ApplicationDefinition,
    code_uri_of,
    env_configuration,
    request_parts,
    shown_configuration,
)
from jobctl.model.definition import replace
from jobctl.model.job import (
    SUCCEEDED,
    TAG_MANAGED,
    TAG_NAME,
    LogBatch,
    LogLine,
    RunState,
    name_from_display,
    split_tags,
)
from jobctl.model.request import marks_of
from jobctl.model.state import DATAFLOW_RUN, AppliedApplication
from jobctl.model.table import rows
from jobctl.secrets import REDACTOR

if TYPE_CHECKING:
    from pathlib import Path

    from jobctl.backends.oci.objects import ObjectStorage

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
    name = owner_tags.get(TAG_NAME) or name_from_display(application.display_name or "") or "my-application"
    return ApplicationDefinition(
        **table, name=name, code_uri=code_uri_of(table.get("file_uri"), name, owner_tags.get(TAG_ARTIFACT)),
        labels=labels, defined_tags=defined,
        parameters={p.name: p.value for p in getattr(application, "parameters", None) or ()},
        log_group_id=getattr(log, "log_group_id", None), log_id=getattr(log, "log_id", None),
        artifact_digest=owner_tags.get(TAG_ARTIFACT), owner_tags=owner_tags,
    )


def run_details(models: Any, app: ApplicationDefinition, *, application_id: str, name: str,
                env: Mapping[str, str], arguments: Sequence[str] | None = None,
                parameters: Mapping[str, str] | None = None, configuration: Mapping[str, str] | None = None,
                tags: Mapping[str, str] | None = None, fields: Mapping[str, Any] | None = None) -> Any:
    """CreateRunDetails of a run of the application: its --env as spark.driverEnv/executorEnv, and what it
    overrides, each sent whole (the application's merged with the run's); `fields`: other fields a run may set
    (by attribute: num_executors, driver_ocpus, ...), each sent as the whole SDK attribute it is part of (a
    shape config with both its values)."""
    values: dict[str, Any] = {"application_id": application_id, "compartment_id": app.compartment_id,
                              "display_name": name, "freeform_tags": dict(tags) if tags else None}
    if fields:
        whole = _values(replace(app, **fields), in_place_only=False)
        for row in rows(ApplicationDefinition):
            if row.attr in fields and row.oci is not None:
                top = row.oci.split(".")[0]
                values[top] = whole.get(top)
    if arguments is not None:
        values["arguments"] = list(arguments)
    if parameters:
        merged = {**app.parameters, **parameters}
        values["parameters"] = [{"name": key, "value": text} for key, text in sorted(merged.items())]
    if configuration or env:
        values["configuration"] = {**app.configuration, **(configuration or {}), **env_configuration(env)}
    return build(models, "CreateRunDetails", values)


ENDED = "ended"  # the cursor of a run's output read whole
STATES = {"STOPPING": "CANCELING", "STOPPED": "CANCELED"}  # a stopped run has ended, not succeeded (undocumented)


def run_state(run: Any) -> RunState:
    """A Data Flow run as a run of any kind: its state in the job runs' terms (STOPPING and STOPPED, whose
    meaning OCI does not document, as CANCELING and CANCELED), its reason kept; its application's name from
    the tags it took from it, its env from the Spark properties --env set; an ended run's last update as its
    end and its runDurationInMilliseconds before that as its start (Data Flow has neither time of its own);
    a run going, its creation as its start."""
    state = STATES.get(run.lifecycle_state, run.lifecycle_state)
    details = run.lifecycle_details or (run.lifecycle_state if state != run.lifecycle_state else None)
    # secret-named properties and parameters (a listing has neither): masked in whatever shows the run's output
    REDACTOR.remember_env(getattr(run, "configuration", None) or {})
    REDACTOR.remember_env({p.name: p.value for p in getattr(run, "parameters", None) or ()})
    made = RunState(run.id, run.application_id, run.display_name or run.id, state, run.time_created,
                    exit_code=0 if state == SUCCEEDED else None, details=details,
                    args=tuple(getattr(run, "arguments", None) or ()),
                    env={key.removeprefix(DRIVER_ENV): value
                         for key, value in (getattr(run, "configuration", None) or {}).items()
                         if key.startswith(DRIVER_ENV)},
                    job_name=(run.freeform_tags or {}).get(TAG_NAME), marks=marks_of(run.freeform_tags),
                    parameters={p.name: p.value for p in getattr(run, "parameters", None) or ()},
                    configuration=shown_configuration(getattr(run, "configuration", None) or {}))
    if made.state == "ACCEPTED":
        return made
    if not made.terminal:  # going: since it was made, as near as Data Flow says
        return made.replace(started=run.time_created)
    took = getattr(run, "run_duration_in_milliseconds", None)
    return made.replace(finished=run.time_updated,
                   started=run.time_updated - timedelta(milliseconds=took) if took is not None else None)


class DataFlow:
    """OCI Data Flow through the SDK's DataFlowClient; service errors become jobctl errors through `call`.
    `compartment`: the backend's default one (--compartment-id), looked in besides those named."""

    required_fields = ("spec.compartmentId", "spec.codeUri")  # codeUri: for a source, which goes there

    def __init__(self, call: Callable[..., Any], client: Any, models: Any, *, storage: ObjectStorage | None = None,
                 compartment: str | None = None) -> None:
        self._call, self.client, self.models = call, client, models
        self._storage = storage
        self._compartment = compartment

    def applications(self, *, compartment: str, managed: bool = True) -> list[AppliedApplication]:
        """The live applications jobctl manages in the compartment (`managed=False`: the others), newest first;
        an unmanaged one's name is its display name."""
        listed = list_all(self._call, "listing Data Flow applications", self.client.list_applications, compartment,
                          limit=100)
        found = [AppliedApplication(a.id, (a.freeform_tags or {}).get(TAG_NAME, "") if managed else a.display_name,
                                    a.lifecycle_state, a.compartment_id, a.time_created,
                                    tags=dict(a.freeform_tags or {}))
                 for a in listed
                 if a.lifecycle_state == "ACTIVE" and ((a.freeform_tags or {}).get(TAG_MANAGED) == "true") == managed]
        return sorted(found, key=lambda a: a.created, reverse=True)

    def unmanaged(self, compartments: Sequence[str | None]) -> list[tuple[str, str]]:
        """The live applications jobctl does not manage in these compartments and the default one: (id, display
        name), what `apply --adopt` may take over."""
        return [(app.id, app.name) for compartment in self._scopes(compartments)
                for app in self.applications(compartment=compartment, managed=False)]

    def _scopes(self, compartments: Sequence[str | None]) -> list[str]:
        """The compartments a lookup lists: those named, and the default one, each once."""
        return sorted({c for c in (*compartments, self._compartment) if c})

    def listed(self, compartments: Sequence[str | None]) -> list[tuple[str, Mapping[str, str]]]:
        """The live applications jobctl manages in these compartments and the default one, oldest first: (id,
        freeform tags). The default one is where an application moved to another compartment is found (a plan
        sees it there, and replaces it)."""
        found = [app for compartment in self._scopes(compartments)
                 for app in self.applications(compartment=compartment)]
        return [(app.id, app.tags) for app in sorted(found, key=lambda a: a.created)]

    def read(self, application_id: str) -> tuple[str | None, ApplicationDefinition, Any]:
        """The application's etag, definition, and the SDK model (for an update to keep what OCI adds)."""
        response = self._call(f"reading application {application_id}", self.client.get_application, application_id)
        return response.headers.get("etag"), definition_from_application(response.data), response.data

    def create(self, app: ApplicationDefinition, tags: Mapping[str, str], retry_token: str, *,
               source: Path | None = None) -> str:
        """The application made (the one made with this retry token, if it exists), its `source` uploaded
        first to its fileUri; its id."""
        self._upload(app, source)
        made = self._call(f"creating application {app.name}", self.client.create_application,
                          create_details(self.models, app, tags), opc_retry_token=retry_token).data
        return str(made.id)

    def update(self, application_id: str, app: ApplicationDefinition, tags: Mapping[str, str], *,
               etag: str | None, current: Any = None, source: Path | None = None) -> None:
        self._upload(app, source)
        self._call(f"updating application {app.name}", self.client.update_application,  # details first, here
                   update_details(self.models, app, tags, current), application_id,
                   **({"if_match": etag} if etag else {}))

    def _upload(self, app: ApplicationDefinition, source: Path | None) -> None:
        if source is None:
            return
        if self._storage is None or not app.file_uri:
            raise ConfigError(f"application {app.name!r}: its source has nowhere to go", hint="set spec.codeUri")
        self._storage.put_file_once(app.file_uri, source)

    def code(self, application_id: str) -> tuple[str, bytes] | None:
        """The application's file (name, content), read from its fileUri; None when it is not there."""
        _, app, _ = self.read(application_id)
        if self._storage is None or not app.file_uri:
            return None
        content = self._storage.get_bytes(app.file_uri)
        return None if content is None else (app.file_uri.rsplit("/", 1)[-1], content)

    def delete(self, application_id: str) -> None:
        self._call(f"deleting application {application_id}", self.client.delete_application, application_id)

    def start(self, app: ApplicationDefinition, application_id: str, *, name: str, env: Mapping[str, str],
              retry_token: str, arguments: Sequence[str] | None = None, parameters: Mapping[str, str] | None = None,
              configuration: Mapping[str, str] | None = None, fields: Mapping[str, Any] | None = None,
              marks: Mapping[str, str] | None = None) -> RunState:
        # tags sent with a run replace its application's (docs/oci-fidelity.md): the marks go with those
        tags = {**app.tags, **marks} if marks else None
        details = run_details(self.models, app, application_id=application_id, name=name, env=env, tags=tags,
                              arguments=arguments, parameters=parameters, configuration=configuration, fields=fields)
        run = self._call(f"starting a run of {app.name}", self.client.create_run, details,
                         opc_retry_token=retry_token).data
        return run_state(run)

    def run(self, run_id: str) -> RunState:
        return run_state(self._call(f"reading run {run_id}", self.client.get_run, run_id).data)

    def made(self, run_id: str) -> Mapping[str, Any] | None:
        """The run's request_parts: a Run carries every value its application gave it and its start set."""
        return request_parts(definition_from_application(
            self._call(f"reading run {run_id}", self.client.get_run, run_id).data))

    def runs(self, application_id: str, *, compartment: str | None = None) -> list[RunState]:
        """The application's runs, newest first (one filter besides the compartment: OCI takes no more; without
        `compartment`, the application's)."""
        compartment = compartment or self.read(application_id)[1].compartment_id
        listed = list_all(self._call, "listing Data Flow runs", self.client.list_runs, compartment,
                          application_id=application_id, limit=100)
        return sorted((run_state(run) for run in listed), key=lambda run: run.created, reverse=True)

    def named(self, application_id: str, name: str, *, compartment: str | None = None) -> list[RunState]:
        """The application's runs named `name`, newest first: the compartment's runs of that name (ListRuns takes
        one filter besides the compartment), those of this application kept."""
        compartment = compartment or self.read(application_id)[1].compartment_id
        listed = list_all(self._call, "listing Data Flow runs", self.client.list_runs, compartment,
                          display_name=name, limit=100)
        return sorted((run_state(run) for run in listed if run.application_id == application_id),
                      key=lambda run: run.created, reverse=True)

    def find_runs(self, ref: str) -> list[RunState]:
        """The default compartment's runs named `ref` (the service's displayName filter), else, for an OCID's
        start, those whose id starts with it (listed in turn), newest first."""
        if not self._compartment:
            return []
        named = list_all(self._call, "listing Data Flow runs", self.client.list_runs, self._compartment,
                         display_name=ref, limit=100)
        if not named and ref.startswith(DATAFLOW_RUN):
            named = [run for run in list_all(self._call, "listing Data Flow runs", self.client.list_runs,
                                             self._compartment, limit=100) if run.id.startswith(ref)]
        return sorted((run_state(run) for run in named), key=lambda run: run.created, reverse=True)

    def cancel(self, run_id: str) -> RunState:
        """DeleteRun cancels a run (it stays, CANCELING then CANCELED); one that has ended is read as it is."""
        with contextlib.suppress(ConflictError):
            self._call(f"canceling run {run_id}", self.client.delete_run, run_id)
        return self.run(run_id)

    def output(self, run_id: str) -> list[tuple[str, str]]:
        """The run's own stdout and stderr (source APPLICATION), as (stream, text): Data Flow has them only
        once the run has ended. A log's bytes are gunzipped when they are gzip (OCI names them .log.gz; ADS
        reads them as text), and leading NULs are dropped, as ADS does."""
        import gzip

        logs = list_all(self._call, f"listing the logs of run {run_id}", self.client.list_run_logs, run_id, limit=100)
        found = []
        for log in sorted(logs, key=lambda item: (item.type != "STDOUT", item.name)):
            if log.source != "APPLICATION":
                continue
            body = self._call(f"reading log {log.name} of run {run_id}", self.client.get_run_log, run_id,
                              log.name).data.content
            if body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
            found.append(("stdout" if log.type == "STDOUT" else "stderr",
                          body.lstrip(b"\x00").decode("utf-8", "replace")))
        return found

    def read_logs(self, run_id: str, cursor: str | None) -> LogBatch:
        """The run's output as log lines: none while it runs (Data Flow has it only once the run has ended),
        then all of it at once, stdout first, each line at the run's end."""
        run = self.run(run_id)
        if not run.terminal or cursor == ENDED:
            return LogBatch((), cursor, run.terminal, run=run)
        at = run.finished or run.created
        lines = tuple(LogLine(at, stream, line) for stream, text in self.output(run_id) for line in text.splitlines())
        return LogBatch(lines, ENDED, True, run=run)

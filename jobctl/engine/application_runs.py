"""Runs of a Data Flow application started as a job's are (jobctl.engine.runs): one per --matrix combination,
named and retry-tokened by an idempotency key, re-attached to when the key's run was started by the same
request, refused (exit 5, naming the run and what differs) when by another."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

from jobctl.engine.run_names import run_base_name
from jobctl.engine.runs import (
    RunRequest,
    RunStarter,
    check_key,
    fan_out,
    refuse_another_request,
    request_differences,
    run_application,
    run_marks,
    start_each,
)
from jobctl.model.application import ApplicationDefinition, env_configuration, request_parts, substituted
from jobctl.model.definition import replace
from jobctl.model.job import RunState

_MAPS = ("arguments", "parameters", "configuration")  # a run's start takes them apart from its other fields


class ApplicationRuns(Protocol):
    """What a backend's `dataflow` offers for runs (jobctl.backends.local.applications, .oci.dataflow)."""

    def start(self, app: ApplicationDefinition, application_id: str, *, name: str, env: Mapping[str, str],
              retry_token: str, arguments: Sequence[str] | None = None, parameters: Mapping[str, str] | None = None,
              configuration: Mapping[str, str] | None = None, fields: Mapping[str, Any] | None = None,
              marks: Mapping[str, str] | None = None) -> RunState: ...

    def run(self, run_id: str) -> RunState: ...

    def runs(self, application_id: str, *, compartment: str | None = None) -> list[RunState]: ...

    def named(self, application_id: str, name: str, *, compartment: str | None = None) -> list[RunState]:
        """The application's runs named `name`, newest first (`compartment`: its own, when known)."""
        ...

    def made(self, run_id: str) -> Mapping[str, Any] | None: ...


def plan_application_runs(
    application_id: str, definition: ApplicationDefinition, *, env: Mapping[str, str], settings: Mapping[str, Any],
    matrix: Sequence[Mapping[str, str]], name: str | None, idempotency_key: str | None, now: datetime | None = None,
) -> list[RunRequest]:
    """The runs to start: `settings` are what the run sets by attribute (arguments, the parameters and
    configuration entries it adds, numExecutors, ...), `env` its --env, each combination's added."""
    base = run_base_name(definition.name, name, idempotency_key, now or datetime.now(timezone.utc))
    arguments = run_application(definition, settings).arguments
    return fan_out(application_id, base, {}, arguments, settings, env=env, matrix=matrix,
                   idempotency_key=idempotency_key, keyed_name=name is None)


def start_application_runs(
    dataflow: ApplicationRuns, application_id: str, definition: ApplicationDefinition,
    requests: Sequence[RunRequest], *, max_parallel: int = 8, **callbacks: Callable[..., None] | None,
) -> list[RunState]:
    """Start every request of the application's as start_each does (a run without an idempotency key still goes
    with a retry token of its own, so that a retried call does not start it twice)."""
    def start(request: RunRequest) -> RunState:
        given = dict(request.settings)
        maps = {key: given.pop(key, None) for key in _MAPS}
        return dataflow.start(definition, application_id, name=request.name, env=request.env,
                              retry_token=request.retry_token or secrets.token_hex(32),
                              arguments=maps["arguments"], parameters=maps["parameters"],
                              configuration=maps["configuration"], fields=given,
                              marks=run_marks(request, request_parts(as_run(definition, request))))

    def check(run: RunState, request: RunRequest) -> None:
        check_same_application_run(run, dataflow.made(run.id), as_run(definition, request), request)

    def named(name: str) -> list[RunState]:
        return dataflow.named(application_id, name, compartment=definition.compartment_id)

    starter = RunStarter(lambda: dataflow.runs(application_id), named, dataflow.run, start, check)
    return start_each(requests, starter, max_parallel=max_parallel, **callbacks)


def as_run(definition: ApplicationDefinition, request: RunRequest) -> ApplicationDefinition:
    """The application as this request makes its run: its settings written in, its env as Spark properties."""
    made = run_application(definition, request.settings)
    return replace(made, configuration={**made.configuration, **env_configuration(request.env)})


def check_same_application_run(run: RunState, made: Mapping[str, Any] | None, wanted: ApplicationDefinition,
                               request: RunRequest) -> None:
    """Exit 5 unless the run an idempotency key found is that key's and was made as this request would make it:
    its name, env, arguments, parameters, configuration and every other field a run sets (names only for the
    maps' entries). `made`: the run's request_parts as its backend holds them (None: a run that says only its
    env and args)."""
    check_key(run, request)
    if made is None:
        refuse_another_request(run, request_differences(
            {"name": run.name, "env": dict(run.env), "args": run.args},
            {"name": request.name, "env": dict(request.env), "args": wanted.arguments}))
        return
    expected = request_parts(wanted)
    # whether the service gives a run's arguments back with their placeholders filled is not documented
    filled = request_parts(replace(wanted, arguments=tuple(_filled(wanted))))["args"]
    if made.get("args") == filled:
        expected["args"] = filled
    refuse_another_request(run, request_differences({"name": run.name, **made}, {"name": request.name, **expected}))


def _filled(app: ApplicationDefinition) -> list[str]:
    try:
        return substituted(app.arguments, app.parameters)
    except KeyError:
        return list(app.arguments)

"""`/20200129/applications` and `/20200129/runs`, with the paths and headers of `DataFlowClient`."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from typing import Any

from jobctl.testing.fake_oci import dataflow, dataflow_runs
from jobctl.testing.fake_oci.listing import choice, one_filter, paged_response, required_compartment
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services, create_once, list_then_step, read_then_step
from jobctl.testing.fake_oci.state import etag_of, select, summary
from jobctl.testing.fake_oci.wire import parse_time

BASE = "/20200129"
APPLICATION_FILTERS = ("displayName", "ownerPrincipalId", "displayNameStartsWith", "sparkVersion")
RUN_FILTERS = ("applicationId", "poolId", "ownerPrincipalId", "displayNameStartsWith", "lifecycleState",
               "timeCreatedGreaterThan", "displayName")
RUN_SORTS = ("displayName", "language", "runDurationInMilliseconds", "lifecycleState", "totalOCpu",
             "dataReadInBytes", "dataWrittenInBytes")


def create_application(services: Services, request: Request) -> Response:
    return create_once(services, request, "CreateApplication",
                       lambda body, owner: dataflow.create_application(services.store, body, owner))


def list_applications(services: Services, request: Request) -> Response:
    resources = ((record.resource, record.seq) for record in services.store.dataflow_applications.values())
    return _listed(request, resources, APPLICATION_FILTERS, ("displayName", "language"),
                   dataflow.APPLICATION_SUMMARY_FIELDS)


def get_application(services: Services, request: Request, application_id: str) -> Response:
    found = dataflow.application(services.store, application_id).resource
    return json_response(found, etag=etag_of(found))


def update_application(services: Services, request: Request, application_id: str) -> Response:
    updated = dataflow.update_application(services.store, application_id, request.json(), request.header("if-match"))
    return json_response(updated, etag=etag_of(updated))


def delete_application(services: Services, request: Request, application_id: str) -> Response:
    dataflow.delete_application(services.store, application_id, request.header("if-match"))
    return Response(204)


def create_run(services: Services, request: Request) -> Response:
    request_id = request.header("opc-request-id") or uuid.uuid4().hex.upper()
    return create_once(services, request, "CreateRun",
                       lambda body, owner: dataflow_runs.create_run(services.store, body, owner, request_id))


def list_runs(services: Services, request: Request) -> Response:
    choice(request, "lifecycleState", dataflow_runs.RUN_STATES)
    store = services.store
    resources = ((record.resource, record.seq) for record in store.dataflow_runs.values())
    response = _listed(request, resources, RUN_FILTERS, RUN_SORTS, dataflow_runs.RUN_SUMMARY_FIELDS)
    return list_then_step(services, response, lambda run_id: dataflow_runs.step(store, store.dataflow_runs[run_id]))


def get_run(services: Services, request: Request, run_id: str) -> Response:
    record = dataflow_runs.dataflow_run(services.store, run_id)
    return read_then_step(services, record.resource, lambda: dataflow_runs.step(services.store, record))


def update_run(services: Services, request: Request, run_id: str) -> Response:
    updated = dataflow_runs.update_run(services.store, run_id, request.json(), request.header("if-match"))
    return json_response(updated, etag=etag_of(updated))


def delete_run(services: Services, request: Request, run_id: str) -> Response:
    dataflow_runs.cancel_run(services.store, run_id, request.header("if-match"))
    return Response(204)


def list_run_logs(services: Services, request: Request, run_id: str) -> Response:
    """The run's logs: none until it has ended."""
    record = dataflow_runs.dataflow_run(services.store, run_id)
    return paged_response(request, [copy.deepcopy(summary) for summary, _ in record.logs.values()])


def get_run_log(services: Services, request: Request, run_id: str, name: str) -> Response:
    content = dataflow_runs.run_log(dataflow_runs.dataflow_run(services.store, run_id), name)
    return Response(200, (("content-type", "application/octet-stream"),), content)


def _listed(request: Request, resources: Iterable[tuple[dict[str, Any], int]], filters: tuple[str, ...],
            sorts: tuple[str, ...], fields: tuple[str, ...]) -> Response:
    """A page of the compartment's resources that pass the one filter given, as summaries."""
    compartment = required_compartment(request)
    chosen = one_filter(request, filters)
    if chosen is not None:
        resources = [(resource, seq) for resource, seq in resources if _matches(resource, *chosen)]
    found = select(resources, {"compartmentId": compartment}, request.param("sortBy"), request.param("sortOrder"),
                   "timeCreated", sorts=sorts)
    return paged_response(request, [summary(resource, fields) for resource in found])


def _matches(resource: dict[str, Any], name: str, value: str) -> bool:
    if name == "displayNameStartsWith":
        return str(resource.get("displayName", "")).startswith(value)
    if name == "timeCreatedGreaterThan":
        return parse_time(resource["timeCreated"], "timeCreated") > parse_time(value, name)
    return bool(resource.get(name) == value)


ROUTES = [
    Route("POST", f"{BASE}/applications", create_application),
    Route("GET", f"{BASE}/applications", list_applications),
    Route("GET", f"{BASE}/applications/{{applicationId}}", get_application),
    Route("PUT", f"{BASE}/applications/{{applicationId}}", update_application),
    Route("DELETE", f"{BASE}/applications/{{applicationId}}", delete_application),
    Route("POST", f"{BASE}/runs", create_run),
    Route("GET", f"{BASE}/runs", list_runs),
    Route("GET", f"{BASE}/runs/{{runId}}", get_run),
    Route("PUT", f"{BASE}/runs/{{runId}}", update_run),
    Route("DELETE", f"{BASE}/runs/{{runId}}", delete_run),
    Route("GET", f"{BASE}/runs/{{runId}}/logs", list_run_logs),
    Route("GET", f"{BASE}/runs/{{runId}}/logs/{{name}}", get_run_log),
]

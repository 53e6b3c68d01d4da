"""`/20190101/jobRuns`: create, read, list, update, cancel and delete job runs."""

from __future__ import annotations

from jobctl.testing.fake_oci.listing import list_response
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services, list_then_step, read_then_step
from jobctl.testing.fake_oci.state import RUN_STATES, RUN_SUMMARY_FIELDS, etag_of

BASE = "/20190101"


def create_run(services: Services, request: Request) -> Response:
    def create() -> Response:
        run = services.store.create_run(request.json(), request.principal)
        return json_response(run, etag=etag_of(run))

    return services.tokens.run("CreateJobRun", request, services.store.now(), create)


def list_runs(services: Services, request: Request) -> Response:
    resources = ((record.resource, record.seq) for record in services.store.runs.values())
    response = list_response(request, resources, states=RUN_STATES,
                             filters=("jobId", "id", "displayName", "createdBy"), time_field="timeAccepted",
                             fields=RUN_SUMMARY_FIELDS)
    return list_then_step(services, response, services.store.step)


def get_run(services: Services, request: Request, run_id: str) -> Response:
    return read_then_step(services, services.store.run(run_id).resource, lambda: services.store.step(run_id))


def update_run(services: Services, request: Request, run_id: str) -> Response:
    run = services.store.update_run(run_id, request.json(), request.header("if-match"))
    return json_response(run, etag=etag_of(run))


def cancel_run(services: Services, request: Request, run_id: str) -> Response:
    services.store.cancel_run(run_id, request.header("if-match"))
    return Response(202)


def delete_run(services: Services, request: Request, run_id: str) -> Response:
    services.store.delete_run(run_id, request.header("if-match"))
    return Response(204)


ROUTES = [
    Route("POST", f"{BASE}/jobRuns", create_run),
    Route("GET", f"{BASE}/jobRuns", list_runs),
    Route("GET", f"{BASE}/jobRuns/{{jobRunId}}", get_run),
    Route("PUT", f"{BASE}/jobRuns/{{jobRunId}}", update_run),
    Route("DELETE", f"{BASE}/jobRuns/{{jobRunId}}", delete_run),
    Route("POST", f"{BASE}/jobRuns/{{jobRunId}}/actions/cancelJobRun", cancel_run),
]

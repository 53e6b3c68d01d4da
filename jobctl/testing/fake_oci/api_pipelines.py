"""`/20190101/pipelines` and `/20190101/pipelineRuns`, with the paths and headers of `DataScienceClient`."""

from __future__ import annotations

import copy

from jobctl.testing.fake_oci import pipeline_runs, pipeline_scheduler, pipelines
from jobctl.testing.fake_oci.listing import list_response
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services, create_once, list_then_step, read_then_step
from jobctl.testing.fake_oci.state import etag_of

BASE = "/20190101"


def create_pipeline(services: Services, request: Request) -> Response:
    return create_once(services, request, "CreatePipeline",
                    lambda body, principal: pipelines.create_pipeline(services.store, body, principal))


def list_pipelines(services: Services, request: Request) -> Response:
    resources = ((record.resource, record.seq) for record in services.store.pipelines.values())
    return list_response(request, resources, states=pipelines.PIPELINE_STATES,
                         filters=("projectId", "id", "displayName", "createdBy"), time_field="timeCreated",
                         fields=pipelines.PIPELINE_SUMMARY_FIELDS)


def get_pipeline(services: Services, request: Request, pipeline_id: str) -> Response:
    """The pipeline as it is now; with auto_progress it then moves on (CREATING -> ACTIVE, or its delete)."""
    found = copy.deepcopy(pipelines.pipeline(services.store, pipeline_id).resource)
    if services.settings.auto_progress:
        pipelines.activate(services.store, pipeline_id)
        services.store.step_work_requests(pipeline_id)
    return json_response(found, etag=etag_of(found))


def update_pipeline(services: Services, request: Request, pipeline_id: str) -> Response:
    updated = pipelines.update_pipeline(services.store, pipeline_id, request.json(), request.header("if-match"))
    return json_response(updated, etag=etag_of(updated))


def delete_pipeline(services: Services, request: Request, pipeline_id: str) -> Response:
    work_request_id = pipelines.delete_pipeline(
        services.store, pipeline_id, request.header("if-match"), delete_runs=request.flag("deleteRelatedPipelineRuns"),
        delete_job_runs=request.flag("deleteRelatedJobRuns"))
    return Response(202, (("opc-work-request-id", work_request_id),))


def create_run(services: Services, request: Request) -> Response:
    return create_once(services, request, "CreatePipelineRun",
                    lambda body, principal: pipeline_runs.create_pipeline_run(services.store, body, principal))


def list_runs(services: Services, request: Request) -> Response:
    resources = ((record.resource, record.seq) for record in services.store.pipeline_runs.values())
    response = list_response(request, resources, states=pipeline_runs.RUN_STATES,
                             filters=("pipelineId", "id", "displayName", "createdBy"), time_field="timeAccepted",
                             fields=pipeline_runs.PIPELINE_RUN_SUMMARY_FIELDS, time_sort="timeAccepted")
    runs = services.store.pipeline_runs
    return list_then_step(services, response, lambda run_id: pipeline_scheduler.tick(services.store, runs[run_id]))


def get_run(services: Services, request: Request, run_id: str) -> Response:
    record = pipeline_runs.pipeline_run(services.store, run_id)
    return read_then_step(services, record.resource, lambda: pipeline_scheduler.tick(services.store, record))


def update_run(services: Services, request: Request, run_id: str) -> Response:
    updated = pipeline_runs.update_pipeline_run(services.store, run_id, request.json(), request.header("if-match"))
    return json_response(updated, etag=etag_of(updated))


def cancel_run(services: Services, request: Request, run_id: str) -> Response:
    def cancel() -> Response:
        pipeline_runs.cancel_pipeline_run(services.store, run_id, request.header("if-match"),
                                          graceful=request.flag("terminateGracefully"))
        return Response(202)

    return services.tokens.run("CancelPipelineRun", request, services.store.now(), cancel)


def delete_run(services: Services, request: Request, run_id: str) -> Response:
    pipeline_runs.delete_pipeline_run(services.store, run_id, request.header("if-match"),
                                      delete_job_runs=request.flag("deleteRelatedJobRuns"))
    return Response(204)


ROUTES = [
    Route("POST", f"{BASE}/pipelines", create_pipeline),
    Route("GET", f"{BASE}/pipelines", list_pipelines),
    Route("GET", f"{BASE}/pipelines/{{pipelineId}}", get_pipeline),
    Route("PUT", f"{BASE}/pipelines/{{pipelineId}}", update_pipeline),
    Route("DELETE", f"{BASE}/pipelines/{{pipelineId}}", delete_pipeline),
    Route("POST", f"{BASE}/pipelineRuns", create_run),
    Route("GET", f"{BASE}/pipelineRuns", list_runs),
    Route("GET", f"{BASE}/pipelineRuns/{{pipelineRunId}}", get_run),
    Route("PUT", f"{BASE}/pipelineRuns/{{pipelineRunId}}", update_run),
    Route("DELETE", f"{BASE}/pipelineRuns/{{pipelineRunId}}", delete_run),
    Route("POST", f"{BASE}/pipelineRuns/{{pipelineRunId}}/actions/cancelPipelineRun", cancel_run),
]

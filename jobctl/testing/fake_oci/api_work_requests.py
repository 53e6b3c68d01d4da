"""`/20190101/workRequests`: the Data Science work requests a DeleteJob answers with (see `workrequests`)."""

from __future__ import annotations

import copy

from jobctl.testing.fake_oci.listing import choice, paged_response, required_compartment
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services
from jobctl.testing.fake_oci.workrequests import STATUSES, WorkRequestRecord

BASE = "/20190101/workRequests"
SORT_FIELDS = ("timeAccepted", "operationType", "status")


def get_work_request(services: Services, request: Request, work_request_id: str) -> Response:
    """The work request as it is now; with auto_progress it then moves one step, so polls see every status."""
    work_request = copy.deepcopy(services.store.work_requests.get(work_request_id).resource)
    if services.settings.auto_progress:
        services.store.step_work_request(work_request_id)
    return json_response(work_request)


def list_work_requests(services: Services, request: Request) -> Response:
    compartment = required_compartment(request)
    status = choice(request, "status", STATUSES)
    sort_by = choice(request, "sortBy", SORT_FIELDS) or "timeAccepted"
    order = choice(request, "sortOrder", ("ASC", "DESC")) or ("DESC" if sort_by == "timeAccepted" else "ASC")
    wanted = {"compartmentId": compartment, "id": request.param("id"), "status": status,
              "operationType": request.param("operationType")}
    resource_id = request.param("resourceId")
    chosen = [record for record in services.store.work_requests.records.values()
              if all(value is None or record.resource.get(key) == value for key, value in wanted.items())
              and resource_id in (None, record.target)]
    chosen.sort(key=lambda record: (record.resource[sort_by], record.seq), reverse=order == "DESC")
    return paged_response(request, [record.resource for record in chosen])


def list_errors(services: Services, request: Request, work_request_id: str) -> Response:
    """WorkRequestError items: none, as the fake's work requests always succeed."""
    services.store.work_requests.get(work_request_id)
    return paged_response(request, [])


def list_logs(services: Services, request: Request, work_request_id: str) -> Response:
    """WorkRequestLogEntry items ({message, timestamp}), one per step the work request took."""
    record: WorkRequestRecord = services.store.work_requests.get(work_request_id)
    return paged_response(request, record.logs)


ROUTES = [
    Route("GET", BASE, list_work_requests),
    Route("GET", f"{BASE}/{{workRequestId}}", get_work_request),
    Route("GET", f"{BASE}/{{workRequestId}}/errors", list_errors),
    Route("GET", f"{BASE}/{{workRequestId}}/logs", list_logs),
]

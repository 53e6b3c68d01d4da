"""`/20190909/search`: Logging Search over the records of job runs (see `logsearch`)."""

from __future__ import annotations

from jobctl.testing.fake_oci import schema
from jobctl.testing.fake_oci.errors import not_found
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services
from jobctl.testing.fake_oci.wire import format_time


def search_logs(services: Services, request: Request) -> Response:
    details = request.json()
    schema.SEARCH_LOGS.check(details, "")
    store = services.store
    body, next_page = store.logs.search(details, request.param("limit"), request.param("page"), store.now())
    return json_response(body, headers=(("opc-next-page", next_page),) if next_page else ())


def get_log_group(services: Services, request: Request, log_group_id: str) -> Response:
    """Logging management's GetLogGroup: what jobctl needs of a log group is its compartment."""
    if not log_group_id.startswith("ocid1.loggroup."):
        raise not_found("LogGroup", log_group_id)
    store = services.store
    return json_response({
        "id": log_group_id, "compartmentId": store.log_group_compartment(log_group_id),
        "displayName": "job-logs", "lifecycleState": "ACTIVE", "timeCreated": format_time(0.0),
        "timeLastModified": format_time(0.0), "freeformTags": {}, "definedTags": {},
    })


ROUTES = [Route("POST", "/20190909/search", search_logs),
          Route("GET", "/20200531/logGroups/{logGroupId}", get_log_group)]

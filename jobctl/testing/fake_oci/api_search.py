"""`/20190909/search`: Logging Search over the records of job runs (see `logsearch`)."""

from __future__ import annotations

from jobctl.testing.fake_oci import schema
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services


def search_logs(services: Services, request: Request) -> Response:
    details = request.json()
    schema.SEARCH_LOGS.check(details, "")
    store = services.store
    body, next_page = store.logs.search(details, request.param("limit"), request.param("page"), store.now())
    return json_response(body, headers=(("opc-next-page", next_page),) if next_page else ())


ROUTES = [Route("POST", "/20190909/search", search_logs)]

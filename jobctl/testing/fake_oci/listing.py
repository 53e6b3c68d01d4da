"""The shape every OCI list call shares: required compartment, one lifecycle state, filters, sort, pages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jobctl.testing.fake_oci.errors import invalid, missing
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.state import select, summary
from jobctl.testing.fake_oci.wire import page_window

MAX_PAGE = 100


def list_response(request: Request, resources: Iterable[tuple[dict[str, Any], int]], *, states: tuple[str, ...],
                  filters: tuple[str, ...], time_field: str, fields: tuple[str, ...]) -> Response:
    compartment = request.param("compartmentId")
    if not compartment:
        raise missing("compartmentId is required")
    state = request.param("lifecycleState")
    if state is not None and state not in states:
        raise invalid(f"lifecycleState must be one of {', '.join(states)}")
    wanted = {name: request.param(name) for name in filters}
    chosen = select(resources, {**wanted, "compartmentId": compartment, "lifecycleState": state},
                    request.param("sortBy"), request.param("sortOrder"), time_field)
    start, stop, next_page = page_window(len(chosen), request.param("limit"), request.param("page"), MAX_PAGE)
    headers = (("opc-next-page", next_page),) if next_page else ()
    return json_response([summary(item, fields) for item in chosen[start:stop]], headers=headers)

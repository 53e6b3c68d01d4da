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
                  filters: tuple[str, ...], time_field: str, fields: tuple[str, ...],
                  time_sort: str = "timeCreated") -> Response:
    compartment = required_compartment(request)
    state = choice(request, "lifecycleState", states)
    wanted = {name: request.param(name) for name in filters}
    chosen = select(resources, {**wanted, "compartmentId": compartment, "lifecycleState": state},
                    request.param("sortBy"), request.param("sortOrder"), time_field, time_sort=time_sort)
    return paged_response(request, [summary(item, fields) for item in chosen])


def required_compartment(request: Request) -> str:
    compartment = request.param("compartmentId")
    if not compartment:
        raise missing("compartmentId is required")
    return compartment


def choice(request: Request, name: str, allowed: tuple[str, ...]) -> str | None:
    """The query parameter `name`, which must be one of `allowed` when given."""
    value = request.param(name)
    if value is not None and value not in allowed:
        raise invalid(f"{name} must be one of {', '.join(allowed)}")
    return value


def paged_response(request: Request, items: list[Any]) -> Response:
    """One page of `items` (`limit` 1-100, default 100) with an opaque `opc-next-page` when more follow."""
    start, stop, next_page = page_window(len(items), request.param("limit"), request.param("page"), MAX_PAGE)
    headers = (("opc-next-page", next_page),) if next_page else ()
    return json_response(items[start:stop], headers=headers)


def one_filter(request: Request, names: tuple[str, ...]) -> tuple[str, str] | None:
    """The single filter (name, value) of a list that takes at most one besides compartmentId, as Data Flow's
    ListApplications and ListRuns do; two or more are 400."""
    given = [(name, value) for name in names if (value := request.param(name)) is not None]
    if len(given) > 1:
        raise invalid(f"only one parameter other than compartmentId may be given; got {', '.join(n for n, _ in given)}")
    return given[0] if given else None

"""What finding a File Storage mount by IP address and export path reads (jobctl/backends/oci/mounts.py):
File Storage's GetMountTarget and ListExports, Networking's GetPrivateIp, and Resource Search's free-text
search over those three kinds of resource. Tests put mount targets in with `FakeOCI.add_mount_target`.

Free-text search is fuzzy on OCI; here a resource matches when the text occurs, in any case, within one of
its attribute values (so 10.0.0.1 finds 10.0.0.10 too), which is a loose match a caller must confirm, as
on OCI. Structured queries are not served (400).
"""

from __future__ import annotations

from typing import Any

from jobctl.testing.fake_oci.errors import invalid, missing, not_found
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services
from jobctl.testing.fake_oci.wire import page_window

MAX_PAGE = 1000  # ListExports and SearchResources: limit 1-1000
_KINDS = (("MountTarget", "mount_targets"), ("PrivateIp", "private_ips"), ("Export", "exports"))


def get_mount_target(services: Services, request: Request, mount_target_id: str) -> Response:
    return json_response(_get(services, "mount_targets", "MountTarget", mount_target_id))


def get_private_ip(services: Services, request: Request, private_ip_id: str) -> Response:
    return json_response(_get(services, "private_ips", "PrivateIp", private_ip_id))


def _get(services: Services, table: str, kind: str, resource_id: str) -> dict[str, Any]:
    found: dict[str, Any] | None = getattr(services.store, table).get(resource_id)
    if found is None:
        raise not_found(kind, resource_id)
    return found


def list_exports(services: Services, request: Request) -> Response:
    """By compartment, export set and/or file system: at least one of them (ListExports)."""
    scope = {name: request.param(name) for name in ("compartmentId", "exportSetId", "fileSystemId")}
    if not any(scope.values()):
        raise missing("one of compartmentId, exportSetId and fileSystemId is required")
    state = request.param("lifecycleState")
    exports = [e for e in services.store.exports.values()
               if all(e[k] == v for k, v in scope.items() if v) and state in (None, e["lifecycleState"])]
    summaries = [{k: e[k] for k in ("exportSetId", "fileSystemId", "id", "lifecycleState", "path", "timeCreated")}
                 for e in exports]
    return _page(request, summaries, lambda items: items)


def search_resources(services: Services, request: Request) -> Response:
    details = request.json()
    if not isinstance(details, dict) or details.get("type") not in ("FreeText", "Structured"):
        raise invalid("type must be FreeText or Structured")
    if details["type"] == "Structured":
        raise invalid("the fake serves free-text search only")
    text = details.get("text")
    if not isinstance(text, str) or not text:
        raise missing("text is required")
    wanted = text.lower()
    found = [_summary(kind, resource) for kind, table in _KINDS
             for resource in getattr(services.store, table).values() if _mentions(resource, wanted)]
    return _page(request, found, lambda items: {"items": items})


def _mentions(value: Any, text: str) -> bool:
    if isinstance(value, dict):
        return any(_mentions(item, text) for item in value.values())
    if isinstance(value, list):
        return any(_mentions(item, text) for item in value)
    return isinstance(value, str) and text in value.lower()


def _summary(kind: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": kind, "identifier": resource["id"], "compartmentId": resource["compartmentId"],
            "timeCreated": resource["timeCreated"], "displayName": resource.get("displayName"),
            "lifecycleState": resource.get("lifecycleState"), "freeformTags": {}, "definedTags": {}}


def _page(request: Request, items: list[Any], wrap: Any) -> Response:
    start, stop, next_page = page_window(len(items), request.param("limit"), request.param("page"), MAX_PAGE, 100)
    return json_response(wrap(items[start:stop]), headers=(("opc-next-page", next_page),) if next_page else ())


ROUTES = [Route("GET", "/20171215/mountTargets/{mountTargetId}", get_mount_target),
          Route("GET", "/20171215/exports", list_exports),
          Route("GET", "/20160918/privateIps/{privateIpId}", get_private_ip),
          Route("POST", "/20180409/resources", search_resources)]

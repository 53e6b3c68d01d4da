"""The route table's building blocks: what a handler receives and how paths map to handlers."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jobctl.testing.fake_oci.errors import ApiError
from jobctl.testing.fake_oci.messages import Request, Response, RetryTokens, json_response
from jobctl.testing.fake_oci.state import Store, etag_of


@dataclass
class Settings:
    """Switches a test may flip while the fake runs."""

    auto_progress: bool = True


@dataclass(frozen=True)
class Services:
    store: Store
    tokens: RetryTokens
    settings: Settings


Handler = Callable[..., Response]


def create_once(services: Services, request: Request, operation: str,
                create: Callable[[Any, str], dict[str, Any]]) -> Response:
    """The resource `create(body, principal)` makes (with its etag), once per opc-retry-token."""
    def respond() -> Response:
        created = create(request.json(), request.principal)
        return json_response(created, etag=etag_of(created))

    return services.tokens.run(operation, request, services.store.now(), respond)


def read_then_step(services: Services, resource: dict[str, Any], step: Callable[[], object]) -> Response:
    """A run as it is now (with its etag); with auto_progress it then moves a step, so polls see every state."""
    found = copy.deepcopy(resource)
    if services.settings.auto_progress:
        step()
    return json_response(found, etag=etag_of(found))


def list_then_step(services: Services, response: Response, step: Callable[[str], object]) -> Response:
    """A list of runs as they are now; with auto_progress each listed one then moves a step, as after a GET, so
    a client that polls by listing sees every state too."""
    if services.settings.auto_progress:
        for listed in json.loads(response.body):
            step(listed["id"])
    return response


@dataclass(frozen=True)
class Route:
    """`template` uses `{name}` for one path segment, e.g. `/20190101/jobs/{jobId}/artifact`.

    `streamed_body` marks uploads the SDK signs without the body headers (x-content-sha256 etc.).
    """

    method: str
    template: str
    handler: Handler
    streamed_body: bool = False

    @property
    def pattern(self) -> re.Pattern[str]:
        """`{name}` matches one path segment; `{name*}` the rest of the path (object names with '/')."""
        escaped = re.sub(r"\\{\w+\\\*\\}", "(.+)", re.escape(self.template))
        return re.compile(re.sub(r"\\{\w+\\}", "([^/]+)", escaped) + "$")


class Router:
    def __init__(self, routes: Sequence[Route]) -> None:
        self.routes = [(route, route.pattern) for route in routes]

    def match(self, method: str, path: str) -> tuple[Route, tuple[str, ...]]:
        allowed = []
        for route, pattern in self.routes:
            found = pattern.match(path)
            if found and route.method == method:
                return route, found.groups()
            if found:
                allowed.append(route.method)
        if allowed:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {path}; use {', '.join(allowed)}")
        raise ApiError(404, "NotFound", f"no operation for {method} {path}")

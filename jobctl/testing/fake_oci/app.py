"""The WSGI application: faults, signature check, routing, error rendering and the request journal."""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from jobctl.testing.fake_oci import (
    api_buckets,
    api_dataflow,
    api_jobs,
    api_mounts,
    api_objects,
    api_pipelines,
    api_runs,
    api_search,
    api_secrets,
    api_work_requests,
)
from jobctl.testing.fake_oci.errors import ApiError, invalid, limit_exceeded, missing
from jobctl.testing.fake_oci.faults import FaultInjector
from jobctl.testing.fake_oci.messages import Request, Response, error_response
from jobctl.testing.fake_oci.routing import Route, Router, Services
from jobctl.testing.fake_oci.signing import KeyRing

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ANONYMOUS_USER = "ocid1.user.oc1..anonymous"
ROUTER = Router([*api_jobs.ROUTES, *api_runs.ROUTES, *api_work_requests.ROUTES, *api_search.ROUTES,
                 *api_buckets.ROUTES, *api_objects.ROUTES, *api_secrets.ROUTES,
                 *api_mounts.ROUTES, *api_pipelines.ROUTES, *api_dataflow.ROUTES])


class DropConnection(Exception):
    """Raised by the app to close the connection without sending any response."""


@dataclass(frozen=True)
class RequestRecord:
    """One request the fake answered: `status` is None when the connection was dropped on purpose."""

    method: str
    path: str
    query: Mapping[str, str]
    status: int | None
    retry_token: str | None


class Journal:
    """The most recent requests, in arrival order, for tests and benchmarks that count calls."""

    def __init__(self, max_entries: int) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=max_entries)
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()


class InFlight:
    """How many requests the app is handling right now, and the most it handled at once (`peak`).

    A request counts from the moment the app receives it (before any injected latency) until its
    response is ready to be written, so a client that waits for each response before sending its
    next request on that connection never counts twice.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = 0
        self._peak = 0

    def __enter__(self) -> None:
        with self._lock:
            self._current += 1
            self._peak = max(self._peak, self._current)

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._current -= 1

    @property
    def current(self) -> int:
        with self._lock:
            return self._current

    @property
    def peak(self) -> int:
        with self._lock:
            return self._peak

    def reset(self) -> None:
        """Start a new measurement: the peak becomes the number in flight now."""
        with self._lock:
            self._peak = self._current


class FakeApp:
    def __init__(self, services: Services, keys: KeyRing, faults: FaultInjector, journal: Journal) -> None:
        self.services = services
        self.keys = keys
        self.faults = faults
        self.journal = journal
        self.in_flight = InFlight()
        self.verify_signatures = True

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        with self.in_flight:
            return self._call(environ, start_response)

    def _call(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ["REQUEST_METHOD"]).upper()
        raw_target = str(environ.get("REQUEST_URI") or _target_from(environ))
        raw_path, _, raw_query = raw_target.partition("?")
        path = unquote(raw_path)
        query = {name: values[0] for name, values in parse_qs(raw_query, keep_blank_values=True).items()}
        headers = _headers(environ)
        record = RequestRecord(method, path, query, None, headers.get("opc-retry-token"))
        try:
            response = self._respond(environ, method, path, raw_target, headers)
        except DropConnection:
            self.journal.add(record)
            raise
        response = response.with_header("opc-request-id", headers.get("opc-request-id") or uuid.uuid4().hex.upper())
        names = {name.lower() for name, _ in response.headers}
        if "content-type" not in names:
            response = response.with_header("content-type", "application/json")
        if "content-length" not in names:
            response = response.with_header("content-length", str(len(response.body)))
        self.journal.add(RequestRecord(method, path, query, response.status, record.retry_token))
        start_response(_status_line(response.status), list(response.headers))
        return [b""] if method == "HEAD" else [response.body]

    def _respond(self, environ: WSGIEnvironment, method: str, path: str, raw_target: str,
                 headers: dict[str, str]) -> Response:
        fault = self.faults.decide(method, path)
        if fault.latency:
            time.sleep(fault.latency)
        if fault.drop and not fault.after:
            raise DropConnection
        if fault.status is not None and not fault.after:
            return error_response(fault.error())
        response = self._handle(environ, method, path, raw_target, headers)
        if fault.drop:
            raise DropConnection
        if fault.status is not None:
            return error_response(fault.error())
        return response

    def _handle(self, environ: WSGIEnvironment, method: str, path: str, raw_target: str,
                headers: dict[str, str]) -> Response:
        try:
            route, params = ROUTER.match(method, path)
            body = self._read_body(environ, headers, route)
            principal = self._authenticate(method, raw_target, headers, body, route)
            query = parse_qs(raw_target.partition("?")[2], keep_blank_values=True)
            request = Request(method, path, raw_target, query, headers, body, principal)
            with self.services.store.lock:
                return route.handler(self.services, request, *params)
        except ApiError as error:
            return error_response(error)
        except Exception:  # a bug in the fake or in a test's workload: answer 500 and show the traceback
            traceback.print_exc()
            return error_response(ApiError(500, "InternalServerError", "the fake failed; see its stderr"))

    def _read_body(self, environ: WSGIEnvironment, headers: Mapping[str, str], route: Route) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise missing("content-length is required; the fake does not accept chunked bodies")
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError as error:
            raise invalid("content-length must be an integer") from error
        limits = self.services.store.limits
        most = limits.max_artifact_bytes if route.streamed_body else limits.max_body_bytes
        if length > most:
            raise limit_exceeded(f"request body is larger than {most} bytes")
        return bytes(environ["wsgi.input"].read(length)) if length > 0 else b""

    def _authenticate(self, method: str, raw_target: str, headers: Mapping[str, str], body: bytes,
                      route: Route) -> str:
        if not self.verify_signatures:
            return ANONYMOUS_USER
        sign_body = method in ("POST", "PUT", "PATCH") and not route.streamed_body
        return self.keys.verify(method, raw_target, headers, body, sign_body=sign_body, now=time.time())


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    """Request headers with lower-case names; the raw ones when our request handler provided them."""
    raw: Any = environ.get("fake_oci.headers")
    if raw is not None:
        merged: dict[str, str] = {}
        for name, value in raw:
            key = str(name).lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else str(value)
        return merged
    headers = {key[5:].replace("_", "-").lower(): str(value) for key, value in environ.items()
               if key.startswith("HTTP_")}
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        if environ.get(key):
            headers[name] = str(environ[key])
    return headers


def _target_from(environ: WSGIEnvironment) -> str:
    query = environ.get("QUERY_STRING")
    return str(environ.get("PATH_INFO", "/")) + (f"?{query}" if query else "")


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"

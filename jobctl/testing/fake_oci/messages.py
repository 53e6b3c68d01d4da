"""Requests and responses as plain values, and `opc-retry-token` replay of successful creates."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jobctl.testing.fake_oci.errors import ApiError, conflict, invalid
from jobctl.testing.fake_oci.wire import to_json

RETRY_TOKEN_TTL_SECONDS = 24 * 3600
MAX_RETRY_TOKEN_LENGTH = 64


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    raw_target: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    principal: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def flag(self, name: str) -> bool:
        value = self.param(name)
        if value in (None, "false"):
            return False
        if value == "true":
            return True
        raise invalid(f"{name} must be true or false, got {value!r}")

    def json(self) -> Any:
        try:
            value = json.loads(self.body or b"null")
            # a \uDCxx escape with no pair is no Unicode text (what Python's SDK sends for a byte that was no UTF-8):
            # refused before anything is made of it, not a 500 after the resource was created (docs/oci-fidelity.md)
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as error:
            raise ApiError(400, "CannotParseRequest", "request body holds text that is not Unicode (an unpaired "
                                                      "surrogate escape)") from error
        except (UnicodeDecodeError, ValueError) as error:
            raise ApiError(400, "CannotParseRequest", f"request body is not valid JSON: {error}") from error
        return value


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def with_header(self, name: str, value: str) -> Response:
        kept = tuple((k, v) for k, v in self.headers if k.lower() != name.lower())
        return Response(self.status, (*kept, (name, value)), self.body)


def json_response(value: Any, status: int = 200, etag: str | None = None,
                  headers: tuple[tuple[str, str], ...] = ()) -> Response:
    extra = (("etag", etag),) if etag else ()
    return Response(status, (("content-type", "application/json"), *extra, *headers), to_json(value))


def error_response(error: ApiError) -> Response:
    return json_response({"code": error.code, "message": error.message}, status=error.status)


@dataclass(frozen=True)
class _Remembered:
    fingerprint: str
    response: Response
    expires: float


class RetryTokens:
    """Replays the first successful response for a (operation, opc-retry-token) pair within 24 hours."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.entries: OrderedDict[tuple[str, str], _Remembered] = OrderedDict()

    def run(self, operation: str, request: Request, now: float, handler: Callable[[], Response]) -> Response:
        token = request.header("opc-retry-token")
        if token is None:
            return handler()
        if not 1 <= len(token) <= MAX_RETRY_TOKEN_LENGTH:
            raise invalid(f"opc-retry-token must be 1 to {MAX_RETRY_TOKEN_LENGTH} characters")
        key = (operation, token)
        fingerprint = hashlib.sha256(request.path.encode() + b"\n" + request.body).hexdigest()
        remembered = self.entries.get(key)
        if remembered is not None and remembered.expires <= now:
            del self.entries[key]
            remembered = None
        if remembered is not None:
            if remembered.fingerprint != fingerprint:
                raise conflict("opc-retry-token was already used for a different request")
            return remembered.response
        response = handler()
        if 200 <= response.status < 300:
            self.entries[key] = _Remembered(fingerprint, response, now + RETRY_TOKEN_TTL_SECONDS)
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
        return response

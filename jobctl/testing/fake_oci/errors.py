"""Errors in OCI's wire shape: an HTTP status plus `{"code": ..., "message": ...}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")

DEFAULT_CODES: dict[int, str] = {
    400: "InvalidParameter",
    401: "NotAuthenticated",
    404: "NotAuthorizedOrNotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    412: "PreconditionFailed",
    429: "TooManyRequests",
    500: "InternalServerError",
    501: "MethodNotImplemented",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


class ApiError(Exception):
    """An error response; raised anywhere below the WSGI app and rendered once by it."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidParameter", message)


def missing(message: str) -> ApiError:
    return ApiError(400, "MissingParameter", message)


def not_found(kind: str, resource_id: str) -> ApiError:
    return ApiError(404, "NotAuthorizedOrNotFound", f"{kind} {resource_id} not found or not authorized")


def existing(records: Mapping[str, T], kind: str, resource_id: str) -> T:
    """The record of `resource_id`, or 404 naming `kind` (e.g. "Pipeline")."""
    record = records.get(resource_id)
    if record is None:
        raise not_found(kind, resource_id)
    return record


def conflict(message: str) -> ApiError:
    return ApiError(409, "Conflict", message)


def incorrect_state(message: str) -> ApiError:
    return ApiError(409, "IncorrectState", message)


def limit_exceeded(message: str) -> ApiError:
    return ApiError(400, "LimitExceeded", message)


def code_for(status: int) -> str:
    """The error code OCI uses for a bare status, e.g. 429 -> TooManyRequests."""
    if status in DEFAULT_CODES:
        return DEFAULT_CODES[status]
    return "InternalServerError" if status >= 500 else "InvalidParameter"

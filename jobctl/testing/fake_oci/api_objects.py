"""Object Storage objects: put/get/head/delete and ListObjects (prefix, delimiter, start, end, fields).

Objects live in buckets that exist (`api_buckets`); any other bucket is 404 BucketNotFound. Object names
may contain '/': the SDK does not encode it in path parameters, so the route takes the rest of the path.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
from dataclasses import dataclass
from typing import Any

from jobctl.testing.fake_oci.api_buckets import bucket_of
from jobctl.testing.fake_oci.errors import ApiError, invalid
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services
from jobctl.testing.fake_oci.state import Store
from jobctl.testing.fake_oci.wire import format_time

MAX_OBJECT_BYTES = 64 * 1024 * 1024
MAX_LIST = 1000
SUMMARY_FIELDS = ("name", "size", "etag", "md5", "timeCreated", "timeModified", "storageTier", "archivalState")


@dataclass(frozen=True)
class StoredObject:
    content: bytes
    content_type: str
    etag: str
    md5: str
    time: float


def _key(namespace: str, bucket: str, name: str) -> tuple[str, str, str]:
    return namespace, bucket, name


def _headers(item: StoredObject) -> tuple[tuple[str, str], ...]:
    return (
        ("etag", item.etag), ("opc-content-md5", item.md5), ("content-type", item.content_type),
        ("last-modified", email.utils.formatdate(item.time, usegmt=True)),
    )


def _check_preconditions(existing: StoredObject | None, if_match: str | None, if_none_match: str | None) -> None:
    """PutObject's conditions: `if-none-match: *` creates only, `if-match: <etag>` replaces only that version."""
    if if_none_match is not None and if_none_match != "*":
        raise invalid("if-none-match may only be '*'")
    if if_none_match == "*" and existing is not None:
        raise ApiError(412, "IfNoneMatchFailed", "The object already exists and if-none-match is '*'")
    if if_match is not None and (existing is None or if_match != existing.etag):
        raise ApiError(412, "IfMatchFailed", f"The if-match etag {if_match!r} does not match the object's")


def put_object(services: Services, request: Request, namespace: str, bucket: str, name: str) -> Response:
    store = services.store
    bucket_of(store, namespace, bucket)
    if len(request.body) > MAX_OBJECT_BYTES:
        raise ApiError(413, "RequestEntityTooLarge", "object larger than the fake's 64 MiB limit")
    _check_preconditions(store.objects.get(_key(namespace, bucket, name)), request.header("if-match"),
                         request.header("if-none-match"))
    item = store_object(store, namespace, bucket, name, request.body,
                        content_type=request.header("content-type") or "application/octet-stream")
    return Response(200, (("etag", item.etag), ("opc-content-md5", item.md5),
                          ("last-modified", email.utils.formatdate(item.time, usegmt=True))))


def store_object(store: Store, namespace: str, bucket: str, name: str, body: bytes, *,
                 content_type: str) -> StoredObject:
    """Keep an object as PutObject does (the bucket must exist: 404 BucketNotFound)."""
    bucket_of(store, namespace, bucket)
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    item = StoredObject(body, content_type, hashlib.sha256(body).hexdigest()[:32], md5, store.now())
    store.objects[_key(namespace, bucket, name)] = item
    return item


def _get(store: Store, namespace: str, bucket: str, name: str) -> StoredObject:
    bucket_of(store, namespace, bucket)
    item: StoredObject | None = store.objects.get(_key(namespace, bucket, name))
    if item is None:
        raise ApiError(404, "ObjectNotFound", f"The object '{name}' was not found in the bucket '{bucket}'")
    return item


def get_object(services: Services, request: Request, namespace: str, bucket: str, name: str) -> Response:
    item = _get(services.store, namespace, bucket, name)
    return Response(200, (*_headers(item), ("content-length", str(len(item.content)))), item.content)


def head_object(services: Services, request: Request, namespace: str, bucket: str, name: str) -> Response:
    item = _get(services.store, namespace, bucket, name)
    return Response(200, (*_headers(item), ("content-length", str(len(item.content)))))


def delete_object(services: Services, request: Request, namespace: str, bucket: str, name: str) -> Response:
    _get(services.store, namespace, bucket, name)
    del services.store.objects[_key(namespace, bucket, name)]
    return Response(204)


def list_objects(services: Services, request: Request, namespace: str, bucket: str) -> Response:
    """ListObjects: names in order from `start`/after `startAfter` to before `end`, under `prefix`.

    With `delimiter=/` a name with a '/' after the prefix is not listed; its part up to that '/' is, once,
    in `prefixes`. An object and a prefix each count once against `limit`; `nextStartWith` is where the
    next page starts. Summaries hold `name` plus what `fields` asks for.
    """
    store = services.store
    bucket_of(store, namespace, bucket)
    prefix, delimiter = request.param("prefix") or "", request.param("delimiter")
    if delimiter not in (None, "/"):
        raise invalid("only '/' is supported as a delimiter")
    limit = _limit(request.param("limit"))
    fields = _fields(request.param("fields"))
    start, start_after, end = request.param("start"), request.param("startAfter"), request.param("end")
    names = sorted(n for ns, b, n in store.objects if (ns, b) == (namespace, bucket) and n.startswith(prefix)
                   and (start is None or n >= start) and (start_after is None or n > start_after)
                   and (end is None or n < end))
    objects: list[dict[str, Any]] = []
    prefixes: list[str] = []
    for name in names:
        cut = name.find("/", len(prefix)) if delimiter else -1
        common = name[: cut + 1] if cut >= 0 else None
        if common is not None and prefixes and prefixes[-1] == common:
            continue  # names under one prefix are adjacent in sorted order
        if len(objects) + len(prefixes) == limit:
            return _listing(objects, prefixes if delimiter else None, name)
        if common is not None:
            prefixes.append(common)
        else:
            objects.append(_summary(name, store.objects[_key(namespace, bucket, name)], fields))
    return _listing(objects, prefixes if delimiter else None, None)


def _listing(objects: list[dict[str, Any]], prefixes: list[str] | None, next_start: str | None) -> Response:
    body: dict[str, Any] = {"objects": objects}
    if prefixes is not None:
        body["prefixes"] = prefixes
    if next_start is not None:
        body["nextStartWith"] = next_start
    return json_response(body)


def _limit(text: str | None) -> int:
    try:
        limit = int(text) if text is not None else MAX_LIST
    except ValueError as error:
        raise invalid(f"limit must be an integer, got {text!r}") from error
    if not 1 <= limit <= MAX_LIST:
        raise invalid(f"limit must be between 1 and {MAX_LIST}")
    return limit


def _fields(text: str | None) -> set[str]:
    """The ObjectSummary fields asked for (case-insensitive); `name` always."""
    by_lower = {f.lower(): f for f in SUMMARY_FIELDS}
    asked = [f.strip().lower() for f in (text or "name").split(",") if f.strip()]
    unknown = sorted(f for f in asked if f not in by_lower)
    if unknown:
        raise invalid(f"fields may be {', '.join(SUMMARY_FIELDS)}; not {', '.join(unknown)}")
    return {"name", *(by_lower[f] for f in asked)}


def _summary(name: str, item: StoredObject, fields: set[str]) -> dict[str, Any]:
    stamp = format_time(item.time)
    values = {"name": name, "size": len(item.content), "etag": item.etag, "md5": item.md5, "timeCreated": stamp,
              "timeModified": stamp, "storageTier": "Standard"}
    return {key: value for key, value in values.items() if key in fields}


ROUTES = [
    Route("GET", "/n/{namespaceName}/b/{bucketName}/o", list_objects),
    Route("PUT", "/n/{namespaceName}/b/{bucketName}/o/{objectName*}", put_object, streamed_body=True),
    Route("GET", "/n/{namespaceName}/b/{bucketName}/o/{objectName*}", get_object),
    Route("HEAD", "/n/{namespaceName}/b/{bucketName}/o/{objectName*}", head_object),
    Route("DELETE", "/n/{namespaceName}/b/{bucketName}/o/{objectName*}", delete_object),
]

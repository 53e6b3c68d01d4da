"""Object Storage, as much as workflows need: put/get/head/delete objects and list them by prefix.

Buckets exist on first use in any namespace (a test seeds nothing). Object names may contain '/':
the SDK does not encode it in path parameters, so the route takes the rest of the path.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
from dataclasses import dataclass

from jobctl.testing.fake_oci.errors import ApiError, invalid
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services

MAX_OBJECT_BYTES = 64 * 1024 * 1024
MAX_LIST = 1000


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


def put_object(services: Services, request: Request, namespace: str, bucket: str, name: str) -> Response:
    if len(request.body) > MAX_OBJECT_BYTES:
        raise ApiError(413, "RequestEntityTooLarge", "object larger than the fake's 64 MiB limit")
    md5 = base64.b64encode(hashlib.md5(request.body).digest()).decode()
    item = StoredObject(request.body, request.header("content-type") or "application/octet-stream",
                        hashlib.sha256(request.body).hexdigest()[:32], md5, services.store.now())
    services.store.objects[_key(namespace, bucket, name)] = item
    return Response(200, (("etag", item.etag), ("opc-content-md5", md5)))


def _get(services: Services, namespace: str, bucket: str, name: str) -> StoredObject:
    item: StoredObject | None = services.store.objects.get(_key(namespace, bucket, name))
    if item is None:
        raise ApiError(404, "ObjectNotFound", f"the object {name!r} was not found in bucket {bucket!r}")
    return item


def get_object(services: Services, request: Request, namespace: str, bucket: str, name: str) -> Response:
    item = _get(services, namespace, bucket, name)
    return Response(200, (*_headers(item), ("content-length", str(len(item.content)))), item.content)


def head_object(services: Services, request: Request, namespace: str, bucket: str, name: str) -> Response:
    item = _get(services, namespace, bucket, name)
    return Response(200, (*_headers(item), ("content-length", str(len(item.content)))))


def delete_object(services: Services, request: Request, namespace: str, bucket: str, name: str) -> Response:
    _get(services, namespace, bucket, name)
    del services.store.objects[_key(namespace, bucket, name)]
    return Response(204)


def list_objects(services: Services, request: Request, namespace: str, bucket: str) -> Response:
    prefix = request.param("prefix") or ""
    start = request.param("start") or ""
    limit = int(request.param("limit") or MAX_LIST)
    if not 1 <= limit <= MAX_LIST:
        raise invalid(f"limit must be between 1 and {MAX_LIST}")
    names = sorted(name for ns, b, name in services.store.objects
                   if ns == namespace and b == bucket and name.startswith(prefix) and name >= start)
    page, rest = names[:limit], names[limit:]
    objects = []
    for name in page:
        item = services.store.objects[_key(namespace, bucket, name)]
        objects.append({"name": name, "size": len(item.content), "etag": item.etag, "md5": item.md5})
    body = {"objects": objects, **({"nextStartWith": rest[0]} if rest else {})}
    return json_response(body)


ROUTES = [
    Route("GET", "/n/{namespaceName}/b/{bucketName}/o", list_objects),
    Route("PUT", "/n/{namespaceName}/b/{bucketName}/o/{objectName*}", put_object, streamed_body=True),
    Route("GET", "/n/{namespaceName}/b/{bucketName}/o/{objectName*}", get_object),
    Route("HEAD", "/n/{namespaceName}/b/{bucketName}/o/{objectName*}", head_object),
    Route("DELETE", "/n/{namespaceName}/b/{bucketName}/o/{objectName*}", delete_object),
]

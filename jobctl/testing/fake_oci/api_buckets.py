"""Object Storage namespace and buckets, with the paths of `ObjectStorageClient` (base path `/`).

A bucket exists once created, by CreateBucket or by `FakeOCI.create_bucket` (a test's stand-in for
Terraform or the console); object operations on any other bucket answer 404 BucketNotFound, as OCI does.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from jobctl.testing.fake_oci.errors import ApiError, invalid, limit_exceeded, missing
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services
from jobctl.testing.fake_oci.state import Store
from jobctl.testing.fake_oci.wire import format_time

_BUCKET_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
BUCKET_FIELDS = ("approximateCount", "approximateSize", "autoTiering")


def bucket_not_found(namespace: str, bucket: str) -> ApiError:
    return ApiError(404, "BucketNotFound", f"Either the bucket named '{bucket}' does not exist in the namespace "
                                           f"'{namespace}' or you are not authorized to access it")


def bucket_of(store: Store, namespace: str, bucket: str) -> dict[str, Any]:
    """The Bucket JSON, or 404 BucketNotFound."""
    found = store.buckets.get((namespace, bucket))
    if found is None:
        raise bucket_not_found(namespace, bucket)
    return found


def add_bucket(store: Store, namespace: str, details: Any, created_by: str) -> dict[str, Any]:
    """Create a bucket from CreateBucketDetails (camelCase); 409 BucketAlreadyExists if it is there."""
    if not isinstance(details, dict):
        raise invalid("the body must be CreateBucketDetails")
    name, compartment = details.get("name"), details.get("compartmentId")
    if not name or not compartment:
        raise missing("CreateBucketDetails needs name and compartmentId")
    if not isinstance(name, str) or not _BUCKET_NAME.match(name) or name in (".", ".."):
        raise invalid(f"bucket name {name!r} must be 1-256 letters, digits, '-', '_' or '.'")
    if (namespace, name) in store.buckets:
        raise ApiError(409, "BucketAlreadyExists", f"Either the bucket '{name}' in namespace '{namespace}' "
                                                   "already exists or you are not authorized to create it")
    if len(store.buckets) >= store.limits.max_buckets:
        raise limit_exceeded(f"the fake holds at most {store.limits.max_buckets} buckets")
    bucket = {
        "namespace": namespace, "name": name, "compartmentId": compartment, "metadata": details.get("metadata") or {},
        "createdBy": created_by, "timeCreated": format_time(store.now()),
        "etag": str(uuid.UUID(int=store.rng.getrandbits(128))), "id": store.new_id("bucket"),
        "publicAccessType": details.get("publicAccessType") or "NoPublicAccess",
        "storageTier": details.get("storageTier") or "Standard",
        "objectEventsEnabled": bool(details.get("objectEventsEnabled")), "versioning": "Disabled",
        "freeformTags": details.get("freeformTags") or {}, "definedTags": details.get("definedTags") or {},
        "replicationEnabled": False, "isReadOnly": False,
    }
    store.buckets[(namespace, name)] = bucket
    return bucket


def get_namespace(services: Services, request: Request) -> Response:
    """GetNamespace: the tenancy's namespace as a JSON string (also for `?compartmentId=`)."""
    return json_response(services.store.namespace)


def create_bucket(services: Services, request: Request, namespace: str) -> Response:
    bucket = add_bucket(services.store, namespace, request.json(), request.principal)
    return json_response(bucket, etag=bucket["etag"])


def get_bucket(services: Services, request: Request, namespace: str, name: str) -> Response:
    """GetBucket; `fields` adds approximateCount/approximateSize (of the objects held now) or autoTiering."""
    store = services.store
    bucket = dict(bucket_of(store, namespace, name))
    fields = [f for f in (request.param("fields") or "").split(",") if f]
    unknown = sorted(set(fields) - set(BUCKET_FIELDS))
    if unknown:
        raise invalid(f"fields may be {', '.join(BUCKET_FIELDS)}; not {', '.join(unknown)}")
    sizes = [len(item.content) for (ns, b, _), item in store.objects.items() if (ns, b) == (namespace, name)]
    extra = {"approximateCount": len(sizes), "approximateSize": sum(sizes), "autoTiering": "Disabled"}
    bucket.update({f: extra[f] for f in fields})
    return json_response(bucket, etag=bucket["etag"])


def head_bucket(services: Services, request: Request, namespace: str, name: str) -> Response:
    return Response(200, (("etag", bucket_of(services.store, namespace, name)["etag"]),))


ROUTES = [
    Route("GET", "/n", get_namespace),
    Route("GET", "/n/", get_namespace),
    Route("POST", "/n/{namespaceName}/b", create_bucket),
    Route("POST", "/n/{namespaceName}/b/", create_bucket),
    Route("GET", "/n/{namespaceName}/b/{bucketName}", get_bucket),
    Route("HEAD", "/n/{namespaceName}/b/{bucketName}", head_bucket),
]

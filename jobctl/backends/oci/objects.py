"""Workflow state and run outputs in OCI Object Storage, under a workflow's `state` location."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jobctl.errors import ConfigError, JobctlError, UsageError
from jobctl.workflow.state import State, check_ids, checked, latest, ordered, slug

_URI = re.compile(r"^oci://(?P<bucket>[^@/\s]+)(?:@(?P<namespace>[^/\s]+))?(?:/(?P<prefix>\S*))?$")
MAX_OBJECT_BYTES = 4 * 1024 * 1024


def parse_uri(uri: str) -> tuple[str, str, str]:
    """oci://bucket@namespace/prefix -> (namespace, bucket, prefix without surrounding slashes); the
    namespace is "" in oci://bucket/prefix (the tenancy's own: ObjectStorage.namespace())."""
    match = _URI.match(uri)
    if match is None:  # a spec's `state` was checked by its schema: this one was typed (--state)
        raise UsageError(f"{uri!r} is not an Object Storage location",
                         hint="write oci://bucket@namespace/prefix (or oci://bucket/prefix)")
    return match["namespace"] or "", match["bucket"], (match["prefix"] or "").strip("/")


def _failure(exc: Any, doing: str, namespace: str, bucket: str, name: str) -> JobctlError:
    """A service error on an object; any 404 but ObjectNotFound (BucketNotFound, a namespace that is not
    the tenancy's) means the location itself is wrong."""
    message = f"{doing} oci://{bucket}@{namespace}/{name}: {exc.code} ({exc.status}): {exc.message}"
    if exc.status == 404 and exc.code != "ObjectNotFound":
        return ConfigError(message, hint="check the bucket and namespace of the location: the bucket must exist "
                                         "and you must be allowed to use it")
    return JobctlError(message)


class ObjectStorage:
    """get/put of small JSON objects, with 404 meaning 'not there'."""

    def __init__(self, client: Any, oci: Any) -> None:
        self.client = client
        self.oci = oci
        self._namespace: str | None = None

    def namespace(self) -> str:
        """The tenancy's Object Storage namespace (GetNamespace), asked once."""
        if self._namespace is None:
            try:
                self._namespace = str(self.client.get_namespace().data)
            except self.oci.exceptions.ServiceError as exc:
                raise JobctlError(f"looking up the Object Storage namespace: {exc.code} ({exc.status}): "
                                  f"{exc.message}", hint="write it in the location: oci://bucket@namespace/prefix") \
                    from exc
        return self._namespace

    def get_json(self, namespace: str, bucket: str, name: str) -> Any:
        """The object's JSON, None if there is no such object; a missing bucket (or namespace) is an error,
        never "nothing stored yet": a mistyped location would otherwise start over silently."""
        try:
            response = self.client.get_object(namespace, bucket, name)
        except self.oci.exceptions.ServiceError as exc:
            if exc.status == 404 and exc.code == "ObjectNotFound":
                return None
            raise _failure(exc, "reading", namespace, bucket, name) from exc
        body = response.data.content
        if len(body) > MAX_OBJECT_BYTES:
            raise JobctlError(f"oci://{bucket}@{namespace}/{name} is larger than 4 MiB")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise JobctlError(f"oci://{bucket}@{namespace}/{name} is not valid JSON: {exc}") from exc

    def put_json(self, namespace: str, bucket: str, name: str, value: Any) -> None:
        body = json.dumps(value, indent=2, sort_keys=True).encode()
        try:
            self.client.put_object(namespace, bucket, name, body, content_type="application/json")
        except self.oci.exceptions.ServiceError as exc:
            raise _failure(exc, "writing", namespace, bucket, name) from exc

    def get_bytes(self, uri: str) -> bytes | None:
        """The object at `uri` (oci://bucket@namespace/name), None if there is none."""
        namespace, bucket, name = parse_uri(uri)
        namespace = namespace or self.namespace()
        try:
            return bytes(self.client.get_object(namespace, bucket, name).data.content)
        except self.oci.exceptions.ServiceError as exc:
            if exc.status == 404 and exc.code == "ObjectNotFound":
                return None
            raise _failure(exc, "reading", namespace, bucket, name) from exc

    def put_file_once(self, uri: str, path: Path) -> bool:
        """The file at `uri` (oci://bucket@namespace/name), uploaded unless an object is there already (a
        content-addressed name: what is there is this file); whether it was uploaded."""
        namespace, bucket, name = parse_uri(uri)
        namespace = namespace or self.namespace()
        try:
            self.client.head_object(namespace, bucket, name)
            return False
        except self.oci.exceptions.ServiceError as exc:
            if exc.status != 404:  # a missing bucket shows in the upload, with its own error
                raise _failure(exc, "checking", namespace, bucket, name) from exc
        try:
            with path.open("rb") as body:  # streamed: a jar may be large
                self.client.put_object(namespace, bucket, name, body, content_length=path.stat().st_size,
                                       content_type="application/octet-stream")
        except self.oci.exceptions.ServiceError as exc:
            raise _failure(exc, "uploading", namespace, bucket, name) from exc
        return True

    def names(self, namespace: str, bucket: str, prefix: str) -> list[str]:
        found: list[str] = []
        start = None
        while True:
            kwargs: dict[str, Any] = {"prefix": prefix, "fields": "name"}
            if start:
                kwargs["start"] = start
            try:
                response = self.client.list_objects(namespace, bucket, **kwargs)
            except self.oci.exceptions.ServiceError as exc:
                raise _failure(exc, "listing", namespace, bucket, prefix) from exc
            found.extend(o.name for o in response.data.objects or [])
            start = response.data.next_start_with
            if not start:
                return found


class ObjectStorageStore:
    """`<prefix>/<workflow>/runs/<run>.json`; run outputs under `<prefix>/<workflow>/<run>/<step>/<combination>/`
    (see jobctl.workflow.state)."""

    def __init__(self, storage: ObjectStorage, uri: str) -> None:
        self.storage = storage
        namespace, self.bucket, self.prefix = parse_uri(uri)
        self.namespace = namespace or storage.namespace()

    def _path(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def _get(self, path: str, name: str | None = None) -> State | None:
        state = self.storage.get_json(self.namespace, self.bucket, path)
        if state is None:
            return None
        try:
            return checked(state, f"oci://{self.bucket}@{self.namespace}/{path}", name)
        except ValueError as exc:
            raise ConfigError(f"not a workflow state: {exc}", hint="move it away (or start a new run with --restart)") \
                from exc

    def load(self, name: str, run: str | None = None) -> State | None:
        check_ids(name, run)
        if run is None:
            return latest(self.runs(name), lambda r: self.load(name, r))
        found = self._get(self._path(name, "runs", f"{run}.json"), name)
        if found is None and (legacy := self._get(self._path(name, "state.json"))) and legacy.get("run") == run:
            return legacy
        return found

    def save(self, name: str, state: State) -> None:
        check_ids(name, state["run"])
        self.storage.put_json(self.namespace, self.bucket, self._path(name, "runs", f"{state['run']}.json"), state)

    def runs(self, name: str) -> list[str]:
        base = self._path(name)
        found = self.storage.names(self.namespace, self.bucket, f"{base}/")
        runs = {n[len(base) + 6:-5] for n in found if n.startswith(f"{base}/runs/") and n.endswith(".json")
                and "/" not in n[len(base) + 6:]}
        if f"{base}/state.json" in found and (legacy := self._get(f"{base}/state.json")) and legacy.get("run"):
            runs.add(str(legacy["run"]))
        return ordered(list(runs))

    def names(self) -> list[str]:
        base = self._path()
        cut = len(base) + 1 if base else 0
        found = set()
        for name in self.storage.names(self.namespace, self.bucket, f"{base}/" if base else ""):
            parts = name[cut:].split("/")
            if parts[1:] == ["state.json"] or (len(parts) == 3 and parts[1] == "runs" and parts[2].endswith(".json")):
                found.add(parts[0])
        return sorted(found)

    def read(self, *parts: str) -> Any:
        """The JSON object at <prefix>/<parts...>, or None."""
        return self.storage.get_json(self.namespace, self.bucket, self._path(*parts))

    def write(self, data: Any, *parts: str) -> None:
        """Store `data` as the JSON object at <prefix>/<parts...>."""
        self.storage.put_json(self.namespace, self.bucket, self._path(*parts), data)

    def request_cancel(self, name: str, run: str) -> None:
        self.storage.put_json(self.namespace, self.bucket, self._path(name, "runs", f"{run}.cancel"), {"cancel": True})

    def cancel_requested(self, name: str, run: str) -> bool:
        marker = self.storage.get_json(self.namespace, self.bucket, self._path(name, "runs", f"{run}.cancel"))
        return isinstance(marker, dict) and bool(marker.get("cancel"))

    def clear_cancel(self, name: str, run: str) -> None:
        if self.cancel_requested(name, run):
            self.storage.put_json(self.namespace, self.bucket, self._path(name, "runs", f"{run}.cancel"),
                                  {"cancel": False})

    def output_uri(self, name: str, run: str, step: str, key: str) -> str | None:
        return f"oci://{self.bucket}@{self.namespace}/{self._path(name, run, step, slug(key))}/"

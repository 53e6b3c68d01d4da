"""`/20190101/jobs` and the job artifact, with the paths and headers of `DataScienceClient`."""

from __future__ import annotations

import email.utils
import hashlib
import re

from jobctl.testing.fake_oci.errors import ApiError, invalid
from jobctl.testing.fake_oci.listing import list_response
from jobctl.testing.fake_oci.messages import Request, Response, json_response
from jobctl.testing.fake_oci.routing import Route, Services
from jobctl.testing.fake_oci.state import JOB_STATES, JOB_SUMMARY_FIELDS, Artifact, etag_of

BASE = "/20190101"
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def create_job(services: Services, request: Request) -> Response:
    def create() -> Response:
        job = services.store.create_job(request.json(), request.principal)
        return json_response(job, etag=etag_of(job))

    return services.tokens.run("CreateJob", request, services.store.now(), create)


def list_jobs(services: Services, request: Request) -> Response:
    resources = ((record.resource, record.seq) for record in services.store.jobs.values())
    return list_response(request, resources, states=JOB_STATES, filters=("projectId", "id", "displayName", "createdBy"),
                         time_field="timeCreated", fields=JOB_SUMMARY_FIELDS)


def get_job(services: Services, request: Request, job_id: str) -> Response:
    """The job as it is now; with auto_progress a job being deleted then moves on (its work request steps)."""
    job = services.store.job(job_id).resource
    response = json_response(job, etag=etag_of(job))
    if services.settings.auto_progress:
        services.store.step_work_requests(job_id)
    return response


def update_job(services: Services, request: Request, job_id: str) -> Response:
    job = services.store.update_job(job_id, request.json(), request.header("if-match"))
    return json_response(job, etag=etag_of(job))


def delete_job(services: Services, request: Request, job_id: str) -> Response:
    store = services.store
    work_request_id = store.delete_job(job_id, request.header("if-match"), request.flag("deleteRelatedJobRuns"))
    return Response(202, (("opc-work-request-id", work_request_id),))


def create_artifact(services: Services, request: Request, job_id: str) -> Response:
    def upload() -> Response:
        services.store.put_artifact(job_id, request.body, request.header("content-disposition"))
        return Response(200)

    return services.tokens.run("CreateJobArtifact", request, services.store.now(), upload)


def head_artifact(services: Services, request: Request, job_id: str) -> Response:
    artifact = _artifact(services, job_id)
    return Response(200, (*_artifact_headers(artifact), ("content-length", str(len(artifact.content)))))


def get_artifact(services: Services, request: Request, job_id: str) -> Response:
    artifact = _artifact(services, job_id)
    content, status = artifact.content, 200
    extra: tuple[tuple[str, str], ...] = ()
    wanted = request.header("range")
    if wanted:
        first, last = _byte_range(wanted, len(content))
        content, status = content[first: last + 1], 206
        extra = (("content-range", f"bytes {first}-{last}/{len(artifact.content)}"),)
    return Response(status, (*_artifact_headers(artifact), *extra), content)


def _artifact(services: Services, job_id: str) -> Artifact:
    artifact = services.store.job(job_id).artifact
    if artifact is None:
        raise ApiError(404, "NotAuthorizedOrNotFound", f"job {job_id} has no artifact")
    return artifact


def _artifact_headers(artifact: Artifact) -> tuple[tuple[str, str], ...]:
    return (
        ("content-type", "application/octet-stream"),
        ("content-disposition", f"attachment; filename={artifact.filename}"),
        ("content-md5", artifact.md5),
        ("etag", hashlib.sha256(artifact.content).hexdigest()[:32]),
        ("last-modified", email.utils.formatdate(artifact.time_created, usegmt=True)),
    )


def _byte_range(header: str, size: int) -> tuple[int, int]:
    """The single `bytes=first-last` range the SDK documents (RFC 7233 §2.1), clamped to the content."""
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        raise invalid(f"range {header!r} must be a single bytes=first-last range")
    first_text, last_text = match.groups()
    if not first_text:
        first, last = max(size - int(last_text), 0), size - 1
    else:
        first, last = int(first_text), min(int(last_text), size - 1) if last_text else size - 1
    if first >= size or first > last:
        raise ApiError(416, "InvalidRange", f"range {header!r} is outside the {size}-byte artifact")
    return first, last


ROUTES = [
    Route("POST", f"{BASE}/jobs", create_job),
    Route("GET", f"{BASE}/jobs", list_jobs),
    Route("GET", f"{BASE}/jobs/{{jobId}}", get_job),
    Route("PUT", f"{BASE}/jobs/{{jobId}}", update_job),
    Route("DELETE", f"{BASE}/jobs/{{jobId}}", delete_job),
    Route("POST", f"{BASE}/jobs/{{jobId}}/artifact", create_artifact, streamed_body=True),
    Route("HEAD", f"{BASE}/jobs/{{jobId}}/artifact/content", head_artifact),
    Route("GET", f"{BASE}/jobs/{{jobId}}/artifact/content", get_artifact),
]

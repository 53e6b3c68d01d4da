"""The OCI backend: Data Science Jobs through the real `oci` SDK (imported only when this backend is used)."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar
from urllib.parse import quote

from jobctl.backends import listing
from jobctl.backends.base import Backend, copy_log_text
from jobctl.backends.listing import ListsRuns, RunStream
from jobctl.backends.oci import logs, mapping
from jobctl.backends.oci.clients import Clients, build_clients, quiet_sdk_loggers
from jobctl.backends.oci.mounts import MountLookup, needs_lookup
from jobctl.backends.oci.objects import ObjectStorage, ObjectStorageStore, parse_uri
from jobctl.backends.oci.paging import list_all
from jobctl.backends.oci.pipelines import Pipelines
from jobctl.backends.settings import OciSettings, Settings
from jobctl.errors import ConfigError, ConflictError, Diagnostic, JobctlError, NotFoundError
from jobctl.model.definition import replace
from jobctl.model.job import (
    CANCELING,
    DELETED,
    PENDING_HASH_PREFIX,
    RUN_STATES,
    TAG_HASH,
    JobDefinition,
    JobState,
    LogBatch,
    LogLine,
    LogView,
    RunState,
)
from jobctl.model.state import DATAFLOW_APPLICATION, DATAFLOW_RUN

if TYPE_CHECKING:
    from jobctl.artifact import Artifact
    from jobctl.backends.oci.dataflow import DataFlow

T = TypeVar("T")
_log = logging.getLogger("jobctl.oci")


MAX_REPLAYED_CREATES = 5  # deleted jobs a create's retry token may be replayed with, in a row


# a Data Flow run's and application's ids: their own API (jobctl.backends.oci.dataflow)


def _derived(retry_token: str, reason: str) -> str:
    """The token of a new creation that follows from an old one: the same on every retry of it."""
    return hashlib.sha256(f"{retry_token}\0{reason}".encode()).hexdigest()[:64]


def _origin(text: str) -> str:
    """The scheme, host and port of the first URL in `text` ("GET https://host/path" -> "https://host")."""
    found = re.search(r"\w+://[^/\s'\"]+", text)
    return found.group(0) if found else ""


def unreachable(text: str) -> str:
    """Where and why a request got no answer, from the SDK's text (a tuple of urllib3's message and the
    endpoint): ' at https://host (Connection refused)'; the whole text is logged, for -v."""
    endpoint = _origin(text.partition("Request Endpoint:")[2])
    reason = (re.search(r"\[Errno -?\d+\] ([^\"')]+)", text) or re.search(r"\[(SSL: \w+)\]", text)
              or re.search(r"(timed out)", text))
    return (f" at {endpoint}" if endpoint else "") + (f" ({reason.group(1).strip()})" if reason else "")


class OciBackend(ListsRuns):
    name = "oci"
    runs_here = False
    required_fields: tuple[str, ...] = ("spec.compartmentId", "spec.projectId")

    def __init__(self, settings: OciSettings, clients: Clients | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        quiet_sdk_loggers()  # before the import: the SDK logs while it loads
        import oci

        self.oci = oci
        self.models = oci.data_science.models
        self.settings = settings
        self.clients = clients or build_clients(settings)
        self.ds = self.clients.data_science
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.log_settle = settings.log_settle
        self.log_wait = settings.log_wait
        self.poll_interval = settings.poll_interval
        self._jobs: dict[str, Any] = {}  # job id -> SDK Job, for run overrides and names
        self._job_names: dict[str, str | None] = {}  # job id -> its name (mapping.job_name), from listings
        self._log_compartments: dict[str, str] = {}  # log group id -> its compartment
        self._runs_read: dict[str, tuple[str, RunState]] = {}  # run id -> (its compartment, the run read in full)

    def prepare_runs(self, count: int) -> None:
        pass  # nothing to get ready: starting a run is one call

    def pause(self, *, run_ids: Sequence[str], seconds: float, until_end: bool = False) -> None:
        time.sleep(seconds)  # OCI says nothing sooner: its runs are polled

    def spec_defaults(self) -> dict[str, str]:
        """--compartment-id / --project-id (or their variables, or a notebook session's: see
        jobctl.cli.context) for specs that leave them out."""
        from jobctl.spec.schema import check_job_field

        given = {"compartmentId": (self.settings.compartment_id, "--compartment-id / OCI_COMPARTMENT_ID"),
                 "projectId": (self.settings.project_id, "--project-id / OCI_PROJECT_ID")}
        return {f"spec.{name}": check_job_field(name, value, source) for name, (value, source) in given.items()
                if value}

    def resolve_definition(self, *, definition: JobDefinition, where: Callable[[str], Diagnostic]) -> JobDefinition:
        """File Storage mounts named by mount target IP and export path, with the OCIDs OCI takes instead."""
        if not needs_lookup(definition.storage_mounts):
            return definition
        return replace(definition, storage_mounts=self._mounts.resolve(definition.storage_mounts, where))

    def job_environment(self, job_id: str) -> dict[str, str]:
        """The job's environment variables as OCI holds them, jobctl's derived ones included (what a pipeline
        step must send whole: how OCI merges a step's env with its job's is not documented)."""
        config = self._job(job_id).job_configuration_details
        return dict(getattr(config, "environment_variables", None) or {})

    @cached_property
    def pipelines(self) -> Pipelines:
        """Data Science Pipelines: what `workflow run --engine pipeline` runs on."""
        return Pipelines(self._call, self.ds, self.models, poll=max(self.poll_interval, 0.05))

    @cached_property
    def dataflow(self) -> DataFlow:
        """OCI Data Flow: Spark applications and their runs (kind: DataFlowApplication)."""
        import oci.data_flow

        from jobctl.backends.oci.dataflow import DataFlow

        if self.clients.make is None:
            raise ConfigError("Data Flow needs its own client, which these clients cannot make")
        return DataFlow(self._call, self.clients.make(oci.data_flow.DataFlowClient), oci.data_flow.models,
                        storage=self._storage, compartment=self.settings.compartment_id)

    @cached_property
    def _mounts(self) -> MountLookup:
        def client(name: str) -> Any:
            import oci.core
            import oci.file_storage
            import oci.resource_search

            if name not in made:
                classes = {"file_storage": oci.file_storage.FileStorageClient,
                           "virtual_network": oci.core.VirtualNetworkClient,
                           "resource_search": oci.resource_search.ResourceSearchClient}
                if self.clients.make is None:
                    raise ConfigError("looking up a storage mount needs the File Storage, Networking and Search "
                                      "clients, which these clients cannot make")
                made[name] = self.clients.make(classes[name])
            return made[name]

        made: dict[str, Any] = {}
        return MountLookup(self._call, client)

    # --- errors ---------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call the SDK; turn service errors into jobctl errors with exit codes."""
        started = time.monotonic()
        try:
            result = fn(*args, **kwargs)
            _log.info("%s (%.0f ms)", what, (time.monotonic() - started) * 1000)
            return result
        except self.oci.exceptions.ServiceError as exc:
            if exc.code is None:  # no OCI error body: a web server, a proxy or a load balancer answered
                said = (f"{what}: {_origin(exc.request_endpoint or '') or 'the endpoint'} answered HTTP {exc.status} "
                        "without an OCI error")
                if exc.status < 500:
                    raise ConfigError(said, hint="is it an OCI API? check --endpoint (JOBCTL_OCI_ENDPOINT), the "
                                                 "profile's region and any proxy") from exc
                raise JobctlError(said) from exc
            message = f"{what}: {exc.code or exc.status} ({exc.status}): {exc.message}"
            if exc.status == 404:
                raise NotFoundError(message) from exc
            if exc.status in (409, 412):
                raise ConflictError(message, hint="something changed it meanwhile; run `jobctl plan` again") from exc
            if exc.status in (401, 403):
                raise ConfigError(message, hint="check the profile, key and IAM policies (see README)") from exc
            raise JobctlError(message) from exc
        except (self.oci.exceptions.RequestException, self.oci.exceptions.ConnectTimeout) as exc:
            _log.info("%s: %s", what, exc)  # the SDK's whole text (urllib3's pool, the URL): with -v
            raise JobctlError(f"{what}: cannot reach OCI{unreachable(str(exc))}",
                              hint="check the network, a proxy (HTTPS_PROXY) and the profile's region") from exc

    def _scope(self, compartment_id: str | None) -> str:
        compartment = compartment_id or self.settings.compartment_id
        if not compartment:
            raise ConfigError(
                "the oci backend needs a compartment",
                hint="set spec.compartmentId, or pass --compartment-id / set OCI_COMPARTMENT_ID",
            )
        return compartment

    # --- jobs -----------------------------------------------------------------------------------
    def list_jobs(self, *, compartment_id: str | None = None, project_id: str | None = None) -> list[JobState]:
        kwargs: dict[str, Any] = {"limit": 100}
        if project_id or self.settings.project_id:
            kwargs["project_id"] = project_id or self.settings.project_id
        summaries = self._list_all("listing jobs", self.ds.list_jobs, self._scope(compartment_id), **kwargs)
        return [mapping.job_state(s, with_definition=False) for s in summaries
                if s.lifecycle_state not in ("DELETED", "DELETING")]

    def _list_all(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
        return list_all(self._call, what, fn, *args, **kwargs)

    def get_job(self, *, job_id: str) -> JobState:
        response = self._call(f"getting job {job_id}", self.ds.get_job, job_id)
        self._jobs[job_id] = response.data
        return mapping.job_state(response.data, etag=response.headers.get("etag"))

    def create_job(self, *, definition: JobDefinition, artifact: Artifact | None, retry_token: str) -> JobState:
        layout = artifact.root if artifact and artifact.is_zip else None
        definition = self.resolve_definition(definition=definition, where=_named(definition.name))
        final_tags = {**definition.tags, mapping.TAG_SOURCE: mapping.source_tag(definition, layout)}
        # Until the artifact is uploaded the hash tag says so: a crash in between is repaired by the next apply.
        tags = {**final_tags, TAG_HASH: PENDING_HASH_PREFIX + final_tags.get(TAG_HASH, "")} if artifact else final_tags
        details = mapping.create_details(self.models, definition, tags, layout)
        if not definition.compartment_id or not definition.project_id:
            raise ConfigError(f"job {definition.name!r}: spec.compartmentId and spec.projectId are required on OCI")
        created, retry_token = self._create(definition.name, details, retry_token)
        if artifact is None or (created.freeform_tags or {}).get(TAG_HASH) == final_tags.get(TAG_HASH):
            return mapping.job_state(created)  # no artifact, or a retried create of a finished job
        try:
            self._upload(created.id, artifact, retry_token)
        except JobctlError as exc:
            self._abandon(created.id, definition.name, exc)
            raise  # not reached: _abandon raises
        current = self.get_job(job_id=created.id)
        assert current.definition is not None
        # No if-match: our own re-tag of a job made a moment ago, which a retried (lost) response of
        # this same update may already have changed.
        return self.update_job(job_id=created.id, definition=current.definition.with_tags(final_tags), etag=None)

    def _abandon(self, job_id: str, name: str, failure: JobctlError) -> None:
        """After a failed artifact upload: remove the unfinished job, so the next apply creates afresh (its
        create, replayed by the service for this token, answers a deleted job, which `_create` takes for a
        new creation), and say what became of it. Always raises."""
        try:
            state = self._call(f"getting job {job_id}", self.ds.get_job, job_id).data.lifecycle_state
        except NotFoundError:
            state = "DELETED"
        except JobctlError:
            state = None
        if state in ("DELETING", "DELETED"):  # another apply of this name replaced it meanwhile
            raise ConflictError(f"job {name!r} ({job_id}) was deleted while its artifact was uploaded: another "
                                "apply replaced it", hint="run `jobctl plan` to see the job there is now") from failure
        try:
            self._call(f"deleting unfinished job {job_id}", self.ds.delete_job, job_id, delete_related_job_runs=True)
        except JobctlError:
            # it stays CREATING, which the next plan reports (plan.diff.UNFINISHED_GRACE)
            raise JobctlError(failure.message, hint=f"the unfinished job {job_id} is left; "
                              f"`jobctl delete {name}` removes it") from failure
        raise JobctlError(failure.message, hint="run apply again (the unfinished job was deleted)") from failure

    def _create(self, name: str, details: Any, retry_token: str) -> tuple[Any, str]:
        """CreateJob, and the job as it is now. OCI answers a retry token it has seen in the last 24 hours
        with that create's response, even when that job has been deleted since (apply, delete, apply):
        such a replay is a new creation, with a token derived from the deleted job's (stable on retry).
        Returns the job and the token its creation used (its artifact upload's derives from it)."""
        rejected = False
        for _ in range(MAX_REPLAYED_CREATES):
            try:
                created = self._call(f"creating job {name}", self.ds.create_job, details,
                                     opc_retry_token=retry_token).data
            except ConflictError:
                if rejected:
                    raise
                # "if a resource has been deleted and purged, a retry of the original creation request
                # might be rejected" (OCI's retry-token documentation): that too is a new creation
                rejected, retry_token = True, _derived(retry_token, "rejected")
                continue
            current = self._call(f"getting job {created.id}", self.ds.get_job, created.id).data
            if current.lifecycle_state not in ("DELETED", "DELETING"):
                return current, retry_token
            retry_token = _derived(retry_token, created.id)
        raise JobctlError(f"creating job {name}: OCI kept answering with jobs that have been deleted")

    def _upload(self, job_id: str, artifact: Artifact, retry_token: str) -> None:
        """create_job_artifact has no default retry: give it one, with a rewindable stream."""
        try:
            with artifact.open() as stream:
                self._call(
                    f"uploading the artifact of job {job_id}", self.ds.create_job_artifact, job_id, stream,
                    content_disposition=content_disposition(artifact.filename),
                    opc_retry_token=retry_token[:48] + "-artifact", retry_strategy=self.clients.retry,
                )
        except ConflictError:
            # artifacts are write-once: an earlier attempt whose response was lost may have stored it
            self._call(f"checking the artifact of job {job_id}", self.ds.head_job_artifact, job_id)

    def update_job(self, *, job_id: str, definition: JobDefinition, etag: str | None) -> JobState:
        definition = self.resolve_definition(definition=definition, where=_named(definition.name))
        current_tags = dict(definition.tags)
        if mapping.TAG_SOURCE not in current_tags and job_id in self._jobs:
            job = self._jobs[job_id]
            source = (job.freeform_tags or {}).get(mapping.TAG_SOURCE)
            if source:
                current_tags[mapping.TAG_SOURCE] = source
            elif definition.artifact_digest:  # adopting a job jobctl did not create: record what OCI cannot
                env = getattr(job.job_configuration_details, "environment_variables", None) or {}
                current_tags[mapping.TAG_SOURCE] = mapping.source_tag(definition, mapping.layout_of(env))
        current = self._jobs.get(job_id) or self._call(f"getting job {job_id}", self.ds.get_job, job_id).data
        details = mapping.update_details(self.models, definition, current_tags, current)
        kwargs = {"if_match": etag} if etag else {}
        response = self._call(f"updating job {job_id}", self.ds.update_job, job_id, details, **kwargs)
        self._jobs[job_id] = response.data
        return mapping.job_state(response.data, etag=response.headers.get("etag"))

    def delete_job(self, *, job_id: str) -> None:
        try:  # with its runs, which OCI would otherwise refuse or orphan (docs/oci-fidelity.md)
            self._call(f"deleting job {job_id}", self.ds.delete_job, job_id, delete_related_job_runs=True)
        except ConflictError:
            if self.get_job(job_id=job_id).lifecycle_state in ("DELETED", "DELETING"):
                return  # a retried delete whose first response was lost
            raise

    # --- runs -----------------------------------------------------------------------------------
    def _job(self, job_id: str) -> Any:
        if job_id not in self._jobs:
            self.get_job(job_id=job_id)
        return self._jobs[job_id]

    def start_run(
        self, *, job_id: str, name: str, env: Mapping[str, str], args: Sequence[str],
        retry_token: str | None = None, settings: Mapping[str, Any] | None = None,
        marks: Mapping[str, str] | None = None,
    ) -> RunState:
        job = self._job(job_id)
        definition = mapping.definition_from_job(job)
        if settings and needs_lookup(settings.get("storage_mounts") or ()):
            settings = {**settings, "storage_mounts": self._mounts.resolve(settings["storage_mounts"],
                                                                           _named(definition.name))}
        layout = mapping.job_layout(job)
        # OCI replaces the job's whole configuration with the override: send the complete one.
        details = self.models.CreateJobRunDetails(
            project_id=job.project_id, compartment_id=job.compartment_id, job_id=job_id, display_name=name,
            freeform_tags=dict(marks) if marks else None,  # a run takes no tags of its job's
            **mapping.run_overrides(self.models, definition, env, args, layout=layout, settings=settings),
        )
        # A token of its own when the request has none: the SDK would make one for its retries all the same, with a
        # SystemRandom call per character, 30 system calls that each let go of the GIL, which 8 starts in flight
        # then wait for.
        token = retry_token or os.urandom(16).hex()
        run = self._call(f"starting a run of job {job_id}", self.ds.create_job_run, details,
                         opc_retry_token=token).data
        return self._seen(run.compartment_id, mapping.run_state(run, mapping.job_name(job)))

    def _job_name(self, job_id: str) -> str | None:
        """The run's job's name: read once per job (a job deleted since has none)."""
        if job_id not in self._jobs and job_id not in self._job_names:
            try:
                self._job(job_id)
            except NotFoundError:
                self._job_names[job_id] = None
        job = self._jobs.get(job_id)
        return mapping.job_name(job) if job is not None else self._job_names.get(job_id)

    def _get_run(self, run_id: str) -> Any:
        return self._call(f"getting run {run_id}", self.ds.get_job_run, run_id).data

    def get_run(self, *, run_id: str) -> RunState:
        if run_id.startswith(DATAFLOW_RUN):
            return self.dataflow.run(run_id)
        run = self._get_run(run_id)
        return self._seen(run.compartment_id, mapping.run_state(run, self._job_name(run.job_id)))

    def _seen(self, compartment: str, run: RunState) -> RunState:
        """Remember a run read in full: what its job is, and its env and args, which a listing lacks."""
        self._runs_read[run.id] = (compartment, run)
        return run

    def get_runs(self, *, run_ids: Sequence[str]) -> list[RunState]:
        """What `wait` polls: one listing of each job's newest runs per call, not one GET per run (issue 14,
        rule 13). A run jobctl has not read in full yet is read first (that names its job)."""
        found: dict[str, RunState] = {}
        by_job: dict[tuple[str, str], set[str]] = {}
        for run_id in dict.fromkeys(run_ids):
            if run_id.startswith(DATAFLOW_RUN):
                found[run_id] = self.dataflow.run(run_id)
            elif run_id in self._runs_read:
                compartment, run = self._runs_read[run_id]
                by_job.setdefault((run.job_id, compartment), set()).add(run_id)
            else:
                found[run_id] = self.get_run(run_id=run_id)
        for (job_id, compartment), wanted in by_job.items():
            page = None
            while wanted:
                kwargs: dict[str, Any] = {"job_id": job_id, "sort_by": "timeCreated", "sort_order": "DESC",
                                          "limit": 100, **({"page": page} if page else {})}
                response = self._call("listing runs", self.ds.list_job_runs, compartment, **kwargs)
                for summary in response.data:
                    if summary.id in wanted:
                        wanted.discard(summary.id)
                        listed = mapping.run_state(summary, self._job_name(job_id))
                        full = self._runs_read[summary.id][1]  # the listing's state, the full read's env
                        found[summary.id] = full.replace(
                            state=listed.state, started=listed.started,
                            finished=listed.finished, exit_code=listed.exit_code, details=listed.details)
                page = response.next_page
                if not page:
                    break
            for run_id in wanted:  # not listed (deleted meanwhile): its own read says how
                found[run_id] = self.get_run(run_id=run_id)
        return [found[r] for r in run_ids]

    def stream_runs(
        self, *, job_ids: Sequence[str] | None = None, states: Collection[str] | None = None, after: str | None = None,
    ) -> RunStream:
        """One source per job (or the compartment) and state (the service filters on one state per call), each
        read a page of 100 at a time and merged newest first; Data Flow applications' runs as Data Flow lists
        them. A token keeps the page each source had reached."""
        key = listing.listing_key("oci" if job_ids else f"oci:{self._scope(None)}", job_ids, states)
        position, hints = listing.start_after(after, key)
        shown = set(states) if states else set(RUN_STATES) - {DELETED}  # deleted runs only when asked for
        applications = sorted(j for j in job_ids or () if j.startswith(DATAFLOW_APPLICATION))
        jobs: Sequence[str | None] = sorted(j for j in job_ids or () if not j.startswith(DATAFLOW_APPLICATION))
        sources: list[Iterator[tuple[RunState, listing.Position, Any]]] = [
            self._application_runs(a, shown) for a in applications]
        for job_id in jobs or ([] if applications else [None]):
            for state in sorted(set(states)) if states else [None]:
                sources.append(self._run_pages(job_id, state, shown, position, hints.get(str(len(sources)))))
        return RunStream(listing.merged(sources, position, [str(i) for i in range(len(sources))]), key)

    def _application_runs(self, application_id: str, shown: Collection[str]
                          ) -> Iterator[tuple[RunState, listing.Position, Any]]:
        for run in self.dataflow.runs(application_id):
            if run.state in shown:
                yield run, listing.position(run), None

    def _run_pages(self, job_id: str | None, state: str | None, shown: Collection[str], after: listing.Position | None,
                   page: str | None) -> Iterator[tuple[RunState, listing.Position, Any]]:
        """A job's (or the compartment's) runs in one state, newest first, a page at a time, from `page` (a
        hint: when that page no longer starts at or before `after`, runs moved, so it lists from the start)."""
        compartment = self._job(job_id).compartment_id if job_id else self._scope(None)
        kwargs: dict[str, Any] = {"sort_by": "timeCreated", "sort_order": "DESC", "limit": 100,
                                  **({"job_id": job_id} if job_id else {}),
                                  **({"lifecycle_state": state} if state else {})}
        resumed = page is not None
        while True:
            data = self._call("listing runs", self.ds.list_job_runs, compartment,
                              **kwargs, **({"page": page} if page else {}))
            if resumed and (not data.data or listing.older(_position(data.data[0]), after)):
                page, resumed = None, False
                continue
            resumed = False
            self._name_jobs({s.job_id for s in data.data}, compartment)
            for summary in data.data:
                if summary.lifecycle_state in shown:
                    yield mapping.run_state(summary, self._job_name(summary.job_id)), _position(summary), page
            page = data.next_page
            if not page:
                return

    def _name_jobs(self, job_ids: set[str], compartment: str) -> None:
        """Learn the names of these runs' jobs with one listing when more than one is unknown (else one read)."""
        unknown = job_ids - set(self._jobs) - set(self._job_names)
        if len(unknown) > 1:
            for job in self._list_all("listing jobs", self.ds.list_jobs, compartment, limit=100):
                self._job_names.setdefault(job.id, mapping.job_name(job))
            for job_id in unknown - set(self._job_names):  # not listed there: deleted, or elsewhere
                self._job_names[job_id] = None

    def find_runs(self, ref: str, *, job_id: str | None = None) -> list[RunState]:
        """By name, the service's displayName filter; by id prefix (an OCID's start), the runs listed in turn."""
        if job_id and job_id.startswith(DATAFLOW_APPLICATION):
            return listing.matching(self.dataflow.runs(job_id), ref)
        compartment = self._job(job_id).compartment_id if job_id else self._scope(None)
        named = [s for s in self._list_all("listing runs", self.ds.list_job_runs, compartment, display_name=ref,
                                           sort_by="timeCreated", sort_order="DESC", limit=100,
                                           **({"job_id": job_id} if job_id else {}))
                 if s.lifecycle_state != DELETED][:listing.MATCHES]
        if not named and not job_id:  # nor a job's run: a Data Flow application's, by name or id prefix
            found = self.dataflow.find_runs(ref)
            if found:
                return found[:listing.MATCHES]
        if named or not ref.startswith("ocid1."):
            return [mapping.run_state(s, self._job_name(s.job_id)) for s in named]
        runs = self.stream_runs(job_ids=[job_id] if job_id else None)
        return list(itertools.islice((r for r in runs if r.id.startswith(ref)), listing.MATCHES))

    def cancel_run(self, *, run_id: str) -> RunState:
        if run_id.startswith(DATAFLOW_RUN):
            return self.dataflow.cancel(run_id)
        run = self.get_run(run_id=run_id)
        if run.terminal:
            return run
        try:
            self._call(f"canceling run {run_id}", self.ds.cancel_job_run, run_id)
        except ConflictError:  # 409 IncorrectState: it ended (or began canceling) since it was read
            after = self.get_run(run_id=run_id)
            if after.terminal or after.state == CANCELING:
                return after
            raise
        return self.get_run(run_id=run_id)

    # --- logs -----------------------------------------------------------------------------------
    def _log_scope(self, log_group_id: str, fallback: str) -> str:
        """The compartment a log search names: the log group's (often a logging compartment of its
        own), read once per log group; the run's when it cannot be read (no permission to read log groups)."""
        if log_group_id not in self._log_compartments:
            try:
                group = self._call(f"reading log group {log_group_id}", self.clients.logging.get_log_group,
                                   log_group_id).data
                self._log_compartments[log_group_id] = group.compartment_id
            except JobctlError as exc:
                from jobctl.log import warn

                warn(f"cannot read log group {log_group_id} ({exc.message}), so its logs are searched for in the "
                     "run's compartment, where they may not be; reading logs needs `read log-groups` on it "
                     "(README, IAM policies)")
                self._log_compartments[log_group_id] = fallback
        return self._log_compartments[log_group_id]

    def read_logs(self, *, run_id: str, cursor: str | None = None, limit: int | None = None) -> LogBatch:
        if run_id.startswith(DATAFLOW_RUN):
            return self.dataflow.read_logs(run_id, cursor)
        raw = self._get_run(run_id)
        run = mapping.run_state(raw, self._job_name(raw.job_id))
        return self._read_logs(raw, run, cursor)._replace(run=run)  # a follower needs no GET of its own

    def _read_logs(self, raw: Any, run: RunState, cursor: str | None) -> LogBatch:
        run_id = run.id
        details = getattr(raw, "log_details", None)
        if details is None or not details.log_id:
            if not run.terminal:
                return LogBatch((), cursor, False)  # an auto-created log appears once the run starts
            notice = () if cursor == "no-log" else (
                LogLine(self.clock(), "stderr", "(jobctl: this run has no OCI log; set spec.logging to keep output)"),
            )
            return LogBatch(notice, "no-log", True)
        query = logs.search_query(self._log_scope(details.log_group_id, raw.compartment_id), details.log_group_id,
                                  details.log_id, run_id)
        search = partial(self._search, query)
        return logs.read_batch(run=run, search=search, cursor=cursor, now=self.clock(), settle=self.log_settle,
                               wait=self.log_wait)

    def _search(self, query: str, start: datetime, end: datetime) -> Any:
        records = logs.LogSearch(self.clients.log_search, self.oci.loggingsearch.models, self.clients.retry).records(
            query, start, end,
        )
        return iter(self._call("searching logs", list, records))

    # --- workflows -----------------------------------------------------------------------------------
    @cached_property
    def _storage(self) -> ObjectStorage:
        """One per command: the tenancy's namespace is looked up once, whichever location needs it."""
        return ObjectStorage(self.clients.object_storage, self.oci)

    def workflow_store(self, location: str | None) -> ObjectStorageStore:
        if not location:
            raise ConfigError(
                "workflows on the oci backend keep their state in Object Storage",
                hint="set spec.state: oci://bucket@namespace/prefix (or pass --state to workflow status/cancel)",
            )
        return ObjectStorageStore(self._storage, location)

    def copy_log_text(self, *, run_id: str, out: BinaryIO) -> None:
        copy_log_text(self, run_id, out)

    def print_log(self, *, run_id: str, out: BinaryIO, view: LogView) -> str | None:
        return None  # no faster way than read_logs

    def download_artifact(self, *, job_id: str, directory: Path) -> Path | None:
        try:
            response = self.ds.get_job_artifact_content(job_id, retry_strategy=self.clients.retry)
        except self.oci.exceptions.ServiceError as exc:
            if exc.status == 404:
                return None
            raise JobctlError(f"downloading the artifact of job {job_id}: {exc.code} ({exc.status}): "
                              f"{exc.message}") from exc
        match = re.search(r'filename="?([^";]+)"?', response.headers.get("content-disposition", ""))
        name = Path(match.group(1)).name if match else "artifact.zip"
        target = directory / name
        with target.open("wb") as out:
            for chunk in response.data.raw.stream(1024 * 1024, decode_content=False):
                out.write(chunk)
        return target

    def read_outputs(self, *, run_id: str) -> dict[str, Any] | None:
        """outputs.json under the JOBCTL_OUTPUT_URI the run was started with (jobctl.outputs uploads it); a Data
        Flow run has it as spark.driverEnv.JOBCTL_OUTPUT_URI."""
        if run_id.startswith(DATAFLOW_RUN):
            uri = self.dataflow.run(run_id).env.get("JOBCTL_OUTPUT_URI")
        else:
            override = getattr(self._get_run(run_id), "job_configuration_override_details", None)
            uri = (getattr(override, "environment_variables", None) or {}).get("JOBCTL_OUTPUT_URI")
        if not uri:
            return None
        namespace, bucket, prefix = parse_uri(uri)
        storage = self._storage
        value = storage.get_json(namespace or storage.namespace(), bucket,
                                 f"{prefix}/outputs.json" if prefix else "outputs.json")
        if value is not None and not isinstance(value, dict):
            raise JobctlError(f"outputs.json of run {run_id} must hold a JSON object")
        return value

    def tail_logs(self, *, run_id: str, lines: int) -> LogBatch:
        collected: list[LogLine] = []
        cursor: str | None = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batch = self.read_logs(run_id=run_id, cursor=cursor)
            collected.extend(batch.lines)
            cursor = batch.cursor
            if not batch.lines or batch.complete:
                return LogBatch(tuple(collected[-lines:]) if lines else (), cursor, batch.complete)
        return LogBatch(tuple(collected[-lines:]) if lines else (), cursor, False)


def _named(name: str) -> Callable[[str], Diagnostic]:
    return lambda path: Diagnostic(f"job {name!r}", 1, 1, path, "")


def content_disposition(filename: str) -> str:
    """RFC 6266: a quoted ASCII filename, plus RFC 5987 UTF-8 when the name is not plain ASCII.

    OCI reads the artifact type from the extension, which the ASCII fallback always keeps.
    """
    if filename.isascii() and filename.isprintable():
        escaped = filename.replace("\\", "\\\\").replace('"', '\\"')
        return f'attachment; filename="{escaped}"'
    stem, dot, suffix = filename.rpartition(".")
    fallback = "".join(c if c.isascii() and c.isalnum() else "_" for c in (stem if dot else filename))
    fallback = f"{fallback or 'artifact'}.{suffix}" if dot and suffix.isascii() else fallback or "artifact"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def create(settings: Settings) -> Backend:  # mypy checks that OciBackend is a Backend
    return OciBackend(settings.oci)


def _position(summary: Any) -> listing.Position:
    return summary.time_accepted.timestamp(), summary.id

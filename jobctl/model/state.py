"""Jobs and runs as a backend observes them: lifecycle states, jobctl's tags, logs.

Apart from the job's definition (jobctl.model.job, whose 52-field table a listing need not declare),
so that listing runs or reading a log starts fast. For the same reason no class here is a dataclass: jobs and
runs are Records (jobctl.model.record), log lines and batches NamedTuples.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from jobctl.model.record import Record
from jobctl.secrets import REDACTOR

if TYPE_CHECKING:
    from jobctl.model.job import JobDefinition

# OCI's job run lifecycle, used verbatim by every backend.
ACCEPTED = "ACCEPTED"
IN_PROGRESS = "IN_PROGRESS"
NEEDS_ATTENTION = "NEEDS_ATTENTION"
CANCELING = "CANCELING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELED = "CANCELED"
DELETED = "DELETED"
RUN_STATES = (ACCEPTED, IN_PROGRESS, NEEDS_ATTENTION, CANCELING, SUCCEEDED, FAILED, CANCELED, DELETED)
TERMINAL_STATES = frozenset({SUCCEEDED, FAILED, CANCELED, DELETED})
ACTIVE_STATES = frozenset({ACCEPTED, IN_PROGRESS, NEEDS_ATTENTION, CANCELING})

# Freeform tags jobctl owns on every job it manages.
TAG_MANAGED = "jobctl-managed"
TAG_NAME = "jobctl-name"
TAG_HASH = "jobctl-spec-hash"
TAG_SUPERSEDED = "jobctl-superseded"
TAG_SET = "jobctl-set"  # where the job was applied from: what --prune may delete (jobctl.plan.sets)
LIVE_JOB_STATES = ("CREATING", "ACTIVE", "FAILED")  # a job in one of these holds its name (and its runs)
PENDING_HASH_PREFIX = "pending-"  # hash tag of a job whose creation (artifact upload) did not complete
JOBCTL_TAG_PREFIX = "jobctl-"
# What a Data Flow application's (and its runs') ids start with: OCI's, and the local backend's (store.new_id)
DATAFLOW_RUN, DATAFLOW_APPLICATION = "ocid1.dataflowrun.", "ocid1.dataflowapplication."
LOCAL_APPLICATION = "app-"


def is_application(owner_id: str) -> bool:
    """Whether a run's owner (its job_id) is a Data Flow application, not a job."""
    return owner_id.startswith((LOCAL_APPLICATION, DATAFLOW_APPLICATION))


def split_tags(tags: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """Freeform tags as (labels, jobctl's own)."""
    labels = {k: v for k, v in tags.items() if not k.startswith(JOBCTL_TAG_PREFIX)}
    return labels, {k: v for k, v in tags.items() if k.startswith(JOBCTL_TAG_PREFIX)}


class Owned:
    """What jobctl's tags say of a resource it manages (a job, a workflow's pipeline)."""

    tags: Mapping[str, str]

    @property
    def managed(self) -> bool:
        return self.tags.get(TAG_MANAGED) == "true"

    @property
    def managed_name(self) -> str | None:
        return self.tags.get(TAG_NAME) if self.managed else None

    @property
    def spec_hash(self) -> str | None:
        return self.tags.get(TAG_HASH)

    @property
    def set_name(self) -> str | None:
        return self.tags.get(TAG_SET)

    @property
    def superseded(self) -> bool:
        return self.tags.get(TAG_SUPERSEDED) == "true"


class JobState(Record, Owned):
    """An existing job. `definition` is None when only a summary was listed (OCI's JobSummary)."""

    __slots__ = ("created", "definition", "details", "etag", "id", "lifecycle_state", "name", "tags")
    id: str
    name: str
    lifecycle_state: str
    tags: Mapping[str, str]
    created: datetime
    definition: JobDefinition | None
    etag: str | None
    details: str | None  # the service's word on the state (a FAILED job's reason)

    def __init__(self, id: str, name: str, lifecycle_state: str, tags: Mapping[str, str], created: datetime, *,
                 definition: JobDefinition | None = None, etag: str | None = None, details: str | None = None) -> None:
        self._assign(locals())

    @property
    def intended_hash(self) -> str | None:
        """The spec hash the job was created for, also while its creation is unfinished (tagged pending)."""
        return (self.spec_hash or "").removeprefix(PENDING_HASH_PREFIX) or None

    @property
    def incomplete(self) -> bool:
        """Created, but a crash or failure stopped the artifact upload (OCI keeps such a job CREATING):
        the next apply replaces it."""
        return self.lifecycle_state == "CREATING" or (self.spec_hash or "").startswith(PENDING_HASH_PREFIX)


class AppliedApplication(Record, Owned):
    """A Data Flow application as a listing shows it (its tags say what jobctl made it from); an unmanaged
    one's name is its display name. Here, not with ApplicationDefinition: a listing builds no definition."""

    __slots__ = ("compartment", "created", "id", "name", "state", "tags")
    id: str
    name: str
    state: str
    compartment: str | None
    created: datetime
    tags: Mapping[str, str]

    def __init__(self, id: str, name: str, state: str, compartment: str | None, created: datetime, *,
                 tags: Mapping[str, str]) -> None:
        self._assign(locals())


class RunState(Record):
    """A run of a job (or of a Data Flow application). Its env's secret values are masked in all jobctl prints."""

    __slots__ = ("args", "configuration", "created", "details", "env", "exit_code", "finished", "id", "interpreter",
                 "job_id", "job_name", "marks", "name", "parameters", "started", "state")
    id: str
    job_id: str
    name: str
    state: str
    created: datetime
    started: datetime | None
    finished: datetime | None
    exit_code: int | None
    details: str | None
    env: Mapping[str, str]
    args: tuple[str, ...]
    job_name: str | None
    interpreter: str | None  # a local python job's run: the python it runs with (chosen as it started)
    # a Data Flow application's run: its parameters, and its Spark properties but the env ones (in `env`)
    parameters: Mapping[str, str]
    configuration: Mapping[str, str]
    # what an idempotency key's start left on the run: digests of the key and the request (jobctl.model.request)
    marks: Mapping[str, str]

    def __init__(self, id: str, job_id: str, name: str, state: str, created: datetime, *,
                 started: datetime | None = None, finished: datetime | None = None, exit_code: int | None = None,
                 details: str | None = None, env: Mapping[str, str] | None = None, args: tuple[str, ...] = (),
                 job_name: str | None = None, interpreter: str | None = None,
                 parameters: Mapping[str, str] | None = None, configuration: Mapping[str, str] | None = None,
                 marks: Mapping[str, str] | None = None) -> None:
        env, parameters, configuration, marks = ({} if given is None else given
                                                 for given in (env, parameters, configuration, marks))
        self._assign(locals())
        REDACTOR.remember_env(self.env)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


class LogLine(NamedTuple):
    time: datetime
    stream: str  # "stdout" | "stderr"
    text: str


class LogView(NamedTuple):
    """Which lines of a run's log `jobctl logs` prints, and how: what a backend's fast path must reproduce.

    `render` formats one line exactly as the CLI prints it; a backend that prints the view straight
    from its own bytes must write the same text, UTF-8 encoded, one line each. The other fields say
    what `render` does, so a backend can do the same on whole blocks: `timestamps` prefixes the UTC
    time to the millisecond, `sanitize` strips control characters, `jsonl_run_id` prints JSON lines.
    """

    render: Callable[[LogLine], str]
    timestamps: bool = False
    stream: str | None = None  # only this stream's lines
    since: datetime | None = None  # only lines at or after this moment
    tail: int | None = None  # only the last N lines that pass the filters above
    sanitize: bool = False
    jsonl_run_id: str | None = None


class LogBatch(NamedTuple):
    """Lines after a cursor. `complete`: the run is over and no line will ever follow `cursor`."""

    lines: tuple[LogLine, ...]
    cursor: str | None
    complete: bool
    run: RunState | None = None  # the run as the backend read it for this batch, when it did
    # every line logged so far is in this batch, so a follow can wait its interval before the next read (False:
    # not known, and a follow that got lines reads again at once, in case more are waiting)
    drained: bool = False

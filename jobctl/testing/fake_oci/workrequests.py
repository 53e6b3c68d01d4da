"""Work requests: how the Data Science service reports an operation it finishes later (DeleteJob, DeletePipeline).

A work request moves ACCEPTED -> IN_PROGRESS -> SUCCEEDED, one step per GET of it or of the resource it
works on while auto_progress is on (as runs do), or per `fake.step_all()`. Its `resources[]` name what it
works on, with actionType IN_PROGRESS until it succeeds and the operation's action (DELETED) after.
Shapes are the SDK's `WorkRequest`, `WorkRequestResource`, `WorkRequestLogEntry` (camelCase on the wire).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobctl.testing.fake_oci.errors import limit_exceeded, not_found
from jobctl.testing.fake_oci.wire import format_time

ACCEPTED = "ACCEPTED"
IN_PROGRESS = "IN_PROGRESS"
SUCCEEDED = "SUCCEEDED"
STATUSES = ("ACCEPTED", "IN_PROGRESS", "FAILED", "SUCCEEDED", "CANCELING", "CANCELED")
FINISHED = frozenset({"FAILED", "SUCCEEDED", "CANCELED"})
# operationType -> (entityType of its resource, actionType once it succeeded, what its log says)
OPERATIONS = {"JOB_DELETE": ("datasciencejob", "DELETED", "Deleting job"),
              "PIPELINE_DELETE": ("datasciencepipeline", "DELETED", "Deleting pipeline")}


@dataclass
class WorkRequestRecord:
    resource: dict[str, Any]
    seq: int
    logs: list[dict[str, str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def status(self) -> str:
        return str(self.resource["status"])

    @property
    def operation(self) -> str:
        return str(self.resource["operationType"])

    @property
    def target(self) -> str:
        """The OCID of the resource the operation works on."""
        return str(self.resource["resources"][0]["identifier"])

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def step(self, now: float) -> bool:
        """Advance one step; True when the work request has just succeeded."""
        stamp = format_time(now)
        if self.status == ACCEPTED:
            self.resource.update(status=IN_PROGRESS, percentComplete=50.0, timeStarted=stamp)
            self.logs.append({"message": f"{OPERATIONS[self.operation][2]} {self.target}", "timestamp": stamp})
            return False
        if self.status == IN_PROGRESS:
            self.resource.update(status=SUCCEEDED, percentComplete=100.0, timeFinished=stamp)
            for item in self.resource["resources"]:
                item["actionType"] = OPERATIONS[self.operation][1]
            self.logs.append({"message": f"{self.operation} succeeded", "timestamp": stamp})
            return True
        return False


def new_work_request(work_request_id: str, operation: str, target: Mapping[str, Any], *, now: float,
                     seq: int) -> WorkRequestRecord:
    """An ACCEPTED work request for `operation` on `target` (the wire JSON of the resource it works on)."""
    entity_type = OPERATIONS[operation][0]
    resource = {
        "id": work_request_id, "operationType": operation, "status": ACCEPTED, "compartmentId": target["compartmentId"],
        "percentComplete": 0.0, "timeAccepted": format_time(now),
        "resources": [{"entityType": entity_type, "actionType": IN_PROGRESS, "identifier": target["id"]}],
    }
    return WorkRequestRecord(resource, seq)


class WorkRequests:
    """The fake's work requests; beyond `max_entries` the oldest finished ones are forgotten, as the
    service keeps them for a limited time, and a store full of unfinished ones refuses new ones."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.records: dict[str, WorkRequestRecord] = {}

    def add(self, record: WorkRequestRecord) -> None:
        if len(self.records) >= self.max_entries:
            done = [key for key, kept in self.records.items() if kept.finished]
            for key in done[: len(self.records) - self.max_entries + 1]:
                del self.records[key]
        if len(self.records) >= self.max_entries:
            raise limit_exceeded(f"the fake holds at most {self.max_entries} unfinished work requests")
        self.records[record.id] = record

    def get(self, work_request_id: str) -> WorkRequestRecord:
        record = self.records.get(work_request_id)
        if record is None:
            raise not_found("WorkRequest", work_request_id)
        return record

    def unfinished(self, target_id: str | None = None) -> list[WorkRequestRecord]:
        return [record for record in self.records.values()
                if not record.finished and target_id in (None, record.target)]

"""Log records of job runs and the Logging Search query language subset that ADS and jobctl use.

Supported query: `search "<compartment>[/<logGroup>[/<log>]]" [| where <cond> [and <cond>]...]
[| sort by datetime asc|desc]`, keywords in any case. A condition is `<field> = '<value>'` or `!=`,
with `*` as a wildcard, on `source`, `type`, `id` or `data.message` (optionally prefixed `logContent.`).
Like the service, `source = '<ocid>'` without a `*` is rejected: ADS notes only `'*<ocid>'` works.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from jobctl.testing.fake_oci.errors import invalid
from jobctl.testing.fake_oci.wire import format_time, page_window, parse_time

MAX_WINDOW_SECONDS = 14 * 24 * 3600
MIN_WINDOW_SECONDS = 0.001
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
STDOUT = "com.oraclecloud.datascience.jobrun.stdout"
STDERR = "com.oraclecloud.datascience.jobrun.stderr"
_FIELDS = {"source": "source", "type": "type", "id": "id", "data.message": "message"}


@dataclass(frozen=True)
class LogRecord:
    id: str
    compartment_id: str
    log_group_id: str
    log_id: str
    source: str
    type: str
    time: float
    visible_after: float
    message: str
    seq: int = 0

    def to_result(self) -> dict[str, Any]:
        """One `SearchResult.data` blob, shaped like the service's (see the Logging docs' examples)."""
        return {
            "datetime": int(self.time * 1000),
            "logContent": {
                "data": {"message": self.message},
                "id": self.id,
                "oracle": {
                    "compartmentid": self.compartment_id,
                    "ingestedtime": format_time(max(self.time, self.visible_after)),
                    "loggroupid": self.log_group_id,
                    "logid": self.log_id,
                },
                "source": self.source,
                "specversion": "1.0",
                "time": format_time(self.time),
                "type": self.type,
            },
        }


@dataclass(frozen=True)
class Condition:
    field: str
    pattern: re.Pattern[str]
    negate: bool

    def matches(self, record: LogRecord) -> bool:
        found = self.pattern.fullmatch(getattr(record, _FIELDS[self.field])) is not None
        return found != self.negate


@dataclass(frozen=True)
class Query:
    scope: tuple[str, ...]
    conditions: tuple[Condition, ...]
    descending: bool

    def matches(self, record: LogRecord) -> bool:
        path = (record.compartment_id, record.log_group_id, record.log_id)
        return path[: len(self.scope)] == self.scope and all(c.matches(record) for c in self.conditions)


class LogStore:
    """Every log record the fake holds, oldest dropped first once `max_records` is reached."""

    def __init__(self, max_records: int) -> None:
        self.records: deque[LogRecord] = deque(maxlen=max_records)

    def append(self, record: LogRecord) -> None:
        self.records.append(record)

    def for_source(self, source: str) -> list[LogRecord]:
        return [record for record in self.records if record.source == source]

    def search(self, details: dict[str, Any], limit: str | None, page: str | None,
               now: float) -> tuple[dict[str, Any], str | None]:
        """Run one SearchLogs call; returns the SearchResponse body and the next page token."""
        start = parse_time(details["timeStart"], "timeStart")
        end = parse_time(details["timeEnd"], "timeEnd")
        if end - start < MIN_WINDOW_SECONDS:
            raise invalid("timeEnd must be at least 1 ms after timeStart")
        if end - start > MAX_WINDOW_SECONDS:
            raise invalid("the time range between timeStart and timeEnd must not exceed 14 days")
        query = parse_query(details["searchQuery"])
        hits = sorted(
            (r for r in self.records if start <= r.time <= end and now >= r.visible_after and query.matches(r)),
            key=lambda r: (r.time, r.seq), reverse=query.descending,
        )
        begin, end_index, next_page = page_window(len(hits), limit, page, MAX_LIMIT, DEFAULT_LIMIT)
        window = hits[begin:end_index]
        fields = _field_info() if details.get("isReturnFieldInfo") else []
        body = {
            "results": [{"data": record.to_result()} for record in window],
            "fields": fields,
            "summary": {"resultCount": len(window), "fieldCount": len(fields)},
        }
        return body, next_page


def _field_info() -> list[dict[str, str]]:
    return [{"fieldName": "datetime", "fieldType": "NUMBER"}, {"fieldName": "logContent", "fieldType": "STRING"}]


def parse_query(text: str) -> Query:
    stages = _split(text, re.compile(r"\|"))
    match = re.fullmatch(r'\s*search\s+"([^"]+)"\s*', stages[0], re.IGNORECASE)
    if not match:
        raise invalid(f'query must start with search "<compartment>/<logGroup>/<log>": {text!r}')
    scope = tuple(part for part in match.group(1).split("/") if part)
    if not 1 <= len(scope) <= 3:
        raise invalid(f"search scope {match.group(1)!r} must be compartment[/logGroup[/log]]")
    conditions: list[Condition] = []
    descending = True
    for stage in stages[1:]:
        where = re.fullmatch(r"\s*where\s+(.+?)\s*", stage, re.IGNORECASE | re.DOTALL)
        sort = re.fullmatch(r"\s*sort\s+by\s+datetime(?:\s+(asc|desc))?\s*", stage, re.IGNORECASE)
        if where:
            conditions.extend(_condition(c) for c in _split(where.group(1), re.compile(r"\s+and\s+", re.I)))
        elif sort:
            descending = (sort.group(1) or "desc").lower() == "desc"
        else:
            raise invalid(f"unsupported query stage {stage.strip()!r} (the fake knows where and sort by datetime)")
    return Query(scope, tuple(conditions), descending)


def _condition(text: str) -> Condition:
    match = re.fullmatch(r"\s*(?:logContent\.)?([\w.]+)\s*(!=|=)\s*'([^']*)'\s*", text, re.IGNORECASE)
    if not match or match.group(1).lower() not in _FIELDS:
        raise invalid(f"unsupported condition {text.strip()!r}; use <field> = '<value>' on {', '.join(_FIELDS)}")
    field, operator, value = match.group(1).lower(), match.group(2), match.group(3)
    if field == "source" and value.startswith("ocid1.") and "*" not in value:
        raise invalid(f"source = '{value}' is not supported; match the run OCID as source = '*{value}'")
    pattern = re.compile(".*".join(re.escape(part) for part in value.split("*")), re.DOTALL)
    return Condition(field, pattern, operator == "!=")


def _split(text: str, separator: re.Pattern[str]) -> list[str]:
    """Split on `separator` outside single- or double-quoted strings."""
    masked = re.sub(r"'[^']*'|\"[^\"]*\"", lambda m: "_" * len(m.group(0)), text)
    pieces, begin = [], 0
    for match in separator.finditer(masked):
        pieces.append(text[begin: match.start()])
        begin = match.end()
    pieces.append(text[begin:])
    return pieces


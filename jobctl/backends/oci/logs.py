"""Reading a job run's log from OCI Logging Search, as a resumable, loss-free stream.

Records are ingested late and out of order, so every read searches from a little before the newest
record seen (an overlapping window) and drops records already returned (by `logContent.id`). The
cursor carries that state, so it survives between calls and processes. A finished run counts as
drained once a quiet period has passed with nothing new — much shorter than ADS's fixed 90 s, but
never before `settle` seconds after the run finished.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from jobctl.model.job import LogBatch, LogLine, RunState

OVERLAP = timedelta(minutes=3)
MAX_WINDOW = timedelta(days=14)  # the service rejects older time_start values per request
PAGE_LIMIT = 1000
MIN_SPLIT = timedelta(milliseconds=2)  # the service rejects windows under 1 ms


@dataclass
class Cursor:
    high_water: float | None = None  # epoch seconds of the newest record returned
    seen: dict[str, float] | None = None  # id -> time of records returned within OVERLAP of high_water
    last_new: float | None = None  # wall-clock time a new record was last returned
    told: bool = False  # the notice that no line arrived has been returned (once)

    def encode(self) -> str:
        raw = json.dumps({"h": self.high_water, "s": self.seen or {}, "n": self.last_new, "t": self.told}).encode()
        return base64.urlsafe_b64encode(raw).decode()

    @classmethod
    def decode(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        data = json.loads(base64.urlsafe_b64decode(text.encode()))
        return cls(data.get("h"), dict(data.get("s") or {}), data.get("n"), bool(data.get("t")))


def _rfc3339(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc).replace(microsecond=moment.microsecond // 1000 * 1000)


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def search_query(compartment_id: str, log_group_id: str, log_id: str, run_id: str) -> str:
    # `source = '*<ocid>'`: an exact OCID match is not allowed by the service, the wildcard is.
    return (f'search "{compartment_id}/{log_group_id}/{log_id}" | where source = \'*{run_id}\' '
            f"| sort by datetime asc")


def _windows(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    while start < end:
        stop = min(end, start + MAX_WINDOW)
        yield start, stop
        start = stop


def _too_large(exc: Exception) -> bool:
    return getattr(exc, "status", None) == 400 and "too large" in str(getattr(exc, "message", exc)).lower()


@dataclass
class LogSearch:
    """Search calls for one client: pages followed with opc-next-page (list_call_get_all_results cannot)."""

    client: Any
    models: Any
    retry: Any

    def records(self, query: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """Every record in [start, end], in windows the service accepts."""
        for window_start, window_end in _windows(start, end):
            yield from self._window(query, window_start, window_end)

    def _window(self, query: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """One window, page by page; a window the service finds "too large" is searched in halves."""
        details = self.models.SearchLogsDetails(
            time_start=_rfc3339(start), time_end=_rfc3339(end), search_query=query, is_return_field_info=False,
        )
        page = None
        collected: list[dict[str, Any]] = []
        while True:
            kwargs: dict[str, Any] = {"limit": PAGE_LIMIT, "retry_strategy": self.retry}
            if page:
                kwargs["page"] = page
            try:
                response = self.client.search_logs(details, **kwargs)
            except Exception as exc:
                if not _too_large(exc) or end - start < MIN_SPLIT:
                    raise
                middle = start + (end - start) / 2
                yield from self._window(query, start, middle)
                yield from self._window(query, middle, end)
                return
            for result in response.data.results or []:
                data = result.data if isinstance(result.data, dict) else {}
                content = data.get("logContent") or {}
                if content.get("id"):
                    collected.append(content)
            page = response.next_page
            if not page:
                yield from collected  # only once the whole window answered: a split never repeats records
                return


def to_line(content: dict[str, Any]) -> LogLine:
    data = content.get("data") or {}
    message = data.get("message") if isinstance(data, dict) else data
    kind = str(content.get("type") or "")
    return LogLine(_parse_time(str(content["time"])), "stderr" if "stderr" in kind else "stdout", str(message or ""))


def read_batch(
    *, run: RunState, search: Callable[[datetime, datetime], Iterator[dict[str, Any]]], cursor: str | None,
    now: datetime, settle: float, wait: float = 90.0,
) -> LogBatch:
    """One poll: new records since the cursor, and whether the run's log is complete.

    A finished run's log is complete once `settle` seconds pass with nothing new. While none of its
    records has arrived yet, OCI Logging may still be ingesting them (it lags, sometimes by more than
    `settle`): then the log is complete only `wait` seconds after the run ended (as ADS waits), and a
    line on stderr says that nothing arrived."""
    state = Cursor.decode(cursor)
    if state.high_water is not None:
        start = datetime.fromtimestamp(state.high_water, tz=timezone.utc) - OVERLAP
    else:
        start = run.created - timedelta(minutes=1)
    seen = dict(state.seen or {})
    fresh = [c for c in search(start, now + timedelta(seconds=1)) if c["id"] not in seen]
    fresh.sort(key=lambda c: (str(c.get("time")), str(c["id"])))
    lines = [to_line(c) for c in fresh]
    if lines:
        seen.update((c["id"], line.time.timestamp()) for c, line in zip(fresh, lines, strict=True))
        high = max(*seen.values(), state.high_water or 0.0)
        horizon = high - OVERLAP.total_seconds()
        state = Cursor(high, {i: t for i, t in seen.items() if t >= horizon}, now.timestamp())
    ended = (run.finished or run.started or run.created).timestamp()
    quiet_since = max(filter(None, [state.last_new, ended]))
    if not run.terminal or lines:
        return LogBatch(tuple(lines), state.encode(), False)
    if state.high_water is not None:
        return LogBatch((), state.encode(), now.timestamp() - quiet_since >= settle)
    if now.timestamp() - ended < max(wait, settle):
        return LogBatch((), state.encode(), False)
    if state.told:
        return LogBatch((), state.encode(), True)
    state.told = True
    notice = LogLine(now, "stderr", f"(jobctl: no line of this run's log arrived within {max(wait, settle):g} s of "
                                    "its end; OCI Logging may still add them: `jobctl logs` the run later)")
    return LogBatch((notice,), state.encode(), True)

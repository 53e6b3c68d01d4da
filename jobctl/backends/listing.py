"""Listing runs a page at a time: the stream every backend returns, and the `--page` token that resumes it.

A listing is newest first, ordered by (created, id) descending, so a token is a keyset: the position of
the last run shown. The next page is every run strictly older than it, which stays right when runs are
started or deleted between pages (an offset would repeat or skip runs). A backend may add hints of its
own to the token (OCI: the service's page token each source had reached, so a later page does not list
from the start again); a hint is only a shortcut, never trusted to be correct. A token names the
listing it continues (job ids and states), so it is refused for another one.
"""

from __future__ import annotations

import binascii
import itertools
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any

from jobctl.errors import UsageError
from jobctl.model.state import RunState

MATCHES = 11  # runs find_runs returns at most: enough to say a prefix names more than ten
Position = tuple[float, str]  # (created, id): a run's place in a listing, compared descending


def listing_key(where: str, job_ids: Sequence[str] | None, states: Collection[str] | None) -> str:
    """A short digest of what a listing selects (`where`: the backend, and on OCI the compartment listed), kept
    in its tokens."""
    text = json.dumps([where, sorted(job_ids or []), sorted(states or [])])
    return f"{binascii.crc32(text.encode()):08x}"  # tells listings apart; no secret to keep (hashlib: 2 ms)


class RunStream:
    """Runs newest first, fetched as they are taken. `token()` resumes after the last run taken."""

    def __init__(self, items: Iterator[tuple[RunState, Position, dict[str, Any]]], listing: str,
                 total: Callable[[], int | None] = lambda: None) -> None:
        self._items = items
        self._listing = listing
        self._total = total
        self._last: tuple[Position, dict[str, Any]] | None = None

    def __iter__(self) -> Iterator[RunState]:
        return self

    def __next__(self) -> RunState:
        run, position, hints = next(self._items)
        self._last = position, hints
        return run

    def total(self) -> int | None:
        """How many runs the listing selects in all, where the backend can say cheaply (else None)."""
        return self._total()

    def token(self) -> str | None:
        """Where the next page starts: after the last run taken (None before any)."""
        if self._last is None:
            return None
        (created, run_id), hints = self._last
        body = {"l": self._listing, "c": created, "i": run_id, **({"h": hints} if hints else {})}
        import base64  # only for a page that has a next one: not at every listing's start

        return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")


class ListsRuns:
    """A backend's `list_runs`: the first `limit` runs of its `stream_runs`, so a listing has one code path."""

    def stream_runs(self, *, job_ids: Sequence[str] | None = None, states: Collection[str] | None = None,
                    after: str | None = None) -> RunStream:
        raise NotImplementedError

    def list_runs(self, *, job_id: str | None = None, states: Collection[str] | None = None,
                  limit: int | None = None) -> list[RunState]:
        return list(itertools.islice(self.stream_runs(job_ids=[job_id] if job_id else None, states=states), limit))


def start_after(token: str | None, listing: str) -> tuple[Position | None, dict[str, Any]]:
    """The position a `--page` token resumes after, and its hints; a token of another listing is refused."""
    if not token:
        return None, {}
    import base64

    try:
        body = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        position: Position = (float(body["c"]), str(body["i"]))
        hints = body.get("h") or {}
        if not isinstance(hints, dict):
            raise TypeError(hints)
    except (ValueError, TypeError, KeyError):
        shown = token if len(token) <= 40 else f"{token[:40]}…"
        raise UsageError(f"--page {shown!r} is not a page token jobctl printed",
                         hint="use the token a listing printed (`nextPage` in -o json)") from None
    if body.get("l") != listing:
        raise UsageError("--page: that token continues another listing (another JOB, --state, backend or compartment)",
                         hint="give the same JOB and --state as the listing that printed it")
    return position, hints


def position(run: RunState) -> Position:
    """A run's place in a listing: (created, id)."""
    return run.created.timestamp(), run.id


def older(position: Position, than: Position | None) -> bool:
    """Whether a run at `position` comes after `than` in a newest-first listing."""
    return than is None or position < than


def merged(sources: Iterable[Iterator[tuple[RunState, Position, Any]]], after: Position | None,
           names: Sequence[str]) -> Iterator[tuple[RunState, Position, dict[str, Any]]]:
    """The runs of several sources (each newest first; `names[i]` names source i in hints), merged newest
    first, from after `after`, each once (a run listed in two states while it changed is one run). A
    source yields (run, position, hint): the hint a token keeps for it (where to resume that source)."""
    import heapq  # the OCI backend's merge only

    reached: dict[str, Any] = {}

    def tagged(index: int, source: Iterator[tuple[RunState, Position, Any]]
               ) -> Iterator[tuple[Position, int, RunState, Any]]:
        for run, position, hint in _ties_in_order(source):
            if older(position, after):
                yield position, index, run, hint

    streams = [tagged(i, s) for i, s in enumerate(sources)]
    previous: Position | None = None
    for position, index, run, hint in heapq.merge(*streams, key=lambda item: item[0], reverse=True):
        if position == previous:
            continue
        previous = position
        if hint is not None:
            reached[names[index]] = hint
        yield run, position, dict(reached)


def _ties_in_order(source: Iterator[tuple[RunState, Position, Any]]) -> Iterator[tuple[RunState, Position, Any]]:
    """The source with runs created at the same moment put in id order (descending), as the keyset is: a
    service orders such ties as it likes."""
    group: list[tuple[RunState, Position, Any]] = []
    for item in source:
        if group and item[1][0] != group[0][1][0]:
            yield from sorted(group, key=lambda g: g[1], reverse=True)
            group = []
        group.append(item)
    yield from sorted(group, key=lambda g: g[1], reverse=True)


def matching(runs: Iterable[RunState], ref: str) -> list[RunState]:
    """What `find_runs` answers from runs in hand: those named `ref`, else those whose id starts with it."""
    listed = list(runs)
    return ([r for r in listed if r.name == ref] or [r for r in listed if r.id.startswith(ref)])[:MATCHES]


def sorted_stream(runs: Iterable[RunState], job_ids: Sequence[str] | None, states: Collection[str] | None,
                  after: str | None) -> RunStream:
    """A stream over runs held in memory (the memory backend's)."""
    listing = listing_key("memory", job_ids, states)
    resume, _ = start_after(after, listing)
    chosen = sorted(((r, position(r)) for r in runs
                     if (not job_ids or r.job_id in job_ids) and (not states or r.state in states)),
                    key=lambda item: item[1], reverse=True)
    items: Iterator[tuple[RunState, Position, dict[str, Any]]] = (
        (run, at, {}) for run, at in chosen if older(at, resume))
    return RunStream(items, listing, total=lambda: len(chosen))

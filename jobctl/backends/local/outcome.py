"""A run's outcome, written durably to its directory before the database is told.

The supervisor reserves `result.json` (fixed size; fsynced once the workload runs) when the run starts
and overwrites it in place when the workload ends, so recording the outcome needs no new disk space: a
full disk or a database locked for minutes cannot lose a result. Readers reconcile the file into the database.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import NamedTuple

SIZE = 1024
NAME = "result.json"


class Outcome(NamedTuple):
    """A NamedTuple, not a dataclass: the launcher imports this before it can serve (issue 18)."""

    state: str
    exit_code: int | None
    details: str | None
    finished: float


def reserve(directory: Path) -> int:
    """Create the blank result file (its space is taken by the write; a full disk fails here); the descriptor
    to `settle` once the workload runs, and to `record` into."""
    fd = os.open(directory / NAME, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o600)
    try:
        if os.write(fd, b" " * SIZE) < SIZE:  # a short write: the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    except OSError:
        os.close(fd)
        raise
    return fd


def settle(fd: int) -> None:
    """fsync the reserved file (its blocks allocated, on disk), while the workload runs rather than before it
    starts: an fsync under other disks' load takes milliseconds. Raises OSError if that failed."""
    os.fsync(fd)


def record(fd: int, outcome: Outcome) -> None:
    """Overwrite the reserved bytes with the outcome and fsync; raises OSError if that failed."""
    details = outcome.details
    while True:
        data = json.dumps({"state": outcome.state, "exit_code": outcome.exit_code, "details": details,
                           "finished": outcome.finished}).encode()
        if len(data) <= SIZE or not details:
            break
        details = details[: len(details) // 2] + "…"
    os.pwrite(fd, data.ljust(SIZE), 0)
    os.fsync(fd)


def read(directory: Path) -> Outcome | None:
    """The recorded outcome, or None if the run has none (still running, never started, or lost)."""
    try:
        text = (directory / NAME).read_text(encoding="utf-8").strip()
        if not text:
            return None
        data = json.loads(text)
        return Outcome(str(data["state"]), data["exit_code"], data["details"], float(data["finished"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None

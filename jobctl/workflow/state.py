"""Where workflow runs keep their state between (and after) `workflow run` invocations.

Each run of a workflow has one JSON document, rewritten after every change, so an interrupted run resumes
from it and a finished one stays to look at. Local backends keep them under
$JOBCTL_HOME/workflows/<workflow>/<run>.json; the OCI backend in Object Storage under the workflow's `state`
location, <prefix>/<workflow>/runs/<run>.json. Run ids sort by their start (`<workflow>-<UTC time>-<hex>`);
runs started within the same second are ordered by their `started` time. A state saved before workflows had
runs (<workflow>.json, <prefix>/<workflow>/state.json) is read as one more run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from jobctl.errors import ConfigError, UsageError
from jobctl.paths import ensure_private_dir

State = dict[str, Any]


class StateStore(Protocol):
    def load(self, name: str, run: str | None = None) -> State | None:
        """The state of run `run` of workflow `name`, or of its latest run; None if there is none."""
        ...

    def save(self, name: str, state: State) -> None:
        """Store the state under its run (state["run"])."""
        ...

    def runs(self, name: str) -> list[str]:
        """The workflow's run ids, oldest first."""
        ...

    def names(self) -> list[str]: ...

    def request_cancel(self, name: str, run: str) -> None:
        """Mark the run canceled for the `workflow run` that drives it (which saves its state often)."""
        ...

    def cancel_requested(self, name: str, run: str) -> bool: ...

    def clear_cancel(self, name: str, run: str) -> None:
        """Forget a cancel request: the run is resumed (`--resume`) and may start runs again."""
        ...

    def output_uri(self, name: str, run: str, step: str, key: str) -> str | None:
        """Where a run should upload its outputs.json, or None when the backend reads them itself."""
        ...


_NAME = re.compile(r"[a-z][-a-z0-9]{0,62}")
_RUN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def check_ids(name: str, run: str | None = None) -> None:
    """A workflow name and run id as they can be (no path: `--run ../other/x` must not read another file)."""
    if not _NAME.fullmatch(name):
        raise UsageError(f"{name!r} is not a workflow name (lower-case letters, digits and '-')")
    if run is not None and (not _RUN.fullmatch(run) or ".." in run):
        raise UsageError(f"{run!r} is not a workflow run id (letters, digits, '.', '_' and '-')",
                         hint="`jobctl workflow status NAME` lists its runs")


RUN_STATUSES = frozenset({"running", "succeeded", "failed", "canceled"})
STEP_STATUSES = frozenset({"pending", "running", "succeeded", "failed", "canceled", "skipped"})
# a run's state: a job run's (OCI's and the local backend's), or a pipeline step run's
ENTRY_STATES = frozenset({"ACCEPTED", "IN_PROGRESS", "NEEDS_ATTENTION", "CANCELING", "SUCCEEDED", "FAILED",
                          "CANCELED", "DELETED", "WAITING", "SKIPPED"})


def checked(data: Any, where: str, name: str | None = None) -> State:
    """A workflow state as read (of workflow `name`, when given), or ValueError saying what is wrong with it
    (a file edited by hand)."""
    if not isinstance(data, dict) or not all(isinstance(data.get(key), str) for key in ("workflow", "run", "status")):
        raise ValueError(f"{where}: expected an object with its workflow, run id and status")
    if not _RUN.fullmatch(data["run"]) or ".." in data["run"] or data["status"] not in RUN_STATUSES:
        raise ValueError(f"{where}: its run id {data['run']!r} or status {data['status']!r} is not one jobctl writes")
    if name is not None and data["workflow"] != name:
        raise ValueError(f"{where}: it is a state of workflow {data['workflow']!r}, not {name!r}")
    steps = data.get("steps")
    if not isinstance(steps, dict) or not all(
            isinstance(record, dict) and record.get("status") in STEP_STATUSES and isinstance(record.get("runs"), list)
            and all(isinstance(entry, dict) and all(isinstance(entry.get(key), str) for key in ("key", "id", "state"))
                    and entry["state"] in ENTRY_STATES for entry in record["runs"]) for record in steps.values()):
        raise ValueError(f"{where}: expected each step with its status and runs (each with its key, id and state), "
                         "as jobctl writes them")
    order = data.get("order")
    if order is not None and (not isinstance(order, list) or set(order) != set(steps)):
        raise ValueError(f"{where}: its step order does not name its steps")
    return data


def latest(runs: Sequence[str], load: Callable[[str], State | None]) -> State | None:
    """The latest of `runs` (sorted by id): of the ids started in the last second, the one started last."""
    if not runs:
        return None
    stamp = _stamp(runs[-1])
    same = [run for run in runs if _stamp(run) == stamp] if stamp else [runs[-1]]
    states = [state for state in (load(run) for run in same) if state is not None]
    return max(states, key=lambda s: str(s.get("started") or "")) if states else None


def _stamp(run: str) -> str:
    """The `YYYYMMDD-HHMMSS` of a run id (`<workflow>-<stamp>-<hex>`), or ''."""
    parts = run.rsplit("-", 3)
    return f"{parts[1]}-{parts[2]}" if len(parts) == 4 else ""


def slug(text: str) -> str:
    """A matrix combination (or any text) as one path segment, one for each: MODEL=a/b -> MODEL=a%2Fb. Two
    combinations never share one (a_b and a/b did), and no segment is . or .. ."""
    from urllib.parse import quote

    segment = quote(text, safe="=,_-")
    return segment if segment not in ("", ".", "..") else quote(segment, safe="").replace(".", "%2E") or "-"


def ordered(runs: Sequence[str]) -> list[str]:
    return sorted(runs, key=lambda run: (_stamp(run), run))


class DirectoryStore:
    """`<dir>/<workflow>/<run>.json`, each written atomically and readable by its owner only."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _read(self, path: Path, name: str | None = None) -> State | None:
        try:
            return checked(json.loads(path.read_text(encoding="utf-8")), str(path), name)
        except FileNotFoundError:
            return None
        except ValueError as exc:
            raise ConfigError(f"{path} is not a workflow state: {exc}",
                              hint="move it away (or start a new run with --restart)") from exc

    def _legacy(self, name: str) -> State | None:
        return self._read(self.directory / f"{name}.json")

    def load(self, name: str, run: str | None = None) -> State | None:
        check_ids(name, run)
        if run is None:
            return latest(self.runs(name), lambda r: self.load(name, r))
        found = self._read(self.directory / name / f"{run}.json", name)
        if found is None and (legacy := self._legacy(name)) is not None and legacy.get("run") == run:
            return legacy
        return found

    def save(self, name: str, state: State) -> None:
        check_ids(name, state["run"])
        directory = self.directory / name
        ensure_private_dir(self.directory)
        ensure_private_dir(directory)
        partial = directory / f".{state['run']}.json.{os.getpid()}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(state, indent=2, sort_keys=True))
        partial.replace(directory / f"{state['run']}.json")

    def runs(self, name: str) -> list[str]:
        found = {p.stem for p in (self.directory / name).glob("*.json")}
        legacy = self._legacy(name)
        return ordered([*found, *([str(legacy["run"])] if legacy and legacy.get("run") not in found else [])])

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted({p.name for p in self.directory.iterdir() if p.is_dir() and any(p.glob("*.json"))}
                      | {p.stem for p in self.directory.glob("*.json")})

    def request_cancel(self, name: str, run: str) -> None:
        ensure_private_dir(self.directory / name)
        (self.directory / name / f"{run}.cancel").touch(mode=0o600)

    def cancel_requested(self, name: str, run: str) -> bool:
        return (self.directory / name / f"{run}.cancel").exists()

    def clear_cancel(self, name: str, run: str) -> None:
        (self.directory / name / f"{run}.cancel").unlink(missing_ok=True)

    def output_uri(self, name: str, run: str, step: str, key: str) -> str | None:
        return None  # local runs write to JOBCTL_OUTPUT_DIR, which the backend reads back


class MemoryStore:
    def __init__(self) -> None:
        self.states: dict[str, dict[str, State]] = {}  # workflow -> run -> state
        self.canceled: set[tuple[str, str]] = set()

    def load(self, name: str, run: str | None = None) -> State | None:
        if run is None:
            return latest(self.runs(name), lambda r: self.load(name, r))
        state = self.states.get(name, {}).get(run)
        return json.loads(json.dumps(state)) if state is not None else None

    def save(self, name: str, state: State) -> None:
        self.states.setdefault(name, {})[state["run"]] = json.loads(json.dumps(state))

    def runs(self, name: str) -> list[str]:
        return ordered(list(self.states.get(name, {})))

    def names(self) -> list[str]:
        return sorted(self.states)

    def request_cancel(self, name: str, run: str) -> None:
        self.canceled.add((name, run))

    def cancel_requested(self, name: str, run: str) -> bool:
        return (name, run) in self.canceled

    def clear_cancel(self, name: str, run: str) -> None:
        self.canceled.discard((name, run))

    def output_uri(self, name: str, run: str, step: str, key: str) -> str | None:
        return None

"""Where a workflow's state lives between (and after) `workflow run` invocations.

The state is one JSON document per workflow, rewritten after every change, so a crashed or
interrupted run resumes from it. Local backends keep it under $JOBCTL_HOME/workflows; the OCI
backend keeps it in Object Storage under the workflow's `state` location.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

from jobctl.paths import ensure_private_dir


class StateStore(Protocol):
    def load(self, name: str) -> dict[str, Any] | None: ...

    def save(self, name: str, state: dict[str, Any]) -> None: ...

    def names(self) -> list[str]: ...

    def output_uri(self, name: str, run: str, step: str, key: str) -> str | None:
        """Where a run should upload its outputs.json, or None when the backend reads them itself."""
        ...


class DirectoryStore:
    """One `<dir>/<workflow>.json` per workflow, written atomically."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def load(self, name: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.directory / f"{name}.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return data

    def save(self, name: str, state: dict[str, Any]) -> None:
        ensure_private_dir(self.directory)
        partial = self.directory / f".{name}.json.{os.getpid()}"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(state, indent=2, sort_keys=True))
        partial.replace(self.directory / f"{name}.json")

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.directory.glob("*.json")) if self.directory.is_dir() else []

    def output_uri(self, name: str, run: str, step: str, key: str) -> str | None:
        return None  # local runs write to JOBCTL_OUTPUT_DIR, which the backend reads back


class MemoryStore:
    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}

    def load(self, name: str) -> dict[str, Any] | None:
        state = self.states.get(name)
        return json.loads(json.dumps(state)) if state is not None else None

    def save(self, name: str, state: dict[str, Any]) -> None:
        self.states[name] = json.loads(json.dumps(state))

    def names(self) -> list[str]:
        return sorted(self.states)

    def output_uri(self, name: str, run: str, step: str, key: str) -> str | None:
        return None

"""The embedded local backend: jobs in SQLite, runs as real detached processes on this machine.

The package itself imports nothing: the launcher that forks runs' supervisors (`python -m
jobctl.backends.local.launcher`, once per command) is a module of it and loads only what a supervisor
uses. The backend is in `backend.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobctl.backends.local.backend import RUNNER_LOST, LocalBackend, create, read_outputs_file

__all__ = ["RUNNER_LOST", "LocalBackend", "create", "read_outputs_file"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from jobctl.backends.local import backend

        return getattr(backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""The embedded local backend: jobs in SQLite, runs as real detached processes on this machine.

The package itself imports nothing: a run's supervisor (`python -m jobctl.backends.local.supervisor`,
or a fork of the launcher of a command's many runs, `launcher.py`) is a module of it and loads only
what it uses. The backend is in `backend.py`.
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

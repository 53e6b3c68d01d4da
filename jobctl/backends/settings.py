"""Typed settings of each backend, built once by the CLI from its options and environment.

Backends read no environment variables themselves (kept import-light for start-up). NamedTuples, not
dataclasses: every command that reaches a backend imports this module, and three frozen dataclasses cost
~2 ms to create at import (issue 18)."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_KEEP_WORKDIRS = 5  # run directories kept per job by the local backend
BUSY_TIMEOUT_SECONDS = 30.0  # how long the local backend waits for another process's database write


class OciSettings(NamedTuple):
    """How to reach OCI; every field is optional and resolved like the oci CLI does."""

    profile: str | None = None
    config_file: str | None = None
    sdk_config_file: str | None = None  # $OCI_CONFIG_FILE: used when neither default config file exists
    auth: str | None = None
    region: str | None = None
    endpoint: str | None = None  # one base URL for every OCI service, e.g. a local fake
    compartment_id: str | None = None  # scope for listings when no spec gives one
    project_id: str | None = None
    fast_retries: bool = False  # tests: retry in milliseconds instead of seconds
    retry_budget: float = 120.0  # seconds one command may spend waiting to retry, over all its calls
    poll_interval: float = 2.0  # seconds between polls of a run's state
    log_settle: float = 10.0  # seconds to keep reading a run's log after it ended (OCI Logging lags)
    log_wait: float = 90.0  # ... and, while none of its lines has arrived, how long at most
    attention_timeout: float = 600.0  # seconds `wait` waits on runs that all need attention (NEEDS_ATTENTION)


class LocalSettings(NamedTuple):
    """Where the local backend keeps its state, and how it treats it."""

    home: Path
    keep_workdirs: int = DEFAULT_KEEP_WORKDIRS
    busy_timeout: float = BUSY_TIMEOUT_SECONDS
    java: str | None = None  # the java local Spark runs on ($JAVA_HOME/bin/java, else on PATH); None: none found
    python: str | None = None  # the interpreter python jobs run with; None: jobctl's own
    python_source: str = "jobctl's own interpreter"  # where that choice came from, for messages


class Settings(NamedTuple):
    """What a backend factory is given."""

    local: LocalSettings
    oci: OciSettings = OciSettings()

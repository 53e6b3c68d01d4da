"""Typed settings of each backend, built once by the CLI from its options and environment.

Backends read no environment variables themselves (kept import-light for start-up). Records, not dataclasses
(nor NamedTuples, whose string annotations are compiled one by one): every command that reaches a backend
imports this module, and its three frozen dataclasses cost ~2 ms to create at import (issue 18)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobctl.model.record import Record

if TYPE_CHECKING:
    from pathlib import Path

DEFAULT_KEEP_WORKDIRS = 5  # run directories kept per job by the local backend
BUSY_TIMEOUT_SECONDS = 30.0  # how long the local backend waits for another process's database write


class OciSettings(Record):
    """How to reach OCI; every field is optional and resolved like the oci CLI does."""

    __slots__ = ("attention_timeout", "auth", "compartment_id", "config_file", "endpoint", "fast_retries",
                 "log_settle", "log_wait", "poll_interval", "profile", "project_id", "region", "retry_budget",
                 "sdk_config_file")
    profile: str | None
    config_file: str | None
    sdk_config_file: str | None  # $OCI_CONFIG_FILE: used when neither default config file exists
    auth: str | None
    region: str | None
    endpoint: str | None  # one base URL for every OCI service, e.g. a local fake
    compartment_id: str | None  # scope for listings when no spec gives one
    project_id: str | None
    fast_retries: bool  # tests: retry in milliseconds instead of seconds
    retry_budget: float  # seconds one command may spend waiting to retry, over all its calls
    poll_interval: float  # seconds between polls of a run's state
    log_settle: float  # seconds to keep reading a run's log after it ended (OCI Logging lags)
    log_wait: float  # ... and, while none of its lines has arrived, how long at most
    attention_timeout: float  # seconds `wait` waits on runs that all need attention (NEEDS_ATTENTION)

    def __init__(self, *, profile: str | None = None, config_file: str | None = None,
                 sdk_config_file: str | None = None, auth: str | None = None, region: str | None = None,
                 endpoint: str | None = None, compartment_id: str | None = None, project_id: str | None = None,
                 fast_retries: bool = False, retry_budget: float = 120.0, poll_interval: float = 2.0,
                 log_settle: float = 10.0, log_wait: float = 90.0, attention_timeout: float = 600.0) -> None:
        self._assign(locals())


class LocalSettings(Record):
    """Where the local backend keeps its state, and how it treats it."""

    __slots__ = ("busy_timeout", "fork", "home", "java", "keep_workdirs", "python", "python_source")
    home: Path
    keep_workdirs: int
    busy_timeout: float
    java: str | None  # the java local Spark runs on ($JAVA_HOME/bin/java, else on PATH); None: none found
    python: str | None  # the interpreter python jobs run with; None: jobctl's own
    python_source: str  # where that choice came from, for messages
    fork: bool  # the command is its whole process (jobctl's own entry point): it may fork itself

    def __init__(self, home: Path, *, keep_workdirs: int = DEFAULT_KEEP_WORKDIRS,
                 busy_timeout: float = BUSY_TIMEOUT_SECONDS, java: str | None = None, python: str | None = None,
                 python_source: str = "jobctl's own interpreter", fork: bool = False) -> None:
        self._assign(locals())


class Settings(Record):
    """What a backend factory is given."""

    __slots__ = ("local", "oci")
    local: LocalSettings
    oci: OciSettings

    def __init__(self, local: LocalSettings, oci: OciSettings | None = None) -> None:
        oci = OciSettings() if oci is None else oci
        self._assign(locals())

"""Settings for reaching OCI, as the CLI collects them (kept import-light for start-up)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OciSettings:
    """How to reach OCI; every field is optional and resolved like the oci CLI does."""

    profile: str | None = None
    config_file: str | None = None
    auth: str | None = None
    region: str | None = None
    endpoint: str | None = None  # one base URL for every OCI service, e.g. a local fake
    compartment_id: str | None = None  # scope for listings when no spec gives one
    project_id: str | None = None
    fast_retries: bool = False  # tests: retry in milliseconds instead of seconds

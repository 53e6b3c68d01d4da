"""What a run started with an idempotency key carries, so that a retry can prove a run it finds is that key's and
was started by the same request: digests only (a key, a request, the fields a run sets), never a value, which may
be secret. OCI keeps them as the run's freeform tags; the local backend with the run."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

KEY_MARK = "jobctl-run-key"  # the digest of the idempotency key that started the run
REQUEST_MARK = "jobctl-run-request"  # the digest of the whole request (request_digest)
START_MARK = "jobctl-run-start"  # which command started it: a retry (another command) re-attached to it
SET_MARK = "jobctl-run-set-"  # + a field's attribute: the digest of what the run set it to (`run --set`)


def digest(value: Any) -> str:
    """A short digest of a value as JSON (2 and 2.0 alike: a spec's 2 is OCI's 2.0)."""
    import hashlib  # a read command that lists runs does not pay for it

    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def retry_token(*parts: str) -> str:
    """A deterministic opc-retry-token: a retried or re-run apply (or run with a key) never creates a duplicate."""
    import hashlib

    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:64]


def key_digest(key: str) -> str:
    """The digest an idempotency key leaves on its runs (and, when its run name could not hold the key as
    given, in that name)."""
    import hashlib

    return hashlib.sha256(f"jobctl idempotency key\0{key}".encode()).hexdigest()[:16]


def request_digest(parts: Mapping[str, Any]) -> str:
    """The digest of a whole request, from its parts (job_request_parts, or a Data Flow run's request_parts)."""
    return digest(parts)


def job_request_parts(env: Mapping[str, str], args: Sequence[str], settings: Mapping[str, Any]) -> dict[str, Any]:
    """What a request made of a job's run, each part a digest: its env by name, its args, and each field its
    `--set` changes, by attribute."""
    return {"env": {name: digest(value) for name, value in env.items()}, "args": digest(list(args)),
            "set": set_digests(settings)}


def set_digests(settings: Mapping[str, Any]) -> dict[str, str]:
    return {attr: digest(value) for attr, value in settings.items()}


def marks_of(tags: Mapping[str, str] | None) -> dict[str, str]:
    """The marks among a run's tags (OCI's freeform tags)."""
    return {name: text for name, text in (tags or {}).items()
            if name in (KEY_MARK, REQUEST_MARK, START_MARK) or name.startswith(SET_MARK)}


def set_marks(settings: Mapping[str, Any]) -> dict[str, str]:
    return {SET_MARK + attr: text for attr, text in set_digests(settings).items()}


def marked_settings(marks: Mapping[str, str]) -> dict[str, str]:
    """The digests of the fields a run set, by attribute, as its marks keep them."""
    return {name.removeprefix(SET_MARK): text for name, text in marks.items() if name.startswith(SET_MARK)}

"""Wire formats shared by every route: timestamps, OCIDs, page tokens and JSON bodies."""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
from datetime import datetime, timezone
from typing import Any

from jobctl.testing.fake_oci.errors import invalid

REGION_KEYS = {
    "us-ashburn-1": "iad",
    "us-phoenix-1": "phx",
    "eu-frankfurt-1": "fra",
    "uk-london-1": "lhr",
    "ap-tokyo-1": "nrt",
}
_OCID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$"
)


def format_time(epoch: float) -> str:
    """`YYYY-MM-DDTHH:MM:SS.mmmZ`, the form the SDK parses on its fast path (as OCI sends it)."""
    millis = int(epoch * 1000)
    whole = datetime.fromtimestamp(millis // 1000, tz=timezone.utc)
    return whole.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis % 1000:03d}Z"


def parse_time(text: str, field: str) -> float:
    """Epoch seconds from an RFC 3339 timestamp; a timestamp without a zone is rejected."""
    match = _RFC3339.match(text)
    if not match:
        raise invalid(f"{field} must be an RFC 3339 timestamp with a time zone, got {text!r}")
    day, clock, fraction, zone = match.groups()
    micros = (fraction or "0").ljust(6, "0")[:6]
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}.{micros}{zone}")
    except ValueError as error:
        raise invalid(f"{field} is not a valid timestamp: {text!r}") from error
    return moment.timestamp()


def region_key(region: str) -> str:
    return REGION_KEYS.get(region, region)


def new_ocid(resource_type: str, region: str, rng: random.Random) -> str:
    """An OCID shaped like OCI's: `ocid1.<type>.oc1.<region key>.<unique>`."""
    unique = "".join(rng.choices(_OCID_ALPHABET, k=60))
    return f"ocid1.{resource_type}.oc1.{region_key(region)}.amaaaaaa{unique}"


def encode_page(offset: int) -> str:
    """An opaque `opc-next-page` token for the given position in a result list."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def decode_page(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded.encode()))["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise invalid(f"page token {token!r} is not valid") from error
    if not isinstance(offset, int) or offset < 0:
        raise invalid(f"page token {token!r} is not valid")
    return offset


def to_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def page_window(count: int, limit: str | None, page: str | None, max_limit: int,
                default_limit: int | None = None) -> tuple[int, int, str | None]:
    """(start, stop, next page token) for one page of a list of `count` items."""
    if limit is None:
        size = default_limit or max_limit
    else:
        try:
            size = int(limit)
        except ValueError as error:
            raise invalid(f"limit must be an integer, got {limit!r}") from error
        if not 1 <= size <= max_limit:
            raise invalid(f"limit must be between 1 and {max_limit}")
    start = decode_page(page) if page else 0
    stop = min(start + size, count)
    return start, stop, (encode_page(stop) if stop < count else None)

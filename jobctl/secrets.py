"""Which values are secret-looking, and how they are shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL", re.IGNORECASE)
MASK = "(sensitive)"


def is_secret(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def mask_env(env: Mapping[str, str], show: bool = False) -> dict[str, str]:
    return {k: (v if show or not is_secret(k) else MASK) for k, v in env.items()}


def mask_field(field: str, value: Any, show: bool = False) -> Any:
    """A plan field's value as shown: MASK for a secret-looking `runtime.env.NAME` (None stays None)."""
    if value is None or show or not field.startswith("runtime.env.") or not is_secret(field.rsplit(".", 1)[1]):
        return value
    return MASK

"""Machine output: JSON or YAML, stable keys, for scripts and CI."""

from __future__ import annotations

import json
from typing import Any

API_VERSION = "jobctl/v1"


def envelope(kind: str, items: list[Any]) -> dict[str, Any]:
    """The versioned wrapper every list output uses: {apiVersion, kind, items}."""
    return {"apiVersion": API_VERSION, "kind": kind, "items": items}


def dumps(value: Any, fmt: str) -> str:
    """Serialize for `-o json` / `-o yaml`; the text ends with a newline."""
    if fmt == "yaml":
        import yaml

        text: str = yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False)
        return text
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"

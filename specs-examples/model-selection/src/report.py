"""Report results for `jobctl workflow` (jobctl.outputs when installed, else the same file by hand)."""

from __future__ import annotations

import json
import os

try:
    from jobctl.outputs import write
except ImportError:  # jobctl is not installed where the job runs: write what jobctl.outputs would
    def write(values: dict) -> str:  # type: ignore[misc]
        path = os.path.join(os.environ.get("JOBCTL_OUTPUT_DIR", "."), "outputs.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(values, fh)
        return path

"""Storage mounts as every part of jobctl names them (a module of its own: `validate` needs these
two facts without loading the job model)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

DEFAULT_MOUNT_PATH = "/mnt"  # the schema's default destinationPath, sent explicitly: see docs/oci-fidelity.md


def mount_variable(mount: Mapping[str, Any]) -> str:
    """JOBCTL_MOUNT_<NAME>: the variable that holds a storage mount's path in a run, locally and on OCI."""
    return "JOBCTL_MOUNT_" + re.sub(r"[^A-Z0-9]", "_", str(mount["destinationDirectoryName"]).upper())

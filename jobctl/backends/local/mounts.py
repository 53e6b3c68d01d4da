"""Storage mounts of a local run: each mount is a directory under $JOBCTL_HOME/mounts, found by the run
at $JOBCTL_MOUNT_<NAME> — the variable that holds the mount's path on OCI too.

    OBJECT_STORAGE  $JOBCTL_HOME/mounts/object-storage/<namespace>/<bucket>[/<prefix>]
    FILE_STORAGE    $JOBCTL_HOME/mounts/file-storage/<exportId>, or, for an export named by its path,
                    $JOBCTL_HOME/mounts/file-storage/<mountTargetIp or mountTargetId><exportPath>

Put (or symlink) the data there to test a job on this machine; what a run writes stays there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jobctl.model.mounts import mount_variable


def local_path(home: Path, mount: Mapping[str, Any]) -> Path:
    """The directory that stands in for a mount on this machine."""
    if mount["storageType"] == "OBJECT_STORAGE":
        path = home / "mounts" / "object-storage" / str(mount["namespace"]) / str(mount["bucket"])
        prefix = str(mount.get("prefix") or "").strip("/")
        return path / prefix if prefix and ".." not in prefix.split("/") else path
    if mount.get("exportId"):
        return home / "mounts" / "file-storage" / str(mount["exportId"])
    target = mount.get("mountTargetIp") or mount["mountTargetId"]  # the schema keeps the path free of . and ..
    return home / "mounts" / "file-storage" / str(target) / str(mount["exportPath"]).strip("/")


def mount_environment(home: Path, mounts: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """JOBCTL_MOUNT_<NAME> for each mount, its directory made if missing."""
    env = {}
    for mount in mounts:
        path = local_path(home, mount)
        path.mkdir(parents=True, exist_ok=True)
        env[mount_variable(mount)] = str(path)
    return env

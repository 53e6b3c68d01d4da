"""File Storage mounts named as one mounts them: the mount target by its IP address, the export by its
path (`mountTargetIp`, `exportPath`; ADS writes `<IP>:<path>`, its user guide `<IP>@<path>`). OCI's job
API takes OCIDs only, so the oci backend looks them up before it plans:

1. The mount target. Resource Search, free text, for the IP (what ADS does: ads/common/dsc_file_system.py)
   yields the private IPs whose attributes hold it; each is read (GetPrivateIp) and kept only when its
   address is exactly the IP. A free-text search for each kept private IP's OCID yields the mount targets
   that name it; each is read (GetMountTarget) and kept only when ACTIVE and holding that private IP.
2. The export: the ACTIVE export of the mount target's export set (ListExports) whose path is exactly the
   path. Paths are unique within an export set.

Search is fuzzy and eventually consistent: what it yields is only a candidate until a read confirms it, so
a loose match never becomes a wrong mount. Exactly one match, or an error saying what was found.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jobctl.backends.oci.paging import list_all
from jobctl.errors import Diagnostic, NotFoundError, UnresolvedError

_BY_NAME = ("mountTargetIp", "exportPath")
_HINT = ("check the address and path (`oci fs mount-target get`, `oci fs export list`), that you may read "
         "file-family and virtual-network-family where they are (README, IAM policies), or name them by OCID; a "
         "mount target made in the last few minutes may not be searchable yet")


class _Unresolved(Exception):
    def __init__(self, message: str, *, not_found: bool = True) -> None:
        super().__init__(message)
        self.not_found = not_found


def needs_lookup(mounts: Sequence[Mapping[str, Any]]) -> bool:
    return any(key in mount for mount in mounts for key in _BY_NAME)


class MountLookup:
    """Mount targets by IP and exports by path, each looked up once per command."""

    def __init__(self, call: Callable[..., Any], client: Callable[[str], Any]) -> None:
        self._call = call  # OciBackend._call: service errors as jobctl errors
        self._client = client  # "file_storage" / "virtual_network" / "resource_search" -> an SDK client
        self._targets: dict[str, str] = {}  # IP -> mount target OCID
        self._exports: dict[tuple[str, str], str] = {}  # (mount target OCID, path) -> export OCID
        self._read: dict[str, Any] = {}  # mount target OCID -> the mount target

    def resolve(self, mounts: Sequence[Mapping[str, Any]],
                where: Callable[[str], Diagnostic]) -> tuple[dict[str, Any], ...]:
        """`mounts` with each mountTargetIp / exportPath replaced by the OCID it names; every mount that
        cannot be looked up is an error at once, located by `where` (spec path -> where it is written)."""
        resolved = []
        problems: list[tuple[Diagnostic, bool]] = []  # (located message, not found)
        for index, mount in enumerate(mounts):
            out = {key: value for key, value in mount.items() if key not in _BY_NAME}
            try:
                field = "mountTargetIp" if "mountTargetIp" in mount else "mountTargetId"
                if "mountTargetIp" in mount:
                    out["mountTargetId"] = self.target(str(mount["mountTargetIp"]))
                if "exportPath" in mount:
                    field = "exportPath"
                    out["exportId"] = self.export(str(out["mountTargetId"]), str(mount["exportPath"]))
            except _Unresolved as exc:
                site = where(f"spec.storageMounts[{index}].{field}")
                problems.append((site._replace(message=str(exc)), exc.not_found))
            resolved.append(out)
        if problems:
            raise UnresolvedError([d for d, _ in problems], not_found=any(nf for _, nf in problems), hint=_HINT)
        return tuple(resolved)

    def target(self, ip: str) -> str:
        if ip not in self._targets:
            private_ips = [found.identifier for found in self._search(ip) if found.resource_type == "PrivateIp"
                           and self._get("virtual_network", "get_private_ip", found.identifier).ip_address == ip]
            found = sorted({target for private_ip in private_ips for target in self._targets_naming(private_ip)})
            if not found:
                raise _Unresolved(f"no mount target you can see has the IP {ip}")
            if len(found) > 1:
                raise _Unresolved(f"{len(found)} mount targets have the IP {ip} (in different networks): "
                                  f"{', '.join(found)}; name the one you mean by mountTargetId", not_found=False)
            self._targets[ip] = found[0]
        return self._targets[ip]

    def _targets_naming(self, private_ip: str) -> list[str]:
        candidates = {found.identifier for found in self._search(private_ip) if found.resource_type == "MountTarget"}
        return [target for target in candidates
                if self._mount_target(target).lifecycle_state == "ACTIVE"
                and private_ip in (self._mount_target(target).private_ip_ids or [])]

    def export(self, target: str, path: str) -> str:
        key = (target, path)
        if key not in self._exports:
            try:
                export_set = self._mount_target(target).export_set_id
            except NotFoundError as exc:
                raise _Unresolved(f"mount target {target} does not exist, or you may not read it") from exc
            exports = [e for e in list_all(self._call, "listing exports", self._client("file_storage").list_exports,
                                           export_set_id=export_set, limit=100) if e.lifecycle_state == "ACTIVE"]
            match = [e.id for e in exports if e.path == path]
            if not match:
                paths = ", ".join(sorted(e.path for e in exports)) or "none"
                raise _Unresolved(f"mount target {target} has no export {path} (its exports: {paths})")
            self._exports[key] = match[0]
        return self._exports[key]

    def _mount_target(self, target: str) -> Any:
        if target not in self._read:
            self._read[target] = self._get("file_storage", "get_mount_target", target)
        return self._read[target]

    def _get(self, client: str, operation: str, ocid: str) -> Any:
        return self._call(f"reading {ocid}", getattr(self._client(client), operation), ocid).data

    def _search(self, text: str) -> list[Any]:
        from oci.resource_search.models import FreeTextSearchDetails

        details = FreeTextSearchDetails(text=text, matching_context_type="NONE")
        return list_all(self._call, "searching resources", self._client("resource_search").search_resources,
                        details, limit=1000, collection=True)

"""ADS job YAML (oracle/accelerated-data-science), translated into a jobctl/v1 document before validation.

An ADS document (`kind: job`, `spec.infrastructure` of type dataScienceJob, `spec.runtime` of type python,
script or container) becomes the `kind: Job` document jobctl would have read, and everything after that
(schema, source checks, plan, apply) is unchanged. The translated document keeps the ADS file's
positions and field names: each translated path maps back to the ADS field it came from, so a later
error reads `ads.yaml:12:16: spec.infrastructure.spec.shapeName: ...`. What jobctl cannot honour yet is
an error naming the field, never a silent drop. docs/ads.md lists the mapping.
"""

from __future__ import annotations

import json
import posixpath
import re
import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jobctl.errors import Diagnostic
from jobctl.model.job import name_from_display
from jobctl.spec.document import Document, JsonPath, Position, Site, format_path, lookup, spec_dir

API_VERSION = "jobctl/v1"
ADS_API_VERSIONS = ("v1.0",)
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")

# canonical camelCase name -> (snake_case spellings ADS also reads, None if supported else why not yet)
Known = Mapping[str, tuple[tuple[str, ...], str | None]]
_EMPTY: tuple[str, ...] = ()
_TAGS = "jobctl/v1 has freeform labels only"
TOP: Known = {"kind": (_EMPTY, None), "apiVersion": (_EMPTY, None), "spec": (_EMPTY, None)}
JOB: Known = {"name": (_EMPTY, None), "id": (_EMPTY, None), "infrastructure": (_EMPTY, None), "runtime": (_EMPTY, None)}
SECTION: Known = {"kind": (_EMPTY, None), "type": (_EMPTY, None), "spec": (_EMPTY, None), "apiVersion": (_EMPTY, None)}
INFRASTRUCTURE: Known = {
    "compartmentId": (("compartment_id",), None),
    "projectId": (("project_id",), None),
    "displayName": (("display_name",), None),
    "jobType": (("job_type",), None),
    "jobInfrastructureType": (("job_infrastructure_type",), None),
    "shapeName": (("shape_name",), None),
    "shapeConfigDetails": (("shape_config_details", "job_shape_config_details"), None),
    "blockStorageSize": (("block_storage_size", "block_storage_size_in_gbs"), None),
    "subnetId": (("subnet_id",), None),
    "logGroupId": (("log_group_id",), None),
    "logId": (("log_id",), None),
    "freeformTags": (("freeform_tags",), None),
    "id": (_EMPTY, None),
    "storageMount": (("storage_mount",), None),
    "definedTags": (("defined_tags",), _TAGS),
}
MOUNT: Known = {"src": (_EMPTY, None), "dest": (_EMPTY, None)}
GIT: Known = {"url": (_EMPTY, None), "branch": (_EMPTY, None), "commit": (_EMPTY, None),
              "gitSecretId": (("git_secret_id",), None)}
DEPENDENCIES: Known = {"pipRequirements": (("pip_requirements",), None), "pipPackages": (("pip_packages",), None)}
SHAPE_CONFIG: Known = {
    "ocpus": (_EMPTY, None), "memoryInGBs": (("memory_in_gbs",), None), "cpuBaseline": (("cpu_baseline",), ""),
}
CONDA: Known = {"type": (_EMPTY, None), "slug": (_EMPTY, None), "uri": (_EMPTY, None), "region": (_EMPTY, "")}
ENV_ITEM: Known = {"name": (_EMPTY, None), "value": (_EMPTY, None)}
RUNTIME_COMMON: Known = {
    "env": (_EMPTY, None), "args": (_EMPTY, None),
    "maximumRuntimeInMinutes": (("maximum_runtime_in_minutes",), None),
    "freeformTags": (("freeform_tags",), None), "definedTags": (("defined_tags",), _TAGS),
}
_SCRIPT: Known = {
    "scriptPathURI": (("script_path_uri",), None), "entrypoint": (_EMPTY, None), "conda": (_EMPTY, None),
}
RUNTIMES: Mapping[str, Known] = {
    "python": {
        **_SCRIPT,
        "workingDir": (("working_dir",), None),
        "pythonPath": (("python_path",), None),
        "entryFunction": (("entry_function",), None),
        "outputDir": (("output_dir",), None),
        "outputUri": (("output_uri",), None),
    },
    "script": _SCRIPT,
    "notebook": {
        "notebookPathURI": (("notebook_path_uri",), None), "source": (_EMPTY, None), "entrypoint": (_EMPTY, None),
        "notebookEncoding": (("notebook_encoding",), None), "excludeTags": (("exclude_tags", "excludeTag"), None),
        "outputUri": (("output_uri", "outputURI"), None), "conda": (_EMPTY, None),
    },
    "pyTorchDistributed": {
        **_SCRIPT,
        "replicas": (("replica",), None), "command": (_EMPTY, None), "git": (_EMPTY, None),
        "dependencies": (_EMPTY, None), "inputs": (_EMPTY, None), "workingDir": (("working_dir",), None),
        "pythonPath": (("python_path",), None), "entryFunction": (("entry_function",), None),
        "outputDir": (("output_dir",), None), "outputUri": (("output_uri",), None),
        "deepspeed": (_EMPTY, "jobctl runs torchrun or a command of yours; give the deepspeed command"),
    },
    "gitPython": {
        "url": (_EMPTY, None), "branch": (_EMPTY, None), "commit": (_EMPTY, None),
        "gitSecretId": (("git_secret_id",), None), "entrypoint": (_EMPTY, None), "conda": (_EMPTY, None),
        "workingDir": (("working_dir",), None), "pythonPath": (("python_path",), None),
        "entryFunction": (("entry_function",), None), "outputDir": (("output_dir",), None),
        "outputUri": (("output_uri",), None),
        "skipMetadataUpdate": (("skip_metadata_update",), None),  # jobctl writes no run metadata: nothing to skip
    },
    "container": {
        "image": (_EMPTY, None), "imageDigest": (("image_digest",), None), "cmd": (_EMPTY, None),
        "entrypoint": (_EMPTY, None), "scriptPathURI": (("script_path_uri",), None),
        "imageSignatureId": (("image_signature_id",), ""), "replica": (_EMPTY, "jobctl runs single-node jobs"),
    },
}
NOT_YET_RUNTIMES = ("dataFlowNotebook", "operator")
NOT_YET_INFRASTRUCTURES = ("kubernetesJob",)
FieldMap = dict[str, tuple[Any, JsonPath]]  # canonical name -> (value, ADS path as written)


def is_ads_document(data: Mapping[str, Any]) -> bool:
    """ADS spells the kind `job`; jobctl/v1 spells it `Job` (a jobctl/v1 typo stays a schema error)."""
    return data.get("kind") == "job" and data.get("apiVersion") != API_VERSION


class AdsDocument(Document):
    """A translated document: jobctl/v1 data, with positions and field names from the ADS file."""

    __slots__ = ("ads_key_paths", "ads_paths")
    ads_paths: dict[JsonPath, JsonPath]
    ads_key_paths: dict[JsonPath, JsonPath]  # where a key was a value (env names)

    def __init__(self, file: str, path: Path, index: int, data: dict[str, Any], start: Position, *,
                 values: dict[JsonPath, Position], keys: dict[JsonPath, Position],
                 ads_paths: dict[JsonPath, JsonPath], ads_key_paths: dict[JsonPath, JsonPath]) -> None:
        sites: list[Site] = []
        written: dict[JsonPath, str] = {}
        checked = False  # (checked as translated, by the schema, every time)
        self._assign(locals())

    def ads_path(self, path: JsonPath, *, at_key: bool = False) -> JsonPath:
        """The ADS field a translated path came from (the nearest mapped parent plus the rest)."""
        if at_key and path in self.ads_key_paths:
            return self.ads_key_paths[path]
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.ads_paths:
                return self.ads_paths[path[:cut]] + path[cut:]
        return path

    def diagnostic(self, path: JsonPath, message: str, *, at_key: bool = False) -> Diagnostic:
        line, column = self.position(path, prefer_key=at_key)
        return Diagnostic(self.file, line, column, format_path(self.ads_path(path, at_key=at_key)), message)


def translate_ads_documents(
    documents: Iterable[Document], failed: Iterable[Diagnostic] = (),
) -> tuple[list[Document], list[Diagnostic]]:
    """ADS documents translated, others as they were; an ADS document that cannot be translated is dropped
    and explained. Problems at paths in `failed` (already reported, e.g. an unset variable) are left out."""
    failed_paths = {d.path for d in failed}
    kept: list[Document] = []
    problems: list[Diagnostic] = []
    for document in documents:
        if not is_ads_document(document.data):
            kept.append(document)
            continue
        translated, document_problems = translate(document)
        problems.extend(d for d in document_problems if d.path not in failed_paths)
        if translated is not None:
            kept.append(translated)
    return kept, problems


def translate(document: Document) -> tuple[AdsDocument | None, list[Diagnostic]]:
    """One ADS document as jobctl/v1, or the located reasons it cannot be translated."""
    translator = _Translator(document)
    translated = translator.run()
    return (None if translator.problems else translated), translator.problems


def _is_empty(value: Any) -> bool:
    return value is None or value in ("", [], {})


def _env_text(value: Any) -> Any:
    """An env value as ADS sends it: null is empty, a number or boolean its JSON text."""
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, bool | int | float) else value


_ENV_REFERENCE = re.compile(r"\$(?:(\$)|\{([^}]*)\})")
_MAX_DEPTH = 10  # configparser's MAX_INTERPOLATION_DEPTH, which ADS's env parser inherits


MAX_ENV_VALUE = 32 * 1024  # an env value jobctl accepts, filled in: OCI passes env to the run on its command line


class _EnvProblem(Exception):
    pass


def interpolate_env(env: dict[str, Any]) -> list[tuple[str, str]]:
    """Fill `${NAME}` in env values from the job's other env entries, in place, as ADS does before it
    creates a job (ads/jobs/env_var_parser.py): `$$` is `$`, a `${NAME}` with no such entry and any other
    `$` stay as written. Returns (name, problem) for references that loop, nest too deep, or expand past
    MAX_ENV_VALUE (a few bytes that refer to each other can otherwise fill any memory)."""
    raw = {k: v for k, v in env.items() if isinstance(v, str)}
    done: dict[str, str] = {}
    problems: list[tuple[str, str]] = []

    def resolve(name: str, chain: tuple[str, ...]) -> str:
        if name in done:
            return done[name]
        if name in chain:
            raise _EnvProblem(f"refers back to itself: {' -> '.join((*chain, name))}")
        if len(chain) > _MAX_DEPTH:
            raise _EnvProblem(f"nests references more than {_MAX_DEPTH} deep: {' -> '.join((*chain, name))}")
        size = 0

        def one(match: re.Match[str]) -> str:
            nonlocal size
            ref = match.group(2)
            text = "$" if match.group(1) else resolve(ref, (*chain, name)) if ref in raw else match.group(0)
            size += len(text)
            if size > MAX_ENV_VALUE:
                raise _EnvProblem(f"expands to more than {MAX_ENV_VALUE // 1024} KiB")
            return text

        value = _ENV_REFERENCE.sub(one, raw[name])
        if len(value) > MAX_ENV_VALUE:
            raise _EnvProblem(f"expands to more than {MAX_ENV_VALUE // 1024} KiB")
        done[name] = value
        return value

    for name in raw:
        try:
            env[name] = resolve(name, ())
        except _EnvProblem as problem:
            problems.append((name, f"env {name!r} {problem}"))
    return problems


class _Translator:
    def __init__(self, source: Document) -> None:
        self.src = source
        self.base_dir = spec_dir(source.path)
        self.problems: list[Diagnostic] = []
        self.data: dict[str, Any] = {"apiVersion": API_VERSION, "kind": "Job", "metadata": {}, "spec": {}}
        self.origins: dict[JsonPath, JsonPath] = {
            (): (), ("apiVersion",): ("kind",), ("kind",): ("kind",), ("metadata",): ("spec",), ("spec",): ("spec",),
        }
        self.key_origins: dict[JsonPath, JsonPath] = {}
        self.working: tuple[str, JsonPath] | None = None  # workingDir, relative to the source as jobctl has it

    # --- plumbing ---------------------------------------------------------------------------------

    def error(self, path: JsonPath, message: str, *, at_key: bool = False) -> None:
        self.problems.append(self.src.diagnostic(path, message, at_key=at_key))

    def put(self, new: JsonPath, value: Any, ads: JsonPath) -> None:
        """Set `value` at `new` in the translated data; it and everything inside it map back to `ads`."""
        parent: dict[str, Any] = self.data
        for part in new[:-1]:
            parent = parent.setdefault(str(part), {})
        parent[str(new[-1])] = self._copy(value, new, ads)

    def _copy(self, value: Any, new: JsonPath, ads: JsonPath) -> Any:
        self.origins[new] = ads
        if isinstance(value, dict):
            return {k: self._copy(v, (*new, k), (*ads, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self._copy(v, (*new, i), (*ads, i)) for i, v in enumerate(value)]
        return value

    def fields(self, path: JsonPath, known: Known) -> FieldMap | None:
        """The mapping at `path` by canonical name; unknown and not-yet-supported fields are errors."""
        value = lookup(self.src.data, path)
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping, got {type(value).__name__ if value is not None else 'null'}")
            return None
        snake = {alias.lower(): name for name, (aliases, _) in known.items() for alias in aliases}
        found: FieldMap = {}
        for key, item in value.items():
            item_path = (*path, key)
            name = key if key in known else snake.get(key.lower())
            if name is None:
                import difflib

                close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else f"; known here: {', '.join(known)}"
                self.error(item_path, f"unknown ADS field {format_path(item_path)!r}{hint}", at_key=True)
            elif name in found:
                first = found[name][1][-1]
                self.error(item_path, f"{key!r} is the same ADS field as {first!r}, given twice", at_key=True)
            elif known[name][1] is not None:
                if not _is_empty(item):
                    reason = known[name][1]
                    message = f"ADS field {format_path(item_path)!r} is not supported yet"
                    self.error(item_path, message + (f": {reason}" if reason else ""), at_key=True)
            elif item is not None or known is ENV_ITEM:  # a null says nothing (ADS exports write unset
                found[name] = (item, item_path)  # fields so), but an env value: that is empty
        return found

    def require(self, fields: FieldMap, name: str, where: JsonPath, why: str = "") -> tuple[Any, JsonPath] | None:
        if name not in fields:
            self.error(where, f"missing required field {name!r}" + (f" ({why})" if why else ""), at_key=True)
            return None
        return fields[name]

    # --- the document -----------------------------------------------------------------------------

    def run(self) -> AdsDocument | None:
        top = self.fields((), TOP)
        if top is None:
            return None
        if "apiVersion" in top and top["apiVersion"][0] not in ADS_API_VERSIONS:
            self.error(("apiVersion",), f"ADS apiVersion must be {', '.join(ADS_API_VERSIONS)} (or omitted); "
                       f"got {top['apiVersion'][0]!r}")
        if self.require(top, "spec", ()) is None:
            return None
        job = self.fields(("spec",), JOB)
        if job is None:
            return None
        infra = self.section(job, "infrastructure", ("dataScienceJob", "dataFlow"), NOT_YET_INFRASTRUCTURES)
        runtime = self.section(job, "runtime", (*RUNTIMES, "dataFlow"), NOT_YET_RUNTIMES)
        if "dataFlow" in (infra or ("",))[:1] + (runtime or ("",))[:1]:
            if not (infra and runtime):
                return None  # what is missing or wrong with the other is said
            if infra[0] != runtime[0]:  # a Data Flow application is both, or neither
                side, other = ("runtime", infra[0]) if runtime[0] == "dataFlow" else ("infrastructure", runtime[0])
                self.error(("spec", side, "type"), f"a dataFlow {side} goes with a dataFlow "
                           f"{'infrastructure' if side == 'runtime' else 'runtime'}, not {other!r}")
                return None
            from jobctl.spec import ads_dataflow

            ads_dataflow.translate(self, job, infra[1], runtime[1])
            return None if self.problems else self.document()
        infra_fields = self.fields(infra[1], INFRASTRUCTURE) if infra else None
        if infra and infra_fields is not None:
            self.infrastructure(infra[1], infra_fields)
        if runtime:
            self.runtime(*runtime)
        self.name(job, infra_fields or {})  # after the env: ADS fills `$VAR` in the name from it
        return None if self.problems else self.document()

    def section(self, job: FieldMap, name: str, supported: tuple[str, ...],
                not_yet: tuple[str, ...]) -> tuple[str, JsonPath] | None:
        """`spec.infrastructure` / `spec.runtime`: its type and the path of its spec."""
        found = self.require(job, name, ("spec",))
        if found is None:
            return None
        path = found[1]
        section = self.fields(path, SECTION)
        if section is None:
            return None
        if "kind" in section and section["kind"][0] != name:
            self.error(section["kind"][1], f"must be {name!r}; got {section['kind'][0]!r}")
        kind = self.require(section, "type", path)
        spec = self.require(section, "spec", path)
        if kind is None or spec is None:
            return None
        if kind[0] in supported:
            return str(kind[0]), spec[1]
        if kind[0] in not_yet:
            self.error(kind[1], f"ADS {name} type {kind[0]!r} is not supported yet (supported: {', '.join(supported)})")
        else:
            import difflib

            close = difflib.get_close_matches(str(kind[0]), [*supported, *not_yet], n=1, cutoff=0.5)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.error(kind[1], f"unknown ADS {name} type {kind[0]!r}{hint}; jobctl supports {', '.join(supported)}")
        return None

    def name(self, job: FieldMap, infra: FieldMap) -> None:
        """spec.name (or the infrastructure's displayName) is the job's display name, as in ADS; the
        jobctl name is derived from it (`My Job` -> `my-job`) unless it is one already."""
        given = job.get("name") or infra.get("displayName")
        if given is None:
            self.error(("spec",), "missing required field 'name' (jobctl identifies a job by its name)", at_key=True)
            return
        display, path = given
        other = infra.get("displayName")
        if other is not None and other[1] != path and other[0] != display:
            self.error(other[1], f"displayName {other[0]!r} differs from the job name {display!r}; remove one")
        if not isinstance(display, str) or not display.strip():
            self.error(path, f"expected a job name (text), got {display!r}")
            return
        env = self.data["spec"].get("runtime", {}).get("env", {})
        display = string.Template(display).safe_substitute(env)  # as ADS's DataScienceJob.create does
        name = name_from_display(display)
        if not name:
            self.error(path, f"ADS job name {display!r} has no ASCII letters or digits to make a jobctl name from; "
                       "give the job a name that has some")
            return
        self.put(("metadata", "name"), name, path)
        if name != display:
            self.put(("metadata", "displayName"), display, path)

    # --- infrastructure ---------------------------------------------------------------------------

    def infrastructure(self, path: JsonPath, infra: FieldMap) -> None:
        for name in ("compartmentId", "projectId"):
            if name in infra:
                self.put(("spec", name), *infra[name])
        self.origins[("spec", "infrastructure")] = path
        target = ("spec", "infrastructure")
        shape = self.require(infra, "shapeName", path, "jobctl has no notebook session to take it from")
        if shape is not None:
            self.put((*target, "shape"), *shape)
        if "shapeConfigDetails" in infra:
            config = self.fields(infra["shapeConfigDetails"][1], SHAPE_CONFIG) or {}
            for name in ("ocpus", "memoryInGBs"):
                if name in config:
                    self.put((*target, name), *config[name])
        if "blockStorageSize" in infra:
            size, size_path = infra["blockStorageSize"]
            size = int(size) if isinstance(size, float) and size.is_integer() else size
            self.put((*target, "blockStorageSizeInGBs"), size, size_path)
        if "subnetId" in infra:
            self.put((*target, "subnetId"), *infra["subnetId"])
        if "storageMount" in infra:
            self.storage_mounts(*infra["storageMount"])
        self.check_job_types(infra)
        self.logging(path, infra)
        if "freeformTags" in infra:
            self.labels(*infra["freeformTags"])

    def storage_mounts(self, mounts: Any, path: JsonPath) -> None:
        """ADS's `{src, dest}` mounts (ads/common/dsc_file_system.py) as jobctl/v1 storageMounts."""
        if not isinstance(mounts, list):
            self.error(path, f"expected a list of {{src, dest}}, got {type(mounts).__name__}")
            return
        found: list[tuple[dict[str, str], JsonPath, JsonPath]] = []  # (mount, its src, its dest)
        for index in range(len(mounts)):
            where = (*path, index)
            fields = self.fields(where, MOUNT)
            if fields is None:
                continue
            src, dest = self.require(fields, "src", where), self.require(fields, "dest", where)
            if src is None or dest is None:
                continue
            mount = self.mount_source(*src)
            if mount is None:
                continue
            if not isinstance(dest[0], str) or not dest[0].strip("/"):
                self.error(dest[1], f"expected a directory (`name` or `/path/name`), got {dest[0]!r}")
                continue
            parent, _, name = dest[0].rstrip("/").rpartition("/")
            mount["destinationDirectoryName"] = name
            if parent:  # ADS sends none when dest is a bare name, and OCI mounts it under /mnt
                mount["destinationPath"] = parent
            found.append((mount, src[1], dest[1]))
        target = ("spec", "storageMounts")
        self.put(target, [mount for mount, _, _ in found], path)
        for index, (mount, src_path, dest_path) in enumerate(found):
            item: JsonPath = (*target, index)
            self.origins[item] = (*path, index)
            for key in mount:
                at: JsonPath = (*item, key)
                self.origins[at] = dest_path if key.startswith("destination") else src_path

    def mount_source(self, src: Any, path: JsonPath) -> dict[str, str] | None:
        """`oci://bucket@namespace/prefix`, or `<mount target>:<export>` where the mount target is its OCID or
        its IP address and the export its OCID or its path (ads/common/dsc_file_system.py); ADS's user guide
        writes `<IP>@<export path>`, which ADS's code does not take, and jobctl takes as well."""
        text = src if isinstance(src, str) else ""
        bucket = re.fullmatch(r"oci://([^@/]+)@([^/]+)(?:/(.*))?", text)
        if bucket:
            found = {"storageType": "OBJECT_STORAGE", "bucket": bucket[1], "namespace": bucket[2]}
            return found | ({"prefix": bucket[3]} if bucket[3] else {})
        fss = re.fullmatch(r"(ocid1\.mounttarget\.[^:@]+|[0-9.]+)[:@](ocid1\.export\..+|/.*)", text)
        if fss:
            target, export = fss[1], fss[2]
            return {"storageType": "FILE_STORAGE",
                    **({"mountTargetId": target} if target.startswith("ocid1.") else {"mountTargetIp": target}),
                    **({"exportId": export} if export.startswith("ocid1.") else {"exportPath": export})}
        self.error(path, f"storage mount src {src!r}: expected oci://bucket@namespace/prefix, or "
                   "<mount target OCID or IP address>:<export OCID or path>")
        return None

    def check_job_types(self, infra: FieldMap) -> None:
        """jobInfrastructureType and jobType are derived by jobctl; accepted when they agree with it."""
        if "jobType" in infra and infra["jobType"][0] != "DEFAULT":
            self.error(infra["jobType"][1], f"jobType must be DEFAULT; got {infra['jobType'][0]!r}")
        if "jobInfrastructureType" not in infra:
            return
        kind, path = infra["jobInfrastructureType"]
        subnet = "subnetId" in infra
        if kind == "STANDALONE" and not subnet:
            self.error(path, "STANDALONE (custom networking) needs subnetId; omit both for managed networking")
        elif kind == "ME_STANDALONE" and subnet:
            self.error(path, "ME_STANDALONE (managed networking) conflicts with subnetId; remove one")
        elif kind not in ("STANDALONE", "ME_STANDALONE"):
            self.error(path, f"jobInfrastructureType {kind!r} is not supported yet "
                       "(supported: STANDALONE, ME_STANDALONE)")

    def logging(self, path: JsonPath, infra: FieldMap) -> None:
        """logGroupId alone lets OCI create a log per run, as ADS does; logId alone is not enough here."""
        group, log = infra.get("logGroupId"), infra.get("logId")
        if log is not None and group is None:
            self.error(log[1], "logId needs logGroupId: ADS looks the log group up through the OCI API, "
                       "jobctl needs it written in the file")
            return
        if group is None:
            return
        target = ("spec", "logging")
        self.origins[target] = path
        self.put((*target, "logGroupId"), *group)
        if log is not None:
            self.put((*target, "logId"), *log)
        else:
            self.put((*target, "autoCreateLog"), True, group[1])

    def labels(self, tags: Any, path: JsonPath) -> None:
        """Freeform tags of the infrastructure and of the runtime both become labels."""
        if not isinstance(tags, dict):
            self.error(path, "expected a mapping of tag names to values")
            return
        labels = self.data["metadata"].setdefault("labels", {})
        self.origins.setdefault(("metadata", "labels"), path)
        for key, value in tags.items():
            if key in labels and labels[key] != value:
                other = self.src.position(self.origins[("metadata", "labels", key)])[0]
                self.error((*path, key), f"freeform tag {key!r} is also set to {labels[key]!r} on line {other}",
                           at_key=True)
                continue
            self.put(("metadata", "labels", key), value, (*path, key))

    # --- runtime ----------------------------------------------------------------------------------

    def runtime(self, kind: str, path: JsonPath) -> None:
        fields = self.fields(path, {**RUNTIME_COMMON, **RUNTIMES[kind]})
        if fields is None:
            return
        self.origins[("spec", "runtime")] = path
        if kind == "container":
            self.container(path, fields)
        elif kind == "gitPython":
            self.git_python(path, fields)
        elif kind == "notebook":
            self.notebook(path, fields)
        elif kind == "pyTorchDistributed":
            self.pytorch(path, fields)
        else:
            self.script(kind, path, fields)
        target = ("spec", "runtime")
        if "args" in fields:
            self.put((*target, "args"), *fields["args"])
        if "env" in fields:
            self.env(*fields["env"])
        if "maximumRuntimeInMinutes" in fields:
            self.put((*target, "maxRuntimeInMinutes"), *fields["maximumRuntimeInMinutes"])
        if "freeformTags" in fields:
            self.labels(*fields["freeformTags"])

    def script(self, kind: str, path: JsonPath, fields: FieldMap) -> None:
        """python and script runtimes: a local source, an entrypoint inside it, a conda environment."""
        target = ("spec", "runtime")
        source = self.source(path, fields, required=True)
        if source is None:
            return
        entry = self.entrypoint(path, fields, source)
        if entry is None:
            return
        entrypoint, entry_path = entry
        run_as = {".py": "python", ".sh": "shell", ".bash": "shell"}.get(Path(entrypoint).suffix.lower())
        if run_as is None or (kind == "python" and run_as != "python"):
            what = "a .py file" if kind == "python" else "a .py or .sh file"
            self.error(entry_path, f"{kind} runtime entrypoint {entrypoint!r} must be {what} for jobctl")
            return
        self.put((*target, "type"), run_as, (*path[:-1], "type"))
        self.put((*target, "source"), *source)
        if "entrypoint" in fields:
            self.put((*target, "entrypoint"), entrypoint, entry_path)
        if kind == "python":
            self.python_extras(fields)
        if "conda" in fields:
            self.conda(fields["conda"][1])

    def source(self, path: JsonPath, fields: FieldMap, *, required: bool) -> tuple[str, JsonPath] | None:
        """scriptPathURI: a local file or directory, relative to the ADS file like every jobctl path."""
        found = self.require(fields, "scriptPathURI", path, "the local file or directory to run") if required \
            else fields.get("scriptPathURI")
        if found is None:
            return None
        uri, uri_path = found
        if not isinstance(uri, str) or not uri:
            self.error(uri_path, "expected a file or directory path")
            return None
        if len(urlparse(uri).scheme) > 1:
            self.error(uri_path, f"a source at {urlparse(uri).scheme}:// is not supported yet: jobctl needs a "
                       "local source; download it and point scriptPathURI at the local file or directory")
            return None
        if uri.lower().endswith(ARCHIVE_SUFFIXES):
            self.error(uri_path, "an archive source is not supported yet: unpack it and set scriptPathURI "
                       "to the directory")
            return None
        return (str(Path(uri).expanduser()) if uri.startswith("~") else uri), uri_path

    def entrypoint(self, path: JsonPath, fields: FieldMap, source: tuple[str, JsonPath]) -> tuple[str, JsonPath] | None:
        """The file to run, relative to the source directory as jobctl wants it.

        ADS resolves a directory source's entrypoint from the directory's parent (PythonRuntime: from
        workingDir there), so `code_dir/main.py` and `main.py` with workingDir `code_dir` both name
        code_dir/main.py; the ScriptRuntime docs also write it relative to the directory itself.
        Whichever form names an existing file is used."""
        base = self.base_dir / source[0]
        top = base.resolve().name if base.is_dir() else None
        working = fields.get("workingDir")
        work = posixpath.normpath(str(working[0])) if working is not None else "."
        if working is not None and work != "." and (top is None or not f"{work}/".startswith(f"{top}/")):
            where = f"in the source directory {top!r}" if top else "'.' for a single-file source"
            self.error(working[1], f"workingDir {working[0]!r} must be {where}: ADS runs the code from the "
                       "source's parent directory, which holds nothing else")
            return None
        if working is not None and work != ".":  # jobctl's workingDir is relative to the source itself
            self.working = (work[len(str(top)) + 1:] or ".", working[1])
        if "entrypoint" not in fields:
            if top is not None:
                self.error(path, "missing required field 'entrypoint' (scriptPathURI is a directory)", at_key=True)
                return None
            return Path(source[0]).name, source[1]
        entry, entry_path = fields["entrypoint"]
        if not isinstance(entry, str) or not entry:
            self.error(entry_path, "expected a file path inside scriptPathURI")
            return None
        if top is None:
            return entry, entry_path
        entry = posixpath.normpath(posixpath.join(work, entry))
        inside = entry[len(top) + 1:] if entry.startswith(f"{top}/") else None
        if inside is not None and ((base / inside).is_file() or not (base / entry).is_file()):
            return inside, entry_path
        return entry, entry_path

    def git_python(self, path: JsonPath, fields: FieldMap) -> None:
        """gitPython: the code is cloned from `url` when the run starts; the entrypoint, workingDir and
        pythonPath are the repository's paths, as ADS's driver resolves them (docs/runtimes.md)."""
        target = ("spec", "runtime")
        url = self.require(fields, "url", path, "the repository to clone")
        entry = self.require(fields, "entrypoint", path, "the file to run, from the repository's root")
        if url is None or entry is None:
            return
        notebook = isinstance(entry[0], str) and entry[0].endswith(".ipynb")  # run as a notebook, as ADS does
        self.put((*target, "type"), "notebook" if notebook else "python", (*path[:-1], "type"))
        self.git(fields, url[1])
        self.put((*target, "entrypoint"), *entry)
        if notebook:  # a notebook runs in its own directory; what a python file's options do not apply
            for name in ("workingDir", "pythonPath", "entryFunction"):
                if name in fields:
                    self.error(fields[name][1], f"{name} does not apply to a notebook entrypoint")
            if "outputDir" in fields:  # ADS's is the repository's path; jobctl's, the notebook directory's
                given, where = fields["outputDir"]
                home = posixpath.dirname(str(entry[0]))
                inside = posixpath.relpath(posixpath.normpath(str(given)), home or ".")
                if inside == ".." or inside.startswith("../"):
                    self.error(where, f"outputDir {given!r} is outside the notebook's directory {home!r}: a "
                                      "notebook's outputs are uploaded from its own directory")
                else:
                    self.put((*target, "outputDir"), inside, where)
            self.notebook_options(fields)
            return
        if "workingDir" in fields:  # the repository's, as jobctl's git workingDir is
            self.working = fields["workingDir"]
        if "pythonPath" in fields and "workingDir" in fields:  # ADS's gitPython: from the repository's root
            paths, where = fields["pythonPath"]
            work = str(fields["workingDir"][0])
            listed = paths.split(":") if isinstance(paths, str) else paths
            if isinstance(listed, list) and all(isinstance(p, str) for p in listed):
                fields = {**fields, "pythonPath": ([posixpath.relpath(p, work) for p in listed], where)}
        self.python_extras(fields)
        if "conda" in fields:
            self.conda(fields["conda"][1])

    def git(self, fields: FieldMap, where: JsonPath) -> None:
        """ADS's url, branch, commit and gitSecretId (of gitPython, or of pyTorchDistributed's `git`) as
        spec.runtime.git's url, branch, commit and secretId."""
        target: JsonPath = ("spec", "runtime", "git")
        self.origins[target] = where
        for old, new in (("url", "url"), ("branch", "branch"), ("commit", "commit"), ("gitSecretId", "secretId")):
            if old in fields:
                self.put((*target, new), *fields[old])

    def pytorch(self, path: JsonPath, fields: FieldMap) -> None:
        """PyTorchDistributedRuntime: a python job (its code from git or scriptPathURI) that runs `command`
        (or the entrypoint) after installing `dependencies` and fetching `inputs`; `replicas` > 1 makes it a
        multi-node job of one node group, as ADS makes it (DEFAULT_NODE_GROUP_NAME, every replica needed)."""
        target = ("spec", "runtime")
        if "git" in fields:
            git = self.fields(fields["git"][1], GIT) or {}
            url = self.require(git, "url", fields["git"][1], "the repository to clone")
            if url is None:
                return
            self.put((*target, "type"), "python", (*path[:-1], "type"))
            self.git(git, fields["git"][1])
            if "entrypoint" in fields and "command" not in fields:
                self.put((*target, "entrypoint"), *fields["entrypoint"])
            if "workingDir" in fields:
                self.working = fields["workingDir"]
            self.python_extras(fields)
            if "conda" in fields:
                self.conda(fields["conda"][1])
        elif "command" in fields:  # the command runs; an entrypoint would not (ADS's driver ignores it too)
            source = self.source(path, fields, required=True)
            if source is None:
                return
            self.put((*target, "type"), "python", (*path[:-1], "type"))
            self.put((*target, "source"), *source)
            self.python_extras(fields)
            if "conda" in fields:
                self.conda(fields["conda"][1])
        else:
            self.script("python", path, fields)
        if "command" in fields:
            self.put((*target, "command"), *fields["command"])
        if "dependencies" in fields:
            dependencies = self.fields(fields["dependencies"][1], DEPENDENCIES) or {}
            for name, (value, where) in dependencies.items():
                self.put((*target, "dependencies", name), " ".join(str(value).split()), where)
        if "inputs" in fields:
            self.put((*target, "inputs"), *fields["inputs"])
        if "replicas" in fields:
            replicas, where = fields["replicas"]
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
                self.error(where, f"replicas must be a whole number of nodes, at least 1; got {replicas!r}")
            elif replicas > 1:
                self.put(("spec", "nodes", "groups"), [{"name": "node-group", "replicas": replicas}], where)

    def notebook(self, path: JsonPath, fields: FieldMap) -> None:
        """NotebookRuntime: one notebook (notebookPathURI), or a directory (source) and the notebook in it
        (entrypoint), executed by jobctl's driver; outputUri receives the notebook's directory."""
        target = ("spec", "runtime")
        if "source" in fields:
            source = self.local_path(*fields["source"], "source")
            entry = self.require(fields, "entrypoint", path, "the notebook, relative to source")
            if source is None or entry is None:
                return
        else:
            given = self.require(fields, "notebookPathURI", path, "the notebook to run")
            if given is None:
                return
            value, where = given
            if isinstance(value, str) and len(urlparse(value).scheme) > 1:  # the run downloads it first
                name = posixpath.basename(urlparse(value).path) or "notebook.ipynb"
                self.put((*target, "type"), "notebook", (*path[:-1], "type"))
                self.put((*target, "entrypoint"), name, where)
                self.put((*target, "inputs"), {value: name}, where)
                self.notebook_options(fields)
                return
            source = self.local_path(value, where, "notebookPathURI")
            if source is None:
                return
            entry = (Path(source[0]).name, source[1])
        self.put((*target, "type"), "notebook", (*path[:-1], "type"))
        self.put((*target, "source"), *source)
        self.put((*target, "entrypoint"), *entry)
        self.notebook_options(fields)

    def notebook_options(self, fields: FieldMap) -> None:
        """What a notebook runtime says besides where the notebook is."""
        target = ("spec", "runtime")
        for name in ("excludeTags", "notebookEncoding", "outputUri"):
            if name in fields:
                self.put((*target, name), *fields[name])
        if "conda" in fields:
            self.conda(fields["conda"][1])

    def local_path(self, value: Any, where: JsonPath, field_name: str) -> tuple[str, JsonPath] | None:
        """A local file or directory an ADS field names; a remote one is an error saying what to do."""
        if not isinstance(value, str) or not value:
            self.error(where, "expected a file or directory path")
            return None
        if len(urlparse(value).scheme) > 1:
            self.error(where, f"a {field_name} at {urlparse(value).scheme}:// is not supported yet: jobctl runs a "
                       f"local copy; download it and point {field_name} at it")
            return None
        return (str(Path(value).expanduser()) if value.startswith("~") else value), where

    def python_extras(self, fields: FieldMap) -> None:
        """pythonPath, entryFunction, outputDir and outputUri, which jobctl's driver honours as ADS's
        does (docs/runtimes.md); workingDir is translated with the entrypoint."""
        target = ("spec", "runtime")
        if self.working is not None:
            self.put((*target, "workingDir"), *self.working)
        if "pythonPath" in fields:
            paths, where = fields["pythonPath"]
            self.put((*target, "pythonPath"), paths.split(":") if isinstance(paths, str) else paths, where)
        for name in ("entryFunction", "outputDir", "outputUri"):
            if name in fields:
                self.put((*target, name), *fields[name])

    def conda(self, path: JsonPath) -> None:
        """{type: service, slug} -> {slug}; {type: published, uri} -> {uri}."""
        fields = self.fields(path, CONDA)
        if fields is None:
            return
        kind = fields.get("type", ("service" if "slug" in fields else "published", path))
        wanted = {"service": "slug", "published": "uri"}.get(str(kind[0]))
        if wanted is None:
            self.error(kind[1], f"conda type must be service or published; got {kind[0]!r}")
            return
        for other in ("slug", "uri"):
            if other != wanted and other in fields:
                self.error(fields[other][1], f"{other} does not apply to a {kind[0]} conda environment", at_key=True)
        found = self.require(fields, wanted, path, f"a {kind[0]} conda environment is named by its {wanted}")
        if found is not None:
            self.origins[("spec", "runtime", "conda")] = path
            self.put(("spec", "runtime", "conda", wanted), *found)

    def container(self, path: JsonPath, fields: FieldMap) -> None:
        target = ("spec", "runtime")
        self.put((*target, "type"), "container", (*path[:-1], "type"))
        image = self.require(fields, "image", path)
        if image is not None:
            self.put((*target, "image"), *image)
        if "imageDigest" in fields:
            self.put((*target, "imageDigest"), *fields["imageDigest"])
        source = self.source(path, fields, required=False)
        if source is not None:
            self.put((*target, "source"), *source)
        for name in ("entrypoint", "cmd"):
            if name in fields:
                self.exec_form((*target, name), *fields[name])

    def exec_form(self, new: JsonPath, value: Any, path: JsonPath) -> None:
        """A container entrypoint/cmd: a list as is; a string split on commas, as OCI splits ADS's value."""
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",")]
            self.put(new, parts, path)
            self.origins.update({(*new, i): path for i in range(len(parts))})
        else:
            self.put(new, value, path)

    def env(self, env: Any, path: JsonPath) -> None:
        """ADS lists environment variables as [{name, value}]; jobctl maps names to values."""
        target = ("spec", "runtime", "env")
        self.origins[target] = path
        if isinstance(env, dict):
            self.put(target, {key: _env_text(value) for key, value in env.items()}, path)
            for key, problem in interpolate_env(self.data["spec"]["runtime"]["env"]):
                self.error(self.origins.get((*target, key), path), problem)
            return
        if not isinstance(env, list):
            self.error(path, "expected a list of {name, value} entries")
            return
        # the runtime may not exist yet (e.g. no scriptPathURI made it): create the path as put() does
        variables = self.data.setdefault("spec", {}).setdefault("runtime", {}).setdefault("env", {})
        for i, _ in enumerate(env):
            item = self.fields((*path, i), ENV_ITEM)
            if item is None:
                continue
            name = self.require(item, "name", (*path, i))
            value = self.require(item, "value", (*path, i))
            if name is None or value is None:
                continue
            if not isinstance(name[0], str):
                self.error(name[1], f"expected a variable name, got {name[0]!r}")
                continue
            new: JsonPath = (*target, name[0])
            if name[0] in variables:
                line = self.src.position(self.key_origins[new])[0]
                self.error(name[1], f"environment variable {name[0]!r} is also set on line {line}")
            else:
                variables[name[0]] = self._copy(_env_text(value[0]), new, value[1])
                self.key_origins[new] = name[1]
        for key, problem in interpolate_env(variables):
            self.error(self.origins.get((*target, key), path), problem)

    def document(self) -> AdsDocument:
        values, keys = {}, {}
        for new, ads in self.origins.items():
            if ads in self.src.values:
                values[new] = self.src.values[ads]
            if ads in self.src.keys:
                keys[new] = self.src.keys[ads]
        for new, ads in self.key_origins.items():
            keys[new] = self.src.position(ads)
        return AdsDocument(
            self.src.file, self.src.path, self.src.index, self.data, self.src.start, values=values, keys=keys,
            ads_paths=dict(self.origins), ads_key_paths=dict(self.key_origins),
        )

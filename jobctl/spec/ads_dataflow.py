"""ADS's Data Flow job YAML (infrastructure and runtime `type: dataFlow`, ADS's user guide "Run a Data Flow
Application") as a jobctl/v1 `kind: DataFlowApplication` document, the way ADS's
`ads/jobs/builders/infrastructure/dataflow.py` builds CreateApplicationDetails from it:

- the infrastructure's fields are the application's; ADS's defaults (PYTHON, Spark 3.2.1, one executor)
  where it leaves them out; `numExecutors: '1'` (as `ads opctl init` writes it) is a number;
- the runtime's `scriptPathURI` is the code: an `oci://` URI as is (fileUri), else a local file jobctl uploads
  (source) under `scriptBucket` (codeUri), which must then name its namespace; `args` are the arguments;
- ADS replaces the infrastructure's `configuration` with the runtime's: an infrastructure configuration is
  an error naming that (it would be dropped), rather than silently lost;
- a published conda pack is `spark.archives = <uri>#conda` and `dataflow.auth = resource_principal`, as ADS
  sends it; the runtime's `env`, which ADS drops for Data Flow, becomes `spark.driverEnv.*` and
  `spark.executorEnv.*`, where ADS's guide says to put it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobctl.spec.document import JsonPath

if TYPE_CHECKING:
    from jobctl.spec.ads import FieldMap, Known, _Translator

ADS_DEFAULTS = {"language": "PYTHON", "sparkVersion": "3.2.1", "numExecutors": 1}  # ADS's DataFlow defaults
_SAME = ("compartmentId", "language", "sparkVersion", "driverShape", "executorShape", "logsBucketUri",
         "warehouseBucketUri", "metastoreId", "privateEndpointId", "poolId", "maxDurationInMinutes",
         "idleTimeoutInMinutes")


def known() -> tuple[Known, Known, Known]:
    """The ADS fields of a Data Flow infrastructure, runtime and shape config (camelCase, snake_case aliases)."""
    from jobctl.spec.ads import _EMPTY, _TAGS

    def snake(name: str) -> tuple[str, ...]:
        return ("".join(f"_{c.lower()}" if c.isupper() else c for c in name).replace("u_r_i", "uri"),)

    infrastructure: dict[str, tuple[tuple[str, ...], str | None]] = {name: (snake(name), None) for name in (
        *_SAME, "driverShapeConfig", "executorShapeConfig", "numExecutors", "displayName", "freeformTags",
        "scriptBucket", "configuration")}
    infrastructure.update({"id": (_EMPTY, None), "definedTags": (("defined_tags",), _TAGS),
                           "execute": (_EMPTY, "give the application's code as the runtime's scriptPathURI")})
    runtime: dict[str, tuple[tuple[str, ...], str | None]] = {name: (snake(name), None) for name in (
        "scriptPathURI", "scriptBucket", "archiveUri", "archiveBucket", "configuration", "condaAuthType",
        "freeformTags")}
    runtime.update({"args": (_EMPTY, None), "conda": (_EMPTY, None), "env": (_EMPTY, None),
                    "overwrite": (_EMPTY, None), "definedTags": (("defined_tags",), _TAGS)})
    shape: Known = {"ocpus": (_EMPTY, None), "memoryInGBs": (("memory_in_gbs",), None)}
    return infrastructure, runtime, shape


def translate(t: _Translator, job: FieldMap, infra_path: JsonPath, runtime_path: JsonPath) -> None:
    """Fill `t`'s document from the ADS job's Data Flow infrastructure and runtime."""
    infrastructure, runtime_known, shape_known = known()
    t.data["kind"] = "DataFlowApplication"
    infra = t.fields(infra_path, infrastructure)
    runtime = t.fields(runtime_path, runtime_known)
    if infra is None or runtime is None:
        return
    for name in _SAME:
        if name in infra:
            t.put(("spec", name), *infra[name])
    for name, value in ADS_DEFAULTS.items():
        if name not in infra:
            t.put(("spec", name), value, infra_path)
    for name in ("driverShape", "executorShape"):
        t.require(infra, name, infra_path, "jobctl has no notebook session to take it from")
    if "numExecutors" in infra:
        count, where = infra["numExecutors"]
        t.put(("spec", "numExecutors"), int(count) if str(count).strip().isdigit() else count, where)
    for name in ("driverShapeConfig", "executorShapeConfig"):
        if name in infra:
            config = t.fields(infra[name][1], shape_known) or {}
            for key, (value, where) in config.items():
                t.put(("spec", name, key), value, where)
    if "configuration" in infra:
        t.error(infra["configuration"][1], "ADS replaces the infrastructure's configuration with the runtime's "
                "(so this one would be dropped): move it to the runtime's configuration", at_key=True)
    _code(t, infra, runtime, runtime_path)
    _configuration(t, runtime)
    for tags in (infra.get("freeformTags"), runtime.get("freeformTags")):
        if tags is not None:
            t.labels(*tags)
    t.name(job, infra)


def _code(t: _Translator, infra: FieldMap, runtime: FieldMap, runtime_path: JsonPath) -> None:
    script = t.require(runtime, "scriptPathURI", runtime_path, "the application's code")
    if script is None:
        return
    where, at = script
    if str(where).startswith("oci://"):
        t.put(("spec", "fileUri"), where, at)
    else:
        t.put(("spec", "source"), where, at)
        bucket = runtime.get("scriptBucket") or infra.get("scriptBucket")
        if bucket is not None:
            if "@" in str(bucket[0]) and str(bucket[0]).startswith("oci://"):
                t.put(("spec", "codeUri"), bucket[0], bucket[1])
            else:
                t.error(bucket[1], f"give scriptBucket as oci://bucket@namespace/prefix (jobctl uploads the code "
                        f"there), not {bucket[0]!r}")
    if "archiveUri" in runtime:
        archive, at = runtime["archiveUri"]
        if str(archive).startswith("oci://"):
            t.put(("spec", "archiveUri"), archive, at)
        else:
            t.error(at, "a local archiveUri is not supported yet: upload it and give its oci:// URI")
    if "args" in runtime:
        args, at = runtime["args"]
        if isinstance(args, list):
            t.put(("spec", "arguments"), [str(arg) for arg in args], at)
        else:
            t.error(at, "expected a list of arguments")


def _configuration(t: _Translator, runtime: FieldMap) -> None:
    """The runtime's configuration, its conda pack and its env, as the application's Spark configuration."""
    from jobctl.spec.ads import CONDA, ENV_ITEM

    if "configuration" in runtime:
        conf, at = runtime["configuration"]
        if isinstance(conf, dict):
            for key, value in conf.items():
                t.put(("spec", "configuration", str(key)), str(value), (*at, key))
        else:
            t.error(at, "expected a mapping of Spark properties")
    if "conda" in runtime:
        fields = t.fields(runtime["conda"][1], CONDA) or {}
        kind = fields.get("type")
        if kind is not None and kind[0] != "published":
            t.error(kind[1], f"ADS runs Data Flow applications with published conda packs only, not {kind[0]!r}")
        elif (uri := t.require(fields, "uri", runtime["conda"][1])) is not None:
            t.put(("spec", "configuration", "spark.archives"), f"{uri[0]}#conda", uri[1])
            auth = runtime.get("condaAuthType", ("resource_principal", runtime["conda"][1]))
            t.put(("spec", "configuration", "dataflow.auth"), str(auth[0]), auth[1])
    if "env" in runtime:
        env, at = runtime["env"]
        items: list[tuple[Any, JsonPath]] = []
        if isinstance(env, list):
            for index in range(len(env)):
                fields = t.fields((*at, index), ENV_ITEM) or {}
                name, value = fields.get("name"), fields.get("value")
                if name is not None and value is not None:
                    items.append(((name[0], value[0]), value[1]))
        else:
            t.error(at, "expected a list of {name, value} entries")
        for (name, value), where in items:
            for prefix in ("spark.driverEnv.", "spark.executorEnv."):
                t.put(("spec", "configuration", f"{prefix}{name}"), "" if value is None else str(value), where)
